"""Registers for tests: a definition made through the service, entries made through the model."""

from __future__ import annotations

import datetime as dt
import itertools

from sqlalchemy import select

from app.extensions import db
from app.models.registers import ChoiceList, ChoiceValue, FieldType, RegisterDef, RegisterField
from app.services.registers import definitions, runtime
from app.services.registers.definitions import LOOKUPS
from app.services.validators import id_check_char


def make_choice_list(code, names):
    lst = ChoiceList(code=code, name=code, values=[ChoiceValue(name=n, sort_order=i) for i, n in enumerate(names)])
    db.session.add(lst)
    db.session.flush()
    return lst


def make_register(code="speakup", name="说事登记簿", fields=None, date_field=None, **kw):
    """A register with `fields` (dicts of RegisterField columns; `choices=[...]` makes a list)."""
    register = RegisterDef(code=code, name=name, menu_group=kw.pop("menu_group", "台账"), **kw)
    position = 1
    for spec in fields or []:
        spec = dict(spec)
        choices = spec.pop("choices", None)
        if choices is not None:
            spec["choice_list"] = make_choice_list(f"{code}_{spec['code']}", choices)
        spec.setdefault("position", position)
        position += 1
        register.fields.append(RegisterField(**spec))
    db.session.add(register)
    definitions.save_register(db.session, register)
    if date_field:
        register.date_field = date_field
        definitions.save_register(db.session, register)
    db.session.commit()
    return register


def speakup():
    """说事登记簿 with a date, a required text, a phone, a long text, a choice and a number."""
    return make_register(
        fields=[
            {
                "code": "day",
                "label": "说事日期",
                "type": "date",
                "required": True,
                "filterable": True,
                "sortable": True,
            },
            {"code": "speaker", "label": "说事人", "type": "text", "required": True, "filterable": True},
            {"code": "phone", "label": "联系电话", "type": "phone"},
            {"code": "matter", "label": "说事内容", "type": "textarea", "required": True, "in_list": False},
            {
                "code": "handling",
                "label": "处理方式",
                "type": "choice",
                "filterable": True,
                "choices": ["当场解决", "两委讨论", "议事会", "村民表决"],
            },
            {"code": "people", "label": "人数", "type": "integer", "min_value": "1", "max_value": "500"},
        ],  # fmt: skip
        date_field="day",
    )


def value_id(register, field_code, name):
    field = register.field(field_code)
    return next(v.id for v in field.choice_list.values if v.name == name)


def entry_class(code="speakup"):
    return runtime.entry_class(code)


def make_entry(grid, code="speakup", **values):
    cls = entry_class(code)
    entry = cls(grid=grid, **values)
    db.session.add(entry)
    db.session.commit()
    return entry


_probe_seq = itertools.count(1)


def filled_values(cls, grid, side="a"):
    """Valid values for every live field of register class `cls` (the probes' entries)."""
    from tests.factories import make_appeal, make_person

    n = next(_probe_seq)
    values = {"grid": grid}
    for field in cls.__fields__:
        kind = field.type
        if kind == FieldType.GRID:
            continue
        if kind in (FieldType.TEXT, FieldType.TEXTAREA):
            values[field.code] = f"探针{side}{field.code}{n}"
        elif kind in (FieldType.INTEGER, FieldType.DECIMAL):
            values[field.code] = int(field.min_value or 1)
        elif kind == FieldType.DATE:
            values[field.code] = dt.date.fromisoformat(field.min_value) if field.min_value else dt.date(2026, 11, 2)
        elif kind == FieldType.DATETIME:
            values[field.code] = dt.datetime(2026, 11, 2, 9, 0)
        elif kind == FieldType.BOOLEAN:
            values[field.code] = True
        elif kind == FieldType.PHONE:
            values[field.code] = f"1390000{n:04d}"
        elif kind == FieldType.ID_NUMBER:
            body = f"41010219800101{n % 1000:03d}"
            values[field.code] = body + id_check_char(body)
        elif kind in (FieldType.CHOICE, FieldType.MULTICHOICE):
            model = LOOKUPS[field.lookup] if field.lookup else ChoiceValue
            query = select(model)
            if not field.lookup:
                query = query.where(ChoiceValue.list_id == field.choice_list_id)
            first = db.session.scalars(query.limit(1)).first()
            values[field.code] = [first] if kind == FieldType.MULTICHOICE else first
        elif kind == FieldType.PERSON:
            values[field.code] = make_person(grid, name=f"探针{side}登记人{n}")
        elif kind == FieldType.APPEAL:
            values[field.code] = make_appeal(grid)
    return values


def probe_entry(model, world, side, **over):
    """An entry of register class `model` in grid A1 ("a") or B1 ("b"), every field filled."""
    grid = world["b1"] if side == "b" else world["a1"]
    values = filled_values(model, grid, side)
    values.update(over)
    entry = model(**values)
    db.session.add(entry)
    db.session.commit()
    return entry
