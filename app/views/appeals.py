"""Appeal pages and API: register, list with deadline marks, the appeal's page with
its timeline and one button per workflow step, the three print forms, REST.

Views declare; app.services.appeals decides. Every workflow step (page button
or `POST /api/v1/appeal/<id>/<action>`) goes through services.appeals.perform,
whose check_action() is the one place where scope, role and state are checked.
"""

from __future__ import annotations

import datetime as dt
import logging

from flask import abort, current_app, flash, g, redirect, request, url_for
from flask_appbuilder.api import expose as api_expose
from flask_appbuilder.api import protect, safe
from flask_appbuilder.const import API_RESULT_RES_KEY
from flask_appbuilder.fields import QuerySelectField
from flask_appbuilder.fieldwidgets import Select2Widget
from flask_appbuilder.forms import DynamicForm
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.security.decorators import has_access
from flask_appbuilder.views import expose
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError
from sqlalchemy import and_, false, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Optional

from app.core.cache import memo
from app.core.clock import now
from app.core.errors import DomainError
from app.extensions import db
from app.models.appeals import Appeal, AppealEvent, EvaluationSource, Importance, Satisfaction, Status
from app.models.grids import Grid
from app.models.lookups import AppealCategory, AppealChannel
from app.models.personnel import Person
from app.models.visits import Visit
from app.services import appeals as appeal_service
from app.services import dashboard as dashboard_service
from app.services import grids as grid_service
from app.services import privacy, scope
from app.services import stats as stats_service
from app.services.appeals import PERMISSIONS, RESOURCE, TRANSITIONS, Actor
from app.views.base import SAVE_FAILED, ScopedInterface, ScopedModelApi, ScopedModelView, list_field

log = logging.getLogger(__name__)

# The Appeal resource's permissions, identical on the view and the API (FAB
# drops the permissions of a resource that one of its views does not list).
BASE_PERMISSIONS = [f"can_{p}" for p in PERMISSIONS]

APPEAL_LABELS = {
    "number": _l("Registration number"),
    "number_label": _l("Registration number"),
    "reporter_name": _l("Reporter"),
    "reporter_address": _l("Home address"),
    "reporter_unit": _l("Work unit"),
    "reporter_phone": _l("Phone"),
    "reporter_id_number": _l("ID number"),
    "content": _l("Content"),
    "channel": _l("Channel"),
    "category": _l("Category"),
    "importance": _l("Importance"),
    "importance_label": _l("Importance"),
    "grid": _l("Grid"),
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
    "supervised": _l("Supervised"),
    "supervised_label": _l("Supervised"),
    "feedback": _l("Reply"),
    "satisfaction": _l("Evaluation"),
    "visit": _l("Raised during visit"),
    "contact_record": _l("Passed on by a representative"),
    "category.name": _l("Category"),
    "channel.name": _l("Channel"),
    "grid.id": _l("Grid"),
    "grid.name": _l("Grid"),
    "registered_in": _l("Registered in"),
    "id": "ID",
}

PERSONAL_PHONES = ("reporter_phone",)
PERSONAL_IDS = ("reporter_id_number",)

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
]


class _DeadlineHelp:
    """The importance field's help text, with the configured numbers of days."""

    def __str__(self):
        return str(
            _l(
                "General: reply within %(general)s days; important: within %(important)s days.",
                general=current_app.config["APPEAL_DAYS_GENERAL"],
                important=current_app.config["APPEAL_DAYS_IMPORTANT"],
            )
        )

    def __html__(self):
        from markupsafe import escape

        return str(escape(str(self)))


