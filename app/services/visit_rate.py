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

from sqlalchemy import and_, or_, select

from app.models.grids import Grid, subtree_bounds
from app.models.visits import VisitGridTally


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


def _in_subtrees(paths):
    return or_(*[and_(Grid.path >= low, Grid.path < high) for low, high in map(subtree_bounds, paths)])


def visit_rates(session, period, roots, children=True):
    """[VisitRate] of each grid of `roots` and (when `children`) of each of their children,
    each rolled up its subtree: two queries, whatever the size of the tree."""
    roots = [g for g in roots if g is not None]
    if not roots:
        return []
    within = _in_subtrees([g.path for g in roots])
    tree = session.execute(select(Grid.id, Grid.parent_id, Grid.households, Grid.path).where(within)).all()
    kids = defaultdict(list)
    own = {}
    paths = {}
    for gid, parent_id, households, path in tree:
        kids[parent_id].append(gid)
        own[gid] = households
        paths[gid] = path
    known = {}

    def households_of(gid):
        if gid not in known:
            if own.get(gid):
                known[gid] = own[gid]
            else:
                parts = [households_of(k) for k in kids.get(gid, ())]
                parts = [p for p in parts if p]
                known[gid] = sum(parts) if parts else None
        return known[gid]

    tallies = session.execute(
        select(Grid.path, VisitGridTally.households)
        .join(Grid, Grid.id == VisitGridTally.grid_id)
        .where(VisitGridTally.period == period.kind, VisitGridTally.start == period.start, within)
    ).all()

    def visited_in(path):
        return sum(n for p, n in tallies if p.startswith(path))

    shown = []
    for root in roots:
        shown.append((root.id, root.name, 0))
        if children:
            names = dict(
                session.execute(
                    select(Grid.id, Grid.name).where(Grid.parent_id == root.id).order_by(Grid.sort_order, Grid.code)
                ).all()
            )
            shown += [(gid, name, 1) for gid, name in names.items()]
    return [VisitRate(gid, name, depth, households_of(gid), visited_in(paths[gid])) for gid, name, depth in shown]


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
    by_month = visit_rates(session, month, roots)
    by_year = visit_rates(session, year, roots)
    return DashboardRates(month.label, year.label, list(zip(by_month, by_year, strict=True)))
