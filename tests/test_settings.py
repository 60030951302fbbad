"""系统参数: the Admin changes the rule numbers in the browser; every server applies them without a
restart; a rolled-back change is never applied; the defaults stay in config.py."""

import datetime as dt
import re
import threading
import time

import pytest
from sqlalchemy import select

from app import create_app
from app.core import clock
from app.core.errors import DomainError, DomainErrors
from app.core.uow import unit_of_work
from app.extensions import db
from app.models.appeals import Appeal
from app.models.audit import AuditLog
from app.models.lookups import AppealCategory, AppealChannel
from app.models.settings import Setting
from app.services import runtime, settings
from app.services import runtime as generations
from app.views.registers import menu as register_menu
from tests.conftest import TEST_PASSWORD, login
from tests.factories import lookup, make_user, tree

AT = "2026-11-03 09:00"


@pytest.fixture
def admin(client):
    user = make_user("Admin")
    login(client, user)
    return user


def _row(body, key):
    """The HTML of one setting's row on the page."""
    match = re.search(rf'<tr id="setting-{key}".*?</tr>', body, re.S)
    assert match, key
    return match.group(0)


def _appeal_form(grid):
    return {
        "reporter_name": "李大爷", "reporter_phone": "13812345678", "reporter_address": "甲一村3组12号",
        "reporter_unit": "务农", "reporter_id_number": "", "content": "村口路灯坏了两个月。",
        "channel": str(lookup(AppealChannel, "来电").id), "category": str(lookup(AppealCategory, "基础设施").id),
        "importance": "general", "grid": str(grid.id),
    }  # fmt: skip


def _register_appeal(client, grid):
    with clock.frozen(AT):
        response = client.post("/appealview/add", data=_appeal_form(grid))
    assert response.status_code == 302, response.get_data(as_text=True)
    return db.session.scalars(select(Appeal).order_by(Appeal.id.desc())).first()


def _save(**values):
    with unit_of_work(flash_errors=False) as work:
        changed = settings.save(db.session, values)
    assert not work.failed, work.refusal
    return changed


# --- who may open the page --------------------------------------------------------------


def test_only_the_admin_opens_the_settings(app, client):
    t = tree()
    assert client.get("/settings/").status_code == 302  # not signed in: the login page
    for role in ("Clerk", "Leader", "GridWorker", "Representative"):
        login(client, make_user(role, t["ta"]))
        assert client.get("/settings/").status_code == 403, role
        assert client.post("/settings/save/appeals", data={"APPEAL_DAYS_GENERAL": "3"}).status_code == 403
        assert client.post("/settings/reset/APPEAL_DAYS_GENERAL").status_code == 403
        assert 'href="/settings/"' not in client.get("/", follow_redirects=True).get_data(as_text=True)
    assert db.session.scalar(select(Setting)) is None
    login(client, make_user("Admin"))
    body = client.get("/settings/").get_data(as_text=True)
    assert 'href="/settings/"' in client.get("/", follow_redirects=True).get_data(as_text=True)  # 基础数据 › 系统参数
    for title in ("诉求办理", "走访", "人大代表", "数据录入", "列表与导出"):
        assert title in body
    assert "一般诉求办理时限" in body and "默认值：7" in body
    for secret in ("SECRET_KEY", "SQLALCHEMY_DATABASE_URI", "MAIL_PASSWORD", "CONTENT_SECURITY_POLICY"):
        assert secret not in settings.SPECS and secret not in body


