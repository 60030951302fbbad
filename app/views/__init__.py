"""Every view, API and menu, registered in one place."""

from flask import current_app
from flask_babel import lazy_gettext as _l

from app.views import extras
from app.views.appeals import AppealApi, AppealView
from app.views.assessments import (
    AssessmentInputView,
    AssessmentItemView,
    AssessmentRoundApi,
    AssessmentRoundView,
    AssessmentSchemeView,
)
from app.views.attachments import AttachmentView
from app.views.attachments import register as register_attachments
from app.views.attachments_api import AttachmentApi
from app.views.audit import AuditLogView
from app.views.dashboard import AccountabilityView, DashboardView
from app.views.grids import GridApi, GridView
from app.views.imports import ImportView
from app.views.jobs import JobView
from app.views.lookups import lookup_views
from app.views.mywork import MyWorkView
from app.views.personnel import AssignmentApi, AssignmentView, PersonApi, PersonView, PostApi, PostView
from app.views.pickers import PickerView
from app.views.registers import menu as register_menu
from app.views.registers.api import RegisterApi
from app.views.registers.designer import (
    ChoiceListView,
    ChoiceValueView,
    ExtraFieldsDefView,
    RegisterDefView,
    RegisterFieldView,
)
from app.views.registers.entries import RegisterEntryView, fill_register_code
from app.views.representatives import (
    ConstituencyApi,
    ConstituencyView,
    ContactRecordApi,
    ContactRecordView,
    RepresentativeApi,
    RepresentativeView,
)
from app.views.rotas import RotaApi, RotaKindView, RotaSlotApi, RotaSlotView, RotaView
from app.views.settings import SettingsView
from app.views.trash import TRASH_VIEWS
from app.views.visits import QuotaRuleApi, QuotaRuleView, VisitApi, VisitView


def tidy_security_menu(appbuilder):
    """安全 › 用户列表 and 角色列表 only: FAB's group screen and the separator FAB leaves go from
    the menu (the group view stays registered: FAB's user model has groups)."""
    security = appbuilder.menu.find("Security")
    if security is None:
        return
    security.label = _l("Security")
    security.childs = [item for item in security.childs if item.name not in ("List Groups", "-")]
    labels = {
        "List Users": _l("List Users"),
        "List Roles": _l("List Roles"),
        "User's Statistics": _l("Login statistics"),
    }
    for item in security.childs:
        item.label = labels.get(item.name, item.label)


