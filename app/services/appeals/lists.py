"""What the appeal list pages filter and count: the quick buttons above the list, the
conditions a dashboard figure links to, and the counts per state.

A quick filter travels as one key ("due:overdue", "status:assigned", "figures:12:2026-01-01:")
so a list, its Excel export and a saved link all mean the same rows.
"""

from __future__ import annotations

import datetime as dt

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, false, func, select, true

from app.core.inputs import parse_id
from app.models.appeals import Appeal, AppealOpen, AppealRollup, AppealState, Status
from app.models.grids import Grid
from app.models.lookups import AppealCategory
from app.services import scope, stats
from app.services.appeals.deadlines import due_soon_clause, open_clause, overdue_clause, week_clause
from app.services.appeals.queries import (
    NOW_GRID,
    UNASSIGNED,
    attention_counts,
    cell_running,
    cell_sum,
    cells_now_in,
    open_cells_in,
)

QUICK_FLAGS = ("supervised", "extension", "mine", "filed", "open", "unassigned")
DUE_KEYS = ("overdue", "soon", "week")


def stat_keys():
    return {c.key for c in stats.COUNTS}


def _iso(value):
    return dt.date.fromisoformat(value) if value else None


def _subtree_of(session, column, grid_id):
    path = session.scalar(select(Grid.path).where(Grid.id == grid_id))
    if not path:
        return false()
    return stats.in_subtrees(column, (path,))


def quick_clause(session, key):
    """The SQL condition a quick-filter key stands for; ValueError for an unknown key."""
    kind, _, arg = (key or "").partition(":")
    if kind == "status" and arg in Status.codes():
        return Appeal.status == arg
    if kind == "due" and arg == "overdue":
        return overdue_clause()
    if kind == "due" and arg == "soon":
        return due_soon_clause()
    if kind == "due" and arg == "week":
        return week_clause()
    if kind == "supervised":
        return and_(open_clause(), Appeal.supervised.is_(True))
    if kind == "extension":
        return and_(open_clause(), Appeal.extension_until.is_not(None))
    if kind == "mine":
        return Appeal.handler_person_id == (scope.current().person_id or 0)
    if kind == "filed":  # 我登记的: the appeals the user registered (填表人 the login)
        return Appeal.filed_by_id == (scope.current().user_id or 0)
    if kind == "open":
        return open_clause()
    if kind == "unassigned":
        return and_(Appeal.status.in_((Status.REGISTERED, Status.ESCALATED)), Appeal.duplicate_of_id.is_(None))
    if kind == "stat" and arg in stat_keys():
        return stats.figure_clause(arg)
    if kind == "category" and parse_id(arg) is not None:
        return Appeal.category_id == parse_id(arg)
    if kind == "in" and parse_id(arg) is not None:
        return _subtree_of(session, Appeal.grid_id, parse_id(arg))
    if kind == "figures":
        # the appeals a dashboard figure counts: registered in a grid's subtree in a period
        grid_id, start, end = arg.split(":")
        paths = None
        if grid_id != "all":
            path = session.scalar(select(Grid.path).where(Grid.id == parse_id(grid_id)))
            paths = (path,) if path else ()
        return stats.base_clause(paths, _iso(start), _iso(end))
    raise ValueError(key)


def quick_keys(args):
    """The quick-button keys in a list URL's arguments (?status=assigned&due=overdue&mine=1)."""
    keys = []
    if args.get("status") in Status.codes():
        keys.append("status:" + args["status"])
    if args.get("due") in DUE_KEYS:
        keys.append("due:" + args["due"])
    for flag in QUICK_FLAGS:
        if args.get(flag) == "1":
            keys.append(flag)
    return keys + drill_keys(args)


