"""Appeal statistics for a grid subtree and a period: counts and rates, each defined
once below, added up in SQL from the appeal roll-ups (`app.services.rollups`: cells kept in
the writing transaction), never from the appeals. `_conditions` says each count on an
appeal row (the list behind a figure shows exactly those rows); `cell_conditions` says the
same on a roll-up cell, and the suite checks after every test that the cells equal a count
of the rows.

Which appeals count (the same for every figure):

* registered in the period — `start` to `end`, both dates inclusive, local time;
* registered in the grid or below it — by the grid where the appeal was
  registered (`origin_grid`), so a village keeps the cases it escalated to the
  township, and a township's figures include its villages';
* not a duplicate — a repeat registration of a matter counts once, on the original.

The deadline figures (overdue, on time) are judged on the day `on` (default: today).

The grid platform's three rates (seed 003: 问题发现率、处置率、上报率, the 工作业绩 of the 百分制考核,
"发现问题是否及时、问题是否处置得当") credit a grid for what it does itself, never for
passing a case on; each has the appeals collected (收集) as its base:

* 问题发现率 = 发现 / 收集 — 发现: the grid found the problem itself, i.e. it was collected through
  one of APPEAL_DISCOVERY_CHANNELS (home visits, grid patrols, speak-up points), not brought in
  by a call, a letter or a higher level;
* 上报率 = 上报 / 收集 — 上报: the grid's own people put it on the platform: the 填表人 is a person
  of the grid where the appeal was registered or of a grid below it (`Appeal.reported_by_grid`,
  fixed at registration), not a higher level's clerk registering it on the grid's behalf;
* 处置率 = 处置 / 收集 — 处置: the problem was disposed of at the level that collected it: a reply
  was given and the appeal was never escalated (逐级上报 to a higher level earns no credit).

Escalations (移交上级) are still counted, as a plain figure, not as a rate.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, cast, false, func, literal_column, null, select, true, union_all
from sqlalchemy.orm import aliased

from app.core.clock import today
from app.models.appeals import CLOSED_STATUSES, OPEN_STATUSES, Appeal, AppealRollup, AppealSummary, Satisfaction
from app.models.grids import Grid
from app.models.lookups import AppealChannel
from app.services.appeals import cell_sum, overdue_clause  # noqa: F401  (cell_sum: for the report pages)
from app.services.scope import Scope


@dataclass(frozen=True)
class Count:
    key: str
    title: object
    doc: str


@dataclass(frozen=True)
class Rate:
    key: str
    title: object
    numerator: str
    denominator: str
    doc: str


COUNTS = (
    Count("collected", _l("Collected"), "收集: every appeal registered (the base of most rates)."),
    Count("closed", _l("Resolved"), "办结/解决: a reply was given (已反馈, 已评议 or 已归档)."),
    Count("pending", _l("Pending"), "待解决: no reply yet (已登记, 已上报, 已交办, 办理中)."),
    Count("overdue", _l("Overdue"), "超期: pending and past its deadline on the day `on`."),
    Count("escalated", _l("Passed to a higher level"), "移交上级: escalated to a higher level at least once."),
    Count("closed_on_time", _l("Resolved on time"), "按期办结: the reply was given on or before the deadline."),
    Count("due", _l("Due"), "应办结: resolved, or pending past its deadline (the base of the on-time rate)."),
    Count("evaluated", _l("Evaluated"), "已评议: the reporter or a review meeting judged the reply."),
    Count("satisfied", _l("Satisfied"), "满意."),
    Count("basic", _l("Basically satisfied"), "基本满意."),
    Count("unsatisfied", _l("Unsatisfied"), "不满意."),
    Count("satisfied_or_basic", _l("Satisfied or basically satisfied"), "满意 + 基本满意."),
    Count(
        "discovered",
        _l("Found by the grid"),
        "发现: collected through a channel where the grid found the problem itself "
        "(config APPEAL_DISCOVERY_CHANNELS: home visits, grid patrols, speak-up points).",
    ),
    Count("reported", _l("Reported by the grid"), "上报: put on the platform by the grid's own people (填表人)."),
    Count("handled_locally", _l("Resolved at this level"), "处置: resolved without being escalated."),
    Count("petition_collective", _l("Collective petitions"), "集体访."),
    Count("petition_bypass", _l("Petitions bypassing a level"), "越级访."),
    Count("petition_repeat", _l("Repeated petitions"), "重复访."),
    Count("petition_warning", _l("Early warning signs"), "苗头性."),
)
PETITION_COUNTS = ("petition_collective", "petition_bypass", "petition_repeat", "petition_warning")

RATES = (
    Rate("closure_rate", _l("Closure rate"), "closed", "collected", "办结率 = 办结 / 收集."),
    Rate(
        "on_time_rate",
        _l("On-time closure rate"),
        "closed_on_time",
        "due",
        "按期办结率 = 按期办结 / 应办结: an overdue pending appeal counts against it before it is answered.",
    ),
    Rate(
        "satisfaction_rate",
        _l("Satisfaction rate"),
        "satisfied_or_basic",
        "evaluated",
        "满意率 = (满意 + 基本满意) / 已评议.",
    ),
    Rate("discovery_rate", _l("Discovery rate"), "discovered", "collected", "问题发现率 = 网格自行发现 / 收集."),
    Rate(
        "handling_rate", _l("Handling rate"), "handled_locally", "collected", "处置率 = 本级办结（未移交上级）/ 收集."
    ),
    Rate("reporting_rate", _l("Reporting rate"), "reported", "collected", "上报率 = 网格自己的人登记上平台 / 收集."),
)


def _conditions(on):
    """Each count of COUNTS as a SQL condition on Appeal (None: every row)."""
    closed = Appeal.status.in_(CLOSED_STATUSES)
    overdue = overdue_clause(on)
    channels = current_app.config.get("APPEAL_DISCOVERY_CHANNELS") or []
    discovered = (
        Appeal.channel_id.in_(select(AppealChannel.id).where(AppealChannel.name.in_(channels))) if channels else false()
    )
    return {
        "collected": true(),
        "closed": closed,
        "pending": Appeal.status.in_(OPEN_STATUSES),
        "overdue": overdue,
        "escalated": Appeal.escalation_count > 0,
        "closed_on_time": and_(closed, Appeal.closed_on_time.is_(True)),
        "due": closed | overdue,
        "evaluated": Appeal.satisfaction.is_not(None),
        "satisfied": Appeal.satisfaction == Satisfaction.SATISFIED,
        "basic": Appeal.satisfaction == Satisfaction.BASIC,
        "unsatisfied": Appeal.satisfaction == Satisfaction.UNSATISFIED,
        "satisfied_or_basic": Appeal.satisfaction.in_((Satisfaction.SATISFIED, Satisfaction.BASIC)),
        "discovered": discovered,
        "reported": Appeal.reported_by_grid.is_(True),
        "handled_locally": and_(closed, Appeal.escalation_count == 0),
        **{key: getattr(Appeal, key).is_(True) for key in PETITION_COUNTS},
    }


def cell_conditions(on):
    """Each count of COUNTS as a SQL condition on the roll-up cells (AppealRollup): the same
    definitions as `_conditions`, read from what a cell keeps of its appeals."""
    cell = AppealRollup
    closed = cell.status.in_(CLOSED_STATUSES)
    overdue = and_(cell.status.in_(OPEN_STATUSES), cell.duplicate.is_(False), cell.due_date < on)
    channels = current_app.config.get("APPEAL_DISCOVERY_CHANNELS") or []
    discovered = (
        cell.channel_id.in_(select(AppealChannel.id).where(AppealChannel.name.in_(channels))) if channels else false()
    )
    return {
        "collected": true(),
        "closed": closed,
        "pending": cell.status.in_(OPEN_STATUSES),
        "overdue": overdue,
        "escalated": cell.escalated.is_(True),
        "closed_on_time": and_(closed, cell.closed_on_time.is_(True)),
        "due": closed | overdue,
        "evaluated": cell.satisfaction != "",
        "satisfied": cell.satisfaction == Satisfaction.SATISFIED,
        "basic": cell.satisfaction == Satisfaction.BASIC,
        "unsatisfied": cell.satisfaction == Satisfaction.UNSATISFIED,
        "satisfied_or_basic": cell.satisfaction.in_((Satisfaction.SATISFIED, Satisfaction.BASIC)),
        "discovered": discovered,
        "reported": cell.reported_by_grid.is_(True),
        "handled_locally": and_(closed, cell.escalated.is_(False)),
        **{key: getattr(cell, key).is_(True) for key in PETITION_COUNTS},
    }


def _aggregates(on):
    conditions = cell_conditions(on)
    return [cell_sum(conditions[c.key]).label(c.key) for c in COUNTS]


def cell_period_clause(start, end):
    """The cells `_period_clause` counts: duplicates are counted once (their original)."""
    clauses = [AppealRollup.duplicate.is_(False)]
    if start is not None:
        clauses.append(AppealRollup.day >= start)
    if end is not None:
        clauses.append(AppealRollup.day <= end)
    return and_(*clauses)


def _period_clause(start, end):
    # duplicates are counted once (their original); deleted registrations not at all
    clauses = [Appeal.duplicate_of_id.is_(None), Appeal.deleted_at.is_(None)]
    if start is not None:
        clauses.append(Appeal.registered_at >= dt.datetime.combine(start, dt.time.min))
    if end is not None:
        clauses.append(Appeal.registered_at < dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min))
    return and_(*clauses)


def ratio(numerator, denominator):
    """A rate as a fraction (0.923), or None when there is nothing to divide by."""
    return None if not denominator else numerator / denominator


def with_rates(counts):
    figures = dict(counts)
    for rate in RATES:
        figures[rate.key] = ratio(counts[rate.numerator], counts[rate.denominator])
    return figures


def appeal_figures(session, grid, start=None, end=None, on=None):
    """Counts and rates of the appeals registered in `grid`'s subtree between
    `start` and `end` (see the module docstring). One query."""
    return appeal_figures_in(session, (grid.path,), start, end, on)


def paths_clause(path_column, paths):
    """`path_column` lies in one of the subtrees rooted at `paths` (None: anywhere): the
    same ranges a user's scope uses."""
    return Scope(all=paths is None, paths=tuple(paths or ())).path_clause(path_column)


