"""The appeal roll-ups counted from the appeals in one SQL statement per table (set-based).

`app.services.rollups` keeps the cells on every write; this module counts them afresh,
inside the database, for `rollups rebuild` (and so for the bulk loader after its raw
inserts: a county's million appeals in one GROUP BY instead of a million rows through
Python), for `rollups check`, for the 发现 column, and for the grids above a grid moved below another
moved one in the same flush (`grid_moves.Moves.nested`).

The same rules as `rollups.cell_of`, `rollups.summary_of`, `rollups.open_of` and
`rollups.state_of`; the suite compares them after every test (`rollups.check` counts with this module and with the Python rule).
"""

from __future__ import annotations

from sqlalchemy import text

from app.models.appeals import (
    CLOSED_STATUSES,
    NO_DUE,
    OPEN_KEYS,
    OPEN_STATUSES,
    ROLLUP_DIMENSIONS,
    STATE_KEYS,
    SUMMARY_KEYS,
    SUMMARY_MEASURES,
)


def _statuses(values):
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


OPEN = _statuses(OPEN_STATUSES)
CLOSED = _statuses(CLOSED_STATUSES)

# every (grid, anchor, child): the grid itself (child 0) and each grid above it, with the
# child of that anchor the grid lies under; from parent ids, so it holds on both databases
PAIRS = """
WITH RECURSIVE pairs(grid_id, anchor_id, child_id) AS (
    SELECT id, id, 0 FROM grid
    UNION ALL
    SELECT p.grid_id, g.parent_id, p.anchor_id FROM pairs p JOIN grid g ON g.id = p.anchor_id
    WHERE g.parent_id IS NOT NULL
)
"""


def _fragments(dialect):
    postgresql = dialect == "postgresql"
    return {
        "day": "CAST(a.registered_at AS DATE)" if postgresql else "date(a.registered_at)",
        "month": "CAST(date_trunc('month', a.registered_at) AS DATE)"
        if postgresql
        else "date(a.registered_at, 'start of month')",
        "no_due": f"DATE '{NO_DUE.isoformat()}'" if postgresql else f"'{NO_DUE.isoformat()}'",
        "false": "FALSE" if postgresql else "0",
    }


def _flag(condition):
    return f"sum(CASE WHEN {condition} THEN 1 ELSE 0 END)"


def _found(found):
    """The condition "of a channel where the grid found the problem itself" (`found`: channel ids)."""
    return "a.channel_id IN (" + ", ".join(str(int(i)) for i in sorted(found)) + ")" if found else "1 = 0"


def summary_select(dialect, anchors=None, found=()):
    """SELECT the summary cells (keys, then measures) counted from the appeals; only of the
    grids `anchors` (ids) when given; `found`: the ids of the channels counted as 发现."""
    f = _fragments(dialect)
    closed = f"a.status IN {CLOSED}"
    escalated = "COALESCE(a.escalation_count, 0) > 0"
    keys = (
        "p.anchor_id", "p.child_id", f["month"], "a.category_id",
        f"CASE WHEN a.status IN {OPEN} THEN COALESCE(a.due_date, {f['no_due']}) ELSE {f['no_due']} END",
    )  # fmt: skip
    measures = (
        "count(*)", _flag(closed), _flag(f"a.status IN {OPEN}"), _flag(escalated),
        _flag(f"{closed} AND a.closed_on_time"), _flag("COALESCE(a.satisfaction, '') <> ''"),
        _flag("a.satisfaction = 'satisfied'"), _flag("a.satisfaction = 'basic'"), _flag("a.satisfaction = 'unsatisfied'"),
        _flag("a.reported_by_grid"), _flag(f"{closed} AND NOT ({escalated})"), _flag("a.petition_collective"),
        _flag("a.petition_bypass"), _flag("a.petition_repeat"), _flag("a.petition_warning"), _flag(_found(found)),
    )  # fmt: skip
    where = "a.deleted_at IS NULL AND a.duplicate_of_id IS NULL" + _anchors_in(anchors)
    listed = ", ".join(keys)
    return (
        f"{PAIRS} SELECT {listed}, {', '.join(measures)} FROM appeal a "
        f"JOIN pairs p ON p.grid_id = a.origin_grid_id WHERE {where} GROUP BY {listed}"
    )


