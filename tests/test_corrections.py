"""Issue 16, the corrections a leader sees: the collected figure's name, the grid platform's
three rates, the quota table's two columns, calendar-month deadlines, archiving after feedback,
the seeded lists, the visit log's names, 访办一体 and the petition flags — each on a
hand-computed case."""

import datetime as dt
import importlib.util
import pathlib
import re

import pytest
from sqlalchemy import func, select, text, update

from app.core import clock
from app.core.errors import DomainError
from app.extensions import db
from app.models.appeals import Appeal
from app.models.lookups import AppealCategory, AppealChannel, PersonKind, VisitTarget
from app.services import appeals as svc
from app.services import settings, stats
from app.services.appeals.workflow import NotAllowedNow
from app.services.lookups import seed_lookups
from tests.conftest import api_token, login
from tests.factories import (
    lookup,
    make_appeal,
    make_contact,
    make_person,
    make_representative,
    make_user,
    make_visit,
)
from tests.test_appeals import _form as appeal_form

ON = dt.date(2026, 11, 20)
NOVEMBER = "start=2026-11-01&end=2026-11-30"


# --- 4. "一个月" is a calendar month -------------------------------------------------------


@pytest.mark.parametrize(
    "registered, due",
    [
        ("2026-01-31 09:00", dt.date(2026, 2, 28)),  # the end of a short February
        ("2028-01-31 09:00", dt.date(2028, 2, 29)),  # a leap year
        ("2026-03-31 09:00", dt.date(2026, 4, 30)),  # a 30-day month
        ("2026-12-31 09:00", dt.date(2027, 1, 31)),  # across the year
        ("2026-02-28 09:00", dt.date(2026, 3, 28)),  # 28 days, not 30
        ("2026-07-15 09:00", dt.date(2026, 8, 15)),  # 31 days, not 30
    ],
)
def test_an_important_appeal_is_due_a_calendar_month_later(world, registered, due):
    appeal = make_appeal(world["a1"], at=registered, importance="important")
    assert appeal.due_date == due


def test_general_appeals_keep_seven_days_and_the_month_count_is_a_setting(app, world):
    general = make_appeal(world["a1"], at="2026-01-28 09:00")
    assert general.due_date == dt.date(2026, 2, 4)  # one week across the month's end
    app.config["APPEAL_MONTHS_IMPORTANT"] = 2
    try:
        later = make_appeal(world["a1"], at="2026-12-31 09:00", importance="important")
    finally:
        app.config["APPEAL_MONTHS_IMPORTANT"] = 1
    assert later.due_date == dt.date(2027, 2, 28)


# --- 5. archive after feedback: a setting -------------------------------------------------


def test_by_default_archiving_waits_for_the_evaluation(world):
    appeal = make_appeal(world["a1"], status="answered", at="2026-11-03 09:00")
    with pytest.raises(NotAllowedNow, match="评议|evaluation"):
        svc.perform(db.session, svc.system_actor(), appeal, "archive", {})
    db.session.rollback()
    assert "archive" not in svc.allowed_actions(db.session, svc.system_actor(), appeal)


def test_without_required_evaluation_feedback_goes_straight_to_the_archive(app, client, world):
    app.config["APPEAL_EVALUATION_REQUIRED"] = False
    try:
        answered = make_appeal(world["a1"], status="answered", at="2026-11-03 09:00")
        evaluated = make_appeal(world["a1"], status="evaluated", at="2026-11-03 09:00")
        in_progress = make_appeal(world["a1"], status="in_progress", at="2026-11-03 09:00")
        clerk = make_user("Clerk", world["ta"])
        login(client, clerk)
        page = client.get(f"/appealview/show/{answered.id}").get_data(as_text=True)
        assert 'data-mq-action="archive"' in page
        client.post(f"/appealview/act/{answered.id}/archive", data={})
        for appeal in (evaluated,):
            svc.perform(db.session, svc.system_actor(), appeal, "archive", {})
        db.session.commit()
        with pytest.raises(NotAllowedNow, match="反馈|reply"):
            svc.perform(db.session, svc.system_actor(), in_progress, "archive", {})
        db.session.rollback()
    finally:
        app.config["APPEAL_EVALUATION_REQUIRED"] = True
    db.session.expire_all()
    assert db.session.get(Appeal, answered.id).status == "archived"
    assert db.session.get(Appeal, answered.id).satisfaction is None
    assert db.session.get(Appeal, evaluated.id).status == "archived"
    assert db.session.get(Appeal, in_progress.id).status == "in_progress"


