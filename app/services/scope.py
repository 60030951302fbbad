"""Data scope: which grids, and so which records, a user may see and touch.

One mechanism for every list, page, form, action, export, picker and API:

* a user's scope is the union of the subtrees of the grids of their person's
  current assignments (Admin: everything; no person or no assignment: nothing);
* `clause_for(Model)` turns it into a SQL condition for any grid-bound model
  (the Grid tree itself, or anything with a `grid_id`), and models with a
  different notion of ownership have a rule registered with `@scope_rule(Model)`
  by the service that owns them;
* `check_writable(obj)` refuses to save a record pointing into another grid,
  and the `before_flush` listener below repeats that check for every write made
  during a request, so a view or API that forgets it still cannot leak.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app, g, has_app_context, has_request_context, request
from flask_babel import lazy_gettext as _l
from sqlalchemy import Integer, and_, any_, bindparam, case, event, false, func, literal_column, or_, select, true
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import MANYTOMANY, MANYTOONE, Session, attributes

from app.core.clock import today
from app.core.errors import NotFound
from app.extensions import db
from app.models.grids import Grid, subtree_bounds
from app.models.personnel import Assignment, Person
from app.models.registers import RuntimeGeneration
from app.services import runtime

OUT_OF_SCOPE = _l("The record does not exist or is outside your jurisdiction.")
GRID_OUT_OF_SCOPE = _l("The chosen grid is outside your jurisdiction.")
RECORD_OUT_OF_SCOPE = _l("The chosen record is outside your jurisdiction.")


@dataclass(frozen=True)
class Scope:
    """What one user may reach. `paths` are subtree roots, none nested in another."""

    all: bool = False
    paths: tuple[str, ...] = ()
    user_id: int | None = None
    person_id: int | None = None
    roles: frozenset[str] = field(default_factory=frozenset)
    person_name: str | None = field(default=None, compare=False)  # read with the scope (the actor's name)

    @property
    def empty(self):
        return not self.all and not self.paths

    @property
    def cache_key(self):
        """Who may see what, for memo keys: users with equal keys see the same records."""
        return (self.all, self.paths, self.roles)

    def path_clause(self, path_column):
        if self.all:
            return true()
        if not self.paths:
            return false()
        ranges = []
        for path in self.paths:
            low, high = subtree_bounds(path)
            ranges.append(and_(path_column >= low, path_column < high))
        return or_(*ranges)

    def grid_ids(self):
        """A SELECT of the ids of every grid in scope (for `grid_id IN (...)`)."""
        return select(Grid.id).where(self.path_clause(Grid.path))

    def contains_path(self, path):
        if self.all:
            return True
        return bool(path) and any(path.startswith(root) for root in self.paths)

    def has_role(self, *names):
        return bool(self.roles.intersection(names))


EVERYTHING = Scope(all=True)
NOTHING = Scope()


def minimal_roots(paths):
    """Drop paths that lie inside another path of the list."""
    roots = []
    for path in sorted(set(paths), key=len):
        if not any(path.startswith(root) for root in roots):
            roots.append(path)
    return tuple(sorted(roots))


def for_user(session, user, on=None):
    """Compute a user's scope from their roles and their person's current assignments."""
    if user is None or not getattr(user, "is_authenticated", True) or not user.id:
        return NOTHING
    with session.no_autoflush:
        return _compute(session, user, on)


def _compute(session, user, on):
    """One statement: the user's person and the grids of its assignments current `on`."""
    roles = frozenset(role.name for role in user.roles)
    admin_role = current_app.config.get("AUTH_ROLE_ADMIN", "Admin") if has_app_context() else "Admin"
    is_admin = admin_role in roles
    on = on or today()
    current_grid = and_(
        Assignment.person_id == Person.id,
        Assignment.start_date <= on,
        or_(Assignment.end_date.is_(None), Assignment.end_date >= on),
    )
    query = select(Person.id, Person.name).where(Person.user_id == user.id)
    if not is_admin:  # Admin: everything, whatever the assignments
        query = (
            query.add_columns(Grid.path)
            .outerjoin(Assignment, current_grid)
            .outerjoin(Grid, Grid.id == Assignment.grid_id)
        )
    rows = session.execute(query).all()
    person_id, person_name = (rows[0][0], rows[0][1]) if rows else (None, None)
    if is_admin:
        return Scope(all=True, user_id=user.id, person_id=person_id, roles=roles, person_name=person_name)
    if person_id is None:
        return Scope(user_id=user.id, roles=roles)
    paths = [row[2] for row in rows if row[2] is not None]
    return Scope(paths=minimal_roots(paths), user_id=user.id, person_id=person_id, roles=roles, person_name=person_name)


