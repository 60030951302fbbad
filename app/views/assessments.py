"""百分制考核 pages: the scheme and its items (Admin), the rounds with 计算 / 发布 and their
results (ranked tables, the points behind a score, Excel), and the assessor's entries."""

from __future__ import annotations

from urllib.parse import quote

from flask import Response, abort, flash, redirect, request, url_for
from flask_appbuilder.actions import action
from flask_appbuilder.api import expose as api_expose
from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
from flask_appbuilder.security.decorators import has_access, protect
from flask_appbuilder.views import expose
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from wtforms import IntegerField, SelectField
from wtforms.validators import Optional

from app.core.uow import unit_of_work
from app.extensions import db
from app.models.assessments import AssessmentInput, AssessmentItem, AssessmentRound, AssessmentScheme, AssessmentScore
from app.services import assessments as svc
from app.services import scope
from app.services.assessments import results as results_service
from app.services.assessments.scheme import scheme_total
from app.views.api import ScopedModelApi
from app.views.pickers import register_picker
from app.views.scoped import ScopedInterface, ScopedModelView

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
RESOURCE, SCHEME_RESOURCE = "Assessment", "AssessmentScheme"

LABELS = {
    "name": _l("Name"),
    "note": _l("Note"),
    "sort_order": _l("Sort order"),
    "scheme": _l("Assessment scheme"),
    "section": _l("Section"),
    "points": _l("Points"),
    "kind": _l("Scored by"),
    "subject": _l("Scores"),
    "source": _l("Figure"),
    "full_at": _l("Full points at (%)"),
    "zero_at": _l("No points at (%)"),
    "score_satisfied": _l("Score of a satisfied vote"),
    "score_basic": _l("Score of a fairly satisfied vote"),
    "score_unsatisfied": _l("Score of an unsatisfied vote"),
    "description": _l("Description"),
    "total_points": _l("Total points"),
    "grid": _l("Grid"),
    "team_level": _l("Level of the work teams"),
    "year": _l("Year"),
    "period": _l("Period"),
    "status": _l("Status"),
    "computed_at": _l("Computed at"),
    "published_at": _l("Published at"),
    "assessment": _l("Assessment"),
    "item": _l("Item"),
    "person": _l("Member"),
    "reason": _l("Reason"),
    "votes_satisfied": _l("Votes: satisfied"),
    "votes_basic": _l("Votes: fairly satisfied"),
    "votes_unsatisfied": _l("Votes: unsatisfied"),
    "created_at": _l("Created at"),
    "updated_at": _l("Updated at"),
}


def _title(table):
    return lambda value: str(table.get(value, value or ""))


def _select(label, table):
    return SelectField(label, choices=[(k, v) for k, v in table.items()], validators=[Optional()])


def round_labels(session, rounds):
    return {r.id: f"{r.grid.name} · {svc.period_title(r)} · {r.scheme.name}" for r in rounds}


register_picker(
    "assessment", AssessmentRound, resource=RESOURCE, search=[AssessmentRound.period], label=round_labels,
    order=[AssessmentRound.year.desc(), AssessmentRound.id.desc()],
)  # fmt: skip


class AssessmentSchemeView(ScopedModelView):
    datamodel = ScopedInterface(AssessmentScheme)
    resource = SCHEME_RESOURCE
    list_title = _l("Assessment schemes")
    show_title = _l("Assessment scheme")
    add_title = _l("Add assessment scheme")
    edit_title = _l("Edit assessment scheme")
    label_columns = LABELS
    list_columns = ["name", "note", "sort_order"]
    search_columns = ["name"]
    add_columns = ["name", "note", "sort_order"]
    edit_columns = add_columns
    show_columns = add_columns
    base_order = ("sort_order", "asc")
    description_columns = {"name": _l("The items of a scheme must total 100 points before a round is computed.")}

    def validate(self, item):
        svc.validate_scheme(db.session, item)

    def validate_delete(self, item):
        svc.check_scheme_deletable(db.session, item)

    def post_update(self, item):
        self._say_total(item)

    def _say_total(self, scheme):
        total = scheme_total(db.session, scheme.id)
        if float(total) != 100:
            flash(str(_l("The items now total %(total)s points, not 100.", total=f"{float(total):g}")), "warning")


