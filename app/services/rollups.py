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

A second table, `appeal_summary` (`summary_of`), keeps the same appeals per grid on the
origin grid's path × the child they came through × month × category, with the figures'
counts as columns (发现, the appeals of the channels APPEAL_DISCOVERY_CHANNELS names, among
them: a change of that setting or of a channel's name recounts it, by a job after the commit in a
user's request, `found_changed`): what the dashboard and the accountability table read for whole
months (a county's top grid: thousands of rows, not a million). Kept by the same listeners,
in the same flush; a grid move takes the moved grid's own cells from the grids above it and gives them to
the grids above it now (`app.services.grid_moves`: a delta, no appeal is read).

A third, `appeal_open` (`open_of`), keeps the appeals whose deadline runs per grid on the
path of the grid each lives in NOW (which scope follows) × state × due date × supervised ×
extension awaiting approval: "needs attention" and the counts above the lists sum a few
rows of the scope's roots (`app.services.appeals.queries.open_cells_in`). Same listeners,
same flush; a grid move moves the moved grid's own cells likewise.

A fourth, `appeal_state` (`state_of`), keeps every live appeal (duplicates included) per grid
on the path of the grid it lives in now × state: the per-state counts above the lists sum the
scope roots' rows. Same listeners, same flush; a grid move moves the cells likewise.

Writes below the ORM (the bulk demo loader, a restore, hand-made SQL) are followed by
`rebuild()` (set-based SQL, `app.services.rollup_sql`): `flask minqing rollups rebuild`; `flask minqing rollups check` compares the
cells with a count of the appeals and names every cell that differs.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter

from flask import current_app, g, has_app_context, has_request_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import event, func, select, tuple_
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.core import jobs
from app.models.appeals import (
    CLOSED_STATUSES,
    NO_DUE,
    OPEN_KEYS,
    OPEN_STATUSES,
    ROLLUP_DIMENSIONS,
    STATE_KEYS,
    SUMMARY_KEYS,
    SUMMARY_MEASURES,
    Appeal,
    AppealOpen,
    AppealRollup,
    AppealState,
    AppealSummary,
)
from app.models.grids import Grid
from app.models.lookups import AppealChannel
from app.services import cell_locks, grid_moves, rollup_sql

log = logging.getLogger(__name__)
ROLLUP = AppealRollup.__table__
SUMMARY = AppealSummary.__table__
OPEN = AppealOpen.__table__
STATE = AppealState.__table__
APPEAL = Appeal.__table__
GRID = Grid.__table__
NOW_GRID = GRID.alias("now_grid")  # the grid the case lives in now
_PENDING = "minqing_rollup_pending"
_FOUND = "minqing_found_changed"  # the user whose request changed the channels counted as 发现
FOUND_JOB = "recount-found"  # the job kind (app.services.periodic)
FOUND_TITLE = _l("Discovered figures counted again")
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


def found_channels(conn, names=None):
    """The ids of the channels whose appeals count as 发现 (`names`, default the setting
    APPEAL_DISCOVERY_CHANNELS in force)."""
    if names is None:
        names = current_app.config.get("APPEAL_DISCOVERY_CHANNELS") if has_app_context() else None
    if not names:
        return frozenset()
    return frozenset(conn.execute(select(AppealChannel.id).where(AppealChannel.name.in_(list(names)))).scalars())


def summary_of(row, path, found=frozenset()):
    """The summary cells an appeal row counts in: [(key in SUMMARY_KEYS order, counts in
    SUMMARY_MEASURES order)], one per grid on its origin grid's `path` (the grid itself with
    child 0, each ancestor with the child the appeal came through); [] for a soft-deleted
    appeal or a duplicate (the figures count the original). `found`: the ids of the channels
    counted as 发现."""
    if row.deleted_at is not None or row.duplicate_of_id is not None or not path:
        return []
    pending = row.status in OPEN_STATUSES
    closed = row.status in CLOSED_STATUSES
    escalated = (row.escalation_count or 0) > 0
    satisfaction = str(row.satisfaction or "")
    counts = (
        1, closed, pending, escalated, closed and bool(row.closed_on_time), satisfaction != "",
        satisfaction == "satisfied", satisfaction == "basic", satisfaction == "unsatisfied", bool(row.reported_by_grid),
        closed and not escalated, bool(row.petition_collective), bool(row.petition_bypass), bool(row.petition_repeat),
        bool(row.petition_warning), row.channel_id in found,
    )  # fmt: skip
    counts = tuple(int(c) for c in counts)
    registered = row.registered_at
    day = registered.date() if isinstance(registered, dt.datetime) else registered
    month = day.replace(day=1)
    due = (row.due_date or NO_DUE) if pending else NO_DUE
    ids = [int(part) for part in path.strip("/").split("/")]
    return [
        ((anchor, ids[i + 1] if i + 1 < len(ids) else 0, month, row.category_id, due), counts)
        for i, anchor in enumerate(ids)
    ]


def open_of(row, path):
    """The open cells an appeal row counts in: [key in OPEN_KEYS order], one per grid on the
    `path` of the grid it lives in now; [] unless its deadline runs (open, not a duplicate,
    not deleted)."""
    if row.deleted_at is not None or row.duplicate_of_id is not None or row.status not in OPEN_STATUSES or not path:
        return []
    key = (str(row.status), row.due_date or NO_DUE, bool(row.supervised), row.extension_until is not None)
    return [(int(anchor), *key) for anchor in path.strip("/").split("/")]


def state_of(row, path):
    """The state cells an appeal row counts in: [key in STATE_KEYS order], one per grid on the
    `path` of the grid it lives in now; [] for a soft-deleted appeal (a duplicate counts)."""
    if row.deleted_at is not None or not path:
        return []
    return [(int(anchor), str(row.status)) for anchor in path.strip("/").split("/")]


class Delta:
    """What a change does to the four kinds of cells: the day cells' counts, the summary
    cells' columns, the open cells' and the state cells' counts."""

    def __init__(self, found=frozenset()):
        self.cells = Counter()
        self.summary = {}
        self.open = Counter()
        self.state = Counter()
        self.found = found  # the channels counted as 发现

    def add(self, rows, sign=1):
        for row in rows:
            cell = cell_of(row)
            if cell is not None:
                self.cells[cell] += sign
            for key, counts in summary_of(row, row.origin_path, self.found):
                kept = self.summary.get(key)
                change = [sign * c for c in counts]
                self.summary[key] = change if kept is None else [a + b for a, b in zip(kept, change, strict=True)]
            for key in open_of(row, row.now_path):
                self.open[key] += sign
            for key in state_of(row, row.now_path):
                self.state[key] += sign
        return self


def _rows(conn, where):
    """The appeals matching `where`, with the paths of the grid each was registered in and of
    the grid it lives in now."""
    query = (
        select(*SOURCE, GRID.c.path.label("origin_path"), NOW_GRID.c.path.label("now_path"))
        .outerjoin(GRID, GRID.c.id == APPEAL.c.origin_grid_id)
        .outerjoin(NOW_GRID, NOW_GRID.c.id == APPEAL.c.grid_id)
    )
    return conn.execute(query.where(where) if where is not None else query).all()


def _cells(rows):
    counts = Counter()
    for row in rows:
        cell = cell_of(row)
        if cell is not None:
            counts[cell] += 1
    return counts


def _rows_of_ids(conn, ids):
    ids = sorted(ids)
    out = []
    for i in range(0, len(ids), BATCH):
        out.extend(_rows(conn, APPEAL.c.id.in_(ids[i : i + BATCH])))
    return out


def apply(conn, delta):
    """Add `delta` (a Delta, or {cell: change} of day cells) to the cells; cells left at zero
    are removed. Cells are written in one order, so two writers wait for each other rather
    than deadlock."""
    if isinstance(delta, Delta):
        apply_summary(conn, delta.summary)
        apply_open(conn, delta.open)
        apply_state(conn, delta.state)
        delta = delta.cells
    apply_counts(conn, ROLLUP, ROLLUP_DIMENSIONS, delta)


def apply_summary(conn, delta):
    """Add {summary key: [change per measure]} to the summary cells (rows left with no appeal go)."""
    changes = sorted((key, counts) for key, counts in delta.items() if any(counts))
    if not changes:
        return
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    statement = insert(SUMMARY)
    statement = statement.on_conflict_do_update(
        index_elements=list(SUMMARY_KEYS),
        set_={name: SUMMARY.c[name] + statement.excluded[name] for name in SUMMARY_MEASURES},
    )
    conn.execute(
        statement,
        [
            {**dict(zip(SUMMARY_KEYS, key, strict=True)), **dict(zip(SUMMARY_MEASURES, counts, strict=True))}
            for key, counts in changes
        ],
    )
    emptied = [key for key, counts in changes if counts[0] < 0]
    keys = tuple_(*(SUMMARY.c[name] for name in SUMMARY_KEYS))
    for i in range(0, len(emptied), 500):
        conn.execute(SUMMARY.delete().where(SUMMARY.c.n == 0, keys.in_(emptied[i : i + 500])))


def apply_open(conn, delta):
    """Add {open key: change} to the open cells (cells left at zero go)."""
    apply_counts(conn, OPEN, OPEN_KEYS, delta)


def apply_state(conn, delta):
    """Add {state key: change} to the state cells (cells left at zero go)."""
    apply_counts(conn, STATE, STATE_KEYS, delta)


def apply_counts(conn, table, names, delta, column="n"):
    """Add {key (values of `names`): change} to the count `column` of `table` (one upsert, in key
    order, so two writers wait for each other rather than deadlock); rows left at zero go. Every
    kept count table uses it (the appeal cells here, the quota cells)."""
    changes = sorted((key, n) for key, n in delta.items() if n)
    if not changes:
        return
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    statement = insert(table)
    count = table.c[column]
    statement = statement.on_conflict_do_update(
        index_elements=list(names), set_={column: count + statement.excluded[column]}
    )
    conn.execute(statement, [{**dict(zip(names, key, strict=True)), column: n} for key, n in changes])
    emptied = [key for key, n in changes if n < 0]
    keys = tuple_(*(table.c[name] for name in names))
    for i in range(0, len(emptied), 500):
        conn.execute(table.delete().where(count <= 0, keys.in_(emptied[i : i + 500])))


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
    old = _rows_of_ids(session.connection(), stored) if stored else []
    session.info[_PENDING] = (old, stored, appeals)


@event.listens_for(Session, "after_flush")
def _add_differences(session, flush_context):
    moves = grid_moves.Moves(session)
    pending = session.info.pop(_PENDING, None)
    if pending is not None or moves:
        conn = session.connection()
        found = found_channels(conn)
        delta = Delta(found)
        if pending is not None:
            old, stored, appeals = pending
            ids = stored | {a.id for a in appeals if a.id is not None}
            delta.add(_rows_of_ids(conn, ids)).add(old, -1)
        if moves and not moves.nested:  # the grids above a moved one lose or gain what it holds
            _add_move(conn, moves, delta, Delta(found).add(pending[0] if pending is not None else (), -1))
        apply(conn, delta)
    if moves.nested:  # one moved grid above another: the grids above them counted again
        rollup_sql.recount_summary(conn, moves.anchors, found)
        rollup_sql.recount_open(conn, moves.anchors)
        rollup_sql.recount_state(conn, moves.anchors)
    if _channels_renamed(session):  # the setting names channels: their appeals may count as 发现 or no longer
        found_changed(session)


def _add_move(conn, moves, delta, taken):
    """Add to `delta` what the moved grids' subtrees take from the grids above them before and
    give to those above them after (`grid_moves`): the moved grids' own cells, less what this
    flush took out of them first (`taken`: the old rows of the appeals it changed, old paths)."""
    grids = moves.grids
    held = grid_moves.held(conn, SUMMARY, SUMMARY_KEYS, SUMMARY_MEASURES, grids, taken.summary)
    for key, change in moves.delta(SUMMARY_KEYS, held).items():
        kept = delta.summary.get(key)
        delta.summary[key] = change if kept is None else [a + b for a, b in zip(kept, change, strict=True)]
    for table, keys, counts, removed in ((OPEN, OPEN_KEYS, delta.open, taken.open),
                                         (STATE, STATE_KEYS, delta.state, taken.state)):  # fmt: skip
        held = grid_moves.held(conn, table, keys, ("n",), grids, removed)
        for key, (change,) in moves.delta(keys, held).items():
            counts[key] += change


def _channels_renamed(session):
    """Whether this flush added, removed or renamed a collection channel."""
    for channel in (*session.new, *session.deleted):
        if isinstance(channel, AppealChannel):
            return True
    return any(
        isinstance(channel, AppealChannel) and sa_inspect(channel).attrs.name.history.has_changes()
        for channel in session.dirty
    )


def recount_found(session, names=None):
    """The 发现 column of every summary cell counted again, in the caller's transaction (`names`:
    the channels to count, default the setting in force)."""
    conn = session.connection()
    rollup_sql.recount_found(conn, found_channels(conn, names))


def found_changed(session, names=None):
    """The channels counted as 发现 changed in this transaction (the setting, or a channel's name):
    in a user's request the summary cells are counted again by a job started once it commits
    (`_start_found_job`; the figures show the old 发现 until then); elsewhere (the CLI, a job, a
    test without a request) here and now, in the same transaction. `names`: the setting's new
    value, if it is what changed (the overlay applies it later)."""
    if has_request_context() and jobs.current() is None:
        user = current_app.appbuilder.sm.current_user
        session.info[_FOUND] = user.id if user is not None and getattr(user, "is_authenticated", False) else None
        return
    recount_found(session, names)


@event.listens_for(Session, "after_commit")
def _start_found_job(session):
    """Only now may a job recount 发现: an RQ worker would not see what was not committed yet."""
    if _FOUND not in session.info:
        return
    user_id = session.info.pop(_FOUND)
    try:
        job_id = jobs.enqueue(FOUND_JOB, title=FOUND_TITLE, user_id=user_id)
    except Exception:  # noqa: BLE001 - the change is committed: say why 发现 lags, do not fail the answer
        log.exception("the 发现 recount could not be started: run `flask minqing enqueue %s`", FOUND_JOB)
        return
    if has_request_context():
        g.minqing_found_job = job_id


def found_job():
    """The id of the job this request started to recount 发现, or None."""
    return g.get("minqing_found_job") if has_request_context() else None


@event.listens_for(Session, "after_rollback")
def _forget_pending(session):
    session.info.pop(_PENDING, None)
    session.info.pop(_FOUND, None)


@event.listens_for(Session, "do_orm_execute")
def _statement_on_appeals(state):
    """An UPDATE or DELETE of appeals run as one statement: the cells of the rows it matches,
    before and after."""
    if not (state.is_update or state.is_delete):
        return None
    mapper = state.bind_mapper
    if mapper is None or mapper.class_ is not Appeal:
        return None
    cell_locks.shared(state.session)
    conn = state.session.connection()
    before = _rows(conn, state.statement.whereclause)
    result = state.invoke_statement()
    apply(conn, Delta(found_channels(conn)).add(_rows_of_ids(conn, [row.id for row in before])).add(before, -1))
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
    """Count every cell (day, summary, open, state) again from the appeals, in the database (one
    GROUP BY per table, `app.services.rollup_sql`). Returns (day, summary, open, state cells) written."""
    conn = session.connection()
    days, summaries, opens, states = rollup_sql.rebuild_all(conn, found_channels(conn))
    if progress:
        progress(f"day cells {days}, summary cells {summaries}, open cells {opens}, state cells {states}")
    return days, summaries, opens, states


def check(session):
    """The cells that differ from a count of the appeals by the write-time rules (`cell_of`,
    `summary_of`, `open_of`, `state_of`): [(cell as a dict, counted, kept)]."""
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
    counted = Delta(found_channels(conn))
    for start, end in months:
        counted.add(_rows(conn, (APPEAL.c.registered_at >= start) & (APPEAL.c.registered_at < end)))
    return (
        differences
        + _summary_differences(conn, counted)
        + _count_differences(conn, OPEN, OPEN_KEYS, counted.open)
        + _count_differences(conn, STATE, STATE_KEYS, counted.state)
    )


def _count_differences(conn, table, names, counted):
    counted = {key: n for key, n in counted.items() if n}
    columns = [table.c[name] for name in names]
    kept = {tuple(row[:-1]): row[-1] for row in conn.execute(select(*columns, table.c.n))}
    return [
        ({"table": table.name, **dict(zip(names, key, strict=True))}, counted.get(key, 0), kept.get(key, 0))
        for key in sorted(set(counted) | set(kept))
        if counted.get(key, 0) != kept.get(key, 0)
    ]


def _summary_differences(conn, counted):
    counted = {key: tuple(counts) for key, counts in counted.summary.items() if any(counts)}
    columns = [SUMMARY.c[name] for name in SUMMARY_KEYS + SUMMARY_MEASURES]
    width = len(SUMMARY_KEYS)
    kept = {tuple(row[:width]): tuple(row[width:]) for row in conn.execute(select(*columns))}
    zero = (0,) * len(SUMMARY_MEASURES)
    return [
        (dict(zip(SUMMARY_KEYS, key, strict=True)), counted.get(key, zero), kept.get(key, zero))
        for key in sorted(set(counted) | set(kept))
        if counted.get(key, zero) != kept.get(key, zero)
    ]


def describe(difference):
    """One differing cell as a line for the terminal."""
    cell, counted, kept = difference
    parts = " ".join(f"{name}={value}" for name, value in cell.items())
    return f"{parts}: counted {counted}, kept {kept}"
