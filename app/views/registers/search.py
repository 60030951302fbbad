"""A register list's "contains" search on a filterable text field reads the column's index
(SQLite: the FTS5 trigram table app.services.registers.schema keeps; PostgreSQL: its trigram
index), through the one mechanism of app.views.search."""

from __future__ import annotations

from app.models.registers import FieldType
from app.views.search import use_indexed_search as use_on_columns


def use_indexed_search(view, spec):
    """Give the page's filterable text fields the indexed "contains"."""
    use_on_columns(
        view,
        [f.code for f in spec.live_fields if f.filterable and f.type in (FieldType.TEXT, FieldType.TEXTAREA)],
    )
