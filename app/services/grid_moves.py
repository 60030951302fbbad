"""A grid move, as the kept counts see it: what the moved subtree takes from the grids above it
before and gives to the grids above it after.

The kept count tables (`appeal_summary`, `appeal_open`, `appeal_state`, `quota_cell`) hold one row
set per grid on a path (`anchor_grid_id`), some split by the child of the anchor the counted thing
lies under (`child_grid_id`). When a grid G gets another parent, nothing anchored at G or below
changes (anchors are grid ids, and the child of G or of a grid below it is the same), and what the
grids above G hold of G's subtree is exactly what G's own rows hold, summed over G's children (G
itself included, child 0). So the move is a delta of G's rows times its depth: subtracted from each
grid above G before, re-keyed to the child through which that grid reached G, and added to each
grid above G after (common ancestors cancel out unless the child they reach G through changed).
No appeal, person or visit is read.

Several grids moved in one flush are handled alike when none lies above another, before or after
(their subtrees are disjoint, so their deltas add up); otherwise `Moves.nested` says so and the
callers count the grids above again (`anchors`), as before this delta existed.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import func, select
from sqlalchemy import inspect as sa_inspect

from app.models.grids import Grid


def path_ids(path):
    return [int(part) for part in (path or "").strip("/").split("/") if part]


class Moves:
    """The grids whose path a flush changed: `moved` [(grid id, old ancestor ids, new ancestor
    ids)], root first; `anchors` every grid above one of them before or after; `nested` when one
    moved grid lies above another (before or after) or a path is unknown: the delta does not apply."""

    def __init__(self, session):
        self.moved, self.anchors, self.nested = [], set(), False
        for grid in session.dirty:
            if not isinstance(grid, Grid):
                continue
            history = sa_inspect(grid).attrs.path.history
            if not history.has_changes():
                continue
            old = path_ids(history.deleted[0]) if history.deleted else []
            new = path_ids(history.added[0]) if history.added else []
            self.anchors.update(old[:-1], new[:-1])
            if not old or not new:  # a path never loaded or emptied: only a count knows
                self.nested = True
                continue
            if old != new:
                self.moved.append((grid.id, old[:-1], new[:-1]))
        ids = {grid_id for grid_id, _old, _new in self.moved}
        if any(ids & set(old) or ids & set(new) for _grid, old, new in self.moved):
            self.nested = True

    def __bool__(self):
        return bool(self.moved or self.nested)

    @property
    def grids(self):
        return sorted(grid_id for grid_id, _old, _new in self.moved)

    def delta(self, keys, held):
        """{key (values of `keys`): [change per measure]} for the grids above the moved ones.
        `held`: {grid id: {rest: [measure, ...]}}, what each moved grid's own rows hold summed over
        its children, `rest` the values of `keys` but the anchor and the child (`rest_of`)."""
        rest_names = rest_of(keys)
        out = {}
        for grid_id, old, new in self.moved:
            for ancestors, sign in ((old, -1), (new, 1)):
                chain = [*ancestors, grid_id]
                for i, anchor in enumerate(ancestors):
                    for rest, measures in held.get(grid_id, {}).items():
                        named = dict(zip(rest_names, rest, strict=True))
                        named.update(anchor_grid_id=anchor, child_grid_id=chain[i + 1])
                        key = tuple(named[name] for name in keys)
                        kept = out.get(key)
                        change = [sign * m for m in measures]
                        out[key] = change if kept is None else [a + b for a, b in zip(kept, change, strict=True)]
        return {key: change for key, change in out.items() if any(change)}


def rest_of(keys):
    """The names of a key but the anchor and the child: what a moved grid's rows are summed by."""
    return tuple(name for name in keys if name not in ("anchor_grid_id", "child_grid_id"))


def held(conn, table, keys, measures, grids, changes=None):
    """What the grids `grids` anchor in `table` (key `keys`), summed over their children: {grid id:
    {rest values: [sum of each measure]}}, with `changes` ({key: [change per measure]} or {key:
    change}) added first: what this flush took out of those rows before the move."""
    out = defaultdict(dict)
    if not grids:
        return out
    rest = rest_of(keys)
    anchor = table.c.anchor_grid_id
    columns = [table.c[name] for name in rest]
    rows = conn.execute(
        select(anchor, *columns, *(func.sum(table.c[name]) for name in measures))
        .where(anchor.in_(sorted(grids)))
        .group_by(anchor, *columns)
    )
    width = len(rest) + 1
    for row in rows:
        out[row[0]][tuple(row[1:width])] = [int(v or 0) for v in row[width:]]
    wanted = set(grids)
    positions = [keys.index(name) for name in rest]
    for key, change in (changes or {}).items():
        if key[0] not in wanted:
            continue
        change = list(change) if isinstance(change, (list, tuple)) else [change]
        cells = out[key[0]]
        rest_key = tuple(key[p] for p in positions)
        kept = cells.get(rest_key, [0] * len(change))
        cells[rest_key] = [a + b for a, b in zip(kept, change, strict=True)]
    return out
