"""Photos and files (照片/附件): served, added and removed only through these routes.

Every route finds the attachment through the scope filter (another grid's is a 404), then its
record in the user's scope, then asks the record's own permission (read to see, write to add
or remove) and, for a visit, whether the user reads its content. The bytes go out with the
type recognised at upload, `nosniff` and a private cache. The forms of visits, appeals and
contact records take files too (`AttachmentsField`, saved by ScopedModelView.save_form).
"""

from __future__ import annotations

from urllib.parse import quote

from flask import Response, abort, current_app, flash, redirect, request
from flask_appbuilder.views import expose
from flask_babel import lazy_gettext as _l

from app.core.errors import DomainError
from app.core.storage import storage
from app.core.uow import unit_of_work
from app.extensions import db
from app.models.attachments import Attachment
from app.services import attachments as attachment_service
from app.services import scope
from app.services.attachments import FIELD, MB, owner_kind
from app.views.edge import parse_id
from app.views.scoped import ScopedInterface, ScopedModelView, uploader

ATTACHMENT_LABELS = {
    "original_name": _l("File name"),
    "content_type": _l("File type"),
    "size": _l("Size"),
    "uploaded_by_name": _l("Uploaded by"),
    "uploaded_at": _l("Uploaded at"),
    FIELD: _l("Photos and files"),
    # what the audit trail calls the other columns (app.views.audit reads a model's labels here)
    "owner_type": _l("Kind of record"),
    "owner_id": _l("Record"),
    "field_code": _l("Field"),
    "grid_id": _l("Grid"),
    "stored_name": _l("Stored as"),
    "sha256": _l("SHA-256 checksum"),
    "has_thumbnail": _l("Thumbnail"),
    "uploaded_by": _l("Uploaded by"),
}
ADDED = _l("%(n)s photo(s) or file(s) added.")
REMOVED = _l("The file was moved to the recycle bin with who removed it.")
NOTHING_CHOSEN = _l("Choose at least one photo or file.")


def file_response(data, attachment, download=False, content_type=None):
    kind = content_type or attachment.content_type
    disposition = "attachment" if download else "inline"
    response = Response(data, mimetype=kind)
    response.headers["Content-Disposition"] = f"{disposition}; filename*=UTF-8''{quote(attachment.original_name)}"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


