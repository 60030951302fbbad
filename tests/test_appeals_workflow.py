"""The appeal workflow at the service level: every action from every state (allowed
ones change the state and write one event, forbidden ones answer 400 and change
nothing), every role, the guards, deadlines and extensions with a frozen clock."""

import datetime as dt

import pytest
from sqlalchemy import func, select

from app.core import clock
from app.core.errors import DomainError, Forbidden
from app.extensions import db
from app.models.appeals import Appeal, AppealEvent, Status
from app.security import ROLE_GRANTS
from app.services import appeals as svc
from app.services.scope import Scope
from tests.factories import make_appeal, make_person

STATES = list(Status.codes())
AT = "2026-03-02 09:00"  # a Monday; every step of these tests happens at this moment

# What the issue asks for, written out independently of services.appeals.TRANSITIONS:
# action -> (states it may start from, state it leads to; None = unchanged)
EXPECTED = {
    "assign": ({"registered", "escalated"}, "assigned"),
    "start": ({"assigned"}, "in_progress"),
    "resolve_on_spot": ({"registered"}, "answered"),
    "escalate": ({"registered", "escalated", "assigned", "in_progress"}, "escalated"),
    "extend": ({"assigned", "in_progress"}, None),
    "approve_extension": ({"assigned", "in_progress"}, None),
    "feedback": ({"assigned", "in_progress"}, "answered"),
    "evaluate": ({"answered"}, "evaluated"),
    "archive": ({"evaluated"}, "archived"),
    "supervise": (set(STATES) - {"archived"}, None),
    # after evaluation only when unsatisfied (the factory's evaluations are satisfied)
    "reassign": ({"assigned", "in_progress", "answered"}, "assigned"),
    "duplicate": ({"registered", "escalated"}, None),
}


def _input(action, appeal):
    due = appeal.due_date
    return {
        "assign": {"handler_unit": "镇民政所", "note": "请按期办结"},
        "start": {},
        "resolve_on_spot": {"reply": "当场答复"},
        "escalate": {"note": "超出本级权限"},
        "extend": {"until": (due + dt.timedelta(days=5)).isoformat(), "reason": "需协调", "progress": "已勘查"},
        "approve_extension": {"approve": "approve"},
        "feedback": {"reply": "已修复路灯"},
        "evaluate": {"result": "satisfied"},
        "archive": {},
        "supervise": {"note": "请加快办理"},
        "reassign": {"handler_unit": "镇村镇建设办", "note": "原承办单位不对口"},
        "duplicate": {"original": None},  # filled in below
    }[action]


def _events(appeal):
    return db.session.scalar(select(func.count()).select_from(AppealEvent).where(AppealEvent.appeal_id == appeal.id))


def test_the_table_covers_exactly_the_issue_actions():
    assert set(svc.TRANSITIONS) == set(EXPECTED)
    for action, (_sources, target) in EXPECTED.items():
        transition = svc.TRANSITIONS[action]
        assert transition.target == target, action


@pytest.mark.parametrize("action", sorted(EXPECTED))
def test_every_action_from_every_state(world, action):
    """One test per action, over all seven states (a test per pair would mostly
    measure the database wipe between tests)."""
    for state in STATES:
        _try_action_from_state(world, action, state)


def _try_action_from_state(world, action, state):
    actor = svc.system_actor("张录入")
    appeal = make_appeal(world["a1a"], status=state, at=AT)
    if action == "approve_extension" and state in ("assigned", "in_progress"):
        with clock.frozen(AT):
            svc.perform(db.session, actor, appeal, "extend", _input("extend", appeal))
            db.session.commit()
    data = _input(action, appeal)
    if action == "duplicate":
        data["original"] = make_appeal(world["a1a"], at=AT).number
    sources, target = EXPECTED[action]
    before_status, before_events, before_due = appeal.status, _events(appeal), appeal.due_date
    with clock.frozen(AT):
        if state in sources:
            event = svc.perform(db.session, actor, appeal, action, data)
            db.session.commit()
            db.session.expire_all()
            appeal = db.session.get(Appeal, appeal.id)
            assert appeal.status == (target or before_status), state
            assert event.action == action and event.actor_name == "张录入"
            assert event.from_status == before_status and event.to_status == appeal.status
            assert event.at == dt.datetime.fromisoformat(AT)
            # one event on the appeal (a duplicate link also notes it on the original)
            assert _events(appeal) == before_events + 1
        else:
            with pytest.raises(DomainError) as err:
                svc.perform(db.session, actor, appeal, action, data)
            assert err.value.status == 400, (state, err.value)
            db.session.rollback()
            db.session.expire_all()
            appeal = db.session.get(Appeal, appeal.id)
            assert appeal.status == before_status, state
            assert appeal.due_date == before_due
            assert _events(appeal) == before_events


