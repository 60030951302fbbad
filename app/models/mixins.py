"""Columns shared by many tables."""

from flask_babel import lazy_gettext as _l
from sqlalchemy import Boolean, Column, DateTime, ForeignKey, Integer, String, Text, TypeDecorator
from sqlalchemy.orm import declared_attr, object_session

from app.core.clock import now
from app.models import User

# Every text a user types has a maximum length (docs/architecture.md, "Field lengths"): short
# ones are String(n) columns, longer ones LongText(n). Forms, the API (maxLength in the spec),
# imports and every flush check it (services.records.check_bounds); the database too (0026).
NOTE_LENGTH = 1000  # notes, reasons, comments, descriptions
LONG_TEXT_LENGTH = 2000  # what a citizen said and what was done: appeal content and replies, visits, opinions


class LongText(TypeDecorator):
    """A TEXT column (a text area on forms) with a maximum number of characters, `length`,
    which FAB's forms and marshmallow's schemas read like a VARCHAR's."""

    impl = Text
    cache_ok = True

    def __init__(self, length):
        super().__init__()
        self.length = length

    def __repr__(self):
        return f"LongText({self.length})"


class TimestampMixin:
    created_at = Column(DateTime, nullable=False, default=now)
    updated_at = Column(DateTime, nullable=False, default=now, onupdate=now)


class VersionMixin:
    """Optimistic locking: every UPDATE checks and bumps `version`, so two people
    saving the same record cannot silently overwrite each other (the second is refused).
    Every record a user can edit carries one (tests/test_versions.py checks)."""

    version = Column(Integer, nullable=False, default=1)

    @declared_attr
    def __mapper_args__(cls):
        return {"version_id_col": cls.version}


class LookupMixin(VersionMixin):
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


class SoftDeleteMixin:
    """Records that are never hard-deleted from the app: deletion hides them
    (excluded from lists and counts by the scope clause), an Admin can restore them."""

    @declared_attr
    def deleted_at(cls):
        return Column(DateTime, nullable=True, index=True)

    @declared_attr
    def deleted_by_id(cls):
        return Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"), nullable=True)

    @property
    def deleted_by_name(self):
        if self.deleted_by_id is None:
            return ""

        user = object_session(self).get(User, self.deleted_by_id)
        return user.username if user is not None else ""