def own_grid(session, me, on=None):
    """The grid a new record of `me` starts in: the lowest of their current assignments (a
    clerk of the township who also serves a village files in the village), when one is the
    lowest; else their one jurisdiction; else None (the user chooses)."""
    if me.all or me.person_id is None:
        return None
    on = on or today()
    grids = (
        session.scalars(
            select(Grid)
            .join(Assignment, Assignment.grid_id == Grid.id)
            .where(
                Assignment.person_id == me.person_id,
                Assignment.start_date <= on,
                or_(Assignment.end_date.is_(None), Assignment.end_date >= on),
            )
        )
        .unique()
        .all()
    )
    if grids:
        deepest = max(grid.depth for grid in grids)
        lowest = {grid.id: grid for grid in grids if grid.depth == deepest}
        if len(lowest) == 1:
            return next(iter(lowest.values()))
    if len(me.paths) == 1:
        return session.get(Grid, int(me.paths[0].strip("/").split("/")[-1]))
    return None


def current_user():
    if not has_request_context():
        return None
    try:
        user = current_app.appbuilder.sm.current_user
    except Exception:  # no JWT in this request, or no user loaded
        return None
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return user


def current():
    """The scope of the user of this request, computed once per request.

    Outside a request (CLI, migrations) there is no user to restrict: EVERYTHING.
    """
    if not has_request_context():
        return EVERYTHING
    cached = g.get("_minqing_scope")
    user = current_user()
    if cached is not None and cached[0] == (user.id if user else None):
        return cached[1]

    scope = for_user(db.session, user) if user else NOTHING
    g._minqing_scope = (user.id if user else None, scope)
    return scope


# models whose ownership is not simply a `grid_id`: model -> fn(scope) -> SQL condition,
# registered by the service that owns the rule (`@scope_rule(Model)`)
SCOPE_RULES = {}


def scope_rule(model):
    """Register `fn(scope)` as the scope condition of `model` (decorator)."""

    def register(fn):
        SCOPE_RULES[model] = fn
        return fn

    return register


# the recycle bin's rule where it differs from the live one (`@bin_rule(Model)`): a removed
# photo whose record is in the bin too is still in the bin's scope
BIN_RULES = {}


def bin_rule(model):
    """Register `fn(scope)` as the scope condition of `model`'s deleted rows (decorator)."""

    def register(fn):
        BIN_RULES[model] = fn
        return fn

    return register


def is_scoped(model):
    return model is Grid or model in SCOPE_RULES or hasattr(model, "grid_id")


def clause_for(model, scope=None, include_deleted=False, walk=False):
    """SQL condition restricting `model` to the scope (default: the current user's).

    Soft-deleted records are outside every scope (so lists, pickers and counts
    never see them) unless `include_deleted` (the Admin's recycle bin). `walk`: the rows are
    found along the query's order, the scope checked on each (SQLite keeps off the grid
    index: app.views.few_rows `dense`).
    """
    scope = scope if scope is not None else current()
    if include_deleted and model in BIN_RULES:
        return BIN_RULES[model](scope)
    clause = _scope_clause(model, scope, walk)
    if hasattr(model, "deleted_at") and not include_deleted:
        clause = and_(clause, model.deleted_at.is_(None))
    return clause


def _scope_clause(model, scope, walk=False):
    if model is Grid:
        return scope.path_clause(Grid.path)
    if model in SCOPE_RULES:
        return SCOPE_RULES[model](scope)
    if hasattr(model, "grid_id"):
        if scope.all:
            return true()
        if scope.empty:
            return false()
        return grid_id_clause(model.grid_id, scope, walk)
    raise TypeError(f"{model.__name__} is not grid-bound")