class AssessmentItemView(ScopedModelView):
    datamodel = ScopedInterface(AssessmentItem)
    resource = SCHEME_RESOURCE
    list_title = _l("Assessment items")
    show_title = _l("Assessment item")
    add_title = _l("Add assessment item")
    edit_title = _l("Edit assessment item")
    label_columns = LABELS
    list_columns = ["scheme", "section", "name", "points", "kind", "subject", "source", "full_at", "zero_at"]
    search_columns = ["scheme", "name", "kind"]
    add_columns = [
        "scheme", "section", "name", "points", "kind", "subject", "source", "full_at", "zero_at",
        "score_satisfied", "score_basic", "score_unsatisfied", "description", "sort_order",
    ]  # fmt: skip
    edit_columns = add_columns
    show_columns = add_columns
    formatters_columns = {
        "kind": _title(svc.KINDS),
        "subject": _title(svc.SUBJECTS),
        "source": _title({k: s.title for k, s in svc.SOURCES.items()}),
    }
    add_form_extra_fields = {
        "kind": _select(_l("Scored by"), svc.KINDS),
        "subject": _select(_l("Scores"), svc.SUBJECTS),
        "source": SelectField(_l("Figure"), choices=[("", "—"), *svc.source_choices()], validators=[Optional()]),
    }
    edit_form_extra_fields = add_form_extra_fields
    description_columns = {
        "points": _l("The items of a scheme total 100 points."),
        "source": _l("Automatic items only. Rota attendance shows no data until rotas are kept in the system."),
        "full_at": _l("Automatic items: full points at or above this rate; a straight line down to the next value."),
        "zero_at": _l("Automatic items: no points at or below this rate."),
        "score_satisfied": _l("Public evaluation: 5, 4 and 3 by default, weighted by the share of the votes."),
    }
    base_order = ("sort_order", "asc")

    def validate(self, item):
        if item.source == "":
            item.source = None
        svc.validate_item(db.session, item)

    def validate_delete(self, item):
        svc.check_item_deletable(db.session, item)


class AssessmentRoundView(ScopedModelView):
    datamodel = ScopedInterface(AssessmentRound)
    resource = RESOURCE
    list_title = _l("Assessments")
    show_title = _l("Assessment results")
    add_title = _l("Add assessment")
    edit_title = _l("Edit assessment")
    label_columns = LABELS
    list_columns = ["grid", "year", "period", "scheme", "team_level", "status", "computed_at", "published_at"]
    search_columns = ["grid", "year", "period", "status"]
    add_columns = ["grid", "team_level", "year", "period", "scheme", "note"]
    edit_columns = add_columns
    show_columns = list_columns
    formatters_columns = {"period": _title(svc.PERIODS), "status": _title(svc.STATUSES)}
    add_form_extra_fields = {
        "period": _select(_l("Period"), svc.PERIODS),
        "year": IntegerField(_l("Year"), validators=[Optional()], widget=BS3TextFieldWidget()),
    }
    edit_form_extra_fields = add_form_extra_fields
    search_form_extra_fields = {
        "period": _select(_l("Period"), svc.PERIODS),
        "status": _select(_l("Status"), svc.STATUSES),
    }
    description_columns = {
        "grid": _l("The jurisdiction assessed (a township, a village ...)."),
        "team_level": _l("Its grids of this level are the work teams; a unit is the grid above them."),
    }
    base_order = ("year", "desc")
    show_template = "minqing/assessment_results.html"
    extra_permissions = {
        "compute": "compute",
        "publish": "publish",
        "breakdown": "read",
        "results_xlsx": "read",
    }

    def validate(self, item):
        svc.check_open(item)
        svc.validate_round(db.session, item)

    def validate_delete(self, item):
        svc.check_round_deletable(db.session, item)

    def pre_delete(self, item):
        super().pre_delete(item)
        svc.clear_results(db.session, item)

    @action("compute", _l("Compute"), _l("Compute the results of the selected assessments now?"), "fa-calculator")
    def compute(self, items):
        items = items if isinstance(items, list) else [items]
        with unit_of_work() as work:
            for item in items:
                svc.compute_round(db.session, item)
        if not work.failed:
            flash(str(_l("%(count)s assessment(s) computed.", count=len(items))), "success")
        return self._back(items)

    @action("publish", _l("Publish"), _l("Publish the selected results? They can no longer be changed."), "fa-bullhorn")
    def publish(self, items):
        items = items if isinstance(items, list) else [items]
        user = scope.current_user()
        with unit_of_work() as work:
            for item in items:
                svc.publish_round(db.session, item, user.id if user else None)
        if not work.failed:
            flash(str(_l("%(count)s assessment(s) published.", count=len(items))), "success")
        return self._back(items)

    def _back(self, items):
        if len(items) == 1:
            return redirect(url_for(f"{type(self).__name__}.show", pk=items[0].id))
        return self.back_to_list()

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        rnd = self.get_in_scope(pk)
        subject = request.args.get("subject", "team")
        if subject not in results_service.SUBJECT_TITLES:
            subject = "team"
        rows = results_service.ranked(db.session, rnd, subject)
        sm = self.appbuilder.sm
        return self.render_template(
            self.show_template,
            pk=pk,
            rnd=rnd,
            title=self.show_title,
            rows=rows,
            subject=subject,
            subjects=results_service.SUBJECT_TITLES,
            period_title=svc.period_title(rnd),
            status_title=svc.STATUSES.get(rnd.status, rnd.status),
            shown=results_service.shown,
            can_compute=sm.has_access("can_compute", RESOURCE) and rnd.status != svc.PUBLISHED,
            can_publish=sm.has_access("can_publish", RESOURCE) and rnd.status == svc.COMPUTED,
            can_write=sm.has_access("can_write", RESOURCE) and rnd.status != svc.PUBLISHED,
        )

    @expose("/breakdown/<int:score_id>")
    @has_access
    def breakdown(self, score_id):
        row = db.session.scalar(
            select(AssessmentScore).where(AssessmentScore.id == score_id, scope.clause_for(AssessmentScore))
        )
        if row is None or not scope.visible(db.session, AssessmentRound, row.round_id):
            abort(404)
        entries = results_service.entries_of(db.session, [row.id])[row.id]
        return self.render_template(
            "minqing/assessment_breakdown.html",
            row=row,
            rnd=row.assessment,
            entries=entries,
            period_title=svc.period_title(row.assessment),
            subjects=results_service.SUBJECT_TITLES,
            shown=results_service.shown,
            title=_l("Points behind the score"),
        )

    @expose("/results_xlsx/<int:pk>")
    @has_access
    def results_xlsx(self, pk):
        rnd = self.get_in_scope(pk)
        buffer = results_service.results_xlsx(db.session, rnd)
        name = quote(f"{_l('Assessment results')}-{rnd.grid.name}-{svc.period_title(rnd)}.xlsx")
        return Response(
            buffer.getvalue(),
            mimetype=XLSX_MIME,
            headers={"Content-Disposition": f"attachment; filename=assessment-{rnd.id}.xlsx; filename*=UTF-8''{name}"},
        )


