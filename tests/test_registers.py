"""Registers (台账) designed in the browser: the designer, the live pages and API, scope,
masking, all errors at once, changes of a live register, roll-ups, Excel and prints."""

import datetime as dt
import io
import json
import os

from openpyxl import Workbook, load_workbook
from sqlalchemy import func, inspect, select

from app.core import jobs
from app.extensions import db
from app.models.audit import AuditLog
from app.models.registers import ChoiceValue, RegisterDef
from app.services.registers import packages, rollups, runtime
from tests.conftest import api_token, login, statements_seen
from tests.factories import make_user, tree
from tests.registers_kit import entry_class, make_entry, speakup, value_id

DAY = "2026-11-30"


def _entry_form(t, register, **over):
    data = {
        "grid": str(t["a1"].id), "day": DAY, "speaker": "王五", "phone": "13812345678", "matter": "村口路灯坏了",
        "handling": str(value_id(register, "handling", "两委讨论")), "people": "3",
    }  # fmt: skip
    data.update(over)
    return data


def _count(code="speakup"):
    cls = entry_class(code)
    return db.session.scalar(select(func.count()).select_from(cls).where(cls.deleted_at.is_(None)))


def _assert_rollups_agree(code="speakup"):
    assert rollups.check(db.session, entry_class(code)) == {}


# --------------------------------------------------------------------------
# The designer
# --------------------------------------------------------------------------


def test_admin_designs_a_register_in_the_browser_and_it_is_live_at_once(client):
    t = tree()
    login(client, make_user("Admin", t["ta"]))
    response = client.post("/registerdesign/add", data={"code": "dispute", "name": "矛盾纠纷排查调处台账", "menu_group": "台账",
                                                        "active": "y", "sort_order": "1"})  # fmt: skip
    assert response.status_code == 302
    register = db.session.scalar(select(RegisterDef).where(RegisterDef.code == "dispute"))
    assert response.headers["Location"].endswith(f"/registerdesign/show/{register.id}")  # its own page
    assert [f.code for f in register.fields] == ["grid"]  # every register has its grid (scope)
    add = f"/registerfields/add?_flt_0_register={register.id}"
    assert client.post(add, data={"code": "parties", "label": "当事人", "type": "text", "required": "y", "in_list": "y",
                                  "position": "1"}).status_code == 302  # fmt: skip
    assert client.post(add, data={"code": "kind", "label": "纠纷类型", "type": "choice", "in_list": "y", "filterable": "y",
                                  "new_values": "土地纠纷\n邻里纠纷\n婚姻家庭", "position": "2"}).status_code == 302  # fmt: skip
    assert (
        client.post(add, data={"code": "found_on", "label": "排查日期", "type": "date", "position": "3"}).status_code
        == 302
    )
    # a bad field: every problem at once, nothing saved
    response = client.post(add, data={"code": "Bad Code", "label": "", "type": "integer", "min_value": "x",
                                      "max_value": "3", "position": "4"})  # fmt: skip
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "拉丁" in body and "名称" in body or "标签" in body
    db.session.expire_all()
    register = db.session.get(RegisterDef, register.id)
    assert [f.code for f in register.fields] == ["grid", "parties", "kind", "found_on"]
    columns = {c["name"] for c in inspect(db.session.connection()).get_columns("reg_dispute")}
    assert {"grid_id", "f_parties", "f_kind", "f_found_on", "version", "deleted_at"} <= columns
    # live: the list answers, the menu lists it, the definition change is audited
    page = client.get("/registers/dispute/list/")
    assert page.status_code == 200 and "纠纷类型" in page.get_data(as_text=True)
    assert "矛盾纠纷排查调处台账" in client.get("/registers/dispute/list/").get_data(as_text=True)
    tables = {r.table_name for r in db.session.scalars(select(AuditLog).where(AuditLog.action == "insert"))}
    assert {"register_def", "register_field"} <= tables


def test_the_designer_is_for_the_admin_only(client):
    t = tree()
    for role in ("Clerk", "Leader", "GridWorker"):
        login(client, make_user(role, t["ta"]))
        assert client.get("/registerdesign/list/").status_code in (302, 403)
        assert client.post("/registerdesign/add", data={"code": "x1", "name": "x"}).status_code in (302, 403)
    assert db.session.scalar(select(func.count()).select_from(RegisterDef)) == 0


