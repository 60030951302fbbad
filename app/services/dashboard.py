"""What a leader sees: the figures of a jurisdiction and a period, all counted in SQL.

The dashboard (领导驾驶舱) and the accountability table (定责到人) are built from
the one definition of every figure in `app.services.stats` (appeals), `quotas`
(visit quotas) and `representatives` (contacts with voters); this module only
chooses the area, the period and the groupings, and says which list lies behind
each figure (`appeal_list_args`), so a click shows exactly the rows counted.

The area is a set of subtree roots: the grid the leader chose, else the roots of
their jurisdiction (None: everywhere, for Admin).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from operator import add

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, func, select, true

from app.core.clock import now, today
from app.core.errors import DomainError
from app.models.appeals import AppealRollup, AppealSummary
from app.models.grids import Grid
from app.models.lookups import AppealCategory
from app.models.personnel import Assignment, Person, Post
from app.models.representatives import Constituency, Representative
from app.services import quotas as quota_service
from app.services import representatives as rep_service
from app.services import scope as scope_service
from app.services import stats, visit_rate
from app.services.appeals import attention_counts, cells_now_in, open_cells_in
from app.services.grids import current_assignment_clause

PRESETS = (
    ("month", _l("This month")),
    ("quarter", _l("This quarter")),
    ("year", _l("This year")),
    ("12m", _l("Last 12 months")),
)
MAX_PERIOD_DAYS = 3 * 366  # a longer period is refused: trends are by month
TREND_FIGURES = ("collected", "closed", "overdue")


@dataclass
class Area:
    """The jurisdiction the figures cover: one chosen grid, or the user's whole scope."""

    grid: Grid | None  # the chosen grid (None: the whole jurisdiction)
    paths: tuple[str, ...] | None  # subtree roots (None: everywhere)
    roots: list = field(default_factory=list)  # the grids to break the figures down by

    def grid_clause(self, column):
        """`column` (a grid id) lies in the area."""
        if self.paths is None:
            return true()
        return stats.in_subtrees(column, self.paths)


@dataclass
class Period:
    start: dt.date
    end: dt.date
    preset: str | None = None

    @property
    def months(self):
        """Every month of the period as 'YYYY-MM', in order."""
        out, year, month = [], self.start.year, self.start.month
        while (year, month) <= (self.end.year, self.end.month):
            out.append(f"{year}-{month:02d}")
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return out


def preset_period(key, on=None):
    on = on or today()
    if key == "month":
        return Period(on.replace(day=1), on, key)
    if key == "quarter":
        first = (on.month - 1) // 3 * 3 + 1
        return Period(on.replace(month=first, day=1), on, key)
    if key == "12m":
        start = on.replace(day=1)
        start = (
            start.replace(year=start.year - 1, month=start.month + 1) if start.month < 12 else start.replace(month=1)
        )
        return Period(start, on, key)
    return Period(on.replace(month=1, day=1), on, "year")


def parse_period(preset=None, start=None, end=None, on=None):
    """The period from the page's parameters: a preset, or two ISO dates (inclusive)."""
    if not start and not end:
        return preset_period(preset or "year", on)
    try:
        start = dt.date.fromisoformat(start) if start else None
        end = dt.date.fromisoformat(end) if end else None
    except ValueError:
        raise DomainError(_l("Enter dates as YYYY-MM-DD."), field="period") from None
    on = on or today()
    end = end or on
    start = start or end.replace(month=1, day=1)
    if start > end:
        raise DomainError(_l("The start of the period is after its end."), field="period")
    if (end - start).days > MAX_PERIOD_DAYS:
        raise DomainError(_l("Choose a period of at most three years."), field="period")
    return Period(start, end)


def choose_area(session, scope, grid_id=None):
    """The area of the figures: `grid_id` if it is in the scope (else NotFound), else the
    scope itself; a scope of one subtree is that subtree's grid."""
    if grid_id is not None:
        grid = session.get(Grid, grid_id)
        if grid is None or not scope.contains_path(grid.path):
            raise scope_service.NotFound(scope_service.OUT_OF_SCOPE)
        return Area(grid, (grid.path,), _children(session, grid))
    if scope.all:
        tops = session.scalars(select(Grid).where(Grid.parent_id.is_(None)).order_by(Grid.sort_order, Grid.code)).all()
        if len(tops) == 1:
            return Area(tops[0], (tops[0].path,), _children(session, tops[0]))
        return Area(None, None, tops)
    if len(scope.paths) == 1:
        grid = session.scalar(select(Grid).where(Grid.path == scope.paths[0]))
        return Area(grid, (grid.path,), _children(session, grid))
    roots = session.scalars(select(Grid).where(Grid.path.in_(scope.paths)).order_by(Grid.path)).all()
    return Area(None, tuple(scope.paths), roots)