# How `grid_id` is restricted to a scope's grids, chosen once per request and scope:
# * PostgreSQL, up to SCOPE_ID_LIST_MAX grids: the ids themselves. Given `grid_id IN (SELECT id
#   FROM grid WHERE path …)` PostgreSQL walks a list's date index and looks up each row's grid;
#   given the ids it filters inside the covering index (a township's page 500: ~90 → ~17 ms).
# * More grids (a county leader of a county with thousands): the runs of consecutive grid ids
#   the subtree holds, `grid_id BETWEEN lo AND hi OR …` — an index range on both databases.
#   A subtree built at once is one run; grids added later under it add a run each. An id no
#   grid has any more cannot be a row's grid (foreign key), so it does not break a run.
# * Scattered over more than SCOPE_RANGES_MAX runs, or SQLite's smaller scopes: the subquery.
_GRIDS = "_minqing_scope_grids"


def grid_id_clause(column, scope, walk=False):
    """`column` (a grid id) names a grid in `scope` (neither all nor empty); `walk`: not an index's
    way in on SQLite (`+ 0`, as the runs always are there), a test on each row met."""
    how, value = _scope_grids(scope)
    if db.engine.dialect.name == "sqlite" and (walk or how == "runs"):
        # `+ 0` keeps SQLite off the grid index. Runs: a range over most of the table, then sorted
        # for the list's order (250 ms for a county leader's first page); it walks the order's
        # index instead and filters (under 1 ms). PostgreSQL weighs both plans itself.
        column = column + literal_column("0")
    if how == "ids":
        return column == any_(bindparam(None, value, type_=postgresql.ARRAY(Integer)))  # one parameter, not 500
    if how == "runs":
        return or_(*[column.between(low, high) if low != high else column == low for low, high in value])
    return column.in_(scope.grid_ids())


def grid_choice(model, scope=None):
    """How this request restricts `model.grid_id` to `scope` (default: the current user's), for an
    index that can narrow by grid ids as well (the name search's keys, app.services.search):
    ("all", None), ("ids", [...]), ("runs", [(lo, hi), ...]) or ("subquery", None); None when
    the model's scope is not its `grid_id` (a registered rule, or not grid-bound)."""
    if model in SCOPE_RULES or model is Grid or not hasattr(model, "grid_id"):
        return None
    scope = scope if scope is not None else current()
    if scope.all:
        return "all", None
    if scope.empty:
        return "ids", []
    return _scope_grids(scope)


def _scope_grids(scope):
    """("ids", [...]) | ("runs", [(lo, hi), ...]) | ("subquery", None): once per request, from the
    process's kept choice while the grids are as they were when it was made."""
    if not has_request_context():
        return "subquery", None
    this_request = request._get_current_object()
    held = g.get(_GRIDS)
    if held is None or held[0] is not this_request:  # (g can outlive a request: tests share one)
        held = g._minqing_scope_grids = (this_request, {})
    known = held[1]
    if scope.paths not in known:
        with db.session.no_autoflush:
            if _VERSION not in known:
                known[_VERSION] = grids_version(db.session)
            key = (*known[_VERSION], scope.paths, *_limits())
            choice = _KEPT.get(key)
            if choice is None:
                choice = _choose(scope)
                if len(_KEPT) >= KEPT_CHOICES:
                    _KEPT.clear()
                _KEPT[key] = choice
            known[scope.paths] = choice
    return known[scope.paths]


# The choice for a scope (its ids or id runs: ~8 ms of queries at a county, ~25 ms before runs were
# checked at once) is kept by the process under the grids' version: the token every change of the
# tree (a grid added, moved or removed) rewrites in its own transaction (`_bump_on_grid_change`),
# the highest grid id (rows inserted around the ORM) and the database. Any process sees a change
# on its next request: the version is read once per request (one primary-key lookup).
GRIDS_GENERATION = "grids"
KEPT_CHOICES = 512
_KEPT = {}
_VERSION = "version"


def _limits():
    config = current_app.config
    return config.get("SCOPE_ID_LIST_MAX", 2000), config.get("SCOPE_RANGES_MAX", 50)


