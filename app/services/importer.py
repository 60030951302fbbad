"""Excel in: templates with Chinese headers, and all-or-nothing imports.

A file is checked row by row and column by column; if any cell is wrong the
whole file is refused with a list of (row, column, message) and nothing is
written. Each kind reuses the domain services' validation, so an import obeys
exactly the rules of the forms (including the user's data scope).
"""

from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from sqlalchemy import select

from app.core.errors import DomainError
from app.models.grids import Grid
from app.models.lookups import GridLevel, PersonKind
from app.models.personnel import Assignment, Person, Post
from app.models.representatives import Constituency, Representative
from app.services import grids as grid_service
from app.services import personnel as personnel_service
from app.services import scope

YES = {"是", "yes", "y", "true", "1", "√", "✓"}
NO = {"否", "no", "n", "false", "0", "×"}


@dataclass
class Col:
    key: str
    header: object  # lazy Chinese/English label
    required: bool = False
    example: object = None
    note: object = ""
    aliases: tuple = ()  # other headers a clerk's own sheet may use for it (台账 wording)


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


def _datetime(value, col):
    """A date, or a date and time when the cell holds one (a date alone is taken at 00:00)."""
    if isinstance(value, dt.datetime):
        return value.replace(microsecond=0, tzinfo=None)
    text = _text(value)
    if text and " " in text:
        for fmt in ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M"):
            try:
                return dt.datetime.strptime(text, fmt)
            except ValueError:
                continue
    day = _date(value, col)
    return dt.datetime.combine(day, dt.time()) if day is not None else None


class Importer:
    kind = ""
    title = ""
    resource = ""
    columns: list[Col] = []

    def __init__(self, session, actor=None):
        self.session = session
        self.actor = actor

    def column(self, key):
        return next(c for c in self.columns if c.key == key)

    def build(self, row, row_no):
        """Turn one row (dict key -> raw value) into a new object; raise RowError."""
        raise NotImplementedError

    def order(self, rows):
        return rows

    def finish(self, made):
        """After every row passed, before the commit: [(row number, column, message)] or []."""
        return []

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

    def __init__(self, session, actor=None):
        super().__init__(session, actor)
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

    def __init__(self, session, actor=None):
        super().__init__(session, actor)
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

    def __init__(self, session, actor=None):
        super().__init__(session, actor)
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


def _codes(text):
    """ "TA1、TA2, TA3" -> ["TA1", "TA2", "TA3"] (、，, ; and spaces all separate)."""
    return [c for c in re.split(r"[、，,;；\s]+", text or "") if c]


def _choice(value, col, choices, message):
    """A cell that must be one of `choices` ({accepted spelling: stored value})."""
    text = _text(value)
    if text is None:
        return None
    found = choices.get(text.lower())
    if found is None:
        raise RowError(col, _l("“%(value)s” is not allowed here: %(allowed)s.", value=text, allowed=message))
    return found


