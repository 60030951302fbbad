"""A grid move keeps every kept count exact with a delta, not a recount (app/services/grid_moves.py):
what the moved grid's own cells hold is taken from the grids above it before and given to the grids
above it after, re-keyed to the child they reach it through. Moves up, down, across townships, to
the top, of a grid with nothing in it, with appeals of every kind (open, overdue, supervised,
closed, deleted, duplicates, of 发现 channels) and people with visits under quota rules; after each
the appeal cells (summary, open, state, day) and the quota cells equal a count. Several grids moved
in one flush add up; one moved below another in the same flush falls back to the recount."""

from datetime import date

import pytest
from sqlalchemy import func, select

from app.core import clock
from app.extensions import db
from app.models.appeals import Appeal
from app.models.grids import Grid
from app.models.lookups import AppealCategory, AppealChannel
from app.models.personnel import Person
from app.services import appeals as svc
from app.services import records, rollup_sql, rollups
from app.services.quotas import cells
from tests.factories import lookup, make_appeal, make_grid, make_kind, make_person, make_visit
from tests.test_quotas import rule

CLERK = svc.Actor(name="录入员", permissions=frozenset(svc.PERMISSIONS))
TODAY = "2026-03-20 10:00"


def agree():
    """Every kept count equals a count of the appeals, people and visits."""
    db.session.expire_all()  # a move rewrote the paths below the ORM
    differences = rollups.check(db.session)
    assert differences == [], [rollups.describe(d) for d in differences[:20]]
    quota = cells.differences(db.session)
    assert quota == [], [cells.describe(d) for d in quota[:20]]
    return True


def move(grid, parent):
    grid = db.session.get(Grid, grid.id)
    grid.parent = db.session.get(Grid, parent.id) if parent is not None else None
    db.session.commit()
    return grid


@pytest.fixture
def no_recount(monkeypatch):
    """A move must not count the grids above again (only the nested case may)."""

    def refuse(*_args, **_kwargs):
        raise AssertionError("a grid move recounted")

    for name in ("recount_summary", "recount_open", "recount_state"):
        monkeypatch.setattr(rollup_sql, name, refuse)
    monkeypatch.setattr(cells, "recount", refuse)


@pytest.fixture
def rich(world):
    """Appeals of every kind and people with visits under quota rules, most of them under 甲一村
    (a1, with its group a1a), some elsewhere."""
    t = world
    categories = [lookup(AppealCategory)] + [
        c for c in db.session.query(AppealCategory).order_by(AppealCategory.id).all()[1:2]
    ]
    found, other = lookup(AppealChannel, "入户走访"), lookup(AppealChannel, "来电")
    with clock.frozen("2026-01-05 09:00"):  # overdue by March
        make_appeal(t["a1a"], status="assigned", channel=found)
        make_appeal(t["a1"], status="in_progress", channel=other, category=categories[-1])
    with clock.frozen("2026-03-02 09:00"):
        for status in ("registered", "assigned", "in_progress", "answered", "evaluated", "archived", "escalated"):
            make_appeal(t["a1a"], status=status, channel=found if status in ("answered", "archived") else other)
        supervised = make_appeal(t["a1"], status="in_progress")
        svc.perform(db.session, CLERK, supervised, "supervise", {"note": "督办"})
        repeat = make_appeal(t["a1a"])
        svc.perform(db.session, CLERK, repeat, "duplicate", {"original": supervised.number})
        records.delete_record(db.session, make_appeal(t["a1a"], channel=found))
        make_appeal(t["b1"], status="assigned", channel=found)
        make_appeal(t["a2"], status="archived")
        make_appeal(t["ta"])
        db.session.commit()
    with clock.frozen(TODAY):
        t["monthly"], t["yearly"] = make_kind("月度类"), make_kind("年度类")
        rule("每月3次", kind=t["monthly"], minimum=3)
        rule("每年5户", kind=t["yearly"], period="year", unit="households", minimum=5)
        rule("书记主任每月2次", words="书记、主任", minimum=2)
        t["m1"] = make_person(t["a1"], name="月一", kind=t["monthly"], position="村书记")
        t["m2"] = make_person(t["a1a"], name="月二", kind=t["monthly"])
        t["m3"] = make_person(t["b1"], name="月三", kind=t["monthly"])
        t["y1"] = make_person(t["a1a"], name="年一", kind=t["yearly"])
        for day, grid, people, address in (
            (date(2026, 3, 2), "a1", ("m1",), "幸福路1号"),
            (date(2026, 3, 3), "a1a", ("m1", "m2"), "幸福路2号"),
            (date(2026, 3, 9), "a1a", ("m2", "y1"), "幸福路3号"),
            (date(2026, 3, 14), "b1", ("m3",), "和平路1号"),
        ):
            make_visit(t[grid], [t[p] for p in people], visit_date=day, address=address)
    assert agree()
    return t