def test_permissions_are_seeded_per_register_and_kept_by_init(app, client):
    from app.security import sync_roles

    t = tree()
    speakup()
    sm = app.appbuilder.sm
    grants = {role: {pv.permission.name for pv in sm.find_role(role).permissions if pv.view_menu.name == "Register:speakup"}
              for role in ("Clerk", "GridWorker", "Leader", "Representative", "Admin")}  # fmt: skip
    assert grants == {"Clerk": {"can_read", "can_write"}, "GridWorker": {"can_read", "can_write"},
                      "Leader": {"can_read"}, "Representative": set(), "Admin": {"can_read", "can_write"}}  # fmt: skip
    # the IT staff take write away from grid workers in the role screen; init keeps their choice
    role = sm.find_role("GridWorker")
    role.permissions = [pv for pv in role.permissions if not (pv.view_menu.name == "Register:speakup"
                                                              and pv.permission.name == "can_write")]  # fmt: skip
    db.session.commit()
    sync_roles(app.appbuilder)
    kept = {
        pv.permission.name for pv in sm.find_role("GridWorker").permissions if pv.view_menu.name == "Register:speakup"
    }
    assert kept == {"can_read"}
    login(client, make_user("Representative", t["ta"]))
    assert client.get("/registers/speakup/list/").status_code in (302, 403)


# --------------------------------------------------------------------------
# Entries
# --------------------------------------------------------------------------


def test_a_clerk_records_entries_and_sees_every_problem_of_a_form_at_once(client):
    t = tree()
    register = speakup()
    login(client, make_user("Clerk", t["a1"]))
    bad = _entry_form(t, register, speaker="", phone="12", people="0")
    response = client.post("/registers/speakup/add", data=bad)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "3 处问题" in body  # one line saying how many ...
    assert "说事人" in body and "不是有效的电话号码" in body and "人数" in body  # ... and each at its field
    assert _count() == 0
    assert client.post("/registers/speakup/add", data=_entry_form(t, register)).status_code == 302
    assert client.post("/registers/speakup/add", data=_entry_form(t, register, speaker="赵六")).status_code == 302
    assert _count() == 2
    page = client.get("/registers/speakup/list/").get_data(as_text=True)
    assert "王五" in page and "赵六" in page and "两委讨论" in page
    entry = db.session.scalars(select(entry_class())).first()
    assert entry.created_by_id is not None and entry.grid_id == t["a1"].id
    _assert_rollups_agree()


def test_another_townships_clerk_sees_none_of_them(client):
    t = tree()
    speakup()
    mine = make_entry(t["a1"], day=dt.date(2026, 11, 3), speaker="甲镇群众", matter="事")
    other = make_user("Clerk", t["tb"])
    login(client, other)
    assert "甲镇群众" not in client.get("/registers/speakup/list/").get_data(as_text=True)
    assert client.get(f"/registers/speakup/show/{mine.id}").status_code == 404
    assert client.get(f"/registers/speakup/print/{mine.id}").status_code == 404
    export = load_workbook(io.BytesIO(client.get("/registers/speakup/export/").data)).active
    assert all("甲镇群众" not in str(c.value) for row in export.iter_rows() for c in row)
    headers = api_token(client, other)
    assert client.get(f"/api/v1/registers/speakup/{mine.id}", headers=headers).status_code == 404
    assert client.get("/api/v1/registers/speakup/", headers=headers).json["count"] == 0
    # and cannot file one into grid A
    response = client.post("/api/v1/registers/speakup/", json={"grid": t["a1"].id, "day": DAY, "speaker": "x",
                                                               "matter": "y"}, headers=headers)  # fmt: skip
    assert response.status_code in (403, 404) and _count() == 1


