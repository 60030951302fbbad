"""A searched list whose matches are few is paged among those matches, not along its date index.

A list page asks the database for "the newest 20 rows of this jurisdiction holding 张三".
Given `ORDER BY registered_at DESC LIMIT 20` the database may walk the date index from the
newest row backwards, checking each row's grid and text, expecting to meet 20 matches soon:
right when matches are spread evenly over time and grids, and ruinous when they are not (a
township whose few appeals mentioning a drainage ditch are old: millions of rows read at city
scale for one page). How many match is known before the page is asked for: the list counts
first. So when a text search is part of the conditions, the count fetches the matching ids
instead (at most LIST_FEW_ROWS + 1: the same index work as counting them, the text index
and the scope together, in no order; more read "2000+"); when they are that few, the page is chosen among
those ids (`id IN (...)`: a primary-key lookup of each, then ordered and cut in the
database, by the database's own order). More matches than that: counted and paged as
before (dense enough that the walk meets 20 soon). On SQLite the page of such a dense search
reads no text index at all (`dense`): given the FTS table's rowids SQLite takes them as the
driving list — every match of the county (200,000 for a common phrase), sorted for 20 — where
walking the date index and checking each row's text meets 20 matches within a few hundred rows
(PostgreSQL weighs both plans itself, with statistics SQLite does not keep for an FTS table).

The handover lives for one `query()` call (`window`), in `g`: never on the shared interface.
"""

from __future__ import annotations

from contextlib import contextmanager

from flask import current_app, g, has_request_context
from flask_appbuilder.models.sqla.filters import FilterContains, FilterEndsWith, FilterStartsWith
from sqlalchemy import Integer, any_, bindparam
from sqlalchemy.dialects import postgresql

from app.extensions import db

_KEY = "_minqing_few_rows"
_DENSE = "dense"  # held instead of ids: the count met more matches than few
TEXT_FILTERS = (FilterContains, FilterStartsWith, FilterEndsWith)  # the indexed ones subclass these


def limit():
    return int(current_app.config.get("LIST_FEW_ROWS") or 0)


def searches_text(filters):
    """A user's text condition ("contains", "starts with", "ends with") with a value is among `filters`."""
    if filters is None:
        return False
    return any(
        isinstance(flt, TEXT_FILTERS) and str(value or "") != ""
        for flt, value in zip(filters.filters, filters.values, strict=True)
    )


@contextmanager
def window(interface):
    """One `query()` of `interface`: its count may hand the page the matching ids."""
    if not has_request_context():
        yield
        return
    held = g.get(_KEY)
    if held is None:
        held = g._minqing_few_rows = {}
    held[id(interface)] = None
    try:
        yield
    finally:
        held.pop(id(interface), None)


def open_for(interface):
    held = g.get(_KEY) if has_request_context() else None
    return held is not None and id(interface) in held


def count(interface, ids_query, filters, cap):
    """A text search's count from the matching ids themselves (at most LIST_FEW_ROWS + 1 of them:
    the same index work as counting), keeping them for the page when they are few: (count, the
    cap it is shown against: "2000+" past LIST_FEW_ROWS, "5+" past a smaller LIST_COUNT_CAP);
    None when the list counts as usual (no text search, or exact counts asked for with more
    matches than few). A search matching more than a few thousand rows is refined, not paged
    through: counting on to 10,000 read every match of a common phrase in a city (300 ms)."""
    most = limit()
    if most <= 0 or not open_for(interface) or not searches_text(filters):
        return None
    ids = [row[0] for row in ids_query.limit(most + 1).all()]
    g._minqing_few_rows[id(interface)] = ids if len(ids) <= most else _DENSE
    if cap <= 0:  # the list counts exactly: the few counted, more than few counted as usual
        return (len(ids), 0) if len(ids) <= most else None
    return len(ids), min(cap, most)


def taken(interface):
    """The ids the count kept for this `query()` (None: page as usual)."""
    if not open_for(interface):
        return None
    held = g._minqing_few_rows.get(id(interface))
    return None if held is _DENSE else held


def counting(interface):
    """This `query()`'s count is being taken (its ids fetched): a term too common for the text index
    is checked on the jurisdiction's rows for it (`search.contains(scan_common=True)`); the page
    after it still reads the index, which finds its 20 newest at once."""
    return open_for(interface) and g._minqing_few_rows.get(id(interface)) is None


def dense(interface):
    """SQLite, after this `query()`'s count met more text matches than few: the page's conditions
    are applied without the text index (the plain scan's condition, same rows; see above)."""
    if not open_for(interface) or db.engine.dialect.name != "sqlite":
        return False
    return g._minqing_few_rows.get(id(interface)) is _DENSE


def among(column, ids):
    """`column` is one of `ids`: one array parameter on PostgreSQL (not 2,000), IN on SQLite."""
    if db.engine.dialect.name == "postgresql":
        return column == any_(bindparam(None, list(ids), type_=postgresql.ARRAY(Integer)))
    return column.in_(ids)
