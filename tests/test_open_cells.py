"""The open cells (app/models/appeals.py AppealOpen, kept by app/services/rollups.py `open_of`):
the appeals whose deadline runs, per grid on the path of the grid each lives in now. After
every kind of write they equal a recount (the Python rule and the set-based SQL); "needs
attention", the counts above the lists and the home page read them and give the numbers the
day cells give; overdue moves with the clock; another grid's leader sees only theirs."""

import datetime as dt
import io

import pytest
from flask import g
from openpyxl import load_workbook
from sqlalchemy import func, select

from app.core import clock
from app.extensions import db
from app.models.appeals import OPEN_KEYS, OPEN_STATUSES, Appeal, AppealOpen
from app.models.grids import Grid
from app.services import appeals as svc
from app.services import dashboard as dash
from app.services import records, rollup_sql, rollups
from app.services.appeals import lists
from app.services.scope import EVERYTHING, Scope
from tests.conftest import login, run_migration_fill
from tests.factories import make_appeal, make_grid, make_user, tree
from tests.test_import import _upload

CLERK = svc.Actor(name="录入员", permissions=frozenset(svc.PERMISSIONS))  # may take every step
OPEN_COLUMNS = [AppealOpen.__table__.c[name] for name in (*OPEN_KEYS, "n")]


def kept():
    return sorted(tuple(r) for r in db.session.execute(select(*OPEN_COLUMNS)))


def equal_a_recount():
    """The open cells as kept equal a count of the appeals by the write-time rule (`check`)
    and by the set-based SQL (`recount_open` of every grid gives the same rows)."""
    db.session.flush()
    differences = [d for d in rollups.check(db.session) if d[0].get("table") == "appeal_open"]
    assert differences == [], [rollups.describe(d) for d in differences]
    before = kept()
    rollup_sql.recount_open(db.session.connection(), db.session.scalars(select(Grid.id)).all())
    assert kept() == before
    return True


def open_in(grid):
    """Open (deadline running) appeals now in `grid`'s subtree, counted from the appeals."""
    low, high = grid.path, grid.path[:-1] + "0"
    return db.session.scalar(
        select(func.count())
        .select_from(Appeal)
        .join(Grid, Grid.id == Appeal.grid_id)
        .where(
            Grid.path >= low,
            Grid.path < high,
            Appeal.deleted_at.is_(None),
            Appeal.duplicate_of_id.is_(None),
            Appeal.status.in_(OPEN_STATUSES),
        )
    )


def anchored(grid, **flags):
    """The open cells' count of `grid` (its whole subtree), with flags such as supervised=True."""
    query = select(func.coalesce(func.sum(AppealOpen.n), 0)).where(AppealOpen.anchor_grid_id == grid.id)
    for name, value in flags.items():
        query = query.where(getattr(AppealOpen, name) == value)
    return db.session.scalar(query)


def both_ways(me, paths=None, flags=(), on=None):
    """attention_counts over the open cells and over the day cells (the old query): equal."""
    where = svc.cells_now_in(me, paths)
    cells = svc.open_cells_in(me, paths)
    week_end = (on or clock.today()) + dt.timedelta(days=3)
    from_open = svc.attention_counts(db.session, where, on, cells=cells, week_end=week_end)
    from_days = svc.attention_counts(db.session, where, on, week_end=week_end)
    assert from_open == from_days, (me, paths)
    return from_open


def test_register_and_every_workflow_step(world):
    t = world
    with clock.frozen("2026-03-02 09:00"):
        appeal = make_appeal(t["a1a"], importance="general")
    assert equal_a_recount()
    assert [anchored(t[k]) for k in ("county", "ta", "a1", "a1a", "tb", "a2")] == [1, 1, 1, 1, 0, 0]
    steps = [
        ("assign", {"handler_unit": "民政所"}, {"status": "assigned"}),
        ("start", {}, {"status": "in_progress"}),
        ("supervise", {"note": "三日内办结"}, {"supervised": True}),
        ("extend", {"until": dt.date(2026, 3, 20), "reason": "需协调", "progress": "已联系"}, {"extension": True}),
        ("approve_extension", {"approve": True}, {"extension": False, "due_date": dt.date(2026, 3, 20)}),
        ("feedback", {"reply": "已修好"}, None),  # answered: the deadline no longer runs
        ("evaluate", {"result": "basic"}, None),
        ("archive", {}, None),
    ]
    with clock.frozen("2026-03-05 10:00"):
        for action, data, expected in steps:
            svc.perform(db.session, CLERK, appeal, action, data)
            db.session.commit()
            assert equal_a_recount(), action
            for grid in ("county", "ta", "a1", "a1a"):
                assert anchored(t[grid], **(expected or {})) == (1 if expected else 0), (action, grid)
            assert anchored(t["tb"]) == 0


