"""The search form's "contains" and "starts with" on text columns, through app.services.search
(an index where the database has one; the plain scan's results either way). Same names, same
URL arguments as FAB's own filters, which they replace in place (`use_indexed_search`)."""

from __future__ import annotations

from flask_appbuilder.models.sqla.filters import FilterContains, FilterStartsWith, get_field_setup_query

from app.services import search
from app.views.fab_compat import replace_search_filter


class IndexedContains(FilterContains):
    def apply(self, query, value):
        query, field = get_field_setup_query(query, self.model, self.column_name)
        return query.filter(search.contains(field, value))


class IndexedStartsWith(FilterStartsWith):
    def apply(self, query, value):
        query, field = get_field_setup_query(query, self.model, self.column_name)
        return query.filter(search.contains(field, value, starts=True))


def use_indexed_search(view, columns):
    """Give the view's text `columns` the indexed "contains" and "starts with"."""
    for name in columns:
        replace_search_filter(view, name, FilterContains, IndexedContains)
        replace_search_filter(view, name, FilterStartsWith, IndexedStartsWith)