def _role_actor(role):
    return svc.Actor(name=role, permissions=frozenset(ROLE_GRANTS.get(role, {}).get("Appeal", set())))


ROLE_MAY = {  # the README's role table for appeals
    "Clerk": {"assign", "start", "resolve_on_spot", "escalate", "extend", "feedback", "evaluate", "archive",
              "reassign", "duplicate"},
    "GridWorker": {"start", "resolve_on_spot", "escalate", "extend", "feedback", "evaluate", "duplicate"},
    "Leader": {"supervise", "approve_extension"},
    "Representative": set(),
}  # fmt: skip


@pytest.mark.parametrize("role", sorted(ROLE_MAY))
def test_roles_may_take_only_their_steps(world, role):
    actor = _role_actor(role)
    for action in EXPECTED:
        sources, _ = EXPECTED[action]
        state = "evaluated" if action == "archive" else sorted(sources)[0]
        if action == "approve_extension":
            state = "in_progress"
        appeal = make_appeal(world["a1a"], status=state, at=AT)
        if action == "approve_extension":
            with clock.frozen(AT):
                svc.perform(db.session, svc.system_actor(), appeal, "extend", _input("extend", appeal))
                db.session.commit()
        data = _input(action, appeal)
        if action == "duplicate":
            data["original"] = make_appeal(world["a1a"], at=AT).number
        with clock.frozen(AT):
            if action in ROLE_MAY[role]:
                svc.perform(db.session, actor, appeal, action, data)
                db.session.commit()
            else:
                with pytest.raises(Forbidden) as err:
                    svc.perform(db.session, actor, appeal, action, data)
                assert "您的角色无权" in str(err.value) or "Your role" in str(err.value)
                db.session.rollback()


def test_role_is_checked_before_state(world):
    """A leader asking to assign an archived appeal hears about the role, not the state."""
    appeal = make_appeal(world["a1"], status="archived", at=AT)
    with pytest.raises(Forbidden):
        svc.perform(db.session, _role_actor("Leader"), appeal, "assign", {"handler_unit": "x"})


def test_registering_needs_write_permission(world):
    from app.models.lookups import AppealCategory, AppealChannel
    from tests.factories import lookup

    appeal = Appeal(
        reporter_name="王五", content="反映问题", grid=world["a1"],
        channel=lookup(AppealChannel), category=lookup(AppealCategory),
    )  # fmt: skip
    with pytest.raises(Forbidden):
        svc.register_appeal(db.session, _role_actor("Leader"), appeal)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Appeal)) == 0


# --- guards and inputs ----------------------------------------------------------


def test_reassign_after_an_unsatisfied_evaluation_reopens_the_case(world):
    actor = svc.system_actor()
    appeal = make_appeal(world["a1"], status="answered", at=AT)
    with clock.frozen(AT):
        svc.perform(db.session, actor, appeal, "evaluate", {"result": "unsatisfied", "comment": "路灯仍不亮"})
        svc.perform(db.session, actor, appeal, "reassign", {"handler_unit": "县供电公司", "note": "重新办理"})
        db.session.commit()
    assert appeal.status == "assigned" and appeal.handler_unit == "县供电公司"
    assert appeal.satisfaction is None and appeal.feedback is None and appeal.closed_at is None
    # the first round stays on the timeline
    actions = [e.action for e in svc.timeline(db.session, appeal) for e in [e["event"]]]
    assert actions[-3:] == ["feedback", "evaluate", "reassign"]


