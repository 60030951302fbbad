"""回收站: deleted visits and contact records, which an Admin can restore.

Nothing a user deletes in these lists is lost: deletion only hides it (and takes
it out of every count); the audit trail shows who deleted and who restored.
"""

from flask import flash
from flask_appbuilder.actions import action
from flask_babel import lazy_gettext as _l

from app.core.uow import unit_of_work
from app.extensions import db
from app.models.representatives import ContactRecord
from app.models.visits import Visit
from app.services.records import restore_records
from app.views.fab_compat import set_base_filters
from app.views.scoped import ScopedInterface, ScopedModelView, scope_filters

TRASH_LABELS = {
    "visit_date": _l("Visit date"),
    "visited_name": _l("Household head / person visited"),
    "contact_date": _l("Date"),
    "representative": _l("Representative"),
    "place": _l("Place"),
    "grid": _l("Grid"),
    "deleted_at": _l("Deleted at"),
    "deleted_by_name": _l("Deleted by"),
}


class TrashView(ScopedModelView):
    """Deleted records of one model; the only action is to restore them."""

    resource = "Trash"
    label_columns = TRASH_LABELS
    base_order = ("deleted_at", "desc")
    include_route_methods = {"list", "show", "action", "action_post"}
    extra_permissions = {"restore": "restore"}

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # the recycle bin lists only what was deleted (the base view lists only what was not)
        set_base_filters(self, scope_filters(self.datamodel.obj, deleted_only=True))

    @action("restore", _l("Restore"), _l("Restore the selected records?"), "fa-undo")
    def restore(self, items):
        items = items if isinstance(items, list) else [items]
        with unit_of_work() as work:
            restore_records(db.session, items)
        if work.failed:
            return self.back_to_list()
        flash(str(_l("%(count)s record(s) restored.", count=len(items))), "success")
        return self.back_to_list()


class VisitTrashView(TrashView):
    datamodel = ScopedInterface(Visit)
    route_base = "/trash/visits"
    list_title = show_title = _l("Deleted visits")
    list_columns = ["visit_date", "visited_name", "grid", "deleted_at", "deleted_by_name"]
    show_columns = list_columns
    search_columns = ["visited_name", "visit_date", "deleted_at"]


class ContactTrashView(TrashView):
    datamodel = ScopedInterface(ContactRecord)
    route_base = "/trash/contacts"
    list_title = show_title = _l("Deleted contact records")
    list_columns = ["contact_date", "representative", "place", "deleted_at", "deleted_by_name"]
    show_columns = list_columns
    search_columns = ["place", "contact_date", "deleted_at"]


# appeals are never deleted: a mistaken registration is marked a duplicate or archived
TRASH_VIEWS = (VisitTrashView, ContactTrashView)
