"""`/api/v1/appeal/`: the same rules as the pages, as JSON."""

from __future__ import annotations

from flask_appbuilder.api import expose as api_expose
from flask_appbuilder.api import protect, safe
from flask_appbuilder.const import API_RESULT_RES_KEY
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError

from app.core.uow import unit_of_work
from app.extensions import db
from app.models.appeals import Appeal
from app.services import appeals as appeal_service
from app.services.appeals import RESOURCE, TRANSITIONS
from app.services.privacy import Reader
from app.views.api import SEND_JSON_OBJECT, ScopedModelApi
from app.views.appeals.common import (
    APPEAL_LABELS,
    BASE_PERMISSIONS,
    PETITION_COLUMNS,
    REGISTRATION_COLUMNS,
    SEARCH_COLUMNS,
    FilterDueSoon,
    FilterOverdue,
    current_actor,
)
from app.views.appeals.steps_api import STEP_DESCRIPTION, STEP_SCHEMAS, STEP_SUMMARIES
from app.views.fab_compat import get_in_scope
from app.views.scoped import ScopedInterface

# Relations to Person or to another Appeal are given through properties: FAB
# loads dotted columns with contains_eager, and the related model's own
# inner-joined eager loads would then drop the rows where the relation is empty.
API_LIST_COLUMNS = [
    "id",
    "number",
    "status",
    "status_title",
    "importance",
    "reporter_name",
    "category.name",
    "channel.name",
    "grid.id",
    "grid.name",
    "registered_at",
    "due_date",
    "due_state",
    "handler",
    "supervised",
    "extension_until",
    "closed_at",
    "satisfaction",
]


def _event_json(item):
    event = item["event"]
    return {
        "action": event.action,
        "title": str(item["title"]),
        "at": event.at.isoformat(sep=" "),
        "actor": event.actor_name,
        "note": event.note,
        "from_status": event.from_status,
        "to_status": event.to_status,
        "from_grid": item["from_grid"],
        "to_grid": item["to_grid"],
        "handler": event.handler_text,
        "due_date": event.due_date.isoformat() if event.due_date else None,
        "result": event.result,
        "related_number": item["related_number"],
        "data": item.get("data", event.data),
    }


def _state_json(appeal):
    return {
        "id": appeal.id,
        "number": appeal.number,
        "status": appeal.status,
        "status_title": str(appeal.status_title),
        "due_date": appeal.due_date.isoformat() if appeal.due_date else None,
        "due_state": appeal_service.due_state(appeal),
    }


