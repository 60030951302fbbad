"""走访率 (三个百分百, seed 001): the households visited in a period over a grid's households.

* visited: distinct households (a household is grid + address, `app.models.visits.household_key`)
  with at least one visit in the calendar period, read from the per-grid tally
  (`visit_grid_tally`, kept on every write of a visit by `app.services.tally`): a household
  visited twice counts once, and a subtree's figure is the sum of its grids' rows;
* households: the grid's own 户数 when filled in, else the sum of its children's (each by the
  same rule), so a village without its own figure adds up its groups';
* the rate is capped at 100 % and is empty where no household count is known.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import and_, bindparam, func, or_, select, text

from app.core.clock import today
from app.models.grids import Grid, subtree_bounds
from app.models.visits import Visit, VisitGridTally
from app.services import scope as scope_service
from app.services import stats, tally


@dataclass
class VisitRate:
    grid_id: int
    name: str
    depth: int
    households: int | None
    visited: int

    @property
    def rate(self):
        if not self.households:
            return None
        return min(1.0, self.visited / self.households)


# a grid's households (its own 户数 when filled, else its children's by the same rule): walk
# down from each grid asked about, stopping at the first filled grid of every branch, and add
# up those; a branch without any filled grid adds nothing (NULL when nothing at all is known)
HOUSEHOLDS_SQL = """
WITH RECURSIVE walk(anchor_id, grid_id, households) AS (
    SELECT id, id, households FROM grid WHERE id IN :ids
    UNION ALL
    SELECT w.anchor_id, g.id, g.households FROM walk w JOIN grid g ON g.parent_id = w.grid_id
    WHERE COALESCE(w.households, 0) = 0
)
SELECT anchor_id, sum(CASE WHEN households > 0 THEN households END) FROM walk GROUP BY anchor_id
"""


def households_of(session, grid_ids):
    """{grid id: households or None} of `grid_ids`: one recursive query over the grids between
    each of them and the first filled 户数 below (a county of filled villages reads ~500 grids)."""
    if not grid_ids:
        return {}
    query = text(HOUSEHOLDS_SQL).bindparams(bindparam("ids", expanding=True))
    return {gid: (int(n) if n is not None else None) for gid, n in session.execute(query, {"ids": list(grid_ids)})}


def visited_by_child(session, periods, root):
    """{(period kind, first day): {path: households visited}} of each of `periods` under `root`:
    its own grid's (key: its path) and each child's subtree (key: the child's path), summed from
    the grid tally in one GROUP BY over the subtree's path range (an index range, however many
    grids it holds) for every period at once."""
    low, high = subtree_bounds(root.path)
    key = stats.subtree_of(root.path, Grid.path, session.get_bind().dialect.name).label("child")
    rows = session.execute(
        select(VisitGridTally.period, VisitGridTally.start, key, func.sum(VisitGridTally.households))
        .join(Grid, Grid.id == VisitGridTally.grid_id)
        .where(
            or_(*[and_(VisitGridTally.period == p.kind, VisitGridTally.start == p.start) for p in periods]),
            Grid.path >= low,
            Grid.path < high,
        )
        .group_by(VisitGridTally.period, VisitGridTally.start, key)
    ).all()
    out = {(p.kind, p.start): {} for p in periods}
    for kind, start, path, n in rows:
        out[(kind, start)][path] = int(n or 0)
    return out


def visit_rates(session, period, roots, children=True):
    """[VisitRate] of each grid of `roots` and (when `children`) of each of their children,
    each rolled up its subtree (`rates_of` for one period)."""
    return rates_of(session, [period], roots, children)[0]


def rates_of(session, periods, roots, children=True):
    """[[VisitRate] per period of `periods`]: of each grid of `roots` and (when `children`) of
    each of their children, each rolled up its subtree. Per root, one query for its children and
    one sum of the grid tally by period and child; one recursive query for the households of them
    all, whatever the size of the tree and however many periods."""
    roots = [g for g in roots if g is not None]
    if not roots:
        return [[] for _ in periods]
    shown = []  # (grid id, name, depth, path: None for the root's own and its subtree's total)
    visited = {}  # root id -> {(kind, start): {path: n}}
    for root in roots:
        visited[root.id] = visited_by_child(session, periods, root)
        shown.append((root.id, root.name, 0, root, None))
        if children:
            kids = session.execute(
                select(Grid.id, Grid.name, Grid.path)
                .where(Grid.parent_id == root.id)
                .order_by(Grid.sort_order, Grid.code)
            ).all()
            shown += [(gid, name, 1, root, path) for gid, name, path in kids]
    households = households_of(session, {gid for gid, *_ in shown})
    out = []
    for period in periods:
        rows = []
        for gid, name, depth, root, path in shown:
            by_path = visited[root.id][(period.kind, period.start)]
            n = sum(by_path.values()) if path is None else by_path.get(path, 0)
            rows.append(VisitRate(gid, name, depth, households.get(gid), n))
        out.append(rows)
    return out


def whole_months(period, on=None):
    """The period covers whole calendar months: it starts on a 1st and ends on a month's last
    day, or today or later (no visit is dated in the future: the visit's rules refuse it)."""
    if period.start.day != 1:
        return False
    return period.end >= (on or today()) or period.end == tally.period_end("month", period.end.replace(day=1))


def tally_tiles(start, end):
    """[(period kind, first day)] of the tally rows that cover the months from `start` to `end`
    exactly, coarsest first: whole years, then whole quarters, then months (a year is one row per
    grid instead of twelve)."""
    months, day = [], start.replace(day=1)
    while day <= end:
        months.append(day)
        day = day.replace(year=day.year + 1, month=1) if day.month == 12 else day.replace(month=day.month + 1)
    out, i = [], 0
    while i < len(months):
        first = months[i]
        if first.month == 1 and i + 12 <= len(months):
            out.append(("year", first))
            i += 12
        elif first.month in (1, 4, 7, 10) and i + 3 <= len(months):
            out.append(("quarter", first))
            i += 3
        else:
            out.append(("month", first))
            i += 1
    return out


def visits_made(session, area, period, on=None):
    """Visits made in the area during the period (grid of the visit): for whole months a sum
    of the grid tally's month rows (kept on every write of a visit), else a count."""
    if whole_months(period, on):
        tiles = defaultdict(list)
        for kind, first in tally_tiles(period.start, period.end):
            tiles[kind].append(first)
        return session.scalar(
            select(func.coalesce(func.sum(VisitGridTally.visits), 0)).where(
                scope_service.clause_for(VisitGridTally),
                area.grid_clause(VisitGridTally.grid_id),
                or_(*[and_(VisitGridTally.period == k, VisitGridTally.start.in_(v)) for k, v in tiles.items()]),
            )
        )
    return session.scalar(
        select(func.count(Visit.id)).where(
            scope_service.clause_for(Visit),
            area.grid_clause(Visit.grid_id),
            Visit.visit_date >= period.start,
            Visit.visit_date <= period.end,
        )
    )


def scope_roots(session, scope, grid=None):
    """The grids a report starts from: the chosen one, else the tops of the user's jurisdiction."""
    if grid is not None:
        return [grid]
    if scope.all:
        return session.scalars(select(Grid).where(Grid.parent_id.is_(None)).order_by(Grid.sort_order, Grid.code)).all()
    return session.scalars(select(Grid).where(Grid.path.in_(scope.paths)).order_by(Grid.code)).all()


@dataclass
class DashboardRates:
    month_label: str
    year_label: str
    rows: list  # [(VisitRate of the month, VisitRate of the year)], the area first, then its children


def dashboard_rates(session, scope, grid, month, year):
    """The dashboard's 走访率: this month and this year, for the area (or the jurisdiction's tops)."""
    roots = scope_roots(session, scope, grid)
    by_month, by_year = rates_of(session, [month, year], roots)
    return DashboardRates(month.label, year.label, list(zip(by_month, by_year, strict=True)))
