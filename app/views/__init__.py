"""Every view, API and menu, registered in one place."""

from flask_babel import lazy_gettext as _l

from app.views.appeals import AppealApi, AppealView
from app.views.grids import GridApi, GridView
from app.views.lookups import lookup_views
from app.views.personnel import AssignmentApi, AssignmentView, PersonApi, PersonView, PostApi, PostView
from app.views.pickers import PickerView


def register_views(appbuilder):
    appbuilder.add_view(
        GridView, "Grids", label=_l("Grids"), icon="fa-sitemap",
        category="Grid management", category_label=_l("Grid management"), category_icon="fa-sitemap",
    )  # fmt: skip
    appbuilder.add_link(
        "Coverage check", label=_l("Coverage check"), href="/grid/coverage/", icon="fa-check-square-o",
        category="Grid management",
    )  # fmt: skip
    appbuilder.add_view(
        PersonView, "People", label=_l("People"), icon="fa-users",
        category="Personnel", category_label=_l("Personnel"), category_icon="fa-users",
    )  # fmt: skip
    appbuilder.add_view(
        AssignmentView, "Assignments", label=_l("Assignments"), icon="fa-id-badge", category="Personnel"
    )
    appbuilder.add_view(PostView, "Posts", label=_l("Posts and duties"), icon="fa-briefcase", category="Personnel")
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
    appbuilder.add_view_no_menu(PickerView)
    for api in (GridApi, PersonApi, PostApi, AssignmentApi, AppealApi):
        appbuilder.add_api(api)
