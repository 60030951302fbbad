"""The ledgers the seeds name, as printed books for a period:

* 一人一帐 (seed 002, 归档备案: "干部的上户情况……采取一人一帐的方法进行梳理分类，汇总成册"): one cadre's
  visits (上户对象、家庭人数、收集问题情况、处理过程、处理结果) and the cases they handle or registered;
* 一村一册 (seed 000: "建立统一的民情档案，实行一村一册、一事一记"): one village's cases, visits and
  register entries;
* 半年小结 (seed 001, 民情专递工作半年小结; seeds 000, 003: 半年小评): one grid's half-year figures, by
  sub-grid, with room for the written summary.

The figures are the definitions of `app.services.stats` (one place); rows are loaded here and masked
where they are rendered (privacy.Reader), like every other page.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from app.core.clock import today
from app.core.errors import DomainError
from app.models.appeals import Appeal
from app.models.grids import Grid, subtree_bounds
from app.models.visits import Visit, visit_visitors
from app.services import scope, stats
from app.services.registers import runtime as register_runtime
from app.services.registers.summary import summarize

BAD_PERIOD = _l("Choose a valid period: the start on or before the end, both as YYYY-MM-DD.")
HALVES = {1: _l("First half of the year"), 2: _l("Second half of the year")}


@dataclass(frozen=True)
class Span:
    start: dt.date
    end: dt.date

    @property
    def label(self):
        return f"{self.start:%Y-%m-%d} — {self.end:%Y-%m-%d}"


def span_of(start=None, end=None):
    """The period of ?from=&to= (ISO dates); default: this year to today."""
    on = today()
    try:
        first = dt.date.fromisoformat(start) if start else dt.date(on.year, 1, 1)
        last = dt.date.fromisoformat(end) if end else on
    except (TypeError, ValueError):
        raise DomainError(BAD_PERIOD) from None
    if first > last or not 2000 <= first.year <= 2100 or not 2000 <= last.year <= 2100:
        raise DomainError(BAD_PERIOD)
    return Span(first, last)


def half_of(year=None, half=None):
    on = today()
    try:
        year = int(year) if year not in (None, "") else on.year
        half = int(half) if half not in (None, "") else (1 if on.month <= 6 else 2)
    except (TypeError, ValueError):
        raise DomainError(BAD_PERIOD) from None
    if half not in HALVES or not 2000 <= year <= 2100:
        raise DomainError(BAD_PERIOD)
    if half == 1:
        return year, half, Span(dt.date(year, 1, 1), dt.date(year, 6, 30))
    return year, half, Span(dt.date(year, 7, 1), dt.date(year, 12, 31))


def _limit():
    return int(current_app.config.get("LEDGER_PRINT_MAX_ROWS", 1000))


def _day_range(column, span):
    return (column >= dt.datetime.combine(span.start, dt.time.min)) & (
        column < dt.datetime.combine(span.end + dt.timedelta(days=1), dt.time.min)
    )


def _in_subtree(column, grid):
    low, high = subtree_bounds(grid.path)
    return column.in_(select(Grid.id).where(Grid.path >= low, Grid.path < high))


def person_ledger(session, person, span):
    """一人一帐: the person's visits (as a visitor) and the cases they handle or registered."""
    visits = session.scalars(
        select(Visit)
        .join(visit_visitors, visit_visitors.c.visit_id == Visit.id)
        .where(
            visit_visitors.c.person_id == person.id,
            scope.clause_for(Visit),
            Visit.visit_date >= span.start,
            Visit.visit_date <= span.end,
        )
        .order_by(Visit.visit_date, Visit.id)
        .limit(_limit())
    ).all()
    mine = Appeal.handler_person_id == person.id
    if person.user_id is not None:
        mine = or_(mine, Appeal.filed_by_id == person.user_id)
    appeals = session.scalars(
        select(Appeal)
        .where(mine, scope.clause_for(Appeal), _day_range(Appeal.registered_at, span))
        .order_by(Appeal.registered_at, Appeal.id)
        .limit(_limit())
    ).all()
    return {
        "visits": visits,
        "appeals": appeals,
        "households": len({v.household_key for v in visits}),
        "people_met": sum(v.family_size or 0 for v in visits),
    }


def village_book(session, grid, span, reader_scope, readable=lambda spec: True):
    """一村一册: the cases registered in the grid's subtree, its visits and, for each register the
    reader may read, the number of its entries (each register prints its own entries)."""
    appeals = session.scalars(
        select(Appeal)
        .where(_in_subtree(Appeal.origin_grid_id, grid), scope.clause_for(Appeal))
        .where(_day_range(Appeal.registered_at, span))
        .order_by(Appeal.registered_at, Appeal.id)
        .limit(_limit())
    ).all()
    visits = session.scalars(
        select(Visit)
        .where(_in_subtree(Visit.grid_id, grid), scope.clause_for(Visit))
        .where(Visit.visit_date >= span.start, Visit.visit_date <= span.end)
        .options(selectinload(Visit.visitors))
        .order_by(Visit.visit_date, Visit.id)
        .limit(_limit())
    ).all()
    registers = []
    for spec in register_runtime.specs().values():
        if not spec.active or not spec.date_field or spec.extends or not readable(spec):
            continue
        summary = summarize(session, spec, reader_scope, span.start, span.end, root=grid)
        registers.append((spec, summary.total))
    return {"appeals": appeals, "visits": visits, "registers": registers}


def half_year(session, grid, span):
    """半年小结: the grid's figures for the half-year, and each sub-grid's."""
    by_child = stats.appeal_figures_by_child(session, grid, span.start, span.end, on=min(span.end, today()))
    total = stats.appeal_figures_in(session, (grid.path,), span.start, span.end, on=min(span.end, today()))
    visit_row = session.execute(
        select(func.count(Visit.id), func.count(func.distinct(Visit.household_key))).where(
            _in_subtree(Visit.grid_id, grid),
            Visit.deleted_at.is_(None),
            Visit.visit_date >= span.start,
            Visit.visit_date <= span.end,
        )
    ).one()
    return {
        "total": total,
        "rows": [(g, f) for g, f in by_child if g is not None or f["collected"]],
        "visits": int(visit_row[0]),
        "households": int(visit_row[1]),
        "counts": stats.COUNTS,
        "rates": stats.RATES,
    }