def _children(session, grid):
    return session.scalars(select(Grid).where(Grid.parent_id == grid.id).order_by(Grid.sort_order, Grid.code)).all()


def ancestors(session, grid, scope):
    """The chosen grid's ancestors that the user may open (for the breadcrumb)."""
    if grid is None:
        return []
    ids = [int(part) for part in grid.path.strip("/").split("/")[:-1]]
    rows = {g.id: g for g in session.scalars(select(Grid).where(Grid.id.in_(ids)))} if ids else {}
    return [rows[i] for i in ids if i in rows and scope.contains_path(rows[i].path)]


# --------------------------------------------------------------------------
# Appeals
# --------------------------------------------------------------------------


def _month_of(column, dialect):
    if dialect == "postgresql":
        return func.to_char(column, "YYYY-MM")
    return func.strftime("%Y-%m", column)


def _grid_split(session, area):
    """The origin-grid key of the breakdown by grid: the child subtree's path when one
    grid is chosen (its own path for appeals registered at the grid itself), else the
    root of the jurisdiction the appeal lies under."""
    if area.grid is not None:
        path, dialect = area.grid.path, session.get_bind().dialect.name
        return lambda origin_path: stats.subtree_of(path, origin_path, dialect).label("grid")
    roots = list(area.roots)
    if not roots:  # no grids yet (a new install without demo data): nothing to split by (a NULL
        # PostgreSQL groups by: an expression of the column, not a constant)
        return lambda origin_path: func.nullif(origin_path, origin_path).label("grid")
    return lambda origin_path: case(
        *[(stats.paths_clause(origin_path, (root.path,)), root.path) for root in roots], else_=None
    ).label("grid")


@dataclass
class Breakdown:
    """The appeal counts of an area and period: in all, by month ('YYYY-MM'), by category id
    and by grid one level down (the path of the child subtree; the chosen grid's own path for
    appeals registered at it)."""

    total: dict
    by_month: dict
    by_category: dict
    by_grid: dict


def appeal_breakdown(session, area, period, on=None):
    """The appeal counts of the area and period (`Breakdown`), from which the dashboard's
    figures, trend, categories and grids are read. Whole months: three small sums over the
    summary cells of the chosen grid (or the jurisdiction's roots); other periods: one pass
    over the day cells by (month, category, grid)."""
    on = on or today()
    if stats.summary_serves(period.start, period.end) and (area.grid is not None or area.roots):
        return _summary_breakdown(session, area, period, on)
    month = _month_of(AppealRollup.day, session.get_bind().dialect.name).label("month")
    rows = stats.appeal_breakdown(
        session,
        area.paths,
        period.start,
        period.end,
        on,
        keys=(month, AppealRollup.category_id.label("category")),
        origin_keys=(_grid_split(session, area),),
    )
    return Breakdown(
        stats.add_counts(counts for _key, counts in rows), _added(rows, 0), _added(rows, 1), _added(rows, 2)
    )


def _summary_anchors(area):
    """(anchor grid ids, the AppealSummary column naming the grid one level down, {its value: path})."""
    cell = AppealSummary
    if area.grid is not None:
        paths = {0: area.grid.path, **{child.id: child.path for child in area.roots}}
        return [area.grid.id], cell.child_grid_id, paths
    return [root.id for root in area.roots], cell.anchor_grid_id, {root.id: root.path for root in area.roots}


def _summary_by_grid(session, area, period, on):
    """{path of the grid one level down: counts} from the summary cells (whole months)."""
    anchors, split, paths = _summary_anchors(area)
    rows = stats.summary_breakdown(session, anchors, period.start, period.end, on, keys=(split,))
    return {paths.get(key[0]): counts for key, counts in rows}


