"""Rotas with public notice (值班轮值): kinds, rotas, their slots, the month calendar and the 公示."""

import datetime as dt

from flask import abort, flash, redirect, request, url_for
from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
from flask_appbuilder.security.decorators import has_access
from flask_appbuilder.views import expose
from flask_babel import lazy_gettext as _l
from wtforms import IntegerField, SelectField, StringField
from wtforms.validators import Length, Optional

from app.core.clock import now, today
from app.core.uow import unit_of_work
from app.extensions import db
from app.models.grids import Grid
from app.models.personnel import Person
from app.models.representatives import ContactRecord
from app.models.rotas import Rota, RotaKind, RotaSlot
from app.services import rotas as rota_service
from app.services import scope, visit_rate
from app.services.privacy import Reader
from app.views.api import ScopedModelApi
from app.views.edge import id_arg
from app.views.pickers import register_picker
from app.views.scoped import ScopedInterface, ScopedModelView, yes_no

KIND_LABELS = {
    "code": _l("Code"),
    "name": _l("Rota kind"),
    "description": _l("Description"),
    "weekdays": _l("Weekdays"),
    "hours": _l("Time"),
    "minimum_per_month": _l("Openings held a month (at least)"),
    "collective_per_month": _l("Collective receptions a month (at least)"),
    "minimum_per_week": _l("Openings held a week (at least)"),
    "every_slot": _l("Every scheduled day held"),
    "sort_order": _l("Sort order"),
    "active": _l("Active"),
}

ROTA_LABELS = {
    "grid": _l("Grid"),
    "kind": _l("Rota kind"),
    "name": _l("Rota"),
    "weekdays": _l("Weekdays"),
    "start_date": _l("First day"),
    "end_date": _l("Last day"),
    "hours": _l("Time"),
    "place": _l("Place"),
    "duty": _l("Responsible for"),
    "members": _l("On duty in turn"),
    "member_names": _l("On duty in turn"),
    "active": _l("Active"),
    "grid.id": _l("Grid"),
    "grid.name": _l("Grid"),
    "kind.name": _l("Rota kind"),
    "id": "ID",
}

SLOT_LABELS = {
    "rota": _l("Rota"),
    "grid": _l("Grid"),
    "slot_date": _l("Day"),
    "hours": _l("Time"),
    "person": _l("On duty"),
    "person_name": _l("On duty"),
    "phone": _l("Contact phone"),
    "duty": _l("Responsible for"),
    "collective": _l("Collective reception"),
    "held": _l("Held"),
    "outcome": _l("What came of it"),
    "appeals": _l("Appeals raised"),
    "visits": _l("Visits"),
    "contacts": _l("Contacts with voters"),
    "generated": _l("Generated from the rule"),
    "edited": _l("Edited by hand"),
    "rota.id": _l("Rota"),
    "rota.name": _l("Rota"),
    "grid.name": _l("Grid"),
    "person.id": _l("On duty"),
    "person.name": _l("On duty"),
    "id": "ID",
}
STATE_TITLES = {"met": _l("Minimum met"), "missed": _l("Minimum missed"), "open": _l("Month still running")}


def rota_labels(session, rotas):
    return {r.id: f"{r.name} · {r.grid.name}" for r in rotas}


def contact_labels(session, records):
    return {r.id: f"{r.contact_date} · {r.place or ''}" for r in records}


register_picker("rota", Rota, resource="Rota", search=[Rota.name], label=rota_labels, order=[Rota.name, Rota.id])
register_picker(
    "contact", ContactRecord, resource="ContactRecord", search=[ContactRecord.place], label=contact_labels,
    order=[ContactRecord.contact_date.desc(), ContactRecord.id.desc()],
)  # fmt: skip


def held_title(value):
    if value is None:
        return str(_l("Not recorded"))
    return yes_no(value)


def held_field():
    return SelectField(
        _l("Held"),
        choices=[("", _l("Not recorded")), ("1", _l("Yes")), ("0", _l("No"))],
        coerce=lambda v: None if v in (None, "", "None") else v in (True, "1", "True"),
        validators=[Optional()],
    )


def month_arg(on):
    """?month=YYYY-MM (default: this month) as (year, month); a bad value is a 400."""
    raw = request.args.get("month", "")
    if not raw:
        return on.year, on.month
    try:
        year, month = (int(part) for part in raw.split("-"))
        dt.date(year, month, 1)
    except (TypeError, ValueError):
        abort(400)
    if not 2000 <= year <= 2100:
        abort(400)
    return year, month


def shifted(year, month, by):
    index = year * 12 + month - 1 + by
    return f"{index // 12}-{index % 12 + 1:02d}"