def importance_field():
    return SelectField(
        _l("Importance"),
        choices=[(key, Importance.TITLES[key]) for key in Importance.ORDER],
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
    return SelectField(_l("Status"), choices=[(key, Status.TITLES[key]) for key in Status.ORDER])


def importance_search_field():
    return SelectField(_l("Importance"), choices=[(key, Importance.TITLES[key]) for key in Importance.ORDER])


def current_actor():
    """The logged-in user as the services see them: name for the record, Appeal permissions."""
    user = scope.current_user()
    if user is None:
        return Actor(name="", permissions=frozenset())
    sm = current_app.appbuilder.sm
    permissions = frozenset(p for p in PERMISSIONS if sm.has_access(f"can_{p}", RESOURCE))
    person_name = db.session.scalar(select(Person.name).where(Person.user_id == user.id))
    name = person_name or f"{user.last_name or ''}{user.first_name or ''}".strip() or user.username
    return Actor(name=name, permissions=permissions, user_id=user.id)


class QuickFilter(BaseFilter):
    """A condition from the list page's quick buttons; the value names it
    ("due:overdue", "status:assigned" ...). FAB rebuilds filters from
    (column, class, value), so the value carries everything."""

    name = "quick"
    arg_name = None

    def apply(self, query, value):
        return query.filter(quick_clause(value))


def quick_clause(key):
    kind, _, arg = (key or "").partition(":")
    if kind == "status" and arg in Status.ORDER:
        return Appeal.status == arg
    if kind == "due" and arg == "overdue":
        return appeal_service.overdue_clause()
    if kind == "due" and arg == "soon":
        return appeal_service.due_soon_clause()
    if kind == "supervised":
        return and_(appeal_service.open_clause(), Appeal.supervised.is_(True))
    if kind == "extension":
        return and_(appeal_service.open_clause(), Appeal.extension_until.is_not(None))
    if kind == "mine":
        return Appeal.handler_person_id == (scope.current().person_id or 0)
    if kind == "open":
        return appeal_service.open_clause()
    if kind == "unassigned":
        return and_(Appeal.status.in_((Status.REGISTERED, Status.ESCALATED)), Appeal.duplicate_of_id.is_(None))
    if kind == "due" and arg == "week":
        return dashboard_service.week_clause()
    if kind == "stat" and arg in STAT_KEYS:
        return stats_service.figure_clause(arg)
    if kind == "category" and arg.isdigit():
        return Appeal.category_id == int(arg)
    if kind == "in" and arg.isdigit():
        return _subtree_of(Appeal.grid_id, int(arg))
    if kind == "figures":
        # the appeals a dashboard figure counts: registered in a grid's subtree in a period
        grid_id, start, end = arg.split(":")
        paths = None
        if grid_id != "all":
            path = db.session.scalar(select(Grid.path).where(Grid.id == int(grid_id)))
            paths = (path,) if path else ()
        return stats_service.base_clause(paths, _iso(start), _iso(end))
    raise ValueError(key)


STAT_KEYS = {c.key for c in stats_service.COUNTS}


def _iso(value):
    return dt.date.fromisoformat(value) if value else None


def _subtree_of(column, grid_id):
    path = db.session.scalar(select(Grid.path).where(Grid.id == grid_id))
    if not path:
        return false()
    return stats_service.in_subtrees(column, (path,))


def drill_keys(args):
    """The list filters a dashboard link asks for (?stat=closed&origin=12&from=...),
    checked: anything malformed is ignored rather than failing the page."""
    keys = []
    if args.get("stat") in STAT_KEYS:
        keys.append("stat:" + args["stat"])
    if (args.get("category") or "").isdigit():
        keys.append("category:" + args["category"])
    if (args.get("in") or "").isdigit():
        keys.append("in:" + args["in"])
    origin = args.get("origin")
    if origin is not None and (origin == "all" or origin.isdigit()):
        try:
            start, end = _iso(args.get("from")), _iso(args.get("to"))
        except ValueError:
            return keys
        keys.append(f"figures:{origin}:{start or ''}:{end or ''}")
    return keys


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


def _source_from(visit_id, contact_id):
    """The visit or contact record an appeal is raised from, if the user may see it."""
    from app.models.representatives import ContactRecord
    from app.services.privacy import can_see_visit_content

    for model, raw in ((Visit, visit_id), (ContactRecord, contact_id)):
        raw = str(raw or "").strip()
        if raw.isdigit() and int(raw) <= 2**31 - 1 and scope.visible(db.session, model, int(raw)):
            source = db.session.get(model, int(raw))
            # what was said in a visit is confidential: only who may read it may copy it
            if model is Visit and not can_see_visit_content(scope.current(), source):
                return None
            return source
    return None


def raise_prefill(source):
    from app.services.representatives import appeal_prefill_from_contact
    from app.services.visits import appeal_prefill_from_visit

    if isinstance(source, Visit):
        return appeal_prefill_from_visit(source)
    return appeal_prefill_from_contact(source)


class AppealView(ScopedModelView):
    datamodel = ScopedInterface(Appeal)
    resource = RESOURCE
    base_permissions = BASE_PERMISSIONS
    # nobody deletes an appeal: its number is never reused and its history stays
    exclude_route_methods = {"download", "delete"}
    extra_permissions = {"act": "read", "print_form": "read", "delete": "delete"}
    list_title = _l("Appeals")
    show_title = _l("Appeal")
    add_title = _l("Register an appeal")
    edit_title = _l("Edit the registration")
    label_columns = APPEAL_LABELS
    list_columns = [
        "number_label",
        "reporter_name",
        "category",
        "importance_label",
        "status_label",
        "grid",
        "deadline",
        "handler_title",
        "supervised_label",
    ]
    order_columns = ["number_label", "reporter_name", "importance_label", "status_label", "deadline"]
    # the Excel export carries what a clerk needs to call people back (masked for who may not see it)
    export_columns = [
        "number", "registered_at", "reporter_name", "reporter_phone", "reporter_address", "content", "channel",
        "category", "importance_label", "status_label", "grid", "deadline", "handler_title",
    ]  # fmt: skip
    formatters_columns = {"reporter_phone": privacy.personal_phone, "reporter_id_number": privacy.personal_id}
    sensitive_search_columns = ("reporter_phone", "reporter_id_number")
    search_columns = [
        "number",
        "reporter_name",
        "reporter_phone",
        "status",
        "importance",
        "category",
        "channel",
        "grid",
        "handler_person",
        "registered_at",
        "due_date",
        "supervised",
    ]
    search_form_extra_fields = {"status": status_search_field(), "importance": importance_search_field()}
    add_columns = REGISTRATION_COLUMNS + ["from_visit", "from_contact"]
    edit_columns = REGISTRATION_COLUMNS
    add_form_extra_fields = {
        "importance": importance_field(),
        "channel": lookup_choice_field(AppealChannel, _l("Channel")),
        "category": lookup_choice_field(AppealCategory, _l("Category")),
        "from_visit": HiddenField(),
        "from_contact": HiddenField(),
    }
    edit_form_extra_fields = {"importance": importance_field()}
    description_columns = {
        "reporter_phone": _l("Mobile 13812345678 or landline 0371-12345678."),
        "reporter_id_number": _l("Optional. 18 characters; the check digit is verified."),
        "content": _l("What the reporter asks or reports, in their words."),
        "grid": _l("The grid where the reporter lives or the matter arose."),
    }
    base_order = ("number_label", "desc")
    list_template = "minqing/appeals/list.html"
    show_template = "minqing/appeals/show.html"

    # -- list: quick filters and the counts above the table --------------

    def _quick_keys(self):
        keys = []
        if request.args.get("status") in Status.ORDER:
            keys.append("status:" + request.args["status"])
        if request.args.get("due") in ("overdue", "soon", "week"):
            keys.append("due:" + request.args["due"])
        for flag in ("supervised", "extension", "mine", "open", "unassigned"):
            if request.args.get(flag) == "1":
                keys.append(flag)
        return keys + drill_keys(request.args)

    def list_filters(self, filters):
        keys = self._quick_keys()
        if keys:
            filters = filters.copy()
            for key in keys:
                filters._add_filter(QuickFilter("id", self.datamodel), key)
        return filters

    @expose("/list/")
    @has_access
    def list(self):
        return self._guarded(self._appeal_list)

    def _appeal_list(self):
        self.update_redirect()
        widgets = self._list()
        session = db.session
        where = scope.clause_for(Appeal)
        me = scope.current()
        by_status = memo(
            ("appeal_by_status", me.cache_key),
            lambda: dict(
                session.execute(select(Appeal.status, func.count()).where(where).group_by(Appeal.status)).all()
            ),
        )
        return self.render_template(
            self.list_template,
            title=self.list_title,
            widgets=widgets,
            attention=appeal_service.attention_counts(session, where, cache_key=me.cache_key),
            by_status=by_status,
            statuses=[(key, Status.TITLES[key]) for key in Status.ORDER],
            active={k: request.args.get(k) for k in ("status", "due", "supervised", "extension", "mine")},
            drill=self._drill_description(),
            can_register=self.appbuilder.sm.has_access("can_write", RESOURCE),
        )

    def _drill_description(self):
        """What a dashboard link filtered the list by, in words (None: no such filter)."""
        keys = drill_keys(request.args)
        if not keys:
            return None
        parts = []
        titles = {c.key: c.title for c in stats_service.COUNTS}
        if request.args.get("stat") in titles:
            parts.append(str(titles[request.args["stat"]]))
        for arg in ("origin", "in"):
            value = request.args.get(arg) or ""
            if value.isdigit():
                grid = db.session.get(Grid, int(value))
                if grid is not None and scope.current().contains_path(grid.path):
                    label = (
                        _l("registered in %(grid)s and below") if arg == "origin" else _l("now in %(grid)s and below")
                    )
                    parts.append(str(label) % {"grid": grid.name})
        if (request.args.get("category") or "").isdigit():
            category = db.session.get(AppealCategory, int(request.args["category"]))
            if category is not None:
                parts.append(str(_l("Category")) + "：" + category.name)
        if request.args.get("origin") and (request.args.get("from") or request.args.get("to")):
            parts.append(
                str(_l("registered %(start)s to %(end)s"))
                % {"start": request.args.get("from") or "…", "end": request.args.get("to") or "…"}
            )
        return " · ".join(parts)

    # -- register: the number comes from the service, in one transaction ----

    def _get_add_widget(self, form, exclude_cols=None, widgets=None):
        if request.method == "GET":
            self._prefill(form)
        return super()._get_add_widget(form, exclude_cols=exclude_cols, widgets=widgets)

    def _prefill(self, form):
        """?reporter_name=...&grid=<id>&channel=<id>...: a visit (or a link) raising an
        appeal passes what it already knows; ids out of scope are ignored."""
        session = db.session
        for name in ("reporter_name", "reporter_phone", "reporter_address", "reporter_unit", "content"):
            value = request.args.get(name, "").strip()
            if value:
                form[name].data = value[:2000]
        importance = request.args.get("importance")
        if importance in Importance.ORDER:
            form.importance.data = importance
        for name in ("grid", "channel", "category"):
            value = request.args.get(name, "")
            if not value.isdigit():
                continue
            model = Appeal.__mapper__.relationships[name].mapper.class_
            obj = session.get(model, int(value))
            if obj is not None and (not scope.is_scoped(model) or scope.visible(session, model, obj.id)):
                form[name].data = obj
        if form.grid.data is None:
            me = scope.current()
            if not me.all and len(me.paths) == 1:  # one jurisdiction: start there
                form.grid.data = session.get(Grid, int(me.paths[0].strip("/").split("/")[-1]))
        # raised from a visit or a representative's contact: the reporter is filled in from it
        source = _source_from(request.args.get("visit"), request.args.get("contact_record"))
        if source is not None:
            prefill = raise_prefill(source)
            for name in ("reporter_name", "reporter_phone", "reporter_address", "content"):
                if prefill.get(name) and not form[name].data:
                    form[name].data = prefill[name]
            if form.grid.data is None or request.args.get("grid") is None:
                form.grid.data = prefill["grid"]
            channel = session.scalar(select(AppealChannel).where(AppealChannel.name == prefill["channel_name"]))
            if channel is not None and request.args.get("channel") is None:
                form.channel.data = channel
            if isinstance(source, Visit):
                form.from_visit.data = str(source.id)
            else:
                form.from_contact.data = str(source.id)

    def _save(self, form, item, is_new):
        if not is_new:
            try:
                return super()._save(form, item, is_new)
            except StaleDataError:
                db.session.rollback()
                flash(str(appeal_service.CHANGED_MEANWHILE), "danger")
                return False
        session = db.session
        source = _source_from(form.from_visit.data, form.from_contact.data)
        try:
            form.populate_obj(item)
            if isinstance(source, Visit):
                item.visit = source
            elif source is not None:
                item.contact_record = source
            appeal_service.register_appeal(session, current_actor(), item)
        except DomainError as err:
            session.rollback()
            self._form_error(form, err)
            return False
        except IntegrityError:
            session.rollback()
            log.exception("integrity error registering an appeal")
            flash(str(SAVE_FAILED), "danger")
            return False
        g._minqing_new_appeal = item.id
        flash(str(_l("Registered as number %(number)s.", number=item.number)), "success")
        return True

    def post_add_redirect(self):
        pk = g.pop("_minqing_new_appeal", None)
        if pk is not None:
            return redirect(url_for(".show", pk=pk))
        return super().post_add_redirect()

    def validate(self, item):
        appeal_service.update_registration(db.session, current_actor(), item)

    # -- edit: the full form before assignment, a correction form afterwards --

    def _get_appeal(self, pk):
        appeal = self.datamodel.get(pk, self._base_filters)
        if appeal is None:
            abort(404)
        return appeal

    @expose("/edit/<pk>", methods=["GET", "POST"])
    @has_access
    def edit(self, pk):
        appeal = self._get_appeal(pk)
        if appeal.status == Status.ARCHIVED:
            flash(str(_l("An archived appeal can no longer be changed.")), "danger")
            return redirect(url_for(".show", pk=appeal.id))
        if appeal_service.registration_locked(appeal):
            return self._correct(appeal)
        return super().edit(pk)

    def _correct(self, appeal):
        form = CorrectionForm(obj=appeal)
        if request.method == "POST" and form.validate():
            session = db.session
            actor = current_actor()  # before the changes: its query would flush them
            try:
                with session.no_autoflush:  # the service compares with the stored row
                    for name in CORRECTION_FIELDS:
                        setattr(appeal, name, form[name].data)
                    event = appeal_service.update_registration(session, actor, appeal, form.note.data)
                session.commit()
            except DomainError as err:
                session.rollback()
                self._form_error(form, err)
            except StaleDataError:
                session.rollback()
                flash(str(appeal_service.CHANGED_MEANWHILE), "danger")
                return redirect(url_for(".show", pk=appeal.id))
            else:
                if event is None:
                    flash(str(_l("Nothing was changed.")), "info")
                else:
                    flash(str(_l("The correction is saved and recorded on the timeline.")), "success")
                return redirect(url_for(".show", pk=appeal.id))
        return self.render_template(
            "minqing/appeals/correct.html", title=_l("Correct the registration"), appeal=appeal, form=form
        )

    # -- the appeal's page ---------------------------------------------------

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        appeal = self._get_appeal(pk)
        session = db.session
        actor = current_actor()
        self.update_redirect()
        return self.render_template(
            self.show_template,
            title=self.show_title,
            appeal=appeal,
            events=appeal_service.timeline(session, appeal),
            actions=sorted(appeal_service.allowed_actions(session, actor, appeal), key=ACTION_DISPLAY_ORDER.index),
            transitions=TRANSITIONS,
            duplicates=appeal_service.duplicates_of(session, appeal),
            chain=grid_service.ancestors(session, appeal.grid),
            due_state=appeal_service.due_state(appeal),
            can_write=actor.can("write"),
            locked=appeal_service.registration_locked(appeal),
            id_number=privacy.personal_id(appeal.reporter_id_number) or "",
            phone=privacy.personal_phone(appeal.reporter_phone),
            csrf_form=CsrfForm(),
            field_titles=appeal_service.FIELD_TITLES,
            importance_titles=Importance.TITLES,
            satisfaction_choices=[(k, Satisfaction.TITLES[k]) for k in Satisfaction.ORDER],
            source_choices=[(k, EvaluationSource.TITLES[k]) for k in EvaluationSource.ORDER],
            importance_title=Importance.TITLES.get(appeal.importance, ""),
            satisfaction_title=Satisfaction.TITLES.get(appeal.satisfaction, "") if appeal.satisfaction else "",
            source_title=EvaluationSource.TITLES.get(appeal.evaluation_source, "") if appeal.evaluation_source else "",
        )

    @expose("/act/<int:pk>/<action>", methods=["POST"])
    @has_access
    def act(self, pk, action):
        appeal = self._get_appeal(pk)
        if action not in TRANSITIONS:
            abort(404)
        if not CsrfForm().validate():
            flash(str(_l("The form has expired. Please try again.")), "danger")
            return redirect(url_for(".show", pk=appeal.id))
        session = db.session
        title = TRANSITIONS[action].title
        try:
            appeal_service.perform(session, current_actor(), appeal, action, request.form.to_dict())
            session.commit()
        except StaleDataError:
            session.rollback()
            flash(str(appeal_service.CHANGED_MEANWHILE), "danger")
            return redirect(url_for(".show", pk=pk))
        except DomainError as err:
            session.rollback()
            if err.status == 404 and err.field is None:
                abort(404)
            flash(str(err), "danger")
            return redirect(url_for(".show", pk=pk))
        flash(str(_l("Done: %(action)s.", action=title)), "success")
        if not scope.visible(session, Appeal, pk):  # escalated out of this user's jurisdiction
            flash(str(_l("The appeal now lies with the higher level: %(grid)s.", grid=appeal.grid.name)), "info")
            return redirect(url_for(".list"))
        return redirect(url_for(".show", pk=pk))

    # -- the paper forms ------------------------------------------------------

    PRINT_FORMS = {
        "register": "minqing/print/appeal_register.html",
        "feedback": "minqing/print/appeal_feedback.html",
        "review": "minqing/print/appeal_review.html",
    }

    @expose("/print/<int:pk>/<form>")
    @has_access
    def print_form(self, pk, form):
        template = self.PRINT_FORMS.get(form)
        if template is None:
            abort(404)
        appeal = self._get_appeal(pk)
        recorded_by = db.session.scalar(
            select(AppealEvent.actor_name)
            .where(AppealEvent.appeal_id == appeal.id, AppealEvent.action == "evaluate")
            .order_by(AppealEvent.at.desc(), AppealEvent.id.desc())
            .limit(1)
        )
        return self.render_template(
            template,
            appeal=appeal,
            printed_at=now(),
            importance_title=Importance.TITLES.get(appeal.importance, ""),
            satisfaction=appeal.satisfaction,
            satisfaction_choices=[(k, Satisfaction.TITLES[k]) for k in Satisfaction.ORDER],
            source_title=EvaluationSource.TITLES.get(appeal.evaluation_source, "") if appeal.evaluation_source else "",
            id_number=privacy.personal_id(appeal.reporter_id_number) or "",
            phone=privacy.personal_phone(appeal.reporter_phone),
            recorded_by=recorded_by,
        )


# Relations to Person or to another Appeal are given through properties: FAB
# loads dotted columns with contains_eager, and the related model's own
# inner-joined eager loads would then drop the rows where the relation is empty.
API_LIST_COLUMNS = [
    "id",
    "number",
    "status",
    "status_title",
    "importance",
    "reporter_name",
    "category.name",
    "channel.name",
    "grid.id",
    "grid.name",
    "registered_at",
    "due_date",
    "due_state",
    "handler",
    "supervised",
    "extension_until",
    "closed_at",
    "satisfaction",
]


def _event_json(item):
    event = item["event"]
    return {
        "action": event.action,
        "title": str(item["title"]),
        "at": event.at.isoformat(sep=" "),
        "actor": event.actor_name,
        "note": event.note,
        "from_status": event.from_status,
        "to_status": event.to_status,
        "from_grid": item["from_grid"],
        "to_grid": item["to_grid"],
        "handler": event.handler_text,
        "due_date": event.due_date.isoformat() if event.due_date else None,
        "result": event.result,
        "related_number": item["related_number"],
        "data": event.data,
    }


def _state_json(appeal):
    return {
        "id": appeal.id,
        "number": appeal.number,
        "status": appeal.status,
        "status_title": str(appeal.status_title),
        "due_date": appeal.due_date.isoformat() if appeal.due_date else None,
        "due_state": appeal_service.due_state(appeal),
    }


class AppealApi(ScopedModelApi):
    """`/api/v1/appeal/`: GET list/one, POST registers, PUT corrects (same rules as
    the page), no DELETE; `POST /<id>/<action>` runs a workflow step and
    `GET /<id>/timeline` returns the events."""

    list_title = _l("Appeals")
    show_title = _l("Appeal")
    add_title = _l("Appeal")
    edit_title = _l("Appeal")
    resource_name = "appeal"
    resource = RESOURCE
    base_permissions = BASE_PERMISSIONS
    exclude_route_methods = {"delete"}
    extra_permissions = {"act": "read", "timeline": "read"}
    label_columns = APPEAL_LABELS
    datamodel = ScopedInterface(Appeal)
    list_columns = API_LIST_COLUMNS
    show_columns = API_LIST_COLUMNS + [
        "reporter_address",
        "reporter_unit",
        "reporter_phone",
        "reporter_id_number",
        "content",
        "registered_in",
        "filed_by_name",
        "assigned_at",
        "extension_reason",
        "extension_progress",
        "extension_count",
        "supervision_note",
        "feedback",
        "feedback_by_name",
        "closed_on_time",
        "evaluation_source",
        "evaluators",
        "evaluation_comment",
        "evaluated_at",
        "archived_at",
        "escalation_count",
        "duplicate_of_number",
        "raised_from_visit",
        "raised_from_contact",
    ]
    add_columns = REGISTRATION_COLUMNS
    edit_columns = REGISTRATION_COLUMNS
    sensitive_search_columns = ("reporter_phone", "reporter_id_number")
    search_columns = [
        "number",
        "reporter_name",
        "reporter_phone",
        "status",
        "importance",
        "category",
        "channel",
        "grid",
        "handler_person",
        "registered_at",
        "due_date",
        "supervised",
    ]
    search_filters = {"due_date": [FilterOverdue, FilterDueSoon]}
    order_columns = ["number", "registered_at", "due_date", "status", "importance", "reporter_name"]
    base_order = ("registered_at", "desc")

    def pre_get(self, data):
        privacy.mask_personal_rows([data["result"]], phones=PERSONAL_PHONES, ids=PERSONAL_IDS)

    def pre_get_list(self, data):
        privacy.mask_personal_rows(data["result"], phones=PERSONAL_PHONES, ids=PERSONAL_IDS)

    def validate(self, item):
        appeal_service.update_registration(db.session, current_actor(), item)

    def _write(self, item, is_new):
        try:
            return super()._write(item, is_new)
        except StaleDataError:
            db.session.rollback()
            return self.response(409, message=str(appeal_service.CHANGED_MEANWHILE))

    def post_headless(self):
        if not request.is_json or not isinstance(request.json, dict):
            return self.response_400(message=str(_l("Send a JSON object.")))
        bad = self._bad_relations(request.json)
        if bad:
            return self.response_422(message=bad)
        session = db.session
        try:
            item = self.add_model_schema.load(request.json)
        except ValidationError as err:
            session.rollback()
            return self.response_422(message=err.messages)
        try:
            appeal_service.register_appeal(session, current_actor(), item)
        except DomainError as err:
            session.rollback()
            return self._error(err)
        except IntegrityError:
            session.rollback()
            return self.response_422(message=str(SAVE_FAILED))
        body = _state_json(item)
        body[API_RESULT_RES_KEY] = self.add_model_schema.dump(item, many=False)
        return self.response(201, **body)

    @api_expose("/<int:pk>/<action>", methods=["POST"])
    @protect()
    @safe
    def act(self, pk, action):
        """Run a workflow step.
        ---
        post:
          summary: "assign, start, resolve_on_spot, escalate, extend, approve_extension,
            feedback, evaluate, archive, supervise, reassign or duplicate"
          parameters:
          - in: path
            schema:
              type: integer
            name: pk
          - in: path
            schema:
              type: string
            name: action
          requestBody:
            content:
              application/json:
                schema:
                  type: object
          responses:
            200:
              description: the appeal's new state and the event written
            400:
              $ref: '#/components/responses/400'
            403:
              $ref: '#/components/responses/401'
            404:
              $ref: '#/components/responses/404'
            422:
              $ref: '#/components/responses/422'
        """
        appeal = self.datamodel.get(pk, self._base_filters)
        if appeal is None or action not in TRANSITIONS:
            return self.response_404()
        if not request.is_json or not isinstance(request.json, dict):
            return self.response_400(message=str(_l("Send a JSON object.")))
        session = db.session
        try:
            event = appeal_service.perform(session, current_actor(), appeal, action, request.json)
            session.commit()
        except StaleDataError:
            session.rollback()
            return self.response(409, message=str(appeal_service.CHANGED_MEANWHILE))
        except DomainError as err:
            session.rollback()
            return self._error(err)
        item = {"event": event, "title": appeal_service.EVENT_TITLES[event.action], "from_grid": None,
                "to_grid": None, "related_number": None}  # fmt: skip
        return self.response(200, event=_event_json(item), **_state_json(appeal))

    @api_expose("/<int:pk>/timeline", methods=["GET"])
    @protect()
    @safe
    def timeline(self, pk):
        """The appeal's timeline, oldest first.
        ---
        get:
          parameters:
          - in: path
            schema:
              type: integer
            name: pk
          responses:
            200:
              description: events
            404:
              $ref: '#/components/responses/404'
        """
        appeal = self.datamodel.get(pk, self._base_filters)
        if appeal is None:
            return self.response_404()
        events = appeal_service.timeline(db.session, appeal)
        return self.response(200, result=[_event_json(e) for e in events], **_state_json(appeal))