class RepresentativeImporter(Importer):
    """A clerk's paper list of representatives (代表名册).

    The person is found by name within the user's scope (and phone, when the
    file gives one); someone not yet in the personnel register is added there.
    A constituency is found by name, or created from the grid codes it covers.
    """

    kind = "representatives"
    title = _l("Representatives")
    resource = "Representative"
    columns = [
        Col(
            "person",
            _l("Name"),
            True,
            "王代表",
            _l("A person of that name in your jurisdiction is reused; otherwise a person is added"),
        ),
        Col("phone", _l("Phone"), False, "13912345678", _l("Tells apart people of the same name")),
        Col("gender", _l("Gender"), False, "女", _l("男 or 女")),
        Col("unit", _l("Work unit"), False, "东关村村委会", _l("For a person added by the import")),
        Col("position", _l("Position"), False, "村委会主任", _l("For a person added by the import")),
        Col("level", _l("Representative level"), True, "乡镇", _l("乡镇, 县 or 市")),
        Col("constituency", _l("Constituency"), True, "第三选区"),
        Col(
            "grids",
            _l("Grid codes covered"),
            False,
            "410100001001、410100001002",
            _l("Codes separated by 、 or commas; needed when the constituency is new"),
        ),
        Col("term_start", _l("Term from (year)"), True, 2021),
        Col("term_end", _l("Term to (year)"), True, 2026),
        Col("active", _l("In office"), False, "是", _l("是 or 否; empty means 是")),
        Col("note", _l("Note"), False, ""),
    ]
    field_map = {"person": "person", "term_start": "term_start", "term_end": "term_end", "level": "level",
                 "constituency": "constituency", "name": "constituency"}  # fmt: skip
    LEVELS = {"乡镇": "township", "乡镇级": "township", "乡": "township", "镇": "township", "township": "township",
              "县": "county", "县级": "county", "区": "county", "县/区": "county", "county": "county",
              "市": "city", "市级": "city", "city": "city"}  # fmt: skip

    def __init__(self, session, actor=None):
        super().__init__(session, actor)
        self.constituencies = {}  # (name, home grid id) -> Constituency made by this file
        self.people = {}  # (name, phone) -> Person made by this file
        self.mandates = set()

    def _constituency(self, row):
        from app.services import representatives as rep_service

        col = self.column("constituency")
        name = _text(row.get("constituency"))
        codes = _codes(_text(row.get("grids")))
        made = [c for (n, _g), c in self.constituencies.items() if n == name]
        if not codes:
            found = (
                made
                or self.session.scalars(
                    select(Constituency).where(Constituency.name == name, scope.clause_for(Constituency)).limit(2)
                ).all()
            )
            if not found:
                raise RowError(
                    self.column("grids"),
                    _l("There is no constituency %(name)s: give the grid codes it covers.", name=name),
                )
            if len(found) > 1:
                raise RowError(
                    self.column("grids"),
                    _l("Several constituencies are named %(name)s: give the grid codes.", name=name),
                )
            return found[0]
        grids = [_grid_by_code(self.session, code, self.column("grids")) for code in codes]
        home = rep_service.lowest_common_grid(self.session, grids)
        if home is None:
            raise RowError(self.column("grids"), _l("The grids chosen do not belong to one tree."))
        key = (name, home.id)
        if key in self.constituencies:
            existing = self.constituencies[key]
        else:
            existing = self.session.scalar(
                select(Constituency).where(Constituency.name == name, Constituency.grid_id == home.id)
            )
        if existing is not None:
            if sorted(g.code for g in existing.grids) != sorted(set(codes)):
                raise RowError(self.column("grids"),
                               _l("Constituency %(name)s covers %(codes)s, not these grids.", name=name,
                                  codes="、".join(sorted(g.code for g in existing.grids))))  # fmt: skip
            return existing
        constituency = Constituency(name=name, grids=grids)
        try:
            rep_service.validate_constituency(self.session, constituency)
        except DomainError as err:
            raise RowError(col if err.field == "name" else self.column("grids"), err.message) from None
        self.constituencies[key] = constituency
        return constituency

    def _person(self, row, constituency):
        from app.services.validators import normalize_phone

        name = _text(row.get("person"))
        try:
            phone = normalize_phone(_text(row.get("phone")))
        except DomainError as err:
            raise RowError(self.column("phone"), err.message) from None
        if (name, phone) in self.people:
            return self.people[(name, phone)]
        query = select(Person).where(Person.name == name, scope.clause_for(Person))
        if phone:
            query = query.where(Person.phone == phone)
        people = self.session.scalars(query.limit(2)).all()
        if len(people) > 1:
            raise RowError(self.column("phone"), _l("Several people are named %(name)s: give the phone.", name=name))
        if people:
            return people[0]
        gender_text = _text(row.get("gender"))
        gender = {"男": "M", "女": "F", "m": "M", "f": "F", None: None}.get(gender_text and gender_text.lower(), "?")
        if gender == "?":
            raise RowError(self.column("gender"), _l("Choose male or female."))
        kind = self.session.scalar(select(PersonKind).where(PersonKind.name == REPRESENTATIVE_KIND))
        person = Person(
            name=name, gender=gender, phone=phone, unit=_text(row.get("unit")), position=_text(row.get("position")),
            kind=kind, grid=constituency.grid, active=True,
        )  # fmt: skip
        try:
            personnel_service.validate_person(self.session, person)
        except DomainError as err:
            col = self.field_column(err.field) if err.field else None
            raise RowError(col or self.column("person"), err.message) from None
        self.people[(name, phone)] = person
        return person

    def build(self, row, row_no):
        level = _choice(row.get("level"), self.column("level"), self.LEVELS, "乡镇、县、市")
        constituency = self._constituency(row)
        person = self._person(row, constituency)
        rep = Representative(
            person=person,
            level=level,
            constituency=constituency,
            term_start=_int(row.get("term_start"), self.column("term_start")),
            term_end=_int(row.get("term_end"), self.column("term_end")),
            active=_bool(row.get("active"), self.column("active")),
            note=_text(row.get("note")),
        )
        from app.services import representatives as rep_service

        rep_service.validate_representative(self.session, rep)
        mandate = (id(person), level, rep.term_start)
        if mandate in self.mandates:
            raise RowError(
                self.column("person"),
                _l("%(name)s appears twice in the file for this level and term.", name=person.name),
            )
        self.mandates.add(mandate)
        return rep