def test_a_leader_reads_masked_and_cannot_write(client):
    t = tree()
    speakup()
    entry = make_entry(t["a1"], day=dt.date(2026, 11, 3), speaker="甲", matter="事", phone="13912345678")
    login(client, make_user("Leader", t["ta"]))
    page = client.get(f"/registers/speakup/show/{entry.id}").get_data(as_text=True)
    assert "139****5678" in page and "13912345678" not in page
    assert client.get("/registers/speakup/add").status_code in (302, 403)
    headers = api_token(client, make_user("Leader", t["ta"]))
    assert client.get(f"/api/v1/registers/speakup/{entry.id}", headers=headers).json["result"]["phone"] == "139****5678"
    assert client.delete(f"/api/v1/registers/speakup/{entry.id}", headers=headers).status_code == 403


def test_the_api_adds_reads_changes_and_deletes_with_every_error_at_once(client):
    t = tree()
    register = speakup()
    clerk = make_user("Clerk", t["a1"])
    headers = api_token(client, clerk)
    definitions = client.get("/api/v1/registers/", headers=headers).json["result"]
    assert [d["code"] for d in definitions] == ["speakup"]
    assert [f["code"] for f in definitions[0]["fields"]][:3] == ["grid", "day", "speaker"]
    bad = client.post("/api/v1/registers/speakup/", json={"grid": t["a1"].id, "day": DAY, "phone": "12", "people": 0},
                      headers=headers)  # fmt: skip
    assert bad.status_code == 422
    assert set(bad.json["errors"]) == {"speaker", "matter", "phone", "people"}
    created = client.post("/api/v1/registers/speakup/", json={
        "grid": t["a1"].id, "day": DAY, "speaker": "王五", "matter": "修路",
        "handling": value_id(register, "handling", "议事会")}, headers=headers)  # fmt: skip
    assert created.status_code == 201, created.json
    pk = created.json["id"]
    got = client.get(f"/api/v1/registers/speakup/{pk}", headers=headers).json["result"]
    assert got["speaker"] == "王五" and got["handling"]["name"] == "议事会"
    changed = client.put(f"/api/v1/registers/speakup/{pk}", json={"speaker": "王五（代）", "version": got["version"]},
                         headers=headers)  # fmt: skip
    assert changed.status_code == 200
    stale = client.put(f"/api/v1/registers/speakup/{pk}", json={"speaker": "旧", "version": got["version"]},
                       headers=headers)  # fmt: skip
    assert stale.status_code == 409
    assert client.delete(f"/api/v1/registers/speakup/{pk}", headers=headers).status_code == 200
    cls = entry_class()
    assert db.session.get(cls, pk).deleted_at is not None and _count() == 0  # soft deleted: restorable
    _assert_rollups_agree()


# --------------------------------------------------------------------------
# Changing a live register
# --------------------------------------------------------------------------


def test_fields_are_added_removed_restored_and_retyped_while_entries_exist(app, client):
    from app.models.registers import RegisterField
    from app.services.registers import definitions

    t = tree()
    register = speakup()
    entry = make_entry(t["a1"], day=dt.date(2026, 11, 3), speaker="甲", matter="事", people=12)
    # add: immediate, old entries empty
    register = db.session.get(RegisterDef, register.id)
    register.fields.append(RegisterField(code="result", label="结果", type="text", position=9))
    definitions.save_register(db.session, register)
    db.session.commit()
    assert db.session.get(entry_class(), entry.id).result is None
    # remove: hidden, data kept; restore: back
    field = register.field("speaker")
    definitions.remove_field(db.session, field)
    db.session.commit()
    login(client, make_user("Clerk", t["a1"]))
    assert "说事人" not in client.get("/registers/speakup/list/").get_data(as_text=True)
    definitions.restore_field(db.session, db.session.get(RegisterField, field.id))
    db.session.commit()
    assert client.get(f"/registers/speakup/show/{entry.id}").get_data(as_text=True).count("甲") >= 1
    # relabel keeps data
    people = db.session.get(RegisterDef, register.id).field("people")
    people.label = "参加人数"
    definitions.save_field(db.session, people)
    db.session.commit()
    assert "参加人数" in client.get("/registers/speakup/list/").get_data(as_text=True)
    # retype: integer -> text moves the values; text -> integer is refused while values do not fit
    people = db.session.get(RegisterDef, register.id).field("people")
    people.type = "text"
    definitions.save_field(db.session, people, "integer")
    db.session.commit()
    assert db.session.get(entry_class(), entry.id).people == "12"
    make_entry(t["a1"], day=dt.date(2026, 11, 4), speaker="乙", matter="事", people="十来个")
    people = db.session.get(RegisterDef, register.id).field("people")
    people.type = "integer"
    try:
        definitions.save_field(db.session, people, "text")
        raise AssertionError("a type change that does not fit must be refused")
    except Exception as err:  # noqa: BLE001
        db.session.rollback()
        assert "1 " in str(err) or "1条" in str(err) or "1 条" in str(err)
    assert db.session.get(RegisterDef, register.id).field("people").type == "text"


