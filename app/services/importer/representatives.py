"""Import kind: representatives (人大代表) with their people and constituencies."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.core.errors import DomainError
from app.models.lookups import PersonKind
from app.models.personnel import Person
from app.models.representatives import Constituency, Representative
from app.services import personnel as personnel_service
from app.services import representatives as rep_service
from app.services import scope
from app.services.importer.base import (
    GENDERS,
    REPRESENTATIVE_KIND,
    YES_NO,
    Col,
    Importer,
    RowError,
    cell_bool,
    cell_choice,
    cell_int,
    cell_text,
    codes_in,
    grid_by_code,
)
from app.services.validators import normalize_phone


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

    @classmethod
    def choice_values(cls, session):
        return {"gender": GENDERS, "level": ["乡镇", "县", "市"], "active": YES_NO}

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

        col = self.column("constituency")
        name = cell_text(row.get("constituency"))
        codes = codes_in(cell_text(row.get("grids")))
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
        grids = [grid_by_code(self.session, code, self.column("grids")) for code in codes]
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

        name = cell_text(row.get("person"))
        try:
            phone = normalize_phone(cell_text(row.get("phone")))
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
        gender_text = cell_text(row.get("gender"))
        gender = {"男": "M", "女": "F", "m": "M", "f": "F", None: None}.get(gender_text and gender_text.lower(), "?")
        if gender == "?":
            raise RowError(self.column("gender"), _l("Choose male or female."))
        kind = self.session.scalar(select(PersonKind).where(PersonKind.name == REPRESENTATIVE_KIND))
        person = Person(
            name=name, gender=gender, phone=phone, unit=cell_text(row.get("unit")), position=cell_text(row.get("position")),
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
        level = cell_choice(row.get("level"), self.column("level"), self.LEVELS, "乡镇、县、市")
        constituency = self._constituency(row)
        person = self._person(row, constituency)
        rep = Representative(
            person=person,
            level=level,
            constituency=constituency,
            term_start=cell_int(row.get("term_start"), self.column("term_start")),
            term_end=cell_int(row.get("term_end"), self.column("term_end")),
            active=cell_bool(row.get("active"), self.column("active")),
            note=cell_text(row.get("note")),
        )

        rep_service.validate_representative(self.session, rep)
        mandate = (id(person), level, rep.term_start)
        if mandate in self.mandates:
            raise RowError(
                self.column("person"),
                _l("%(name)s appears twice in the file for this level and term.", name=person.name),
            )
        self.mandates.add(mandate)
        return rep