def _summary_breakdown(session, area, period, on):
    """The summary cells by month, by category and by grid one level down, each added up in
    SQL (`stats.summary_by_each`): a county's year comes back as a few dozen rows."""
    anchors, split, paths = _summary_anchors(area)
    keys = (AppealSummary.month, AppealSummary.category_id, split)
    months, categories, grids = stats.summary_by_each(session, anchors, period.start, period.end, on, keys)
    names = [c.key for c in stats.COUNTS]
    by_grid = {}
    for grid, values in grids:  # a child no longer below the area (None) adds up with any other
        kept = by_grid.get(paths.get(grid))
        by_grid[paths.get(grid)] = values if kept is None else list(map(add, kept, values))
    parts = ({str(m)[:7]: v for m, v in months}, dict(categories), by_grid)  # month: 'YYYY-MM'
    by_month, by_category, by_grid = ({k: dict(zip(names, v, strict=True)) for k, v in p.items()} for p in parts)
    return Breakdown(stats.add_counts(by_grid.values()), by_month, by_category, by_grid)


def _added(rows, position):
    """{key at `position`: the counts of its groups added together}."""
    parts = defaultdict(list)
    for key, counts in rows:
        parts[key[position]].append(counts)
    return {value: stats.add_counts(groups) for value, groups in parts.items()}


def _trend(breakdown, period):
    by_month = breakdown.by_month
    zero = dict.fromkeys(TREND_FIGURES, 0)
    return [(m, {k: by_month[m][k] for k in TREND_FIGURES} if m in by_month else dict(zero)) for m in period.months]


def _categories(session, breakdown):
    keys = ("collected", "closed", "pending", "overdue")
    by_category = breakdown.by_category
    names = (
        dict(
            session.execute(
                select(AppealCategory.id, AppealCategory.name).where(AppealCategory.id.in_(list(by_category)))
            )
            .tuples()
            .all()
        )
        if by_category
        else {}
    )
    out = [(cid, names.get(cid, ""), {k: counts[k] for k in keys}) for cid, counts in by_category.items()]
    out.sort(key=lambda r: (-r[2]["collected"], r[1]))
    return out


def _by_grid(area, breakdown):
    by_path = breakdown.by_grid
    zero = {c.key: 0 for c in stats.COUNTS}

    def figures_of(path):
        return stats.with_rates(by_path.get(path, zero))

    out = [(None, figures_of(area.grid.path))] if area.grid is not None else []
    return out + [(ref(grid), figures_of(grid.path)) for grid in area.roots]


def appeal_trend(session, area, period, on=None):
    """Per month of the period: appeals collected, resolved and overdue (by registration month)."""
    return _trend(appeal_breakdown(session, area, period, on), period)


def appeal_by_category(session, area, period, on=None):
    """Per category: collected, resolved, pending and overdue, the largest first."""
    return _categories(session, appeal_breakdown(session, area, period, on))


@dataclass(frozen=True)
class GridRef:
    """A grid as the figures name it: plain values, safe to keep between requests."""

    id: int
    name: str
    code: str


def ref(grid):
    return GridRef(grid.id, grid.name, grid.code) if grid is not None else None


def appeal_by_grid(session, area, period, on=None):
    """The figures of each grid one level down (each with its whole subtree), and of
    appeals registered at the chosen grid itself ("本级", grid None)."""
    return _by_grid(area, appeal_breakdown(session, area, period, on))


def figures(session, scope, area, period, on=None):
    """Everything the dashboard shows, as plain values: sums of the appeals' roll-up cells
    (kept on every write, so always current) and the visit tally's and contacts' figures."""
    on = on or today()
    breakdown = appeal_breakdown(session, area, period, on)
    return {
        "figures": stats.with_rates(breakdown.total),
        "trend": _trend(breakdown, period),
        "categories": _categories(session, breakdown),
        "by_grid": _by_grid(area, breakdown),
        "attention": attention(session, area, on),
        "quotas": visit_quotas(session, area, on),
        "visits": visit_rate.visits_made(session, area, period, on),
        "reps": representatives(session, area, period.end.year, on),
        "computed_at": now(),
    }