# --------------------------------------------------------------------------
# Figures, Excel, prints, packages
# --------------------------------------------------------------------------


def test_summary_adds_up_the_rollups_and_links_to_the_list(client):
    t = tree()
    register = speakup()
    decided = value_id(register, "handling", "两委讨论")
    cls = entry_class()
    for grid, day, handling in (
        (t["a1"], "2026-11-03", decided),
        (t["a1"], "2026-10-03", None),
        (t["a2"], "2026-11-09", decided),
    ):
        entry = cls(grid=grid, day=dt.date.fromisoformat(day), speaker="人", matter="事")
        entry.f_handling = handling
        db.session.add(entry)
    make_entry(t["b1"], day=dt.date(2026, 11, 5), speaker="乙镇", matter="事")
    db.session.commit()
    _assert_rollups_agree()
    login(client, make_user("Leader", t["ta"]))
    page = client.get("/registers/speakup/summary/?from=2026-01-01&to=2026-12-31").get_data(as_text=True)
    assert 'id="mq-register-total"' in page and "<strong>3</strong>" in page  # 乙镇's entry is not counted
    listing = client.get(f"/registers/speakup/list/?from=2026-11-01&to=2026-11-30&v_handling={decided}")
    body = listing.get_data(as_text=True)
    assert listing.status_code == 200 and body.count("/registers/speakup/show/") == 2


def test_excel_template_and_all_or_nothing_import(client):
    t = tree()
    speakup()
    login(client, make_user("Clerk", t["ta"]))
    template = load_workbook(io.BytesIO(client.get("/registers/speakup/template/").data))
    sheet = template.worksheets[0]
    assert [c.value for c in sheet[1]][:3] == ["网格*", "说事日期*", "说事人*"]
    assert sheet.data_validations.dataValidation  # the choice column offers its values
    wb = Workbook()
    ws = wb.active
    ws.append(["网格", "说事日期", "说事人", "联系电话", "说事内容", "处理方式", "人数"])
    ws.append(["TA1", "2026-11-02", "甲", "13812345678", "修渠", "当场解决", 2])
    ws.append(["TB1", "2026/13/40", "", "12", "", "不存在", 0])  # another township, and four more problems
    buffer = io.BytesIO()
    wb.save(buffer)
    buffer.seek(0)
    response = client.post("/registers/speakup/import/", data={"file": (buffer, "说事.xlsx")},
                           content_type="multipart/form-data")  # fmt: skip
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and _count() == 0
    row3 = body.count("<tr><td>3</td>")
    assert row3 >= 5, body  # every problem of row 3, each with its column
    ws.delete_rows(3)
    buffer = io.BytesIO()
    wb.save(buffer)
    buffer.seek(0)
    response = client.post("/registers/speakup/import/", data={"file": (buffer, "说事.xlsx")},
                           content_type="multipart/form-data")  # fmt: skip
    assert response.status_code == 302 and _count() == 1
    _assert_rollups_agree()


def _speakup_file(*rows):
    wb = Workbook()
    ws = wb.active
    ws.append(["网格", "说事日期", "说事人", "联系电话", "说事内容", "处理方式", "人数"])
    for row in rows:
        ws.append(row)
    buffer = io.BytesIO()
    wb.save(buffer)
    buffer.seek(0)
    return buffer


