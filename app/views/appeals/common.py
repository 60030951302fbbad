"""What the appeal pages and the API share: labels, form fields, the actor, filters and
how states, deadlines and numbers look on a page."""

from __future__ import annotations

import logging

from flask import current_app, url_for
from flask_appbuilder.fields import QuerySelectField
from flask_appbuilder.fieldwidgets import Select2Widget
from flask_appbuilder.forms import DynamicForm
from flask_appbuilder.models.filters import BaseFilter
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape
from sqlalchemy import select
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Optional

from app.core.inputs import parse_id
from app.extensions import db
from app.models.appeals import Appeal, Importance, Status
from app.models.lookups import AppealCategory
from app.models.representatives import ContactRecord
from app.models.visits import Visit
from app.services import appeals as appeal_service
from app.services import scope
from app.services.appeals import PERMISSIONS, RESOURCE, Actor
from app.services.appeals import lists as appeal_lists
from app.services.privacy import can_see_visit_content
from app.services.representatives import appeal_prefill_from_contact
from app.services.visits import appeal_prefill_from_visit
from app.views.pickers import list_field, register_picker

log = logging.getLogger(__name__)

# The Appeal resource's permissions, identical on the view and the API (FAB
# drops the permissions of a resource that one of its views does not list).
BASE_PERMISSIONS = [f"can_{p}" for p in PERMISSIONS]

APPEAL_LABELS = {
    **appeal_service.FIELD_TITLES,  # the registration's fields, named as the corrections name them
    "number": _l("Registration number"),
    "number_label": _l("Registration number"),
    "importance_label": _l("Importance"),
    "origin_grid": _l("Registered in"),
    "filed_by_name": _l("Filled in by"),
    "registered_at": _l("Registered at"),
    "status": _l("Status"),
    "status_label": _l("Status"),
    "due_date": _l("Deadline"),
    "deadline": _l("Deadline"),
    "handler_person": _l("Handling person"),
    "handler_unit": _l("Handling unit"),
    "handler_title": _l("Handler"),
    "handler": _l("Handler"),
    "status_title": _l("Status"),
    "due_state": _l("Deadline state"),
    "duplicate_of_number": _l("Duplicate of"),
    "extension_until": _l("Extension requested until"),
    "closed_at": _l("Replied at"),
    "closed_on_time": _l("On time"),
    "assigned_at": _l("Assigned at"),
    "extension_reason": _l("Reason for the extension"),
    "extension_progress": _l("Progress"),
    "extension_count": _l("Extensions"),
    "supervision_note": _l("Supervision"),
    "feedback_by_name": _l("Handled by"),
    "evaluation_source": _l("Evaluated by"),
    "evaluators": _l("Participants"),
    "evaluation_comment": _l("Review comments"),
    "evaluated_at": _l("Reviewed at"),
    "archived_at": _l("Archived at"),
    "escalation_count": _l("Escalations"),
    "petition_collective": _l("Collective petition"),
    "petition_people": _l("Number of people"),
    "petition_bypass": _l("Bypassing a level"),
    "petition_repeat": _l("Repeated petition"),
    "petition_warning": _l("Early warning sign"),
    "supervised": _l("Supervised"),
    "supervised_label": _l("Supervised"),
    "feedback": _l("Reply"),
    "satisfaction": _l("Satisfaction"),
    "visit": _l("Raised during visit"),
    "contact_record": _l("Passed on by a representative"),
    "category.name": _l("Category"),
    "channel.name": _l("Channel"),
    "grid.id": _l("Grid"),
    "grid.name": _l("Grid"),
    "registered_in": _l("Registered in"),
    "id": "ID",
}


# what a list (page or API) may be searched by
SEARCH_COLUMNS = [
    "number", "reporter_name", "content", "reporter_phone", "status", "importance", "category", "channel", "grid",
    "handler_person", "registered_at", "due_date", "supervised",
    "petition_collective", "petition_bypass", "petition_repeat", "petition_warning",
]  # fmt: skip

