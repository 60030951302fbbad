"""Representatives (人大代表), constituencies, contact records, progress and the record book."""

from urllib.parse import quote

from flask import Response, abort, current_app, g, redirect, request, url_for
from flask_appbuilder.api import expose as api_expose
from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.security.decorators import has_access, protect
from flask_appbuilder.views import expose
from flask_babel import lazy_gettext as _l
from wtforms import IntegerField, SelectField
from wtforms.validators import Optional

from app.core.clock import now, today
from app.core.errors import DomainError
from app.core.replica import reports_session
from app.core.uow import refusal_for
from app.extensions import db
from app.models.representatives import Constituency, ContactRecord, Representative
from app.services import representatives as rep_service
from app.services import scope
from app.views.api import ScopedModelApi
from app.views.edge import id_arg
from app.views.fab_compat import filters_plus, get_in_scope
from app.views.pickers import register_picker
from app.views.scoped import ScopedInterface, ScopedModelView

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def level_title(value):
    return str(rep_service.LEVEL_TITLES.get(value, value or ""))


def level_field():
    return SelectField(
        _l("Level"), choices=[(k, v) for k, v in rep_service.LEVEL_TITLES.items()], validators=[Optional()]
    )


def rep_labels(session, reps):
    return {
        r.id: f"{r.person.name}（{level_title(r.level)} · {r.constituency.name} · {r.term}）"
        for r in reps
    }  # fmt: skip


register_picker(
    "representative",
    Representative,
    resource="Representative",
    search=[Representative.person_name],
    label=rep_labels,
    order=[Representative.person_name, Representative.id],
)
register_picker(
    "constituency",
    Constituency,
    resource="Representative",
    search=[Constituency.name],
    label=lambda session, items: {c.id: f"{c.name} · {c.grid.name}" for c in items},
    order=[Constituency.name, Constituency.id],
)


def year_arg():
    return rep_service.check_year(request.args.get("year", today().year))


# --------------------------------------------------------------------------
# Constituencies
# --------------------------------------------------------------------------

CONSTITUENCY_LABELS = {
    "name": _l("Constituency"),
    "grid": _l("Belongs to"),
    "grids": _l("Grids covered"),
    "grid_names": _l("Grids covered"),
    "note": _l("Note"),
    "grid.id": _l("Belongs to"),
    "grid.name": _l("Belongs to"),
    "grid_ids": _l("Grids covered"),
    "id": "ID",
}


class ConstituencyView(ScopedModelView):
    datamodel = ScopedInterface(Constituency)
    resource = "Representative"
    list_title = _l("Constituencies")
    show_title = _l("Constituency")
    add_title = _l("Add constituency")
    edit_title = _l("Edit constituency")
    label_columns = CONSTITUENCY_LABELS
    list_columns = ["name", "grid", "grid_names"]
    order_columns = ["name"]
    search_columns = ["name", "grid"]
    add_columns = ["name", "grids", "note"]
    edit_columns = add_columns
    show_columns = ["name", "grid", "grid_names", "note"]
    description_columns = {
        "grids": _l("The villages, communities or groups whose voters elect here."),
        "grid": _l("The lowest grid containing all grids covered: who may see the constituency."),
    }
    base_order = ("name", "asc")

    def validate(self, item):
        rep_service.validate_constituency(db.session, item)

    def validate_delete(self, item):
        rep_service.check_constituency_deletable(db.session, item)


class ConstituencyApi(ScopedModelApi):
    list_title = _l("Constituencies")
    show_title = _l("Constituency")
    add_title = _l("Constituency")
    edit_title = _l("Constituency")
    resource_name = "constituency"
    resource = "Representative"
    label_columns = CONSTITUENCY_LABELS
    datamodel = ScopedInterface(Constituency)
    list_columns = ["id", "name", "grid.id", "grid.name", "grid_ids", "grid_names"]
    show_columns = list_columns + ["note"]
    add_columns = ["name", "grids", "note"]
    edit_columns = add_columns

    def validate(self, item):
        rep_service.validate_constituency(db.session, item)

    def validate_delete(self, item):
        rep_service.check_constituency_deletable(db.session, item)