def test_a_big_register_import_is_a_job_as_the_same_user_all_or_nothing(client, app, monkeypatch, tmp_path):
    """Above IMPORT_JOB_KB the import runs as a job: the clerk follows its progress, a refused file shows
    every row's and column's problem in Chinese on the job page and writes nothing, a good one imports."""
    monkeypatch.setitem(app.config, "IMPORT_JOB_KB", 1)  # every file (an .xlsx is ~5 KB)
    monkeypatch.setitem(app.config, "JOBS_DIR", str(tmp_path / "jobs"))
    monkeypatch.setitem(app.config, "JOBS_REDIS_URL", "")
    t = tree()
    speakup()
    clerk = make_user("Clerk", t["ta"])
    login(client, clerk)
    good_row = ["TA1", "2026-11-02", "甲", "13812345678", "修渠", "当场解决", 2]
    bad_row = ["TB1", "2026/13/40", "", "12", "", "不存在", 0]  # another township, and four more problems
    response = client.post("/registers/speakup/import/", data={"file": (_speakup_file(good_row, bad_row), "说事.xlsx")},
                           content_type="multipart/form-data")  # fmt: skip
    assert response.status_code == 302 and "/jobs/" in response.headers["Location"]
    job_id = response.headers["Location"].rstrip("/").split("/")[-1]
    assert jobs.load(job_id).kind == "register-import" and jobs.load(job_id).user_id == clerk.id
    jobs.run_pending()
    state = client.get(f"/jobs/{job_id}/status").json
    assert state["status"] == "failed" and state["error"].startswith("未导入任何数据")
    row3 = [error for error in state["errors"] if error[0] == 3]
    assert len(row3) >= 5 and all(error[2] for error in row3)  # every problem of row 3, each with its column
    assert {"网格", "说事日期", "说事人"} <= {error[1].rstrip("*") for error in row3}
    page = client.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert 'id="mq-job-errors"' in page and "TB1" in page
    assert _count() == 0  # nothing written
    assert not [n for n in os.listdir(jobs.directory()) if n.endswith(".upload")]  # the upload is gone

    response = client.post("/registers/speakup/import/", data={"file": (_speakup_file(good_row), "说事.xlsx")},
                           content_type="multipart/form-data")  # fmt: skip
    job_id = response.headers["Location"].rstrip("/").split("/")[-1]
    jobs.run_pending()
    state = client.get(f"/jobs/{job_id}/status").json
    assert state["status"] == "done" and state["message"] == "已导入 1 行。" and state["percent"] == 100
    assert _count() == 1
    entry = db.session.scalar(select(entry_class()))
    assert entry.created_by_id == clerk.id  # written as the clerk
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "import")) is not None
    _assert_rollups_agree()


def test_a_register_import_job_of_a_user_who_lost_the_right_writes_nothing(client, app, monkeypatch, tmp_path):
    monkeypatch.setitem(app.config, "IMPORT_JOB_KB", 1)
    monkeypatch.setitem(app.config, "JOBS_DIR", str(tmp_path / "jobs"))
    monkeypatch.setitem(app.config, "JOBS_REDIS_URL", "")
    t = tree()
    speakup()
    clerk = make_user("Clerk", t["ta"])
    login(client, clerk)
    row = ["TA1", "2026-11-02", "甲", "13812345678", "修渠", "当场解决", 2]
    response = client.post("/registers/speakup/import/", data={"file": (_speakup_file(row), "说事.xlsx")},
                           content_type="multipart/form-data")  # fmt: skip
    job_id = response.headers["Location"].rstrip("/").split("/")[-1]
    clerk.active = False  # disabled before the job ran
    db.session.flush()
    jobs.run_pending()
    job = jobs.load(job_id)
    assert job.status == "failed" and "权限" in job.error
    assert _count() == 0


def test_prints_of_an_entry_and_of_the_filtered_ledger(client):
    t = tree()
    speakup()
    entry = make_entry(t["a1"], day=dt.date(2026, 11, 3), speaker="印甲", matter="印事")
    make_entry(t["a1"], day=dt.date(2026, 10, 3), speaker="印乙", matter="印事")
    login(client, make_user("Clerk", t["ta"]))
    one = client.get(f"/registers/speakup/print/{entry.id}").get_data(as_text=True)
    assert "说事登记簿" in one and "印甲" in one and "印事" in one
    ledger = client.get("/registers/speakup/print_list/?from=2026-11-01").get_data(as_text=True)
    assert "印甲" in ledger and "印乙" not in ledger