class AppealImporter(Importer):
    """Historical appeals from a ledger (民情台账): registered before the system,
    some still open, some answered, evaluated or archived."""

    kind = "appeals"
    title = _l("Historical appeals")
    resource = "Appeal"
    columns = [
        Col(
            "number",
            _l("Registration number"),
            False,
            "202301005",
            _l("Empty: numbered in the registration month. Given: year+month+sequence, unused, month of the date"),
        ),
        Col("registered_at", _l("Registration date"), True, "2023-01-16", _l("Not in the future"), ("登记时间",)),
        Col("reporter_name", _l("Reporter"), True, "李四", aliases=("姓名", "反映人姓名")),
        Col("reporter_address", _l("Home address"), False, "东关村三组12号"),
        Col("reporter_unit", _l("Work unit"), False, ""),
        Col("reporter_phone", _l("Phone"), False, "13712345678", _l("Mobile 13812345678 or landline 0371-12345678")),
        Col("reporter_id_number", _l("ID number"), False, "", _l("18 characters, check digit verified"), ("身份证号",)),
        Col("content", _l("Content"), True, "村东路灯损坏，夜间出行不便。", aliases=("反映内容", "诉求内容")),
        Col("channel", _l("Channel"), True, "来电", _l("A value of the channel list"), ("渠道",)),
        Col("category", _l("Category"), True, "基础设施", _l("A value of the category list")),
        Col(
            "importance", _l("Importance"), False, "一般", _l("一般 or 重要; empty means 一般 (deadline 7 or 30 days)")
        ),
        Col("grid", _l("Grid code"), True, "410100001001"),
        Col("filed_by_name", _l("Filled in by"), False, "", _l("Empty: the importing user")),
        Col(
            "status",
            _l("Status"),
            False,
            "已归档",
            _l("已登记, 已交办, 办理中, 已反馈 (已办结), 已评议 or 已归档; empty means 已登记"),
            ("办理状态",),
        ),
        Col("handler_unit", _l("Handling unit"), False, "城关镇城建所", _l("Required for 已交办 and 办理中")),
        Col(
            "closed_on",
            _l("Replied at"),
            False,
            "2023-01-20",
            _l("Required once answered; decides 按期办结"),
            ("反馈日期", "办结日期"),
        ),
        Col("feedback", _l("Reply"), False, "已更换路灯3盏。", _l("Required once answered"), ("办理结果", "反馈内容")),
        Col(
            "satisfaction",
            _l("Satisfaction"),
            False,
            "满意",
            _l("满意, 基本满意 or 不满意; required for 已评议 and 已归档; an answered appeal with it is 已评议"),
        ),
        Col("evaluation_comment", _l("Review comments"), False, "", _l("Required when 不满意")),
    ]
    field_map = {"grid": "grid", "channel": "channel", "category": "category", "importance": "importance",
                 "reporter_phone": "reporter_phone", "reporter_id_number": "reporter_id_number",
                 "reporter_name": "reporter_name", "content": "content", "status": "status", "number": "number",
                 "handler_unit": "handler_unit", "closed_on": "closed_on", "feedback": "feedback",
                 "satisfaction": "satisfaction", "evaluation_comment": "evaluation_comment",
                 "registered_at": "registered_at"}  # fmt: skip
    STATUSES = {"已登记": "registered", "登记": "registered", "待交办": "registered",
                "已交办": "assigned", "交办": "assigned", "办理中": "in_progress", "正在办理": "in_progress",
                "已反馈": "answered", "已办结": "answered", "办结": "answered", "已答复": "answered",
                "已评议": "evaluated", "已归档": "archived", "归档": "archived"}  # fmt: skip
    IMPORTANCE = {"一般": "general", "重要": "important", "general": "general", "important": "important"}
    SATISFACTION = {"满意": "satisfied", "基本满意": "basic", "不满意": "unsatisfied",
                    "satisfied": "satisfied", "basic": "basic", "unsatisfied": "unsatisfied"}  # fmt: skip

    def __init__(self, session, actor=None):
        super().__init__(session, actor)
        from app.models.lookups import AppealCategory, AppealChannel
        from app.services.appeals import HISTORY_PERMISSIONS

        self.channels = {c.name: c for c in session.scalars(select(AppealChannel))}
        self.categories = {c.name: c for c in session.scalars(select(AppealCategory))}
        self.statuses = {**self.STATUSES, **{code: code for code in HISTORY_PERMISSIONS}}
        self.numbers = set()

    def build(self, row, row_no):
        from app.models.appeals import Appeal
        from app.services import appeals as appeal_service

        actor = self.actor or appeal_service.system_actor()
        number = _text(row.get("number"))
        registered_at = _datetime(row.get("registered_at"), self.column("registered_at"))
        month = seq = None
        if number:
            try:
                month, seq = appeal_service.parse_number(number)
            except DomainError as err:
                raise RowError(self.column("number"), err.message) from None
            if registered_at is not None and registered_at.strftime("%Y%m") != month:
                raise RowError(self.column("number"),
                               _l("The number %(number)s is not of the registration month %(month)s.",
                                  number=number, month=registered_at.strftime("%Y-%m")))  # fmt: skip
            if (month, seq) in self.numbers:
                raise RowError(
                    self.column("number"), _l("The number %(number)s appears twice in the file.", number=number)
                )
            if appeal_service.number_in_use(self.session, month, seq):
                raise RowError(
                    self.column("number"), _l("The registration number %(number)s is already used.", number=number)
                )
            self.numbers.add((month, seq))
        channel_name = _text(row.get("channel"))
        if channel_name not in self.channels:
            raise RowError(self.column("channel"), _l("%(value)s is not in the channel list.", value=channel_name))
        category_name = _text(row.get("category"))
        if category_name not in self.categories:
            raise RowError(self.column("category"), _l("%(value)s is not in the category list.", value=category_name))
        importance = _choice(row.get("importance"), self.column("importance"), self.IMPORTANCE, "一般、重要")
        status = _choice(row.get("status"), self.column("status"), self.statuses,
                         "已登记、已交办、办理中、已反馈、已评议、已归档") or "registered"  # fmt: skip
        satisfaction = _choice(row.get("satisfaction"), self.column("satisfaction"), self.SATISFACTION,
                               "满意、基本满意、不满意")  # fmt: skip
        appeal = Appeal(
            number=number,
            number_month=month,
            number_seq=seq,
            reporter_name=_text(row.get("reporter_name")),
            reporter_address=_text(row.get("reporter_address")),
            reporter_unit=_text(row.get("reporter_unit")),
            reporter_phone=_text(row.get("reporter_phone")),
            reporter_id_number=_text(row.get("reporter_id_number")),
            content=_text(row.get("content")),
            channel=self.channels[channel_name],
            category=self.categories[category_name],
            importance=importance or "general",
            grid=_grid_by_code(self.session, _text(row.get("grid")), self.column("grid")),
            filed_by_name=_text(row.get("filed_by_name")),
            handler_unit=_text(row.get("handler_unit")),
            feedback=_text(row.get("feedback")),
            satisfaction=satisfaction,
            evaluation_comment=_text(row.get("evaluation_comment")),
        )
        closed_on = _date(row.get("closed_on"), self.column("closed_on"))
        appeal_service.prepare_historical_appeal(self.session, actor, appeal, registered_at, status, closed_on)
        return appeal

    def finish(self, made):
        from app.services import appeals as appeal_service

        actor = self.actor or appeal_service.system_actor()
        rows = {id(obj): row_no for row_no, obj in made}
        errors = appeal_service.number_historical_appeals(self.session, actor, [obj for _row, obj in made])
        return [(rows[id(appeal)], str(self.column("number").header), str(err.message)) for appeal, err in errors]


REPRESENTATIVE_KIND = "人大代表"  # the PersonKind seeded for representatives


def _grid_by_code(session, code, col):
    if not code:
        raise RowError(col, _l("Enter the grid code."))
    grid = session.scalar(select(Grid).where(Grid.code == code))
    if grid is None or not scope.visible(session, Grid, grid.id):
        raise RowError(col, _l("There is no grid with code %(code)s.", code=code))
    return grid


IMPORTERS = {
    cls.kind: cls
    for cls in (GridImporter, PersonImporter, PostImporter, AssignmentImporter, RepresentativeImporter, AppealImporter)
}


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
        for alias in {str(col.header), col.key, *col.aliases}:
            names[alias.strip().rstrip("*").lower()] = col.key
    keys = []
    for cell in header_row:
        text = _text(cell)
        keys.append(names.get(text.rstrip("*").lower()) if text else None)
    return keys


def import_file(session, kind, stream, max_rows=20000, actor=None):
    """Check and import a whole file in one transaction. Returns an ImportResult."""
    importer = IMPORTERS[kind](session, actor)
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
            made.append((row_no, obj))
    if not result.errors:
        result.errors.extend(importer.finish(made))
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
