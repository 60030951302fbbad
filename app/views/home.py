"""The home page: who I am, what my jurisdiction is, and what needs attention."""

from flask import g, redirect, url_for
from flask_appbuilder import IndexView
from flask_appbuilder.views import expose
from sqlalchemy import func, select

from app.extensions import db
from app.models.appeals import AppealRollup
from app.models.grids import Grid
from app.models.personnel import Assignment, Person
from app.models.visits import Visit
from app.roles import REPRESENTATIVE
from app.services import appeals as appeal_service
from app.services import grids as grid_service
from app.services import mywork, scope
from app.services import personnel as personnel_service
from app.services import quotas as quota_service
from app.services import visits as visit_service


class HomeView(IndexView):
    index_template = "minqing/home.html"

    @expose("/")
    def index(self):
        user = g.user if g.user is not None and g.user.is_authenticated else None
        if user is None:
            return redirect(url_for(self.appbuilder.sm.auth_view.__class__.__name__ + ".login"))
        if self.appbuilder.sm.has_access("can_read", "Dashboard"):
            return redirect(url_for("DashboardView.index"))  # leaders and the administrator start there
        session = db.session
        my_scope = scope.current()
        roots = []
        if not my_scope.all and my_scope.paths:
            root_ids = [int(p.strip("/").split("/")[-1]) for p in my_scope.paths]
            roots = session.scalars(select(Grid).where(Grid.id.in_(root_ids)).order_by(Grid.path)).all()
        counts = {
            "grids": session.scalar(select(func.count()).select_from(Grid).where(scope.clause_for(Grid))),
            "people": session.scalar(
                select(func.count()).select_from(Person).where(scope.clause_for(Person), Person.active.is_(True))
            ),
            "assignments": session.scalar(
                select(func.count())
                .select_from(Assignment)
                .where(scope.clause_for(Assignment), grid_service.current_assignment_clause())
            ),
        }
        coverage = None
        is_rep = REPRESENTATIVE in my_scope.roles
        if self.appbuilder.sm.has_access("can_read", "Grid") and not my_scope.empty and not is_rep:
            coverage = grid_service.coverage_report(session, scope.clause_for(Grid), limit=5)
        sm = self.appbuilder.sm
        person = personnel_service.linked_person(session, user)
        todo = {}
        if sm.has_access("can_read", "Appeal") and not my_scope.empty:
            where = appeal_service.cells_now_in(my_scope)
            cells = appeal_service.open_cells_in(my_scope)
            todo["appeals"] = appeal_service.attention_counts(session, where, cells=cells)
            todo["appeals"]["mine"] = (
                int(
                    session.scalar(
                        select(appeal_service.cell_sum(AppealRollup.handler_person_id == person.id))
                        .select_from(AppealRollup)
                        .join(appeal_service.NOW_GRID, appeal_service.NOW_GRID.id == AppealRollup.grid_id)
                        .where(where, appeal_service.cell_running(), AppealRollup.handler_person_id == person.id)
                    )
                )
                if person is not None
                else 0
            )
        if sm.has_access("can_read", "Visit") and not my_scope.empty:
            todo["followups"] = visit_service.follow_up_counts(session, scope.clause_for(Visit), key=my_scope.cache_key)
        if person is not None and sm.has_access("can_read", "QuotaRule"):
            period = quota_service.current_period("month")
            year = quota_service.current_period("year")
            todo["quota"] = [row for p in (period, year) for row in quota_service.own_progress(session, p, person)]
        # a representative's home: their own progress toward the yearly contacts and what to report
        return self.render_template(
            self.index_template,
            is_rep=is_rep,
            reps=mywork.representative_figures(session, user) if is_rep else [],
            unreported=mywork.unreported_records(session) if is_rep else [],
            todo=todo,
            appbuilder=self.appbuilder,
            person=person,
            scope=my_scope,
            roots=roots,
            counts=counts,
            coverage=coverage,
        )
