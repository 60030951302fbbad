"""Which register definitions this process has built its entry classes from.

A definition change writes a new token into `runtime_generation` ("registers") in the same
transaction (app.services.runtime). Every process compares that token with the one it built
from (at most every REGISTERS_CHECK_SECONDS) and, when it differs, rebuilds every entry class
from the definitions: a register saved on one server is live on all of them, without a restart.
"""

from __future__ import annotations

import logging

from flask import current_app, has_app_context
from sqlalchemy import select

from app.extensions import db
from app.models.registers import RegisterDef, build_entry_class, build_extension_class, forget_register_tables
from app.services import runtime as generations

log = logging.getLogger(__name__)
NAME = "registers"
REGISTER_RESOURCE_PREFIX = "Register:"  # a register's permission resource (and menu item) name
REGISTER_MENU_PREFIX = "RegisterGroup:"  # a register menu group's item name

_state = {"specs": {}, "classes": {}, "extensions": {}, "listeners": []}


def bump(session, name=NAME):
    """A new token for `name`, written in the caller's transaction. This process rebuilds at
    once (its next `ensure_current`), and again if the transaction rolls back."""
    return generations.bump(session, name)


def stored_token(session, name=NAME):
    return generations.stored_token(session, name)


def on_rebuild(listener):
    """Call `listener(specs)` after every rebuild (the views rebuild their menu and pages)."""
    _state["listeners"].append(listener)
    return listener


def _interval():
    if not has_app_context():
        return 0
    return float(current_app.config.get("REGISTERS_CHECK_SECONDS", 1))


def _rebuild(session, token):
    forget_register_tables()
    with session.no_autoflush:
        every = [d.spec() for d in session.scalars(select(RegisterDef).order_by(RegisterDef.sort_order))]
    specs = {spec.code: spec for spec in every if not spec.extends}
    classes = {code: build_entry_class(spec, token) for code, spec in specs.items()}
    extensions = {spec.extends: (spec, build_extension_class(spec, token)) for spec in every if spec.extends}
    _state.update(specs=specs, classes=classes, extensions=extensions)
    for listener in _state["listeners"]:
        listener(specs)
    log.info("registers rebuilt (%s): %s", token[:8], ", ".join(specs) or "none")


_generation = generations.Generation(NAME, _rebuild, _interval)


def ensure_current(session=None, force=False):
    """Rebuild the entry classes if the stored definitions changed since this process built them."""
    return _generation.ensure_current(session or db.session, force=force)


def forget():
    """Drop what this process built (tests; the next call rebuilds)."""
    _generation.forget()
    forget_register_tables()
    _state.update(specs={}, classes={}, extensions={})


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


def extension(table):
    """(definition, mapped class) of the extra fields of built-in table `table`, or None."""
    ensure_current()
    return _state["extensions"].get(table)


def built_extensions():
    """What the last rebuild made, without looking for a newer one (for rebuild listeners)."""
    return dict(_state["extensions"])


def extensions():
    ensure_current()
    return dict(_state["extensions"])


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


class PerRegister:
    """Objects built from a live register's definition (its pages, its API), dropped when the
    definitions change: `get(code, build)` calls `build(spec, entry_class)` once per token,
    and answers None for a register that does not exist or is switched off."""

    def __init__(self):
        self.token = None
        self.objects = {}

    def get(self, code, build):
        token = ensure_current()
        if self.token != token:
            self.token, self.objects = token, {}
        obj = self.objects.get(code)
        if obj is None:
            definition, cls = spec(code), entry_class(code)
            if definition is None or cls is None or not definition.active:
                return None
            obj = self.objects[code] = build(definition, cls)
        return obj