def in_subtrees(grid_column, paths):
    """`grid_column` (a grid id) names a grid in one of the subtrees rooted at `paths`."""
    return grid_column.in_(select(Grid.id).where(paths_clause(Grid.path, paths)))


def origin_clause(paths):
    """The appeal was registered in one of the subtrees rooted at `paths` (None: anywhere)."""
    if paths is None:
        return true()
    return in_subtrees(Appeal.origin_grid_id, paths)


def base_clause(paths, start=None, end=None):
    """Which appeals the figures of `paths` and a period count (the module docstring)."""
    return and_(origin_clause(paths), _period_clause(start, end))


def figure_clause(key, on=None):
    """The SQL condition of one count of COUNTS (for the list behind a figure)."""
    return _conditions(on or today())[key]


def appeal_figures_in(session, paths, start=None, end=None, on=None):
    """Counts and rates of the appeals registered in the subtrees rooted at `paths`
    (None: everywhere) between `start` and `end`. One query over the roll-ups."""
    rows = appeal_breakdown(session, paths, start, end, on)
    return with_rates(rows[0][1] if rows else {c.key: 0 for c in COUNTS})


def appeal_figures_by_child(session, grid, start=None, end=None, on=None):
    """The same figures for the grid itself ("本级", appeals registered directly in
    it) and for each child subtree: [(grid or None for 本级, figures)]. One pass."""
    children = session.scalars(select(Grid).where(Grid.parent_id == grid.id).order_by(Grid.sort_order, Grid.code)).all()
    dialect = session.get_bind().dialect.name
    rows = appeal_breakdown(
        session,
        (grid.path,),
        start,
        end,
        on,
        origin_keys=(lambda origin_path: subtree_of(grid.path, origin_path, dialect).label("child"),),
    )
    by_path = {key[0]: counts for key, counts in rows}
    zero = {c.key: 0 for c in COUNTS}
    return [(None, with_rates(by_path.get(grid.path, zero)))] + [
        (c, with_rates(by_path.get(c.path, zero))) for c in children
    ]


