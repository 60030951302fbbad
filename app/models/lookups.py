"""Lookup lists an administrator edits in the UI (seeded by `flask minqing init`)."""

from flask_appbuilder import Model
from flask_babel import lazy_gettext as _l
from sqlalchemy import Column, Integer

from app.models.mixins import LookupMixin


class GridLevel(LookupMixin, Model):
    """Level label of a grid. `rank` orders levels from the top down: 县/区 = 0, one more a
    level below; a 市 above the county is -1 (seed 003's four-level platforms)."""

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


class VisitTarget(LookupMixin, Model):
    """Who was visited (重点对象 or 一般群众): petitioners, parties to disputes ..."""

    __tablename__ = "visit_target"
    lookup_title = _l("Visit target categories")


class ContactForm(LookupMixin, Model):
    """How a representative met voters (走访, 选民座谈会, 代表工作室接待, 电话 ...)."""

    __tablename__ = "contact_form"
    lookup_title = _l("Voter contact forms")


LOOKUP_MODELS = (GridLevel, PersonKind, AppealCategory, AppealChannel, VisitForm, VisitTarget, ContactForm)
