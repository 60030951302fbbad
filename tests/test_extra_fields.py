"""Extra fields (扩展字段) on built-in records: defined by the Admin in the designer, then in
the record's forms (every rule at once with the record's own), show page, list, export and API,
masked and scoped like the record's own columns, audited with it."""

import io

import openpyxl
import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models.appeals import Appeal
from app.models.audit import AuditLog
from app.models.personnel import Person
from app.models.registers import RegisterDef
from app.services.registers import extensions, runtime
from app.views import extras as extras_module
from tests.conftest import api_token, login
from tests.factories import make_appeal, make_person, make_user
from tests.test_appeals import _form


def _definition(table):
    extensions.ensure_definitions(db.session)
    db.session.commit()
    return db.session.scalar(select(RegisterDef).where(RegisterDef.extends == table))


def _add_field(client, definition, **data):
    data.setdefault("position", "1")
    response = client.post(f"/registerfields/add?_flt_0_register={definition.id}", data=data)
    runtime.ensure_current()  # as the next request of this server would (the test uses the models directly)
    return response


@pytest.fixture
def appeal_extras(client, world):
    """The Admin gives appeals three extra fields in the browser: a required text, a number
    from 1 to 20 and a choice (a new list)."""
    admin = make_user("Admin", world["ta"])
    login(client, admin)
    assert "诉求" in client.get("/extradesign/list/").get_data(as_text=True)  # the five records, made on first look
    definition = _definition("appeal")
    assert _add_field(client, definition, code="hukou", label="户籍所在地", type="text", required="y",
                      in_list="y").status_code == 302  # fmt: skip
    assert _add_field(client, definition, code="household", label="家庭人口", type="integer", min_value="1",
                      max_value="20", position="2").status_code == 302  # fmt: skip
    assert _add_field(client, definition, code="source_kind", label="诉求来源类别", type="choice",
                      new_values="群众来访\n网格发现", position="3").status_code == 302  # fmt: skip
    # a code the record already uses is refused, with the reason
    body = _add_field(client, definition, code="content", label="内容", type="text").get_data(as_text=True)
    assert "已有" in body or "content" in body
    db.session.expire_all()
    assert [f.code for f in db.session.get(RegisterDef, definition.id).fields] == ["hukou", "household", "source_kind"]
    return definition


def _choice(definition, name):
    field = next(f for f in db.session.get(RegisterDef, definition.id).fields if f.code == "source_kind")
    return next(v for v in field.choice_list.values if v.name == name)


def test_a_clerk_registers_an_appeal_with_its_extra_fields(client, world, appeal_extras):
    clerk = make_user("Clerk", world["ta"])
    login(client, clerk)
    form = client.get("/appealview/add").get_data(as_text=True)
    assert "户籍所在地" in form and "家庭人口" in form and "群众来访" in form
    # every problem at once: the record's own (no reporter) and the extra fields' (required, range)
    before = db.session.scalar(select(func.count()).select_from(Appeal))
    response = client.post("/appealview/add", data=_form(world["a1"], reporter_name="", household="30"))
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "户籍所在地" in body and "20" in body and ("反映人" in body or "姓名" in body)
    assert db.session.scalar(select(func.count()).select_from(Appeal)) == before
    # a good one: stored with the appeal, in the same transaction
    kind = _choice(appeal_extras, "网格发现")
    response = client.post(
        "/appealview/add", data=_form(world["a1"], hukou="甲乡甲一村", household="4", source_kind=str(kind.id))
    )
    assert response.status_code == 302
    appeal = db.session.scalars(select(Appeal).order_by(Appeal.id.desc())).first()
    db.session.expire_all()
    appeal = db.session.get(Appeal, appeal.id)
    assert (appeal.hukou, appeal.household, appeal.source_kind.name) == ("甲乡甲一村", 4, "网格发现")
    # the show page, the list and the Excel export carry them
    page = client.get(f"/appealview/show/{appeal.id}").get_data(as_text=True)
    assert "户籍所在地" in page and "甲乡甲一村" in page and "网格发现" in page
    assert "甲乡甲一村" in client.get("/appealview/list/").get_data(as_text=True)
    export = client.get("/appealview/export/")
    sheet = openpyxl.load_workbook(io.BytesIO(export.data)).active
    cells = [c.value for row in sheet.iter_rows() for c in row]
    assert "户籍所在地" in cells and "甲乡甲一村" in cells
    # edited: the change is kept, and audited against the appeal
    edit = client.get(f"/appealview/edit/{appeal.id}").get_data(as_text=True)
    assert "甲乡甲一村" in edit
    data = _form(
        world["a1"], hukou="甲乡甲二村", household="5", source_kind=str(kind.id), row_version=str(appeal.version)
    )
    assert client.post(f"/appealview/edit/{appeal.id}", data=data).status_code == 302
    db.session.expire_all()
    assert db.session.get(Appeal, appeal.id).hukou == "甲乡甲二村"
    trail = db.session.scalars(
        select(AuditLog).where(AuditLog.table_name == "appeal", AuditLog.record_id == appeal.id)
    ).all()
    assert any("甲乡甲二村" in str(row.changes) for row in trail)


