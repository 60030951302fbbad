"""The menu entries of the registers: one per active register, under its menu group, kept in
step with the definitions whenever this process rebuilds them (no restart)."""

from __future__ import annotations

from flask import current_app
from flask_appbuilder.menu import MenuItem

from app.services.registers import runtime
from app.services.registers.runtime import REGISTER_MENU_PREFIX, set_menu_groups

_menu = {"app": None}


def bind(app):
    _menu["app"] = app


@runtime.on_rebuild
def sync_menu(specs):
    """Replace the register entries of the menu by those of `specs` (group → registers)."""
    app = _menu["app"]
    if app is None:
        return
    menu = app.appbuilder.menu
    menu.menu = [item for item in menu.menu if not item.name.startswith(REGISTER_MENU_PREFIX)]
    groups = {}
    for spec in sorted(specs.values(), key=lambda s: (s.sort_order, s.code)):
        if not spec.active:
            continue
        name = f"{REGISTER_MENU_PREFIX}{spec.menu_group}"
        category = groups.get(name)
        if category is None:
            category = groups[name] = MenuItem(name=name, label=spec.menu_group, icon="fa-book")
        category.childs.append(
            MenuItem(name=spec.resource, href=f"/registers/{spec.code}/list/", label=spec.name, icon="fa-file-text-o")
        )
    menu.menu.extend(groups.values())
    set_menu_groups({name: [c.name for c in item.childs] for name, item in groups.items()})


def refresh():
    """Before each request: pick up definitions changed by another process (at most every
    REGISTERS_CHECK_SECONDS)."""
    if current_app.config.get("REGISTERS_ENABLED", True):
        runtime.ensure_current()
