"""Appeals through the pages and the API: registration numbers (also under concurrent
registration), the Chinese happy path, scope (another grid's appeal is invisible and
every action on it answers 404), corrections, lists, print forms, reminders, demo."""

import datetime as dt
import re
import threading

import pytest
from sqlalchemy import func, select

from app.core import clock
from app.core.errors import DomainError
from app.extensions import db
from app.models.appeals import Appeal, AppealCounter, AppealEvent
from app.models.lookups import AppealCategory, AppealChannel
from app.models.personnel import Person
from app.services import appeals as svc
from app.services.appeals import registration, steps
from app.services.validators import id_check_char
from tests.conftest import api_token, login, statements_seen
from tests.factories import lookup, make_appeal, make_user

AT = "2026-11-03 09:00"


def _form(grid, **kw):
    data = {
        "reporter_name": "李大爷",
        "reporter_phone": "138 1234 5678",
        "reporter_address": "甲一村3组12号",
        "reporter_unit": "务农",
        "reporter_id_number": "",
        "content": "村口路灯坏了两个月，晚上看不见路。",
        "channel": str(lookup(AppealChannel, "来电").id),
        "category": str(lookup(AppealCategory, "基础设施").id),
        "importance": "general",
        "grid": str(grid.id),
    }
    data.update(kw)
    return data


def _valid_id(first17="41010219800101123"):
    return first17 + id_check_char(first17)


def _count(model, *where):
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


# --- numbering --------------------------------------------------------------------


def test_numbers_are_year_month_sequence_and_restart_each_month(world):
    with clock.frozen("2026-11-30 23:59"):
        first = make_appeal(world["a1"])
        second = make_appeal(world["a1"])
    with clock.frozen("2026-12-01 00:00"):
        december = make_appeal(world["a1"])
    with clock.frozen("2027-01-01 08:00"):
        january = make_appeal(world["a1"])
    assert [first.number, second.number, december.number, january.number] == [
        "202611001",
        "202611002",
        "202612001",
        "202701001",
    ]
    assert (december.number_month, december.number_seq) == ("202612", 1)


def test_numbers_widen_past_999_instead_of_refusing(world):
    db.session.add(AppealCounter(month="202611", last_seq=998))
    db.session.commit()
    with clock.frozen(AT):
        numbers = [make_appeal(world["a1"]).number for _ in range(3)]
    assert numbers == ["202611999", "2026111000", "2026111001"]


def test_a_refused_or_rolled_back_registration_burns_no_number(world):
    with clock.frozen(AT):
        bad = Appeal(reporter_name="", content="x", grid=world["a1"],
                     channel=lookup(AppealChannel), category=lookup(AppealCategory))  # fmt: skip
        with pytest.raises(DomainError):
            svc.register_appeal(db.session, svc.system_actor(), bad)
        db.session.rollback()
        # a number taken inside a transaction that rolls back is given back
        assert svc.next_sequence(db.session, "202611") == 1
        db.session.rollback()
        assert make_appeal(world["a1"]).number == "202611001"


def test_a_busy_sqlite_database_is_retried_not_refused(world, monkeypatch):
    """When the write lock cannot be had in time the whole registration is retried."""
    from sqlalchemy.exc import OperationalError

    real = svc.next_sequence
    calls = []

    def flaky(session, month):
        calls.append(month)
        if len(calls) == 1:
            raise OperationalError("BEGIN IMMEDIATE", {}, Exception("database is locked"))
        return real(session, month)

    monkeypatch.setattr(registration, "next_sequence", flaky)  # where register_appeal looks it up
    with clock.frozen(AT):
        appeal = make_appeal(world["a1"])
    assert len(calls) == 2 and appeal.number == "202611001"
    assert _count(AppealEvent, AppealEvent.appeal_id == appeal.id) == 1


def _register_in_parallel(app, grid_id, count):
    barrier = threading.Barrier(count)
    numbers, errors = [], []
    channel_id = lookup(AppealChannel).id
    category_id = lookup(AppealCategory).id

    def worker(index):
        try:
            with app.app_context():
                session = db.session
                appeal = Appeal(
                    reporter_name=f"并发{index}", content="并发登记", grid_id=grid_id,
                    channel_id=channel_id, category_id=category_id, importance="general",
                )  # fmt: skip
                barrier.wait(timeout=30)
                svc.register_appeal(session, svc.system_actor(f"录入员{index}"), appeal)
                numbers.append(appeal.number)
                session.remove()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(repr(exc))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    with clock.frozen(AT):
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    return numbers, errors


