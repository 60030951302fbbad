"""The base of every domain REST API: same resource, scope and rules as the HTML view.

Reads go through FAB's ModelRestApi with the scope filter in `base_filters`;
writes (POST, PUT, DELETE) go through `api_add` / `api_update` / `api_delete`
below, each one unit of work (`app.core.uow`) whose refusal becomes the 4xx body.
"""

from __future__ import annotations

import logging
import sys

from flask import request
from flask_appbuilder.const import API_RESULT_RES_KEY
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import DataError
from werkzeug.exceptions import HTTPException

from app.core.errors import Collector
from app.core.uow import STALE, unit_of_work
from app.extensions import db
from app.services import scope
from app.services.privacy import Reader
from app.services.records import check_version, delete_record, etag_matches, etag_of, is_versioned
from app.services.registers import extensions
from app.views import extra_values as extras
from app.views.edge import VALUE_REFUSED, parse_id
from app.views.extra_values import EXTRA
from app.views.fab_compat import CompatModelRestApi
from app.views.scoped import READ, WRITE, ScopeFilter, scope_filters, unsearchable, without_sensitive
from app.views.search import use_indexed_search

API_PERMISSIONS = {
    "get": READ,
    "get_list": READ,
    "info": READ,
    "post": WRITE,
    "put": WRITE,
    "delete": WRITE,
}
log = logging.getLogger(__name__)
SEND_JSON_OBJECT = _l("Send a JSON object.")
GIVE_AN_ID = _l("Give the id (a whole number) of an existing record.")
VERSION_REQUIRED = _l(
    "Send the version of the record you are changing (the version field of its GET, or its ETag as "
    "If-Match): without it your change could overwrite someone else's."
)
VERSION_NOT_A_NUMBER = _l("The version is a whole number, as GET returned it.")
VERSION_DOC = (
    "Optimistic locking: every change names the version it was based on, as `version` in the body "
    "or the ETag of the GET in an If-Match header. A change without it is refused (428), one based "
    "on an older version too (409 for `version`, 412 for If-Match): GET the record again and redo "
    "the change. DELETE checks If-Match when it is sent."
)
VERSION_RESPONSES = {
    "409": {"description": "Someone saved the record after the version you sent: GET it again."},
    "412": {"description": "If-Match does not name the record's current version: GET it again."},
    "428": {"description": "No version sent (`version` in the body or an If-Match header)."},
}
IF_MATCH = {
    "in": "header",
    "name": "If-Match",
    "required": False,
    "schema": {"type": "string"},
    "description": "The ETag of the GET the change is based on (instead of `version` in the body).",
}


def _plus(columns, name):
    """`columns` with `name` added (None stays None: FAB's own default)."""
    if columns is None or name in columns:
        return columns
    return [*columns, name]


