"""`/api/v1/registers/`: the definitions, and every register's entries as a REST resource.

As with the pages, one API is registered at start-up and hands each request to the
entry API of register `<code>` (a ScopedModelApi built from the definition), which
applies the register's own permissions, scope, masking, validation and versions.
"""

from __future__ import annotations

from flask import abort, current_app, g
from flask_appbuilder.api import BaseApi, expose, protect, safe

from app.extensions import db
from app.models.registers import FieldType
from app.services import scope
from app.services.registers import entries as entry_service
from app.services.registers import files as file_service
from app.services.registers import runtime
from app.views.api import ScopedModelApi
from app.views.fab_compat import serve_unregistered
from app.views.scoped import ScopedInterface


class RegisterEntryApiBase(ScopedModelApi):
    spec = None
    allow_browser_login = True

    def validate(self, item):
        entry_service.check_entry(db.session, item, scope.current_user())


def api_class(spec, entry_class):
    live = spec.live_fields
    shown = ["id"]
    writable = []
    for field in live:
        if field.type == FieldType.ATTACHMENT:
            continue  # files: /api/v1/attachments/?owner=reg_<code>&owner_id=<id>&field=<field>
        if field.type == FieldType.GRID:
            shown += ["grid.id", "grid.name"]
            writable.append("grid")
        elif field.type == FieldType.CHOICE:
            shown += [f"{field.code}.id", f"{field.code}.name"]
            writable.append(field.code)
        elif field.type == FieldType.PERSON:
            shown += [f"{field.code}.id", f"{field.code}.name"]
            writable.append(field.code)
        elif field.type == FieldType.APPEAL:
            shown += [f"{field.code}.id", f"{field.code}.number"]
            writable.append(field.code)
        else:
            shown.append(field.code)
            writable.append(field.code)
    labels = {f.code: f.label for f in live}
    order = spec.date_field if spec.date_field and spec.field(spec.date_field) else "created_at"
    attrs = {
        "spec": spec,
        "datamodel": ScopedInterface(entry_class),
        "resource": spec.resource,
        "resource_name": f"registers/{spec.code}",
        "list_title": spec.name,
        "show_title": spec.name,
        "add_title": spec.name,
        "edit_title": spec.name,
        "label_columns": labels,
        "list_columns": shown + ["created_at", "version"],
        "show_columns": shown + ["created_at", "updated_at", "version"],
        "add_columns": writable,
        "edit_columns": writable,
        "search_columns": ["grid"] + [f.code for f in live if f.filterable and f.type != FieldType.GRID],
        "order_columns": ["id", "created_at", order] + [f.code for f in live if f.sortable and f.type not in (
            FieldType.CHOICE, FieldType.PERSON, FieldType.APPEAL, FieldType.MULTICHOICE)],
        "base_order": (order, "desc"),  # as the pages: the jurisdiction's covering index answers
    }  # fmt: skip
    return type("RegisterEntryApi", (RegisterEntryApiBase,), attrs)


_apis = runtime.PerRegister()  # one entry API per register, rebuilt with the definitions


def api_for(code):
    api = _apis.get(code, lambda spec, cls: serve_unregistered(api_class(spec, cls)(), current_app.appbuilder,
                                                                "RegisterApi"))  # fmt: skip
    if api is None:
        abort(404)
    g.delegated_api = api
    return api


