"""The appeal roll-ups (app/services/rollups.py): kept in the writing transaction by every
kind of write, equal to a count of the appeals after each one, rebuilt and checked by the
CLI, and judged against the clock when read (overdue needs no job).

tests/conftest.py also checks the roll-ups against the appeals after every test."""

import datetime as dt
import io

import pytest
from flask import g
from openpyxl import load_workbook
from sqlalchemy import func, select, text, update

from app.core import clock
from app.extensions import db
from app.models.appeals import SUMMARY_KEYS, SUMMARY_MEASURES, Appeal, AppealRollup, AppealSummary
from app.models.lookups import AppealCategory
from app.services import appeals as svc
from app.services import dashboard as dash
from app.services import records, rollups, stats
from app.services.appeals import lists
from app.services.scope import EVERYTHING, Scope
from tests.conftest import login, run_migration_fill
from tests.factories import make_appeal, make_person, make_user, make_visit, tree
from tests.test_import import _upload

CLERK = svc.Actor(name="录入员", permissions=frozenset(svc.PERMISSIONS))  # may take every step


def agree():
    differences = rollups.check(db.session)
    assert differences == [], [rollups.describe(d) for d in differences]
    return True


def cells():
    return db.session.scalar(select(func.coalesce(func.sum(AppealRollup.n), 0)))


def test_every_write_keeps_the_rollups(world):
    t = world
    with clock.frozen("2026-03-02 09:00"):
        appeal = make_appeal(t["a1"], importance="general")
        other = make_appeal(t["a2"], status="in_progress")
    assert agree() and cells() == 2
    steps = [
        ("assign", {"handler_unit": "民政所"}),
        ("start", {}),
        ("supervise", {"note": "三日内办结"}),
        ("extend", {"until": dt.date(2026, 3, 20), "reason": "需协调", "progress": "已联系"}),
        ("approve_extension", {"approve": True}),
        ("feedback", {"reply": "已修好"}),
        ("evaluate", {"result": "basic"}),
        ("archive", {}),
    ]
    with clock.frozen("2026-03-05 10:00"):
        for action, data in steps:
            svc.perform(db.session, CLERK, appeal, action, data)
            db.session.commit()
            assert agree(), action
        # escalation moves the case up with one UPDATE statement
        svc.perform(db.session, CLERK, other, "escalate", {"note": "超出本级权限"})
        db.session.commit()
        assert agree()
        db.session.refresh(other)
        assert other.grid_id == t["ta"].id
        moved = db.session.scalar(select(AppealRollup).where(AppealRollup.grid_id == t["ta"].id))
        assert moved.n == 1 and moved.escalated and moved.origin_grid_id == t["a2"].id


def test_corrections_of_grid_category_and_importance_move_the_cell(world):
    t = world
    appeal = make_appeal(t["a1"], at="2026-04-01 09:00")
    category = AppealCategory(name="路灯照明测试", sort_order=99)
    db.session.add(category)
    db.session.commit()
    with clock.frozen("2026-04-02 09:00"):
        appeal.grid = t["a2"]
        appeal.category = category
        appeal.importance = "important"
        svc.update_registration(db.session, CLERK, appeal, note="更正")
        db.session.commit()
    assert agree()
    (cell,) = db.session.scalars(select(AppealRollup)).all()
    assert (cell.grid_id, cell.origin_grid_id, cell.category_id, cell.importance) == (
        t["a2"].id,
        t["a2"].id,
        category.id,
        "important",
    )
    assert cell.due_date == dt.date(2026, 5, 1)  # the new deadline: one month


def test_soft_delete_restore_and_hard_delete(world):
    appeal = make_appeal(world["a1"], at="2026-04-01 09:00")
    make_appeal(world["a1"], at="2026-04-01 10:00")
    records.delete_record(db.session, appeal)
    db.session.commit()
    assert agree() and cells() == 1  # a deleted appeal counts nowhere
    records.restore_records(db.session, [appeal])
    db.session.commit()
    assert agree() and cells() == 2
    db.session.delete(appeal)
    db.session.commit()
    assert agree() and cells() == 1