class ScopedModelApi(CompatModelRestApi):
    """The base of every domain REST API: same resource, scope and rules as the view."""

    extra_codes = ()  # the live extra fields of the record, answered and taken as `extra` (app.views.extras)
    resource = None
    extra_permissions = {}
    allow_browser_login = True
    max_page_size = None
    sensitive_search_columns = ()  # as ScopedModelView's
    stale_message = None

    def __init__(self):
        model = self.datamodel.obj
        self.class_permission_name = self.resource or model.__name__
        self.method_permission_name = {**API_PERMISSIONS, **self.extra_permissions}
        self.base_filters = scope_filters(model) + list(self.base_filters or [])
        if is_versioned(model):  # clients read the version, and send it back with a change
            self.list_columns = _plus(self.list_columns, "version")
            self.show_columns = _plus(self.show_columns, "version")
            self.edit_columns = _plus(self.edit_columns, "version")
        rel_filters = self._scoped_rel_filters(model)
        self.add_query_rel_fields = {**rel_filters, **(self.add_query_rel_fields or {})}
        self.edit_query_rel_fields = {**rel_filters, **(self.edit_query_rel_fields or {})}
        super().__init__()
        use_indexed_search(self, self.search_columns)  # as ScopedModelView's

    @staticmethod
    def _scoped_rel_filters(model):
        return {
            rel.key: [["id", ScopeFilter, None]]
            for rel in model.__mapper__.relationships
            if scope.is_scoped(rel.mapper.class_)
        }

    def clean_filters(self, filters):
        return without_sensitive(filters, unsearchable(self.datamodel.obj, self.sensitive_search_columns))

    def field_info(self, field, info):
        if not self.description_columns.get(field.name):
            info["description"] = ""  # FAB translates "" into the catalogue header
        return info

    # -- versions: GET gives them (and an ETag), PUT must send one back -------

    @property
    def versioned(self):
        return is_versioned(self.datamodel.obj)

    def get_headless(self, pk, **kwargs):
        response = super().get_headless(pk, **kwargs)
        if response.status_code == 200 and self.versioned:
            model = self.datamodel.obj
            version = db.session.scalar(select(model.version).where(model.id == pk))
            if version is not None:
                response.headers["ETag"] = etag_of(version)
        return response

    def version_refusal(self, item, submitted):
        """None when the change names the record's current version, else the 4xx answer."""
        if_match = request.headers.get("If-Match")
        if submitted is None and if_match is None:
            return self.response(428, message=str(VERSION_REQUIRED), field="version")
        if if_match is not None and not etag_matches(if_match, item.version):
            return self.response(412, message=str(self.stale_message or STALE), field="version")
        if submitted is not None:
            if isinstance(submitted, bool) or not isinstance(submitted, int):
                return self.response_422(message={"version": [str(VERSION_NOT_A_NUMBER)]})
            with unit_of_work(api=True, commit=False) as work:
                check_version(item, submitted)
            if work.failed:
                return self.response(409, message=work.refusal.message, field="version")
        return None

    def add_apispec_components(self, api_spec):
        super().add_apispec_components(api_spec)
        if extensions.table_of(self.datamodel.obj):  # the extra fields IT staff define (扩展字段)
            for name in (self.add_model_schema_name, self.edit_model_schema_name, self.show_model_schema_name):
                schema = api_spec.components.schemas.get(name)
                if schema is not None:
                    schema.setdefault("properties", {})[EXTRA] = {
                        "type": "object", "description": "Extra fields: {code: value} (GET /api/v1/registers/)",
                    }  # fmt: skip
        if self.versioned:
            schema = api_spec.components.schemas.get(self.edit_model_schema_name)
            if schema is not None:
                schema.setdefault("properties", {}).setdefault("version", {"type": "integer"})
                schema["properties"]["version"]["description"] = VERSION_DOC
                schema["required"] = sorted(set(schema.get("required", [])) | {"version"})

    def operation_helper(self, path=None, operations=None, methods=None, func=None, **kwargs):
        super().operation_helper(path=path, operations=operations, methods=methods, func=func, **kwargs)
        if not self.versioned or func is None:
            return
        name = func.__name__
        if name == "put" and "put" in operations:
            operations["put"].setdefault("parameters", []).append(dict(IF_MATCH))
            operations["put"].setdefault("responses", {}).update(VERSION_RESPONSES)
            operations["put"]["description"] = VERSION_DOC
        elif name == "delete" and "delete" in operations:
            operations["delete"].setdefault("parameters", []).append(dict(IF_MATCH))
            operations["delete"].setdefault("responses", {})["412"] = VERSION_RESPONSES["412"]
        elif name == "get" and "get" in operations:
            ok = operations["get"].setdefault("responses", {}).setdefault("200", {"description": "OK"})
            ok.setdefault("headers", {})["ETag"] = {
                "description": "The record's version, for If-Match",
                "schema": {"type": "string"},
            }

    # -- hooks for domain APIs ------------------------------------------------

    def validate(self, item):
        """Check the item before save; raise DomainError. Call the domain service."""

    def validate_delete(self, item):
        """Check the item may be deleted; raise DomainError."""

    # -- every row the API returns passes through privacy -----------------------

    def pre_get(self, data):
        model = self.datamodel.obj
        pk = data.get("id")
        Reader().prepare(db.session, model, [pk]).mask_row(model, data[API_RESULT_RES_KEY], item_id=pk)
        if self.extra_codes and pk is not None:
            item = db.session.get(model, pk)
            data[API_RESULT_RES_KEY][EXTRA] = extras.extra_json(db.session, [item]).get(pk, {}) if item else {}

    def pre_get_list(self, data):
        model = self.datamodel.obj
        ids = data.get("ids") or []
        reader = Reader().prepare(db.session, model, ids)
        for pk, row in zip(ids, data[API_RESULT_RES_KEY], strict=False):
            reader.mask_row(model, row, item_id=pk)
        if self.extra_codes and ids:
            items = db.session.scalars(select(model).where(model.id.in_(ids))).all()
            values = extras.extra_json(db.session, items)
            for pk, row in zip(ids, data[API_RESULT_RES_KEY], strict=False):
                row[EXTRA] = values.get(pk, {})

    def dump_item(self, schema, item):
        """A written record as the API answers it (masked like a GET)."""
        row = schema.dump(item, many=False)
        Reader().prepare(db.session, type(item), [item.id]).mask_row(type(item), row, item_id=item.id)
        if self.extra_codes:
            row[EXTRA] = extras.extra_json(db.session, [item]).get(item.id, {})
        return row

    def response_500(self, message=None, **kwargs):
        """FAB's `@safe` answers 500 to any exception: an HTTP error of the client's (413 …)
        keeps its status, and a value the database refused (what the edge missed) is a 400."""
        error = sys.exc_info()[1]
        if isinstance(error, HTTPException) and error.code is not None and error.code < 500:
            return self.response(error.code, message=str(error.description))
        if isinstance(error, (DataError, OverflowError)):
            log.warning("a value reached the database and was refused: %s", error)
            db.session.rollback()
            return self.response_400(message=str(VALUE_REFUSED))
        return super().response_500(message=message, **kwargs)

    def refusal(self, refusal):
        """The HTTP answer to a refused write (a 404 says nothing about the record)."""
        if refusal.status == 404:
            return self.response_404()
        return self.response(refusal.status, **refusal.body())

    # -- the request body -------------------------------------------------------

    def json_body(self):
        """The request's JSON object, or None (the caller answers 400)."""
        if not request.is_json:
            return None
        body = request.get_json(silent=True)
        return body if isinstance(body, dict) else None

    def bad_relations(self, body):
        """Relations are given by id. marshmallow-sqlalchemy would build a NEW related
        row from a JSON object (a new grid, a new lookup value): refuse anything else."""
        errors = {}
        for key, value in body.items():
            if key in self.datamodel.list_properties and self.datamodel.is_relation(key):
                if value is None:
                    continue
                # a many-to-many link (visitors, covered grids) is a list of ids
                values = value if self.datamodel.is_relation_many_to_many(key) and isinstance(value, list) else [value]
                if any(not isinstance(v, int) or parse_id(v) is None for v in values):
                    errors[key] = [str(GIVE_AN_ID)]
        return errors

    def load_body(self, schema, body, instance=None):
        """(item, None) or (None, the 422 answer) for a body checked against `schema`."""
        bad = self.bad_relations(body)
        if bad:
            return None, self.response_422(message=bad)
        try:
            if instance is None:
                return schema.load(body), None
            return schema.load(body, instance=instance), None
        except ValidationError as err:
            db.session.rollback()
            return None, self.response_422(message=err.messages)

    # -- writes -----------------------------------------------------------------

    def api_add(self):
        body = self.json_body()
        if body is None:
            return self.response_400(message=str(SEND_JSON_OBJECT))
        body = dict(body)
        extra = body.pop(EXTRA, None) if self.extra_codes else None
        item, error = self.load_body(self.add_model_schema, body)
        if error is not None:
            return error
        return self.save_item(item, is_new=True, extra=extra)

    def api_update(self, item):
        body = self.json_body()
        if body is None:
            return self.response_400(message=str(SEND_JSON_OBJECT))
        body = dict(body)
        extra = body.pop(EXTRA, None) if self.extra_codes else None
        if is_versioned(type(item)):
            refused = self.version_refusal(item, body.pop("version", None))
            if refused is not None:
                return refused
        merged = self.merged_update(item, body)
        merged.pop("version", None)  # checked above; the save itself bumps it
        item, error = self.load_body(self.edit_model_schema, merged, instance=item)
        if error is not None:
            return error
        return self.save_item(item, is_new=False, extra=extra)

    def save_item(self, item, is_new, extra=None):
        session = db.session
        with unit_of_work(api=True, stale_message=self.stale_message) as work:
            with session.no_autoflush:
                scope.check_writable(session, item)
                errors = Collector()  # the record's rules and its extra fields': all at once
                with errors.check():
                    self.validate(item)
                if self.extra_codes:
                    with errors.check():
                        extras.set_extra_json(session, item, extra)
                    with errors.check():
                        extensions.check(session, item)
                errors.raise_if_any()
            if is_new:
                session.add(item)
        if work.failed:
            return self.refusal(work.refusal)
        schema = self.add_model_schema if is_new else self.edit_model_schema
        body = {API_RESULT_RES_KEY: self.dump_item(schema, item)}
        if is_new:
            self.post_add(item)
            response = self.response(201, id=item.id, **body)
        else:
            self.post_update(item)
            response = self.response(200, **body)
        if is_versioned(type(item)):
            response.headers["ETag"] = etag_of(item.version)
        return response

    def api_delete(self, item):
        session = db.session
        if is_versioned(type(item)) and request.headers.get("If-Match") is not None:
            if not etag_matches(request.headers["If-Match"], item.version):
                return self.response(412, message=str(self.stale_message or STALE), field="version")
        with unit_of_work(api=True) as work:
            with session.no_autoflush:
                self.validate_delete(item)
                scope.check_writable(session, item)
            delete_record(session, item)
        if work.failed:
            return self.refusal(work.refusal)
        self.post_delete(item)
        return self.response(200, message="OK")
