"""Which register definitions this process has built its entry classes from.

A definition change writes a new token into `runtime_generation` ("registers") in the same
transaction. Every process compares that token with the one it built from (at most every
REGISTERS_CHECK_SECONDS) and, when it differs, rebuilds every entry class from the
definitions: a register saved on one server is live on all of them, without a restart.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid

from flask import current_app, has_app_context
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from app.extensions import db
from app.models.registers import RegisterDef, RuntimeGeneration, build_entry_class

log = logging.getLogger(__name__)
NAME = "registers"
REGISTER_RESOURCE_PREFIX = "Register:"  # a register's permission resource (and menu item) name
REGISTER_MENU_PREFIX = "RegisterGroup:"  # a register menu group's item name

_lock = threading.RLock()
_state = {"token": None, "checked": 0.0, "specs": {}, "classes": {}, "listeners": []}


def bump(session, name=NAME):
    """A new token for `name`, written in the caller's transaction. This process rebuilds at
    once (its next `ensure_current`), and again if the transaction rolls back."""
    token = uuid.uuid4().hex
    row = session.get(RuntimeGeneration, name)
    if row is None:
        session.add(RuntimeGeneration(name=name, token=token))
    else:
        row.token = token
    session.info.setdefault("runtime_bumped", set()).add(name)
    _state["checked"] = 0.0
    return token


@event.listens_for(Session, "after_rollback")
def _rolled_back(session):
    """A definition change that did not happen: rebuild from what is stored."""
    if session.info.pop("runtime_bumped", None):
        forget()


@event.listens_for(Session, "after_commit")
def _committed(session):
    session.info.pop("runtime_bumped", None)


def stored_token(session, name=NAME):
    return session.scalar(select(RuntimeGeneration.token).where(RuntimeGeneration.name == name)) or "initial"


def on_rebuild(listener):
    """Call `listener(specs)` after every rebuild (the views rebuild their menu and pages)."""
    _state["listeners"].append(listener)
    return listener


def _interval():
    if not has_app_context():
        return 0
    return float(current_app.config.get("REGISTERS_CHECK_SECONDS", 1))


def ensure_current(session=None, force=False):
    """Rebuild the entry classes if the stored definitions changed since this process built them."""
    session = session or db.session
    if not force and time.monotonic() - _state["checked"] < _interval() and _state["token"] is not None:
        return _state["token"]
    try:
        with session.no_autoflush:
            token = stored_token(session)
    except (OperationalError, ProgrammingError):  # a database not migrated yet: no registers
        session.rollback()
        return _state["token"]
    _state["checked"] = time.monotonic()
    if token == _state["token"] and not force:
        return token
    with _lock:
        if token != _state["token"] or force:
            _rebuild(session, token)
    return token


def _rebuild(session, token):
    with session.no_autoflush:
        specs = {d.code: d.spec() for d in session.scalars(select(RegisterDef).order_by(RegisterDef.sort_order))}
    classes = {code: build_entry_class(spec, token) for code, spec in specs.items()}
    _state.update(token=token, specs=specs, classes=classes)
    for listener in _state["listeners"]:
        listener(specs)
    log.info("registers rebuilt (%s): %s", token[:8], ", ".join(specs) or "none")


def forget():
    """Drop what this process built (tests; the next call rebuilds)."""
    with _lock:
        _state.update(token=None, checked=0.0)


def specs():
    ensure_current()
    return dict(_state["specs"])


def spec(code):
    ensure_current()
    return _state["specs"].get(code)


def entry_class(code):
    """The mapped class of register `code`'s entries, or None."""
    ensure_current()
    return _state["classes"].get(code)


def entry_classes():
    ensure_current()
    return dict(_state["classes"])


_menu_groups: dict[str, list[str]] = {}


def set_menu_groups(groups):
    """{menu group item name: [register resources]} (kept by app.views.registers.menu)."""
    _menu_groups.clear()
    _menu_groups.update(groups)


def register_menu_resources(group_name):
    return _menu_groups.get(group_name, [])