def drill_keys(args):
    """The list filters a dashboard link asks for (?stat=closed&origin=12&from=...),
    checked: anything malformed is ignored rather than failing the page."""
    keys = []
    if args.get("stat") in stat_keys():
        keys.append("stat:" + args["stat"])
    if parse_id(args.get("category")) is not None:
        keys.append("category:" + args["category"].strip())
    if parse_id(args.get("in")) is not None:
        keys.append("in:" + args["in"].strip())
    origin = (args.get("origin") or "").strip() or None
    if origin is not None and (origin == "all" or parse_id(origin) is not None):
        try:
            start, end = _iso(args.get("from")), _iso(args.get("to"))
        except ValueError:
            return keys
        keys.append(f"figures:{origin}:{start or ''}:{end or ''}")
    return keys


def describe_drill(session, args):
    """What a dashboard link filtered the list by, in words (None: no such filter)."""
    if not drill_keys(args):
        return None
    parts = []
    titles = {c.key: c.title for c in stats.COUNTS}
    if args.get("stat") in titles:
        parts.append(str(titles[args["stat"]]))
    me = scope.current()
    for arg in ("origin", "in"):
        grid_id = parse_id(args.get(arg))
        if grid_id is not None:
            grid = session.get(Grid, grid_id)
            if grid is not None and me.contains_path(grid.path):
                label = _l("registered in %(grid)s and below") if arg == "origin" else _l("now in %(grid)s and below")
                parts.append(str(label) % {"grid": grid.name})
    if parse_id(args.get("category")) is not None:
        category = session.get(AppealCategory, parse_id(args["category"]))
        if category is not None:
            parts.append(str(_l("Category")) + "：" + category.name)
    if args.get("origin") and (args.get("from") or args.get("to")):
        parts.append(
            str(_l("registered %(start)s to %(end)s"))
            % {"start": args.get("from") or "…", "end": args.get("to") or "…"}
        )
    return " · ".join(parts)


# flags that narrow the whole page (交办给我的, 我登记的, open only...): the counts and tabs above the list follow them
CONTEXT_FLAGS = ("mine", "filed", "open", "unassigned")


def context_flags(args):
    return [flag for flag in CONTEXT_FLAGS if args.get(flag) == "1"]


def cell_flag_clause(flag, me):
    """A context flag (CONTEXT_FLAGS) as a condition on the roll-up cells."""
    if flag == "mine":
        return AppealRollup.handler_person_id == (me.person_id or -1)  # 0 in a cell: no handler
    if flag == "filed":  # 我登记的
        return AppealRollup.filed_by_id == (me.user_id or -1)  # 0 in a cell: no login
    if flag == "open":
        return cell_running()
    if flag == "unassigned":
        return and_(AppealRollup.status.in_((Status.REGISTERED, Status.ESCALATED)), AppealRollup.duplicate.is_(False))
    raise ValueError(flag)


def list_counts(session, flags=()):
    """The counts above the appeal list, in the user's scope and within the page's context
    flags (`mine`: the user's own, so a user's figures are theirs): per state, and what needs
    attention. Sums of roll-up cells of the appeals now in the scope (never the appeals): the
    scope roots' state cells (no flag) or open cells (`open`, `unassigned`: all of them run),
    a few rows each; the day cells for the flags those do not hold (`mine`, `filed`)."""
    me = scope.current()
    where = and_(cells_now_in(me), *(cell_flag_clause(flag, me) for flag in flags))
    cells = None
    if set(flags) <= {"open", "unassigned"}:  # what the open cells hold (all of them run): else the day cells
        cells = open_cells_in(me)
        if "unassigned" in flags:
            cells = and_(cells, AppealOpen.status.in_(UNASSIGNED))
    if not flags:
        query = select(AppealState.status, func.sum(AppealState.n)).where(open_cells_in(me, cell=AppealState))
        query = query.group_by(AppealState.status)
    elif cells is not None:
        query = select(AppealOpen.status, func.sum(AppealOpen.n)).where(cells).group_by(AppealOpen.status)
    else:
        query = (
            select(AppealRollup.status, cell_sum(true()))
            .select_from(AppealRollup)
            .join(NOW_GRID, NOW_GRID.id == AppealRollup.grid_id)
            .where(where)
            .group_by(AppealRollup.status)
        )
    by_status = dict(session.execute(query).all())
    return {status: int(n) for status, n in by_status.items() if n}, attention_counts(session, where, cells=cells)