def test_the_api_answers_and_takes_extra_fields_with_every_error_at_once(client, world, appeal_extras):
    appeal = make_appeal(world["a1"])
    appeal.hukou = "甲乡"
    db.session.commit()
    headers = api_token(client, make_user("Clerk", world["ta"]))
    got = client.get(f"/api/v1/appeal/{appeal.id}", headers=headers).json["result"]
    assert got["extra"] == {"hukou": "甲乡", "household": None, "source_kind": None}
    listed = client.get("/api/v1/appeal/", headers=headers).json["result"]
    assert any(row.get("extra", {}).get("hukou") == "甲乡" for row in listed)
    bad = client.put(
        f"/api/v1/appeal/{appeal.id}",
        json={"version": got["version"], "extra": {"household": 99, "source_kind": "x", "nope": 1}},
        headers=headers,
    )
    assert bad.status_code == 422, bad.get_data(as_text=True)
    text = bad.get_data(as_text=True)
    assert "nope" in text and "source_kind" in text and "20" in text
    db.session.expire_all()
    assert db.session.get(Appeal, appeal.id).household is None
    kind = _choice(appeal_extras, "群众来访")
    good = client.put(
        f"/api/v1/appeal/{appeal.id}",
        json={"version": got["version"], "extra": {"household": 3, "source_kind": kind.id}},
        headers=headers,
    )
    assert good.status_code == 200, good.get_data(as_text=True)
    assert good.json["result"]["extra"]["household"] == 3
    db.session.expire_all()
    assert (db.session.get(Appeal, appeal.id).household, db.session.get(Appeal, appeal.id).hukou) == (3, "甲乡")
    assert "extra" in client.get("/api/v1/_openapi").get_data(as_text=True)


def test_a_sensitive_extra_field_is_masked_and_other_grids_stay_invisible(client, world):
    admin = make_user("Admin", world["ta"])
    login(client, admin)
    definition = _definition("person")
    assert (
        _add_field(client, definition, code="mobile2", label="备用电话", type="phone", in_list="y").status_code == 302
    )
    mine = make_person(world["a1"], name="甲村群众")
    mine.mobile2 = "13900001111"
    other = make_person(world["b1"], name="乙村群众")
    other.mobile2 = "13700002222"
    db.session.commit()
    # a representative may read people but not their numbers in full
    reader = make_user("Leader", world["ta"])
    login(client, reader)
    listing = client.get("/personview/list/").get_data(as_text=True)
    page = client.get(f"/personview/show/{mine.id}").get_data(as_text=True)
    for body in (listing, page):
        assert "13900001111" not in body and "139****1111" in body
        assert "13700002222" not in body and "137****2222" not in body  # another township's record
    headers = api_token(client, reader)
    extra = client.get(f"/api/v1/person/{mine.id}", headers=headers).json["result"]["extra"]
    assert extra["mobile2"] == "139****1111"
    assert client.get(f"/api/v1/person/{other.id}", headers=headers).status_code == 404


def test_removing_an_extra_field_keeps_its_values_and_packages_carry_extra_fields(client, world, appeal_extras):
    appeal = make_appeal(world["a1"])
    appeal.hukou = "甲乡"
    db.session.commit()
    hukou = next(f for f in db.session.get(RegisterDef, appeal_extras.id).fields if f.code == "hukou")
    login(client, make_user("Admin", world["ta"]))
    response = client.post("/registerfields/action_post", data={"action": "remove_fields", "rowid": [str(hukou.id)]})
    assert response.status_code == 302
    runtime.ensure_current(force=True)
    assert not hasattr(Appeal, "hukou")
    assert "户籍所在地" not in client.get(f"/appealview/show/{appeal.id}").get_data(as_text=True)
    client.post("/registerfields/action_post", data={"action": "restore_fields", "rowid": [str(hukou.id)]})
    runtime.ensure_current(force=True)
    db.session.expire_all()
    assert db.session.get(Appeal, appeal.id).hukou == "甲乡"
    package = client.get("/registerdesign/package/export/").get_data(as_text=True)
    assert "x_appeal" in package and "hukou" in package