# 信访 flags: on the registration form and the API, searchable, counted on the dashboard
PETITION_COLUMNS = ["petition_collective", "petition_people", "petition_bypass", "petition_repeat", "petition_warning"]
REGISTRATION_COLUMNS = [
    "reporter_name",
    "reporter_phone",
    "reporter_address",
    "reporter_unit",
    "reporter_id_number",
    "content",
    "channel",
    "category",
    "importance",
    "grid",
    *PETITION_COLUMNS,
]


class _DeadlineHelp:
    """The importance field's help text, with the configured numbers of days."""

    def __str__(self):
        return str(
            _l(
                "General: reply within %(general)s days; important: within %(important)s calendar months.",
                general=current_app.config["APPEAL_DAYS_GENERAL"],
                important=current_app.config["APPEAL_MONTHS_IMPORTANT"],
            )
        )

    def __html__(self):

        return str(escape(str(self)))


class BackdateHelp:
    """The registration date's help text, with the configured number of days."""

    def __str__(self):
        return str(_l("The date on the paper form: today, or at most %(days)s days back. The number is of that month.",
                      days=current_app.config["APPEAL_BACKDATE_DAYS"]))  # fmt: skip

    def __html__(self):
        return str(escape(str(self)))


def importance_field():
    return SelectField(
        _l("Importance"),
        choices=[(key, Importance.label_of(key)) for key in Importance.codes()],
        default=Importance.GENERAL,
        validators=[InputRequired()],
        description=_DeadlineHelp(),
        widget=Select2Widget(),
    )


def lookup_choice_field(model, label):
    """A required choice from an admin-edited list that starts empty: a clerk in a
    hurry must not file everything under the first category by accident."""

    def query():
        return db.session.scalars(
            select(model).where(model.active.is_(True)).order_by(model.sort_order, model.id)
        ).all()

    return QuerySelectField(
        label,
        validators=[DataRequired()],
        query_func=query,
        get_pk_func=lambda obj: obj.id,
        allow_blank=True,
        blank_text="—",
        widget=Select2Widget(),
    )


def status_search_field():
    return SelectField(_l("Status"), choices=[(key, Status.label_of(key)) for key in Status.codes()])


def importance_search_field():
    return SelectField(_l("Importance"), choices=[(key, Importance.label_of(key)) for key in Importance.codes()])


def current_actor():
    """The logged-in user as the services see them: name for the record, Appeal permissions."""
    user = scope.current_user()
    if user is None:
        return Actor(name="", permissions=frozenset())
    sm = current_app.appbuilder.sm
    permissions = frozenset(p for p in PERMISSIONS if sm.has_access(f"can_{p}", RESOURCE))
    person_name = scope.current().person_name  # read with the request's scope (one statement for both)
    name = person_name or f"{user.last_name or ''}{user.first_name or ''}".strip() or user.username
    return Actor(name=name, permissions=permissions, user_id=user.id)


class QuickFilter(BaseFilter):
    """A condition from the list page's quick buttons; the value names it
    ("due:overdue", "status:assigned" ...). FAB rebuilds filters from
    (column, class, value), so the value carries everything."""

    name = "quick"
    arg_name = None

    def apply(self, query, value):
        return query.filter(appeal_lists.quick_clause(db.session, value))


class FilterOverdue(BaseFilter):
    """API filter: `(col:due_date,opr:overdue,value:1)`."""

    name = _l("Overdue")
    arg_name = "overdue"

    def apply(self, query, value):
        return query.filter(appeal_service.overdue_clause())


class FilterDueSoon(BaseFilter):
    name = _l("Due soon")
    arg_name = "due_soon"

    def apply(self, query, value):
        return query.filter(appeal_service.due_soon_clause())


# the buttons on the appeal's page: the main path first (the first one is highlighted)
ACTION_DISPLAY_ORDER = [
    "assign",
    "start",
    "feedback",
    "evaluate",
    "archive",
    "resolve_on_spot",
    "approve_extension",
    "supervise",
    "extend",
    "reassign",
    "escalate",
    "duplicate",
]


class CsrfForm(DynamicForm):
    """Carries the CSRF token of the action forms on the appeal's page."""