def subtree_of(grid_path, origin_path, dialect):
    """SQL: the path of the child subtree of the grid at `grid_path` that `origin_path`
    (a grid's path, inside that grid's subtree) lies in — or `grid_path` itself for
    the grid's own. '/1/5/' and '/1/5/77/123/' give '/1/5/77/'. No join per child:
    one string cut per row, so a breakdown by child costs one pass."""
    rest = func.substr(origin_path, len(grid_path) + 1)
    find = func.strpos if dialect == "postgresql" else func.instr
    return func.substr(origin_path, 1, len(grid_path) + find(rest, "/"))


def appeal_breakdown(session, paths, start=None, end=None, on=None, keys=(), origin_keys=()):
    """The counts of COUNTS for the appeals of `paths` and the period (as
    `appeal_figures_in`), split by `keys` (labelled SQL expressions on AppealRollup) and
    `origin_keys` (functions of the origin grid's path column giving a labelled
    expression): one pass over the roll-up cells (never the appeals), however many
    breakdowns a page shows. The jurisdiction is a range of the origin grid's path (an
    index range, however many grids it holds). Returns [(key values as a tuple, counts)];
    every count is a sum over cells, so the groups add up to any coarser figure (see
    `add_counts`)."""
    on = on or today()
    origin = aliased(Grid)
    columns = list(keys) + [make(origin.path) for make in origin_keys]
    query = select(*columns, *_aggregates(on)).select_from(AppealRollup)
    if origin_keys or paths is not None:
        query = query.join(origin, AppealRollup.origin_grid_id == origin.id)
    query = query.where(cell_period_clause(start, end))
    if paths is not None:
        query = query.where(paths_clause(origin.path, paths))
    if columns:
        query = query.group_by(*columns)
    width = len(columns)
    return [
        (tuple(row[:width]), {c.key: int(row._mapping[c.key]) for c in COUNTS}) for row in session.execute(query).all()
    ]