# --------------------------------------------------------------------------
# Representatives
# --------------------------------------------------------------------------

REP_LABELS = {
    "person": _l("Representative"),
    "name": _l("Representative"),
    "level": _l("Level"),
    "constituency": _l("Constituency"),
    "term_start": _l("Term from (year)"),
    "term_end": _l("Term to (year)"),
    "term": _l("Term"),
    "active": _l("In office"),
    "note": _l("Note"),
    "person.id": _l("Person"),
    "person.name": _l("Representative"),
    "constituency.id": _l("Constituency"),
    "constituency.name": _l("Constituency"),
    "id": "ID",
}


class RepresentativeView(ScopedModelView):
    datamodel = ScopedInterface(Representative)
    resource = "Representative"
    list_title = _l("Representatives")
    show_title = _l("Representative")
    add_title = _l("Add representative")
    edit_title = _l("Edit representative")
    label_columns = REP_LABELS
    list_columns = ["person", "level", "constituency", "term", "active"]
    order_columns = ["term_start"]
    search_columns = ["person", "level", "constituency", "term_start", "active"]
    add_columns = ["person", "level", "constituency", "term_start", "term_end", "active", "note"]
    edit_columns = add_columns
    show_columns = ["person", "level", "constituency", "term", "active", "note"]
    formatters_columns = {"level": level_title}
    search_form_extra_fields = {"level": level_field()}
    add_form_extra_fields = {
        "level": level_field(),
        "term_start": IntegerField(_l("Term from (year)"), validators=[Optional()], widget=BS3TextFieldWidget()),
        "term_end": IntegerField(_l("Term to (year)"), validators=[Optional()], widget=BS3TextFieldWidget()),
    }
    edit_form_extra_fields = add_form_extra_fields
    description_columns = {"person": _l("Register the representative as a person first (人员).")}
    base_order = ("term_start", "desc")
    show_template = "minqing/representative_show.html"
    extra_permissions = {"progress": "read", "record_book": "read", "record_book_xlsx": "read"}

    def validate(self, item):
        rep_service.validate_representative(db.session, item)

    def validate_delete(self, item):
        rep_service.check_representative_deletable(db.session, item)

    def _get_rep(self, pk):
        return self.get_in_scope(pk)

    def _year(self):
        try:
            return year_arg()
        except DomainError:
            abort(400)

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        rep = self._get_rep(pk)
        year = self._year()
        widgets = self.show_widgets(pk, rep)
        book = rep_service.record_book(db.session, rep, year)
        return self.render_template(
            self.show_template,
            pk=pk,
            title=self.show_title,
            widgets=widgets,
            rep=rep,
            year=year,
            years=list(range(min(today().year, rep.term_end), rep.term_start - 1, -1)),
            progress=rep_service.progress(db.session, rep, year),
            book=book,
            report_status=rep_service.report_status,
            report_titles=rep_service.REPORT_TITLES,
            related_views=self._related_views,
        )

    @expose("/progress/")
    @has_access
    def progress(self):
        year = self._year()
        clause = scope.clause_for(Representative)
        size = current_app.config["REPRESENTATIVE_REPORT_MAX_ROWS"]
        page = max(1, id_arg("page") or 1)
        reports = reports_session()  # a read replica when configured
        key = scope.current().cache_key
        rows = rep_service.progress_overview(reports, year, clause, limit=size, offset=(page - 1) * size, cache_key=key)
        rollup = rep_service.progress_rollup(reports, year, clause, cache_key=key)
        # the same records the rows' 未及时报告 counts: that year's, of the representatives shown
        overdue = rep_service.overdue_reports_in(reports, year, clause)
        return self.render_template(
            "minqing/representative_progress.html",
            title=_l("Voter contact progress"),
            year=year,
            years=list(range(today().year, today().year - 6, -1)),
            rows=rows,
            total_rows=rollup.representatives,
            rollup=rollup,
            page=page,
            page_size=size,
            overdue=overdue,
            report_days=current_app.config["REPRESENTATIVE_REPORT_DAYS"],
            level_title=level_title,
        )

    @expose("/record_book/<int:pk>")
    @has_access
    def record_book(self, pk):
        rep = self._get_rep(pk)
        book = rep_service.record_book(db.session, rep, self._year())
        return self.render_template(
            "minqing/print/record_book.html", book=book, rep=rep, level_title=level_title, printed_at=now()
        )

    @expose("/record_book_xlsx/<int:pk>")
    @has_access
    def record_book_xlsx(self, pk):
        rep = self._get_rep(pk)
        book = rep_service.record_book(db.session, rep, self._year())
        ascii_name = f"record-book-{rep.id}-{book['year']}.xlsx"
        # browsers show the Chinese name (RFC 6266 filename*), older clients the ASCII one
        local_name = quote(f"{_l('Record book of contacts with voters')}-{rep.display_name}-{book['year']}.xlsx")
        return Response(
            rep_service.record_book_xlsx(book),
            mimetype=XLSX_MIME,
            headers={"Content-Disposition": f"attachment; filename={ascii_name}; filename*=UTF-8''{local_name}"},
        )


