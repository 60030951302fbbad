"""The audit trail: every insert, update and delete of a domain record, and every
login, written in the same transaction as the change (so it can't be lost or faked).

Rows are inserted with Core statements from an `after_flush` listener: by then
new rows have ids and the attribute history still holds the old values.
"""

from __future__ import annotations

import datetime as dt
import decimal

from flask import has_request_context, request
from flask_babel import lazy_gettext as _l
from sqlalchemy import event, false, inspect, or_, select, true
from sqlalchemy.orm import Session, attributes

from app.core import partitions
from app.core.clock import now
from app.core.errors import Forbidden
from app.core.sensitive import MARKS, declared
from app.models.audit import AuditLog
from app.models.grids import Grid
from app.services.scope import current_user, scope_rule

TRAIL_READ_ONLY = _l("The audit trail cannot be changed.")

# never written into the trail (secrets, counters that change on every login)
SKIP_FIELDS = {"password", "last_login", "login_count", "fail_login_count", "changed_on", "updated_at", "version"}
AUDITED_FAB_TABLES = {"ab_user", "ab_role"}


def _audited(obj):
    model = type(obj)
    if getattr(model, "__audit__", True) is False:
        return False
    table = getattr(model, "__tablename__", "")
    return not table.startswith("ab_") or table in AUDITED_FAB_TABLES


def _plain(value):
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if hasattr(value, "id"):
        return value.id
    return str(value)


def _columns(obj):
    mapper = inspect(type(obj))
    return [prop.key for prop in mapper.column_attrs if prop.key not in SKIP_FIELDS]


REDACTED = "***"


def _changes(obj, kind):
    """{field: [old, new]}; fields a model lists in __audit_redact__ (confidential content,
    personal numbers) are recorded as changed without their values."""
    redact = getattr(type(obj), "__audit_redact__", ())
    out = _raw_changes(obj, kind)
    adjust = getattr(obj, "audit_changes", None)  # a model's own reading of its change (Setting)
    if adjust is not None:
        out = adjust(kind, out)
    for key in redact:
        if key in out:
            old, new = out[key]
            out[key] = [None if old is None else REDACTED, None if new is None else REDACTED]
    marks = {key: list(kinds) for key, kinds in declared(type(obj)).items() if key in out}
    if marks:
        out[MARKS] = marks  # masked on render for who may not read them (app.services.privacy)
    return out


def _raw_changes(obj, kind):
    out = {}
    for key in _columns(obj):
        if kind == "insert":
            value = getattr(obj, key, None)
            if value is not None:
                out[key] = [None, _plain(value)]
        elif kind == "delete":
            value = obj.__dict__.get(key)
            if value is not None:
                out[key] = [_plain(value), None]
        else:
            hist = attributes.get_history(obj, key)
            if hist.has_changes():
                old = hist.deleted[0] if hist.deleted else None
                new = hist.added[0] if hist.added else None
                if old != new:
                    out[key] = [_plain(old), _plain(new)]
    return out


def _grid_id(obj):
    if getattr(obj, "__tablename__", "") == "grid":
        return obj.id
    return getattr(obj, "grid_id", None)


MOVES = "_minqing_audit_moves"


def _grid_changed(obj):
    if not inspect(type(obj)).has_property("grid_id"):
        return False
    if attributes.get_history(obj, "grid_id").has_changes():
        return True
    return inspect(type(obj)).has_property("grid") and attributes.get_history(obj, "grid").has_changes()


@event.listens_for(Session, "before_flush")
def _remember_moves(session, flush_context, instances):
    """The grid a record is about to leave, read before the UPDATE: a relation set on a
    record loaded earlier (`person.grid = other`) keeps no old value of its own."""
    moving = [obj for obj in session.dirty if not isinstance(obj, AuditLog) and _audited(obj) and _grid_changed(obj)]
    if not moving:
        return
    left = session.info.setdefault(MOVES, {})
    for obj in moving:
        table = type(obj).__table__
        left[id(obj)] = session.connection().scalar(select(table.c.grid_id).where(table.c.id == obj.id))


def _moved_from(session, obj):
    """(grid id, None) the record left, or (None, old path) for a grid that moved; else None."""
    if getattr(obj, "__tablename__", "") == "grid":
        old = attributes.get_history(obj, "path").deleted
        return (None, old[0]) if old and old[0] else None
    left = session.info.get(MOVES, {}).pop(id(obj), None)
    if left is None or left == getattr(obj, "grid_id", None):
        return None
    return left, None


def _paths(session, grid_ids):
    """{grid id: path} as the database holds them now (this flush included)."""
    ids = {i for i in grid_ids if i is not None}
    if not ids:
        return {}
    return dict(session.connection().execute(select(Grid.id, Grid.path).where(Grid.id.in_(ids))).all())


