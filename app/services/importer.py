"""Excel in: templates with Chinese headers, and all-or-nothing imports.

A file is checked row by row and column by column; if any cell is wrong the
whole file is refused with a list of (row, column, message) and nothing is
written. Each kind reuses the domain services' validation, so an import obeys
exactly the rules of the forms (including the user's data scope).
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from sqlalchemy import select

from app.models.grids import Grid
from app.models.lookups import GridLevel, PersonKind
from app.models.personnel import Assignment, Person, Post
from app.services import grids as grid_service
from app.services import personnel as personnel_service
from app.services import scope
from app.services.errors import DomainError

YES = {"是", "yes", "y", "true", "1", "√", "✓"}
NO = {"否", "no", "n", "false", "0", "×"}


@dataclass
class Col:
    key: str
    header: object  # lazy Chinese/English label
    required: bool = False
    example: object = None
    note: object = ""


@dataclass
class ImportResult:
    kind: str
    created: int = 0
    errors: list = field(default_factory=list)  # (row number, column header, message)

    @property
    def ok(self):
        return not self.errors


class RowError(Exception):
    def __init__(self, column, message):
        super().__init__(str(message))
        self.column = column
        self.message = message


def _text(value):
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def _int(value, col):
    text = _text(value)
    if text is None:
        return None
    try:
        return int(float(text))
    except ValueError:
        raise RowError(col, _l("Enter a whole number.")) from None


def _bool(value, col, default=True):
    text = _text(value)
    if text is None:
        return default
    if text.lower() in YES:
        return True
    if text.lower() in NO:
        return False
    raise RowError(col, _l("Enter 是 or 否."))


def _date(value, col):
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = _text(value)
    for fmt in ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise RowError(col, _l("Enter a date like 2026-01-31."))


class Importer:
    kind = ""
    title = ""
    resource = ""
    columns: list[Col] = []

    def __init__(self, session):
        self.session = session

    def column(self, key):
        return next(c for c in self.columns if c.key == key)

    def build(self, row, row_no):
        """Turn one row (dict key -> raw value) into a new object; raise RowError."""
        raise NotImplementedError

    def order(self, rows):
        return rows

    def field_column(self, field_name):
        """The template column a service error about `field_name` belongs to."""
        mapping = getattr(self, "field_map", {})
        key = mapping.get(field_name, field_name)
        for col in self.columns:
            if col.key == key:
                return col
        return None


class GridImporter(Importer):
    kind = "grids"
    title = _l("Grids")
    resource = "Grid"
    columns = [
        Col("code", _l("Grid code"), True, "410100001001", _l("Unique")),
        Col("name", _l("Grid name"), True, "东关村"),
        Col("level", _l("Level"), True, "村/社区", _l("A value of the grid level list")),
        Col("parent", _l("Parent grid code"), False, "410100001", _l("Empty only for the top of the tree")),
        Col("households", _l("Households"), False, 320),
        Col("address", _l("Address"), False, "东关村村委会"),
        Col("description", _l("Description"), False, ""),
    ]
    field_map = {"parent": "parent", "level": "level"}

    def __init__(self, session):
        super().__init__(session)
        self.levels = {lv.name: lv for lv in session.scalars(select(GridLevel))}
        self.made = {}

    def order(self, rows):
        """Parents before children, whether the parent is in the file or the database."""
        pending = list(rows)
        ordered, placed = [], set()
        codes_in_file = {_text(r[1].get("code")) for r in pending}
        while pending:
            progressed = False
            for item in list(pending):
                parent = _text(item[1].get("parent"))
                if parent is None or parent not in codes_in_file or parent in placed:
                    ordered.append(item)
                    placed.add(_text(item[1].get("code")))
                    pending.remove(item)
                    progressed = True
            if not progressed:  # a cycle inside the file: let each row report it
                ordered.extend(pending)
                break
        return ordered

    def build(self, row, row_no):
        code = _text(row.get("code"))
        if code in self.made:
            raise RowError(self.column("code"), _l("The code %(code)s appears twice in the file.", code=code))
        level_name = _text(row.get("level"))
        level = self.levels.get(level_name)
        if level_name and level is None:
            raise RowError(self.column("level"), _l("%(value)s is not in the grid level list.", value=level_name))
        parent = None
        parent_code = _text(row.get("parent"))
        if parent_code:
            parent = self.made.get(parent_code) or self.session.scalar(select(Grid).where(Grid.code == parent_code))
            if parent is None or (parent.id and not scope.visible(self.session, Grid, parent.id)):
                raise RowError(self.column("parent"), _l("There is no grid with code %(code)s.", code=parent_code))
        grid = Grid(
            code=code,
            name=_text(row.get("name")),
            level=level,
            parent=parent,
            households=_int(row.get("households"), self.column("households")),
            address=_text(row.get("address")),
            description=_text(row.get("description")),
            active=True,
        )
        grid_service.validate_grid(self.session, grid)
        self.made[code] = grid
        return grid


class PersonImporter(Importer):
    kind = "people"
    title = _l("People")
    resource = "Person"
    columns = [
        Col("name", _l("Name"), True, "张三"),
        Col("gender", _l("Gender"), False, "男", _l("男 or 女")),
        Col("unit", _l("Work unit"), False, "城关镇人民政府"),
        Col("position", _l("Position"), False, "综治办干事"),
        Col("kind", _l("Kind"), False, "乡镇干部", _l("A value of the person kind list")),
        Col("phone", _l("Phone"), False, "13812345678"),
        Col("grid", _l("Grid code"), True, "410100001"),
        Col("active", _l("Active"), False, "是", _l("是 or 否; empty means 是")),
        Col("note", _l("Note"), False, ""),
    ]
    field_map = {"grid": "grid", "phone": "phone", "gender": "gender"}

    def __init__(self, session):
        super().__init__(session)
        self.kinds = {k.name: k for k in session.scalars(select(PersonKind))}

    def build(self, row, row_no):
        gender_text = _text(row.get("gender"))
        gender = {"男": "M", "女": "F", "m": "M", "f": "F", None: None}.get(gender_text and gender_text.lower(), "?")
        if gender == "?":
            raise RowError(self.column("gender"), _l("Choose male or female."))
        kind_name = _text(row.get("kind"))
        kind = self.kinds.get(kind_name)
        if kind_name and kind is None:
            raise RowError(self.column("kind"), _l("%(value)s is not in the person kind list.", value=kind_name))
        grid = _grid_by_code(self.session, _text(row.get("grid")), self.column("grid"))
        person = Person(
            name=_text(row.get("name")),
            gender=gender,
            unit=_text(row.get("unit")),
            position=_text(row.get("position")),
            kind=kind,
            phone=_text(row.get("phone")),
            grid=grid,
            active=_bool(row.get("active"), self.column("active")),
            note=_text(row.get("note")),
        )
        personnel_service.validate_person(self.session, person)
        return person


class PostImporter(Importer):
    kind = "posts"
    title = _l("Posts")
    resource = "Post"
    columns = [
        Col("name", _l("Post"), True, "平安志愿者"),
        Col("level", _l("Grid level"), False, "村组/楼院/街区", _l("Empty if the post exists at every level")),
        Col("duty", _l("Duty"), False, "协助巡逻，排查隐患"),
        Col("reward_penalty", _l("Reward and penalty"), False, "年终评先评优"),
        Col("is_responsible", _l("Responsible person"), False, "否", _l("是 or 否")),
        Col("is_packaging", _l("Leader in charge (包村)"), False, "否", _l("是 or 否")),
    ]

    def build(self, row, row_no):
        level_name = _text(row.get("level"))
        level = None
        if level_name:
            level = self.session.scalar(select(GridLevel).where(GridLevel.name == level_name))
            if level is None:
                raise RowError(self.column("level"), _l("%(value)s is not in the grid level list.", value=level_name))
        post = Post(
            name=_text(row.get("name")),
            level=level,
            duty=_text(row.get("duty")),
            reward_penalty=_text(row.get("reward_penalty")),
            is_responsible=_bool(row.get("is_responsible"), self.column("is_responsible"), default=False),
            is_packaging=_bool(row.get("is_packaging"), self.column("is_packaging"), default=False),
            active=True,
        )
        personnel_service.validate_post(self.session, post)
        return post


class AssignmentImporter(Importer):
    kind = "assignments"
    title = _l("Assignments")
    resource = "Assignment"
    columns = [
        Col("person", _l("Name"), True, "张三"),
        Col("phone", _l("Phone"), False, "13812345678", _l("Needed when two people share the name")),
        Col("grid", _l("Grid code"), True, "410100001001"),
        Col("post", _l("Post"), True, "网格长", _l("A post of the post list")),
        Col("start_date", _l("From"), True, "2026-01-01"),
        Col("end_date", _l("To"), False, "", _l("Empty while in post")),
        Col("duty_note", _l("Own duty"), False, ""),
    ]
    field_map = {"person": "person", "grid": "grid", "post": "post"}

    def __init__(self, session):
        super().__init__(session)
        self.posts = {p.name: p for p in session.scalars(select(Post))}

    def build(self, row, row_no):
        from app.services.validators import normalize_phone

        name = _text(row.get("person"))
        phone = _text(row.get("phone"))
        query = select(Person).where(Person.name == name, scope.clause_for(Person))
        if phone:
            try:
                query = query.where(Person.phone == normalize_phone(phone))
            except DomainError as err:
                raise RowError(self.column("phone"), err.message) from None
        people = self.session.scalars(query.limit(2)).all()
        if not people:
            raise RowError(self.column("person"), _l("There is no person named %(name)s.", name=name))
        if len(people) > 1:
            raise RowError(self.column("phone"), _l("Several people are named %(name)s: give the phone.", name=name))
        post_name = _text(row.get("post"))
        post = self.posts.get(post_name)
        if post is None:
            raise RowError(self.column("post"), _l("There is no post %(name)s.", name=post_name))
        assignment = Assignment(
            person=people[0],
            grid=_grid_by_code(self.session, _text(row.get("grid")), self.column("grid")),
            post=post,
            start_date=_date(row.get("start_date"), self.column("start_date")),
            end_date=_date(row.get("end_date"), self.column("end_date")),
            duty_note=_text(row.get("duty_note")),
        )
        if assignment.start_date is None:
            raise RowError(self.column("start_date"), _l("Enter a date like 2026-01-31."))
        personnel_service.validate_assignment(self.session, assignment)
        return assignment


def _grid_by_code(session, code, col):
    if not code:
        raise RowError(col, _l("Enter the grid code."))
    grid = session.scalar(select(Grid).where(Grid.code == code))
    if grid is None or not scope.visible(session, Grid, grid.id):
        raise RowError(col, _l("There is no grid with code %(code)s.", code=code))
    return grid


IMPORTERS = {cls.kind: cls for cls in (GridImporter, PersonImporter, PostImporter, AssignmentImporter)}


def register_importer(cls):
    IMPORTERS[cls.kind] = cls
    return cls


def template_bytes(kind):
    """The template of a kind: Chinese headers, an example row, and a sheet of notes."""
    importer = IMPORTERS[kind]
    wb = Workbook()
    ws = wb.active
    ws.title = str(importer.title)[:31]
    fill = PatternFill("solid", fgColor="DDEBF7")
    for index, col in enumerate(importer.columns, start=1):
        cell = ws.cell(row=1, column=index, value=str(col.header) + ("*" if col.required else ""))
        cell.font = Font(bold=True, color="C00000" if col.required else "000000")
        cell.fill = fill
        ws.cell(row=2, column=index, value=col.example)
        ws.column_dimensions[get_column_letter(index)].width = max(12, len(str(col.header)) * 2 + 6)
    ws.freeze_panes = "A2"
    notes = wb.create_sheet(str(_l("Notes")))
    notes.append([str(_l("Column")), str(_l("Required")), str(_l("Notes"))])
    for col in importer.columns:
        notes.append([str(col.header), str(_l("Yes")) if col.required else "", str(col.note or "")])
    notes.append([])
    notes.append([str(_l("Replace the example row with your data; a file with any error is refused as a whole."))])
    buffer = io.BytesIO()
    wb.save(buffer)
    buffer.seek(0)
    return buffer


def _header_keys(importer, header_row):
    """Map file columns to keys by their header (Chinese or English label, or the key)."""
    names = {}
    for col in importer.columns:
        for alias in {str(col.header), col.key}:
            names[alias.strip().rstrip("*").lower()] = col.key
    keys = []
    for cell in header_row:
        text = _text(cell)
        keys.append(names.get(text.rstrip("*").lower()) if text else None)
    return keys


def import_file(session, kind, stream, max_rows=20000):
    """Check and import a whole file in one transaction. Returns an ImportResult."""
    importer = IMPORTERS[kind](session)
    result = ImportResult(kind=kind)
    try:
        wb = load_workbook(stream, read_only=True, data_only=True)
    except Exception:  # noqa: BLE001 (any unreadable upload is the user's problem to fix)
        result.errors.append((0, "", str(_l("The file is not an Excel .xlsx workbook."))))
        return result
    ws = wb.worksheets[0]
    rows_iter = ws.iter_rows(values_only=True)
    header = next(rows_iter, None)
    if header is None:
        result.errors.append((1, "", str(_l("The sheet is empty."))))
        return result
    keys = _header_keys(importer, header)
    missing = [c for c in importer.columns if c.required and c.key not in keys]
    for col in missing:
        result.errors.append((1, str(col.header), str(_l("This column is missing from the header row."))))
    if missing:
        return result
    rows = []
    for row_no, values in enumerate(rows_iter, start=2):
        if values is None or all(v is None or str(v).strip() == "" for v in values):
            continue
        if len(rows) >= max_rows:
            result.errors.append((row_no, "", str(_l("Too many rows: at most %(n)s per file.", n=max_rows))))
            return result
        rows.append((row_no, {k: v for k, v in zip(keys, values, strict=False) if k}))
    if not rows:
        result.errors.append((2, "", str(_l("The file has no data rows."))))
        return result
    made = []
    with session.no_autoflush:
        for row_no, row in importer.order(rows):
            for col in importer.columns:
                if col.required and _text(row.get(col.key)) is None:
                    result.errors.append((row_no, str(col.header), str(_l("This cell is required."))))
            if any(e[0] == row_no for e in result.errors):
                continue
            try:
                obj = importer.build(row, row_no)
                scope.check_writable(session, obj)
            except RowError as err:
                result.errors.append((row_no, str(err.column.header), str(err.message)))
                continue
            except DomainError as err:
                col = importer.field_column(err.field) if err.field else None
                result.errors.append((row_no, str(col.header) if col else "", str(err.message)))
                continue
            session.add(obj)
            made.append(obj)
    if result.errors:
        session.rollback()
        result.errors.sort()
        return result
    try:
        session.commit()
    except Exception:
        session.rollback()
        raise
    result.created = len(made)
    return result
