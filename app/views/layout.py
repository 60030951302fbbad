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


def _entry(item, url=""):
    return Entry(name=item.name, label=str(item.label or item.name), icon=item.icon or "", url=url)


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


def build_nav():
    """The signed-in user's menu (only what they may open) and the breadcrumb to this page."""
    if not request or getattr(g, "user", None) is None or not g.user.is_authenticated:
        return Nav(sections=[], crumbs=[], current=None)
    appbuilder = current_app.appbuilder
    sm = appbuilder.sm
    work, system = [], []
    best, best_score, best_group = None, 0, None
    for item in appbuilder.menu.get_list():
        if not _visible(sm, item):
            continue
        if item.childs:
            group = _entry(item)
            for child in item.childs:
                if child is None or child.name == "-" or not _visible(sm, child):
                    continue
                entry = _entry(child, _url(child))
                if not entry.url:
                    continue
                group.children.append(entry)
                score = _score(entry.url, child)
                if score > best_score:
                    best, best_score, best_group = entry, score, group
            if not group.children:
                continue
        else:
            group = _entry(item, _url(item))
            if not group.url:
                continue
            score = _score(group.url, item)
            if score > best_score:
                best, best_score, best_group = group, score, None
        (system if item.name in SYSTEM_GROUPS else work).append(group)
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