def test_the_setting_is_on_the_settings_page(app, client):
    spec = settings.SPECS["APPEAL_EVALUATION_REQUIRED"]
    assert spec.kind == settings.BOOL and settings.default_of("APPEAL_EVALUATION_REQUIRED") is True
    admin = make_user("Admin")
    login(client, admin)
    assert "评议后才能归档" in client.get("/settings/").get_data(as_text=True)


# --- 6. seeded lists ----------------------------------------------------------------------


def _names(model):
    return list(db.session.scalars(select(model.name)))


def test_the_seeds_lists_are_seeded_once(app):
    categories = _names(AppealCategory)
    for name in ("非法生产", "非法经营", "非法建设", "安全生产", "信访稳定", "基层组织建设"):
        assert categories.count(name) == 1, name
    kinds = _names(PersonKind)
    for name in ("楼院长", "联户代表", "协管员", "党代表", "人大代表"):
        assert kinds.count(name) == 1, name
    targets = _names(VisitTarget)
    for name in ("农户", "住户", "商户"):
        assert targets.count(name) == 1, name
    before = {m: db.session.scalar(select(func.count()).select_from(m)) for m in (AppealCategory, PersonKind)}
    seed_lookups(db.session)  # init twice changes nothing
    seed_lookups(db.session)
    assert {m: db.session.scalar(select(func.count()).select_from(m)) for m in before} == before


def test_an_existing_deployment_gets_the_new_values_through_the_same_seeding(app):
    # a deployment seeded before: it lacks the new values and renamed one of its own
    for name in ("非法建设", "安全生产"):
        db.session.delete(db.session.scalar(select(AppealCategory).where(AppealCategory.name == name)))
    db.session.delete(db.session.scalar(select(VisitTarget).where(VisitTarget.name == "商户")))
    db.session.scalar(select(AppealCategory).where(AppealCategory.name == "土地")).name = "土地纠纷"
    db.session.flush()
    seed_lookups(db.session)
    categories = _names(AppealCategory)
    assert categories.count("非法建设") == 1 and categories.count("安全生产") == 1
    assert _names(VisitTarget).count("商户") == 1
    # seeding adds what is missing by name: the administrator's renamed entry stays, the seed name returns
    assert "土地纠纷" in categories


# --- 7. the visit log is 民情日记 / 民情家访日志 ------------------------------------------------


def test_the_visit_log_is_named_as_the_seeds_name_it(client, world):
    login(client, make_user("Clerk", world["ta"]))
    page = client.get("/visitview/list/").get_data(as_text=True)
    assert "民情日记" in page  # the menu
    assert "民情家访日志" in page  # the list's title
    assert "走访日志" not in page.replace("民情家访日志", "")


# --- 8. 访办一体: who received it handles it -------------------------------------------------


def test_an_appeal_raised_from_a_visit_goes_to_the_visitor_unless_changed(client, world):
    visitor = world["pa"]
    visit = make_visit(world["a1"], [visitor], visit_date=dt.date(2026, 11, 2))
    raised = make_appeal(world["a1"], at="2026-11-03 09:00", visit=visit)
    other = make_appeal(world["a1"], at="2026-11-03 09:00", visit=visit)
    plain = make_appeal(world["a1"], at="2026-11-03 09:00")
    assert svc.default_handler(raised) == visitor and svc.default_handler(plain) is None
    clerk = make_user("Clerk", world["ta"])
    login(client, clerk)
    page = client.get(f"/appealview/show/{raised.id}").get_data(as_text=True)
    assert f'<option value="{visitor.id}" selected>{visitor.name}</option>' in page
    assert "访办一体" in page
    # the form sent as proposed; the other one changed to someone else
    someone = make_person(world["a1"], name="另一干部")
    client.post(f"/appealview/act/{raised.id}/assign", data={"handler_person": str(visitor.id)})
    client.post(f"/appealview/act/{other.id}/assign", data={"handler_person": str(someone.id)})
    # the API: no handler named → the visitor
    headers = api_token(client, clerk)
    third = make_appeal(world["a1"], at="2026-11-03 09:00", visit=visit)
    assert client.post(f"/api/v1/appeal/{third.id}/assign", json={}, headers=headers).status_code == 200
    no_source = client.post(f"/api/v1/appeal/{plain.id}/assign", json={}, headers=headers)
    assert no_source.status_code == 422 and no_source.json["field"] == "handler_person"
    db.session.expire_all()
    assert db.session.get(Appeal, raised.id).handler_person_id == visitor.id
    assert db.session.get(Appeal, other.id).handler_person_id == someone.id
    assert db.session.get(Appeal, third.id).handler_person_id == visitor.id