class AppealApi(ScopedModelApi):
    """`/api/v1/appeal/`: GET list/one, POST registers, PUT corrects (same rules as
    the page), no DELETE; `POST /<id>/<action>` runs a workflow step and
    `GET /<id>/timeline` returns the events."""

    list_title = _l("Appeals")
    show_title = _l("Appeal")
    add_title = _l("Appeal")
    edit_title = _l("Appeal")
    resource_name = "appeal"
    resource = RESOURCE
    base_permissions = BASE_PERMISSIONS
    exclude_route_methods = {"delete"}
    # each step is its own route (below); the step's own permission is checked by the workflow
    extra_permissions = {"timeline": "read", **{f"step_{action}": "read" for action in TRANSITIONS}}
    openapi_spec_component_schemas = tuple(STEP_SCHEMAS.values())
    label_columns = APPEAL_LABELS
    datamodel = ScopedInterface(Appeal)
    list_columns = API_LIST_COLUMNS
    show_columns = API_LIST_COLUMNS + [
        "reporter_address",
        "reporter_unit",
        "reporter_phone",
        "reporter_id_number",
        "content",
        "registered_in",
        "filed_by_name",
        "assigned_at",
        "extension_reason",
        "extension_progress",
        "extension_count",
        "supervision_note",
        "feedback",
        "feedback_by_name",
        "closed_on_time",
        "evaluation_source",
        "evaluators",
        "evaluation_comment",
        "evaluated_at",
        "archived_at",
        "escalation_count",
        "duplicate_of_number",
        "raised_from_visit",
        "raised_from_contact",
        *PETITION_COLUMNS,
    ]
    add_columns = REGISTRATION_COLUMNS
    edit_columns = REGISTRATION_COLUMNS
    search_columns = SEARCH_COLUMNS
    search_filters = {"due_date": [FilterOverdue, FilterDueSoon]}
    order_columns = ["number", "registered_at", "due_date", "status", "importance", "reporter_name"]
    base_order = ("registered_at", "desc")

    def validate(self, item):
        appeal_service.update_registration(db.session, current_actor(), item)

    stale_message = appeal_service.CHANGED_MEANWHILE

    def api_add(self):
        body = self.json_body()
        if body is None:
            return self.response_400(message=str(SEND_JSON_OBJECT))
        item, error = self.load_body(self.add_model_schema, body)
        if error is not None:
            return error
        with unit_of_work(api=True, commit=False) as work:  # register_appeal commits (and retries)
            appeal_service.register_appeal(db.session, current_actor(), item)
        if work.failed:
            return self.refusal(work.refusal)
        body = _state_json(item)
        body[API_RESULT_RES_KEY] = self.dump_item(self.add_model_schema, item)
        return self.response(201, **body)

    def run_step(self, pk, action):
        """One workflow step: scope (404), role and state (403/400) before the body is read,
        then the body against the step's schema (422), then the step itself."""
        appeal = get_in_scope(self, pk)
        if appeal is None:
            return self.response_404()
        with unit_of_work(api=True, commit=False) as gate:
            appeal_service.check_action(db.session, current_actor(), appeal, action)
        if gate.failed:
            return self.refusal(gate.refusal)
        body = self.json_body()
        if body is None:
            return self.response_400(message=str(SEND_JSON_OBJECT))
        try:
            data = STEP_SCHEMAS[action]().load(body)
        except ValidationError as err:
            return self.response_422(message=err.messages)
        event = None
        with unit_of_work(api=True, stale_message=self.stale_message) as work:
            event = appeal_service.perform(db.session, current_actor(), appeal, action, data)
        if work.failed:
            return self.refusal(work.refusal)
        data = Reader().mask_changes(Appeal, event.data) if isinstance(event.data, dict) else event.data
        item = {"event": event, "data": data, "title": appeal_service.EVENT_TITLES[event.action], "from_grid": None,
                "to_grid": None, "related_number": None}  # fmt: skip
        return self.response(200, event=_event_json(item), **_state_json(appeal))

    @api_expose("/<int:pk>/timeline", methods=["GET"])
    @protect()
    @safe
    def timeline(self, pk):
        """The appeal's timeline, oldest first.
        ---
        get:
          parameters:
          - in: path
            schema:
              type: integer
            name: pk
          responses:
            200:
              description: events
            404:
              $ref: '#/components/responses/404'
        """
        appeal = get_in_scope(self, pk)
        if appeal is None:
            return self.response_404()
        events = appeal_service.timeline(db.session, appeal)
        return self.response(200, result=[_event_json(e) for e in events], **_state_json(appeal))


STEP_DOC = """{summary}
---
post:
  summary: "{summary}"
  description: "{description}"
  parameters:
  - in: path
    name: pk
    required: true
    schema:
      type: integer
      minimum: 1
  requestBody:
    required: true
    content:
      application/json:
        schema:
          $ref: '#/components/schemas/{schema}'
  responses:
    200:
      description: The appeal's new state and the event written
    400:
      $ref: '#/components/responses/400'
    401:
      $ref: '#/components/responses/401'
    403:
      description: The user's role may not take this step
    404:
      $ref: '#/components/responses/404'
    409:
      description: Someone changed the appeal meanwhile
    422:
      $ref: '#/components/responses/422'
"""


def _step_route(action):
    """`POST /appeal/<pk>/<action>`: one route per step, so the spec gives each its body."""

    def step(self, pk):
        return self.run_step(pk, action)

    schema = STEP_SCHEMAS[action]
    step.__name__ = step.__qualname__ = f"step_{action}"
    step.__doc__ = STEP_DOC.format(summary=STEP_SUMMARIES[action], description=STEP_DESCRIPTION, schema=schema.__name__)
    return api_expose(f"/<int:pk>/{action}", methods=["POST"])(protect()(safe(step)))


for _action in TRANSITIONS:
    setattr(AppealApi, f"step_{_action}", _step_route(_action))
