"""The state cells (app/models/appeals.py AppealState, kept by app/services/rollups.py
`state_of`): every live appeal, duplicates included, per grid on the path of the grid it lives
in now, by state. After every kind of write they equal a recount (the Python rule and the
set-based SQL); the per-state counts above the lists (`lists.list_counts`) read them and give
the numbers the day cells give, for every kind of scope; another grid's leader sees only theirs."""

import datetime as dt
import io
import re

import pytest
from flask import g
from openpyxl import load_workbook
from sqlalchemy import func, select, true

from app.core import clock
from app.extensions import db
from app.models.appeals import STATE_KEYS, Appeal, AppealRollup, AppealState
from app.models.grids import Grid
from app.services import appeals as svc
from app.services import records, rollup_sql, rollups
from app.services.appeals import lists
from app.services.scope import EVERYTHING, Scope
from tests.conftest import login, run_migration_fill
from tests.factories import make_appeal, make_grid, make_user, tree
from tests.test_import import _upload

CLERK = svc.Actor(name="录入员", permissions=frozenset(svc.PERMISSIONS))  # may take every step
STATE_COLUMNS = [AppealState.__table__.c[name] for name in (*STATE_KEYS, "n")]
FLAG_SETS = ((), ("open",), ("unassigned",), ("open", "unassigned"), ("mine",), ("filed",))


def kept():
    return sorted(tuple(r) for r in db.session.execute(select(*STATE_COLUMNS)))


def equal_a_recount():
    """The state cells as kept equal a count of the appeals by the write-time rule (`check`)
    and by the set-based SQL (`recount_state` of every grid gives the same rows)."""
    db.session.flush()
    differences = [d for d in rollups.check(db.session) if d[0].get("table") == "appeal_state"]
    assert differences == [], [rollups.describe(d) for d in differences]
    before = kept()
    rollup_sql.recount_state(db.session.connection(), db.session.scalars(select(Grid.id)).all())
    assert kept() == before
    return True


def live_in(grid, status=None):
    """Live appeals (duplicates included) now in `grid`'s subtree, counted from the appeals."""
    low, high = grid.path, grid.path[:-1] + "0"
    query = (
        select(func.count())
        .select_from(Appeal)
        .join(Grid, Grid.id == Appeal.grid_id)
        .where(Grid.path >= low, Grid.path < high, Appeal.deleted_at.is_(None))
    )
    return db.session.scalar(query if status is None else query.where(Appeal.status == status))


def anchored(grid, status=None):
    query = select(func.coalesce(func.sum(AppealState.n), 0)).where(AppealState.anchor_grid_id == grid.id)
    return db.session.scalar(query if status is None else query.where(AppealState.status == status))


def from_day_cells(me, flags=()):
    """The per-state counts as list_counts counted them before the state cells: the day cells
    of the appeals now in the scope, grouped by state."""
    where = svc.cells_now_in(me)
    for flag in flags:
        where = where & lists.cell_flag_clause(flag, me)
    rows = db.session.execute(
        select(AppealRollup.status, svc.cell_sum(true()))
        .select_from(AppealRollup)
        .join(svc.NOW_GRID, svc.NOW_GRID.id == AppealRollup.grid_id)
        .where(where)
        .group_by(AppealRollup.status)
    ).all()
    return {status: int(n) for status, n in rows if n}


def scopes(t, person=None):
    return {
        "admin": EVERYTHING,
        "township leader": Scope(paths=(t["ta"].path,), person_id=person),
        "village grid worker": Scope(paths=(t["a1a"].path,), person_id=person),
        "leader with two roots": Scope(paths=(t["a1"].path, t["b1"].path), person_id=person),
        "nobody": Scope(),
    }


def same_numbers(app, t, person=None):
    """list_counts' per-state dict equals the day cells' for every scope and flag set; and,
    without flags, the appeals counted by state. Returns {scope name: counts without flags}."""
    seen = {}
    with app.test_request_context():
        for name, me in scopes(t, person).items():
            g._minqing_scope = (None, me)
            for flags in FLAG_SETS:
                by_status, _ = lists.list_counts(db.session, flags)
                assert by_status == from_day_cells(me, flags), (name, flags)
            seen[name] = lists.list_counts(db.session)[0]
    assert seen["nobody"] == {}
    return seen


