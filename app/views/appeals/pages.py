"""The appeal pages: register, the list with its quick buttons and counts, the appeal's page
with its timeline and one button per workflow step, corrections, the three print forms.

Views declare; app.services.appeals decides. Every workflow step goes through
services.appeals.perform, whose check_action() is the one place where scope, role and
state are checked."""

from __future__ import annotations

from flask import abort, flash, g, redirect, request, url_for
from flask_appbuilder.fieldwidgets import DatePickerWidget
from flask_appbuilder.security.decorators import has_access
from flask_appbuilder.views import expose
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import joinedload, lazyload
from wtforms import DateField, HiddenField, StringField
from wtforms.validators import Length, Optional

from app.core.clock import now, today
from app.core.errors import Collector
from app.core.uow import unit_of_work
from app.extensions import db
from app.models.appeals import Appeal, AppealEvent, EvaluationSource, Importance, Satisfaction, Status
from app.models.grids import Grid
from app.models.lookups import AppealCategory, AppealChannel
from app.models.personnel import Person
from app.models.visits import Visit
from app.services import appeals as appeal_service
from app.services import attachments as attachment_service
from app.services import grids as grid_service
from app.services import privacy, scope
from app.services.appeals import RESOURCE, TRANSITIONS
from app.services.appeals import lists as appeal_lists
from app.views.appeals.common import (
    ACTION_DISPLAY_ORDER,
    APPEAL_LABELS,
    BASE_PERMISSIONS,
    CORRECTION_FIELDS,
    LIST_FORMATTERS,
    REGISTRATION_COLUMNS,
    SEARCH_COLUMNS,
    BackdateHelp,
    CorrectionForm,
    CsrfForm,
    QuickFilter,
    current_actor,
    importance_field,
    importance_search_field,
    lookup_choice_field,
    raise_prefill,
    source_from,
    status_badge,
    status_search_field,
)
from app.views.attachment_field import chosen_files
from app.views.edge import id_arg
from app.views.fab_compat import filters_plus
from app.views.scoped import ScopedInterface, ScopedModelView, uploader

# what the list shows of an appeal's relations: the category's, the grid's and the handler's names
# (not the channel, the grid's level, the handler's kind and grid, which the models join by default)
LIST_LOADS = (
    lazyload(Appeal.channel),
    joinedload(Appeal.grid).lazyload(Grid.level),
    joinedload(Appeal.handler_person).options(lazyload(Person.kind), lazyload(Person.grid)),
)
# one appeal's page and forms: its own relations, not its handler's kind and grid
RECORD_LOADS = (joinedload(Appeal.handler_person).options(lazyload(Person.kind), lazyload(Person.grid)),)