def test_escalation_moves_the_case_and_its_cells_up(world):
    t = world
    with clock.frozen("2026-03-02 09:00"):
        appeal = make_appeal(t["a2"], status="in_progress")
    assert (anchored(t["a2"]), anchored(t["ta"])) == (1, 1)
    with clock.frozen("2026-03-03 09:00"):
        svc.perform(db.session, CLERK, appeal, "escalate", {"note": "超出本级权限"})  # one UPDATE statement
        db.session.commit()
    db.session.refresh(appeal)
    assert appeal.grid_id == t["ta"].id
    assert equal_a_recount()
    # now in the township itself: the village no longer holds it, the township and county do
    assert (anchored(t["a2"]), anchored(t["ta"]), anchored(t["county"])) == (0, 1, 1)
    assert anchored(t["ta"], status="escalated") == 1
    a2_clerk = Scope(paths=(t["a2"].path,))
    assert both_ways(a2_clerk)["unassigned"] == 0
    assert both_ways(Scope(paths=(t["ta"].path,)))["unassigned"] == 1


def test_soft_delete_restore_and_duplicate(world):
    t = world
    appeal = make_appeal(t["a1"], at="2026-04-01 09:00")
    original = make_appeal(t["a1"], at="2026-04-01 10:00")
    assert anchored(t["ta"]) == 2
    records.delete_record(db.session, appeal)
    db.session.commit()
    assert equal_a_recount() and anchored(t["ta"]) == 1 == open_in(t["ta"])
    records.restore_records(db.session, [appeal])
    db.session.commit()
    assert equal_a_recount() and anchored(t["ta"]) == 2 == open_in(t["ta"])
    svc.perform(db.session, CLERK, appeal, "duplicate", {"original": original.number})
    db.session.commit()
    assert equal_a_recount() and anchored(t["ta"]) == 1 == open_in(t["ta"])  # the original counts, not the repeat


def test_an_import_keeps_the_open_cells(client):
    t = tree()
    login(client, make_user("Clerk", t["ta"]))
    rows = [list(r) for r in load_workbook(io.BytesIO(client.get("/import/template/appeals").data)).active.values]
    rows[1][rows[0].index("网格编码*")] = "TA1"
    rows[1][0] = None
    running = list(rows[1])  # a second row still being handled: its deadline runs
    for header, value in (("状态", "办理中"), ("反馈时间", None), ("答复", None), ("满意度", None), ("评议意见", None)):
        running[rows[0].index(header)] = value
    rows = [rows[0], rows[1], running]
    with clock.frozen("2026-04-02 09:00"):
        assert _upload(client, "appeals", rows).status_code == 200
    db.session.expire_all()
    statuses = sorted(db.session.scalars(select(Appeal.status)).all())
    assert statuses == ["archived", "in_progress"]
    assert equal_a_recount()
    assert (anchored(t["county"]), anchored(t["ta"]), anchored(t["a1"]), anchored(t["tb"])) == (1, 1, 1, 0)
    assert anchored(t["a1"], status="in_progress") == 1


def test_a_grid_move_recounts_the_grids_above(world):
    t = world
    with clock.frozen("2026-04-01 09:00"):
        make_appeal(t["a1a"], status="assigned")
        make_appeal(t["a1"], status="in_progress")
        make_appeal(t["b1"])
    assert (anchored(t["ta"]), anchored(t["tb"])) == (2, 1)
    t["a1"].parent = t["tb"]  # the village and its group move to township B
    db.session.commit()
    assert equal_a_recount()
    assert (anchored(t["ta"]), anchored(t["tb"]), anchored(t["a1"]), anchored(t["a1a"])) == (0, 3, 2, 1)
    assert anchored(t["county"]) == 3
    with clock.frozen("2026-04-02 09:00"):
        assert both_ways(Scope(paths=(t["tb"].path,)))["unassigned"] == 1
        assert both_ways(Scope(paths=(t["ta"].path,)))["unassigned"] == 0


def test_rebuild_and_the_migration_fill_the_same_cells(world):
    t = world
    with clock.frozen("2026-03-02 09:00"):
        for status in ("registered", "assigned", "in_progress", "answered", "escalated"):
            make_appeal(t["a1a"], status=status)
        supervised = make_appeal(t["b1"], status="in_progress")
        svc.perform(db.session, CLERK, supervised, "supervise", {"note": "督办"})
        repeat = make_appeal(t["a2"])
        svc.perform(db.session, CLERK, repeat, "duplicate", {"original": supervised.number})
        records.delete_record(db.session, make_appeal(t["b1a"]))
        db.session.commit()
    before = kept()
    assert sum(row[-1] for row in before if row[0] == t["county"].id) == 5  # 4 open at a1a (one escalated up) + b1
    rollups.rebuild(db.session)
    assert kept() == before
    db.session.execute(AppealOpen.__table__.delete())
    run_migration_fill("0043_open_cells.py")
    assert kept() == before


def test_the_cli_check_names_an_open_cell_that_differs(app, world):
    make_appeal(world["a1"], at="2026-04-01 09:00")
    db.session.execute(AppealOpen.__table__.update().where(AppealOpen.anchor_grid_id == world["ta"].id).values(n=5))
    db.session.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["minqing", "rollups", "check"])
    assert result.exit_code == 1
    assert (
        f"table=appeal_open anchor_grid_id={world['ta'].id}" in result.output and "counted 1, kept 5" in result.output
    )
    result = runner.invoke(args=["minqing", "rollups", "rebuild"])
    assert result.exit_code == 0 and "3 open cells" in result.output  # county, township, village
    assert runner.invoke(args=["minqing", "rollups", "check"]).exit_code == 0