def test_register_and_every_workflow_step(app, world):
    t = world
    with clock.frozen("2026-03-02 09:00"):
        appeal = make_appeal(t["a1a"], importance="general")
        make_appeal(t["b1"])
    assert equal_a_recount()
    assert [anchored(t[k]) for k in ("county", "ta", "a1", "a1a", "tb", "a2")] == [2, 1, 1, 1, 1, 0]
    assert same_numbers(app, t)["admin"] == {"registered": 2}
    steps = ["assign", "start", "supervise", "extend", "approve_extension", "feedback", "evaluate", "archive"]
    data = {
        "assign": {"handler_unit": "民政所"},
        "supervise": {"note": "三日内办结"},
        "extend": {"until": dt.date(2026, 3, 20), "reason": "需协调", "progress": "已联系"},
        "approve_extension": {"approve": True},
        "feedback": {"reply": "已修好"},
        "evaluate": {"result": "basic"},
    }
    with clock.frozen("2026-03-05 10:00"):
        for action in steps:
            svc.perform(db.session, CLERK, appeal, action, data.get(action, {}))
            db.session.commit()
            assert equal_a_recount(), action
            db.session.refresh(appeal)
            for grid in ("county", "ta", "a1", "a1a"):
                assert anchored(t[grid], appeal.status) == 1 == live_in(t[grid], appeal.status), (action, grid)
            seen = same_numbers(app, t)
            assert seen["township leader"] == {appeal.status: 1}, action
            assert sum(seen["admin"].values()) == 2 and seen["admin"].get(appeal.status) == 1, action
    assert appeal.status == "archived"


def test_escalation_moves_the_case_and_its_cells_up(app, world):
    t = world
    with clock.frozen("2026-03-02 09:00"):
        appeal = make_appeal(t["a2"], status="in_progress")
    with clock.frozen("2026-03-03 09:00"):
        svc.perform(db.session, CLERK, appeal, "escalate", {"note": "超出本级权限"})  # one UPDATE statement
        db.session.commit()
    db.session.refresh(appeal)
    assert appeal.grid_id == t["ta"].id
    assert equal_a_recount()
    assert (anchored(t["a2"]), anchored(t["ta"], "escalated"), anchored(t["county"])) == (0, 1, 1)
    seen = same_numbers(app, t)
    assert seen["township leader"] == {"escalated": 1} and seen["village grid worker"] == {}


def test_soft_delete_restore_and_duplicate_which_still_counts(app, world):
    t = world
    appeal = make_appeal(t["a1"], at="2026-04-01 09:00")
    original = make_appeal(t["a1"], at="2026-04-01 10:00")
    records.delete_record(db.session, appeal)
    db.session.commit()
    assert equal_a_recount() and anchored(t["ta"]) == 1 == live_in(t["ta"])
    assert same_numbers(app, t)["township leader"] == {"registered": 1}
    records.restore_records(db.session, [appeal])
    db.session.commit()
    assert equal_a_recount() and anchored(t["ta"]) == 2 == live_in(t["ta"])
    svc.perform(db.session, CLERK, appeal, "duplicate", {"original": original.number})
    db.session.commit()
    # the repeat is still counted per state (as the day cells count it), not as open
    assert equal_a_recount() and anchored(t["ta"]) == 2 == live_in(t["ta"])
    db.session.refresh(appeal)
    seen = same_numbers(app, t)
    assert sum(seen["township leader"].values()) == 2


def test_mine_and_filed_still_read_the_day_cells(app, world):
    t = world
    with clock.frozen("2026-03-02 09:00"):
        appeal = make_appeal(t["a1"], status="assigned")
    if appeal.handler_person_id is None:
        appeal.handler_person_id = t["pa"].id
        db.session.commit()
    assert equal_a_recount()
    same_numbers(app, t, person=appeal.handler_person_id)
    with app.test_request_context():
        g._minqing_scope = (None, Scope(paths=(t["ta"].path,), person_id=appeal.handler_person_id))
        assert lists.list_counts(db.session, ("mine",))[0] == {"assigned": 1}


def test_an_import_keeps_the_state_cells(app, client):
    t = tree()
    login(client, make_user("Clerk", t["ta"]))
    rows = [list(r) for r in load_workbook(io.BytesIO(client.get("/import/template/appeals").data)).active.values]
    rows[1][rows[0].index("网格编码*")] = "TA1"
    rows[1][0] = None
    running = list(rows[1])
    for header, value in (("状态", "办理中"), ("反馈时间", None), ("答复", None), ("满意度", None), ("评议意见", None)):
        running[rows[0].index(header)] = value
    rows = [rows[0], rows[1], running]
    with clock.frozen("2026-04-02 09:00"):
        assert _upload(client, "appeals", rows).status_code == 200
    db.session.expire_all()
    assert sorted(db.session.scalars(select(Appeal.status)).all()) == ["archived", "in_progress"]
    assert equal_a_recount()
    assert (anchored(t["county"]), anchored(t["ta"]), anchored(t["a1"]), anchored(t["tb"])) == (2, 2, 2, 0)
    client.get("/logout/")  # the scopes below are the test's, not the clerk's
    assert same_numbers(app, t)["township leader"] == {"archived": 1, "in_progress": 1}


