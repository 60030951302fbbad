"""Excel in for a register: a template with its Chinese headers (drop-down lists for choice
columns), and an all-or-nothing import that reports every problem of every row at once."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.core.errors import Collector, DomainError, DomainErrors
from app.extensions import db
from app.models.appeals import Appeal
from app.models.personnel import Person
from app.models.registers import ChoiceValue, FieldType
from app.services import scope
from app.services.importer import EXTENDERS
from app.services.importer.base import Col, Importer, RowError, cell_text, codes_in, grid_by_code
from app.services.registers import extensions
from app.services.registers.definitions import LOOKUPS
from app.services.registers.entries import check_entry
from app.services.registers.values import clean_value

EXAMPLES = {
    FieldType.TEXT: "示例", FieldType.TEXTAREA: "示例内容", FieldType.INTEGER: 1, FieldType.DECIMAL: 1.5,
    FieldType.DATE: "2026-01-15", FieldType.DATETIME: "2026-01-15 09:30", FieldType.BOOLEAN: "是",
    FieldType.PHONE: "13812345678", FieldType.ID_NUMBER: "", FieldType.PERSON: "", FieldType.APPEAL: "",
    FieldType.GRID: "",
}  # fmt: skip
NOTES = {
    FieldType.GRID: _l("The grid code"),
    FieldType.PERSON: _l("The person's name (add the phone after a space when two share it)"),
    FieldType.APPEAL: _l("The registration number of the appeal"),
    FieldType.MULTICHOICE: _l("Several values separated by 、"),
    FieldType.DATE: "2026-01-15",
    FieldType.BOOLEAN: _l("是 or 否"),
}


def importable(spec):
    """The live fields a file carries: all but 照片/附件 (files are uploaded on the entry's page)."""
    return [f for f in spec.live_fields if f.type != FieldType.ATTACHMENT]


def importer_for(spec, entry_class):
    """An Importer of register `spec`'s entries (one column per live field but photos and files)."""
    columns = []
    file_labels = [f.label for f in spec.live_fields if f.type == FieldType.ATTACHMENT]
    for field in importable(spec):
        note = field.help_text or NOTES.get(field.type, "")
        columns.append(Col(field.code, field.label, field.required, EXAMPLES.get(field.type, ""), note))

    class RegisterImporter(Importer):
        kind = f"register:{spec.code}"
        title = spec.name
        resource = spec.resource
        checks_required = True
        extra_notes = (
            [_l("Photos and files (%(fields)s) are not imported: add them on each entry's page after the import.",
                fields="、".join(file_labels))] if file_labels else []
        )  # fmt: skip

        def __init__(self, session, actor=None):
            super().__init__(session, actor)
            self.spec = spec
            self.choices = {}

        def choice_options(self, field):
            """{name: row} of a choice field's values (active ones)."""
            if field.code not in self.choices:
                if field.lookup:
                    model = LOOKUPS[field.lookup]
                    rows = self.session.scalars(select(model).where(model.active.is_(True)))
                else:
                    rows = self.session.scalars(
                        select(ChoiceValue).where(
                            ChoiceValue.list_id == field.choice_list_id, ChoiceValue.active.is_(True)
                        )
                    )
                self.choices[field.code] = {r.name: r for r in rows}
            return self.choices[field.code]

        def build(self, row, row_no):
            entry = entry_class()
            self.read_into(entry, importable(spec), row)
            if self.actor is not None and self.actor.user_id:
                entry.created_by_id = self.actor.user_id
            return entry

        def read_into(self, entry, fields, row):
            """Put the row's cells of `fields` on `entry` and check the register's rules: every
            problem of the row at once (DomainErrors), a cell that could not be read once."""
            errors = Collector()
            for field in fields:
                with errors.check():
                    try:
                        self._set(entry, field, row.get(field.code))
                    except RowError as err:  # a cell the shared parsers refused: one of the row's problems
                        raise DomainError(err.message, field=field.code) from None
            unreadable = {e.field for e in errors.errors}
            try:  # the register's rules, for the cells that could be read
                check_entry(self.session, entry, None)
            except DomainErrors as more:
                errors.errors.extend(e for e in more.errors if e.field not in unreadable)
            except DomainError as one:
                if one.field not in unreadable:
                    errors.add(one)
            errors.raise_if_any()

        def _set(self, entry, field, raw):
            text = cell_text(raw) if not hasattr(raw, "year") else raw
            if text in (None, ""):
                return
            col = self.column(field.code)
            if field.type == FieldType.GRID:
                entry.grid = grid_by_code(self.session, str(text), col)
            elif field.type == FieldType.CHOICE:
                options = self.choice_options(field)
                if text not in options:
                    raise DomainError(
                        _l("“%(value)s” is not in the list of %(label)s (%(choices)s).", value=text, label=field.label,
                           choices="、".join(options)), field=field.code,
                    )  # fmt: skip
                setattr(entry, field.code, options[text])
            elif field.type == FieldType.MULTICHOICE:
                options = self.choice_options(field)
                names = codes_in(str(text))
                unknown = [n for n in names if n not in options]
                if unknown:
                    raise DomainError(
                        _l("“%(value)s” is not in the list of %(label)s (%(choices)s).", value="、".join(unknown),
                           label=field.label, choices="、".join(options)), field=field.code,
                    )  # fmt: skip
                setattr(entry, field.code, [options[n] for n in names])
            elif field.type == FieldType.PERSON:
                name, _, phone = str(text).partition(" ")
                query = select(Person).where(Person.name == name.strip(), scope.clause_for(Person))
                if phone.strip():
                    query = query.where(Person.phone == phone.strip())
                people = self.session.scalars(query.limit(2)).all()
                if len(people) != 1:
                    message = (_l("There is no person %(name)s within your jurisdiction.", name=text) if not people
                               else _l("Several people are called %(name)s: add the phone after a space.", name=name))  # fmt: skip
                    raise DomainError(message, field=field.code)
                setattr(entry, field.code, people[0])
            elif field.type == FieldType.APPEAL:
                appeal = self.session.scalar(select(Appeal).where(Appeal.number == str(text), scope.clause_for(Appeal)))
                if appeal is None:
                    raise DomainError(
                        _l("There is no appeal %(number)s within your jurisdiction.", number=text), field=field.code
                    )
                setattr(entry, field.code, appeal)
            else:
                setattr(entry, field.code, clean_value(field, raw))

    RegisterImporter.columns = columns
    return RegisterImporter


def choice_lists(session, spec):
    """{column index: [value names]} of the template's drop-down columns."""
    out = {}
    for index, field in enumerate(importable(spec)):
        if field.type not in (FieldType.CHOICE, FieldType.BOOLEAN):
            continue
        if field.type == FieldType.BOOLEAN:
            out[index] = ["是", "否"]
        elif field.lookup:
            model = LOOKUPS[field.lookup]
            out[index] = [r.name for r in session.scalars(select(model).where(model.active.is_(True)))]
        else:
            out[index] = [
                v.name
                for v in session.scalars(
                    select(ChoiceValue)
                    .where(ChoiceValue.list_id == field.choice_list_id, ChoiceValue.active.is_(True))
                    .order_by(ChoiceValue.sort_order, ChoiceValue.id)
                )
            ]
    return out


def with_extra_fields(importer_cls):
    """`importer_cls` with a column per live extra field of the record it imports (扩展字段):
    each cell read and checked as a register's, every problem reported with the row's own."""
    table = getattr(importer_cls, "model_name", None)
    built = extensions.live(table) if table else None
    if built is None:
        return importer_cls
    spec, ext_class, fields = built
    cells = importer_for(spec, ext_class)  # reads a register's cells: the same rules here
    base_columns = list(importer_cls.columns)

    class ExtendedImporter(importer_cls):
        columns = [*base_columns, *cells.columns]
        checks_required = True  # build() reports every missing cell with the row's other problems

        def build(self, row, row_no):
            errors = Collector()
            record = None
            with errors.check():
                try:
                    record = self._build_own(row, row_no)
                except RowError as err:
                    raise DomainError(err.message, field=err.column.key) from None
            scratch = ext_class()
            with errors.check():
                cells(self.session, self.actor).read_into(scratch, fields, row)
            errors.raise_if_any()
            for field in fields:
                value = getattr(scratch, field.code)
                if value not in (None, [], ""):
                    setattr(record, field.code, value)
            return record

        def _build_own(self, row, row_no):
            """The record's own columns, with its own required-cell check (as import_file does)."""
            if not importer_cls.checks_required:
                missing = [c for c in base_columns if c.required and cell_text(row.get(c.key)) is None]
                if missing:
                    raise DomainErrors([DomainError(_l("This cell is required."), field=c.key) for c in missing])
            return importer_cls.build(self, row, row_no)

        @classmethod
        def extra_dropdowns(cls):
            """The template's drop-down lists of the extra choice columns (after the record's own)."""
            offset = len(base_columns)
            return {offset + i: values for i, values in choice_lists(db.session, spec).items()}

    ExtendedImporter.__name__ = importer_cls.__name__
    return ExtendedImporter


EXTENDERS.append(with_extra_fields)

__all__ = ["RowError", "choice_lists", "importer_for", "with_extra_fields"]
