"""Appeal statistics on a hand-computed example: counts per grid subtree and period,
the rates, the per-child breakdown, all from SQL aggregates."""

import datetime as dt
from fractions import Fraction

import pytest
from sqlalchemy import event, select

from app.core import clock
from app.extensions import db
from app.models.lookups import AppealChannel
from app.services import appeals as svc
from app.services import stats
from tests.factories import lookup, make_appeal, make_user, tree

OCTOBER = (dt.date(2026, 10, 1), dt.date(2026, 10, 31))
ON = dt.date(2026, 11, 20)


def _steps(appeal, *steps):
    actor = svc.system_actor("统计测试")
    for moment, action, data in steps:
        with clock.frozen(moment):
            svc.perform(db.session, actor, appeal, action, data)
            db.session.commit()
    return appeal


def _channel(name):
    return lookup(AppealChannel, name)


def _filer(grid):
    """An actor whose login belongs to a person of `grid`."""
    user = make_user("GridWorker", grid)
    return svc.Actor(name=user.username, permissions=frozenset(svc.PERMISSIONS), user_id=user.id)


@pytest.fixture
def example():
    """Seven appeals registered in October under township A (甲镇), and four that do not count."""
    t = tree()
    a1, a1a, a2 = t["a1"], t["a1a"], t["a2"]
    # who typed them in (填表人): people of 甲一村, of its group and of 甲二村; the rest the system
    of_a1, of_a1a, of_a2 = (_filer(grid) for grid in (a1, a1a, a2))
    # 1. found on a home visit, answered on time, satisfied, archived; put on the platform by 甲一村 (上报)
    one = make_appeal(a1, at="2026-10-02 09:00", channel=_channel("入户走访"), actor=of_a1)
    _steps(one, ("2026-10-02 10:00", "assign", {"handler_unit": "民政所"}),
           ("2026-10-05 10:00", "feedback", {"reply": "已办"}),
           ("2026-10-06 10:00", "evaluate", {"result": "satisfied"}),
           ("2026-10-07 10:00", "archive", {}))  # fmt: skip
    # 2. by phone, answered late (due 10-10), basically satisfied; typed in for the group by 甲一村: not 上报
    two = make_appeal(a1a, at="2026-10-03 09:00", channel=_channel("来电"), actor=of_a1)
    _steps(two, ("2026-10-03 10:00", "assign", {"handler_unit": "组长"}),
           ("2026-10-15 10:00", "feedback", {"reply": "已办"}),
           ("2026-10-16 10:00", "evaluate", {"result": "basic"}))  # fmt: skip
    # 3. found on patrol, still being handled: overdue since 10-12; put on the platform by the group of 甲一村
    three = make_appeal(a1, at="2026-10-04 09:00", channel=_channel("网格巡查"), actor=of_a1a)
    _steps(three, ("2026-10-04 10:00", "assign", {"handler_unit": "村委"}), ("2026-10-05 10:00", "start", {}))
    # 4. important, escalated from 甲二村 to the township, answered on time, unsatisfied
    four = make_appeal(a2, at="2026-10-05 09:00", channel=_channel("来电"), importance="important")
    _steps(four, ("2026-10-06 09:00", "escalate", {"note": "需镇里协调"}),
           ("2026-10-07 09:00", "assign", {"handler_unit": "镇国土所"}),
           ("2026-10-20 09:00", "feedback", {"reply": "已协调"}),
           ("2026-10-22 09:00", "evaluate", {"result": "unsatisfied", "comment": "补偿偏低"}))  # fmt: skip
    # 5. important (due 11-10: one calendar month), answered late on 11-12, not evaluated yet; 上报 by 甲二村
    five = make_appeal(a2, at="2026-10-10 09:00", channel=_channel("来电"), importance="important", actor=of_a2)
    _steps(five, ("2026-10-10 10:00", "assign", {"handler_unit": "村委"}),
           ("2026-11-12 10:00", "feedback", {"reply": "已办"}))  # fmt: skip
    # 6. important, from the speak-up point, due 11-19 (one calendar month): overdue on 11-20
    six = make_appeal(a1, at="2026-10-19 09:00", channel=_channel("说事点"), importance="important")
    _steps(six, ("2026-10-20 10:00", "assign", {"handler_unit": "村委"}))
    # 7. answered on the spot
    seven = make_appeal(a1, at="2026-10-25 09:00", channel=_channel("来电"))
    _steps(seven, ("2026-10-25 09:30", "resolve_on_spot", {"reply": "当场解释"}))
    # not counted: a duplicate, outside the period (both ends), outside the subtree
    duplicate = make_appeal(a1, at="2026-10-26 09:00")
    _steps(duplicate, ("2026-10-26 10:00", "duplicate", {"original": one.number}))
    make_appeal(a1, at="2026-09-30 23:59")
    make_appeal(a1, at="2026-11-01 00:00")
    make_appeal(t["b1"], at="2026-10-05 09:00")
    return t