class AppealView(ScopedModelView):
    datamodel = ScopedInterface(Appeal, page_options=lambda: LIST_LOADS, record_options=lambda: RECORD_LOADS)
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
    # the Excel export is a ledger (台账): what a clerk needs to call people back and what was replied, how
    # the reporter judged it; phones and ID numbers masked for who may not read them (privacy.Reader)
    export_columns = [
        "number", "registered_at", "reporter_name", "reporter_phone", "reporter_address", "reporter_unit",
        "reporter_id_number", "content", "channel", "category", "importance_label", "status_label", "grid",
        "deadline", "handler_title", "feedback", "closed_at", "satisfaction", "filed_by_name",
    ]  # fmt: skip
    formatters_columns = {
        **LIST_FORMATTERS,
        "satisfaction": lambda code: str(Satisfaction.label_of(code, "")) if code else "",
    }
    search_columns = SEARCH_COLUMNS
    search_form_extra_fields = {"status": status_search_field(), "importance": importance_search_field()}
    # the paper form's date and who filled it in (登记日期, 填表人): typed in later, faithfully
    add_columns = ["registered_at", "filed_by_name", *REGISTRATION_COLUMNS, "from_visit", "from_contact"]
    edit_columns = REGISTRATION_COLUMNS
    add_form_extra_fields = {
        "importance": importance_field(),
        "channel": lookup_choice_field(AppealChannel, _l("Channel")),
        "category": lookup_choice_field(AppealCategory, _l("Category")),
        "from_visit": HiddenField(),
        "from_contact": HiddenField(),
        "registered_at": DateField(_l("Registration date"), validators=[Optional()], widget=DatePickerWidget(),
                                   description=BackdateHelp()),
        "filed_by_name": StringField(_l("Filled in by"), validators=[Optional(), Length(max=100)],
                                     description=_l("Who filled in the paper form; you, when you register it.")),
    }  # fmt: skip
    edit_form_extra_fields = {"importance": importance_field()}
    description_columns = {
        "reporter_phone": _l("Mobile 13812345678 or landline 0371-12345678."),
        "reporter_id_number": _l("Optional. 18 characters; the check digit is verified."),
        "content": _l("What the reporter asks or reports, in their words."),
        "grid": _l("The grid where the reporter lives or the matter arose."),
        "petition_collective": _l("Several people came together about one matter (集体访)."),
        "petition_people": _l("Only for a collective petition: how many people came."),
        "petition_bypass": _l("The matter was taken past the level that should handle it (越级访)."),
        "petition_repeat": _l("The same matter raised again after an earlier appeal (重复访)."),
        "petition_warning": _l("An early sign of a larger problem to watch (苗头性)."),
    }
    base_order = ("number_label", "desc")
    list_template = "minqing/appeals/list.html"
    show_template = "minqing/appeals/show.html"
    with_attachments = True

    # -- list: quick filters and the counts above the table --------------

    def list_filters(self, filters):
        keys = appeal_lists.quick_keys(request.args)
        return filters_plus(filters, [(QuickFilter("id", self.datamodel), key) for key in keys]) if keys else filters

    def list_page(self):
        self.update_redirect()
        widgets = self.list_widgets()
        flags = appeal_lists.context_flags(request.args)
        by_status, attention = appeal_lists.list_counts(db.session, flags)
        return self.render_template(
            self.list_template,
            title=self.list_title,
            widgets=widgets,
            attention=attention,
            by_status=by_status,
            statuses=Status.choices(),
            active={k: request.args.get(k) for k in ("status", "due", "supervised", "extension", "mine", "filed")},
            context="".join(f"{flag}=1&" for flag in flags),  # the tabs and buttons keep the page's context
            drill=appeal_lists.describe_drill(db.session, request.args),
            can_register=self.appbuilder.sm.has_access("can_write", RESOURCE),
        )

    # -- register: the number comes from the service, in one transaction ----

    def prefill_add_form(self, form):
        """?reporter_name=...&grid=<id>&channel=<id>...: a visit (or a link) raising an
        appeal passes what it already knows; ids out of scope are ignored."""
        session = db.session
        for name in ("reporter_name", "reporter_phone", "reporter_address", "reporter_unit", "content"):
            value = request.args.get(name, "").strip()
            if value:
                form[name].data = value[:2000]
        importance = request.args.get("importance")
        if importance in Importance.codes():
            form.importance.data = importance
        for name in ("grid", "channel", "category"):
            pk = id_arg(name)
            if pk is None:
                continue
            model = Appeal.__mapper__.relationships[name].mapper.class_
            obj = session.get(model, pk)
            if obj is not None and (not scope.is_scoped(model) or scope.visible(session, model, obj.id)):
                form[name].data = obj
        form.registered_at.data = today()
        form.filed_by_name.data = current_actor().name
        if form.grid.data is None:  # the user's own lowest grid (a village clerk files in the village)
            form.grid.data = scope.own_grid(session, scope.current())
        # raised from a visit or a representative's contact: the reporter is filled in from it
        source = source_from(request.args.get("visit"), request.args.get("contact_record"))
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

    stale_message = appeal_service.CHANGED_MEANWHILE

    def save_form(self, form, item, is_new):
        if not is_new:
            return super().save_form(form, item, is_new)
        source = source_from(form.from_visit.data, form.from_contact.data)
        files = chosen_files(form)
        with unit_of_work(form=form, commit=False) as work:  # register_appeal commits (and retries)
            form.populate_obj(item)
            if isinstance(source, Visit):
                item.visit = source
            elif source is not None:
                item.contact_record = source
            # the extra fields' and the files' rules with the registration's, all at once
            errors = Collector()
            uploads = []
            if self.extra_codes:
                with errors.check(), db.session.no_autoflush:
                    self.check_extra(item)
            if files:
                with errors.check():
                    uploads = attachment_service.check_uploads(files)
            if errors.errors:
                with errors.check(), db.session.no_autoflush:
                    appeal_service.validate_registration(db.session, item)
                errors.raise_if_any()
            who = uploader()
            appeal_service.register_appeal(
                db.session, current_actor(), item,
                then=lambda appeal: attachment_service.add_attachments(db.session, appeal, uploads, *who),
            )  # fmt: skip
        if work.failed:
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
        return self.get_in_scope(pk)

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
            event = None
            with unit_of_work(form=form, stale_message=self.stale_message) as work:
                with session.no_autoflush:  # the service compares with the stored row
                    for name in CORRECTION_FIELDS:
                        setattr(appeal, name, form[name].data)
                    event = appeal_service.update_registration(session, actor, appeal, form.note.data)
            if work.failed and work.refusal.status == 409:
                return redirect(url_for(".show", pk=appeal.id))
            if not work.failed:
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
        actions = sorted(appeal_service.allowed_actions(session, actor, appeal), key=ACTION_DISPLAY_ORDER.index)
        return self.render_template(
            self.show_template,
            title=self.show_title,
            appeal=appeal,
            events=appeal_service.timeline(session, appeal),
            actions=actions,
            transitions=TRANSITIONS,
            duplicates=appeal_service.duplicates_of(session, appeal),
            chain=grid_service.ancestors(session, appeal.grid),
            due_state=appeal_service.due_state(appeal),
            can_write=actor.can("write"),
            locked=appeal_service.registration_locked(appeal),
            id_number=privacy.reveal(appeal, "reporter_id_number") or "",
            phone=privacy.reveal(appeal, "reporter_phone"),
            csrf_form=CsrfForm(),
            default_handler=appeal_service.default_handler(appeal) if "assign" in actions else None,
            field_titles=appeal_service.FIELD_TITLES,
            importance_titles=dict(Importance.choices()),
            satisfaction_choices=Satisfaction.choices(),
            source_choices=EvaluationSource.choices(),
            status_badge=status_badge(appeal.status),
            importance_title=Importance.label_of(appeal.importance, ""),
            satisfaction_title=Satisfaction.label_of(appeal.satisfaction, "") if appeal.satisfaction else "",
            source_title=EvaluationSource.label_of(appeal.evaluation_source, "") if appeal.evaluation_source else "",
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
        with unit_of_work(stale_message=self.stale_message, flash_errors=False) as work:
            appeal_service.perform(session, current_actor(), appeal, action, request.form.to_dict())
        if work.failed:
            if work.refusal.status == 404 and work.refusal.field is None:
                abort(404)
            flash(work.refusal.message, "danger")
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
            importance_title=Importance.label_of(appeal.importance, ""),
            satisfaction=appeal.satisfaction,
            satisfaction_choices=[(k, Satisfaction.label_of(k)) for k in Satisfaction.codes()],
            source_title=EvaluationSource.label_of(appeal.evaluation_source, "") if appeal.evaluation_source else "",
            id_number=privacy.reveal(appeal, "reporter_id_number") or "",
            phone=privacy.reveal(appeal, "reporter_phone"),
            recorded_by=recorded_by,
        )