def _anchors_in(anchors):
    return (
        " AND p.anchor_id IN (" + ", ".join(str(int(i)) for i in sorted(anchors)) + ")" if anchors is not None else ""
    )


def open_select(dialect, anchors=None):
    """SELECT the open cells (OPEN_KEYS, then n) counted from the appeals: every appeal whose
    deadline runs, for each grid on the path of the grid it lives in now; only of the grids
    `anchors` (ids) when given."""
    f = _fragments(dialect)
    keys = (
        "p.anchor_id", "a.status", f"COALESCE(a.due_date, {f['no_due']})", f"COALESCE(a.supervised, {f['false']})",
        "(a.extension_until IS NOT NULL)",
    )  # fmt: skip
    listed = ", ".join(keys)
    return (
        f"{PAIRS} SELECT {listed}, count(*) FROM appeal a JOIN pairs p ON p.grid_id = a.grid_id "
        f"WHERE a.deleted_at IS NULL AND a.duplicate_of_id IS NULL AND a.status IN {OPEN}{_anchors_in(anchors)} "
        f"GROUP BY {listed}"
    )


def state_select(dialect, anchors=None):
    """SELECT the state cells (STATE_KEYS, then n) counted from the appeals: every live appeal
    (duplicates included), for each grid on the path of the grid it lives in now; only of the
    grids `anchors` (ids) when given."""
    return (
        f"{PAIRS} SELECT p.anchor_id, a.status, count(*) FROM appeal a JOIN pairs p ON p.grid_id = a.grid_id "
        f"WHERE a.deleted_at IS NULL{_anchors_in(anchors)} GROUP BY p.anchor_id, a.status"
    )


def rollup_select(dialect):
    """SELECT the day cells (ROLLUP_DIMENSIONS, then n) counted from the appeals (as migration 0031)."""
    f = _fragments(dialect)
    running = f"(a.status IN {OPEN} AND a.duplicate_of_id IS NULL)"
    values = (
        "a.origin_grid_id", "a.grid_id", f["day"], "a.category_id", "a.channel_id", "a.importance", "a.status",
        "(a.duplicate_of_id IS NOT NULL)", f"CASE WHEN {running} THEN a.due_date ELSE {f['no_due']} END",
        "(COALESCE(a.escalation_count, 0) > 0)", f"COALESCE(a.closed_on_time, {f['false']})",
        "COALESCE(a.satisfaction, '')", f"COALESCE(a.reported_by_grid, {f['false']})",
        f"(COALESCE(a.supervised, {f['false']}) AND {running})", f"(a.extension_until IS NOT NULL AND {running})",
        "COALESCE(a.handler_person_id, 0)", "COALESCE(a.filed_by_id, 0)", "a.petition_collective",
        "a.petition_bypass", "a.petition_repeat", "a.petition_warning",
    )  # fmt: skip
    listed = ", ".join(values)
    return f"SELECT {listed}, count(*) FROM appeal a WHERE a.deleted_at IS NULL GROUP BY {listed}"