class RepresentativeApi(ScopedModelApi):
    list_title = _l("Representatives")
    show_title = _l("Representative")
    add_title = _l("Representative")
    edit_title = _l("Representative")
    resource_name = "representative"
    resource = "Representative"
    label_columns = REP_LABELS
    datamodel = ScopedInterface(Representative)
    list_columns = [
        "id", "person.id", "person.name", "level", "constituency.id", "constituency.name", "term_start", "term_end",
        "active",
    ]  # fmt: skip
    show_columns = list_columns + ["note"]
    add_columns = ["person", "level", "constituency", "term_start", "term_end", "active", "note"]
    edit_columns = add_columns
    search_columns = ["person", "level", "constituency", "active"]
    order_columns = ["term_start"]
    extra_permissions = {"progress": "read"}

    def validate(self, item):
        rep_service.validate_representative(db.session, item)

    def validate_delete(self, item):
        rep_service.check_representative_deletable(db.session, item)

    @api_expose("/<int:pk>/progress", methods=["GET"])
    @protect()
    def progress(self, pk):
        """Person-times met in a year against the yearly target.
        ---
        get:
          parameters:
          - {in: path, name: pk, schema: {type: integer}}
          - {in: query, name: year, schema: {type: integer}}
          responses:
            200:
              description: '{"target": 40, "done": 12, "records": 1, ...}'
            404:
              description: not found or outside the user's scope
        """
        rep = get_in_scope(self, pk)
        if rep is None:
            return self.response_404()
        try:
            year = year_arg()
        except DomainError as err:
            return self.refusal(refusal_for(err))
        return self.response(200, **rep_service.progress(db.session, rep, year).as_dict())


# --------------------------------------------------------------------------
# Contact records
# --------------------------------------------------------------------------

CONTACT_LABELS = {
    "representative": _l("Representative"),
    "contact_date": _l("Date"),
    "place": _l("Place"),
    "form": _l("Form"),
    "voter_count": _l("Voters met (person-times)"),
    "voter_names": _l("Voters"),
    "opinions": _l("Opinions and suggestions"),
    "replies": _l("Replies"),
    "important": _l("Important"),
    "reported_to": _l("Reported to"),
    "reported_at": _l("Reported on"),
    "report_status": _l("Report"),
    "recorded_by": _l("Recorded by"),
    "created_at": _l("Created at"),
    "representative.id": _l("Representative"),
    "representative_name": _l("Representative"),
    "form.name": _l("Form"),
    "id": "ID",
}


def recipients():
    return [("", "—")] + [(name, name) for name in current_app.config["CONTACT_REPORT_RECIPIENTS"]]


def reported_to_field():
    return SelectField(_l("Reported to"), choices=recipients, validators=[Optional()], validate_choice=False)


class UnreportedFilter(BaseFilter):
    """?unreported=1 on the list: the important opinions not yet reported (我的工作 links here)."""

    name = "unreported"
    arg_name = None

    def apply(self, query, value):
        return query.filter(rep_service.unreported_clause())