def test_a_configuration_package_moves_registers_and_imports_twice_without_change():
    speakup()
    package = packages.export_package(db.session)
    text = json.dumps(package, ensure_ascii=False)
    assert "speakup" in text and "两委讨论" in text
    # a second deployment: drop and re-create from the package
    package["registers"][0]["name"] = "说事登记簿（县版）"
    report = packages.import_package(db.session, json.dumps(package))
    db.session.commit()
    assert (report.created, report.updated) == (0, 1)
    assert db.session.scalar(select(RegisterDef.name).where(RegisterDef.code == "speakup")) == "说事登记簿（县版）"
    again = packages.import_package(db.session, json.dumps(package))
    db.session.commit()
    assert (again.created, again.updated) == (0, 0) and again.unchanged >= 1
    assert runtime.spec("speakup").name == "说事登记簿（县版）"


def test_init_seeds_the_registers_of_the_source_documents_once(app):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["minqing", "registers", "rollups", "check"]).exit_code == 0
    from app.services.registers.packages import seed_registers

    first = seed_registers(db.session)
    db.session.commit()
    assert first.created >= 5
    codes = set(runtime.specs())
    assert {"speakup", "dispute", "meeting", "assistance", "pledge"} <= codes
    dispute = runtime.spec("dispute")
    assert [f.label for f in dispute.live_fields][:4] == ["网格", "排查日期", "当事人", "当事人电话"]
    # the IT staff rename it; seeding again keeps their change
    register = db.session.scalar(select(RegisterDef).where(RegisterDef.code == "dispute"))
    register.name = "矛盾纠纷台账（本县）"
    from app.services.registers import definitions

    definitions.save_register(db.session, register)
    db.session.commit()
    again = seed_registers(db.session)
    db.session.commit()
    assert again.created == 0 and runtime.spec("dispute").name == "矛盾纠纷台账（本县）"


def test_cli_exports_and_imports_a_package_and_checks_rollups(app, tmp_path):
    speakup()
    t = tree()
    make_entry(t["a1"], day=dt.date(2026, 11, 3), speaker="甲", matter="事")
    runner = app.test_cli_runner()
    path = tmp_path / "registers.json"
    result = runner.invoke(args=["minqing", "registers", "export", str(path)])
    assert result.exit_code == 0 and "speakup" in path.read_text(encoding="utf-8")
    result = runner.invoke(args=["minqing", "registers", "import", str(path)])
    assert result.exit_code == 0 and "created 0, updated 0" in result.output
    assert runner.invoke(args=["minqing", "registers", "rollups", "check"]).exit_code == 0
    (tmp_path / "bad.json").write_text("{}", encoding="utf-8")
    assert runner.invoke(args=["minqing", "registers", "import", str(tmp_path / "bad.json")]).exit_code == 1


def test_a_register_marked_for_the_dashboard_shows_its_count_there(client):
    t = tree()
    register = speakup()
    register = db.session.get(RegisterDef, register.id)
    register.dashboard_card = True
    from app.services.registers import definitions

    definitions.save_register(db.session, register)
    db.session.commit()
    from app.core.clock import today as today_

    today = today_()
    make_entry(t["a1"], day=today, speaker="甲", matter="事")
    make_entry(t["b1"], day=today, speaker="乙", matter="事")
    login(client, make_user("Leader", t["ta"]))
    page = client.get("/dashboard/?preset=year").get_data(as_text=True)
    card = page.split('data-mq-register="speakup"', 1)[1][:600]
    assert '<div class="mq-num">1</div>' in card and "说事登记簿" in card


def test_the_designer_page_exports_and_imports_a_package(client):
    t = tree()
    speakup()
    login(client, make_user("Admin", t["ta"]))
    listing = client.get("/registerdesign/list/").get_data(as_text=True)
    assert 'id="mq-package-export"' in listing and 'id="mq-package-import"' in listing
    exported = client.get("/registerdesign/package/export/")
    assert exported.status_code == 200 and exported.json["registers"][0]["code"] == "speakup"
    data = exported.get_data()
    response = client.post("/registerdesign/package/import/", data={"file": (io.BytesIO(data), "p.json")},
                           content_type="multipart/form-data", follow_redirects=True)  # fmt: skip
    assert "配置包已导入" in response.get_data(as_text=True)
    response = client.post("/registerdesign/package/import/", data={"file": (io.BytesIO(b"not json"), "p.json")},
                           content_type="multipart/form-data", follow_redirects=True)  # fmt: skip
    assert "不是台账配置包" in response.get_data(as_text=True)


