"""回收站: deleted visits, contact records and removed photos and files, which an Admin can restore.

Nothing a user deletes in these lists is lost: deletion only hides it (and takes
it out of every count); the audit trail shows who deleted and who restored. Removed
photos and files may also be deleted for good (永久删除) to free the store's space.
"""

from flask import flash
from flask_appbuilder.actions import action
from flask_babel import lazy_gettext as _l

from app.core.uow import unit_of_work
from app.extensions import db
from app.models.attachments import Attachment
from app.models.representatives import ContactRecord
from app.models.visits import Visit
from app.services.attachment_bin import prepare_page, purge_attachments, restore_attachments
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
    "shown_name": _l("File name"),
    "record_text": _l("Record"),
    "size_text": _l("Size"),
    "uploaded_by_name": _l("Uploaded by"),
    "uploaded_at": _l("Uploaded at"),
}
FILES_RESTORED = _l("%(count)s photo(s) or file(s) put back on their records.")
FILES_PURGED = _l("%(count)s photo(s) or file(s) permanently deleted, with their stored files.")


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


class AttachmentTrashView(TrashView):
    """Photos and files removed from a record, or gone to the bin with it: back onto the
    record (when it is live), or deleted for good with their stored files."""

    datamodel = ScopedInterface(Attachment, prefetch=prepare_page)
    route_base = "/trash/attachments"
    list_title = _l("Removed photos and files")
    include_route_methods = {"list", "action", "action_post"}
    extra_permissions = {"restore": "restore", "purge": "purge"}
    list_columns = ["shown_name", "record_text", "size_text", "uploaded_by_name", "deleted_at", "deleted_by_name"]
    order_columns = ["deleted_at", "uploaded_at"]
    search_columns = ["deleted_at", "uploaded_at"]  # not the name: a visit's photo names are its content

    @action("restore", _l("Restore"), _l("Put the selected files back on their records?"), "fa-undo")
    def restore(self, items):
        items = items if isinstance(items, list) else [items]
        with unit_of_work() as work:
            restore_attachments(db.session, items)
        if not work.failed:
            flash(str(FILES_RESTORED % {"count": len(items)}), "success")
        return self.back_to_list()

    @action(
        "purge",
        _l("Delete permanently"),
        _l("Delete the selected files permanently? Their stored files are removed and cannot be restored."),
        "fa-times",
    )
    def purge(self, items):
        items = items if isinstance(items, list) else [items]
        with unit_of_work() as work:
            purge_attachments(db.session, items)
        if not work.failed:
            flash(str(FILES_PURGED % {"count": len(items)}), "success")
        return self.back_to_list()


# appeals are never deleted: a mistaken registration is marked a duplicate or archived
TRASH_VIEWS = (VisitTrashView, ContactTrashView, AttachmentTrashView)
