"""The search form's "contains" and "starts with" on text columns, through app.services.search
(an index where the database has one; the plain scan's results either way). Same names, same
URL arguments as FAB's own filters, which they replace in place (`use_indexed_search`)."""

from __future__ import annotations

from flask_appbuilder.models.sqla.filters import FilterContains, FilterStartsWith, get_field_setup_query

from app.services import scope, search
from app.views import few_rows
from app.views.fab_compat import replace_search_filter


def _grids(field):
    """The grids every query of a scoped view is restricted to (its ScopeFilter: the user's scope),
    for the columns whose index narrows by them too (`search.PAIR_INDEXED`); None for the rest."""
    column = field.property.columns[0]
    if (column.table.name, column.name) not in search.PAIR_INDEXED:
        return None
    return scope.grid_choice(field.class_)


def _index_use(datamodel):
    """How the text index serves this query of a list (app.views.few_rows): a dense match's page on
    SQLite scans; a count skips the index for a term too common for it (PostgreSQL)."""
    return {"indexed": not few_rows.dense(datamodel), "scan_common": few_rows.counting(datamodel)}


class IndexedContains(FilterContains):
    def apply(self, query, value):
        query, field = get_field_setup_query(query, self.model, self.column_name)
        return query.filter(search.contains(field, value, grids=_grids(field), **_index_use(self.datamodel)))


class IndexedStartsWith(FilterStartsWith):
    def apply(self, query, value):
        query, field = get_field_setup_query(query, self.model, self.column_name)
        return query.filter(
            search.contains(field, value, starts=True, grids=_grids(field), **_index_use(self.datamodel))
        )


def use_indexed_search(view, columns):
    """Give the view's text `columns` the indexed "contains" and "starts with"."""
    for name in columns:
        replace_search_filter(view, name, FilterContains, IndexedContains)
        replace_search_filter(view, name, FilterStartsWith, IndexedStartsWith)