class CorrectionForm(DynamicForm):
    reporter_phone = StringField(_l("Phone"), validators=[Optional()])
    reporter_address = StringField(_l("Home address"), validators=[Optional()])
    reporter_unit = StringField(_l("Work unit"), validators=[Optional()])
    reporter_id_number = StringField(_l("ID number"), validators=[Optional()])
    category = list_field(AppealCategory, _l("Category"), True)
    note = TextAreaField(
        _l("Reason for the correction"),
        validators=[InputRequired()],
        description=_l("Kept on the timeline with the old and new values."),
    )


CORRECTION_FIELDS = ("reporter_phone", "reporter_address", "reporter_unit", "reporter_id_number", "category")


def source_from(visit_id, contact_id):
    """The visit or contact record an appeal is raised from, if the user may see it."""

    for model, raw in ((Visit, visit_id), (ContactRecord, contact_id)):
        pk = parse_id(raw)
        if pk is not None and scope.visible(db.session, model, pk):
            source = db.session.get(model, pk)
            # what was said in a visit is confidential: only who may read it may copy it
            if model is Visit and not can_see_visit_content(scope.current(), source):
                return None
            return source
    return None


def raise_prefill(source):

    if isinstance(source, Visit):
        return appeal_prefill_from_visit(source)
    return appeal_prefill_from_contact(source)


# --------------------------------------------------------------------------
# How an appeal's codes look on a page (the list's formatters, the show page)
# --------------------------------------------------------------------------

STATUS_BADGES = {
    Status.REGISTERED: "label-default",
    Status.ESCALATED: "label-warning",
    Status.ASSIGNED: "label-info",
    Status.IN_PROGRESS: "label-primary",
    Status.ANSWERED: "label-success",
    Status.EVALUATED: "label-success",
    Status.ARCHIVED: "label-default",
}


_BADGES = {}  # (kind, code, language) -> Markup: every row of a list shows one of a few


def _kept_badge(kind, code, build):
    key = (kind, code, str(get_locale()))
    found = _BADGES.get(key)
    if found is None:
        found = _BADGES[key] = build(code)
    return found


def status_badge(code):
    return _kept_badge("status", code, _status_badge)


def _status_badge(code):
    css = STATUS_BADGES.get(code, "label-default")
    return Markup('<span class="label {}">{}</span>').format(css, Status.label_of(code))


def importance_text(code):
    return _kept_badge("importance", code, _importance_text)


def _importance_text(code):
    title = Importance.label_of(code)
    if code == Importance.IMPORTANT:
        return Markup('<strong class="text-danger">{}</strong>').format(title)
    return Markup("{}").format(title)


def deadline_text(deadline):
    """A due date marked overdue / due soon (see services.appeals.deadlines)."""
    if deadline is None:
        return ""
    text = deadline.date.isoformat()
    if deadline.state == "overdue":
        return Markup('<span class="mq-overdue" title="{}">{} {}</span>').format(_l("Overdue"), text, _l("Overdue"))
    if deadline.state == "due_soon":
        return Markup('<span class="mq-due-soon" title="{}">{} {}</span>').format(_l("Due soon"), text, _l("Due soon"))
    return text


def number_link(ref):
    if ref is None:
        return ""
    return Markup('<a href="{}">{}</a>').format(url_for("AppealView.show", pk=ref.id), ref.number)


def supervised_badge(flag):
    if not flag:
        return ""
    return Markup('<span class="label label-danger">{}</span>').format(_l("Supervised"))


LIST_FORMATTERS = {
    "number_label": number_link,
    "status_label": status_badge,
    "importance_label": importance_text,
    "deadline": deadline_text,
    "supervised_label": supervised_badge,
}


def appeal_labels(session, appeals):
    return {a.id: f"{a.number} · {a.reporter_name}" for a in appeals}


register_picker(
    "appeal",
    Appeal,
    resource="Appeal",
    search=[Appeal.number, Appeal.reporter_name],
    label=appeal_labels,
    order=[Appeal.registered_at.desc(), Appeal.id.desc()],
)