def test_a_failed_write_leaves_the_rollups_as_they_were(world):
    make_appeal(world["a1"], at="2026-04-01 09:00")
    before = cells()
    appeal = make_appeal(world["a1"], at="2026-04-01 10:00")
    appeal.status = "no such state"  # the CHECK constraint refuses it
    with pytest.raises(Exception):  # noqa: B017,PT011 - any database refusal will do
        db.session.flush()
    db.session.rollback()
    assert agree() and cells() == before + 1


def test_statements_on_appeals_keep_the_rollups(world):
    """An UPDATE or DELETE of appeals run through the session (not the ORM's objects)."""
    a = make_appeal(world["a1"], at="2026-04-01 09:00")
    make_appeal(world["a2"], at="2026-04-01 09:00")
    db.session.execute(update(Appeal).where(Appeal.id == a.id).values(supervised=True, version=Appeal.version + 1))
    assert agree()
    db.session.execute(update(Appeal).values(importance="important"))
    assert agree()
    db.session.commit()
    assert db.session.scalar(select(func.count()).where(AppealRollup.importance == "important")) == 2


def test_an_import_keeps_the_rollups(client):
    """Appeals typed in from an Excel ledger (the template as downloaded, its example row)."""
    t = tree()
    login(client, make_user("Clerk", t["ta"]))
    rows = [list(r) for r in load_workbook(io.BytesIO(client.get("/import/template/appeals").data)).active.values]
    rows[1][rows[0].index("网格编码*")] = "TA1"
    rows[1][0] = None
    with clock.frozen("2026-04-02 09:00"):
        assert _upload(client, "appeals", rows).status_code == 200
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Appeal)) == 1
    assert agree() and cells() == 1


def test_overdue_moves_with_the_clock_without_any_job(world, client):
    """Registered on 2 March (general: due 9 March). Nothing is written afterwards; the
    figures read on each day say what is overdue that day."""
    appeal = make_appeal(world["a1"], status="in_progress", at="2026-03-02 09:00")
    assert appeal.due_date == dt.date(2026, 3, 9)
    area = dash.choose_area(db.session, EVERYTHING, world["ta"].id)
    period = dash.Period(dt.date(2026, 3, 1), dt.date(2026, 3, 31))
    where = svc.cells_now_in(Scope(paths=(world["a1"].path,)))
    leader = make_user("Leader", world["ta"])
    login(client, leader)
    for day, overdue, soon in (("2026-03-06", 0, 0), ("2026-03-09", 0, 1), ("2026-03-10", 1, 0)):
        with clock.frozen(f"{day} 08:00"):
            counts = svc.attention_counts(db.session, where)
            assert (counts["overdue"], counts["due_soon"]) == (overdue, soon), day
            assert (
                stats.appeal_figures_in(db.session, (world["ta"].path,), period.start, period.end)["overdue"] == overdue
            )
            assert dash.attention(db.session, area)["overdue"] == overdue
            # the dashboard's whole-month figures come from the summary cells: the same answer
            assert stats.summary_serves(period.start, period.end)
            assert dash.figures(db.session, EVERYTHING, area, period)["figures"]["overdue"] == overdue
            page = client.get(f"/dashboard/?grid={world['ta'].id}&start=2026-03-01&end=2026-03-31")
            assert page.status_code == 200
    assert agree()