@pytest.mark.commits  # fifty threads, each with its own session and connection
def test_fifty_parallel_registrations_get_fifty_numbers_without_gaps(app, world):
    """Threads with their own sessions and connections: SQLite (write lock, BEGIN
    IMMEDIATE, retry) or PostgreSQL (row lock of the month's counter)."""
    numbers, errors = _register_in_parallel(app, world["a1"].id, 50)
    assert errors == []
    assert len(numbers) == 50 and len(set(numbers)) == 50
    assert sorted(int(n[6:]) for n in numbers) == list(range(1, 51))
    assert all(n.startswith("202611") for n in numbers)
    assert db.session.get(AppealCounter, "202611").last_seq == 50
    assert _count(AppealEvent, AppealEvent.action == "register") == 50


@pytest.mark.commits  # a second thread's registration holds the counter's row lock
@pytest.mark.skipif(not __import__("os").environ.get("MINQING_TEST_DATABASE_URL"), reason="PostgreSQL only")
def test_postgresql_counter_waits_for_an_open_registration(app, world):
    """On PostgreSQL a registration that has taken a number but not committed makes
    the next one wait (row lock), and its rollback hands the number back."""
    first_has_number = threading.Event()
    release = threading.Event()
    seen = {}

    def first():
        with app.app_context():
            with clock.frozen(AT):
                seen["first"] = svc.next_sequence(db.session, "202611")
                first_has_number.set()
                release.wait(10)
                db.session.rollback()
                db.session.remove()

    thread = threading.Thread(target=first)
    thread.start()
    assert first_has_number.wait(10)
    timer = threading.Timer(0.5, release.set)
    timer.start()
    with clock.frozen(AT):
        appeal = make_appeal(world["a1"])  # blocks until the first one rolls back
    thread.join(10)
    assert seen["first"] == 1 and appeal.number == "202611001"


# --- registration through the page: the Chinese happy path ------------------------------


def test_happy_path_through_the_chinese_pages(client, world):
    clerk = make_user("Clerk", world["ta"], username="zhangclerk")
    login(client, clerk)
    page = client.get("/appealview/add").get_data(as_text=True)
    assert "登记诉求" in page and "反映人" in page and "民情民意事项" in page and "收集渠道" in page
    with clock.frozen(AT):
        response = client.post("/appealview/add", data=_form(world["a1"]))
    assert response.status_code == 302
    appeal = db.session.scalar(select(Appeal))
    assert response.headers["Location"].endswith(f"/appealview/show/{appeal.id}")
    assert appeal.number == "202611001" and appeal.status == "registered"
    assert appeal.reporter_phone == "13812345678"  # normalised
    assert appeal.filed_by_id == clerk.id and appeal.filed_by_name == "zhangclerk"
    assert appeal.due_date == dt.date(2026, 11, 10) and appeal.origin_grid_id == world["a1"].id
    show = client.get(f"/appealview/show/{appeal.id}").get_data(as_text=True)
    assert "登记成功，登记编号 202611001" in show
    assert "已登记" in show and "交办" in show and "当场解决" in show

    steps = [
        ("2026-11-03 10:00", "assign", {"handler_person": str(world["pa"].id), "handler_unit": "镇民政所",
                                        "note": "请一周内修复"}),
        ("2026-11-06 15:00", "feedback", {"reply": "已更换路灯两盏，夜间照明恢复。"}),
        ("2026-11-08 09:00", "evaluate", {"result": "satisfied", "source": "reporter", "comment": "修得很快"}),
        ("2026-11-09 09:00", "archive", {"note": ""}),
    ]  # fmt: skip
    for moment, action, data in steps:
        with clock.frozen(moment):
            response = client.post(f"/appealview/act/{appeal.id}/{action}", data=data)
        assert response.status_code == 302, action
        page = client.get(f"/appealview/show/{appeal.id}").get_data(as_text=True)
        assert "已完成" in page, (action, re.findall(r'alert-[a-z]+">.*?<', page))
    db.session.expire_all()
    appeal = db.session.get(Appeal, appeal.id)
    assert appeal.status == "archived"
    assert appeal.handler_person_id == world["pa"].id and appeal.handler_unit == "镇民政所"
    assert appeal.feedback == "已更换路灯两盏，夜间照明恢复。" and appeal.closed_on_time is True
    assert appeal.satisfaction == "satisfied" and appeal.archived_at == dt.datetime(2026, 11, 9, 9, 0)
    events = db.session.scalars(select(AppealEvent).where(AppealEvent.appeal_id == appeal.id).order_by(AppealEvent.id))
    rows = [(e.action, e.from_status, e.to_status, e.actor_id, e.at) for e in events]
    assert rows == [
        ("register", None, "registered", clerk.id, dt.datetime(2026, 11, 3, 9, 0)),
        ("assign", "registered", "assigned", clerk.id, dt.datetime(2026, 11, 3, 10, 0)),
        ("feedback", "assigned", "answered", clerk.id, dt.datetime(2026, 11, 6, 15, 0)),
        ("evaluate", "answered", "evaluated", clerk.id, dt.datetime(2026, 11, 8, 9, 0)),
        ("archive", "evaluated", "archived", clerk.id, dt.datetime(2026, 11, 9, 9, 0)),
    ]
    page = client.get(f"/appealview/show/{appeal.id}").get_data(as_text=True)
    for words in ("办理记录", "已归档", "交办", "承办：甲村干部 · 镇民政所", "请一周内修复", "反馈", "评议", "满意",
                  "归档", "zhangclerk", "2026-11-06 15:00"):  # fmt: skip
        assert words in page, words
    assert 'data-mq-action="' not in page  # nothing left to do on an archived appeal