def recount_found(conn, found):
    """The summary cells' 发现 column counted again for the channels `found` (ids): zero, then
    one UPDATE from a GROUP BY of only those channels' appeals (the setting or a channel's name
    changed). UPDATE ... FROM: PostgreSQL, SQLite 3.33+."""
    if conn.dialect.name == "postgresql":  # compiling this one statement cost more than running it
        conn.execute(text("SET LOCAL jit = off"))
    conn.execute(text("UPDATE appeal_summary SET found = 0 WHERE found <> 0"))
    if not found:
        return
    f = _fragments(conn.dialect.name)
    keys = (
        "p.anchor_id", "p.child_id", f["month"], "a.category_id",
        f"CASE WHEN a.status IN {OPEN} THEN COALESCE(a.due_date, {f['no_due']}) ELSE {f['no_due']} END",
    )  # fmt: skip
    named = ", ".join(f"{key} AS k{i}" for i, key in enumerate(keys))
    grouped = (
        f"SELECT {named}, count(*) AS n FROM appeal a JOIN pairs p ON p.grid_id = a.origin_grid_id "
        f"WHERE a.deleted_at IS NULL AND a.duplicate_of_id IS NULL AND {_found(found)} GROUP BY {', '.join(keys)}"
    )
    match = " AND ".join(f"appeal_summary.{key} = c.k{i}" for i, key in enumerate(SUMMARY_KEYS))
    conn.execute(text(f"{PAIRS} UPDATE appeal_summary SET found = c.n FROM ({grouped}) AS c WHERE {match}"))


def rebuild_all(conn, found=()):
    """The four cell tables counted again from the appeals: (day, summary, open, state cells) written;
    `found`: the ids of the channels counted as 发现."""
    dialect = conn.dialect.name
    conn.execute(text("DELETE FROM appeal_rollup"))
    conn.execute(text(f"INSERT INTO appeal_rollup ({', '.join(ROLLUP_DIMENSIONS)}, n) {rollup_select(dialect)}"))
    conn.execute(text("DELETE FROM appeal_summary"))
    columns = ", ".join(SUMMARY_KEYS + SUMMARY_MEASURES)
    conn.execute(text(f"INSERT INTO appeal_summary ({columns}) {summary_select(dialect, found=found)}"))
    conn.execute(text("DELETE FROM appeal_open"))
    conn.execute(text(f"INSERT INTO appeal_open ({', '.join(OPEN_KEYS)}, n) {open_select(dialect)}"))
    conn.execute(text("DELETE FROM appeal_state"))
    conn.execute(text(f"INSERT INTO appeal_state ({', '.join(STATE_KEYS)}, n) {state_select(dialect)}"))
    tables = ("appeal_rollup", "appeal_summary", "appeal_open", "appeal_state")
    if dialect == "postgresql":  # the planner's row counts: a county's year of cells is summed in memory, not on disk
        for table in tables:
            conn.execute(text(f"ANALYZE {table}"))
    return tuple(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in tables)


def recount_summary(conn, anchors, found=()):
    """The summary cells of the grids `anchors` counted again (a grid moved below or away from them)."""
    if not anchors:
        return
    listed = ", ".join(str(int(i)) for i in sorted(anchors))
    conn.execute(text(f"DELETE FROM appeal_summary WHERE anchor_grid_id IN ({listed})"))
    columns = ", ".join(SUMMARY_KEYS + SUMMARY_MEASURES)
    conn.execute(text(f"INSERT INTO appeal_summary ({columns}) {summary_select(conn.dialect.name, anchors, found)}"))


def recount_open(conn, anchors):
    """The open cells of the grids `anchors` counted again (a grid moved below or away from them)."""
    _recount_counts(conn, "appeal_open", OPEN_KEYS, open_select, anchors)


def recount_state(conn, anchors):
    """The state cells of the grids `anchors` counted again (a grid moved below or away from them)."""
    _recount_counts(conn, "appeal_state", STATE_KEYS, state_select, anchors)


def _recount_counts(conn, table, keys, select_of, anchors):
    if not anchors:
        return
    listed = ", ".join(str(int(i)) for i in sorted(anchors))
    conn.execute(text(f"DELETE FROM {table} WHERE anchor_grid_id IN ({listed})"))
    conn.execute(text(f"INSERT INTO {table} ({', '.join(keys)}, n) {select_of(conn.dialect.name, anchors)}"))
