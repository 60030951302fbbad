"""A register's statistics, added up from its roll-ups (never from the entries): the entries of
a period in a jurisdiction, by sub-grid, by month and by the values of each choice field."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func, select

from app.models.grids import Grid, subtree_bounds
from app.models.registers import ChoiceValue, FieldType, RegisterRollup
from app.services.registers.definitions import LOOKUPS
from app.services.registers.rollups import TOTAL


@dataclass
class Summary:
    total: int = 0
    root: object = None  # the grid the "by grid" rows are the children of (None: the scope's roots)
    by_grid: list = field(default_factory=list)  # (grid, count)
    by_month: list = field(default_factory=list)  # ("2026-11", count)
    by_field: list = field(default_factory=list)  # (field, [(value id, name, count)])


def _base(spec, scope, start, end, root):
    query = (
        select(RegisterRollup.grid_id, func.sum(RegisterRollup.count))
        .join(Grid, Grid.id == RegisterRollup.grid_id)
        .where(RegisterRollup.register_id == spec.id, scope.path_clause(Grid.path))
    )
    if start:
        query = query.where(RegisterRollup.day >= start)
    if end:
        query = query.where(RegisterRollup.day <= end)
    if root is not None:
        low, high = subtree_bounds(root.path)
        query = query.where(Grid.path >= low, Grid.path < high)
    return query


def summarize(session, spec, scope, start=None, end=None, root=None):
    """The figures of register `spec` in `scope` between `start` and `end` (dates, inclusive),
    under grid `root` (None: the whole scope)."""
    out = Summary(root=root)
    base = _base(spec, scope, start, end, root).where(RegisterRollup.field_id == TOTAL)
    per_grid = dict(session.execute(base.group_by(RegisterRollup.grid_id)).all())
    out.total = int(sum(per_grid.values()))
    out.by_grid = _by_child(session, scope, root, per_grid)
    months = defaultdict(int)
    day_rows = session.execute(
        select(RegisterRollup.day, func.sum(RegisterRollup.count))
        .join(Grid, Grid.id == RegisterRollup.grid_id)
        .where(RegisterRollup.register_id == spec.id, RegisterRollup.field_id == TOTAL, scope.path_clause(Grid.path),
               *_period(start, end), *_under(root))
        .group_by(RegisterRollup.day)
    ).all()  # fmt: skip
    for day, count in day_rows:
        months[day.strftime("%Y-%m")] += int(count)
    out.by_month = sorted(months.items())
    for fld in spec.live_fields:
        if fld.type not in (FieldType.CHOICE, FieldType.MULTICHOICE):
            continue
        rows = session.execute(
            select(RegisterRollup.value_id, func.sum(RegisterRollup.count))
            .join(Grid, Grid.id == RegisterRollup.grid_id)
            .where(RegisterRollup.register_id == spec.id, RegisterRollup.field_id == fld.id,
                   scope.path_clause(Grid.path), *_period(start, end), *_under(root))
            .group_by(RegisterRollup.value_id)
        ).all()  # fmt: skip
        names = _value_names(session, fld, [r[0] for r in rows])
        values = sorted(((vid, names.get(vid, "—"), int(n)) for vid, n in rows if n), key=lambda r: -r[2])
        out.by_field.append((fld, values))
    return out


def _period(start, end):
    out = []
    if start:
        out.append(RegisterRollup.day >= start)
    if end:
        out.append(RegisterRollup.day <= end)
    return out


def _under(root):
    if root is None:
        return []
    low, high = subtree_bounds(root.path)
    return [Grid.path >= low, Grid.path < high]


def _value_names(session, fld, ids):
    ids = [i for i in ids if i]
    if not ids:
        return {}
    model = LOOKUPS[fld.lookup] if fld.lookup else ChoiceValue
    return dict(session.execute(select(model.id, model.name).where(model.id.in_(ids))).all())


def _by_child(session, scope, root, per_grid):
    """Counts per grid folded into the children of `root` (or into the scope's root grids)."""
    if not per_grid:
        return []
    paths = dict(session.execute(select(Grid.id, Grid.path).where(Grid.id.in_(list(per_grid)))).all())
    if root is not None:
        heads = session.scalars(select(Grid).where(Grid.parent_id == root.id).order_by(Grid.code)).all()
        own = per_grid.get(root.id, 0)
    elif scope.all:
        heads = session.scalars(select(Grid).where(Grid.parent_id.is_(None)).order_by(Grid.code)).all()
        own = 0
    else:
        ids = [int(p.strip("/").split("/")[-1]) for p in scope.paths]
        heads = session.scalars(select(Grid).where(Grid.id.in_(ids)).order_by(Grid.code)).all()
        own = 0
    out = []
    for head in heads:
        count = sum(n for gid, n in per_grid.items() if paths.get(gid, "").startswith(head.path))
        if count:
            out.append((head, int(count)))
    if own:
        out.insert(0, (root, int(own)))
    return out


def this_year(today):
    return dt.date(today.year, 1, 1), dt.date(today.year, 12, 31)


def cards(session, scope, specs, start, end, root=None):
    """[(spec, count)] of the registers shown as dashboard cards, in one query over their roll-ups."""
    wanted = {s.id: s for s in specs}
    if not wanted:
        return []
    query = (
        select(RegisterRollup.register_id, func.sum(RegisterRollup.count))
        .join(Grid, Grid.id == RegisterRollup.grid_id)
        .where(RegisterRollup.register_id.in_(list(wanted)), RegisterRollup.field_id == TOTAL,
               scope.path_clause(Grid.path), *_period(start, end), *_under(root))
        .group_by(RegisterRollup.register_id)
    )  # fmt: skip
    counts = dict(session.execute(query).all())
    return [(spec, int(counts.get(spec.id) or 0)) for spec in specs]
