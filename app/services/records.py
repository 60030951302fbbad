"""What every record shares: optimistic versions, soft delete and restore, and bounds.

Versioned records (`VersionMixin`) check and bump `version` on every UPDATE; a save
based on an older copy than the one stored is refused with the reload message.
Soft-deletable records (`SoftDeleteMixin`) are hidden, not removed: out of every
list and count, restorable from the recycle bin, with who deleted them kept.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import BigInteger, Integer, SmallInteger, String, TypeDecorator, event
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session, attributes

from app.core.clock import now
from app.core.errors import Collector, DomainError
from app.core.inputs import INT32, INT64
from app.core.uow import STALE
from app.services import attachments, scope

TOO_LONG = _l("At most %(n)s characters (this has %(m)s).")
OUT_OF_RANGE = _l("The number must be between %(low)s and %(high)s.")
INT16 = (-(2**15), 2**15 - 1)


def is_versioned(model):
    return hasattr(model, "version") and "version_id_col" in (getattr(model, "__mapper_args__", None) or {})


def check_version(item, submitted):
    """Refuse a save based on an older copy of the record than the one stored, or on no
    known copy at all: a form or request without the version it started from could
    overwrite whatever anyone saved since (it gets the same reload message)."""
    if submitted in (None, "") or isinstance(submitted, bool):
        raise DomainError(STALE)
    try:
        submitted = int(submitted)
    except (TypeError, ValueError):
        raise DomainError(STALE) from None
    if submitted != item.version:
        raise DomainError(STALE)


def etag_of(version):
    """The HTTP entity tag of a record's version (GET's ETag, PUT's If-Match)."""
    return f'"{version}"'


def etag_matches(header, version):
    """Whether an If-Match header names `version` ("*" names any)."""
    tags = [tag.strip() for tag in (header or "").split(",") if tag.strip()]
    return any(tag == "*" or tag.removeprefix("W/") == etag_of(version) for tag in tags)


def is_soft_deleted_model(model):
    return hasattr(model, "deleted_at")


def delete_record(session, item):
    """Soft-deletable records are hidden (restorable by an Admin); others are removed."""
    if is_soft_deleted_model(type(item)):
        user = scope.current_user()
        item.deleted_at = now()
        item.deleted_by_id = user.id if user is not None else None
        attachments.follow_delete(session, item)  # its photos and files go to the bin with it
    else:
        session.delete(item)


def restore_records(session, items):
    """Bring soft-deleted records back (the recycle bin). The caller commits."""
    for item in items:
        deleted_at = item.deleted_at
        item.deleted_at = None
        item.deleted_by_id = None
        attachments.follow_restore(session, item, deleted_at)  # and come back with it


# --------------------------------------------------------------------------
# Bounds: no value a column cannot hold reaches the database, whatever path wrote it
# --------------------------------------------------------------------------


def column_bounds(column):
    """("text", max characters) or ("int", (low, high)) for a bounded column, else None."""
    kind = column.type
    base = kind.impl if isinstance(kind, TypeDecorator) else kind  # LongText(n): a TEXT with a length
    if isinstance(base, String) and getattr(kind, "length", None):
        return "text", kind.length
    if isinstance(base, Integer):
        if isinstance(base, BigInteger):
            return "int", INT64
        return "int", INT16 if isinstance(base, SmallInteger) else INT32
    return None


def _bound_problem(column, value):
    bounds = column_bounds(column)
    if bounds is None or value is None:
        return None
    kind, limit = bounds
    if kind == "text" and isinstance(value, str) and len(value) > limit:
        return TOO_LONG % {"n": limit, "m": len(value)}
    if kind == "int" and isinstance(value, int) and not isinstance(value, bool):
        low, high = limit
        if not low <= value <= high:
            return OUT_OF_RANGE % {"low": low, "high": high}
    return None


def check_bounds(obj):
    """Raise DomainError (at the field) when a value set on `obj` is longer or larger than
    its column holds: forms, API, imports and services all pass here (the flush below)."""
    state = sa_inspect(obj)
    errors = Collector()
    for prop in state.mapper.column_attrs:
        if len(prop.columns) != 1 or prop.key not in obj.__dict__:
            continue
        if state.persistent:  # a stored record: only what changed (old rows may predate a limit)
            values = attributes.get_history(obj, prop.key).added or ()
        else:
            values = (obj.__dict__[prop.key],)
        for value in values:
            problem = _bound_problem(prop.columns[0], value)
            if problem is not None:
                errors.add(DomainError(problem, field=prop.key))
    errors.raise_if_any()


@event.listens_for(Session, "before_flush")
def _bounds_backstop(session, flush_context, instances):
    for obj in (*session.new, *session.dirty):
        check_bounds(obj)
