"""The visit tally: per visitor and calendar period, visits made and households visited.

The quotas (`app.services.quotas`) judge each person's visits of a month or a year.
Counted from the visits, a county's yearly figures read over a million visits on
every view; the tally (table `visit_tally`) keeps the two numbers per (person,
period) and is what the quotas read.

It is kept on every write of a visit made through the ORM (the forms, the API, the
recycle bin, the small demo): before a flush the (visitor, period) pairs a change
touches are noted — the visit's visitors before and after, its date before and
after — and after the flush those pairs are counted again from the visits, in the
same transaction. Counting again (rather than adding one) keeps it right whatever
changed: the address (households), the visitors, the date, a soft delete. Two
writers touching the same person take turns: the person rows are locked first
(PostgreSQL; SQLite writes one at a time anyway), so the second counts after the
first has committed.

Writes that bypass the ORM (the bulk demo loader, a restore, hand-made SQL) must be
followed by `rebuild()`: `flask minqing rebuild-tallies`.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy import distinct, event, func, literal, select, text
from sqlalchemy.orm import Session

from app.models.personnel import Person
from app.models.visits import Visit, VisitGridTally, VisitTally, visit_visitors
from app.services import follow_ups

_PENDING = "minqing_tally_pending"
_PENDING_GRIDS = "minqing_grid_tally_pending"
TALLY = VisitTally.__table__
GRID_TALLY = VisitGridTally.__table__
COLUMNS = ["period", "start", "person_id", "visits", "households"]
PERIODS = ("week", "month", "quarter", "year")
VISITORS_JOIN = "visit v JOIN visit_visitor vv ON vv.visit_id = v.id"
GRID_COLUMNS = ["period", "start", "grid_id", "visits", "households"]


def period_start(period, day):
    """The first day of the week (Monday), month, quarter or year holding `day`."""
    if period == "week":
        return day - dt.timedelta(days=day.weekday())
    if period == "quarter":
        return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    if period == "year":
        return day.replace(month=1, day=1)
    return day.replace(day=1)


def period_starts(day):
    """The (period, first day) pairs a visit on `day` counts in."""
    return tuple((period, period_start(period, day)) for period in ("week", "month", "quarter", "year"))


def _months_later(start, months):
    index = start.year * 12 + start.month - 1 + months
    return start.replace(year=index // 12, month=index % 12 + 1, day=1)


def period_end(period, start):
    if period == "week":
        return start + dt.timedelta(days=6)
    months = {"month": 1, "quarter": 3, "year": 12}[period]
    return _months_later(start, months) - dt.timedelta(days=1)


@event.listens_for(Session, "before_flush")
def _note_changes(session, flush_context, instances):
    """Note the visitors and days of every visit about to change: as the object says
    now, and as the database still says (its date and visitors before the change,
    whatever the ORM had loaded)."""
    visits = [v for v in (*session.new, *session.dirty, *session.deleted) if isinstance(v, Visit)]
    if not visits:
        return
    pending = session.info.setdefault(_PENDING, [])
    grids = session.info.setdefault(_PENDING_GRIDS, set())
    for visit in visits:
        if visit.visit_date is not None and visit not in session.deleted:
            pending.append((list(visit.visitors or ()), {visit.visit_date}))
            grid_id = visit.grid.id if visit.grid is not None else visit.grid_id
            grids.add((grid_id, visit.visit_date))
    stored = [v.id for v in visits if v.id is not None]
    if stored:
        rows = session.connection().execute(
            select(Visit.visit_date, visit_visitors.c.person_id)
            .join(visit_visitors, visit_visitors.c.visit_id == Visit.id)
            .where(Visit.id.in_(stored))
        )
        for day, person_id in rows:
            pending.append(([person_id], {day}))
        for day, grid_id in session.connection().execute(
            select(Visit.visit_date, Visit.grid_id).where(Visit.id.in_(stored))
        ):
            grids.add((grid_id, day))


@event.listens_for(Session, "after_flush")
def _recount_changes(session, flush_context):
    grids = session.info.pop(_PENDING_GRIDS, None)
    if grids:
        grid_keys = defaultdict(set)  # (period, start) -> grid ids
        for grid_id, day in grids:
            for key in period_starts(day):
                grid_keys[key].add(grid_id)
        recount_grids(session, grid_keys)
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    keys = defaultdict(set)  # (period, start) -> person ids
    for people, days in pending:
        ids = {p if isinstance(p, int) else p.id for p in people} - {None}
        for day in days:
            for key in period_starts(day):
                keys[key].update(ids)
    recount(session, keys)


@event.listens_for(Session, "after_rollback")
def _forget_pending(session):
    session.info.pop(_PENDING, None)
    session.info.pop(_PENDING_GRIDS, None)


def _counts(period, start, person_ids=None):
    """SELECT period, start, person id, visits, households counted from the visits."""
    query = (
        select(
            literal(period).label("period"),
            literal(start).label("start"),
            visit_visitors.c.person_id,
            func.count(visit_visitors.c.visit_id),
            func.count(distinct(Visit.household_key)),
        )
        .join(Visit, Visit.id == visit_visitors.c.visit_id)
        .where(Visit.visit_date >= start, Visit.visit_date <= period_end(period, start), Visit.deleted_at.is_(None))
        .group_by(visit_visitors.c.person_id)
    )
    if person_ids is not None:
        query = query.where(visit_visitors.c.person_id.in_(person_ids))
    return query


def recount(session, keys):
    """Count again the tally of each {(period, start): person ids} from the visits
    (on the session's connection: it runs inside a flush)."""
    everyone = sorted({pid for ids in keys.values() for pid in ids})
    if not everyone:
        return
    conn = session.connection()
    # one writer at a time per person: the second counts what the first committed
    conn.execute(select(Person.id).where(Person.id.in_(everyone)).order_by(Person.id).with_for_update())
    for (period, start), ids in keys.items():
        ids = sorted(ids)
        if not ids:
            continue
        conn.execute(TALLY.delete().where(TALLY.c.period == period, TALLY.c.start == start, TALLY.c.person_id.in_(ids)))
        conn.execute(TALLY.insert().from_select(COLUMNS, _counts(period, start, ids)))


def _grid_counts(period, start, grid_ids=None):
    """SELECT period, start, grid id, visits, distinct households counted from the visits."""
    query = (
        select(
            literal(period).label("period"),
            literal(start).label("start"),
            Visit.grid_id,
            func.count(Visit.id),
            func.count(distinct(Visit.household_key)),
        )
        .where(Visit.visit_date >= start, Visit.visit_date <= period_end(period, start), Visit.deleted_at.is_(None))
        .group_by(Visit.grid_id)
    )
    if grid_ids is not None:
        query = query.where(Visit.grid_id.in_(grid_ids))
    return query


def recount_grids(session, keys):
    """Count again the grid tally (the 走访率's households) of each {(period, start): grid ids}."""
    conn = session.connection()
    for (period, start), ids in keys.items():
        ids = sorted(i for i in ids if i is not None)
        if not ids:
            continue
        table = GRID_TALLY
        conn.execute(table.delete().where(table.c.period == period, table.c.start == start, table.c.grid_id.in_(ids)))
        conn.execute(table.insert().from_select(GRID_COLUMNS, _grid_counts(period, start, ids)))


def _start_sql(period, dialect):
    """SQL: the first day of the `period` holding v.visit_date (as `period_start` says)."""
    if dialect == "postgresql":
        return f"CAST(date_trunc('{period}', v.visit_date) AS DATE)"  # PostgreSQL's weeks start on Monday too
    return {
        "week": "date(v.visit_date, 'weekday 0', '-6 days')",
        "month": "date(v.visit_date, 'start of month')",
        "quarter": "date(v.visit_date, 'start of month', "
        "'-' || ((CAST(strftime('%m', v.visit_date) AS INTEGER) - 1) % 3) || ' months')",
        "year": "date(v.visit_date, 'start of year')",
    }[period]


def rebuild(session, progress=None, follow_ups_too=True):
    """Count the whole tally (per person and per grid) again from the visits: on PostgreSQL one
    GROUP BY GROUPING SETS per table, on SQLite one ordered pass per table (a county's three
    million visits are read twice, not once per week, month, quarter and year). `follow_ups_too=False`: the caller wrote
    `visit.follow_up_open` right itself (the bulk loader), so the visits are not rewritten."""
    conn = session.connection()
    conn.execute(TALLY.delete())
    conn.execute(GRID_TALLY.delete())
    dialect = conn.dialect.name
    if dialect == "postgresql":
        _rebuild_grouping_sets(conn)
        if progress:
            progress("week, month, quarter, year")
    else:
        _rebuild_in_order(conn)
        if progress:
            progress("week, month, quarter, year")
    if follow_ups_too:
        follow_ups.rebuild(session)  # the other figure kept on the visit rows: the follow-ups still to make
    return conn.execute(select(func.count()).select_from(TALLY)).scalar()


def _rebuild_in_order(conn, batch=50_000):
    """SQLite: each table counted in one pass over the visits in the order of the person (grid)
    and day, the four periods' current cells kept in Python and written when their period ends.
    SQLite has no GROUPING SETS: one GROUP BY per period kind sorted a county's visits eight
    times with a distinct count each (six minutes); this reads them twice, in index order."""
    starts = {}
    for table, columns, who, source in (
        ("visit_tally", COLUMNS, "vv.person_id", VISITORS_JOIN),
        ("visit_grid_tally", GRID_COLUMNS, "v.grid_id", "visit v"),
    ):
        insert = f"INSERT INTO {table} ({', '.join(columns)}) VALUES (?, ?, ?, ?, ?)"
        rows, current, day_now, ends = [], None, None, None
        cells = [[None, 0, set()] for _ in PERIODS]  # per period: start, visits, households
        for who_id, day, household in conn.exec_driver_sql(
            f"SELECT {who}, v.visit_date, v.household_key FROM {source} WHERE v.deleted_at IS NULL "
            f"ORDER BY {who}, v.visit_date"
        ):
            if who_id != current or day != day_now:
                ends = starts.get(day)
                if ends is None:
                    first = dt.date.fromisoformat(str(day)[:10])
                    ends = starts[day] = tuple(period_start(period, first).isoformat() for period in PERIODS)
                for period, cell, start in zip(PERIODS, cells, ends, strict=True):
                    if cell[0] != start or who_id != current:
                        if cell[1]:
                            rows.append((period, cell[0], current, cell[1], len(cell[2])))
                        cell[0], cell[1], cell[2] = start, 0, set()
                if len(rows) >= batch:
                    conn.exec_driver_sql(insert, rows)
                    rows = []
                current, day_now = who_id, day
            for cell in cells:
                cell[1] += 1
                cell[2].add(household)
        for period, cell in zip(PERIODS, cells, strict=True):
            if cell[1]:
                rows.append((period, cell[0], current, cell[1], len(cell[2])))
        if rows:
            conn.exec_driver_sql(insert, rows)


def _rebuild_grouping_sets(conn):
    """PostgreSQL: every period kind of a table in one pass over the visits (GROUPING SETS):
    the visits are read (and joined to their visitors) once per table, not once per period."""
    starts = ", ".join(f"{_start_sql(period, 'postgresql')} AS {period}" for period in PERIODS)
    kind = "CASE " + " ".join(f"WHEN GROUPING({p}) = 0 THEN '{p}'" for p in PERIODS) + " END"
    for table, columns, who, source in (
        ("visit_tally", COLUMNS, "vv.person_id", VISITORS_JOIN),
        ("visit_grid_tally", GRID_COLUMNS, "v.grid_id", "visit v"),
    ):
        sets = ", ".join(f"({p}, who)" for p in PERIODS)
        conn.execute(
            text(
                f"INSERT INTO {table} ({', '.join(columns)}) SELECT {kind}, COALESCE({', '.join(PERIODS)}), who, "
                f"count(*), count(DISTINCT household_key) FROM (SELECT {starts}, {who} AS who, v.household_key "
                f"FROM {source} WHERE v.deleted_at IS NULL) s GROUP BY GROUPING SETS ({sets})"
            )
        )
    # the quota cells are counted from the tally next: the planner's row counts of what was just written
    conn.execute(text("ANALYZE visit_tally, visit_grid_tally"))


def _counted_sql(dialect, grid):
    """SELECT (period, start, who, visits, households) of every row the tally should hold."""
    who, source = ("v.grid_id", "visit v") if grid else ("vv.person_id", VISITORS_JOIN)
    return " UNION ALL ".join(
        f"SELECT '{period}' AS period, {_start_sql(period, dialect)} AS start, {who} AS who, count(*) AS visits, "
        f"count(DISTINCT v.household_key) AS households FROM {source} WHERE v.deleted_at IS NULL "
        f"GROUP BY {_start_sql(period, dialect)}, {who}"
        for period in PERIODS
    )


def check(session, limit=200):
    """The tally rows that differ from a count of the visits, both tables: [(table, 'counted' or
    'kept', period, start, person or grid id, visits, households)] — a row counted but not kept
    (or kept differently) and a row kept but not counted; at most `limit`. One EXCEPT each way."""
    conn = session.connection()
    out = []
    for table, who, grid in (("visit_tally", "person_id", False), ("visit_grid_tally", "grid_id", True)):
        counted = _counted_sql(conn.dialect.name, grid)
        kept = f"SELECT period, start, {who}, visits, households FROM {table}"
        for side, first, second in (("counted", counted, kept), ("kept", kept, counted)):
            rows = conn.execute(
                text(f"SELECT * FROM ({first}) a EXCEPT SELECT * FROM ({second}) b LIMIT {int(limit)}")
            ).all()
            out += [(table, side, *row) for row in rows]
    return out[:limit]