def grids_version(session):
    """(database, token of the last change of the tree, highest grid id)."""
    token = select(RuntimeGeneration.token).where(RuntimeGeneration.name == GRIDS_GENERATION).scalar_subquery()
    highest = select(func.max(Grid.id)).scalar_subquery()
    row = session.execute(select(token, highest)).one()
    return (str(session.get_bind().engine.url), row[0], row[1])


@event.listens_for(Session, "before_flush")
def _bump_on_grid_change(session, flush_context, instances):
    """A grid added, removed or moved: a new version of the tree, in the same transaction."""
    for obj in (*session.new, *session.deleted, *session.dirty):
        if not isinstance(obj, Grid):
            continue
        if obj in session.dirty and not (
            attributes.get_history(obj, "parent_id").has_changes()
            or attributes.get_history(obj, "parent").has_changes()
        ):
            continue
        runtime.bump(session, GRIDS_GENERATION)
        return


def _choose(scope):
    config = current_app.config
    most_ids = config.get("SCOPE_ID_LIST_MAX", 2000)
    if db.engine.dialect.name == "postgresql":
        ids = db.session.scalars(scope.grid_ids().order_by(Grid.id).limit(most_ids + 1)).all()
        if not ids:
            return "subquery", None
        if len(ids) <= most_ids:
            return "ids", ids
    count, low, high, between = db.session.execute(span_of(scope)).one()
    if count <= most_ids:  # SQLite plans a small scope's subquery well
        return "subquery", None
    if count == between:  # no grid outside the scope has an id between its lowest and highest: one run
        return "runs", [(low, high)]
    runs = id_runs(db.session, scope, low, high)
    if len(runs) <= config.get("SCOPE_RANGES_MAX", 50):
        return "runs", [(first, last) for first, last, _ in runs]
    return "subquery", None


def span_of(scope):
    """SELECT (grids in `scope`, lowest id, highest id, grids with an id between those two) in one
    round trip: equal counts mean the scope's ids are one run (a subtree built at once), and the
    islands query (`id_runs`, ~17 ms over a county's 10,000 grids) is not needed."""
    inside = (
        select(func.count().label("n"), func.min(Grid.id).label("low"), func.max(Grid.id).label("high"))
        .where(scope.path_clause(Grid.path))
        .subquery()
    )
    between = select(func.count()).where(Grid.id.between(inside.c.low, inside.c.high)).scalar_subquery()
    return select(inside.c.n, inside.c.low, inside.c.high, between)


def id_runs(session, scope, low=None, high=None):
    """[(lowest id, highest id, grids)] of the runs of consecutive grid ids inside `scope` (ids
    of no grid do not break a run), islands found in SQL over the grids between `low` and `high`
    (the scope's own lowest and highest ids: no other grid can split a run outside them)."""
    inside = scope.path_clause(Grid.path)
    flagged = select(Grid.id, case((inside, 1), else_=0).label("inside"))
    if low is not None:
        flagged = flagged.where(Grid.id.between(low, high))
    flagged = flagged.subquery()
    numbered = select(
        flagged.c.id,
        flagged.c.inside,
        (
            func.row_number().over(order_by=flagged.c.id)
            - func.row_number().over(partition_by=flagged.c.inside, order_by=flagged.c.id)
        ).label("island"),
    ).subquery()
    rows = session.execute(
        select(func.min(numbered.c.id), func.max(numbered.c.id), func.count())
        .where(numbered.c.inside == 1)
        .group_by(numbered.c.island)
        .order_by(func.min(numbered.c.id))
    ).all()
    return [tuple(row) for row in rows]


@event.listens_for(Session, "after_flush")
def _grids_changed(session, flush_context):
    """A grid added, moved or removed in this request: read the scope's ids again."""
    if has_request_context() and _GRIDS in g:
        for obj in (*session.new, *session.dirty, *session.deleted):
            if isinstance(obj, Grid):
                g.pop(_GRIDS, None)
                return