def test_records_without_extra_fields_and_people_lists_are_untouched(client, world):
    """No definition with fields: no extra columns, no extra queries, nothing on the API."""
    headers = api_token(client, make_user("Clerk", world["ta"]))
    got = client.get(f"/api/v1/person/{world['pa'].id}", headers=headers).json["result"]
    assert "extra" not in got
    assert db.session.get(Person, world["pa"].id).__dict__.get(extensions.ROW) is None


def test_a_package_moves_extra_fields_and_cannot_extend_other_tables(client, world, appeal_extras):
    from app.core.errors import DomainError, DomainErrors
    from app.services.registers import packages

    package = packages.export_package(db.session)
    mine = next(r for r in package["registers"] if r["code"] == "x_appeal")
    assert mine["extends"] == "appeal" and [f["code"] for f in mine["fields"]][:1] == ["hukou"]
    report = packages.import_package(db.session, package)  # the same package twice: nothing changes
    assert report.created == 0
    hostile = {"registers": [{"code": "x_users", "name": "用户", "extends": "ab_user", "fields": []}]}
    with pytest.raises((DomainError, DomainErrors)):
        packages.import_package(db.session, hostile)
    db.session.rollback()
    assert db.session.scalar(select(RegisterDef).where(RegisterDef.code == "x_users")) is None


def test_a_list_is_searched_by_a_filterable_extra_field(client, world):
    login(client, make_user("Admin", world["ta"]))
    definition = _definition("appeal")
    assert _add_field(client, definition, code="hukou", label="户籍所在地", type="text", filterable="y",
                      in_list="y").status_code == 302  # fmt: skip
    assert _add_field(client, definition, code="kind", label="来源类别", type="choice", filterable="y",
                      new_values="来访\n网格发现", position="2").status_code == 302  # fmt: skip
    here, there = make_appeal(world["a1"], reporter_name="甲户"), make_appeal(world["a1"], reporter_name="乙户")
    here.hukou, there.hukou = "甲乡甲一村", "乙乡"
    field = next(f for f in db.session.get(RegisterDef, definition.id).fields if f.code == "kind")
    here.kind = next(v for v in field.choice_list.values if v.name == "网格发现")
    db.session.commit()
    login(client, make_user("Clerk", world["ta"]))
    page = client.get("/appealview/list/").get_data(as_text=True)
    assert "户籍所在地" in page  # offered in the search menu
    found = client.get("/appealview/list/?_flt_0_hukou=甲乡甲").get_data(as_text=True)  # the first text filter
    by_kind = client.get(f"/appealview/list/?_flt_0_kind={here.kind.id}").get_data(as_text=True)
    for body in (found, by_kind):
        assert "甲户" in body and "乙户" not in body


def test_extra_fields_are_columns_of_the_excel_import_with_every_error_at_once(client, world):
    from tests.test_import import _upload

    login(client, make_user("Admin", world["ta"]))
    definition = _definition("person")
    assert (
        _add_field(client, definition, code="hukou", label="户籍所在地", type="text", required="y").status_code == 302
    )
    assert _add_field(client, definition, code="household", label="家庭人口", type="integer", min_value="1",
                      max_value="20", position="2").status_code == 302  # fmt: skip
    assert _add_field(client, definition, code="party", label="政治面貌", type="choice", new_values="群众\n党员",
                      position="3").status_code == 302  # fmt: skip
    login(client, make_user("Clerk", world["ta"]))
    template = openpyxl.load_workbook(io.BytesIO(client.get("/import/template/people").data))
    header = [c.value for c in template.worksheets[0][1]]
    assert header[-3:] == ["户籍所在地*", "家庭人口", "政治面貌"]
    assert template.worksheets[0].data_validations.dataValidation  # the choice column has its drop-down
    before = db.session.scalar(select(func.count()).select_from(Person))
    rows = [
        ["姓名", "性别", "电话", "网格编码", "人员类别", "户籍所在地", "家庭人口", "政治面貌"],
        ["导入甲", "男", "13800000001", "TA1", "", "甲乡", 4, "党员"],
        ["导入乙", "女", "12345", "TA1", "", "", 30, "外星"],  # a bad phone and three bad extra cells
    ]
    body = _upload(client, "people", rows).get_data(as_text=True)
    assert "未导入任何数据" in body and "12345" in body and "户籍所在地" in body and "20" in body and "外星" in body
    assert db.session.scalar(select(func.count()).select_from(Person)) == before
    rows[2] = ["导入乙", "女", "13800000002", "TA1", "", "乙乡", 2, ""]
    assert "2" in _upload(client, "people", rows).get_data(as_text=True)
    db.session.expire_all()
    imported = db.session.scalar(select(Person).where(Person.name == "导入甲"))
    assert (imported.hukou, imported.household, imported.party.name) == ("甲乡", 4, "党员")


