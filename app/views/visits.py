"""Visit logs (民情家访), follow-ups due, and the visit quotas with their progress report."""

from datetime import date, timedelta

from flask import abort, current_app, flash, redirect, request, url_for
from flask_appbuilder.api import expose as api_expose
from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
from flask_appbuilder.security.decorators import has_access, protect
from flask_appbuilder.views import expose
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import joinedload, lazyload, selectinload
from wtforms import IntegerField, SelectField
from wtforms.validators import Optional

from app.core.clock import today
from app.core.errors import DomainError
from app.core.replica import reports_session
from app.core.uow import refusal_for
from app.extensions import db
from app.models.grids import Grid
from app.models.personnel import Person
from app.models.visits import QuotaRule, Visit
from app.services import privacy, scope, visit_rate
from app.services import quotas as quota_service
from app.services import visits as visit_service
from app.views.api import ScopedModelApi
from app.views.edge import id_arg
from app.views.pickers import register_picker
from app.views.scoped import ScopedInterface, ScopedModelView

VISIT_LABELS = {
    "visit_date": _l("Visit date"),
    "form": _l("Visit form"),
    "visitors": _l("Visitors"),
    "visitor_names": _l("Visitors"),
    "grid": _l("Grid"),
    "target": _l("Target category"),
    "visited_name": _l("Household head / person visited"),
    "visited_phone": _l("Phone of the person visited"),
    "address": _l("Address"),
    "family_size": _l("Family size"),
    "situation": _l("Family situation"),
    "problems": _l("Problems raised"),
    "actions": _l("What was done"),
    "result": _l("Visit result"),
    "follow_up_date": _l("Follow-up date"),
    "follow_up_of": _l("Follow-up of"),
    "recorded_by": _l("Recorded by"),
    "created_at": _l("Created at"),
    "updated_at": _l("Updated at"),
    "form.name": _l("Visit form"),
    "grid.id": _l("Grid"),
    "grid.name": _l("Grid"),
    "target.name": _l("Target category"),
    "visitor_ids": _l("Visitors"),
    "follow_up_of.id": _l("Follow-up of"),
    "id": "ID",
}


def visit_labels(session, visits):
    return {v.id: f"{v.visit_date} · {v.visited_name} · {v.grid.name}" for v in visits}


register_picker(
    "visit",
    Visit,
    resource="Visit",
    search=[Visit.visited_name, Visit.address],
    label=visit_labels,
    order=[Visit.visit_date.desc(), Visit.id.desc()],
)


def visits_url(person_id, period):
    """The visit list filtered to one visitor and one period (FAB filters are strict > and <)."""
    before = (period.start - timedelta(days=1)).isoformat()
    after = (period.end + timedelta(days=1)).isoformat()
    return (
        url_for("VisitView.list") + f"?_flt_0_visitors={person_id}&_flt_1_visit_date={before}&_flt_2_visit_date={after}"
    )


# what the list shows of a visit's relations: names (not the grid's level, nor the visitors' kinds and
# grids, which the models join by default)
LIST_LOADS = (
    joinedload(Visit.grid).lazyload(Grid.level),
    selectinload(Visit.visitors).options(lazyload(Person.kind), lazyload(Person.grid)),
)
# one visit's page and forms: its own relations, not its visitors' kinds and grids
RECORD_LOADS = (selectinload(Visit.visitors).options(lazyload(Person.kind), lazyload(Person.grid)),)