def test_an_appeal_passed_on_by_a_representative_goes_to_the_representative(world):
    rep = make_representative(grid=world["a1"], name="王代表")
    record = make_contact(rep, contact_date=dt.date(2026, 11, 2))
    appeal = make_appeal(world["a1"], at="2026-11-03 09:00", contact_record=record)
    assert svc.default_handler(appeal) == rep.person
    svc.perform(db.session, svc.system_actor(), appeal, "assign", {})
    db.session.commit()
    assert appeal.handler_person == rep.person and appeal.status == "assigned"
    # a unit alone keeps the person empty: the default is only for "nobody named"
    second = make_appeal(world["a1"], at="2026-11-03 09:00", contact_record=record)
    svc.perform(db.session, svc.system_actor(), second, "assign", {"handler_unit": "镇民政所"})
    db.session.commit()
    assert second.handler_person is None and second.handler_unit == "镇民政所"


# --- 9. petition flags ----------------------------------------------------------------------


def _form(grid, **kw):
    """The appeal form of tests/test_appeals.py, as a collective petition about land."""
    petition = {
        "reporter_phone": "13812345678",
        "content": "十二户村民反映征地补偿未到位。",
        "channel": str(lookup(AppealChannel, "定点接待").id),
        "category": str(lookup(AppealCategory, "征地拆迁").id),
        "importance": "important",
    }
    return appeal_form(grid, **{**petition, **kw})


def test_petition_flags_on_the_form_the_api_and_the_list(client, world):
    clerk = make_user("Clerk", world["ta"])
    login(client, clerk)
    form = client.get("/appealview/add").get_data(as_text=True)
    for label in ("集体访", "人数", "越级访", "重复访", "苗头性"):
        assert label in form
    refused = client.post("/appealview/add", data=_form(world["a1"], petition_collective="y"))
    assert "请填写集体访的人数" in refused.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Appeal.id))) == 0
    with clock.frozen("2026-11-03 09:00"):
        client.post("/appealview/add", data=_form(world["a1"], petition_collective="y", petition_people="12",
                                                  petition_bypass="y"))  # fmt: skip
    page_made = db.session.scalar(select(Appeal))
    assert (page_made.petition_collective, page_made.petition_people, page_made.petition_bypass) == (True, 12, True)
    assert not page_made.petition_repeat and not page_made.petition_warning
    show = client.get(f"/appealview/show/{page_made.id}").get_data(as_text=True)
    assert "集体访（12人）" in show and "越级访" in show
    headers = api_token(client, clerk)
    body = {
        "reporter_name": "赵某", "content": "又一次反映宅基地纠纷。", "channel": lookup(AppealChannel, "来电").id,
        "category": lookup(AppealCategory, "土地").id, "grid": world["a1"].id,
        "petition_repeat": True, "petition_warning": True,
    }  # fmt: skip
    with clock.frozen("2026-11-04 09:00"):
        created = client.post("/api/v1/appeal/", json=body, headers=headers)
    assert created.status_code == 201, created.json
    api_made = db.session.get(Appeal, created.json["id"])
    assert api_made.petition_repeat and api_made.petition_warning and not api_made.petition_collective
    bad = client.post("/api/v1/appeal/", json={**body, "petition_collective": True, "petition_people": 1},
                      headers=headers)  # fmt: skip
    assert bad.status_code == 422 and bad.json["field"] == "petition_people"
    shown = client.get(f"/api/v1/appeal/{api_made.id}", headers=headers).json["result"]
    assert shown["petition_repeat"] is True and shown["petition_collective"] is False
    # filterable: the API and the list page
    q = "(filters:!((col:petition_collective,opr:eq,value:!t)))"
    listing = client.get(f"/api/v1/appeal/?q={q}", headers=headers).json
    assert listing["ids"] == [page_made.id]
    page = client.get("/appealview/list/?_flt_0_petition_repeat=y").get_data(as_text=True)
    assert api_made.number in page and page_made.number not in page