def attention(session, area, on=None):
    """What needs attention now, whenever it was registered: open appeals now in the area
    (the open cells of the roots of the user's scope within the area, by the grid the case
    lives in now: a few rows, however many grids and appeals lie below)."""
    on = on or today()
    me = scope_service.current()
    week_end = on + dt.timedelta(days=6 - on.weekday())
    return attention_counts(
        session, cells_now_in(me, area.paths), on, cells=open_cells_in(me, area.paths), week_end=week_end
    )


# --------------------------------------------------------------------------
# Visits and representatives
# --------------------------------------------------------------------------


def _person_clause(area):
    return and_(scope_service.clause_for(Person), area.grid_clause(Person.grid_id))


def _quota_anchors(area):
    """The grids whose quota cells add up to the area: the chosen grid, else the roots."""
    return [area.grid.id] if area.grid is not None else [root.id for root in area.roots]


def visit_quotas(session, area, on=None):
    """Quota completion of the people of the area: this month's monthly rules and
    this year's yearly rules (summed from the quota cells; counted live when they cannot answer)."""
    on = on or today()
    month = quota_service.current_period("month", on)
    year = quota_service.current_period("year", on)
    kept = quota_service.kept_rollups(session, [month, year], _quota_anchors(area), on)
    if kept is None:
        clause = _person_clause(area)
        kept = {p.kind: quota_service.quota_rollup(session, p, clause, on=on) for p in (month, year)}
    return {"month": kept["month"], "year": kept["year"], "month_period": month, "year_period": year}


def representatives(session, area, year, on=None):
    clause = scope_service.clause_for(Representative)
    if area.paths is not None:
        clause = and_(
            clause,
            Representative.constituency_id.in_(select(Constituency.id).where(area.grid_clause(Constituency.grid_id))),
        )
    return rep_service.progress_rollup(session, year, clause, on=on)


# --------------------------------------------------------------------------
# Accountability (定责到人)
# --------------------------------------------------------------------------


class QuotaRates:
    """Completion of a row's quota roll-ups (`quota`: [RuleRollup]), this month's and this year's."""

    @property
    def quota_month_rate(self):
        return quota_service.rollup_rate([r for r in self.quota if r.period.kind == "month"])

    @property
    def quota_year_rate(self):
        return quota_service.rollup_rate([r for r in self.quota if r.period.kind == "year"])


@dataclass
class GridRow(QuotaRates):
    grid: Grid | None  # None: appeals registered at the chosen grid itself
    label: object
    whole: bool  # the figures cover the grid's whole subtree
    figures: dict
    responsible: list  # [(person, post name)]
    quota: list  # [RuleRollup] this month and this year


@dataclass
class PersonRow(QuotaRates):
    person: Person
    grid: Grid
    post: str
    filed: int = 0  # 发现: appeals this person registered (填表人)
    handled: int = 0  # appeals handed to this person
    closed: int = 0
    closed_on_time: int = 0
    due: int = 0
    overdue: int = 0
    escalated: int = 0
    evaluated: int = 0
    satisfied_or_basic: int = 0
    quota: list = field(default_factory=list)

    @property
    def closure_rate(self):
        return stats.ratio(self.closed, self.handled)

    @property
    def on_time_rate(self):
        return stats.ratio(self.closed_on_time, self.due)

    @property
    def satisfaction_rate(self):
        return stats.ratio(self.satisfied_or_basic, self.evaluated)


def _responsible(session, grid_ids):
    """Current holders of responsible posts of each grid: {grid id: [(person, post)]}."""
    rows = session.execute(
        select(Assignment.grid_id, Person, Post.name)
        .join(Person, Assignment.person_id == Person.id)
        .join(Post, Assignment.post_id == Post.id)
        .where(
            Assignment.grid_id.in_(grid_ids),
            Post.is_responsible.is_(True),
            Person.active.is_(True),
            current_assignment_clause(),
        )
        .order_by(Assignment.grid_id, Post.sort_order, Person.name)
    ).all()
    out = defaultdict(list)
    for grid_id, person, post in rows:
        out[grid_id].append((person, post))
    return out