def test_a_grid_move_recounts_the_grids_above(app, world):
    t = world
    with clock.frozen("2026-04-01 09:00"):
        make_appeal(t["a1a"], status="assigned")
        make_appeal(t["a1"], status="archived")
        make_appeal(t["b1"])
    assert (anchored(t["ta"]), anchored(t["tb"])) == (2, 1)
    t["a1"].parent = t["tb"]  # the village and its group move to township B
    db.session.commit()
    assert equal_a_recount()
    assert (anchored(t["ta"]), anchored(t["tb"]), anchored(t["a1"]), anchored(t["county"])) == (0, 3, 2, 3)
    seen = same_numbers(app, t)
    assert seen["township leader"] == {}


def test_rebuild_and_the_migration_fill_the_same_cells(world):
    t = world
    with clock.frozen("2026-03-02 09:00"):
        for status in ("registered", "assigned", "in_progress", "answered", "escalated", "archived"):
            make_appeal(t["a1a"], status=status)
        original = make_appeal(t["b1"], status="in_progress")
        repeat = make_appeal(t["a2"])
        svc.perform(db.session, CLERK, repeat, "duplicate", {"original": original.number})
        records.delete_record(db.session, make_appeal(t["b1a"]))
        db.session.commit()
    before = kept()
    assert sum(row[-1] for row in before if row[0] == t["county"].id) == 8  # 6 at a1a + b1 + the repeat
    rollups.rebuild(db.session)
    assert kept() == before
    db.session.execute(AppealState.__table__.delete())
    run_migration_fill("0046_appeal_state.py")
    assert kept() == before


def test_the_cli_check_names_a_state_cell_that_differs(app, world):
    make_appeal(world["a1"], at="2026-04-01 09:00")
    db.session.execute(AppealState.__table__.update().where(AppealState.anchor_grid_id == world["ta"].id).values(n=5))
    db.session.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["minqing", "rollups", "check"])
    assert result.exit_code == 1
    assert f"table=appeal_state anchor_grid_id={world['ta'].id} status=registered: counted 1, kept 5" in result.output
    result = runner.invoke(args=["minqing", "rollups", "rebuild"])
    assert result.exit_code == 0 and "3 state cells" in result.output  # county, township, village
    assert runner.invoke(args=["minqing", "rollups", "check"]).exit_code == 0


@pytest.fixture
def busy(world):
    """Appeals in every state in both townships, a second county, a duplicate and a deleted one."""
    t = world
    t["other"] = make_grid("另一县", rank=0, code="C9")
    t["o1"] = make_grid("另一村", t["other"], code="C9V")
    with clock.frozen("2026-03-02 09:00"):
        for grid, status in (("a1a", "registered"), ("a1", "assigned"), ("a2", "in_progress"), ("b1", "answered"),
                             ("b1a", "archived"), ("o1", "assigned"), ("a1a", "answered"), ("tb", "registered")):  # fmt: skip
            make_appeal(t[grid], status=status)
        original = make_appeal(t["a2"], status="in_progress")
        repeat = make_appeal(t["a1"])
        svc.perform(db.session, CLERK, repeat, "duplicate", {"original": original.number})
        records.delete_record(db.session, make_appeal(t["b1"]))
        db.session.commit()
    return t


def test_same_numbers_for_every_kind_of_scope_and_only_ones_own(app, client, busy):
    t = busy
    assert equal_a_recount()
    seen = same_numbers(app, t)
    assert sum(seen["admin"].values()) == 10  # both counties: 8 + the original + the repeat, not the deleted one
    with app.test_request_context():
        for township, other in (("ta", "tb"), ("tb", "ta")):
            g._minqing_scope = (None, Scope(paths=(t[township].path,)))
            by_status, _ = lists.list_counts(db.session)
            assert sum(by_status.values()) == live_in(t[township])
            assert live_in(t[other]) > 0 and sum(by_status.values()) < live_in(t["county"])
    login(client, make_user("Leader", t["tb"]))  # what the page shows: the township's own, read from its cells
    with clock.frozen("2026-03-03 09:00"):
        assert client.get("/", follow_redirects=True).status_code == 200
        page = client.get("/appealview/list/")
    assert page.status_code == 200
    badges = re.search(r'mq-status-tabs.*?<span class="badge">(\d+)</span>', page.get_data(as_text=True), re.S)
    assert int(badges.group(1)) == live_in(t["tb"]) == 3  # registered at tb, answered at b1, archived at b1a