class AssessmentInputView(ScopedModelView):
    datamodel = ScopedInterface(AssessmentInput)
    resource = RESOURCE
    list_title = _l("Assessment entries")
    show_title = _l("Assessment entry")
    add_title = _l("Add assessment entry")
    edit_title = _l("Edit assessment entry")
    label_columns = LABELS
    list_columns = ["assessment", "item", "grid", "person", "points", "votes_satisfied", "votes_basic",
                    "votes_unsatisfied", "reason"]  # fmt: skip
    search_columns = ["assessment", "item", "grid", "person"]
    add_columns = ["assessment", "item", "grid", "person", "points", "reason", "votes_satisfied", "votes_basic",
                   "votes_unsatisfied"]  # fmt: skip
    edit_columns = add_columns
    show_columns = add_columns
    formatters_columns = {"assessment": lambda r: f"{r.grid.name} · {svc.period_title(r)}" if r else ""}
    description_columns = {
        "item": _l("A manual item takes points and a reason; a public evaluation item takes the three vote counts."),
        "grid": _l("The work team (a grid of the assessment's team level)."),
        "person": _l("Only for items that score each member."),
    }
    base_order = ("id", "desc")

    def validate(self, item):
        svc.validate_input(db.session, item)

    def validate_delete(self, item):
        svc.check_open(item.assessment)


class AssessmentRoundApi(ScopedModelApi):
    """/api/v1/assessment: the rounds in scope; /<id>/results their stored scores (read only)."""

    list_title = _l("Assessments")
    show_title = _l("Assessment")
    add_title = _l("Assessment")
    edit_title = _l("Assessment")
    resource_name = "assessment"
    resource = RESOURCE
    label_columns = LABELS
    datamodel = ScopedInterface(AssessmentRound)
    list_columns = ["id", "grid.id", "grid.name", "year", "period", "scheme.id", "scheme.name", "team_level.name",
                    "status", "computed_at", "published_at"]  # fmt: skip
    show_columns = list_columns + ["note"]
    add_columns = ["grid", "team_level", "year", "period", "scheme", "note"]
    edit_columns = add_columns
    search_columns = ["grid", "year", "period", "status"]
    order_columns = ["year", "period", "status"]
    extra_permissions = {"results": "read"}

    def validate(self, item):
        svc.check_open(item)
        svc.validate_round(db.session, item)

    def validate_delete(self, item):
        svc.check_round_deletable(db.session, item)

    @api_expose("/<int:pk>/results", methods=["GET"])
    @protect()
    def results(self, pk):
        """The stored results of a round in the caller's scope (?subject=person|team|unit), best first,
        each with the points behind it.
        ---
        get:
          parameters:
          - {in: path, name: pk, required: true, schema: {type: integer}}
          - {in: query, name: subject, schema: {type: string, enum: [person, team, unit]}}
          responses:
            200:
              description: rank, name, grid, score and the items' points (null where there is no data)
            404:
              description: no such round in the caller's scope
        """
        rnd = db.session.scalar(
            select(AssessmentRound).where(AssessmentRound.id == pk, scope.clause_for(AssessmentRound))
        )
        if rnd is None:
            return self.response_404()
        subject = request.args.get("subject", "team")
        if subject not in results_service.SUBJECT_TITLES:
            return self.response_400(message=str(_l("Choose person, team or unit.")))
        rows = results_service.ranked(db.session, rnd, subject)
        entries = results_service.entries_of(db.session, [r.id for r in rows])
        return self.response(
            200,
            status=rnd.status,
            subject=subject,
            result=[
                {
                    "rank": r.rank, "name": r.name, "grid_id": r.grid_id, "person_id": r.person_id, "score": r.score,
                    "items": [{"name": e.name, "max_points": e.max_points, "points": e.points, "detail": e.detail}
                              for e in entries[r.id]],
                }
                for r in rows
            ],
        )  # fmt: skip