class ContactRecordView(ScopedModelView):
    datamodel = ScopedInterface(ContactRecord)
    resource = "ContactRecord"
    list_title = _l("Contacts with voters")
    show_title = _l("Contact with voters")
    add_title = _l("Record a contact with voters")
    edit_title = _l("Edit contact with voters")
    label_columns = CONTACT_LABELS
    list_columns = ["contact_date", "representative", "form", "place", "voter_count", "important", "report_status"]
    order_columns = ["contact_date", "voter_count"]
    search_columns = ["representative", "contact_date", "form", "place", "important"]
    add_columns = [
        "representative", "contact_date", "place", "form", "voter_count", "voter_names", "opinions", "replies",
        "important", "reported_to", "reported_at",
    ]  # fmt: skip
    edit_columns = add_columns
    show_columns = add_columns + ["report_status", "recorded_by", "created_at"]
    add_form_extra_fields = {
        "voter_count": IntegerField(
            _l("Voters met (person-times)"), validators=[Optional()], widget=BS3TextFieldWidget()
        ),
        "reported_to": reported_to_field(),
    }
    edit_form_extra_fields = add_form_extra_fields
    description_columns = {
        "voter_count": _l("Person-times: a forum with 12 voters counts 12."),
        "voter_names": _l("Optional, separated by 、"),
        "important": _l("Important opinions are reported promptly to the 人大主席 or 副主席."),
    }
    base_order = ("contact_date", "desc")
    show_template = "minqing/contact_show.html"
    with_attachments = True

    def validate(self, item):
        rep_service.validate_contact(db.session, item, scope.current_user())

    def validate_delete(self, item):
        rep_service.check_contact_deletable(db.session, item)

    def list_filters(self, filters):
        if request.args.get("unreported") == "1":
            return filters_plus(filters, [(UnreportedFilter("id", self.datamodel), "1")])
        return filters

    def post_add(self, item):
        g.mq_saved_contact = item.id
        super().post_add(item)

    def post_add_redirect(self):
        """A saved contact record lands on itself (not on whatever page the form was opened from)."""
        saved = g.pop("mq_saved_contact", None)
        if saved is None:
            return super().post_add_redirect()
        return redirect(url_for("ContactRecordView.show", pk=saved))

    def prefill_add_form(self, form):
        form.contact_date.data = today()
        rep_id = id_arg("representative")
        rep = None
        if rep_id:
            rep = db.session.get(Representative, rep_id)
            if rep is None or not scope.visible(db.session, Representative, rep_id):
                abort(404)
        else:
            own = rep_service.own_representatives(db.session, scope.current_user())
            rep = own[0] if len(own) == 1 else None
        if rep is not None:
            form.representative.data = rep

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        record = self.get_in_scope(pk)
        widgets = self.show_widgets(pk, record)
        return self.render_template(
            self.show_template,
            pk=pk,
            title=self.show_title,
            widgets=widgets,
            record=record,
            appeals=rep_service.linked_appeals(db.session, record),
            can_raise=self.appbuilder.sm.has_access("can_write", "Appeal"),
            can_write=self.appbuilder.sm.has_access("can_write", "ContactRecord"),
            related_views=self._related_views,
        )


class ContactRecordApi(ScopedModelApi):
    list_title = _l("Contacts with voters")
    show_title = _l("Contact with voters")
    add_title = _l("Contact with voters")
    edit_title = _l("Contact with voters")
    resource_name = "contactrecord"
    resource = "ContactRecord"
    label_columns = CONTACT_LABELS
    datamodel = ScopedInterface(ContactRecord)
    list_columns = [
        "id", "representative.id", "representative_name", "contact_date", "place", "form.name", "voter_count",
        "voter_names", "opinions", "replies", "important", "reported_to", "reported_at",
    ]  # fmt: skip
    show_columns = list_columns
    add_columns = [
        "representative", "contact_date", "place", "form", "voter_count", "voter_names", "opinions", "replies",
        "important", "reported_to", "reported_at",
    ]  # fmt: skip
    edit_columns = add_columns
    search_columns = ["representative", "contact_date", "form", "important"]
    order_columns = ["contact_date", "voter_count"]

    def validate(self, item):
        rep_service.validate_contact(db.session, item, scope.current_user())

    def validate_delete(self, item):
        rep_service.check_contact_deletable(db.session, item)
