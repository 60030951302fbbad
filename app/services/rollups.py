"""Appeal roll-ups: the figures' cells, kept in the transaction that changes an appeal.

Every live appeal is counted in exactly one cell of `appeal_rollup` (`cell_of`: where it was
registered and where it lives now, the registration day, category, channel, importance,
state, and each flag a figure asks about). The report pages add cells up over a jurisdiction
(`app.services.stats`, `app.services.appeals.queries`); none of them counts appeals.

One mechanism keeps the cells, whatever path writes (forms, the API, workflow steps, the
import, the recycle bin, corrections of grid, category or importance):

* before a flush, the cells of the appeals about to change are read as the database still
  has them; after the flush, as it has them now; the difference is added to the cells
  (an upsert per cell, one writer at a time per cell), in the same transaction;
* an UPDATE or DELETE statement on appeals run through the session (escalation moves the
  case with one) is wrapped the same way (`do_orm_execute`).

Overdue needs no nightly job: an open appeal's cell keeps its due date, and "overdue on the
day `on`" is `due_date < on` when the cells are read (a frozen-clock test shows it).

Writes below the ORM (the bulk demo loader, a restore, hand-made SQL) are followed by
`rebuild()`: `flask minqing rollups rebuild`; `flask minqing rollups check` compares the
cells with a count of the appeals and names every cell that differs.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

from sqlalchemy import event, func, select, tuple_
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.models.appeals import NO_DUE, OPEN_STATUSES, ROLLUP_DIMENSIONS, Appeal, AppealRollup

ROLLUP = AppealRollup.__table__
APPEAL = Appeal.__table__
_PENDING = "minqing_rollup_pending"
SOURCE = [
    APPEAL.c[name]
    for name in (
        "id", "origin_grid_id", "grid_id", "registered_at", "category_id", "channel_id", "importance", "status",
        "duplicate_of_id", "due_date", "escalation_count", "closed_on_time", "satisfaction", "reported_by_grid",
        "supervised", "extension_until", "handler_person_id", "filed_by_id", "petition_collective",
        "petition_bypass", "petition_repeat", "petition_warning", "deleted_at",
    )
]  # fmt: skip
BATCH = 5000


def cell_of(row):
    """The cell (a tuple in ROLLUP_DIMENSIONS order) an appeal row counts in; None when it
    counts nowhere (soft-deleted)."""
    if row.deleted_at is not None:
        return None
    duplicate = row.duplicate_of_id is not None
    running = row.status in OPEN_STATUSES and not duplicate  # the deadline runs
    registered = row.registered_at
    return (
        row.origin_grid_id,
        row.grid_id,
        registered.date() if isinstance(registered, dt.datetime) else registered,
        row.category_id,
        row.channel_id,
        str(row.importance),
        str(row.status),
        duplicate,
        row.due_date if running else NO_DUE,
        (row.escalation_count or 0) > 0,
        bool(row.closed_on_time),
        str(row.satisfaction or ""),
        bool(row.reported_by_grid),
        bool(row.supervised) and running,
        row.extension_until is not None and running,
        row.handler_person_id or 0,
        row.filed_by_id or 0,
        bool(row.petition_collective),
        bool(row.petition_bypass),
        bool(row.petition_repeat),
        bool(row.petition_warning),
    )


def _cells(rows):
    counts = Counter()
    for row in rows:
        cell = cell_of(row)
        if cell is not None:
            counts[cell] += 1
    return counts


def _cells_of_ids(conn, ids):
    counts = Counter()
    ids = sorted(ids)
    for i in range(0, len(ids), BATCH):
        counts.update(_cells(conn.execute(select(*SOURCE).where(APPEAL.c.id.in_(ids[i : i + BATCH])))))
    return counts


def apply(conn, delta):
    """Add `delta` ({cell: change}) to the cells; cells left at zero are removed. Cells are
    written in one order, so two writers wait for each other rather than deadlock."""
    changes = sorted((cell, n) for cell, n in delta.items() if n)
    if not changes:
        return
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    statement = insert(ROLLUP)
    statement = statement.on_conflict_do_update(
        index_elements=list(ROLLUP_DIMENSIONS), set_={"n": ROLLUP.c.n + statement.excluded.n}
    )
    conn.execute(statement, [dict(zip(ROLLUP_DIMENSIONS, cell, strict=True), n=n) for cell, n in changes])
    emptied = [cell for cell, n in changes if n < 0]
    dimensions = tuple_(*(ROLLUP.c[name] for name in ROLLUP_DIMENSIONS))
    for i in range(0, len(emptied), 500):
        conn.execute(ROLLUP.delete().where(ROLLUP.c.n == 0, dimensions.in_(emptied[i : i + 500])))


# --------------------------------------------------------------------------
# Kept on write
# --------------------------------------------------------------------------


# what a cell is made of: a flush that changes none of these on an appeal changes no cell
CELL_ATTRIBUTES = tuple(c.name for c in SOURCE if c.name != "id") + (
    "grid", "origin_grid", "category", "channel", "handler_person", "filed_by", "duplicate_of",
)  # fmt: skip


def _cell_may_change(appeal, session):
    if appeal in session.new or appeal in session.deleted:
        return True
    attrs = sa_inspect(appeal).attrs
    return any(attrs[name].history.has_changes() for name in CELL_ATTRIBUTES)


@event.listens_for(Session, "before_flush")
def _note_old_cells(session, flush_context, instances):
    """The cells of the appeals about to change, as the database still has them."""
    appeals = [
        a
        for a in (*session.new, *session.dirty, *session.deleted)
        if isinstance(a, Appeal) and _cell_may_change(a, session)
    ]
    if not appeals:
        session.info.pop(_PENDING, None)
        return
    stored = {a.id for a in appeals if a.id is not None}
    old = _cells_of_ids(session.connection(), stored) if stored else Counter()
    session.info[_PENDING] = (old, stored, appeals)


@event.listens_for(Session, "after_flush")
def _add_differences(session, flush_context):
    pending = session.info.pop(_PENDING, None)
    if pending is None:
        return
    old, stored, appeals = pending
    ids = stored | {a.id for a in appeals if a.id is not None}
    conn = session.connection()
    delta = _cells_of_ids(conn, ids)
    delta.subtract(old)
    apply(conn, delta)


@event.listens_for(Session, "after_rollback")
def _forget_pending(session):
    session.info.pop(_PENDING, None)


@event.listens_for(Session, "do_orm_execute")
def _statement_on_appeals(state):
    """An UPDATE or DELETE of appeals run as one statement: the cells of the rows it matches,
    before and after."""
    if not (state.is_update or state.is_delete):
        return None
    mapper = state.bind_mapper
    if mapper is None or mapper.class_ is not Appeal:
        return None
    conn = state.session.connection()
    query = select(*SOURCE)
    if state.statement.whereclause is not None:
        query = query.where(state.statement.whereclause)
    before = conn.execute(query).all()
    result = state.invoke_statement()
    delta = _cells_of_ids(conn, [row.id for row in before])
    delta.subtract(_cells(before))
    apply(conn, delta)
    return result


# --------------------------------------------------------------------------
# Rebuild and check
# --------------------------------------------------------------------------


def _months(conn):
    """(first, next) datetimes of each month that has appeals, oldest first."""
    first, last = conn.execute(select(func.min(APPEAL.c.registered_at), func.max(APPEAL.c.registered_at))).one()
    if first is None:
        return []
    out, start = [], dt.datetime(first.year, first.month, 1)
    while start <= last:
        following = dt.datetime(start.year + (start.month == 12), start.month % 12 + 1, 1)
        out.append((start, following))
        start = following
    return out


def _counted(conn, start, end):
    """The cells of the appeals registered in [start, end), counted from the appeals."""
    rows = conn.execute(
        select(*SOURCE).where(APPEAL.c.registered_at >= start, APPEAL.c.registered_at < end),
        execution_options={"yield_per": BATCH},  # this statement only: the connection stays as it was
    )
    return _cells(rows)


def _kept(conn, start, end):
    dimensions = [ROLLUP.c[name] for name in ROLLUP_DIMENSIONS]
    rows = conn.execute(select(*dimensions, ROLLUP.c.n).where(ROLLUP.c.day >= start.date(), ROLLUP.c.day < end.date()))
    return {tuple(row[:-1]): row[-1] for row in rows}


def rebuild(session, progress=None):
    """Count every cell again from the appeals, a month at a time. Returns the cells written."""
    conn = session.connection()
    conn.execute(ROLLUP.delete())
    written = 0
    for start, end in _months(conn):
        cells = sorted(_counted(conn, start, end).items())
        for i in range(0, len(cells), BATCH):
            conn.execute(
                ROLLUP.insert(),
                [dict(zip(ROLLUP_DIMENSIONS, cell, strict=True), n=n) for cell, n in cells[i : i + BATCH]],
            )
        written += len(cells)
        if progress:
            progress(f"{start:%Y-%m}: {len(cells)}")
    return written


def check(session):
    """The cells that differ from a count of the appeals: [(cell as a dict, counted, kept)]."""
    conn = session.connection()
    differences = []
    months = _months(conn)
    for start, end in months:
        counted, kept = _counted(conn, start, end), _kept(conn, start, end)
        for cell in sorted(set(counted) | set(kept)):
            if counted.get(cell, 0) != kept.get(cell, 0):
                differences.append(
                    (dict(zip(ROLLUP_DIMENSIONS, cell, strict=True)), counted.get(cell, 0), kept.get(cell, 0))
                )
    outside = select(func.count()).select_from(ROLLUP)
    if months:
        outside = outside.where((ROLLUP.c.day < months[0][0].date()) | (ROLLUP.c.day >= months[-1][1].date()))
    stray = conn.execute(outside).scalar()
    if stray:  # cells of days that have no appeals at all
        dimensions = [ROLLUP.c[name] for name in ROLLUP_DIMENSIONS]
        query = select(*dimensions, ROLLUP.c.n)
        if months:
            query = query.where((ROLLUP.c.day < months[0][0].date()) | (ROLLUP.c.day >= months[-1][1].date()))
        for row in conn.execute(query):
            differences.append((dict(zip(ROLLUP_DIMENSIONS, row[:-1], strict=True)), 0, row[-1]))
    return differences


def describe(difference):
    """One differing cell as a line for the terminal."""
    cell, counted, kept = difference
    parts = " ".join(f"{name}={value}" for name, value in cell.items())
    return f"{parts}: counted {counted}, kept {kept}"
