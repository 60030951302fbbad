"""A register's statistics, added up from its roll-ups (never from the entries): the entries of
a period in a jurisdiction, by sub-grid, by month and by the values of each choice field.

A period is read as its full calendar months (month roll-ups: 12 rows a grid a year) plus the
days of the partial months at its edges (day roll-ups), so a year's summary of a township
reads a few thousand rows whatever the number of entries.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import and_, func, or_, select

from app.models.grids import Grid, subtree_bounds
from app.models.registers import ChoiceValue, FieldType, RegisterRollup, RegisterRollupMonth
from app.services.registers.definitions import LOOKUPS
from app.services.registers.rollups import TOTAL
from app.services.scope import grid_id_clause


@dataclass
class Summary:
    total: int = 0
    root: object = None  # the grid the "by grid" rows are the children of (None: the scope's roots)
    by_grid: list = field(default_factory=list)  # (grid, count)
    by_month: list = field(default_factory=list)  # ("2026-11", count)
    by_field: list = field(default_factory=list)  # (field, [(value id, name, count)])


def _next_month(day):
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def spans(start, end):
    """(day ranges, month range) covering [start, end]: whole months by month, the rest by day."""
    start = start or dt.date(1990, 1, 1)
    end = end or dt.date(2100, 12, 31)
    first_full = start if start.day == 1 else _next_month(start)
    after_last_full = _next_month(end) if _next_month(end) - dt.timedelta(days=1) == end else end.replace(day=1)
    if first_full >= after_last_full:
        return [(start, end)], None
    days = []
    if start < first_full:
        days.append((start, first_full - dt.timedelta(days=1)))
    if after_last_full <= end:
        days.append((after_last_full, end))
    return days, (first_full, after_last_full - dt.timedelta(days=1))


def _where(model, spec, scope, root, field_id):
    conditions = [model.register_id == spec.id, model.field_id == field_id]
    if not scope.all:
        conditions.append(grid_id_clause(model.grid_id, scope) if not scope.empty else model.grid_id.is_(None))
    if root is not None:
        low, high = subtree_bounds(root.path)
        conditions.append(model.grid_id.in_(select(Grid.id).where(Grid.path >= low, Grid.path < high)))
    return conditions


def _sum(session, spec, scope, root, start, end, field_id, by):
    """Counter of counts grouped by `by` ("grid", "month" or "value") over the period."""
    days, months = spans(start, end)
    out = Counter()
    for model, ranges in ((RegisterRollupMonth, [months] if months else []), (RegisterRollup, days)):
        if not ranges:
            continue
        group = {"grid": model.grid_id, "month": model.day, "value": model.value_id}[by]
        period = or_(*[and_(model.day >= a, model.day <= b) for a, b in ranges])
        rows = session.execute(
            select(group, func.sum(model.count))
            .where(*_where(model, spec, scope, root, field_id), period)
            .group_by(group)
        ).all()
        for key, n in rows:
            if by == "month":
                key = (key if isinstance(key, dt.date) else dt.date.fromisoformat(str(key)[:10])).strftime("%Y-%m")
            out[key] += int(n or 0)
    return out


def summarize(session, spec, scope, start=None, end=None, root=None):
    """The figures of register `spec` in `scope` between `start` and `end` (dates, inclusive),
    under grid `root` (None: the whole scope)."""
    out = Summary(root=root)
    per_grid = _sum(session, spec, scope, root, start, end, TOTAL, "grid")
    out.total = sum(per_grid.values())
    out.by_grid = _by_child(session, scope, root, per_grid)
    out.by_month = sorted(_sum(session, spec, scope, root, start, end, TOTAL, "month").items())
    for fld in spec.live_fields:
        if fld.type not in (FieldType.CHOICE, FieldType.MULTICHOICE):
            continue
        counts = _sum(session, spec, scope, root, start, end, fld.id, "value")
        names = _value_names(session, fld, list(counts))
        values = sorted(((vid, names.get(vid, "—"), n) for vid, n in counts.items() if n), key=lambda r: -r[2])
        out.by_field.append((fld, values))
    return out


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


def cards(session, scope, specs, start, end, root=None):
    """[(spec, count)] of the registers shown as dashboard cards."""
    return [(spec, sum(_sum(session, spec, scope, root, start, end, TOTAL, "grid").values())) for spec in specs]
