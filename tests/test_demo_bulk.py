"""`flask minqing demo --scale county|medium`: the bulk generator, run at its tiny scale."""

import re

import pytest
from sqlalchemy import MetaData, Table, func, inspect, select, text

from app.demo.bulk import SCALES, load_bulk
from app.extensions import db
from app.models.appeals import Appeal, AppealCounter, AppealEvent, Status
from app.models.grids import Grid
from app.models.personnel import Assignment, Person
from app.models.representatives import ContactRecord, Representative
from app.models.visits import Visit, VisitGridTally, visit_visitors
from app.services import follow_ups, rollups, scope, search, tally
from app.services.quotas import cells as quota_cells
from tests.conftest import login


def _triggers():
    if db.session.get_bind().dialect.name != "sqlite":
        return None
    return sorted(db.session.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")).all())


def _indices():
    """Every index of the database by table (the loader drops the bulk and count tables' own and builds them again)."""
    inspector = inspect(db.session.connection())
    return {t: sorted(i["name"] for i in inspector.get_indexes(t)) for t in inspector.get_table_names()}


KEPT_COUNTS = ("appeal_rollup", "appeal_summary", "appeal_open", "appeal_state", "visit_tally", "visit_grid_tally")


def _rows_of(name):
    """Every row of the table `name` as stored (its own id left out), sorted."""
    table = Table(name, MetaData(), autoload_with=db.session.connection())
    columns = [column for column in table.columns if column.name != "id"]
    return sorted(tuple(row) for row in db.session.execute(select(*columns)))


def _count(model_or_table):
    return db.session.scalar(select(func.count()).select_from(model_or_table))


@pytest.mark.commits  # the bulk loader sets pragmas and drops indices outside a transaction
def test_bulk_demo_tiny_scale_is_consistent_and_scoped(app, client):
    shape = SCALES["tiny"]
    triggers = _triggers()
    indices = _indices()
    db.session.rollback()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["minqing", "demo", "--scale", "tiny"])
    assert result.exit_code == 0, result.output
    session = db.session

    # counts: the shape's, plus what the demo logins add through the services
    assert _count(Grid) == shape.grids
    assert shape.people <= _count(Person) <= shape.people + 6
    assert _count(Assignment) >= shape.people
    assert _count(Appeal) == shape.appeals
    assert _count(Visit) == shape.visits
    assert _count(visit_visitors) >= shape.visits
    assert shape.representatives <= _count(Representative) <= shape.representatives + 1
    assert _count(ContactRecord) == shape.representatives * shape.contacts_per_rep

    # paths as the Grid listeners compute them: the parent's path plus the own id
    grids = {g.id: g for g in session.scalars(select(Grid))}
    for grid in grids.values():
        parent_path = grids[grid.parent_id].path if grid.parent_id else "/"
        assert grid.path == f"{parent_path}{grid.id}/"
        assert grid.depth == grid.path.count("/") - 2
    assert len({g.code for g in grids.values()}) == len(grids)

    # numbers: unique, YYYYMM + sequence, gap-free per month, counters at the last number
    rows = session.execute(select(Appeal.number, Appeal.number_month, Appeal.number_seq, Appeal.registered_at)).all()
    assert len({r.number for r in rows}) == len(rows)
    by_month = {}
    for r in rows:
        assert re.fullmatch(r"\d{9,}", r.number) and r.number.startswith(r.number_month)
        assert r.registered_at.strftime("%Y%m") == r.number_month
        by_month.setdefault(r.number_month, []).append(r.number_seq)
    counters = dict(session.execute(select(AppealCounter.month, AppealCounter.last_seq)).all())
    for month, seqs in by_month.items():
        assert sorted(seqs) == list(range(1, len(seqs) + 1))
        assert counters[month] == len(seqs)
    # every state is present, deadlines set, every appeal has its register event
    statuses = set(session.scalars(select(Appeal.status).distinct()))
    assert set(Status.codes()) - {Status.ESCALATED} <= statuses
    assert _count(select(Appeal.id).where(Appeal.due_date.is_(None)).subquery()) == 0
    assert _count(select(AppealEvent.id).where(AppealEvent.action == "register").subquery()) == shape.appeals
    assert _count(select(Appeal.id).where(Appeal.deleted_at.is_not(None)).subquery()) == 0
    assert set(session.scalars(select(Visit.version).distinct())) == {1}

    # the triggers the loader dropped are back, and the text search (built once at the end on
    # SQLite) finds what the rows hold
    assert _triggers() == triggers
    assert _indices() == indices
    if session.get_bind().dialect.name == "postgresql":  # a partitioned table's index made on every partition
        assert session.scalar(text("SELECT count(*) FROM pg_index WHERE NOT indisvalid")) == 0
    # the kept counts agree with a recount: visit tally, follow-ups still to make (written by the
    # loader itself), quota cells, appeal cells
    assert tally.check(session) == []
    assert follow_ups.check(session) == []
    assert quota_cells.differences(session) == []
    assert rollups.check(session) == []
    # the cells and the tally the loader counted from its own notes are, row for row, what the
    # set-based recounts (`flask minqing rollups rebuild`) write from the tables
    written = {table: _rows_of(table) for table in KEPT_COUNTS}
    rollups.rebuild(session)
    tally.rebuild(session, follow_ups_too=False)
    assert {table: _rows_of(table) for table in KEPT_COUNTS} == written
    assert all(written.values())
    session.commit()
    planned = _count(select(Visit.id).where(Visit.follow_up_date.is_not(None)).subquery())
    assert 0 < planned == _count(select(Visit.id).where(Visit.follow_up_open == Visit.follow_up_date).subquery())
    appeal = session.scalar(select(Appeal).order_by(Appeal.id.desc()))
    for column, term in ((Appeal.content, appeal.content[:4]), (Appeal.reporter_name, appeal.reporter_name[-3:])):
        found = _count(select(Appeal.id).where(search.contains(column, term)).subquery())
        assert 0 < found == _count(select(Appeal.id).where(search.plain(column, term)).subquery())

    # scope still works: the village grid worker sees exactly the appeals of the village's subtree
    worker = app.appbuilder.sm.find_user(username="gridworker")
    mine = scope.for_user(session, worker)
    assert len(mine.paths) == 1
    village_path = mine.paths[0]
    in_scope = session.scalar(select(func.count()).select_from(Appeal).where(scope.clause_for(Appeal, mine)))
    expected = sum(1 for a in session.scalars(select(Appeal)) if grids[a.grid_id].path.startswith(village_path))
    assert 0 < in_scope == expected < shape.appeals
    outsider = session.scalar(
        select(Appeal).where(Appeal.grid_id.in_([g.id for g in grids.values() if not g.path.startswith(village_path)]))
    )
    login(client, "gridworker", app.config["DEMO_PASSWORD"])
    assert client.get("/appealview/list/").status_code == 200
    assert client.get(f"/appealview/show/{outsider.id}").status_code == 404

    # the generated database is still writable through the ordinary services (sequences set)
    again = runner.invoke(args=["minqing", "demo", "--scale", "tiny"])
    assert again.exit_code != 0  # never on top of existing data