def _quota_by_child(session, grid, on):
    """Quota rollups of the people of each child subtree of `grid` (and of the grid itself,
    None): summed from the grid's quota cells, counted live when they cannot answer."""
    periods = [quota_service.current_period(kind, on) for kind in ("month", "year")]
    kept = quota_service.kept_rollups(session, periods, [grid.id], on, by_child=True)
    if kept is None:
        clause = and_(scope_service.clause_for(Person), stats.in_subtrees(Person.grid_id, (grid.path,)))
        kept = {p.kind: quota_service.rollup_by_child(session, grid, p, clause, on) for p in periods}
    out = defaultdict(list)
    for grouped in kept.values():
        for key, rollups in grouped.items():
            out[key].extend(rollups)
    return out


def accountability(session, area, period, on=None):
    """The accountability table of the chosen grid: itself (its whole subtree) and each
    child grid, with their responsible people; then each responsible person's own
    record. Bounded: two levels of the tree at a time. The appeal figures are sums of
    the roll-up cells (always current: no recount, no last figures)."""

    on = on or today()
    grid = area.grid
    if grid is None:
        raise DomainError(_l("Choose a grid."), field="grid")
    children = area.roots
    responsible = _responsible(session, [grid.id] + [c.id for c in children])
    if stats.summary_serves(period.start, period.end):
        by_path = _summary_by_grid(session, area, period, on)
    else:
        counted = stats.appeal_breakdown(
            session, (grid.path,), period.start, period.end, on, origin_keys=(_grid_split(session, area),)
        )
        by_path = {key[0]: counts for key, counts in counted}
    quotas = _quota_by_child(session, grid, on)
    own_quota = [r for rollups in quotas.values() for r in rollups]
    merged = _merge_rollups(own_quota)
    whole = stats.with_rates(stats.add_counts(by_path.values()))
    rows = [GridRow(grid, grid.name, True, whole, responsible.get(grid.id, []), merged)]
    zero = {c.key: 0 for c in stats.COUNTS}
    for child in children:
        quota = quotas.get(child.id, [])
        figures_ = stats.with_rates(by_path.get(child.path, zero))
        rows.append(GridRow(child, child.name, True, figures_, responsible.get(child.id, []), quota))
    people = _person_rows(session, responsible, {grid.id: grid, **{c.id: c for c in children}}, period, on)
    return rows, people, now()


def _merge_rollups(rollups):
    merged = {}
    for r in rollups:
        key = (r.rule.id, r.period.label)
        m = merged.get(key)
        if m is None:
            merged[key] = quota_service.RuleRollup(r.rule, r.period, r.people, r.met, r.done, r.target)
        else:
            m.people += r.people
            m.met += r.met
            m.done += r.done
            m.target += r.target
    return list(merged.values())


def _person_rows(session, responsible, grids, period, on):
    rows, by_person = [], {}
    for grid_id, holders in responsible.items():
        for person, post in holders:
            row = PersonRow(person, grids[grid_id], post)
            rows.append(row)
            by_person.setdefault(person.id, []).append(row)
    if not rows:
        return rows
    ids = list(by_person)
    cell = AppealRollup
    period_clause = stats.cell_period_clause(period.start, period.end)
    conditions = stats.cell_conditions(on)
    fields = ("handled", "closed", "closed_on_time", "due", "overdue", "escalated", "evaluated", "satisfied_or_basic")
    handled = session.execute(
        select(
            cell.handler_person_id,
            stats.cell_sum(true()),
            *(stats.cell_sum(conditions[name]) for name in fields[1:]),
        )
        .where(period_clause, cell.handler_person_id.in_(ids))
        .group_by(cell.handler_person_id)
    ).all()
    for person_id, *values in handled:
        for row in by_person[person_id]:
            for name, value in zip(fields, values, strict=True):
                setattr(row, name, int(value or 0))
    users = {p.user_id: p.id for p in (r.person for r in rows) if p.user_id}
    if users:
        filed = session.execute(
            select(cell.filed_by_id, stats.cell_sum(true()))
            .where(period_clause, cell.filed_by_id.in_(list(users)))
            .group_by(cell.filed_by_id)
        ).all()
        for user_id, n in filed:
            for row in by_person[users[user_id]]:
                row.filed = int(n)
    periods = [quota_service.current_period(kind, on) for kind in ("month", "year")]
    for grouped in quota_service.people_rollups(session, periods, ids, on).values():
        for person_id, rollups in grouped.items():
            for row in by_person[person_id]:
                row.quota.extend(rollups)
    return rows