def test_the_forms_are_csrf_protected(app, client, admin, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    page = client.get("/settings/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    refused = client.post("/settings/save/appeals", data={"APPEAL_DAYS_GENERAL": "5"})
    assert refused.status_code in (302, 400)
    assert client.post("/settings/reset/APPEAL_DAYS_GENERAL").status_code in (302, 400)
    assert db.session.scalar(select(Setting)) is None
    client.post("/settings/save/appeals", data={"APPEAL_DAYS_GENERAL": "5", "csrf_token": token})
    assert db.session.get(Setting, "APPEAL_DAYS_GENERAL").value == 5


def test_unknown_groups_and_keys_are_404(client, admin):
    assert client.post("/settings/save/nothing", data={}).status_code == 404
    assert client.post("/settings/reset/SECRET_KEY").status_code == 404


# --- effective at once, here and on every other server -----------------------------------


def test_a_new_deadline_applies_to_the_next_appeal_registered(app, client, admin):
    t = tree()
    response = client.post("/settings/save/appeals", data={"APPEAL_DAYS_GENERAL": "5"})
    assert response.status_code == 302
    assert "已保存" in client.get("/settings/").get_data(as_text=True)
    assert app.config["APPEAL_DAYS_GENERAL"] == 5
    login(client, make_user("Clerk", t["ta"]))
    appeal = _register_appeal(client, t["a1"])
    assert appeal.due_date == dt.date(2026, 11, 8)  # 3 Nov + 5 days, not + 7
    login(client, make_user("Admin"))
    assert client.post("/settings/reset/APPEAL_DAYS_GENERAL").status_code == 302
    client.get("/settings/")
    assert app.config["APPEAL_DAYS_GENERAL"] == 7


def test_another_server_picks_up_the_change(app, client):
    """A second app on the same database is another server: it polls the stored token."""
    t = tree()
    clerk = make_user("Clerk", t["ta"])
    other = create_app({
        **{k: app.config[k] for k in ("SQLALCHEMY_DATABASE_URI", "SECRET_KEY", "INSTANCE_DIR")},
        "TESTING": True, "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False,
        "FAB_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000", "SETTINGS_CHECK_SECONDS": 3600,
    })  # fmt: skip
    register_menu.bind(app)  # the registers' menu stays this app's
    try:
        with other.app_context():
            settings.ensure_current()
        assert other.config["APPEAL_DAYS_GENERAL"] == 7
        _save(APPEAL_DAYS_GENERAL=5)  # on this server
        settings.ensure_current()
        assert app.config["APPEAL_DAYS_GENERAL"] == 5
        with other.app_context():
            settings.ensure_current()  # it looked less than SETTINGS_CHECK_SECONDS ago
            assert other.config["APPEAL_DAYS_GENERAL"] == 7
        other.config["SETTINGS_CHECK_SECONDS"] = 0  # time to look again
        other_client = other.test_client()
        response = other_client.post("/login/", data={"username": clerk.username, "password": TEST_PASSWORD})
        assert response.status_code == 302
        assert other.config["APPEAL_DAYS_GENERAL"] == 5  # its first request looked
        with clock.frozen(AT):
            assert other_client.post("/appealview/add", data=_appeal_form(t["a1"])).status_code == 302
        assert db.session.scalars(select(Appeal)).one().due_date == dt.date(2026, 11, 8)
        with unit_of_work(flash_errors=False):
            settings.reset(db.session, "APPEAL_DAYS_GENERAL")
        other_client.get("/")
        assert other.config["APPEAL_DAYS_GENERAL"] == 7  # the default again over there too
    finally:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()


def test_a_rolled_back_change_is_not_applied(app):
    with unit_of_work(flash_errors=False) as work:
        settings.save(db.session, {"APPEAL_DAYS_GENERAL": 5, "REPRESENTATIVE_YEARLY_CONTACTS": 30})
        settings.ensure_current()  # this process saw its own change before the commit ...
        assert app.config["APPEAL_DAYS_GENERAL"] == 5
        raise DomainError("something else in the same unit of work failed")
    assert work.failed
    settings.ensure_current()  # ... and rebuilds from what is stored once it rolled back
    assert app.config["APPEAL_DAYS_GENERAL"] == 7
    assert app.config["REPRESENTATIVE_YEARLY_CONTACTS"] == 40
    assert db.session.scalar(select(Setting)) is None


@pytest.mark.commits  # the threads read through connections of their own
def test_many_threads_load_a_change_once(app, monkeypatch):
    """gunicorn threads: whoever comes first loads the new values, the others wait and find them loaded."""
    _save(APPEAL_DAYS_GENERAL=5)
    generation = app.extensions[settings.EXTENSION].generation
    load = generation._rebuild
    loads, seen, errors = [], [], []

    def slow_load(session, token):
        loads.append(token)
        time.sleep(0.05)
        load(session, token)

    monkeypatch.setattr(generation, "_rebuild", slow_load)
    monkeypatch.setitem(app.config, "SETTINGS_CHECK_SECONDS", 0)
    start = threading.Barrier(6)

    def request_like():
        try:
            with app.app_context():
                start.wait(5)
                settings.refresh()
                seen.append(app.config["APPEAL_DAYS_GENERAL"])
                db.session.remove()
        except Exception as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=request_like) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == [] and len(loads) == 1 and seen == [5] * 6


@pytest.mark.commits  # two transactions on connections of their own
def test_two_transactions_writing_a_names_first_token_take_turns(app):
    """The first change of a name (no row yet) in two transactions at once: the second waits for
    the first and writes its token over it, instead of failing on the insert."""
    first_bumped, errors = threading.Event(), []

    def first():
        try:
            with app.app_context():
                runtime.bump(db.session, "brand-new")
                first_bumped.set()
                time.sleep(0.5)
                db.session.commit()
                db.session.remove()
        except Exception as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)
            first_bumped.set()

    thread = threading.Thread(target=first)
    thread.start()
    assert first_bumped.wait(10)
    token = runtime.bump(db.session, "brand-new")  # waits for the first transaction's row
    db.session.commit()
    thread.join(10)
    assert errors == [] and runtime.stored_token(db.session, "brand-new") == token


