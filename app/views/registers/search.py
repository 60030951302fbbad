"""A register list's "contains" search on SQLite reads the column's FTS5 trigram index
(app.services.registers.schema keeps it), not every one of a million rows; PostgreSQL's
ILIKE already uses its trigram index. Same name, same URL argument as FAB's own filter."""

from __future__ import annotations

import itertools

from flask_appbuilder.models.sqla.filters import FilterContains
from sqlalchemy import Integer, text

from app.extensions import db
from app.models.registers import FieldType
from app.services.registers.schema import fts_table_name
from app.views.fab_compat import replace_search_filter

_serial = itertools.count()
SHORTEST = 3  # a trigram index answers patterns of three characters or more


def _fts_exists(name):
    return db.session.execute(
        text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :name"), {"name": name}
    ).first() is not None  # fmt: skip


class IndexedContains(FilterContains):
    def apply(self, query, value):
        if db.session.get_bind().dialect.name != "sqlite" or len(str(value or "")) < SHORTEST:
            return super().apply(query, value)
        column = getattr(self.model, self.column_name).property.columns[0].name
        fts = fts_table_name(self.model.__table__.name, column)
        if not _fts_exists(fts):
            return super().apply(query, value)
        param = f"fts_{next(_serial)}"
        matching = text(f'SELECT rowid FROM "{fts}" WHERE "{column}" LIKE :{param}').bindparams(
            **{param: f"%{value}%"}
        ).columns(rowid=Integer)  # fmt: skip
        return query.filter(self.model.id.in_(matching))


def use_indexed_search(view, spec):
    """Give the page's filterable text fields the indexed "contains"."""
    for field in spec.live_fields:
        if field.filterable and field.type in (FieldType.TEXT, FieldType.TEXTAREA):
            replace_search_filter(view, field.code, FilterContains, IndexedContains)