@pytest.mark.commits
def test_a_city_of_counties_loads_with_a_level_above_them(app):
    """The city scale's shape, tiny: a city (level ranked -1) above three counties, each a
    county as the county scale makes it; the roll-ups and the tally agree with a recount."""
    shape = SCALES["tinycity"]
    summary = load_bulk(db.session, app.appbuilder.sm, "tinycity", progress=lambda message: None)
    assert summary["grids"] == _count(Grid) == shape.grids == 1 + 3 * (1 + 2 * (1 + 2 * (1 + 2)))
    grids = {g.id: g for g in db.session.scalars(select(Grid))}
    (city,) = [g for g in grids.values() if g.parent_id is None]
    assert city.level.rank == -1 and city.depth == 0
    counties = [g for g in grids.values() if g.parent_id == city.id]
    assert len(counties) == 3 and {c.level.rank for c in counties} == {0} and {c.depth for c in counties} == {1}
    for grid in grids.values():
        parent_path = grids[grid.parent_id].path if grid.parent_id else "/"
        assert grid.path == f"{parent_path}{grid.id}/" and grid.depth == grid.path.count("/") - 2
    assert len({g.code for g in grids.values()}) == len(grids)
    # every county has appeals and visits of its own
    for county in counties:
        inside = select(Grid.id).where(Grid.path.startswith(county.path))
        assert _count(select(Appeal.id).where(Appeal.grid_id.in_(inside)).subquery()) > 0
        assert _count(select(Visit.id).where(Visit.grid_id.in_(inside)).subquery()) > 0
    assert rollups.check(db.session) == []
    before = sorted(tuple(r) for r in db.session.execute(select(VisitGridTally.__table__)))
    tally.rebuild(db.session)
    assert sorted(tuple(r) for r in db.session.execute(select(VisitGridTally.__table__))) == before


@pytest.mark.commits
def test_the_city_scale_is_refused_on_sqlite_with_the_reason(app):
    if db.session.get_bind().dialect.name != "sqlite":
        pytest.skip("the refusal is SQLite's")
    result = app.test_cli_runner().invoke(args=["minqing", "demo", "--scale", "city"])
    assert result.exit_code != 0 and "PostgreSQL" in result.output and "只能装入 PostgreSQL" in result.output
    assert _count(Grid) == 0