def test_registration_errors_are_chinese_and_save_nothing(client, world):
    login(client, make_user("Clerk", world["ta"]))
    page = client.post("/appealview/add", data=_form(world["a1"], reporter_id_number="410102198001011230"))
    body = page.get_data(as_text=True)
    assert "校验位不符" in body
    body = client.post("/appealview/add", data=_form(world["a1"], reporter_phone="12345")).get_data(as_text=True)
    assert "不是有效的电话号码" in body
    body = client.post("/appealview/add", data=_form(world["a1"], channel="")).get_data(as_text=True)
    assert page.status_code == 200
    assert _count(Appeal) == 0 and _count(AppealCounter) == 0
    assert client.post("/appealview/add", data=_form(world["a1"], reporter_id_number=_valid_id())).status_code == 302
    assert db.session.scalar(select(Appeal.reporter_id_number)) == _valid_id()


def test_id_number_rules():
    from app.services.validators import normalize_id_number

    assert normalize_id_number(" 11010519491231002x ") == "11010519491231002X"  # the GB 11643 example
    for bad, words in [("1101051949123100", "18"), ("110105194913310021", "出生日期"),
                       ("110105194912310021", "校验位")]:  # fmt: skip
        with pytest.raises(DomainError) as err:
            normalize_id_number(bad)
        assert words in str(err.value) or "18" in str(err.value)


def test_the_form_can_be_opened_prefilled(client, world):
    login(client, make_user("GridWorker", world["a1"]))
    url = (f"/appealview/add?reporter_name=赵大娘&reporter_address=甲一村5号&grid={world['a1'].id}"
           f"&channel={lookup(AppealChannel, '入户走访').id}")  # fmt: skip
    page = client.get(url).get_data(as_text=True)
    assert 'value="赵大娘"' in page and 'value="甲一村5号"' in page and "甲一村" in page
    # a grid outside the user's jurisdiction is not prefilled
    page = client.get(f"/appealview/add?grid={world['b1'].id}").get_data(as_text=True)
    assert "乙一村" not in page
    # a made-up source is ignored, not linked
    response = client.post("/appealview/add", data=_form(world["a1"], from_visit="42"))
    assert response.status_code == 302
    appeal = db.session.scalar(select(Appeal))
    assert appeal.visit_id is None


# --- refused steps in the page -------------------------------------------------------


def test_a_refused_step_says_why_in_chinese_and_changes_nothing(client, world):
    appeal = make_appeal(world["a1"], at=AT)
    login(client, make_user("Leader", world["ta"]))
    client.post(f"/appealview/act/{appeal.id}/assign", data={"handler_unit": "x"})
    page = client.get(f"/appealview/show/{appeal.id}").get_data(as_text=True)
    assert "您的角色无权对诉求进行“交办”操作" in page
    login(client, make_user("Clerk", world["ta"]))
    client.post(f"/appealview/act/{appeal.id}/archive", data={})
    page = client.get(f"/appealview/show/{appeal.id}").get_data(as_text=True)
    assert "诉求须评议后才能归档" in page
    client.post(f"/appealview/act/{appeal.id}/resolve_on_spot", data={"reply": ""})
    page = client.get(f"/appealview/show/{appeal.id}").get_data(as_text=True)
    assert "请填写给反映人的答复" in page
    db.session.expire_all()
    assert db.session.get(Appeal, appeal.id).status == "registered"
    assert _count(AppealEvent) == 1
    assert client.post(f"/appealview/act/{appeal.id}/fly", data={}).status_code == 404


def test_leaders_supervise_and_decide_extensions_but_do_not_edit(client, world):
    appeal = make_appeal(world["a1"], status="in_progress", at="2026-11-03 09:00")
    leader = make_user("Leader", world["ta"])
    login(client, leader)
    page = client.get(f"/appealview/show/{appeal.id}").get_data(as_text=True)
    assert 'data-mq-action="supervise"' in page and 'data-mq-action="feedback"' not in page
    assert client.get("/appealview/add").status_code in (302, 403)
    assert client.get(f"/appealview/edit/{appeal.id}").status_code in (302, 403)
    client.post(f"/appealview/act/{appeal.id}/supervise", data={"note": "三日内办结"})
    db.session.expire_all()
    assert db.session.get(Appeal, appeal.id).supervised is True