class AttachmentView(ScopedModelView):
    """No list, form or page of its own: the record's page shows its files."""

    datamodel = ScopedInterface(Attachment)
    route_base = "/attachments"
    resource = "Attachment"
    include_route_methods = {"file", "thumb", "upload", "remove"}
    label_columns = ATTACHMENT_LABELS
    list_columns = show_columns = ["original_name", "content_type", "size", "uploaded_by_name", "uploaded_at"]

    def _owner(self, attachment):
        try:
            return attachment_service.load_owner(db.session, attachment.owner_type, attachment.owner_id)
        except DomainError:
            abort(404)

    def _readable(self, pk):
        if scope.current_user() is None:
            abort(404)
        attachment = self.get_in_scope(pk)
        owner = self._owner(attachment)
        if not self.appbuilder.sm.has_access("can_read", owner_kind(attachment.owner_type).resource):
            abort(403)
        if not attachment_service.may_read(scope.current(), owner, attachment.field_code):
            abort(403)
        return attachment

    @expose("/file/<pk>")
    def file(self, pk):
        attachment = self._readable(pk)
        data = storage().read(attachment.stored_name)
        if data is None:
            abort(404)
        return file_response(data, attachment, download=request.args.get("download") == "1")

    @expose("/thumb/<pk>")
    def thumb(self, pk):
        attachment = self._readable(pk)
        if not attachment.has_thumbnail:
            abort(404)
        data = storage().read(attachment_service.thumbnail_name(attachment.stored_name))
        if data is None:
            abort(404)
        return file_response(data, attachment, content_type="image/jpeg")

    @expose("/upload/<owner_type>/<owner_id>", methods=["POST"])
    def upload(self, owner_type, owner_id):
        user = scope.current_user()
        kind = owner_kind(owner_type)
        if user is None or kind is None:
            abort(404)
        try:
            item = attachment_service.load_owner(db.session, owner_type, parse_id(owner_id))
        except DomainError:
            abort(404)
        back = kind.url(item.id)
        files = [f for f in request.files.getlist(FIELD) if f and f.filename]
        if not files:
            flash(str(NOTHING_CHOSEN), "warning")
            return redirect(back)
        has_write = self.appbuilder.sm.has_access("can_write", kind.resource)
        added = []
        field_code = request.form.get("field") or None  # a register entry: the 照片/附件 field
        with unit_of_work() as work:
            attachment_service.check_may_change(scope.current(), item, has_write, field_code)
            uploads = attachment_service.check_new_files(item, files, field_code)
            added = attachment_service.add_attachments(db.session, item, uploads, *uploader(), field_code=field_code)
        if work.failed and work.refusal.status == 403:
            abort(403)
        if not work.failed:
            flash(str(ADDED % {"n": len(added)}), "success")
        return redirect(back)

    @expose("/remove/<pk>", methods=["POST"])
    def remove(self, pk):
        user = scope.current_user()
        if user is None:
            abort(404)
        attachment = self.get_in_scope(pk)
        item = self._owner(attachment)
        kind = owner_kind(attachment.owner_type)
        has_write = self.appbuilder.sm.has_access("can_write", kind.resource)
        with unit_of_work() as work:
            attachment_service.check_may_change(scope.current(), item, has_write, attachment.field_code)
            attachment_service.remove_attachment(db.session, attachment, user.id)
        if work.failed and work.refusal.status == 403:
            abort(403)
        if not work.failed:
            flash(str(REMOVED), "success")
        return redirect(kind.url(item.id))


def attachment_panel(item):
    """What a record's page shows of its files (a Jinja global: the show templates call it)."""
    owner = attachment_service.owner_of(item)
    if owner is None or getattr(item, "id", None) is None:
        return None
    current = scope.current()
    sm = current_app.appbuilder.sm
    readable = sm.has_access("can_read", owner.resource) and attachment_service.may_read(current, item)
    can_change = True
    try:
        attachment_service.check_may_change(current, item, sm.has_access("can_write", owner.resource))
    except DomainError:
        can_change = False
    items = attachment_service.attachments_of(db.session, item) if readable else []
    return {
        "owner": owner.code,
        "owner_id": item.id,
        "readable": readable,
        "can_change": can_change and readable,
        "items": items,
        "field": FIELD,
        "max_mb": current_app.config["ATTACHMENT_MAX_MB"],
        "max_files": current_app.config["ATTACHMENT_MAX_FILES"],
        "accept": attachment_service.accept_attribute(),
    }


UPLOAD_ENDPOINTS = {"AttachmentView.upload", "VisitView.add", "VisitView.edit", "AppealView.add",
                    "AppealView.edit", "ContactRecordView.add", "ContactRecordView.edit", "AttachmentApi.upload",
                    "RegisterEntryView.add", "RegisterEntryView.edit"}  # fmt: skip


def widen_upload_limit():
    """The forms that take photos may carry ATTACHMENT_MAX_FILES files of ATTACHMENT_MAX_MB (and
    the form itself) where other requests stay under MAX_CONTENT_LENGTH. First of the request's
    hooks: the CSRF check reads the body."""
    if request.method == "POST" and request.endpoint in UPLOAD_ENDPOINTS:
        config = current_app.config
        limit = int(config["ATTACHMENT_MAX_MB"]) * int(config["ATTACHMENT_MAX_FILES"]) * MB + MB
        request.max_content_length = max(limit, config.get("MAX_CONTENT_LENGTH") or 0)


def register(app):
    app.jinja_env.globals["attachment_panel"] = attachment_panel
    app.before_request_funcs.setdefault(None, []).insert(0, widen_upload_limit)