def test_a_period_is_read_as_whole_months_and_the_days_at_its_edges():
    from app.services.registers.summary import spans

    d = dt.date
    assert spans(d(2026, 1, 1), d(2026, 12, 31)) == ([], (d(2026, 1, 1), d(2026, 12, 31)))
    assert spans(d(2026, 1, 15), d(2026, 3, 10)) == (
        [(d(2026, 1, 15), d(2026, 1, 31)), (d(2026, 3, 1), d(2026, 3, 10))],
        (d(2026, 2, 1), d(2026, 2, 28)),
    )
    assert spans(d(2026, 2, 3), d(2026, 2, 20)) == ([(d(2026, 2, 3), d(2026, 2, 20))], None)
    assert spans(d(2026, 2, 1), d(2026, 2, 28)) == ([], (d(2026, 2, 1), d(2026, 2, 28)))
    assert spans(d(2026, 1, 31), d(2026, 2, 1)) == ([(d(2026, 1, 31), d(2026, 2, 1))], None)


def test_a_deleted_entry_goes_to_the_recycle_bin_and_an_admin_restores_it(client):
    t = tree()
    speakup()
    entry = make_entry(t["a1"], day=dt.date(2026, 11, 3), speaker="删甲", matter="事")
    clerk = make_user("Clerk", t["ta"])
    login(client, clerk)
    assert client.post(f"/registers/speakup/delete/{entry.id}").status_code == 302
    assert "删甲" not in client.get("/registers/speakup/list/").get_data(as_text=True)
    assert client.get("/registers/speakup/trash/").status_code == 403  # restoring is the Admin's
    _assert_rollups_agree()
    login(client, make_user("Admin", t["ta"]))
    assert "删甲" in client.get("/registers/speakup/trash/").get_data(as_text=True)
    assert client.post(f"/registers/speakup/trash/restore/{entry.id}").status_code == 302
    db.session.expire_all()
    assert db.session.get(entry_class(), entry.id).deleted_at is None
    actions = [a for (a,) in db.session.execute(select(AuditLog.action).where(AuditLog.table_name == "reg_speakup"))]
    assert "delete" in actions and "restore" in actions
    _assert_rollups_agree()


# --------------------------------------------------------------------------
# What the pages say (found in the browser test, tests/e2e/test_registers.py)
# --------------------------------------------------------------------------


def test_the_designer_pages_name_what_they_show(client):
    t = tree()
    register = speakup()
    login(client, make_user("Admin", t["ta"]))
    listing = client.get("/registerdesign/list/").get_data(as_text=True)
    assert "台账名称" in listing and "菜单分组" in listing and "姓名" not in listing  # not a person's name
    form = client.get(f"/registerfields/add?_flt_0_register={register.id}").get_data(as_text=True)
    assert "显示顺序" in form and "职务" not in form  # the order of a field, not a post
    assert "显示顺序" in client.get("/registerdesign/add").get_data(as_text=True)
    assert "列表名称" in client.get("/choicelists/list/").get_data(as_text=True)


def test_an_entry_form_marks_required_fields_and_leaves_every_check_to_the_server(client):
    t = tree()
    speakup()
    login(client, make_user("Clerk", t["a1"]))
    page = client.get("/registers/speakup/add").get_data(as_text=True)
    labels = {label: page.split(f'<label for="{code}"', 1)[1].split("</label>", 1)[0]
              for code, label in (("speaker", "说事人"), ("day", "说事日期"), ("phone", "联系电话"))}  # fmt: skip
    assert "&#42;" in labels["说事人"] and "&#42;" in labels["说事日期"] and "&#42;" not in labels["联系电话"]
    # the browser sends the form as it is (no stop at the first empty field): the answer names every problem
    assert "<form novalidate " in page