@pytest.fixture
def busy(world):
    """Open appeals of every kind in both townships, a second county, and one in each state
    that does not run (answered, a duplicate, a deleted one)."""
    t = world
    t["other"] = make_grid("另一县", rank=0, code="C9")
    t["o1"] = make_grid("另一村", t["other"], code="C9V")
    with clock.frozen("2026-03-02 09:00"):
        for grid, status in (("a1a", "registered"), ("a1", "assigned"), ("a2", "in_progress"), ("b1", "in_progress"),
                             ("b1a", "registered"), ("o1", "assigned"), ("a1a", "answered"), ("tb", "registered")):  # fmt: skip
            make_appeal(t[grid], status=status)
        watched = make_appeal(t["a2"], status="in_progress", importance="important")
        svc.perform(db.session, CLERK, watched, "supervise", {"note": "督办"})
        late = make_appeal(t["b1a"], status="in_progress")
        svc.perform(
            db.session, CLERK, late, "extend", {"until": dt.date(2026, 4, 1), "reason": "需协调", "progress": "已联系"}
        )
        repeat = make_appeal(t["a1"])
        svc.perform(db.session, CLERK, repeat, "duplicate", {"original": watched.number})
        records.delete_record(db.session, make_appeal(t["b1"]))
        db.session.commit()
    return t


def test_same_numbers_as_the_day_cells_for_every_kind_of_scope(busy):
    t = busy
    scopes = {
        "admin": (EVERYTHING, None),  # two top grids: both counted
        "admin, one county": (EVERYTHING, (t["county"].path,)),
        "township leader": (Scope(paths=(t["ta"].path,)), None),
        "leader of two villages in two townships": (Scope(paths=(t["a1"].path, t["b1"].path)), None),
        "township leader, one village": (Scope(paths=(t["ta"].path,)), (t["a1"].path,)),
        "two roots, area one of them": (Scope(paths=(t["a2"].path, t["tb"].path)), (t["tb"].path,)),
        "area above the scope": (Scope(paths=(t["a1a"].path,)), (t["county"].path,)),
        "area outside the scope": (Scope(paths=(t["ta"].path,)), (t["tb"].path,)),
        "nobody": (Scope(), None),
    }
    for day in ("2026-03-02", "2026-03-08", "2026-03-09", "2026-03-31", "2026-04-02"):
        on = dt.date.fromisoformat(day)
        seen = {name: both_ways(me, paths, on=on) for name, (me, paths) in scopes.items()}
        # running: a1a, a1, a2, b1, b1a, o1, tb, the supervised and the extended one (not the
        # answered one, the duplicate or the deleted one)
        assert seen["admin"]["open"] == 9 and seen["admin, one county"]["open"] == 8
        assert seen["nobody"] == dict.fromkeys(seen["nobody"], 0)
        assert seen["area outside the scope"] == seen["nobody"]
    # what each count holds, on one day: the whole county and the other one
    admin = both_ways(EVERYTHING, on=dt.date(2026, 3, 2))
    assert admin["supervised"] == 1 and admin["extension"] == 1
    assert admin["unassigned"] == 3  # a1a, b1a, tb registered (o1 assigned; the repeat is a duplicate)
    with clock.frozen("2026-03-10 09:00"):  # overdue moves with the clock, read from the same cells
        assert both_ways(EVERYTHING)["overdue"] > 0 == both_ways(EVERYTHING, on=dt.date(2026, 3, 2))["overdue"]


def test_another_grids_leader_sees_only_theirs(app, client, busy):
    t = busy
    with app.test_request_context(), clock.frozen("2026-03-03 09:00"):
        for township, other in (("ta", "tb"), ("tb", "ta")):
            me = Scope(paths=(t[township].path,))
            g._minqing_scope = (None, me)
            area = dash.choose_area(db.session, me)
            attention = dash.attention(db.session, area)
            assert attention["open"] == open_in(t[township])
            _, counted = lists.list_counts(db.session)
            assert counted == {k: v for k, v in attention.items() if k not in ("open", "due_week")}
            # what lies in the other township is in none of them
            assert open_in(t[other]) > 0 and attention["open"] < open_in(t["county"])
            _, unassigned = lists.list_counts(db.session, ("unassigned",))
            assert unassigned["unassigned"] == attention["unassigned"] and unassigned["supervised"] == 0
            _, mine = lists.list_counts(db.session, ("mine",))  # not in the open cells: the day cells answer
            assert mine == dict.fromkeys(mine, 0)
    leader = make_user("Leader", t["tb"])
    login(client, leader)
    with clock.frozen("2026-03-03 09:00"):
        assert client.get("/", follow_redirects=True).status_code == 200
        assert client.get("/dashboard/").status_code == 200