def register_views(appbuilder):
    tidy_security_menu(appbuilder)
    appbuilder.add_view(MyWorkView, "My work", label=_l("My work"), icon="fa-tasks")
    appbuilder.menu.menu.insert(0, appbuilder.menu.menu.pop())  # first in the menu, before 安全
    appbuilder.add_view(DashboardView, "Dashboard", label=_l("Dashboard"), icon="fa-dashboard")
    grids = appbuilder.add_view(
        GridView, "Grids", label=_l("Grids"), icon="fa-sitemap",
        category="Grid management", category_label=_l("Grid management"), category_icon="fa-sitemap",
    )  # fmt: skip
    appbuilder.add_link(
        "Coverage check", label=_l("Coverage check"), href="GridView.coverage", icon="fa-check-square-o",
        category="Grid management", baseview=grids,
    )  # fmt: skip
    appbuilder.add_view(
        PersonView, "People", label=_l("People"), icon="fa-users",
        category="Personnel", category_label=_l("Personnel"), category_icon="fa-users",
    )  # fmt: skip
    appbuilder.add_view(
        AssignmentView, "Assignments", label=_l("Assignments"), icon="fa-id-badge", category="Personnel"
    )
    appbuilder.add_view(PostView, "Posts", label=_l("Posts and duties"), icon="fa-briefcase", category="Personnel")
    # links to a view's own pages carry the view: their menu item opens for whoever can read it
    visits = appbuilder.add_view(
        VisitView, "Visit log", label=_l("People's diary (visit log)"), icon="fa-home",
        category="Visits", category_label=_l("Visits"), category_icon="fa-home",
    )  # fmt: skip
    appbuilder.add_link(
        "Follow-ups due", label=_l("Follow-ups due"), href="VisitView.followups", icon="fa-calendar-check-o",
        category="Visits", baseview=visits,
    )  # fmt: skip
    quotas = appbuilder.add_view_no_menu(QuotaRuleView)
    appbuilder.add_link(
        "Visit quota progress", label=_l("Visit quota progress"), href="QuotaRuleView.progress", icon="fa-bar-chart",
        category="Visits", baseview=quotas,
    )  # fmt: skip
    appbuilder.add_link(
        "Visit quota rules", label=_l("Visit quota rules"), href="QuotaRuleView.list", icon="fa-sliders",
        category="Visits", baseview=quotas,
    )  # fmt: skip
    rotas = appbuilder.add_view(
        RotaView, "Rotas", label=_l("Rotas"), icon="fa-calendar",
        category="Rotas and notices", category_label=_l("Rotas and duty notices"), category_icon="fa-calendar",
    )  # fmt: skip
    appbuilder.add_view(
        RotaSlotView, "Duty slots", label=_l("Duty slots"), icon="fa-calendar-check-o", category="Rotas"
    )
    appbuilder.add_link(
        "Duty notice", label=_l("Duty notice"), href="RotaView.notice", icon="fa-print", category="Rotas and notices",
        baseview=rotas,
    )  # fmt: skip
    appbuilder.add_view(
        RotaKindView, "Rota kinds", label=_l("Rota kinds"), icon="fa-sliders", category="Rotas and notices"
    )
    reps = appbuilder.add_view(
        RepresentativeView, "Representatives", label=_l("Representatives"), icon="fa-user-circle",
        category="Representatives", category_label=_l("People's congress representatives"),
        category_icon="fa-university",
    )  # fmt: skip
    appbuilder.add_view(
        ContactRecordView, "Contacts with voters", label=_l("Contacts with voters"), icon="fa-comments",
        category="Representatives",
    )  # fmt: skip
    appbuilder.add_link(
        "Voter contact progress", label=_l("Voter contact progress"), href="RepresentativeView.progress",
        icon="fa-line-chart", category="Representatives", baseview=reps,
    )  # fmt: skip
    appbuilder.add_view(
        ConstituencyView, "Constituencies", label=_l("Constituencies"), icon="fa-map-o", category="Representatives"
    )
    appbuilder.add_view(
        AppealView, "Appeals", label=_l("Appeal list"), icon="fa-comments",
        category="Appeals", category_label=_l("Appeals"), category_icon="fa-comments",
    )  # fmt: skip
    appbuilder.add_link(
        "Overdue appeals", label=_l("Overdue appeals"), href="/appealview/list/?due=overdue",
        icon="fa-clock-o", category="Appeals",
    )  # fmt: skip
    appbuilder.menu.find("Overdue appeals").resource = "Appeal"  # menu shown to who may read appeals
    for view in lookup_views():
        model = view.datamodel.obj
        appbuilder.add_view(
            view, model.__name__, label=model.lookup_title, icon="fa-list",
            category="Lookup lists", category_label=_l("Lookup lists"), category_icon="fa-list",
        )  # fmt: skip
    appbuilder.add_view(
        AuditLogView, "Audit trail", label=_l("Audit trail"), icon="fa-history",
        category="Oversight", category_label=_l("Oversight"), category_icon="fa-eye",
    )  # fmt: skip
    appbuilder.add_view(
        AccountabilityView, "Accountability", label=_l("Accountability"), icon="fa-table", category="Oversight"
    )
    appbuilder.add_view(
        AssessmentRoundView, "Assessments", label=_l("Assessments"), icon="fa-trophy",
        category="Assessment", category_label=_l("Assessment (100 points)"), category_icon="fa-trophy",
    )  # fmt: skip
    appbuilder.add_view(
        AssessmentInputView, "Assessment entries", label=_l("Assessment entries"), icon="fa-pencil-square-o",
        category="Assessment",
    )  # fmt: skip
    appbuilder.add_view(
        AssessmentSchemeView, "Assessment schemes", label=_l("Assessment schemes"), icon="fa-list-ol",
        category="Assessment",
    )  # fmt: skip
    appbuilder.add_view(
        AssessmentItemView, "Assessment items", label=_l("Assessment items"), icon="fa-check-square-o",
        category="Assessment",
    )  # fmt: skip
    for trash in TRASH_VIEWS:
        appbuilder.add_view(
            trash, trash.__name__, label=trash.list_title, icon="fa-trash",
            category="Recycle bin", category_label=_l("Recycle bin"), category_icon="fa-trash",
        )  # fmt: skip
    appbuilder.add_view(
        ImportView, "Import from Excel", label=_l("Import from Excel"), icon="fa-upload",
        category="Lookup lists",
    )  # fmt: skip
    appbuilder.add_view(
        RegisterDefView, "Register design", label=_l("Register design"), icon="fa-wrench", category="Lookup lists"
    )
    appbuilder.add_view(
        ExtraFieldsDefView, "Extra fields", label=_l("Extra fields"), icon="fa-plus-square-o", category="Lookup lists"
    )
    appbuilder.add_view(
        ChoiceListView, "Choice lists", label=_l("Choice lists"), icon="fa-list-ul", category="Lookup lists"
    )
    appbuilder.add_view(
        SettingsView, "System settings", label=_l("System settings"), icon="fa-cogs", category="Lookup lists"
    )
    appbuilder.add_view_no_menu(RegisterFieldView)
    appbuilder.add_view_no_menu(ChoiceValueView)
    appbuilder.add_view_no_menu(PickerView)
    appbuilder.add_view_no_menu(JobView)
    appbuilder.add_view_no_menu(AttachmentView)
    register_attachments(current_app._get_current_object())  # the record pages' 照片/附件 panel
    appbuilder.add_view_no_menu(RegisterEntryView)
    current_app.url_defaults(fill_register_code)
    register_menu.bind(current_app._get_current_object())
    current_app.before_request(register_menu.refresh)
    extras.refresh()  # definitions built before the views existed: their extra fields now
    for api in (
        GridApi, PersonApi, PostApi, AssignmentApi, AppealApi, VisitApi, QuotaRuleApi, RepresentativeApi,
        ConstituencyApi, ContactRecordApi, RegisterApi, RotaApi, RotaSlotApi, AssessmentRoundApi, AttachmentApi,
    ):  # fmt: skip
        appbuilder.add_api(api)
