"""Grids (网格): an arbitrary-depth tree, county → township → village → group."""

from flask_appbuilder import Model
from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Integer,
    String,
    event,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.orm import attributes, object_session, relationship

from app.models.mixins import NOTE_LENGTH, LongText, TimestampMixin, VersionMixin

# Byte-wise ordering on every database: subtree queries are range scans on this
# index ("/1/5/" <= path < "/1/50"), which a locale collation would break.
PATH_TYPE = String(255).with_variant(String(255, collation="C"), "postgresql")


class Grid(VersionMixin, TimestampMixin, Model):
    __tablename__ = "grid"

    id = Column(Integer, primary_key=True)
    code = Column(String(40), nullable=False, unique=True)
    name = Column(String(100), nullable=False, index=True)
    level_id = Column(Integer, ForeignKey("grid_level.id"), nullable=False, index=True)
    parent_id = Column(Integer, ForeignKey("grid.id"), nullable=True, index=True)
    # "/<root id>/<child id>/.../<own id>/", maintained by the listeners below
    path = Column(PATH_TYPE, nullable=False, default="", index=True)
    depth = Column(Integer, nullable=False, default=0)
    households = Column(Integer, nullable=True)  # 户数, for visit coverage
    address = Column(String(200), nullable=True)
    description = Column(LongText(NOTE_LENGTH), nullable=True)
    sort_order = Column(Integer, nullable=False, default=0)
    active = Column(Boolean, nullable=False, default=True)

    # outer: a Grid is often the outer-joined side of a dotted column ("parent.name");
    # an inner eager join there would drop the rows whose parent is empty
    level = relationship("GridLevel", lazy="joined")
    parent = relationship("Grid", remote_side=[id], back_populates="children")
    children = relationship("Grid", back_populates="parent", order_by="Grid.sort_order, Grid.code", lazy="select")

    def __str__(self):
        return self.name

    def __repr__(self):
        return f"<Grid {self.code} {self.name}>"

    @property
    def parent_chain(self):
        """ "县 › 镇 › 村": the names of the ancestors (lists prefetch it per page)."""
        if "_chain" not in self.__dict__:
            self._load_tree_info()
        return self.__dict__["_chain"]

    @property
    def child_count(self):
        if "_child_count" not in self.__dict__:
            self._load_tree_info()
        return self.__dict__["_child_count"]

    def _load_tree_info(self):
        prefetch_tree_info(object_session(self), [self])

    @property
    def ancestor_ids(self):
        """Ids from the root down to the parent (not this grid)."""
        return [int(part) for part in (self.path or "").strip("/").split("/") if part][:-1]


def subtree_bounds(path):
    """The half-open range [low, high) of paths inside the subtree rooted at `path`."""
    return path, path[:-1] + "0"  # "0" is the character right after "/"


def _parent_path_depth(connection, target):
    parent = target.__dict__.get("parent")
    if parent is not None and parent.path:
        return parent.path, parent.depth
    if target.parent_id is None:
        return "/", -1
    row = connection.execute(select(Grid.path, Grid.depth).where(Grid.id == target.parent_id)).one()
    return row.path, row.depth


@event.listens_for(Grid, "after_insert")
def _grid_after_insert(mapper, connection, target):
    parent_path, parent_depth = _parent_path_depth(connection, target)
    path = f"{parent_path}{target.id}/"
    connection.execute(
        update(Grid.__table__).where(Grid.__table__.c.id == target.id).values(path=path, depth=parent_depth + 1)
    )
    attributes.set_committed_value(target, "path", path)
    attributes.set_committed_value(target, "depth", parent_depth + 1)


@event.listens_for(Grid, "before_update")
def _grid_before_update(mapper, connection, target):
    history = attributes.get_history(target, "parent_id")
    rel_history = attributes.get_history(target, "parent")
    if not (history.has_changes() or rel_history.has_changes()):
        return
    parent_path, parent_depth = _parent_path_depth(connection, target)
    target._moved_from = (target.path, target.depth)
    target.path = f"{parent_path}{target.id}/"
    target.depth = parent_depth + 1


@event.listens_for(Grid, "after_update")
def _grid_after_update(mapper, connection, target):
    moved = target.__dict__.pop("_moved_from", None)
    if not moved:
        return
    old_path, old_depth = moved
    if old_path == target.path:
        return
    low, high = subtree_bounds(old_path)
    table = Grid.__table__
    connection.execute(
        update(table)
        .where(table.c.path > low, table.c.path < high)
        .values(
            path=literal(target.path) + func.substr(table.c.path, len(old_path) + 1),
            depth=table.c.depth + (target.depth - old_depth),
        )
    )


def chains(session, grids):
    """{grid id: "县 › 镇 › 村"} for the parent chains of many grids, in one query."""
    wanted = {i for grid in grids for i in grid.ancestor_ids}
    names = {}
    if wanted:
        names = dict(session.execute(select(Grid.id, Grid.name).where(Grid.id.in_(wanted))).all())
    return {grid.id: " › ".join(names.get(i, "?") for i in grid.ancestor_ids) for grid in grids}


def child_counts(session, grid_ids):
    if not grid_ids:
        return {}
    rows = session.execute(
        select(Grid.parent_id, func.count()).where(Grid.parent_id.in_(grid_ids)).group_by(Grid.parent_id)
    )
    return dict(rows.all())


def prefetch_tree_info(session, grids):
    """Parent chains and child counts of a page of grids: two queries, not two per row."""
    chain_map = chains(session, grids)
    counts = child_counts(session, [g.id for g in grids])
    for grid in grids:
        grid.__dict__["_chain"] = chain_map.get(grid.id, "")
        grid.__dict__["_child_count"] = counts.get(grid.id, 0)