def add_counts(groups):
    """The counts of several groups of `appeal_breakdown` together."""
    total = {c.key: 0 for c in COUNTS}
    for counts in groups:
        for key, value in counts.items():
            total[key] += value
    return total


# --------------------------------------------------------------------------
# Whole months: the summary cells (per grid on the origin's path)
# --------------------------------------------------------------------------


def summary_serves(start, end):
    """Whether the summary cells (month grain) answer the period exactly: it starts on the
    first of a month and ends on the last day of one, or today or later (nothing is
    registered after today)."""
    if start is None or start.day != 1:
        return False
    return end is None or end >= today() or (end + dt.timedelta(days=1)).day == 1


def _summary_aggregates(on):
    cell = AppealSummary
    overdue = func.sum(case((cell.due_date < on, cell.pending), else_=0))
    discovered = func.sum(cell.found)  # kept for the channels the setting names (rollups.recount_found)
    columns = {
        "collected": func.sum(cell.n),
        "overdue": overdue,
        "due": func.sum(cell.closed) + overdue,
        "satisfied_or_basic": func.sum(cell.satisfied + cell.basic),
        "discovered": discovered,
    }
    sums = [columns[c.key] if c.key in columns else func.sum(getattr(cell, c.key)) for c in COUNTS]
    return [func.coalesce(total, 0).label(c.key) for total, c in zip(sums, COUNTS, strict=True)]


def _summary_where(query, anchor_ids, start, end):
    cell = AppealSummary
    query = query.where(cell.anchor_grid_id.in_(list(anchor_ids)))
    if start is not None:
        query = query.where(cell.month >= start.replace(day=1))
    if end is not None:
        query = query.where(cell.month <= end)
    return query


def summary_by_each(session, anchor_ids, start, end, on, keys):
    """The counts of COUNTS (a list in COUNTS order) of the summary cells of `anchor_ids` (as
    `summary_breakdown`) split by each of `keys` on its own: [[(value, counts)] per key]. One
    read of the cells grouped by all the keys together, then each key's sums over those groups,
    all in SQL (a county's year: three short lists come back, not thousands of groups)."""
    labels = [f"k{i}" for i in range(len(keys))]
    names = [c.key for c in COUNTS]
    groups = (
        _summary_where(select(*(k.label(n) for k, n in zip(keys, labels, strict=True)), *_summary_aggregates(on)),
                       anchor_ids, start, end).group_by(*keys).cte("summary_groups")
    )  # fmt: skip
    parts = [
        select(
            literal_column(str(i)).label("part"),
            *(groups.c[n] if j == i else cast(null(), groups.c[n].type).label(n) for j, n in enumerate(labels)),
            *(func.sum(groups.c[n]).label(n) for n in names),
        ).group_by(groups.c[label])
        for i, label in enumerate(labels)
    ]
    out = [[] for _ in keys]
    for row in session.execute(union_all(*parts)).tuples():
        part = int(row[0])
        values = list(map(int, row[1 + len(keys) :]))
        if values[0]:  # COUNTS starts with "collected": a group of no appeal is none
            out[part].append((row[1 + part], values))
    return out


def summary_breakdown(session, anchor_ids, start=None, end=None, on=None, keys=(), as_lists=False):
    """The counts of COUNTS of the appeals registered in the subtrees of the grids
    `anchor_ids` between `start` and `end` (whole months: `summary_serves`), split by `keys`
    (columns of AppealSummary: month, category_id, child_grid_id, anchor_grid_id). One read
    of the anchors' summary cells: a county's top grid has thousands, not a cell per leaf
    grid and day. Returns [(key values, counts)] as `appeal_breakdown` does (`as_lists`: the
    counts as a list in COUNTS order)."""
    on = on or today()
    query = _summary_where(select(*keys, *_summary_aggregates(on)), anchor_ids, start, end)
    if keys:
        query = query.group_by(*keys)
    width = len(keys)
    names = [c.key for c in COUNTS]
    out = []
    for row in session.execute(query).tuples():
        values = list(map(int, row[width:]))  # every sum is coalesced to 0
        if values[0] or not width:  # COUNTS starts with "collected"
            out.append((tuple(row[:width]), values if as_lists else dict(zip(names, values, strict=True))))
    return out
