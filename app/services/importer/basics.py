"""Import kinds for the structure: grids, people, posts, assignments."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.core.errors import DomainError
from app.models.grids import Grid
from app.models.lookups import GridLevel, PersonKind
from app.models.personnel import Assignment, Person, Post
from app.services import grids as grid_service
from app.services import personnel as personnel_service
from app.services import scope
from app.services.importer.base import (
    GENDERS,
    YES_NO,
    Col,
    Importer,
    RowError,
    cell_bool,
    cell_date,
    cell_int,
    cell_text,
    grid_by_code,
    names_of,
)
from app.services.validators import normalize_phone


class GridImporter(Importer):
    kind = "grids"
    model_name = "grid"  # its extra fields (扩展字段) become columns too
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

    @classmethod
    def choice_values(cls, session):
        return {"level": names_of(session, GridLevel)}

    field_map = {"parent": "parent", "level": "level"}

    def __init__(self, session, actor=None):
        super().__init__(session, actor)
        self.levels = {lv.name: lv for lv in session.scalars(select(GridLevel))}
        self.made = {}

    def order(self, rows):
        """Parents before children, whether the parent is in the file or the database."""
        pending = list(rows)
        ordered, placed = [], set()
        codes_in_file = {cell_text(r[1].get("code")) for r in pending}
        while pending:
            progressed = False
            for item in list(pending):
                parent = cell_text(item[1].get("parent"))
                if parent is None or parent not in codes_in_file or parent in placed:
                    ordered.append(item)
                    placed.add(cell_text(item[1].get("code")))
                    pending.remove(item)
                    progressed = True
            if not progressed:  # a cycle inside the file: let each row report it
                ordered.extend(pending)
                break
        return ordered

    def build(self, row, row_no):
        code = cell_text(row.get("code"))
        if code in self.made:
            raise RowError(self.column("code"), _l("The code %(code)s appears twice in the file.", code=code))
        level_name = cell_text(row.get("level"))
        level = self.levels.get(level_name)
        if level_name and level is None:
            raise RowError(self.column("level"), _l("%(value)s is not in the grid level list.", value=level_name))
        parent = None
        parent_code = cell_text(row.get("parent"))
        if parent_code:
            parent = self.made.get(parent_code) or self.session.scalar(select(Grid).where(Grid.code == parent_code))
            if parent is None or (parent.id and not scope.visible(self.session, Grid, parent.id)):
                raise RowError(self.column("parent"), _l("There is no grid with code %(code)s.", code=parent_code))
        grid = Grid(
            code=code,
            name=cell_text(row.get("name")),
            level=level,
            parent=parent,
            households=cell_int(row.get("households"), self.column("households")),
            address=cell_text(row.get("address")),
            description=cell_text(row.get("description")),
            active=True,
        )
        grid_service.validate_grid(self.session, grid)
        self.made[code] = grid
        return grid


class PersonImporter(Importer):
    kind = "people"
    model_name = "person"
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

    @classmethod
    def choice_values(cls, session):
        return {"gender": GENDERS, "kind": names_of(session, PersonKind), "active": YES_NO}

    field_map = {"grid": "grid", "phone": "phone", "gender": "gender"}

    def __init__(self, session, actor=None):
        super().__init__(session, actor)
        self.kinds = {k.name: k for k in session.scalars(select(PersonKind))}

    def build(self, row, row_no):
        gender_text = cell_text(row.get("gender"))
        gender = {"男": "M", "女": "F", "m": "M", "f": "F", None: None}.get(gender_text and gender_text.lower(), "?")
        if gender == "?":
            raise RowError(self.column("gender"), _l("Choose male or female."))
        kind_name = cell_text(row.get("kind"))
        kind = self.kinds.get(kind_name)
        if kind_name and kind is None:
            raise RowError(self.column("kind"), _l("%(value)s is not in the person kind list.", value=kind_name))
        grid = grid_by_code(self.session, cell_text(row.get("grid")), self.column("grid"))
        person = Person(
            name=cell_text(row.get("name")),
            gender=gender,
            unit=cell_text(row.get("unit")),
            position=cell_text(row.get("position")),
            kind=kind,
            phone=cell_text(row.get("phone")),
            grid=grid,
            active=cell_bool(row.get("active"), self.column("active")),
            note=cell_text(row.get("note")),
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

    @classmethod
    def choice_values(cls, session):
        return {"level": names_of(session, GridLevel), "is_responsible": YES_NO, "is_packaging": YES_NO}

    def build(self, row, row_no):
        level_name = cell_text(row.get("level"))
        level = None
        if level_name:
            level = self.session.scalar(select(GridLevel).where(GridLevel.name == level_name))
            if level is None:
                raise RowError(self.column("level"), _l("%(value)s is not in the grid level list.", value=level_name))
        post = Post(
            name=cell_text(row.get("name")),
            level=level,
            duty=cell_text(row.get("duty")),
            reward_penalty=cell_text(row.get("reward_penalty")),
            is_responsible=cell_bool(row.get("is_responsible"), self.column("is_responsible"), default=False),
            is_packaging=cell_bool(row.get("is_packaging"), self.column("is_packaging"), default=False),
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

    @classmethod
    def choice_values(cls, session):
        return {"post": names_of(session, Post)}

    field_map = {"person": "person", "grid": "grid", "post": "post"}

    def __init__(self, session, actor=None):
        super().__init__(session, actor)
        self.posts = {p.name: p for p in session.scalars(select(Post))}

    def build(self, row, row_no):

        name = cell_text(row.get("person"))
        phone = cell_text(row.get("phone"))
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
        post_name = cell_text(row.get("post"))
        post = self.posts.get(post_name)
        if post is None:
            raise RowError(self.column("post"), _l("There is no post %(name)s.", name=post_name))
        assignment = Assignment(
            person=people[0],
            grid=grid_by_code(self.session, cell_text(row.get("grid")), self.column("grid")),
            post=post,
            start_date=cell_date(row.get("start_date"), self.column("start_date")),
            end_date=cell_date(row.get("end_date"), self.column("end_date")),
            duty_note=cell_text(row.get("duty_note")),
        )
        if assignment.start_date is None:
            raise RowError(self.column("start_date"), _l("Enter a date like 2026-01-31."))
        personnel_service.validate_assignment(self.session, assignment)
        return assignment