class VisitView(ScopedModelView):
    datamodel = ScopedInterface(Visit, page_options=lambda: LIST_LOADS, record_options=lambda: RECORD_LOADS)
    resource = "Visit"
    list_title = _l("Home visit log")
    show_title = _l("Visit")
    add_title = _l("Record a visit")
    edit_title = _l("Edit visit")
    label_columns = VISIT_LABELS
    list_columns = [
        "visit_date", "visitor_names", "form", "grid", "visited_name", "target", "problems", "follow_up_date",
    ]  # fmt: skip
    order_columns = ["visit_date", "visited_name", "follow_up_date"]
    # the confidential fields are never searchable: a search would reveal them
    search_columns = ["visit_date", "visitors", "form", "grid", "target", "visited_name", "address", "follow_up_date"]
    add_columns = [
        "visit_date", "form", "visitors", "grid", "target", "visited_name", "visited_phone", "address",
        "family_size", "situation", "problems", "actions", "result", "follow_up_date", "follow_up_of",
    ]  # fmt: skip
    edit_columns = add_columns
    show_columns = [
        "visit_date", "form", "visitor_names", "grid", "target", "visited_name", "visited_phone", "address",
        "family_size", "situation", "problems", "actions", "result", "follow_up_date", "follow_up_of",
        "recorded_by", "created_at",
    ]  # fmt: skip
    description_columns = {
        "visitors": _l("Everyone who went: the visit counts for each of them."),
        "visited_name": _l("The household head, or the person met at a reception or interview."),
        "address": _l("Households are told apart by grid and address: write it the same way each time."),
        "family_size": _l("Leave empty if unknown."),
        "situation": _l("Confidential: shown only to the visitors, clerks and leaders."),
        "problems": _l("Confidential. A problem that needs handling can be raised as an appeal from the visit page."),
        "follow_up_date": _l("When to go back (定期回访); it then appears under Follow-ups due."),
        "follow_up_of": _l("For a return visit: the earlier visit it follows up."),
    }
    add_form_extra_fields = {
        "family_size": IntegerField(_l("Family size"), validators=[Optional()], widget=BS3TextFieldWidget())
    }
    edit_form_extra_fields = add_form_extra_fields
    base_order = ("visit_date", "desc")
    show_template = "minqing/visit_show.html"
    with_attachments = True
    extra_permissions = {"followups": "read"}

    def validate(self, item):
        # editability is checked before the form is shown or merged (edit / put_headless)
        visit_service.validate_visit(db.session, item, scope.current_user())

    def validate_delete(self, item):
        visit_service.check_visit_deletable(db.session, item, scope.current())

    def prefill_add_form(self, form):
        original_id = id_arg("follow_up_of")
        if original_id:
            original = self.get_in_scope(original_id)
            data = visit_service.follow_up_prefill(db.session, original, scope.current_user())
            if not privacy.can_see_visit_content(scope.current(), original):
                data.pop("visited_phone", None)
        else:
            me = db.session.scalar(
                select(Person).where(Person.user_id == scope.current_user().id, Person.active.is_(True))
            )
            data = {
                "visit_date": today(),
                "visitors": [me] if me is not None else [],
                "target": visit_service.default_target(db.session),
            }
        for key, value in data.items():
            field = getattr(form, key, None)
            if field is not None:
                field.data = value

    def _get_visit(self, pk):
        return self.get_in_scope(pk)

    @expose("/edit/<pk>", methods=["GET", "POST"])
    @has_access
    def edit(self, pk):
        visit = self._get_visit(pk)
        try:
            visit_service.check_visit_editable(scope.current(), visit)
        except DomainError as err:
            flash(str(err), "danger")
            return redirect(url_for(".show", pk=visit.id))
        return super().edit(pk)

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        visit = self._get_visit(pk)
        widgets = self.show_widgets(pk, visit)
        session = db.session
        return self.render_template(
            self.show_template,
            pk=pk,
            title=self.show_title,
            widgets=widgets,
            visit=visit,
            follow_ups=visit.follow_ups,
            appeals=visit_service.linked_appeals(session, visit),
            can_raise=self.appbuilder.sm.has_access("can_write", "Appeal"),
            can_see=privacy.can_see_visit_content(scope.current(), visit),
            can_write=self.appbuilder.sm.has_access("can_write", "Visit"),
            follow_up_done=bool(visit.follow_ups),
            today=today(),
            related_views=self._related_views,
        )

    @expose("/followups/")
    @has_access
    def followups(self):
        rows, counts = visit_service.follow_ups_due(db.session, scope.clause_for(Visit))
        return self.render_template(
            "minqing/visit_followups.html",
            title=_l("Follow-ups due"),
            rows=rows,
            counts=counts,
            days_ahead=current_app.config["VISIT_FOLLOW_UP_DAYS_AHEAD"],
            can_write=self.appbuilder.sm.has_access("can_write", "Visit"),
        )


class VisitApi(ScopedModelApi):
    list_title = _l("Home visit log")
    show_title = _l("Visit")
    add_title = _l("Visit")
    edit_title = _l("Visit")
    resource_name = "visit"
    resource = "Visit"
    label_columns = VISIT_LABELS
    datamodel = ScopedInterface(Visit)
    list_columns = [
        "id", "visit_date", "form.name", "grid.id", "grid.name", "target.name", "visitor_ids", "visitor_names",
        "visited_name", "visited_phone", "address", "family_size", "situation", "problems", "actions", "result",
        "follow_up_date", "follow_up_of.id",
    ]  # fmt: skip
    show_columns = list_columns
    add_columns = [
        "visit_date", "form", "visitors", "grid", "target", "visited_name", "visited_phone", "address",
        "family_size", "situation", "problems", "actions", "result", "follow_up_date", "follow_up_of",
    ]  # fmt: skip
    edit_columns = add_columns
    search_columns = ["visit_date", "visitors", "form", "grid", "target", "visited_name", "follow_up_date"]
    order_columns = ["visit_date", "visited_name", "follow_up_date"]

    def validate(self, item):
        # editability is checked before the form is shown or merged (edit / put_headless)
        visit_service.validate_visit(db.session, item, scope.current_user())

    def validate_delete(self, item):
        visit_service.check_visit_deletable(db.session, item, scope.current())

    def api_update(self, item):
        # refuse before the body is merged: a masked visit must not be overwritten blind
        try:
            visit_service.check_visit_editable(scope.current(), item)
        except DomainError as err:
            return self.refusal(refusal_for(err))
        return super().api_update(item)