def test_list_counts_read_the_rollups_of_the_scope(app, world):
    """The counts above the list sum cells in the user's scope: another township's are not there."""
    make_appeal(world["a1"], status="assigned", at="2026-04-01 09:00")
    make_appeal(world["a2"], status="registered", at="2026-04-01 09:00")
    make_appeal(world["b1"], status="assigned", at="2026-04-01 09:00")
    with app.test_request_context(), clock.frozen("2026-04-02 09:00"):
        g._minqing_scope = (None, Scope(paths=(world["ta"].path,)))  # a user of township A
        by_status, attention = lists.list_counts(db.session)
        assert by_status == {"assigned": 1, "registered": 1}
        assert attention["unassigned"] == 1
        by_status, attention = lists.list_counts(db.session, ("unassigned",))
        assert by_status == {"registered": 1}


def test_the_cli_checks_names_differences_and_rebuilds(app, world):
    make_appeal(world["a1"], at="2026-04-01 09:00")
    make_appeal(world["a2"], status="answered", at="2026-04-02 09:00")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["minqing", "rollups", "check"])
    assert result.exit_code == 0 and "一致" in result.output
    db.session.execute(text("UPDATE appeal_rollup SET n = n + 1 WHERE status = 'answered'"))
    db.session.commit()
    result = runner.invoke(args=["minqing", "rollups", "check"])
    assert result.exit_code == 1
    assert f"grid_id={world['a2'].id}" in result.output and "status=answered" in result.output
    assert "counted 1, kept 2" in result.output and "1 cells differ" in result.output
    result = runner.invoke(args=["minqing", "rollups", "rebuild"])
    assert result.exit_code == 0 and "2 day cells, 6 summary cells" in result.output  # 6: two appeals, three grids up
    assert agree()
    assert runner.invoke(args=["minqing", "rollups", "check"]).exit_code == 0


def test_rebuild_equals_what_the_writes_kept(world):
    for i, status in enumerate(("registered", "assigned", "in_progress", "answered", "evaluated", "archived")):
        make_appeal(world["a1" if i % 2 else "b1"], status=status, at=f"2026-0{i % 3 + 1}-1{i} 09:00")
    repeat = make_appeal(world["a2"])
    svc.perform(db.session, CLERK, repeat, "duplicate", {"original": make_appeal(world["a2"]).number})
    kept = sorted(tuple(r) for r in db.session.execute(select(*ROLLUP_COLUMNS)))
    summary = sorted(tuple(r) for r in db.session.execute(select(*SUMMARY_COLUMNS)))
    assert len(summary) >= 6  # every appeal in its grid's cell and in each grid above it
    rollups.rebuild(db.session)  # set-based SQL (app.services.rollup_sql): the same cells as the writes kept
    assert sorted(tuple(r) for r in db.session.execute(select(*ROLLUP_COLUMNS))) == kept
    assert sorted(tuple(r) for r in db.session.execute(select(*SUMMARY_COLUMNS))) == summary


ROLLUP_COLUMNS = [AppealRollup.__table__.c[name] for name in (*rollups.ROLLUP_DIMENSIONS, "n")]
SUMMARY_COLUMNS = [AppealSummary.__table__.c[name] for name in (*SUMMARY_KEYS, *SUMMARY_MEASURES)]


def test_the_migration_fills_the_same_cells_as_the_writes(world):
    """0031 fills the table with SQL of its own: it must agree with `cell_of`."""

    with clock.frozen("2026-03-02 09:00"):
        for status in ("registered", "assigned", "in_progress", "answered", "evaluated", "archived", "escalated"):
            make_appeal(world["a1"], status=status)
        supervised = make_appeal(world["a2"], status="in_progress")
        svc.perform(db.session, CLERK, supervised, "supervise", {"note": "督办"})
        repeat = make_appeal(world["a2"])
        svc.perform(db.session, CLERK, repeat, "duplicate", {"original": supervised.number})
        gone = make_appeal(world["b1"], petition_bypass=True)
        records.delete_record(db.session, gone)
        db.session.commit()
    kept = sorted(tuple(r) for r in db.session.execute(select(*ROLLUP_COLUMNS)))
    db.session.execute(AppealRollup.__table__.delete())
    run_migration_fill("0031_appeal_rollups.py")
    assert sorted(tuple(r) for r in db.session.execute(select(*ROLLUP_COLUMNS))) == kept
    # 0044 (0041's cells without the channel, 发现 a column) fills the summary cells with SQL
    # of its own: the same as `summary_of` kept
    summary = sorted(tuple(r) for r in db.session.execute(select(*SUMMARY_COLUMNS)))
    db.session.execute(AppealSummary.__table__.delete())
    run_migration_fill("0044_summary_found.py")
    assert sorted(tuple(r) for r in db.session.execute(select(*SUMMARY_COLUMNS))) == summary
    assert agree()