def test_the_dashboard_counts_the_flags_and_names_its_figures_as_the_seeds(client, world):
    ta, a1, a2 = world["ta"], world["a1"], world["a2"]
    make_appeal(a1, at="2026-11-03 09:00", petition_collective=True, petition_people=30, petition_bypass=True)
    make_appeal(a1, at="2026-11-04 09:00", petition_collective=True, petition_people=6)
    make_appeal(a2, at="2026-11-05 09:00", petition_repeat=True)
    make_appeal(a2, at="2026-11-06 09:00")
    make_appeal(a2, at="2026-10-06 09:00", petition_warning=True)  # October: not in November's figures
    leader = make_user("Leader", ta)
    login(client, leader)
    with clock.frozen(ON):
        html = client.get(f"/dashboard/?{NOVEMBER}").get_data(as_text=True)
    counts = dict(re.findall(r'data-mq-petition="(\w+)">[^<]*<span class="badge">(\d+)</span>', html))
    assert counts == {"petition_collective": "2", "petition_bypass": "1", "petition_repeat": "1",
                      "petition_warning": "0"}  # fmt: skip
    # 收集, not the state word 已登记, over the collected figure
    figures = html.split('id="mq-figures"', 1)[1].split('id="mq-rates"', 1)[0]
    assert "收集" in figures and "已登记" not in figures
    # the quota table says what each column measures
    assert "达标人数" in html and "任务量完成率" in html and "已完成任务" not in html
    # the list behind a flag's figure
    link = re.search(r'href="([^"]+)" data-mq-petition="petition_collective"', html).group(1).replace("&amp;", "&")
    with clock.frozen(ON):
        page = client.get(link).get_data(as_text=True)
    assert len(set(re.findall(r"\b(20\d{7})\b", page.split('class="table', 1)[-1]))) == 2


# --- 2. the platform's rates: hand-computed --------------------------------------------------