def test_figures_of_a_township_for_october(example):
    figures = stats.appeal_figures(db.session, example["ta"], *OCTOBER, on=ON)
    counts = {c.key: figures[c.key] for c in stats.COUNTS}
    assert counts == {
        "collected": 7,
        "closed": 5,  # 1, 2, 4, 5, 7
        "pending": 2,  # 3, 6
        "overdue": 2,  # 3 (due 10-11), 6 (due 11-19)
        "escalated": 1,  # 4
        "closed_on_time": 3,  # 1, 4, 7
        "due": 7,  # 5 closed + 2 overdue
        "evaluated": 3,
        "satisfied": 1,
        "basic": 1,
        "unsatisfied": 1,
        "satisfied_or_basic": 2,
        "discovered": 3,  # 入户走访, 网格巡查, 说事点
        "reported": 3,  # 1, 3, 5: typed in by a person of the grid where they were registered (or below)
        "handled_locally": 4,  # 1, 2, 5, 7
        "petition_collective": 0,
        "petition_bypass": 0,
        "petition_repeat": 0,
        "petition_warning": 0,
    }
    assert Fraction(figures["closure_rate"]).limit_denominator(100) == Fraction(5, 7)
    assert Fraction(figures["on_time_rate"]).limit_denominator(100) == Fraction(3, 7)
    assert Fraction(figures["satisfaction_rate"]).limit_denominator(100) == Fraction(2, 3)
    assert Fraction(figures["discovery_rate"]).limit_denominator(100) == Fraction(3, 7)
    assert Fraction(figures["handling_rate"]).limit_denominator(100) == Fraction(4, 7)
    # 上报率 credits what the grid put on the platform, not what it passed up (escalated: 1)
    assert Fraction(figures["reporting_rate"]).limit_denominator(100) == Fraction(3, 7)


def test_figures_follow_the_grid_where_the_appeal_was_registered(example):
    """The escalated appeal 4 lives in the township now but still counts for 甲二村."""
    a2 = stats.appeal_figures(db.session, example["a2"], *OCTOBER, on=ON)
    assert (a2["collected"], a2["escalated"], a2["reported"], a2["reporting_rate"]) == (2, 1, 1, 0.5)
    county = stats.appeal_figures(db.session, example["county"], *OCTOBER, on=ON)
    assert county["collected"] == 8  # plus 乙一村's
    whole = stats.appeal_figures(db.session, example["ta"], None, None, on=ON)
    assert whole["collected"] == 9  # no period: the two outside October count too


def test_figures_per_child(example):
    rows = stats.appeal_figures_by_child(db.session, example["ta"], *OCTOBER, on=ON)
    assert [grid.name if grid else "本级" for grid, _ in rows] == ["本级", "甲一村", "甲二村"]
    own, a1, a2 = (figures for _, figures in rows)
    assert own["collected"] == 0 and own["closure_rate"] is None
    assert {k: a1[k] for k in ("collected", "closed", "pending", "overdue", "escalated", "closed_on_time",
                               "evaluated", "discovered", "handled_locally")} == {
        "collected": 5, "closed": 3, "pending": 2, "overdue": 2, "escalated": 0, "closed_on_time": 2,
        "evaluated": 2, "discovered": 3, "handled_locally": 3,
    }  # fmt: skip
    assert {k: a2[k] for k in ("collected", "closed", "escalated", "closed_on_time", "unsatisfied")} == {
        "collected": 2, "closed": 2, "escalated": 1, "closed_on_time": 1, "unsatisfied": 1,
    }  # fmt: skip
    assert a2["satisfaction_rate"] == 0.0
    # 上报: 1 and 3 in 甲一村 (2 was typed in from above, for its group), 5 in 甲二村
    assert (a1["reported"], a2["reported"], a1["reporting_rate"]) == (2, 1, 0.4)


def test_the_overdue_figure_depends_on_the_day(example):
    early = stats.appeal_figures(db.session, example["ta"], *OCTOBER, on=dt.date(2026, 10, 11))
    assert early["overdue"] == 0  # appeal 3 is due that very day


def test_no_appeal_rows_are_loaded_into_python(example):
    seen = []

    def count(_conn, _cursor, statement, *_args):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        stats.appeal_figures(db.session, example["ta"], *OCTOBER, on=ON)
        stats.appeal_figures_by_child(db.session, example["ta"], *OCTOBER, on=ON)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    appeal_queries = [s for s in seen if "FROM appeal" in s]
    # one for the figures, one pass for the grid and all its children
    assert len(appeal_queries) == 2 and all("sum(" in s.lower() for s in appeal_queries)


def test_every_rate_is_documented_once():
    keys = [c.key for c in stats.COUNTS]
    assert len(keys) == len(set(keys))
    for rate in stats.RATES:
        assert rate.numerator in keys and rate.denominator in keys and rate.doc
    assert stats.ratio(1, 0) is None


def test_deleted_records_leave_every_count():
    """Soft-deleted appeals, visits and contact records are hidden and not counted."""
    from app.services import quotas
    from app.services import representatives as rep_service
    from tests.factories import make_contact, make_person, make_representative, make_visit

    t = tree()
    may = (dt.date(2026, 5, 1), dt.date(2026, 5, 31))
    with clock.frozen("2026-05-10 10:00"):
        make_appeal(t["a1"])
        gone = make_appeal(t["a1"])
        assert stats.appeal_figures(db.session, t["ta"], *may)["collected"] == 2
        gone.deleted_at = clock.now()
        db.session.commit()
        assert stats.appeal_figures(db.session, t["ta"], *may)["collected"] == 1
        cadre = make_person(t["a1"], name="计数干部")
        make_visit(t["a1"], [cadre], visit_date=dt.date(2026, 5, 2))
        deleted_visit = make_visit(t["a1"], [cadre], visit_date=dt.date(2026, 5, 3))
        deleted_visit.deleted_at = clock.now()
        rep = make_representative(grid=t["a1"])
        make_contact(rep, dt.date(2026, 5, 4), voter_count=5)
        dropped = make_contact(rep, dt.date(2026, 5, 5), voter_count=7)
        dropped.deleted_at = clock.now()
        db.session.commit()
        assert rep_service.progress(db.session, rep, 2026).done == 5
        counts = quotas._done_counts(quotas.period_of(2026, 5))
        assert db.session.execute(select(counts.c.visits).where(counts.c.person_id == cadre.id)).scalar() == 1