def test_a_grid_move_takes_its_appeals_figures_along(world):
    """Cells name grids by id and are summed over path ranges when read: moving a village to
    another township moves its figures with it, with nothing to update."""
    make_appeal(world["a1"], status="assigned", at="2026-04-01 09:00")
    ta, tb = (world["ta"].path,), (world["tb"].path,)
    april = dash.Period(dt.date(2026, 4, 1), dt.date(2026, 4, 30))

    def dashboard_collected(grid):
        area = dash.choose_area(db.session, EVERYTHING, grid.id)
        return dash.figures(db.session, EVERYTHING, area, april)["figures"]["collected"]

    def by_child(grid):  # the county's accountability rows: one per township
        area = dash.choose_area(db.session, EVERYTHING, grid.id)
        rows, _people, _at = dash.accountability(db.session, area, april)
        return {row.label: row.figures["collected"] for row in rows}

    assert stats.appeal_figures_in(db.session, ta)["collected"] == 1
    assert (dashboard_collected(world["ta"]), dashboard_collected(world["tb"])) == (1, 0)
    world["a1"].parent = world["tb"]
    db.session.commit()
    db.session.refresh(world["a1"])
    assert world["a1"].path.startswith(world["tb"].path)
    assert stats.appeal_figures_in(db.session, ta)["collected"] == 0
    assert stats.appeal_figures_in(db.session, tb)["collected"] == 1
    # the summary cells of the townships above were counted again in the same flush
    assert (dashboard_collected(world["ta"]), dashboard_collected(world["tb"])) == (0, 1)
    assert dashboard_collected(world["county"]) == 1
    assert by_child(world["county"])[world["tb"].name] == 1 and by_child(world["county"])[world["ta"].name] == 0
    where = svc.cells_now_in(Scope(paths=tb))
    assert (
        db.session.scalar(
            select(svc.cell_sum(AppealRollup.status == "assigned"))
            .select_from(AppealRollup)
            .join(svc.NOW_GRID, svc.NOW_GRID.id == AppealRollup.grid_id)
            .where(where)
        )
        == 1
    )
    assert agree()


def test_the_cli_checks_and_rebuilds_the_visit_tally_too(app, world):
    """Visits made and the 走访率 read the grid tally: `rollups check` compares it (and the person
    tally) with a count of the visits and `rollups rebuild` counts it again."""
    make_visit(
        world["a1"], [make_person(world["a1"], name="走访人")], visit_date=dt.date(2026, 4, 3), address="幸福路1号"
    )
    runner = app.test_cli_runner()
    assert runner.invoke(args=["minqing", "rollups", "check"]).exit_code == 0
    db.session.execute(text("UPDATE visit_grid_tally SET visits = visits + 2 WHERE period = 'month'"))
    db.session.commit()
    result = runner.invoke(args=["minqing", "rollups", "check"])
    assert result.exit_code == 1 and "visit tally visit_grid_tally" in result.output
    assert "0 cells differ; 2 tally rows differ" in result.output  # the row counted and the row kept
    result = runner.invoke(args=["minqing", "rollups", "rebuild"])
    assert result.exit_code == 0 and "visit tally: 4 rows" in result.output  # week, month, quarter, year
    assert runner.invoke(args=["minqing", "rollups", "check"]).exit_code == 0