def actor():
    """(user id, username, client address) of the current request, or the CLI."""
    if not has_request_context():
        return None, "cli", None
    user = current_user()
    ip = request.remote_addr
    if user is None:
        return None, None, ip
    return user.id, user.username, ip


def _row(action, obj, changes, who):
    user_id, username, ip = who
    summary = str(obj)[:200] if obj is not None else None
    return {
        "at": now(),
        "user_id": user_id,
        "username": username,
        "ip": ip,
        "action": action,
        "table_name": getattr(obj, "__audit_table__", None) or getattr(obj, "__tablename__", None),
        "record_id": getattr(obj, "id", None),
        "grid_id": _grid_id(obj),
        # a grid's own path is on it (even when it is being deleted); others' by _place()
        "grid_path": obj.__dict__.get("path") if getattr(obj, "__tablename__", "") == "grid" else None,
        "from_grid_path": None,
        "summary": summary,
        "changes": changes or None,
    }


@scope_rule(AuditLog)
def audit_scope_clause(scope):
    """Admin reads everything; others read what happened in their jurisdiction: each row
    belongs to where its record's grid stood when the row was written (and a move to where
    the record came from too), whatever moved since."""
    if scope.all:
        return true()
    if scope.empty:
        return false()
    return or_(scope.path_clause(AuditLog.grid_path), scope.path_clause(AuditLog.from_grid_path))


def _place(session, rows, moves):
    """Fill in each row's grid path (and the path a moved record left) as they are now."""
    paths = _paths(session, [row["grid_id"] for row in rows] + [m[0] for m in moves if m])
    for row, move in zip(rows, moves, strict=True):
        row["grid_path"] = row["grid_path"] or paths.get(row["grid_id"])
        if move is not None:
            left_id, left_path = move
            row["from_grid_path"] = left_path if left_path is not None else paths.get(left_id)


@event.listens_for(Session, "before_flush")
def _protect_trail(session, flush_context, instances):
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditLog):
            raise Forbidden(TRAIL_READ_ONLY)


@event.listens_for(Session, "after_flush")
def _write_trail(session, flush_context):
    rows, moves = [], []
    who = None
    for kind, objects in (("insert", session.new), ("update", session.dirty), ("delete", session.deleted)):
        for obj in objects:
            if isinstance(obj, AuditLog) or not _audited(obj):
                continue
            if kind == "update" and not session.is_modified(obj, include_collections=False):
                continue
            changes = _changes(obj, kind)
            left = session.info.get(MOVES, {}).get(id(obj))
            if kind == "update" and left is not None and "grid_id" in changes and changes["grid_id"][0] is None:
                changes["grid_id"][0] = left  # the relation was set without its old value loaded
            action = kind
            if kind == "update" and "deleted_at" in changes:
                action = "restore" if changes["deleted_at"][1] is None else "delete"
            if kind == "delete" and getattr(obj, "deleted_at", None) is not None:
                action = "purge"  # removed for good from the recycle bin
            if kind == "update" and not changes:
                continue
            who = who or actor()
            rows.append(_row(action, obj, changes, who))
            moves.append(_moved_from(session, obj) if kind == "update" else None)
    session.info.pop(MOVES, None)
    if rows:
        _place(session, rows, moves)
        session.connection().execute(AuditLog.__table__.insert(), rows)


def prune(session, before, batch=5000):
    """Delete the trail's rows older than `before` (AUDIT_RETENTION_DAYS), a batch per transaction so
    a big first prune holds no long lock; then note the prune itself in the trail. Returns how many."""
    table = AuditLog.__table__
    # whole expired months first (PostgreSQL's monthly partitions: DETACH + DROP, no bloat), the rest by row
    removed = partitions.drop_months_before(session.connection(), table.name, before)
    session.commit()
    while True:
        ids = select(table.c.id).where(table.c.at < before).order_by(table.c.id).limit(batch)
        count = session.execute(table.delete().where(table.c.id.in_(ids.scalar_subquery()))).rowcount
        session.commit()
        removed += count
        if count < batch:
            break
    if removed:
        log_event(session, "prune", summary=f"audit_log < {before.isoformat()}: {removed}")
    return removed


def log_event(session, action, username=None, user=None, summary=None):
    """A trail row that is not a record change: logins, failed logins, exports."""
    user_id, current_name, ip = actor()
    row = {
        "at": now(),
        "user_id": user.id if user is not None else user_id,
        "username": username or (user.username if user is not None else current_name),
        "ip": ip,
        "action": action,
        "summary": summary,
    }
    session.connection().execute(AuditLog.__table__.insert(), [row])
    session.commit()