def test_unsatisfied_needs_a_comment_and_a_review_needs_participants(world):
    actor = svc.system_actor()
    appeal = make_appeal(world["a1"], status="answered", at=AT)
    with pytest.raises(DomainError) as err:
        svc.perform(db.session, actor, appeal, "evaluate", {"result": "unsatisfied"})
    assert err.value.field == "comment" and err.value.status == 422
    with pytest.raises(DomainError) as err:
        svc.perform(db.session, actor, appeal, "evaluate", {"result": "satisfied", "source": "review"})
    assert err.value.field == "evaluators"
    with pytest.raises(DomainError) as err:
        svc.perform(db.session, actor, appeal, "evaluate", {"result": "great"})
    assert err.value.field == "result"
    svc.perform(db.session, actor, appeal, "evaluate",
                {"result": "basic", "source": "review", "evaluators": "人大代表李四、村民代表王五"})  # fmt: skip
    db.session.commit()
    assert appeal.satisfaction == "basic" and appeal.evaluation_source == "review"


def test_required_inputs_are_clear_errors_and_change_nothing(world):
    actor = svc.system_actor()
    appeal = make_appeal(world["a1"], status="in_progress", at=AT)
    for action, data, field in [
        ("feedback", {"reply": "  "}, "reply"),
        ("escalate", {}, "note"),
        ("supervise", {}, "note"),
        ("reassign", {"handler_unit": "x"}, "note"),
        ("reassign", {"note": "换人"}, "handler_person"),
        ("extend", {"reason": "r", "progress": "p"}, "until"),
        ("extend", {"until": "2026-13-01", "reason": "r", "progress": "p"}, "until"),
    ]:
        with pytest.raises(DomainError) as err:
            svc.perform(db.session, actor, appeal, action, data)
        assert err.value.field == field, (action, err.value)
        db.session.rollback()
    db.session.expire_all()
    assert db.session.get(Appeal, appeal.id).status == "in_progress"


def test_an_inactive_person_cannot_be_the_handler(world):
    person = make_person(world["a1"], name="退休干部", active=False)
    appeal = make_appeal(world["a1"], at=AT)
    with pytest.raises(DomainError) as err:
        svc.perform(db.session, svc.system_actor(), appeal, "assign", {"handler_person": person.id})
    assert err.value.field == "handler_person"


def test_escalation_moves_the_case_up_and_keeps_its_history(world):
    actor = svc.system_actor()
    appeal = make_appeal(world["a1a"], at=AT)
    with clock.frozen(AT):
        svc.perform(db.session, actor, appeal, "assign", {"handler_unit": "组长"})
        svc.perform(db.session, actor, appeal, "escalate", {"note": "涉及土地权属，需镇里协调"})
        db.session.commit()
    db.session.expire_all()
    appeal = db.session.get(Appeal, appeal.id)
    assert appeal.grid_id == world["a1"].id and appeal.origin_grid_id == world["a1a"].id
    assert appeal.status == "escalated" and appeal.escalation_count == 1
    assert appeal.handler_unit is None and appeal.handler_person_id is None
    items = svc.timeline(db.session, appeal)
    last = items[-1]
    assert last["event"].action == "escalate"
    assert (last["from_grid"], last["to_grid"]) == ("甲一村一组", "甲一村")
    # up again, and at the top there is nowhere to go
    for _ in range(2):  # to the township, then the county
        svc.perform(db.session, actor, appeal, "escalate", {"note": "继续上报"})
        db.session.commit()
    db.session.expire_all()
    appeal = db.session.get(Appeal, appeal.id)
    assert appeal.grid_id == world["county"].id and appeal.escalation_count == 3
    with pytest.raises(DomainError) as err:
        svc.perform(db.session, actor, appeal, "escalate", {"note": "再上报"})
    assert err.value.status == 400 and "最高层级" in str(err.value)


def test_a_duplicate_waits_for_its_original(world):
    actor = svc.system_actor()
    original = make_appeal(world["a1"], at=AT)
    repeat = make_appeal(world["a1"], at=AT)
    again = make_appeal(world["a1"], at=AT)
    svc.perform(db.session, actor, repeat, "duplicate", {"original": original.number})
    db.session.commit()
    # a duplicate of a duplicate points at the first registration
    svc.perform(db.session, actor, again, "duplicate", {"original": repeat.number})
    db.session.commit()
    assert again.duplicate_of_id == original.id
    assert svc.due_state(repeat, dt.date(2027, 1, 1)) is None  # not running against a deadline
    with pytest.raises(DomainError) as err:
        svc.perform(db.session, actor, repeat, "assign", {"handler_unit": "x"})
    assert "重复件" in str(err.value)
    svc.perform(db.session, actor, repeat, "archive", {"note": "并入原件"})
    db.session.commit()
    assert repeat.status == "archived"
    assert [d.id for d in svc.duplicates_of(db.session, original)] == [repeat.id, again.id]
    with pytest.raises(DomainError):
        svc.perform(db.session, actor, original, "duplicate", {"original": original.number})
    with pytest.raises(DomainError) as err:
        svc.perform(db.session, actor, original, "duplicate", {"original": "209901999"})
    assert err.value.status == 404


