"""The base of every domain REST API: same resource, scope and rules as the HTML view.

Reads go through FAB's ModelRestApi with the scope filter in `base_filters`;
writes (POST, PUT, DELETE) go through `api_add` / `api_update` / `api_delete`
below, each one unit of work (`app.core.uow`) whose refusal becomes the 4xx body.
"""

from __future__ import annotations

from flask import request
from flask_appbuilder.const import API_RESULT_RES_KEY
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError

from app.core.uow import unit_of_work
from app.extensions import db
from app.services import scope
from app.services.privacy import Reader
from app.services.records import check_version, delete_record, is_versioned
from app.views.edge import MAX_ID
from app.views.fab_compat import CompatModelRestApi
from app.views.scoped import READ, WRITE, ScopeFilter, scope_filters, unsearchable, without_sensitive

API_PERMISSIONS = {
    "get": READ,
    "get_list": READ,
    "info": READ,
    "post": WRITE,
    "put": WRITE,
    "delete": WRITE,
}
SEND_JSON_OBJECT = _l("Send a JSON object.")
GIVE_AN_ID = _l("Give the id (a whole number) of an existing record.")


class ScopedModelApi(CompatModelRestApi):
    """The base of every domain REST API: same resource, scope and rules as the view."""

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
        rel_filters = self._scoped_rel_filters(model)
        self.add_query_rel_fields = {**rel_filters, **(self.add_query_rel_fields or {})}
        self.edit_query_rel_fields = {**rel_filters, **(self.edit_query_rel_fields or {})}
        super().__init__()

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

    def pre_get_list(self, data):
        model = self.datamodel.obj
        reader = Reader().prepare(db.session, model, data.get("ids") or [])
        for pk, row in zip(data.get("ids") or [], data[API_RESULT_RES_KEY], strict=False):
            reader.mask_row(model, row, item_id=pk)

    def dump_item(self, schema, item):
        """A written record as the API answers it (masked like a GET)."""
        row = schema.dump(item, many=False)
        Reader().prepare(db.session, type(item), [item.id]).mask_row(type(item), row, item_id=item.id)
        return row

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
                if any(isinstance(v, bool) or not isinstance(v, int) or not 0 < v <= MAX_ID for v in values):
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
        item, error = self.load_body(self.add_model_schema, body)
        if error is not None:
            return error
        return self.save_item(item, is_new=True)

    def api_update(self, item):
        body = self.json_body()
        if body is None:
            return self.response_400(message=str(SEND_JSON_OBJECT))
        body = dict(body)
        if is_versioned(type(item)) and "version" in body:
            with unit_of_work(api=True, commit=False) as work:
                check_version(item, body.pop("version"))
            if work.failed:
                return self.response(409, message=work.refusal.message)
        item, error = self.load_body(self.edit_model_schema, self.merged_update(item, body), instance=item)
        if error is not None:
            return error
        return self.save_item(item, is_new=False)

    def save_item(self, item, is_new):
        session = db.session
        with unit_of_work(api=True, stale_message=self.stale_message) as work:
            with session.no_autoflush:
                scope.check_writable(session, item)
                self.validate(item)
            if is_new:
                session.add(item)
        if work.failed:
            return self.refusal(work.refusal)
        schema = self.add_model_schema if is_new else self.edit_model_schema
        body = {API_RESULT_RES_KEY: self.dump_item(schema, item)}
        if is_new:
            self.post_add(item)
            return self.response(201, id=item.id, **body)
        self.post_update(item)
        return self.response(200, **body)

    def api_delete(self, item):
        session = db.session
        with unit_of_work(api=True) as work:
            with session.no_autoflush:
                self.validate_delete(item)
                scope.check_writable(session, item)
            delete_record(session, item)
        if work.failed:
            return self.refusal(work.refusal)
        self.post_delete(item)
        return self.response(200, message="OK")
