"""`/api/v1/attachments/`: the photos and files (照片/附件) of every kind of record — visits,
appeals, contact records and register entries — as a REST resource.

The same rules as the pages (app.views.attachments): the login or Bearer token of every API;
the record found through the user's scope (another grid's record or file: 404); the record's
own permission (can_read to list and fetch, can_write to upload and delete) and, for a visit,
whether the user reads its content (403); the same checks and limits on upload, every problem
at once (400); delete is soft (the recycle bin). Each upload and delete is one unit of work,
audited by the trail as the pages' are.
"""

from __future__ import annotations

import functools

from flask import current_app, request
from flask_appbuilder.api import BaseApi, expose
from flask_babel import lazy_gettext as _l
from flask_jwt_extended import verify_jwt_in_request
from flask_jwt_extended.exceptions import JWTExtendedException
from flask_login import current_user
from jwt.exceptions import PyJWTError
from sqlalchemy import select

from app.core.errors import DomainError
from app.core.storage import storage
from app.core.uow import unit_of_work
from app.extensions import db
from app.models.attachments import Attachment
from app.services import attachments as attachment_service
from app.services import scope
from app.views.attachments import file_response
from app.views.edge import parse_id
from app.views.scoped import uploader

NO_FILES = _l("Send the files as multipart/form-data under the name “files”.")
OWNER_ARGS = _l("Give the kind of record (owner: visit, appeal, contact or reg_<register>) and its id (owner_id).")
FILE_PARTS = ("files", attachment_service.FIELD)  # the name clients send files under (the forms' too)

ATTACHMENT_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "owner": {"type": "string", "description": "visit, appeal, contact or reg_<register code>"},
        "owner_id": {"type": "integer"},
        "field": {"type": "string", "nullable": True, "description": "a register entry's 照片/附件 field"},
        "name": {"type": "string"},
        "content_type": {"type": "string"},
        "size": {"type": "integer"},
        "sha256": {"type": "string"},
        "is_image": {"type": "boolean"},
        "uploaded_by": {"type": "string"},
        "uploaded_at": {"type": "string", "format": "date-time"},
        "file_url": {"type": "string"},
        "thumbnail_url": {"type": "string", "nullable": True},
    },
}


def signed_in(fn):
    """The browser's login or a Bearer token (as every API here), else 401."""

    @functools.wraps(fn)
    def wrapper(self, *args, **kwargs):
        if not current_user.is_authenticated:
            try:
                verify_jwt_in_request()
            except (JWTExtendedException, PyJWTError):
                return self.response_401()
        if scope.current_user() is None:
            return self.response_401()
        return fn(self, *args, **kwargs)

    return wrapper


def as_json(attachment):
    base = "/api/v1/attachments"
    return {
        "id": attachment.id,
        "owner": attachment.owner_type,
        "owner_id": attachment.owner_id,
        "field": attachment.field_code,
        "name": attachment.original_name,
        "content_type": attachment.content_type,
        "size": attachment.size,
        "sha256": attachment.sha256,
        "is_image": attachment.is_image,
        "uploaded_by": attachment.uploaded_by_name,
        "uploaded_at": attachment.uploaded_at.isoformat(sep=" ") if attachment.uploaded_at else None,
        "file_url": f"{base}/{attachment.id}/file",
        "thumbnail_url": f"{base}/{attachment.id}/thumbnail" if attachment.has_thumbnail else None,
    }


