"""Queries over many appeals: the counts that need attention, duplicates, finding an
appeal by number within the scope."""

from __future__ import annotations

import datetime as dt
import logging

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import aliased

from app.core.clock import today
from app.core.errors import NotFound
from app.core.inputs import parse_id
from app.models.appeals import OPEN_STATUSES, Appeal, AppealRollup, Status, due_soon_days
from app.models.grids import Grid
from app.services import scope
from app.services.validators import clean_text

log = logging.getLogger(__name__)


# the grid a case lives in now, joined to the roll-up cells for the scope's path ranges
NOW_GRID = aliased(Grid, name="now_grid")


def cell_running():
    """SQL twin of `open_clause` on the roll-up cells: the deadline runs."""
    return and_(AppealRollup.status.in_(OPEN_STATUSES), AppealRollup.duplicate.is_(False))


def cells_now_in(me, paths=None):
    """The cells of the appeals now in `me`'s scope (and in the subtrees `paths`, None:
    anywhere): a condition on the cells joined with NOW_GRID, ranges of its path."""
    clause = me.path_clause(NOW_GRID.path)
    if paths is not None:
        clause = and_(clause, scope.Scope(paths=tuple(paths)).path_clause(NOW_GRID.path))
    return clause


def attention_counts(session, where, on=None):
    """Overdue, due soon, supervised-and-open and extensions awaiting approval, in one query
    over the roll-up cells `where` (a condition on AppealRollup and NOW_GRID, e.g.
    `cells_now_in(scope)`): judged on the day `on` (default today) when read, so overdue
    moves with the clock without any job."""
    on = on or today()
    running = cell_running()
    cell = AppealRollup
    soon = on + dt.timedelta(days=due_soon_days())
    row = session.execute(
        select(
            cell_sum(and_(running, cell.due_date < on)),
            cell_sum(and_(running, cell.due_date >= on, cell.due_date <= soon)),
            cell_sum(and_(running, cell.supervised.is_(True))),
            cell_sum(and_(running, cell.extension.is_(True))),
            cell_sum(and_(cell.status.in_((Status.REGISTERED, Status.ESCALATED)), cell.duplicate.is_(False))),
        )
        .select_from(cell)
        .join(NOW_GRID, NOW_GRID.id == cell.grid_id)
        .where(where, cell.status.in_(OPEN_STATUSES))  # each count is of open appeals
    ).one()
    return dict(
        zip(("overdue", "due_soon", "supervised", "extension", "unassigned"), (int(v) for v in row), strict=True)
    )


def cell_sum(condition):
    return func.coalesce(func.sum(case((condition, AppealRollup.n), else_=0)), 0)


def duplicates_of(session, appeal):
    return session.scalars(select(Appeal).where(Appeal.duplicate_of_id == appeal.id).order_by(Appeal.id)).all()


def find_visible_appeal(session, number_or_id, field_name="original"):
    """An appeal by its number (or id) within the current scope; NotFound otherwise."""
    text = clean_text(str(number_or_id)) if number_or_id not in (None, "") else None
    if text is None:
        return None
    appeal = session.scalar(select(Appeal).where(Appeal.number == text, scope.clause_for(Appeal)))
    if appeal is None and parse_id(text) is not None:
        appeal = session.scalar(select(Appeal).where(Appeal.id == parse_id(text), scope.clause_for(Appeal)))
    if appeal is None:
        raise NotFound(_l("There is no appeal %(number)s within your jurisdiction.", number=text), field=field_name)
    return appeal