class RegisterApi(BaseApi):
    """Register definitions and entries."""

    resource_name = "registers"
    allow_browser_login = True
    class_permission_name = "RegisterApi"
    method_permission_name = {"definitions": "read"}
    base_permissions = ["can_read"]
    openapi_spec_tag = "Registers"

    @expose("/", methods=["GET"])
    @protect()
    @safe
    def definitions(self):
        """The registers the user may read, with their fields.
        ---
        get:
          summary: Register definitions
          responses:
            200:
              description: '{"result": [{"code", "name", "menu_group", "fields": [{"code", "label", "type", ...}]}]}'
            401:
              $ref: '#/components/responses/401'
        """
        sm = current_app.appbuilder.sm
        result = []
        for spec in runtime.specs().values():
            if not spec.active or not sm.has_access("can_read", spec.resource):
                continue
            result.append(
                {
                    "code": spec.code,
                    "name": spec.name,
                    "menu_group": spec.menu_group,
                    "description": spec.description,
                    "url": f"/api/v1/registers/{spec.code}/",
                    "fields": [
                        {
                            "code": f.code,
                            "label": f.label,
                            "type": f.type,
                            "type_title": str(FieldType.label_of(f.type)),
                            "required": f.required,
                            "help": f.help_text,
                            **(_files_of(spec, f) if f.type == FieldType.ATTACHMENT else {}),
                        }
                        for f in spec.live_fields
                    ],  # fmt: skip
                }
            )
        return self.response(200, result=result)

    @expose("/<code>/", methods=["GET"])
    def get_list(self, code):
        """Entries of register `code` (rison ?q= filters, order, paging as every FAB list).
        ---
        get:
          summary: Entries of a register
          parameters:
          - {in: path, name: code, required: true, schema: {type: string}}
          - {in: query, name: q, schema: {type: string}, description: "rison: (filters:!((col:…,opr:…,value:…)),page:0,page_size:20)"}
          responses:
            200:
              description: '{"count", "ids", "result": [...]}'
            401:
              $ref: '#/components/responses/401'
            404:
              $ref: '#/components/responses/404'
        """
        return api_for(code).get_list()

    @expose("/<code>/", methods=["POST"])
    def post(self, code):
        """Add an entry.
        ---
        post:
          summary: Add an entry to a register
          parameters:
          - {in: path, name: code, required: true, schema: {type: string}}
          requestBody:
            content:
              application/json:
                schema: {type: object, description: "field code -> value; links (grid, choice, person, appeal) by id"}
          responses:
            201:
              description: '{"id", "result"}'
            400:
              $ref: '#/components/responses/400'
            404:
              $ref: '#/components/responses/404'
            422:
              $ref: '#/components/responses/422'
        """
        return api_for(code).post()

    @expose("/<code>/<int:pk>", methods=["GET"])
    def get(self, code, pk):
        """One entry.
        ---
        get:
          summary: One entry of a register
          parameters:
          - {in: path, name: code, required: true, schema: {type: string}}
          - {in: path, name: pk, required: true, schema: {type: integer}}
          responses:
            200:
              description: '{"id", "result"}'
            404:
              $ref: '#/components/responses/404'
        """
        return api_for(code).get(pk)

    @expose("/<code>/<int:pk>", methods=["PUT"])
    def put(self, code, pk):
        """Change an entry (send its `version` to refuse a save over someone else's).
        ---
        put:
          summary: Change an entry of a register
          parameters:
          - {in: path, name: code, required: true, schema: {type: string}}
          - {in: path, name: pk, required: true, schema: {type: integer}}
          requestBody:
            content:
              application/json:
                schema: {type: object}
          responses:
            200:
              description: '{"result"}'
            404:
              $ref: '#/components/responses/404'
            409:
              description: someone else saved the entry meanwhile
            422:
              $ref: '#/components/responses/422'
        """
        return api_for(code).put(pk)

    @expose("/<code>/<int:pk>", methods=["DELETE"])
    def delete(self, code, pk):
        """Delete an entry (to the recycle bin).
        ---
        delete:
          summary: Delete an entry of a register
          parameters:
          - {in: path, name: code, required: true, schema: {type: string}}
          - {in: path, name: pk, required: true, schema: {type: integer}}
          responses:
            200:
              description: deleted
            404:
              $ref: '#/components/responses/404'
        """
        return api_for(code).delete(pk)


def _files_of(spec, field):
    """What a client needs to know of a 照片/附件 field: its limits and where its files live."""
    return {
        "max_files": file_service.most_files(field),
        "file_kinds": file_service.kinds_of(field) or list(current_app.config["ATTACHMENT_TYPES"]),
        "files_url": f"/api/v1/attachments/?owner={spec.table_name}&field={field.code}&owner_id=",
    }


def api_objects():
    """The entry APIs of every live register (for the probes)."""
    return [api_for(code) for code, spec in runtime.specs().items() if spec.active]