# --------------------------------------------------------------------------
# Quota rules and progress
# --------------------------------------------------------------------------

QUOTA_LABELS = {
    "name": _l("Rule"),
    "kind": _l("Person kind"),
    "position_contains": _l("Position contains"),
    "period": _l("Period"),
    "unit": _l("Counted as"),
    "minimum": _l("Minimum"),
    "average_per_month": _l("On average per month"),
    "sort_order": _l("Sort order"),
    "active": _l("Active"),
    "note": _l("Note"),
    "kind.name": _l("Person kind"),
    "id": "ID",
}


def period_field():
    return SelectField(
        _l("Period"), choices=[(k, v) for k, v in quota_service.PERIOD_TITLES.items()], validators=[Optional()]
    )


def unit_field():
    return SelectField(
        _l("Counted as"), choices=[(k, v) for k, v in quota_service.UNIT_TITLES.items()], validators=[Optional()]
    )


def period_title(value):
    return str(quota_service.PERIOD_TITLES.get(value, value or ""))


def unit_title(value):
    return str(quota_service.UNIT_TITLES.get(value, value or ""))


def period_from_args(on):
    """The report's period from ?kind=week|month|quarter|year&year=&month=(&day= for a week)."""
    kind = request.args.get("kind", "month")
    base = quota_service.period_of(request.args.get("year", on.year), request.args.get("month", on.month))
    if kind in ("week", "quarter"):
        this_month = (base.year, base.month) == (on.year, on.month)
        day = id_arg("day") or (on.day if this_month else 1)
        return quota_service.period_for(kind, date(base.year, base.month, min(day, base.end.day)))
    if kind == "year":
        return quota_service.period_of(base.year)
    return base


def period_args(period):
    """The URL arguments naming `period` again (the links of the report)."""
    args = {"year": period.year, "month": period.month or 1, "kind": period.kind}
    if period.kind == "week":
        args["day"] = period.start.day
    return args


def scoped_quota_report(period, on, grid_id, **kw):
    """The quota report of the people the user may see (read from the replica when there is one)."""
    return quota_service.quota_report(
        reports_session(), period, scope.clause_for(Person), on=on, grid_id=grid_id,
        cache_key=scope.current().cache_key, **kw,
    )  # fmt: skip


class QuotaRuleView(ScopedModelView):
    datamodel = ScopedInterface(QuotaRule)
    resource = "QuotaRule"
    list_title = _l("Visit quota rules")
    show_title = _l("Visit quota rule")
    add_title = _l("Add visit quota rule")
    edit_title = _l("Edit visit quota rule")
    label_columns = QUOTA_LABELS
    list_columns = ["name", "kind", "position_contains", "period", "unit", "minimum", "average_per_month", "active"]
    search_columns = ["name", "kind", "period", "active"]
    add_columns = ["name", "kind", "position_contains", "period", "unit", "minimum", "average_per_month", "sort_order",
                   "active", "note"]  # fmt: skip
    edit_columns = add_columns
    show_columns = add_columns
    formatters_columns = {"period": period_title, "unit": unit_title}
    search_form_extra_fields = {"period": period_field()}
    add_form_extra_fields = {
        "period": period_field(),
        "unit": unit_field(),
        "minimum": IntegerField(_l("Minimum"), validators=[Optional()], widget=BS3TextFieldWidget()),
    }
    edit_form_extra_fields = add_form_extra_fields
    description_columns = {
        "kind": _l("The rule binds people of this kind (leave empty to match by position only)."),
        "position_contains": _l("Any of these words in the position, separated by 、 e.g. 书记、镇长、乡长."),
        "unit": _l("Visits: each visit counts. Households: distinct households (grid + address) visited."),
        "minimum": _l("At least this many in each period."),
        "average_per_month": _l(
            "平均每月: the minimum is per month, assessed over the whole quarter or year (1 a month = 3 a quarter)."
        ),
    }
    base_order = ("sort_order", "asc")
    extra_permissions = {"progress": "read"}

    def validate(self, item):
        quota_service.validate_quota_rule(db.session, item)

    @expose("/progress/")
    @has_access
    def progress(self):
        on = today()
        try:
            period = period_from_args(on)
        except DomainError as err:
            flash(str(err), "danger")
            period = quota_service.current_period("month", on)
        grid_id = id_arg("grid")
        grid = None
        if grid_id:
            grid = db.session.get(Grid, grid_id)
            if grid is None or not scope.visible(db.session, Grid, grid_id):
                abort(404)
        tab = request.args.get("tab", "grids" if not grid_id else "people")
        size = current_app.config["QUOTA_REPORT_MAX_ROWS"]
        page = max(1, id_arg("page") or 1)
        report = scoped_quota_report(period, on, grid_id, limit=size, offset=(page - 1) * size, people=tab == "people")
        roots = visit_rate.scope_roots(reports_session(), scope.current(), grid)
        return self.render_template(
            "minqing/quota_progress.html",
            title=_l("Visit quota progress"),
            period=period,
            period_args=period_args(period),
            visit_rates=visit_rate.visit_rates(reports_session(), period, roots),
            rows=report.rows,
            total_rows=report.total_rows,
            grids=report.grids,
            total_grids=report.total_grids,
            summary=report.summary,
            grid=grid,
            tab=tab,
            page=page,
            page_size=size,
            years=list(range(on.year, on.year - 6, -1)),
            visits_url=visits_url,
            unit_title=unit_title,
            period_title=period_title,
        )


