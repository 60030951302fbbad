"""The layout's left menu and breadcrumbs, built from FAB's own menu and permission checks.

Whatever a view registers with `appbuilder.add_view(..., category=...)` (or `add_link`) shows up
here by itself: the menu is FAB's, only drawn differently (a collapsible left menu in the manner
of RuoYi/JeecgBoot rather than a navbar of dropdowns). An entry shows when FAB's navbar would
show it (`menu_access` on its name, its `cond`); the administrative groups come last, under
their own heading.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

from flask import current_app, g, request
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

# the groups of system administration: after the daily work, under their own heading
SYSTEM_GROUPS = ("Lookup lists", "Recycle bin", "Security")
SYSTEM_HEADING = _l("System administration")
WORK_HEADING = _l("Daily work")


@dataclass
class Entry:
    name: str
    label: str
    icon: str
    url: str = ""
    children: list = field(default_factory=list)
    active: bool = False


@dataclass
class Nav:
    sections: list  # [(heading, [Entry])]
    crumbs: list  # [(label, url or "")]
    current: Entry | None
    on_entry: bool = False  # the page is the menu entry itself (not one of its records)


def _visible(sm, item):
    return item.should_render() and sm.has_access("menu_access", item.name)


def _url(item):
    try:
        return item.get_url() or ""
    except Exception:  # a link whose endpoint is gone: left out rather than breaking every page
        return ""


def _score(url, item):
    """How well the request matches a menu entry's URL: 3 path and every argument of the
    entry, 2 the path of an entry without arguments, 1 the same view (its show/edit pages)."""
    parts = urlsplit(url)
    if parts.path == request.path:
        wanted = parse_qsl(parts.query)
        if not wanted:
            return 2
        if all(request.args.get(k) == v for k, v in wanted):
            return 3
        return 0
    view = getattr(item, "baseview", None)
    if view is not None and request.blueprint == getattr(view, "endpoint", None):
        if not request.endpoint or request.endpoint.split(".")[-1] in ("show", "edit", "add", "list"):
            return 1
    return 0


# the visible menu of one permission set, language and menu: ~60 permission checks, labels and
# URLs per page otherwise. Keyed by the request's own grants (read from the database on each
# request), so a changed grant or a rebuilt register menu is a new key, in every process at once.
_NAV = "minqing_nav"
NAV_KEYS_KEPT = 64


def _visible_menu(appbuilder, sm):
    """[(item, name, label, icon, url, [(child, name, label, icon, url)])] the user may see."""
    items = appbuilder.menu.get_list()
    key = (
        str(get_locale()),
        request.script_root,
        sm.access_key(g.user),
        tuple((id(item), tuple(id(child) for child in item.childs)) for item in items),
    )
    kept = current_app.extensions.setdefault(_NAV, {})
    found = kept.get(key)
    if found is not None:
        return found
    menu = []
    for item in items:
        if not _visible(sm, item):
            continue
        children = []
        for child in item.childs:
            if child is None or child.name == "-" or not _visible(sm, child):
                continue
            url = _url(child)
            if url:
                children.append((child, child.name, str(child.label or child.name), child.icon or "", url))
        url = "" if item.childs else _url(item)
        if (item.childs and not children) or (not item.childs and not url):
            continue
        menu.append((item, item.name, str(item.label or item.name), item.icon or "", url, children))
    if len(kept) >= NAV_KEYS_KEPT:
        kept.clear()
    kept[key] = menu  # holds the items: their ids in the key are not reused while kept
    return menu


def build_nav():
    """The signed-in user's menu (only what they may open) and the breadcrumb to this page."""
    if not request or getattr(g, "user", None) is None or not g.user.is_authenticated:
        return Nav(sections=[], crumbs=[], current=None)
    appbuilder = current_app.appbuilder
    work, system = [], []
    best, best_score, best_group = None, 0, None
    for item, name, label, icon, url, children in _visible_menu(appbuilder, appbuilder.sm):
        group = Entry(name=name, label=label, icon=icon, url=url)
        if children:
            for child, c_name, c_label, c_icon, c_url in children:
                entry = Entry(name=c_name, label=c_label, icon=c_icon, url=c_url)
                group.children.append(entry)
                score = _score(c_url, child)
                if score > best_score:
                    best, best_score, best_group = entry, score, group
        else:
            score = _score(url, item)
            if score > best_score:
                best, best_score, best_group = group, score, None
        (system if name in SYSTEM_GROUPS else work).append(group)
    sections = [(WORK_HEADING, work)] + ([(SYSTEM_HEADING, system)] if system else [])
    crumbs = [(str(_l("Home")), appbuilder.get_url_for_index)]
    if best is not None:
        best.active = True
        if best_group is not None:
            best_group.active = True
            crumbs.append((best_group.label, ""))
        crumbs.append((best.label, best.url))
    return Nav(sections=sections, crumbs=crumbs, current=best, on_entry=best_score >= 2)


def init_layout(app):
    app.jinja_env.globals["mq_nav"] = build_nav
