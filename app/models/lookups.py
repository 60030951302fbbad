"""Lookup lists an administrator edits in the UI (seeded by `flask minqing init`)."""

from flask_appbuilder import Model
from flask_babel import lazy_gettext as _l
from sqlalchemy import Column, Integer

from app.models.mixins import LookupMixin


class GridLevel(LookupMixin, Model):
    """Level label of a grid. `rank` orders levels from the top (县/区 = 0) down."""

    __tablename__ = "grid_level"
    lookup_title = _l("Grid levels")
    rank = Column(Integer, nullable=False, unique=True)


class PersonKind(LookupMixin, Model):
    __tablename__ = "person_kind"
    lookup_title = _l("Person kinds")


class AppealCategory(LookupMixin, Model):
    __tablename__ = "appeal_category"
    lookup_title = _l("Appeal categories")


class AppealChannel(LookupMixin, Model):
    __tablename__ = "appeal_channel"
    lookup_title = _l("Collection channels")


class VisitForm(LookupMixin, Model):
    __tablename__ = "visit_form"
    lookup_title = _l("Visit forms")


LOOKUP_MODELS = (GridLevel, PersonKind, AppealCategory, AppealChannel, VisitForm)