def test_a_move_across_townships_up_down_and_to_the_top(rich, no_recount):
    t = rich
    with clock.frozen(TODAY):
        move(t["a1"], t["tb"])  # across: the village and its group to township B
        assert agree()
        move(t["a1a"], t["tb"])  # up: the group straight under a township
        assert agree()
        move(t["a1a"], t["b1"])  # down again, below 乙一村
        assert agree()
        move(t["a1"], None)  # to the top: no grid above it any more
        assert agree()
        move(t["a1"], t["ta"])  # back where it was
        move(t["a1a"], t["a1"])
        assert agree()


def test_the_figures_follow_the_moved_grid(rich, no_recount):
    t = rich
    anchored = rollups.SUMMARY.c.anchor_grid_id

    def n(grid):
        return db.session.scalar(select(func.coalesce(func.sum(rollups.SUMMARY.c.n), 0)).where(anchored == grid.id))

    with clock.frozen(TODAY):
        before = {name: n(t[name]) for name in ("county", "ta", "tb", "a1")}
        move(t["a1"], t["tb"])
        after = {name: n(t[name]) for name in ("county", "ta", "tb", "a1")}
    moved = before["a1"]
    assert moved > 0 and after["a1"] == moved and after["county"] == before["county"]
    assert (after["ta"], after["tb"]) == (before["ta"] - moved, before["tb"] + moved)
    assert agree()


def test_a_grid_with_nothing_in_it_moves(rich, no_recount):
    t = rich
    with clock.frozen(TODAY):
        empty = make_grid("新建村", t["ta"], code="TA9")
        move(empty, t["tb"])
        assert agree()


def test_a_move_in_the_same_flush_as_changes_below_it(rich, no_recount):
    """The appeals and people changed in the flush that moves their grid: counted as taken out
    before the move and put in after it."""
    t = rich
    with clock.frozen(TODAY), db.session.no_autoflush:  # one flush: the move and the changes below
        a1 = db.session.get(Grid, t["a1"].id)
        a1.parent = db.session.get(Grid, t["tb"].id)
        leaver = db.session.scalars(select(Appeal).where(Appeal.grid_id == t["a1a"].id).order_by(Appeal.id)).first()
        leaver.grid = db.session.get(Grid, t["a2"].id)  # out of the moved subtree
        comer = db.session.scalars(select(Appeal).where(Appeal.grid_id == t["b1"].id)).first()
        comer.grid = db.session.get(Grid, t["a1a"].id)  # into it
        staying = db.session.scalars(select(Appeal).where(Appeal.grid_id == t["a1"].id).order_by(Appeal.id)).first()
        staying.supervised = not staying.supervised  # changed where it is
        db.session.get(Person, t["m2"].id).grid = db.session.get(Grid, t["b1"].id)  # a person out of it
        db.session.get(Person, t["m3"].id).grid = db.session.get(Grid, t["a1"].id)  # one into it
        db.session.commit()
    assert agree()
    assert db.session.get(Grid, t["a1a"].id).path.startswith(db.session.get(Grid, t["tb"].id).path)


def test_several_moves_in_one_flush(rich, no_recount):
    t = rich
    with clock.frozen(TODAY):
        db.session.get(Grid, t["a1"].id).parent = db.session.get(Grid, t["tb"].id)
        db.session.get(Grid, t["b1"].id).parent = db.session.get(Grid, t["ta"].id)  # a swap of villages
        db.session.commit()
        assert agree()


def test_a_grid_moved_below_another_moved_one_is_counted_again(rich):
    t = rich
    with clock.frozen(TODAY):
        db.session.get(Grid, t["a1"].id).parent = db.session.get(Grid, t["tb"].id)
        db.session.get(Grid, t["b1"].id).parent = db.session.get(Grid, t["a1"].id)  # under the moved one
        db.session.commit()
        assert agree()