def test_a_group_with_one_bad_value_saves_nothing(app, client, admin):
    response = client.post("/settings/save/appeals", data={"APPEAL_DAYS_GENERAL": "5", "APPEAL_MONTHS_IMPORTANT": "x"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "请填写整数" in _row(body, "APPEAL_MONTHS_IMPORTANT")
    client.get("/settings/")
    assert app.config["APPEAL_DAYS_GENERAL"] == 7
    assert db.session.scalar(select(Setting)) is None


# --- every problem at once, each at its field ---------------------------------------------


def test_every_problem_of_a_group_is_shown_at_its_field(app, client, admin):
    data = {"APPEAL_DAYS_GENERAL": "七天", "APPEAL_MONTHS_IMPORTANT": "0", "APPEAL_DUE_SOON_DAYS": "2",
            "APPEAL_REMIND_SUMMARY_TO": "zzb@county.gov.cn\nnot-a-mail", "APPEAL_DISCOVERY_CHANNELS": "入户走访\n飞鸽传书"}  # fmt: skip
    body = client.post("/settings/save/appeals", data=data).get_data(as_text=True)
    assert "有 4 处问题需要更正" in body
    assert "请填写整数" in _row(body, "APPEAL_DAYS_GENERAL") and "七天" in _row(body, "APPEAL_DAYS_GENERAL")
    assert "不能小于 1" in _row(body, "APPEAL_MONTHS_IMPORTANT")
    assert "not-a-mail" in _row(body, "APPEAL_REMIND_SUMMARY_TO") and "电子邮箱" in _row(
        body, "APPEAL_REMIND_SUMMARY_TO"
    )
    assert "飞鸽传书" in _row(body, "APPEAL_DISCOVERY_CHANNELS")
    assert 'class="danger"' not in _row(body, "APPEAL_DUE_SOON_DAYS")
    body = client.post(
        "/settings/save/entry", data={"PHONE_PATTERN": "^(1[3-9]\\d{9}", "CORRECTION_WINDOW_HOURS": "-1"}
    )
    assert "正则表达式" in _row(body.get_data(as_text=True), "PHONE_PATTERN")
    assert "不能小于 0" in _row(body.get_data(as_text=True), "CORRECTION_WINDOW_HOURS")
    assert db.session.scalar(select(Setting)) is None


def test_the_service_reports_every_problem_by_field(app):
    with pytest.raises(DomainErrors) as caught:
        settings.check(db.session, {
            "APPEAL_DAYS_GENERAL": "abc", "APPEAL_MONTHS_IMPORTANT": "-3", "PHONE_PATTERN": "[",
            "VISIT_CONTENT_ROLES": "Clerk\nNoSuchRole", "DASHBOARD_DEFAULT_PRESET": "decade", "LIST_PAGE_SIZE": "500",
            "APPEAL_DUE_SOON_DAYS": True,
        })  # fmt: skip
    fields = {e.field for e in caught.value.errors}
    assert fields == {"APPEAL_DAYS_GENERAL", "APPEAL_MONTHS_IMPORTANT", "PHONE_PATTERN", "VISIT_CONTENT_ROLES",
                      "DASHBOARD_DEFAULT_PRESET", "LIST_PAGE_SIZE", "APPEAL_DUE_SOON_DAYS"}  # fmt: skip
    assert settings.check(db.session, {"VISIT_CONTENT_ROLES": "Clerk\n Leader \nClerk", "LIST_PAGE_SIZE": " 50 "}) == {
        "VISIT_CONTENT_ROLES": ["Clerk", "Leader"], "LIST_PAGE_SIZE": 50,
    }  # fmt: skip
    flag = settings.Spec("X", "lists", settings.BOOL, "x")
    assert flag.parse("on") is True and flag.parse("") is False and flag.parse(False) is False
    ratio = settings.Spec("Y", "lists", settings.FLOAT, "y", min=0, max=1)
    assert ratio.parse("0.5") == 0.5
    with pytest.raises(DomainError):
        ratio.parse("nan")


# --- the audit trail and restoring the default ----------------------------------------------


def test_changes_and_resets_are_on_the_audit_trail(app, client, admin):
    client.post("/settings/save/appeals", data={"APPEAL_DAYS_GENERAL": "5"})
    client.post("/settings/save/appeals", data={"APPEAL_DAYS_GENERAL": "6"})
    client.post("/settings/reset/APPEAL_DAYS_GENERAL")
    rows = db.session.scalars(select(AuditLog).where(AuditLog.table_name == "setting").order_by(AuditLog.id)).all()
    assert [r.action for r in rows] == ["insert", "update", "delete"]
    assert [r.changes["value"] for r in rows] == [[7, 5], [5, 6], [6, 7]]  # the value in force before and after
    assert all(r.username == admin.username for r in rows)
    assert rows[0].summary == "一般诉求办理时限（APPEAL_DAYS_GENERAL）"
    body = client.get(f"/audit/show/{rows[0].id}").get_data(as_text=True)
    assert "value: 7 → 5" in body


def test_restore_default_and_saving_the_default_remove_the_override(app, client, admin):
    client.post("/settings/save/representatives", data={"REPRESENTATIVE_YEARLY_CONTACTS": "30"})
    body = client.get("/settings/").get_data(as_text=True)
    assert app.config["REPRESENTATIVE_YEARLY_CONTACTS"] == 30
    assert "已修改" in _row(body, "REPRESENTATIVE_YEARLY_CONTACTS") and "恢复默认值" in body
    assert "已修改" not in _row(body, "REPRESENTATIVE_REPORT_DAYS")
    assert client.post("/settings/reset/REPRESENTATIVE_YEARLY_CONTACTS").status_code == 302
    body = client.get("/settings/").get_data(as_text=True)
    assert (
        app.config["REPRESENTATIVE_YEARLY_CONTACTS"] == 40
        and db.session.get(Setting, "REPRESENTATIVE_YEARLY_CONTACTS") is None
    )
    assert "已修改" not in _row(body, "REPRESENTATIVE_YEARLY_CONTACTS")
    client.post("/settings/reset/REPRESENTATIVE_YEARLY_CONTACTS")
    assert "已经是默认值" in client.get("/settings/").get_data(as_text=True)
    _save(CONTACT_REPORT_RECIPIENTS=["人大主席"])
    assert _save(CONTACT_REPORT_RECIPIENTS="人大主席\n人大副主席") == ["CONTACT_REPORT_RECIPIENTS"]  # = the default
    assert db.session.get(Setting, "CONTACT_REPORT_RECIPIENTS") is None
    assert _save(CONTACT_REPORT_RECIPIENTS="人大主席\n人大副主席") == []  # nothing to change


def test_only_stored_keys_are_overlaid_and_a_reset_gives_back_the_apps_own_value(app, monkeypatch):
    monkeypatch.setitem(app.config, "LIST_PAGE_SIZE", 7)  # as a test (or an environment) set it
    monkeypatch.setitem(app.config, "APPEAL_DAYS_GENERAL", 9)
    _save(APPEAL_DAYS_GENERAL=5)
    settings.ensure_current()
    assert app.config["APPEAL_DAYS_GENERAL"] == 5 and app.config["LIST_PAGE_SIZE"] == 7
    assert settings.default_of("APPEAL_DAYS_GENERAL") == 9
    with unit_of_work(flash_errors=False):
        settings.reset(db.session, "APPEAL_DAYS_GENERAL")
    settings.ensure_current()
    assert app.config["APPEAL_DAYS_GENERAL"] == 9


def test_a_stored_value_no_longer_valid_leaves_the_default(app, caplog):
    db.session.add(Setting(key="LIST_PAGE_SIZE", value="lots"))
    db.session.add(Setting(key="NOT_A_SETTING", value=1))
    runtime.bump(db.session, settings.NAME)
    db.session.commit()
    settings.ensure_current()
    assert app.config["LIST_PAGE_SIZE"] == 20 and "NOT_A_SETTING" not in app.config
    assert "LIST_PAGE_SIZE ignored" in caplog.text


def test_list_page_size_applies_without_a_restart(app, client, admin):
    tree()  # 8 grids
    client.post("/settings/save/lists", data={"LIST_PAGE_SIZE": "5"})
    view = next(v for v in app.appbuilder.baseviews if type(v).__name__ == "GridView")
    client.get("/gridview/list/")
    assert view.page_size == 5
    client.post("/settings/reset/LIST_PAGE_SIZE")
    client.get("/gridview/list/")
    assert view.page_size == 20


# --- the command line ---------------------------------------------------------------------


def test_the_cli_runs_with_the_defaults_when_nothing_is_stored(app):
    before = {key: app.config[key] for key in settings.SPECS}
    result = app.test_cli_runner().invoke(args=["minqing", "remind", "--no-mail"])
    assert result.exit_code == 0, result.output
    assert {key: app.config[key] for key in settings.SPECS} == before


def test_a_cli_command_reads_the_stored_settings_first(app):
    _save(APPEAL_DUE_SOON_DAYS=9)
    settings.restore_defaults(app)  # as a fresh `flask minqing` process starts
    assert app.config["APPEAL_DUE_SOON_DAYS"] == 2
    result = app.test_cli_runner().invoke(args=["minqing", "remind", "--no-mail"])
    assert result.exit_code == 0, result.output
    assert app.config["APPEAL_DUE_SOON_DAYS"] == 9


def test_a_change_is_seen_at_once_even_just_after_the_server_booted(app, monkeypatch):
    """`recheck` must mean "read the stored token next time" whatever the clock says (a server
    up for less than the interval used to keep its old copy)."""
    built = []
    generation = generations.Generation("probe", lambda session, token: built.append(token), lambda: 3600.0)
    monkeypatch.setattr(generations.time, "monotonic", lambda: 5.0)  # five seconds after boot
    generation.ensure_current(db.session)
    generations.bump(db.session, "probe")
    db.session.flush()
    generation.ensure_current(db.session)
    assert len(built) == 2 and built[1] == generations.stored_token(db.session, "probe")