def test_the_api_filters_by_a_filterable_extra_field(client, world):
    """The API's rison filters take the filterable extra fields as the list page does, by the
    operations its _info offers; a name the record does not know is refused, not a 500."""
    login(client, make_user("Admin", world["ta"]))
    definition = _definition("appeal")
    assert _add_field(client, definition, code="hukou", label="户籍所在地", type="text", filterable="y",
                      in_list="y").status_code == 302  # fmt: skip
    assert _add_field(client, definition, code="kind", label="来源类别", type="choice", filterable="y",
                      new_values="来访\n网格发现", position="2").status_code == 302  # fmt: skip
    here, there = make_appeal(world["a1"], reporter_name="甲户"), make_appeal(world["a1"], reporter_name="乙户")
    elsewhere = make_appeal(world["b1"], reporter_name="丙户")
    here.hukou, there.hukou, elsewhere.hukou = "甲乡甲一村", "乙乡", "甲乡甲一村"
    field = next(f for f in db.session.get(RegisterDef, definition.id).fields if f.code == "kind")
    here.kind = elsewhere.kind = next(v for v in field.choice_list.values if v.name == "网格发现")
    db.session.commit()
    client.get("/logout/")  # the Admin's session would answer for the token
    headers = api_token(client, make_user("Clerk", world["ta"]))
    info = client.get("/api/v1/appeal/_info?q=(keys:!(filters))", headers=headers).json["filters"]
    assert {"hukou", "kind"} <= set(info)
    text_op = next(f["operator"] for f in info["hukou"] if f["operator"] in ("ct", "sw"))
    choice_op = info["kind"][0]["operator"]

    def names(flt):
        response = client.get(f"/api/v1/appeal/?q=(filters:!({flt}))", headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)
        return sorted(r["reporter_name"] for r in response.json["result"])

    assert names(f"(col:hukou,opr:{text_op},value:'甲乡')") == ["甲户"]  # not 丙户: another township
    assert names(f"(col:kind,opr:{choice_op},value:{here.kind.id})") == ["甲户"]
    # the record's own columns still filter as before, beside an extra field
    assert names("(col:reporter_name,opr:eq,value:'乙户')") == ["乙户"]
    for bad in ("!((col:nope,opr:eq,value:x))", "!((col:hukou,opr:nope,value:x))", "!(x)", "!((col:hukou))", "x"):
        assert client.get(f"/api/v1/appeal/?q=(filters:{bad})", headers=headers).status_code == 400, bad


def test_a_definition_change_builds_the_new_layout_before_the_view_changes(client, world, monkeypatch):
    """Other threads of the worker serve with the view while the definitions change: every new
    form, column list and filter is built first and put in place in one step; nothing of the
    view has changed when that step starts, and every view of the record gets the field."""
    login(client, make_user("Admin", world["ta"]))
    definition = _definition("appeal")
    watched = ("add_columns", "list_columns", "add_form", "edit_form", "search_columns", "search_form")
    steps = []
    real = extras_module.put_in_place

    def watching(view, changes, filters=None):
        before = {name: view.__dict__.get(name, getattr(view, name, None)) for name in watched}
        steps.append((view, before, dict(changes), filters))
        real(view, changes, filters)

    monkeypatch.setattr(extras_module, "put_in_place", watching)
    assert _add_field(client, definition, code="hukou", label="户籍所在地", type="text", filterable="y",
                      in_list="y").status_code == 302  # fmt: skip
    appeal_steps = [s for s in steps if s[0].datamodel.obj is Appeal]
    html = [s for s in appeal_steps if hasattr(s[0], "add_form")]
    assert html and all("hukou" in changes["add_columns"] for _, _, changes, _ in html)
    for view, before, changes, filters in html:
        assert "hukou" not in (before["add_columns"] or []) and "hukou" not in (before["list_columns"] or [])
        assert changes["add_form"] is not before["add_form"] and filters is not None
        assert view.add_columns == changes["add_columns"] and "hukou" in view.search_columns
    assert any(not hasattr(view, "add_form") and "hukou" in view.search_columns for view, *_ in appeal_steps)  # API
