"""Grid tree rules: codes, levels, moves without cycles, safe deletion, coverage."""

import re

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.orm import aliased

from app.core.clock import today
from app.core.errors import DomainError
from app.models.grids import Grid, subtree_bounds
from app.models.lookups import GridLevel
from app.models.personnel import Assignment, Post
from app.services import scope
from app.services.validators import clean_text, non_negative, require


def validate_grid(session, grid):
    """Check a new or edited grid before it is saved; raises DomainError."""
    grid.code = require(grid.code, _l("Enter the grid code."), "code")
    grid.name = require(grid.name, _l("Enter the grid name."), "name")
    grid.address = clean_text(grid.address)
    if not re.match(current_app.config["GRID_CODE_PATTERN"], grid.code):
        raise DomainError(_l("A grid code uses letters, digits, '.', '-' or '_' (at most 40)."), field="code")
    with session.no_autoflush:
        clash = session.scalar(select(Grid).where(Grid.code == grid.code, Grid.id != (grid.id or 0)))
        if clash is not None:
            if scope.visible(session, Grid, clash.id):
                message = _l("Grid code %(code)s is already used by %(name)s.", code=grid.code, name=clash.name)
            else:  # do not reveal another jurisdiction's grid
                message = _l("Grid code %(code)s is already in use.", code=grid.code)
            raise DomainError(message, field="code")
        level = grid.level or (grid.level_id and session.get(GridLevel, grid.level_id))
        if level is None:
            raise DomainError(_l("Choose the grid level."), field="level")
        parent = grid.parent or (grid.parent_id and session.get(Grid, grid.parent_id))
        if parent is not None:
            _check_parent(grid, parent, level)
        if grid.id is not None:
            _check_children_levels(session, grid, level)
    non_negative(grid.households, "households")


def _check_parent(grid, parent, level):
    if grid.id is not None and (parent.id == grid.id or (grid.path and parent.path.startswith(grid.path))):
        raise DomainError(
            _l(
                "%(parent)s lies inside %(grid)s: a grid cannot be moved under itself.",
                parent=parent.name,
                grid=grid.name,
            ),
            field="parent",
        )
    if parent.level.rank >= level.rank:
        raise DomainError(
            _l(
                "A %(level)s grid cannot be placed under a %(parent_level)s grid.",
                level=level.name,
                parent_level=parent.level.name,
            ),
            field="level",
        )


def _check_children_levels(session, grid, level):
    bad = session.scalar(
        select(Grid.name)
        .join(GridLevel, Grid.level_id == GridLevel.id)
        .where(Grid.parent_id == grid.id, GridLevel.rank <= level.rank)
        .limit(1)
    )
    if bad:
        raise DomainError(
            _l("The sub-grid %(child)s would no longer be below this grid's level.", child=bad),
            field="level",
        )


def references_to(session, table_name, pk, skip=()):
    """How many rows of other tables point at row `pk` of `table_name` (for safe deletion)."""
    metadata = Grid.metadata
    found = []
    for table in metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table.name != table_name or (table.name, fk.parent.name) in skip:
                continue
            count = session.scalar(select(func.count()).select_from(table).where(fk.parent == pk))
            if count:
                found.append((table.name, count))
    return found


TABLE_TITLES = {
    "grid": _l("sub-grids"),
    "person": _l("people"),
    "assignment": _l("assignments"),
}


def check_grid_deletable(session, grid):
    refs = references_to(session, "grid", grid.id)
    if refs:
        what = "、".join(f"{TABLE_TITLES.get(name, name)} {count}" for name, count in refs)
        raise DomainError(_l("%(grid)s cannot be deleted while it still has %(what)s.", grid=grid.name, what=what))


def ancestors(session, grid):
    """The grid's ancestors from the root down, in one query."""
    ids = grid.ancestor_ids
    if not ids:
        return []
    rows = {g.id: g for g in session.scalars(select(Grid).where(Grid.id.in_(ids)))}
    return [rows[i] for i in ids if i in rows]


def subtree_clause(grid):
    low, high = subtree_bounds(grid.path)
    return and_(Grid.path >= low, Grid.path < high)


def current_assignment_clause(on=None):
    on = on or today()
    return and_(
        Assignment.start_date <= on,
        or_(Assignment.end_date.is_(None), Assignment.end_date >= on),
    )


def coverage_report(session, scope_clause, on=None, limit=500):
    """Gaps in 不重不漏全覆盖 within the user's scope.

    Returns {"unstaffed": [...], "level_gaps": [...], "orphans": [...], "counts": {...}}:
    grids without a current responsible person, grids whose level skips one
    below their parent's, and grids at a lower level that have no parent.
    """
    responsible = exists().where(
        Assignment.grid_id == Grid.id,
        Assignment.post_id == Post.id,
        Post.is_responsible.is_(True),
        current_assignment_clause(on),
    )
    base = select(Grid).where(scope_clause, Grid.active.is_(True))
    unstaffed_q = base.where(~responsible).order_by(Grid.path)
    parent = aliased(Grid)
    parent_level = aliased(GridLevel)
    all_ranks = session.scalars(select(GridLevel.rank).order_by(GridLevel.rank)).all()
    expected = case({a: b for a, b in zip(all_ranks, all_ranks[1:], strict=False)}, value=parent_level.rank, else_=-1)
    gaps = session.execute(
        select(Grid, parent)
        .join(parent, Grid.parent_id == parent.id)
        .join(parent_level, parent.level_id == parent_level.id)
        .join(GridLevel, Grid.level_id == GridLevel.id)
        .where(scope_clause, GridLevel.rank != expected)
        .order_by(Grid.path)
        .limit(limit)
    ).all()
    root_rank = session.scalar(
        select(func.min(GridLevel.rank)).join(Grid, Grid.level_id == GridLevel.id).where(Grid.parent_id.is_(None))
    )
    orphans = session.scalars(
        base.join(GridLevel, Grid.level_id == GridLevel.id)
        .where(Grid.parent_id.is_(None), GridLevel.rank > (root_rank or 0))
        .order_by(Grid.path)
        .limit(limit)
    ).all()
    unstaffed_count = session.scalar(select(func.count()).select_from(unstaffed_q.subquery()))
    total = session.scalar(select(func.count()).select_from(base.subquery()))
    return {
        "unstaffed": session.scalars(unstaffed_q.limit(limit)).all(),
        "level_gaps": gaps,
        "orphans": orphans,
        "counts": {"total": total, "unstaffed": unstaffed_count, "level_gaps": len(gaps), "orphans": len(orphans)},
    }
