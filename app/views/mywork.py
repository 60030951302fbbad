"""我的工作 (/mywork/): each role's own work, each figure a link to the list it counts."""

from flask import url_for
from flask_appbuilder import BaseView
from flask_appbuilder.security.decorators import has_access
from flask_appbuilder.views import expose
from flask_babel import lazy_gettext as _l

from app.extensions import db
from app.services import mywork, scope

RESOURCE = "MyWork"

PART_TITLES = {
    "clerk": _l("Registration"),
    "grid_worker": _l("My grid"),
    "leader": _l("Supervision"),
    "representative": _l("My mandate"),
}
# figure -> (title, endpoint of its list, resource the user must read, icon)
FIGURES = {
    "filed": (_l("Registered by me"), "AppealView.list", "Appeal", "fa-pencil-square-o"),
    "unassigned": (_l("Waiting to be assigned"), "AppealView.list", "Appeal", "fa-inbox"),
    "mine": (_l("Assigned to me"), "AppealView.list", "Appeal", "fa-user"),
    "visits": (_l("My visits"), "VisitView.list", "Visit", "fa-home"),
    "followups": (_l("Follow-ups due"), "VisitView.followups", "Visit", "fa-calendar-check-o"),
    "supervised": (_l("Supervised"), "AppealView.list", "Appeal", "fa-eye"),
    "extension": (_l("Extensions to approve"), "AppealView.list", "Appeal", "fa-hourglass-half"),
    "overdue": (_l("Overdue appeals"), "AppealView.list", "Appeal", "fa-clock-o"),
    "unreported": (_l("Important opinions not yet reported"), "ContactRecordView.list", "ContactRecord", "fa-flag"),
}


def work_parts(sm, session, me):
    """[(part, title, [(key, title, count, url, icon, overdue)])] for the user's roles."""
    out = []
    for part in mywork.sections_for(me.roles):
        rows = []
        for figure in mywork.figures(session, part, me):
            title, endpoint, resource, icon = FIGURES[figure.key]
            if sm.has_access("can_read", resource):
                rows.append((figure.key, title, figure.count, url_for(endpoint, **figure.args), icon, figure.overdue))
        if rows or part == "representative":
            out.append((part, PART_TITLES[part], rows))
    return out


class MyWorkView(BaseView):
    route_base = "/mywork"
    default_view = "index"
    class_permission_name = RESOURCE
    method_permission_name = {"index": "read"}
    base_permissions = ["can_read"]

    @expose("/")
    @has_access
    def index(self):
        session = db.session
        me = scope.current()
        user = scope.current_user()
        return self.render_template(
            "minqing/mywork.html",
            title=_l("My work"),
            parts=work_parts(self.appbuilder.sm, session, me),
            reps=mywork.representative_figures(session, user) if user is not None else [],
            unreported=mywork.unreported_records(session) if "representative" in mywork.sections_for(me.roles) else [],
        )
