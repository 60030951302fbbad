"""What every record shares: optimistic versions, soft delete and restore.

Versioned records (`VersionMixin`) check and bump `version` on every UPDATE; a save
based on an older copy than the one stored is refused with the reload message.
Soft-deletable records (`SoftDeleteMixin`) are hidden, not removed: out of every
list and count, restorable from the recycle bin, with who deleted them kept.
"""

from __future__ import annotations

from app.core.clock import now
from app.core.errors import DomainError
from app.core.uow import STALE
from app.services import scope


def is_versioned(model):
    return hasattr(model, "version") and "version_id_col" in (getattr(model, "__mapper_args__", None) or {})


def check_version(item, submitted):
    """Refuse a save based on an older copy of the record than the one stored."""
    if submitted in (None, ""):
        return
    try:
        submitted = int(submitted)
    except (TypeError, ValueError):
        raise DomainError(STALE) from None
    if submitted != item.version:
        raise DomainError(STALE)


def is_soft_deleted_model(model):
    return hasattr(model, "deleted_at")


def delete_record(session, item):
    """Soft-deletable records are hidden (restorable by an Admin); others are removed."""
    if is_soft_deleted_model(type(item)):
        user = scope.current_user()
        item.deleted_at = now()
        item.deleted_by_id = user.id if user is not None else None
    else:
        session.delete(item)


def restore_records(session, items):
    """Bring soft-deleted records back (the recycle bin). The caller commits."""
    for item in items:
        item.deleted_at = None
        item.deleted_by_id = None
