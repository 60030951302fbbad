"""Columns shared by many tables."""

from flask_babel import lazy_gettext as _l
from sqlalchemy import Boolean, Column, DateTime, Integer, String
from sqlalchemy.orm import declared_attr

from app.services.clock import now


class TimestampMixin:
    created_at = Column(DateTime, nullable=False, default=now)
    updated_at = Column(DateTime, nullable=False, default=now, onupdate=now)


class LookupMixin:
    """An editable list of values (categories, channels, forms ...).

    Records point at lookups by id, so renaming a value renames it everywhere;
    a value in use is deactivated rather than deleted.
    """

    id = Column(Integer, primary_key=True)
    sort_order = Column(Integer, nullable=False, default=0)
    active = Column(Boolean, nullable=False, default=True)

    @declared_attr
    def name(cls):
        return Column(String(64), nullable=False, unique=True)

    lookup_title = _l("Lookup")

    def __str__(self):
        return self.name

    def __repr__(self):
        return f"<{type(self).__name__} {self.name}>"