def test_village_worker_escalates_and_the_case_leaves_their_sight(client, world):
    appeal = make_appeal(world["a1"], at=AT)
    worker = make_user("GridWorker", world["a1"])
    login(client, worker)
    response = client.post(f"/appealview/act/{appeal.id}/escalate", data={"note": "涉及土地权属"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/appealview/list/")
    assert client.get(f"/appealview/show/{appeal.id}").status_code == 404
    login(client, make_user("Clerk", world["ta"]))
    page = client.get(f"/appealview/show/{appeal.id}").get_data(as_text=True)
    assert "已上报" in page and "由甲一村上报至甲镇" in page and "涉及土地权属" in page


# --- scope -------------------------------------------------------------------------------


ACTION_INPUT = {
    "assign": {"handler_unit": "x"}, "start": {}, "resolve_on_spot": {"reply": "x"}, "escalate": {"note": "x"},
    "extend": {"until": "2026-12-30", "reason": "x", "progress": "x"}, "approve_extension": {"approve": True},
    "feedback": {"reply": "x"}, "evaluate": {"result": "satisfied"}, "archive": {}, "supervise": {"note": "x"},
    "reassign": {"handler_unit": "x", "note": "x"}, "duplicate": {"original": "x"},
}  # fmt: skip


@pytest.mark.parametrize("role", ["Clerk", "GridWorker", "Leader"])
def test_another_grids_appeal_is_invisible_and_untouchable(client, world, role):
    mine = make_appeal(world["a1"], at=AT, reporter_name="甲村群众")
    theirs = make_appeal(world["b1"], status="in_progress", at=AT, reporter_name="乙村群众")
    user = make_user(role, world["ta"])
    login(client, user)
    listing = client.get("/appealview/list/?psize_AppealView=100").get_data(as_text=True)
    assert "甲村群众" in listing and "乙村群众" not in listing
    for url in (
        f"/appealview/show/{theirs.id}",
        f"/appealview/edit/{theirs.id}",
        f"/appealview/print/{theirs.id}/register",
        f"/appealview/print/{theirs.id}/feedback",
        f"/appealview/print/{theirs.id}/review",
    ):
        expected = (403, 404) if role == "Leader" and "/edit/" in url else (404,)  # leaders may not edit at all
        assert client.get(url).status_code in expected, url
    for action, data in ACTION_INPUT.items():
        assert client.post(f"/appealview/act/{theirs.id}/{action}", data=data).status_code == 404, action
    headers = api_token(client, user)
    assert client.get(f"/api/v1/appeal/{theirs.id}", headers=headers).status_code == 404
    assert client.get(f"/api/v1/appeal/{theirs.id}/timeline", headers=headers).status_code == 404
    for action, data in ACTION_INPUT.items():
        response = client.post(f"/api/v1/appeal/{theirs.id}/{action}", json=data, headers=headers)
        assert response.status_code == 404, action
    if role != "Leader":
        assert client.put(f"/api/v1/appeal/{theirs.id}", json={"reporter_phone": "13900000000"},
                          headers=headers).status_code == 404  # fmt: skip
    listing = client.get("/api/v1/appeal/?q=(page_size:100)", headers=headers).json
    assert mine.id in listing["ids"] and theirs.id not in listing["ids"]
    db.session.expire_all()
    again = db.session.get(Appeal, theirs.id)
    assert again.status == "in_progress" and not again.supervised and again.reporter_phone == "13800000000"
    assert _count(AppealEvent, AppealEvent.appeal_id == theirs.id) == 3


def test_nothing_can_point_into_another_grid(client, world):
    login(client, make_user("Clerk", world["ta"]))
    body = client.post("/appealview/add", data=_form(world["b1"])).get_data(as_text=True)
    assert "所选记录不存在或不在您的管辖范围内" in body
    assert _count(Appeal) == 0
    mine = make_appeal(world["a1"], at=AT)
    theirs = make_appeal(world["b1"], at=AT)
    client.post(f"/appealview/act/{mine.id}/assign", data={"handler_person": str(world["pb"].id)})
    client.post(f"/appealview/act/{mine.id}/duplicate", data={"original": theirs.number})
    db.session.expire_all()
    mine = db.session.get(Appeal, mine.id)
    assert mine.status == "registered" and mine.handler_person_id is None and mine.duplicate_of_id is None
    headers = api_token(client, make_user("Clerk", world["ta"]))
    response = client.post(f"/api/v1/appeal/{mine.id}/assign", json={"handler_person": world["pb"].id},
                           headers=headers)  # fmt: skip
    assert response.status_code == 404 and response.json["message"]
    response = client.post("/api/v1/appeal/", json={**_api_body(world["b1"])}, headers=headers)
    assert response.status_code == 404
    assert _count(Appeal) == 2


# --- REST API ----------------------------------------------------------------------------


def _api_body(grid, **kw):
    body = {
        "reporter_name": "王大姐",
        "reporter_phone": "0371-66668888",
        "content": "小区门口积水严重",
        "channel": lookup(AppealChannel, "来电").id,
        "category": lookup(AppealCategory, "基础设施").id,
        "importance": "important",
        "grid": grid.id,
    }
    body.update(kw)
    return body


def test_api_registers_and_runs_the_workflow(client, world):
    clerk = make_user("Clerk", world["ta"])
    headers = api_token(client, clerk)
    with clock.frozen(AT):
        created = client.post("/api/v1/appeal/", json=_api_body(world["a1"]), headers=headers)
    assert created.status_code == 201, created.json
    body = created.json
    assert body["number"] == "202611001" and body["status"] == "registered" and body["due_date"] == "2026-12-03"
    pk = body["id"]
    with clock.frozen("2026-11-04 09:00"):
        step = client.post(f"/api/v1/appeal/{pk}/assign", json={"handler_person": world["pa"].id}, headers=headers)
    assert step.status_code == 200, step.json
    assert step.json["status"] == "assigned" and step.json["event"]["action"] == "assign"
    assert step.json["event"]["handler"] == "甲村干部"
    # state, role, input and unknown action
    wrong_state = client.post(f"/api/v1/appeal/{pk}/resolve_on_spot", json={"reply": "x"}, headers=headers)
    assert wrong_state.status_code == 400 and "不能进行“当场解决”操作" in wrong_state.json["message"]
    wrong_role = client.post(f"/api/v1/appeal/{pk}/supervise", json={"note": "x"}, headers=headers)
    assert wrong_role.status_code == 403 and "您的角色无权" in wrong_role.json["message"]
    no_reply = client.post(f"/api/v1/appeal/{pk}/feedback", json={}, headers=headers)
    assert no_reply.status_code == 422 and no_reply.json["field"] == "reply"
    assert client.post(f"/api/v1/appeal/{pk}/fly", json={}, headers=headers).status_code == 404
    assert client.post(f"/api/v1/appeal/{pk}/start", data="x", headers=headers).status_code == 400
    leader = api_token(client, make_user("Leader", world["ta"]))
    with clock.frozen("2026-11-04 12:00"):
        assert client.post(f"/api/v1/appeal/{pk}/supervise", json={"note": "加快"}, headers=leader).status_code == 200
    with clock.frozen("2026-11-05 09:00"):
        assert (
            client.post(f"/api/v1/appeal/{pk}/feedback", json={"reply": "已疏通"}, headers=headers).status_code == 200
        )
    got = client.get(f"/api/v1/appeal/{pk}", headers=headers).json["result"]
    assert got["status"] == "answered" and got["supervised"] is True and got["feedback"] == "已疏通"
    assert got["handler"] == {"person_id": world["pa"].id, "person": "甲村干部", "unit": None}
    assert got["registered_in"]["name"] == "甲一村"
    timeline = client.get(f"/api/v1/appeal/{pk}/timeline", headers=headers).json["result"]
    assert [e["action"] for e in timeline] == ["register", "assign", "supervise", "feedback"]
    assert client.delete(f"/api/v1/appeal/{pk}", headers=headers).status_code in (404, 405)
    assert db.session.get(Appeal, pk) is not None


def test_api_refuses_bad_registrations_in_chinese(client, world):
    headers = api_token(client, make_user("Clerk", world["ta"]))
    bad_id = client.post("/api/v1/appeal/", json=_api_body(world["a1"], reporter_id_number="110105194912310021"),
                         headers=headers)  # fmt: skip
    assert bad_id.status_code == 422 and bad_id.json["field"] == "reporter_id_number"
    assert "校验位" in bad_id.json["message"]
    no_content = client.post("/api/v1/appeal/", json=_api_body(world["a1"], content=" "), headers=headers)
    assert no_content.status_code == 422 and no_content.json["field"] == "content"
    bad_importance = client.post("/api/v1/appeal/", json=_api_body(world["a1"], importance="urgent"), headers=headers)
    assert bad_importance.status_code == 422
    leader = api_token(client, make_user("Leader", world["ta"]))
    assert client.post("/api/v1/appeal/", json=_api_body(world["a1"]), headers=leader).status_code == 403
    assert _count(Appeal) == 0 and _count(AppealCounter) == 0


def test_api_filters_overdue_appeals(client, world):
    late = make_appeal(world["a1"], status="in_progress", at="2026-10-01 09:00")
    fresh = make_appeal(world["a1"], status="in_progress", at="2026-11-20 09:00")
    headers = api_token(client, make_user("Clerk", world["ta"]))
    with clock.frozen("2026-11-22 09:00"):
        listing = client.get("/api/v1/appeal/?q=(filters:!((col:due_date,opr:overdue,value:1)))", headers=headers)
    assert listing.status_code == 200, listing.json
    assert listing.json["ids"] == [late.id]
    assert fresh.id not in listing.json["ids"]
    assert listing.json["result"][0]["due_state"] == "overdue"


# --- corrections -----------------------------------------------------------------------------


def test_before_assignment_the_whole_registration_can_be_edited(client, world):
    appeal = make_appeal(world["a1"], at=AT)
    login(client, make_user("Clerk", world["ta"]))
    page = client.get(f"/appealview/edit/{appeal.id}").get_data(as_text=True)
    assert "民情民意事项" in page
    data = _form(world["a2"], content="路灯坏了（更正：是甲二村）", importance="important")
    data["row_version"] = str(appeal.version)
    with clock.frozen("2026-11-03 10:00"):
        assert client.post(f"/appealview/edit/{appeal.id}", data=data).status_code == 302
    db.session.expire_all()
    appeal = db.session.get(Appeal, appeal.id)
    assert appeal.grid_id == world["a2"].id and appeal.origin_grid_id == world["a2"].id
    assert appeal.due_date == dt.date(2026, 12, 3)
    edit = db.session.scalar(select(AppealEvent).where(AppealEvent.action == "edit"))
    assert edit.data["grid"] == ["甲一村", "甲二村"] and edit.data["importance"] == ["general", "important"]


def test_after_assignment_only_contact_details_and_category_can_be_corrected(client, world):
    appeal = make_appeal(world["a1"], status="assigned", at=AT)
    clerk = make_user("Clerk", world["ta"])
    login(client, clerk)
    page = client.get(f"/appealview/edit/{appeal.id}").get_data(as_text=True)
    assert "更正原因" in page and "民情民意事项" not in page
    response = client.post(
        f"/appealview/edit/{appeal.id}",
        data={"reporter_phone": "13912345678", "reporter_address": "甲一村8号", "reporter_unit": "",
              "reporter_id_number": "", "category": str(appeal.category_id), "note": "电话登记错误"},
    )  # fmt: skip
    assert response.status_code == 302
    db.session.expire_all()
    appeal = db.session.get(Appeal, appeal.id)
    assert appeal.reporter_phone == "13912345678" and appeal.status == "assigned"
    edit = db.session.scalar(select(AppealEvent).where(AppealEvent.action == "edit"))
    assert edit.note == "电话登记错误" and edit.data["reporter_phone"] == ["13800000000", "13912345678"]
    # the API applies the same rule
    headers = api_token(client, clerk)
    version = appeal.version
    locked = client.put(
        f"/api/v1/appeal/{appeal.id}", json={"content": "改写诉求", "version": version}, headers=headers
    )
    assert locked.status_code == 422 and "不能修改：民情民意事项" in locked.json["message"]
    ok = client.put(
        f"/api/v1/appeal/{appeal.id}", json={"reporter_unit": "县一中", "version": version}, headers=headers
    )
    assert ok.status_code == 200
    db.session.expire_all()
    assert db.session.get(Appeal, appeal.id).content == "反映村道路灯损坏，夜间出行不便。"


def test_an_archived_appeal_cannot_be_changed(client, world):
    appeal = make_appeal(world["a1"], status="archived", at=AT)
    clerk = make_user("Clerk", world["ta"])
    login(client, clerk)
    response = client.get(f"/appealview/edit/{appeal.id}")
    assert response.status_code == 302
    assert "已归档的诉求不能再修改" in client.get(f"/appealview/show/{appeal.id}").get_data(as_text=True)
    headers = api_token(client, clerk)
    response = client.put(
        f"/api/v1/appeal/{appeal.id}", json={"reporter_unit": "x", "version": appeal.version}, headers=headers
    )
    assert response.status_code == 400


# --- lists ---------------------------------------------------------------------------------------


def test_list_marks_filters_and_counts_deadlines(client, world):
    overdue = make_appeal(world["a1"], status="in_progress", at="2026-11-01 09:00", reporter_name="超期者")
    soon = make_appeal(world["a1"], status="assigned", at="2026-11-14 09:00", reporter_name="将到期者")
    calm = make_appeal(world["a1"], status="registered", at="2026-11-19 09:00", reporter_name="从容者")
    done = make_appeal(world["a1"], status="archived", at="2026-10-01 09:00", reporter_name="办结者")
    login(client, make_user("Clerk", world["ta"]))
    with clock.frozen("2026-11-20 09:00"):
        page = client.get("/appealview/list/").get_data(as_text=True)
        assert re.search(r'class="mq-overdue"[^>]*>2026-11-08', page)
        assert re.search(r'class="mq-due-soon"[^>]*>2026-11-21', page)
        assert 'data-mq-count="overdue">1<' in page and 'data-mq-count="due_soon">1<' in page
        only_overdue = client.get("/appealview/list/?due=overdue").get_data(as_text=True)
        soon_page = client.get("/appealview/list/?due=soon").get_data(as_text=True)
        registered = client.get("/appealview/list/?status=registered").get_data(as_text=True)
    assert "超期者" in only_overdue and "将到期者" not in only_overdue and "办结者" not in only_overdue
    assert "将到期者" in soon_page and "超期者" not in soon_page
    assert "从容者" in registered and "超期者" not in registered
    assert all(a.id for a in (overdue, soon, calm, done))
    category = lookup(AppealCategory)
    assert "从容者" in client.get(f"/appealview/list/?_flt_0_category={category.id}").get_data(as_text=True)
    # the Chinese labels of the list
    for words in ("登记编号", "反映人", "类别", "重要程度", "状态", "网格", "办理期限", "承办", "已归档", "办理中"):
        assert words in page, words


def test_list_loads_what_it_shows_in_a_fixed_number_of_queries(client, world):
    login(client, make_user("Clerk", world["ta"]))

    def queries():
        with statements_seen() as seen:
            assert client.get("/appealview/list/?psize_AppealView=50").status_code == 200
        return len(seen)

    for _ in range(3):
        make_appeal(world["a1"], status="assigned", at=AT, handler_person=None)
    queries()  # the process works out the scope's grids once (app.services.scope), then keeps them
    db.session.commit()  # (as below: the user is loaded again after a commit)
    few = queries()
    for status in ("registered", "assigned", "in_progress", "answered", "archived") * 4:
        make_appeal(world["a1a"], status=status, at=AT)
    with clock.frozen(AT):
        svc.perform(db.session, svc.system_actor(), db.session.scalar(select(Appeal).limit(1)), "reassign",
                    {"handler_person": world["pa"].id, "note": "换人"})  # fmt: skip
        db.session.commit()
    assert queries() == few


# --- print forms -----------------------------------------------------------------------------------


def test_print_forms_replace_the_paper(client, world):
    appeal = make_appeal(world["a1"], status="evaluated", at=AT, reporter_id_number=_valid_id())
    login(client, make_user("Clerk", world["ta"]))
    forms = {
        "register": ("民情民意收集登记表", "填表人", "登记编号", "年份+月份+登记编号"),
        "feedback": ("民情民意办理情况反馈意见表", "经办人", "办理情况", "反映人（签字）"),
        "review": ("监督评议情况登记表", "评议结果", "☑ 满意", "三个等次"),
    }
    for form, words in forms.items():
        page = client.get(f"/appealview/print/{appeal.id}/{form}")
        assert page.status_code == 200
        body = page.get_data(as_text=True)
        assert appeal.number in body and "print.css" in body
        for word in words:
            assert word in body, (form, word)
    assert _valid_id() in client.get(f"/appealview/print/{appeal.id}/register").get_data(as_text=True)
    assert client.get(f"/appealview/print/{appeal.id}/other").status_code == 404
    login(client, make_user("Leader", world["ta"]))
    body = client.get(f"/appealview/print/{appeal.id}/register").get_data(as_text=True)
    assert _valid_id() not in body and _valid_id()[:4] + "*" * 10 + _valid_id()[-4:] in body


# --- reminders -------------------------------------------------------------------------------------


def test_remind_lists_per_handler_and_mails_when_configured(app, world, monkeypatch):
    handler_user = make_user("GridWorker", world["a1"], username="wanggrid")
    handler = db.session.scalar(select(Person).where(Person.user_id == handler_user.id))
    late = make_appeal(world["a1"], status="registered", at="2026-11-01 09:00", reporter_name="迟到者")
    with clock.frozen("2026-11-01 10:00"):
        svc.perform(db.session, svc.system_actor(), late, "assign", {"handler_person": handler.id})
        db.session.commit()
    make_appeal(world["a1"], status="in_progress", at="2026-11-14 09:00", reporter_name="快到期者")  # unit 民政所
    make_appeal(world["a2"], status="registered", at="2026-11-02 09:00", reporter_name="无人管者")
    make_appeal(world["a1"], status="archived", at="2026-10-01 09:00")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["minqing", "remind", "--date", "2026-11-20"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "超期 2 件，即将到期 1 件" in out
    assert f"== {handler.name} <wanggrid@test.local> ==" in out and "超期 12 天" in out
    assert "== 民政所 ==" in out and "1 天后到期" in out
    assert "== 未交办：甲二村 ==" in out
    sent = []

    class FakeSMTP:
        def __init__(self, host, port, timeout=None):
            sent.append(("connect", host, port))

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def starttls(self):
            sent.append(("tls",))

        def login(self, user, password):
            sent.append(("login", user))

        def send_message(self, message):
            sent.append(("mail", message["To"], message["Subject"], message.get_content()))

    monkeypatch.setattr("smtplib.SMTP", FakeSMTP)
    app.config.update(MAIL_SERVER="smtp.example.gov.cn", MAIL_PORT=587, MAIL_USE_TLS=True, MAIL_USERNAME="mq",
                      APPEAL_REMIND_SUMMARY_TO=["zongzhiban@example.gov.cn"])  # fmt: skip
    try:
        result = runner.invoke(args=["minqing", "remind", "--date", "2026-11-20"])
    finally:
        app.config.update(MAIL_SERVER="", MAIL_PORT=25, MAIL_USE_TLS=False, MAIL_USERNAME="",
                          APPEAL_REMIND_SUMMARY_TO=[])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert ("connect", "smtp.example.gov.cn", 587) in sent and ("tls",) in sent and ("login", "mq") in sent
    mails = [s for s in sent if s[0] == "mail"]
    assert [m[1] for m in mails] == ["wanggrid@test.local", "zongzhiban@example.gov.cn"]
    assert "迟到者" in mails[0][3] and "无人管者" not in mails[0][3]
    assert "无人管者" in mails[1][3] and "超期 1 件" in mails[0][2]
    assert "Mails sent: 2" in result.output


# --- demo data -------------------------------------------------------------------------------------


def test_action_forms_carry_a_csrf_token(app, client, world):
    appeal = make_appeal(world["a1"], at=AT)
    login(client, make_user("Clerk", world["ta"]))
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        page = client.get(f"/appealview/show/{appeal.id}").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        client.post(f"/appealview/act/{appeal.id}/start", data={})  # no token: refused
        refused = client.post(f"/appealview/act/{appeal.id}/resolve_on_spot", data={"reply": "当场答复"})
        assert refused.status_code in (302, 400)  # the form's own check, or an app-wide CSRFProtect
        db.session.expire_all()
        assert db.session.get(Appeal, appeal.id).status == "registered"
        client.post(f"/appealview/act/{appeal.id}/resolve_on_spot", data={"reply": "当场答复", "csrf_token": token})
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    db.session.expire_all()
    assert db.session.get(Appeal, appeal.id).status == "answered"


def test_representatives_have_no_access_to_appeals(client, world):
    appeal = make_appeal(world["a1"], at=AT)
    rep = make_user("Representative", world["ta"])
    login(client, rep)
    assert client.get("/appealview/list/").status_code in (302, 403)
    assert client.get(f"/appealview/show/{appeal.id}").status_code in (302, 403)
    assert client.post(f"/appealview/act/{appeal.id}/evaluate", data={"result": "satisfied"}).status_code in (302, 403)
    headers = api_token(client, rep)
    assert client.get("/api/v1/appeal/", headers=headers).status_code == 403
    assert client.post(f"/api/v1/appeal/{appeal.id}/evaluate", json={"result": "satisfied"},
                       headers=headers).status_code == 403  # fmt: skip
    db.session.expire_all()
    assert db.session.get(Appeal, appeal.id).status == "registered"


@pytest.mark.commits  # db.engine.begin(): another connection writes meanwhile
def test_a_step_on_a_stale_copy_answers_409(client, world, monkeypatch):
    appeal = make_appeal(world["a1"], status="in_progress", at=AT)
    headers = api_token(client, make_user("Clerk", world["ta"]))
    real = svc.check_action

    def meanwhile(session, actor, target, action):
        result = real(session, actor, target, action)
        with db.engine.begin() as conn:  # someone else saves the appeal right now
            conn.execute(Appeal.__table__.update().where(Appeal.id == target.id).values(version=Appeal.version + 1))
        return result

    monkeypatch.setattr(steps, "check_action", meanwhile)  # where perform looks it up
    response = client.post(f"/api/v1/appeal/{appeal.id}/feedback", json={"reply": "已办"}, headers=headers)
    assert response.status_code == 409 and "刚被其他人修改" in response.json["message"]
    monkeypatch.undo()
    db.session.expire_all()
    assert db.session.get(Appeal, appeal.id).status == "in_progress"