class AttachmentApi(BaseApi):
    """Photos and files of visits, appeals, contact records and register entries."""

    resource_name = "attachments"
    allow_browser_login = True
    openapi_spec_tag = "Attachments"
    openapi_spec_component_schemas = ()

    def add_apispec_components(self, api_spec):
        super().add_apispec_components(api_spec)
        if "Attachment" not in api_spec.components.schemas:
            api_spec.components.schema("Attachment", ATTACHMENT_SCHEMA)

    # -- finding things through the scope ------------------------------------

    def _owner(self, kind_code, owner_id, permission):
        """(kind, record) in scope with the kind's `permission`, or (None, the answer)."""
        kind = attachment_service.owner_kind(kind_code or "")
        if kind is None or parse_id(owner_id) is None:
            return None, self.response_404()
        try:
            item = attachment_service.load_owner(db.session, kind.code, parse_id(owner_id))
        except DomainError:
            return None, self.response_404()
        if not current_app.appbuilder.sm.has_access(permission, kind.resource):
            return None, self.response_403()
        return (kind, item), None

    def _attachment(self, pk, permission="can_read"):
        """(attachment, record) the user may reach, or (None, the answer)."""
        attachment = db.session.scalar(
            select(Attachment).where(Attachment.id == pk, scope.clause_for(Attachment))
        )  # fmt: skip
        if attachment is None:
            return None, self.response_404()
        found, refused = self._owner(attachment.owner_type, attachment.owner_id, permission)
        if refused is not None:
            return None, refused
        item = found[1]
        if not attachment_service.may_read(scope.current(), item, attachment.field_code):
            return None, self.response_403()
        return (attachment, item), None

    # -- the routes ------------------------------------------------------------

    @expose("/", methods=["GET"])
    @signed_in
    def get_list(self):
        """The files of one record.
        ---
        get:
          summary: The photos and files of a record
          parameters:
          - {in: query, name: owner, required: true, schema: {type: string}, description: "visit, appeal, contact or reg_<register>"}
          - {in: query, name: owner_id, required: true, schema: {type: integer}}
          - {in: query, name: field, schema: {type: string}, description: "a register entry's 照片/附件 field only"}
          responses:
            200:
              description: the record's live files, oldest first
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      count: {type: integer}
                      result: {type: array, items: {$ref: '#/components/schemas/Attachment'}}
            400:
              $ref: '#/components/responses/400'
            401:
              $ref: '#/components/responses/401'
            403:
              $ref: '#/components/responses/403'
            404:
              $ref: '#/components/responses/404'
        """
        if not request.args.get("owner") or parse_id(request.args.get("owner_id")) is None:
            return self.response_400(message=str(OWNER_ARGS))
        found, refused = self._owner(request.args["owner"], request.args["owner_id"], "can_read")
        if refused is not None:
            return refused
        kind, item = found
        query = select(Attachment).where(
            Attachment.owner_type == kind.code, Attachment.owner_id == item.id, scope.clause_for(Attachment)
        )
        if request.args.get("field"):
            query = query.where(Attachment.field_code == request.args["field"])
        current = scope.current()
        rows = [
            a for a in db.session.scalars(query.order_by(Attachment.uploaded_at, Attachment.id))
            if attachment_service.may_read(current, item, a.field_code)
        ]  # fmt: skip
        return self.response(200, count=len(rows), result=[as_json(a) for a in rows])

    @expose("/<owner>/<int:owner_id>", methods=["POST"])
    @signed_in
    def upload(self, owner, owner_id):
        """Add files to a record.
        ---
        post:
          summary: Upload photos or files to a record
          description: >-
            The same checks and limits as the forms (kinds recognised by content, ATTACHMENT_MAX_MB,
            ATTACHMENT_MAX_FILES; a register field's own kinds and most files). Every problem at once:
            400 with `errors` by field. Nothing is stored unless every file passes.
          parameters:
          - {in: path, name: owner, required: true, schema: {type: string}, description: "visit, appeal, contact or reg_<register>"}
          - {in: path, name: owner_id, required: true, schema: {type: integer}}
          requestBody:
            required: true
            content:
              multipart/form-data:
                schema:
                  type: object
                  properties:
                    files: {type: array, items: {type: string, format: binary}}
                    field: {type: string, description: "a register entry: the 照片/附件 field"}
          responses:
            201:
              description: the stored files
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      result: {type: array, items: {$ref: '#/components/schemas/Attachment'}}
            400:
              $ref: '#/components/responses/400'
            401:
              $ref: '#/components/responses/401'
            403:
              $ref: '#/components/responses/403'
            404:
              $ref: '#/components/responses/404'
            413:
              description: the request is larger than the files allowed at once
        """
        found, refused = self._owner(owner, owner_id, "can_write")
        if refused is not None:
            return refused
        _kind, item = found
        files = [f for name in FILE_PARTS for f in request.files.getlist(name) if f and f.filename]
        if not files:
            return self.response_400(message=str(NO_FILES))
        field_code = request.form.get("field") or None
        added = []
        with unit_of_work(api=True) as work:
            attachment_service.check_may_change(scope.current(), item, True, field_code)
            uploads = attachment_service.check_new_files(item, files, field_code)
            added = attachment_service.add_attachments(db.session, item, uploads, *uploader(), field_code=field_code)
        if work.failed:
            refusal = work.refusal
            status = refusal.status if refusal.status in (403, 404) else 400
            return self.response(status, **refusal.body())
        return self.response(201, result=[as_json(a) for a in added])

    @expose("/<int:pk>", methods=["GET"])
    @signed_in
    def get(self, pk):
        """One file's description.
        ---
        get:
          summary: A file's description and addresses
          parameters:
          - {in: path, name: pk, required: true, schema: {type: integer}}
          responses:
            200:
              description: the file
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      result: {$ref: '#/components/schemas/Attachment'}
            401:
              $ref: '#/components/responses/401'
            403:
              $ref: '#/components/responses/403'
            404:
              $ref: '#/components/responses/404'
        """
        found, refused = self._attachment(pk)
        if refused is not None:
            return refused
        return self.response(200, result=as_json(found[0]))

    @expose("/<int:pk>/file", methods=["GET"])
    @signed_in
    def file(self, pk):
        """The file itself.
        ---
        get:
          summary: Download a file
          parameters:
          - {in: path, name: pk, required: true, schema: {type: integer}}
          - {in: query, name: download, schema: {type: integer, enum: [0, 1]}, description: "1: as a download"}
          responses:
            200:
              description: the bytes, with the type recognised at upload
            401:
              $ref: '#/components/responses/401'
            403:
              $ref: '#/components/responses/403'
            404:
              $ref: '#/components/responses/404'
        """
        found, refused = self._attachment(pk)
        if refused is not None:
            return refused
        attachment = found[0]
        data = storage().read(attachment.stored_name)
        if data is None:
            return self.response_404()
        return file_response(data, attachment, download=request.args.get("download") == "1")

    @expose("/<int:pk>/thumbnail", methods=["GET"])
    @signed_in
    def thumbnail(self, pk):
        """A photo's thumbnail.
        ---
        get:
          summary: A photo's thumbnail (JPEG, at most 320 pixels)
          parameters:
          - {in: path, name: pk, required: true, schema: {type: integer}}
          responses:
            200:
              description: image/jpeg
            401:
              $ref: '#/components/responses/401'
            403:
              $ref: '#/components/responses/403'
            404:
              $ref: '#/components/responses/404'
        """
        found, refused = self._attachment(pk)
        if refused is not None:
            return refused
        attachment = found[0]
        data = storage().read(attachment_service.thumbnail_name(attachment.stored_name))
        if not attachment.has_thumbnail or data is None:
            return self.response_404()
        return file_response(data, attachment, content_type="image/jpeg")

    @expose("/<int:pk>", methods=["DELETE"])
    @signed_in
    def delete(self, pk):
        """Remove a file (to the recycle bin).
        ---
        delete:
          summary: Remove a file (soft delete, to the recycle bin, with who removed it)
          parameters:
          - {in: path, name: pk, required: true, schema: {type: integer}}
          responses:
            200:
              description: removed
            400:
              $ref: '#/components/responses/400'
            401:
              $ref: '#/components/responses/401'
            403:
              $ref: '#/components/responses/403'
            404:
              $ref: '#/components/responses/404'
        """
        found, refused = self._attachment(pk, "can_write")
        if refused is not None:
            return refused
        attachment, item = found
        with unit_of_work(api=True) as work:
            attachment_service.check_may_change(scope.current(), item, True, attachment.field_code)
            attachment_service.remove_attachment(db.session, attachment, scope.current_user().id)
        if work.failed:
            refusal = work.refusal
            status = refusal.status if refusal.status in (403, 404) else 400
            return self.response(status, **refusal.body())
        return self.response(200, message="OK")