def test_the_three_rates_credit_finding_reporting_and_disposing(world):
    """Five appeals of 甲镇 in November:
    1. 甲一村, found on a home visit, typed in by 甲一村's worker, resolved on the spot
    2. 甲一村, by phone, typed in by the township clerk, escalated to the township, answered there
    3. 甲二村, found on patrol, typed in by 甲二村's worker, escalated, still open
    4. 甲二村, by letter, typed in by 甲二村's worker, assigned and answered
    5. 甲一村一组, speak-up point, typed in by 甲一村's worker (from above the group): not 上报
    发现 = 1, 3, 5 → 3/5; 上报 = 1, 3, 4 → 3/5; 处置 = 1, 4 (answered, never escalated) → 2/5;
    escalated 2, which earns no credit."""
    ta, a1, a2, a1a = world["ta"], world["a1"], world["a2"], world["a1a"]

    def actor(user):
        return svc.Actor(name=user.username, permissions=frozenset(svc.PERMISSIONS), user_id=user.id)

    w1, w2, clerk = (actor(make_user("GridWorker", a1)), actor(make_user("GridWorker", a2)),
                     actor(make_user("Clerk", ta)))  # fmt: skip
    one = make_appeal(a1, at="2026-11-02 09:00", actor=w1, channel=lookup(AppealChannel, "入户走访"))
    svc.perform(db.session, w1, one, "resolve_on_spot", {"reply": "当场解释"})
    two = make_appeal(a1, at="2026-11-03 09:00", actor=clerk, channel=lookup(AppealChannel, "来电"))
    svc.perform(db.session, clerk, two, "escalate", {"note": "需镇里协调"})
    svc.perform(db.session, svc.system_actor(), two, "assign", {"handler_unit": "镇国土所"})
    svc.perform(db.session, svc.system_actor(), two, "feedback", {"reply": "已协调"})
    three = make_appeal(a2, at="2026-11-04 09:00", actor=w2, channel=lookup(AppealChannel, "网格巡查"))
    svc.perform(db.session, w2, three, "escalate", {"note": "超出本级权限"})
    four = make_appeal(a2, at="2026-11-05 09:00", actor=w2, channel=lookup(AppealChannel, "来信"))
    svc.perform(db.session, w2, four, "assign", {"handler_unit": "村委"})
    svc.perform(db.session, w2, four, "feedback", {"reply": "已办"})
    make_appeal(a1a, at="2026-11-06 09:00", actor=w1, channel=lookup(AppealChannel, "说事点"))
    db.session.commit()
    figures = stats.appeal_figures(db.session, ta, dt.date(2026, 11, 1), dt.date(2026, 11, 30), on=ON)
    assert {k: figures[k] for k in ("collected", "discovered", "reported", "handled_locally", "escalated")} == {
        "collected": 5, "discovered": 3, "reported": 3, "handled_locally": 2, "escalated": 2,
    }  # fmt: skip
    assert (figures["discovery_rate"], figures["reporting_rate"], figures["handling_rate"]) == (0.6, 0.6, 0.4)
    by_child = {g.name if g else "本级": f for g, f in stats.appeal_figures_by_child(
        db.session, ta, dt.date(2026, 11, 1), dt.date(2026, 11, 30), on=ON)}  # fmt: skip
    assert by_child["甲一村"]["reporting_rate"] == pytest.approx(1 / 3)  # 1 of 1, 2, 5
    assert by_child["甲二村"]["reporting_rate"] == 1.0 and by_child["甲二村"]["handling_rate"] == 0.5


def test_moving_an_appeal_to_another_grid_before_assignment_judges_its_reporting_again(world):
    worker = make_user("GridWorker", world["a1"])
    actor = svc.Actor(name="w", permissions=frozenset(svc.PERMISSIONS), user_id=worker.id)
    appeal = make_appeal(world["a1"], at="2026-11-03 09:00", actor=actor)
    assert appeal.reported_by_grid is True
    appeal.grid = world["a2"]
    with db.session.no_autoflush:
        svc.update_registration(db.session, svc.system_actor(), appeal)
    db.session.commit()
    assert appeal.origin_grid == world["a2"] and appeal.reported_by_grid is False


def test_a_collective_petition_needs_its_people(world):
    with pytest.raises(DomainError) as caught:
        make_appeal(world["a1"], petition_collective=True)
    assert caught.value.field == "petition_people"
    db.session.rollback()
    plain = make_appeal(world["a1"], petition_people=5)  # not collective: the number is dropped
    assert plain.petition_people is None


def test_the_migration_judges_the_appeals_registered_before_it(world):
    """0030's backfill: the same rule as registration, in SQL on both databases."""
    path = pathlib.Path(__file__).parents[1] / "migrations" / "versions" / "0030_petition_flags.py"
    spec = importlib.util.spec_from_file_location("minqing_0030", path)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    worker = make_user("GridWorker", world["a1a"])
    actor = svc.Actor(name="w", permissions=frozenset(svc.PERMISSIONS), user_id=worker.id)
    below = make_appeal(world["a1"], at="2026-11-03 09:00", actor=actor)  # filed from the group below: 上报
    above = make_appeal(world["a1a"], at="2026-11-03 09:00")  # the system: no person
    elsewhere = make_appeal(world["a2"], at="2026-11-03 09:00", actor=actor)  # another village's
    db.session.execute(update(Appeal).values(reported_by_grid=False))
    db.session.execute(text(migration.BACKFILL))
    db.session.expire_all()
    assert [db.session.get(Appeal, a.id).reported_by_grid for a in (below, above, elsewhere)] == [True, False, False]