class RotaKindView(ScopedModelView):
    datamodel = ScopedInterface(RotaKind)
    resource = "Lookup"  # the minimums are the administrator's, like the other lists
    list_title = show_title = add_title = edit_title = _l("Rota kinds")
    label_columns = KIND_LABELS
    list_columns = ["name", "weekdays", "hours", "minimum_per_month", "collective_per_month", "minimum_per_week",
                    "every_slot", "active"]  # fmt: skip
    add_columns = ["name", "description", "weekdays", "hours", "minimum_per_month", "collective_per_month",
                   "minimum_per_week", "every_slot", "sort_order", "active"]  # fmt: skip
    edit_columns = add_columns
    show_columns = ["code"] + add_columns
    search_columns = ["name", "active"]
    base_order = ("sort_order", "asc")
    add_form_extra_fields = {
        column: IntegerField(KIND_LABELS[column], validators=[Optional()], widget=BS3TextFieldWidget())
        for column in ("minimum_per_month", "collective_per_month", "minimum_per_week")
    }
    edit_form_extra_fields = add_form_extra_fields
    description_columns = {
        "weekdays": _l("Default weekdays of a new rota: 1 (Monday) to 7 (Sunday), e.g. 1,2,3,4,5."),
        "minimum_per_month": _l("Checked beside the calendar; empty: no minimum."),
        "every_slot": _l("Each scheduled day must be held (a leader receives visitors every working day)."),
    }

    def validate(self, item):
        rota_service.validate_kind(db.session, item)


class RotaView(ScopedModelView):
    datamodel = ScopedInterface(Rota)
    resource = "Rota"
    list_title = _l("Rotas")
    show_title = _l("Rota")
    add_title = _l("Add rota")
    edit_title = _l("Edit rota")
    label_columns = ROTA_LABELS
    list_columns = ["name", "kind", "grid", "weekdays", "hours", "member_names", "start_date", "end_date"]
    search_columns = ["name", "kind", "grid", "start_date", "active"]
    order_columns = ["name", "start_date", "end_date"]
    add_columns = ["grid", "kind", "name", "weekdays", "start_date", "end_date", "hours", "place", "duty", "members",
                   "active"]  # fmt: skip
    edit_columns = add_columns
    show_columns = ["name", "kind", "grid", "weekdays", "start_date", "end_date", "hours", "place", "duty",
                    "member_names", "active"]  # fmt: skip
    description_columns = {
        "name": _l("Empty: the kind's name."),
        "weekdays": _l("1 (Monday) to 7 (Sunday), e.g. 3 for every Wednesday; empty: the kind's."),
        "members": _l("The people who take turns, in the order chosen; new members join at the end."),
        "duty": _l("What the person on duty is responsible for (printed on the notice)."),
    }
    base_order = ("start_date", "desc")
    formatters_columns = {"weekdays": rota_service.weekday_names}
    add_form_extra_fields = {  # empty: the kind's (the service fills them in)
        "name": StringField(_l("Rota"), validators=[Optional(), Length(max=100)], widget=BS3TextFieldWidget()),
        "weekdays": StringField(_l("Weekdays"), validators=[Optional(), Length(max=20)], widget=BS3TextFieldWidget()),
    }
    edit_form_extra_fields = add_form_extra_fields
    extra_permissions = {"calendar": "read", "notice": "read", "generate": "write"}

    def validate(self, item):
        rota_service.validate_rota(db.session, item)

    def prefill_add_form(self, form):
        mine = scope.own_grid(db.session, scope.current())
        if mine is not None and getattr(form, "grid", None) is not None:
            form.grid.data = mine
        form.start_date.data = today().replace(day=1)

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        return redirect(url_for(".calendar", pk=self.get_in_scope(pk).id))

    @expose("/calendar/<int:pk>")
    @has_access
    def calendar(self, pk):
        rota = self.get_in_scope(pk)
        on = today()
        year, month = month_arg(on)
        return self.render_template(
            "minqing/rota_calendar.html",
            title=rota.name,
            rota=rota,
            year=year,
            month=month,
            weeks=rota_service.month_calendar(db.session, rota, year, month),
            check=rota_service.month_check(db.session, rota, year, month, on),
            state_titles=STATE_TITLES,
            weekday_titles=rota_service.WEEKDAY_TITLES,
            previous=shifted(year, month, -1),
            following=shifted(year, month, 1),
            today=on,
            can_write=self.appbuilder.sm.has_access("can_write", "Rota"),
            widgets=self.show_widgets(pk, rota),
        )

    @expose("/generate/<int:pk>", methods=["POST"])
    @has_access
    def generate(self, pk):
        rota = self.get_in_scope(pk)
        result = None
        with unit_of_work() as work:
            scope.check_writable(db.session, rota)
            result = rota_service.generate_slots(db.session, rota)
        if not work.failed:
            flash(
                str(_l("Slots generated: %(created)s new, %(updated)s updated, %(removed)s removed, %(kept)s kept.",
                       created=result.created, updated=result.updated, removed=result.removed, kept=result.kept)),
                "success",
            )  # fmt: skip
        return redirect(url_for(".calendar", pk=rota.id, month=request.form.get("month") or None))

    @expose("/notice/")
    @has_access
    def notice(self):
        """The printable 公示 of a grid's rotas for a month (?grid=, ?month=YYYY-MM)."""
        me = scope.current()
        grid_id = id_arg("grid")
        grid = db.session.get(Grid, grid_id) if grid_id else scope.own_grid(db.session, me)
        if grid is None and not grid_id:  # no grid of one's own (the Admin): the top of the jurisdiction
            grid = next(iter(visit_rate.scope_roots(db.session, me)), None)
            if grid is None:  # no grid at all yet (a new install): say so where grids are added
                flash(
                    _l("There is no grid yet: add the grid tree first, then its duty notice can be printed."), "warning"
                )
                return redirect(url_for("GridView.list"))
        if grid is None or not scope.visible(db.session, Grid, grid.id):
            abort(404)
        on = today()
        year, month = month_arg(on)
        start, end = rota_service.month_bounds(year, month)
        sections = rota_service.notice(db.session, grid, start, end, scope.clause_for(Rota))
        reader = Reader()
        phones = {}
        for _rota, slots in sections:
            for slot in slots:
                if slot.phone:
                    phones[slot.id] = reader.show(RotaSlot, "phone", slot.phone, item=slot)
                elif slot.person is not None and slot.person.phone:
                    phones[slot.id] = reader.show(Person, "phone", slot.person.phone, item=slot.person)
        return self.render_template(
            "minqing/print/rota_notice.html",
            grid=grid,
            sections=sections,
            phones=phones,
            year=year,
            month=month,
            weekday_titles=rota_service.WEEKDAY_TITLES,
            printed_at=now(),
        )