class QuotaRuleApi(ScopedModelApi):
    list_title = _l("Visit quota rules")
    show_title = _l("Visit quota rule")
    add_title = _l("Visit quota rule")
    edit_title = _l("Visit quota rule")
    resource_name = "quotarule"
    resource = "QuotaRule"
    label_columns = QUOTA_LABELS
    datamodel = ScopedInterface(QuotaRule)
    list_columns = ["id", "name", "kind.name", "position_contains", "period", "unit", "minimum", "active"]
    show_columns = list_columns + ["note", "sort_order"]
    add_columns = ["name", "kind", "position_contains", "period", "unit", "minimum", "average_per_month", "sort_order",
                   "active", "note"]  # fmt: skip
    edit_columns = add_columns
    extra_permissions = {"progress": "read"}

    def validate(self, item):
        quota_service.validate_quota_rule(db.session, item)

    @api_expose("/progress", methods=["GET"])
    @protect()
    def progress(self):
        """Visit quota progress of the people in scope for a month (?year=&month=) or a year (?year=),
        or with ?kind=week|month|quarter|year the calendar week (?day=), month, quarter or year.
        ---
        get:
          parameters:
          - {in: query, name: year, schema: {type: integer}}
          - {in: query, name: month, schema: {type: integer}}
          - {in: query, name: kind, schema: {type: string, enum: [week, month, quarter, year]}}
          - {in: query, name: day, schema: {type: integer}, description: 'for a week: a day of it'}
          - {in: query, name: grid, schema: {type: integer}}
          - {in: query, name: limit, schema: {type: integer}, description: at most this many people and grid rows (default and maximum QUOTA_REPORT_MAX_ROWS)}
          responses:
            200:
              description: done / target / shortfall per person and rule, worst first, and per grid; totals before the limit
        """
        on = today()
        try:
            if request.args.get("kind"):
                period = period_from_args(on)
            else:
                period = quota_service.period_of(request.args.get("year", on.year), request.args.get("month"))
        except DomainError as err:
            return self.refusal(refusal_for(err))
        grid_id = id_arg("grid")
        cap = current_app.config["QUOTA_REPORT_MAX_ROWS"]
        limit = min(cap, max(1, id_arg("limit") or cap))
        report = scoped_quota_report(period, on, grid_id, limit=limit)
        return self.response(
            200,
            period={"kind": period.kind, "year": period.year, "month": period.month,
                    "start": period.start.isoformat(), "end": period.end.isoformat()},
            summary=report.summary,
            visit_rates=[
                {"grid_id": r.grid_id, "grid": r.name, "households": r.households, "visited": r.visited,
                 "rate": r.rate}
                for r in visit_rate.visit_rates(
                    reports_session(), period, visit_rate.scope_roots(reports_session(), scope.current())
                )
            ],
            total_people_rows=report.total_rows,
            total_grid_rows=report.total_grids,
            people=[
                {"person_id": r.person.id, "name": r.person.name, "grid_id": r.person.grid_id,
                 "grid": r.person.grid.name, "rule_id": r.rule.id, "rule": r.rule.name, "unit": r.rule.unit,
                 "done": r.done, "target": r.target, "shortfall": r.shortfall,
                 "expected_by_today": r.expected, "behind_pace": r.behind_pace}
                for r in report.rows
            ],
            grids=[
                {"grid_id": gp.grid.id, "grid": gp.grid.name, "rule_id": gp.rule.id, "rule": gp.rule.name,
                 "people": gp.people, "behind": gp.behind, "done": gp.done, "target": gp.target,
                 "shortfall": gp.shortfall}
                for gp in report.grids
            ],
        )  # fmt: skip