def visible(session, model, pk, scope=None, include_deleted=False):
    """Whether the record `pk` of `model` is in the scope, as stored in the database
    (`include_deleted`: a record in the recycle bin counts, by the bin's rule)."""
    scope = scope if scope is not None else current()
    if scope.all:
        return True
    if pk is None:
        return False
    with session.no_autoflush:
        found = session.scalar(
            select(model.id).where(model.id == pk, clause_for(model, scope, include_deleted=include_deleted))
        )
    return found is not None


def _scoped_relations(model):
    """Many-to-one relationships of `model` that point at grid-bound records."""
    mapper = sa_inspect(model)
    for rel in mapper.relationships:
        if rel.direction is MANYTOONE and is_scoped(rel.mapper.class_):
            (column,) = rel.local_columns
            yield rel.key, mapper.get_property_by_column(column).key, rel.mapper.class_


def _scoped_collections(model):
    """Many-to-many relationships of `model` to grid-bound records (visitors, covered grids ...)."""
    for rel in sa_inspect(model).relationships:
        if rel.direction is MANYTOMANY and is_scoped(rel.mapper.class_):
            yield rel.key, rel.mapper.class_


def _collections_changed(obj):
    return any(attributes.get_history(obj, key).has_changes() for key, _ in _scoped_collections(type(obj)))


def _pointed_id(obj, rel_key, fk_key):
    """The id `obj` will point at once flushed: a changed FK wins over a stale relation."""
    if attributes.get_history(obj, fk_key).has_changes() and not attributes.get_history(obj, rel_key).has_changes():
        return getattr(obj, fk_key)
    related = obj.__dict__.get(rel_key)
    if related is not None:
        return related.id
    return getattr(obj, fk_key)


def check_writable(session, obj, scope=None):
    """Refuse to save or delete `obj` outside the scope.

    The record as stored must be in scope, and every grid-bound record it points
    at (its grid, a grid's parent, an assignment's person ...) must be visible to
    the user: nobody can file a record into, or draw a person from, another grid.
    """
    scope = scope if scope is not None else current()
    if scope.all:
        return
    model = type(obj)
    state = sa_inspect(obj)
    # as stored, a record in the recycle bin is still in its jurisdiction: restoring it is a write there
    if state.persistent and is_scoped(model) and not visible(session, model, obj.id, scope, include_deleted=True):
        raise NotFound(OUT_OF_SCOPE)
    if obj in session.deleted:
        return
    for rel_key, fk_key, target in _scoped_relations(model):
        changed = (
            not state.persistent
            or attributes.get_history(obj, rel_key).has_changes()
            or attributes.get_history(obj, fk_key).has_changes()
        )
        if not changed:
            continue
        related = obj.__dict__.get(rel_key)
        if related is not None and related.id is None and related in session.new:
            continue  # a record created in the same change: it is checked on its own
        target_id = _pointed_id(obj, rel_key, fk_key)
        if target_id is None and not (model is Grid and rel_key == "parent"):
            continue  # an optional link left empty; required ones fail on NOT NULL
        if not visible(session, target, target_id, scope):
            message = GRID_OUT_OF_SCOPE if target is Grid else RECORD_OUT_OF_SCOPE
            raise NotFound(message, field=rel_key)
    # a record may not link many others (visitors, covered grids) from outside the scope either
    for rel_key, target in _scoped_collections(model):
        for added in attributes.get_history(obj, rel_key).added or ():
            if added is not None and not visible(session, target, added.id, scope):
                message = GRID_OUT_OF_SCOPE if target is Grid else RECORD_OUT_OF_SCOPE
                raise NotFound(message, field=rel_key)


@event.listens_for(Session, "before_flush")
def _scope_backstop(session, flush_context, instances):
    """Last line of defence: no write in a request may touch another grid's data."""
    if not has_request_context():
        return
    scope = current()
    if scope.all:
        return
    for obj in list(session.new) + list(session.dirty) + list(session.deleted):
        model = type(obj)
        if (
            obj in session.dirty
            and not session.is_modified(obj, include_collections=False)
            and not _collections_changed(obj)
        ):
            continue
        if (
            is_scoped(model)
            or any(True for _ in _scoped_relations(model))
            or any(True for _ in _scoped_collections(model))
        ):
            check_writable(session, obj, scope)