class RotaSlotView(ScopedModelView):
    datamodel = ScopedInterface(RotaSlot)
    resource = "Rota"
    list_title = _l("Duty slots")
    show_title = _l("Duty slot")
    add_title = _l("Add duty slot")
    edit_title = _l("Record duty slot")
    label_columns = SLOT_LABELS
    list_columns = ["slot_date", "rota", "grid", "hours", "person", "phone", "collective", "held", "outcome"]
    search_columns = ["slot_date", "rota", "grid", "person", "held", "collective"]
    order_columns = ["slot_date"]
    add_columns = ["rota", "slot_date", "hours", "person", "phone", "duty", "collective", "held", "outcome",
                   "appeals", "visits", "contacts"]  # fmt: skip
    edit_columns = add_columns
    show_columns = ["rota", "grid", "slot_date", "hours", "person", "phone", "duty", "collective", "held", "outcome",
                    "appeals", "visits", "contacts", "generated", "edited"]  # fmt: skip
    formatters_columns = {"held": held_title}
    add_form_extra_fields = {"held": held_field()}
    edit_form_extra_fields = add_form_extra_fields
    description_columns = {
        "phone": _l("Another number for the notice (a studio's duty phone); empty: the person's own phone."),
        "held": _l("Whether the duty took place; leave it unrecorded until the day."),
        "outcome": _l("Who came, what was raised and what was done."),
        "collective": _l("A collective reception (两代表工作室: at least one a month)."),
    }
    base_order = ("slot_date", "asc")

    def validate(self, item):
        rota_service.validate_slot(db.session, item)


class RotaApi(ScopedModelApi):
    list_title = show_title = add_title = edit_title = _l("Rotas")
    resource_name = "rota"
    resource = "Rota"
    label_columns = ROTA_LABELS
    datamodel = ScopedInterface(Rota)
    list_columns = ["id", "name", "kind.name", "grid.id", "grid.name", "weekdays", "start_date", "end_date", "hours",
                    "place", "duty", "member_names", "active"]  # fmt: skip
    show_columns = list_columns
    add_columns = ["grid", "kind", "name", "weekdays", "start_date", "end_date", "hours", "place", "duty", "members",
                   "active"]  # fmt: skip
    edit_columns = add_columns
    search_columns = ["name", "kind", "grid", "start_date", "active"]
    order_columns = ["name", "start_date"]

    def validate(self, item):
        rota_service.validate_rota(db.session, item)


class RotaSlotApi(ScopedModelApi):
    list_title = show_title = add_title = edit_title = _l("Duty slots")
    resource_name = "rotaslot"
    resource = "Rota"
    label_columns = SLOT_LABELS
    datamodel = ScopedInterface(RotaSlot)
    list_columns = ["id", "rota.id", "rota.name", "grid.name", "slot_date", "hours", "person.id", "person.name",
                    "phone", "duty", "collective", "held", "outcome"]  # fmt: skip
    show_columns = list_columns
    add_columns = ["rota", "slot_date", "hours", "person", "phone", "duty", "collective", "held", "outcome"]
    edit_columns = add_columns
    search_columns = ["slot_date", "rota", "person", "held"]
    order_columns = ["slot_date"]

    def validate(self, item):
        rota_service.validate_slot(db.session, item)
