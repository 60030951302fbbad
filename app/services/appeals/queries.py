"""Queries over many appeals: the counts that need attention, duplicates, finding an
appeal by number within the scope."""

from __future__ import annotations

import datetime as dt
import logging

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, false, func, select, true
from sqlalchemy.orm import aliased, lazyload

from app.core.clock import today
from app.core.errors import NotFound
from app.core.inputs import parse_id
from app.models.appeals import OPEN_STATUSES, Appeal, AppealOpen, AppealRollup, Status, due_soon_days
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


UNASSIGNED = (Status.REGISTERED, Status.ESCALATED)  # no handler yet: 待交办


def open_cells_in(me, paths=None, cell=AppealOpen):
    """The open cells (AppealOpen; or the state cells, `cell=AppealState`: any per-ancestor
    cells) that count the appeals now in `me`'s scope and in the subtrees `paths` (None:
    anywhere), each once: those of the roots of the subtrees both cover (scope paths and area
    paths are subtree roots, so their meet is whole subtrees too). A condition on `cell`."""
    if me.all and paths is None:  # everywhere: the top grids' cells
        return cell.anchor_grid_id.in_(select(Grid.id).where(Grid.parent_id.is_(None)))
    if me.all:
        roots = paths
    elif paths is None:
        roots = me.paths
    else:
        roots = [b if b.startswith(a) else a for a in me.paths for b in paths if b.startswith(a) or a.startswith(b)]
    anchors = sorted({int(path.strip("/").split("/")[-1]) for path in scope.minimal_roots(roots) if path.strip("/")})
    return cell.anchor_grid_id.in_(anchors) if anchors else false()


def attention_counts(session, where, on=None, cells=None, week_end=None):
    """Overdue, due soon, supervised-and-open, extensions awaiting approval and not yet
    assigned, in one query: over the open cells `cells` (a condition on AppealOpen, e.g.
    `open_cells_in(scope)`: a few rows per root) when given, else over the day cells `where`
    (a condition on AppealRollup and NOW_GRID, e.g. `cells_now_in(scope)`, for conditions the
    open cells do not hold). With `week_end` also every open appeal and those due from `on`
    to that day. Judged on the day `on` (default today) when read, so overdue moves with the
    clock without any job."""
    on = on or today()
    soon = on + dt.timedelta(days=due_soon_days())
    if cells is not None:
        cell, running, query = AppealOpen, true(), select().select_from(AppealOpen).where(cells)
    else:
        cell, running = AppealRollup, cell_running()
        query = (
            select()
            .select_from(cell)
            .join(NOW_GRID, NOW_GRID.id == cell.grid_id)
            .where(where, cell.status.in_(OPEN_STATUSES))  # each count is of open appeals
        )
    names = ["overdue", "due_soon", "supervised", "extension", "unassigned"]
    sums = [
        and_(running, cell.due_date < on),
        and_(running, cell.due_date >= on, cell.due_date <= soon),
        and_(running, cell.supervised.is_(True)),
        and_(running, cell.extension.is_(True)),
        and_(running, cell.status.in_(UNASSIGNED)),
    ]
    if week_end is not None:
        names += ["open", "due_week"]
        sums += [running, and_(running, cell.due_date >= on, cell.due_date <= week_end)]
    row = session.execute(query.add_columns(*(cell_sum(c, cell) for c in sums))).one()
    return dict(zip(names, (int(v) for v in row), strict=True))


def cell_sum(condition, cell=AppealRollup):
    return func.coalesce(func.sum(case((condition, cell.n), else_=0)), 0)


def duplicates_of(session, appeal):
    """The appeals marked as duplicates of `appeal` (a page links them by number: their relations
    are not joined in, which PostgreSQL would plan for longer than it takes to find none)."""
    query = select(Appeal).where(Appeal.duplicate_of_id == appeal.id).order_by(Appeal.id)
    return session.scalars(query.options(lazyload("*"))).all()


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