def _cells_of(appeal):
    """The roll-up cells of the grid the appeal lives in (the only appeal there)."""
    return svc.cells_now_in(Scope(paths=(appeal.grid.path,)))


def test_supervision_flags_until_archived(world):
    appeal = make_appeal(world["a1"], status="in_progress", at=AT)
    leader = _role_actor("Leader")
    svc.perform(db.session, leader, appeal, "supervise", {"note": "群众反映强烈，三日内办结"})
    db.session.commit()
    assert appeal.supervised and appeal.supervision_note == "群众反映强烈，三日内办结"
    counts = svc.attention_counts(db.session, _cells_of(appeal))
    assert counts["supervised"] == 1


# --- deadlines ---------------------------------------------------------------------


def test_due_dates_follow_importance_and_config(app, world):
    with clock.frozen("2026-01-31 23:30"):
        general = make_appeal(world["a1"])
        important = make_appeal(world["a1"], importance="important")
    assert general.number == "202601001" and important.number == "202601002"
    assert general.due_date == dt.date(2026, 2, 7)  # across the month boundary
    assert important.due_date == dt.date(2026, 2, 28)  # one calendar month: the end of a short February
    app.config["APPEAL_DAYS_GENERAL"] = 5
    try:
        with clock.frozen("2026-02-01 00:05"):
            later = make_appeal(world["a1"])
    finally:
        app.config["APPEAL_DAYS_GENERAL"] = 7
    assert later.number == "202602001"  # the sequence restarts with the month
    assert later.due_date == dt.date(2026, 2, 6)


def test_overdue_and_due_soon(world):
    appeal = make_appeal(world["a1"], status="in_progress", at="2026-03-02 09:00")  # due 2026-03-09
    assert appeal.due_date == dt.date(2026, 3, 9)
    assert svc.due_state(appeal, dt.date(2026, 3, 6)) is None
    assert svc.due_state(appeal, dt.date(2026, 3, 7)) == "due_soon"  # APPEAL_DUE_SOON_DAYS = 2
    assert svc.due_state(appeal, dt.date(2026, 3, 9)) == "due_soon"  # the last day is still in time
    assert svc.due_state(appeal, dt.date(2026, 3, 10)) == "overdue"
    with clock.frozen("2026-03-10 08:00"):
        counts = svc.attention_counts(db.session, _cells_of(appeal))
        assert counts["overdue"] == 1 and counts["due_soon"] == 0
        svc.perform(db.session, svc.system_actor(), appeal, "feedback", {"reply": "已办结"})
        db.session.commit()
        assert svc.due_state(appeal) is None  # answered: no longer running
        assert appeal.closed_on_time is False
        assert svc.attention_counts(db.session, _cells_of(appeal))["overdue"] == 0


def test_an_approved_extension_moves_the_deadline(world):
    clerk, leader = _role_actor("Clerk"), _role_actor("Leader")
    appeal = make_appeal(world["a1"], status="in_progress", at="2026-03-02 09:00")  # due 03-09
    with clock.frozen("2026-03-08 10:00"):
        with pytest.raises(DomainError) as err:  # beyond APPEAL_EXTENSION_MAX_DAYS
            svc.perform(db.session, clerk, appeal, "extend",
                        {"until": "2026-05-01", "reason": "需协调", "progress": "已勘查"})  # fmt: skip
        assert err.value.field == "until" and "2026-04-08" in str(err.value)
        with pytest.raises(DomainError):  # not later than the current deadline
            svc.perform(db.session, clerk, appeal, "extend",
                        {"until": "2026-03-09", "reason": "需协调", "progress": "已勘查"})  # fmt: skip
        svc.perform(db.session, clerk, appeal, "extend",
                    {"until": "2026-03-20", "reason": "需协调县直部门", "progress": "已完成勘查"})  # fmt: skip
        db.session.commit()
        assert appeal.due_date == dt.date(2026, 3, 9) and appeal.extension_until == dt.date(2026, 3, 20)
        with pytest.raises(DomainError) as err:  # one request at a time
            svc.perform(db.session, clerk, appeal, "extend",
                        {"until": "2026-03-25", "reason": "x", "progress": "y"})  # fmt: skip
        assert err.value.status == 400
    with clock.frozen("2026-03-09 10:00"):
        svc.perform(db.session, leader, appeal, "approve_extension", {"approve": True, "note": "同意"})
        db.session.commit()
    assert appeal.due_date == dt.date(2026, 3, 20) and appeal.extension_until is None
    assert appeal.extension_count == 1
    assert svc.due_state(appeal, dt.date(2026, 3, 15)) is None  # no longer near the deadline
    with clock.frozen("2026-03-19 16:00"):
        svc.perform(db.session, clerk, appeal, "feedback", {"reply": "已办结"})
        db.session.commit()
    assert appeal.closed_on_time is True  # judged against the extended deadline