def test_an_entry_page_offers_edit_to_who_may_write_and_the_list_its_figures(client):
    t = tree()
    speakup()
    entry = make_entry(t["a1"], day=dt.date(2026, 11, 3), speaker="甲", matter="事")
    login(client, make_user("Clerk", t["a1"]))
    page = client.get(f"/registers/speakup/show/{entry.id}").get_data(as_text=True)
    assert f'href="/registers/speakup/edit/{entry.id}"' in page and 'id="mq-edit-entry"' in page
    assert (
        "统计"
        in client.get("/registers/speakup/list/").get_data(as_text=True).split('id="mq-register-summary"')[1][:200]
    )
    login(client, make_user("Leader", t["ta"]))
    assert 'id="mq-edit-entry"' not in client.get(f"/registers/speakup/show/{entry.id}").get_data(as_text=True)


def test_an_empty_choice_reads_as_a_dash_in_the_form_and_the_search(client):
    t = tree()
    speakup()
    entry = make_entry(t["a1"], day=dt.date(2026, 11, 3), speaker="甲", matter="事")
    login(client, make_user("Clerk", t["a1"]))
    for url in ("/registers/speakup/add", f"/registers/speakup/edit/{entry.id}", "/registers/speakup/list/"):
        body = client.get(url).get_data(as_text=True)
        assert ">__None<" not in body and "u003e__None\\u003c" not in body, url
    assert '<option selected value="__None">—</option>' in client.get("/registers/speakup/add").get_data(as_text=True)


def test_a_contains_search_reads_the_text_index_and_follows_every_change(client):
    """SQLite: the filterable text field has an FTS5 trigram index kept by triggers; the list's
    "contains" search reads it (not every row), and sees inserts, edits and deletes at once."""
    t = tree()
    speakup()
    login(client, make_user("Clerk", t["ta"]))
    day = dt.date(2026, 11, 2)
    one = make_entry(t["a1"], day=day, speaker="张家湾王大姐", matter="路灯", handling=None)
    make_entry(t["a1"], day=day, speaker="李庄赵大哥", matter="排水")
    sqlite = db.engine.dialect.name == "sqlite"
    with statements_seen() as statements:
        body = client.get("/registers/speakup/list/?_flt_2_speaker=湾王大").get_data(as_text=True)
    assert "张家湾王大姐" in body and "李庄赵大哥" not in body
    if sqlite:
        assert any("reg_speakup__fts_f_speaker" in s for s in statements)
    one.speaker = "张家湾刘大姐"
    db.session.commit()
    assert "张家湾刘大姐" in client.get("/registers/speakup/list/?_flt_2_speaker=湾刘大").get_data(as_text=True)
    stale = client.get("/registers/speakup/list/?_flt_2_speaker=湾王大").get_data(as_text=True)
    assert "张家湾王大姐" not in stale and "张家湾刘大姐" not in stale
    db.session.delete(one)
    db.session.commit()
    assert "张家湾刘大姐" not in client.get("/registers/speakup/list/?_flt_2_speaker=张家湾").get_data(as_text=True)
    # two characters: below a trigram, the plain LIKE answers
    assert "李庄赵大哥" in client.get("/registers/speakup/list/?_flt_2_speaker=李庄").get_data(as_text=True)


def test_an_api_page_finds_its_ids_without_the_joins_of_what_it_shows(client):
    """The API shows related columns (grid.name, a choice's name): the page of ids is chosen
    without those joins (an index answers), then only those rows are loaded with them."""
    t = tree()
    register = speakup()
    for n in range(3):
        make_entry(t["a1"], day=dt.date(2026, 11, 2 + n), speaker=f"说事人{n}", matter="事",
                   handling=db.session.get(ChoiceValue, value_id(register, "handling", "议事会")))  # fmt: skip
    headers = api_token(client, make_user("Clerk", t["ta"]))
    with statements_seen() as statements:
        response = client.get("/api/v1/registers/speakup/?q=(page_size:2,page:0)", headers=headers)
    assert response.status_code == 200 and len(response.json["result"]) == 2
    assert response.json["result"][0]["handling"]["name"] == "议事会" and response.json["count"] == 3
    paged = [s for s in statements if "LIMIT" in s.upper() and "reg_speakup" in s]
    assert paged and all(" JOIN " not in s.upper() for s in paged)
