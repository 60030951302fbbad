"""定期回访 still to make, kept on the visit row (`visit.follow_up_open`).

A visit that plans a follow-up (`follow_up_date`) waits for it until a live visit points back at
it (`follow_up_of_id`). Asking "which follow-ups are due" of the visits themselves means
checking every planned follow-up ever made for a later visit — a county's years of them, on
every home page. Instead each visit keeps `follow_up_open`: its `follow_up_date` while the
follow-up is still to make, else empty; a partial index holds only the open ones, so the home
page's and the follow-up list's counts read a handful of index entries.

Kept in the writing transaction, whatever path writes through the ORM (forms, the API, the
recycle bin, imports, purges): before a flush the visits a change can affect are noted — the
visit itself (its date, its deletion) and the visits it follows up, as the object says now and
as the database still says — and after the flush their `follow_up_open` is set again from the
rows (`_OPEN`), in the same transaction. Writes below the ORM (the bulk loader, hand-made SQL)
are followed by `rebuild()`, which `flask minqing rebuild-tallies` runs with the visit tally;
`check()` names every visit whose column disagrees (run by `flask minqing rollups check`).
"""

from __future__ import annotations

from sqlalchemy import and_, case, event, exists, func, or_, select, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session

from app.models.visits import Visit
from app.services import cell_locks  # noqa: F401  (its lock first: before any kept figure is read)

_PENDING = "minqing_follow_up_pending"
VISIT = Visit.__table__
_LATER = VISIT.alias("later")


def _open_value():
    """SQL: what `follow_up_open` of a visit row must hold."""
    made = exists().where(_LATER.c.follow_up_of_id == VISIT.c.id, _LATER.c.deleted_at.is_(None))
    return case(
        (and_(VISIT.c.follow_up_date.is_not(None), VISIT.c.deleted_at.is_(None), ~made), VISIT.c.follow_up_date),
        else_=None,
    )


def _followed(visit):
    """The id of the visit `visit` follows up, as the object says now (relationship or column)."""
    state = sa_inspect(visit)
    loaded = state.attrs.follow_up_of.loaded_value
    if loaded is not None and hasattr(loaded, "id"):
        return loaded.id
    return visit.follow_up_of_id


@event.listens_for(Session, "before_flush")
def _note_changes(session, flush_context, instances):
    visits = [v for v in (*session.new, *session.dirty, *session.deleted) if isinstance(v, Visit)]
    if not visits:
        return
    pending = session.info.setdefault(_PENDING, {"ids": set(), "new": []})
    for visit in visits:
        if visit.id is None:
            pending["new"].append(visit)
        else:
            pending["ids"].add(visit.id)
        followed = _followed(visit)
        if followed:
            pending["ids"].add(followed)
    stored = [v.id for v in visits if v.id is not None]
    if stored:  # the visits they followed up before this change
        rows = session.connection().execute(
            select(VISIT.c.follow_up_of_id).where(VISIT.c.id.in_(stored), VISIT.c.follow_up_of_id.is_not(None))
        )
        pending["ids"].update(rows.scalars())


@event.listens_for(Session, "after_flush")
def _set_again(session, flush_context):
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    ids = pending["ids"] | {v.id for v in pending["new"] if v.id is not None}
    if ids:
        session.connection().execute(
            update(VISIT).where(VISIT.c.id.in_(sorted(ids))).values(follow_up_open=_open_value())
        )


@event.listens_for(Session, "after_rollback")
def _forget_pending(session):
    session.info.pop(_PENDING, None)


def rebuild(session):
    """Set `follow_up_open` of every visit planning a follow-up from the rows (set-based)."""
    conn = session.connection()
    planned = or_(VISIT.c.follow_up_date.is_not(None), VISIT.c.follow_up_open.is_not(None))
    conn.execute(update(VISIT).where(planned).values(follow_up_open=_open_value()))
    return conn.execute(select(func.count()).select_from(VISIT).where(VISIT.c.follow_up_open.is_not(None))).scalar()


def check(session, limit=200):
    """[(visit id, kept, what the rows say)] of the visits whose `follow_up_open` is wrong."""
    expected = _open_value()
    rows = session.connection().execute(
        select(VISIT.c.id, VISIT.c.follow_up_open, expected)
        .where(VISIT.c.follow_up_open.is_distinct_from(expected))
        .order_by(VISIT.c.id)
        .limit(limit)
    )
    return [tuple(r) for r in rows]