def test_a_rejected_extension_keeps_the_deadline_and_needs_a_reason(world):
    clerk, leader = _role_actor("Clerk"), _role_actor("Leader")
    appeal = make_appeal(world["a1"], status="assigned", at="2026-03-02 09:00")
    with clock.frozen("2026-03-05 09:00"):
        svc.perform(db.session, clerk, appeal, "extend", {"until": "2026-03-15", "reason": "r", "progress": "p"})
        db.session.commit()
        with pytest.raises(DomainError) as err:
            svc.perform(db.session, leader, appeal, "approve_extension", {"approve": "reject"})
        assert err.value.field == "note"
        db.session.rollback()
        svc.perform(db.session, leader, appeal, "approve_extension", {"approve": "reject", "note": "事项简单"})
        db.session.commit()
    assert appeal.due_date == dt.date(2026, 3, 9) and appeal.extension_until is None
    assert appeal.extension_count == 0
    last = svc.timeline(db.session, appeal)[-1]
    assert last["event"].result == "rejected" and last["event"].note == "事项简单"


def test_escalation_keeps_the_deadline_and_drops_a_pending_extension(world):
    appeal = make_appeal(world["a1a"], status="in_progress", at="2026-03-02 09:00")
    with clock.frozen("2026-03-05 09:00"):
        svc.perform(db.session, svc.system_actor(), appeal, "extend",
                    {"until": "2026-03-15", "reason": "r", "progress": "p"})  # fmt: skip
        svc.perform(db.session, svc.system_actor(), appeal, "escalate", {"note": "上报镇里"})
        db.session.commit()
    db.session.expire_all()
    appeal = db.session.get(Appeal, appeal.id)
    assert appeal.due_date == dt.date(2026, 3, 9) and appeal.extension_until is None


def test_changing_importance_before_assignment_moves_the_deadline(world):
    appeal = make_appeal(world["a1"], at="2026-03-02 09:00")
    appeal.importance = "important"
    with clock.frozen("2026-03-03 09:00"):
        event = svc.update_registration(db.session, svc.system_actor(), appeal, note="经核实属重要事项")
        db.session.commit()
    assert appeal.due_date == dt.date(2026, 4, 2)  # one calendar month from the registration day
    assert event.action == "edit" and event.data == {"importance": ["general", "important"]}


@pytest.mark.commits  # the second clerk's commit must outlive the first one's rollback
def test_two_people_acting_at_once_cannot_both_pass(app, world):
    """Optimistic locking: the second step, decided on a stale copy, is refused."""
    from sqlalchemy.orm.exc import StaleDataError

    appeal = make_appeal(world["a1"], status="in_progress", at=AT)
    mine = db.session.get(Appeal, appeal.id)
    assert mine.status == "in_progress"
    with app.app_context():  # a second clerk, with their own session, answers first
        other = db.session.get(Appeal, appeal.id)
        svc.perform(db.session, svc.system_actor("李录入"), other, "feedback", {"reply": "已办结"})
        db.session.commit()
        db.session.remove()
    with pytest.raises(StaleDataError):
        svc.perform(db.session, svc.system_actor("张录入"), mine, "feedback", {"reply": "也办结了"})
        db.session.commit()
    db.session.rollback()
    db.session.expire_all()
    stored = db.session.get(Appeal, appeal.id)
    assert stored.feedback == "已办结" and _events(stored) == 4  # register, assign, start, one feedback
