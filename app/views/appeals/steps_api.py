"""The request body of each workflow step in the REST API (`POST /api/v1/appeal/<pk>/<action>`).

One marshmallow schema per step, read by the API before `services.appeals.perform()` and
published in the OpenAPI spec (so clients and `make fuzz` reach every step with a body it
takes). The rules that need the appeal (who may, in which state, which deadline) stay in
the service; these say what each field is: its type, its choices, its longest text.
"""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, pre_load, validate

from app.core.inputs import MAX_ID
from app.models.appeals import EvaluationSource, Satisfaction
from app.models.mixins import LONG_TEXT_LENGTH, NOTE_LENGTH

STEP_DESCRIPTION = (
    "Scope (404), role (403) and the appeal's state (400) are checked before the body; the body is "
    "checked against the step's schema (422, unknown fields too); then the step's own rules (422)."
)


def _text(length, description, **kwargs):
    return fields.String(
        validate=validate.Length(max=length), allow_none=True, metadata={"description": description}, **kwargs
    )


def _note(description="A note kept on the timeline."):
    return _text(LONG_TEXT_LENGTH, description)


def _person():
    return fields.Integer(
        strict=True,
        allow_none=True,
        validate=validate.Range(min=1, max=MAX_ID),
        metadata={"description": "The id of the handling person (a person in scope, active)."},
    )


class StepSchema(Schema):
    class Meta:
        unknown = RAISE


class AppealAssignStep(StepSchema):
    handler_person = _person()
    handler_unit = _text(100, "The handling unit (a person, a unit, or both).")
    note = _note()


class AppealReassignStep(AppealAssignStep):
    note = _note("Why the appeal is handed to someone else (required).")


class AppealNoteStep(StepSchema):
    note = _note()


class AppealEscalateStep(StepSchema):
    note = _note("Why the appeal goes to the level above (required).")


class AppealSuperviseStep(StepSchema):
    note = _note("The supervision note (required).")


class AppealReplyStep(StepSchema):
    reply = _text(LONG_TEXT_LENGTH, "The reply given to the reporter (required).")
    note = _note()


class AppealExtendStep(StepSchema):
    until = fields.Date(allow_none=True, metadata={"description": "The new deadline (required), YYYY-MM-DD."})
    reason = _text(NOTE_LENGTH, "Why more time is needed (required).")
    progress = _text(NOTE_LENGTH, "The progress told to the reporter (required).")


class AppealApproveExtensionStep(StepSchema):
    approve = fields.Boolean(allow_none=True, metadata={"description": "true approves, false rejects (required)."})
    note = _note("The reason, required when rejecting.")


class AppealEvaluateStep(StepSchema):
    result = fields.String(
        allow_none=True,
        validate=validate.OneOf(Satisfaction.codes()),
        metadata={"description": "The reporter's (or the meeting's) judgement (required)."},
    )
    source = fields.String(
        allow_none=True,
        validate=validate.OneOf(EvaluationSource.codes()),
        metadata={"description": "Who judged: the reporter (default) or a review meeting."},
    )
    evaluators = _text(200, "Who took part in the review meeting (required for a meeting).")
    comment = _text(NOTE_LENGTH, "Why the reporter is not satisfied (required then).")


class AppealDuplicateStep(StepSchema):
    original = fields.String(
        allow_none=True,
        validate=validate.Length(max=20),
        metadata={"description": "The number (or id) of the original appeal (required)."},
    )
    note = _note()

    @pre_load
    def _id_as_text(self, data, **kwargs):
        if isinstance(data, dict) and isinstance(data.get("original"), int) and not isinstance(data["original"], bool):
            data = {**data, "original": str(data["original"])}
        return data


STEP_SCHEMAS = {
    "assign": AppealAssignStep,
    "reassign": AppealReassignStep,
    "start": AppealNoteStep,
    "resolve_on_spot": AppealReplyStep,
    "feedback": AppealReplyStep,
    "escalate": AppealEscalateStep,
    "extend": AppealExtendStep,
    "approve_extension": AppealApproveExtensionStep,
    "evaluate": AppealEvaluateStep,
    "archive": AppealNoteStep,
    "supervise": AppealSuperviseStep,
    "duplicate": AppealDuplicateStep,
}

STEP_SUMMARIES = {
    "assign": "Assign (交办): hand the appeal to a person and/or a unit",
    "reassign": "Reassign (重新交办): another handler; reopens an unsatisfactory reply",
    "start": "Start (办理): the handler takes the case up",
    "resolve_on_spot": "Resolve on the spot (当场解决): answered at registration",
    "feedback": "Feedback (反馈): the reply to the reporter; the appeal counts as closed",
    "escalate": "Escalate (上报): to the parent grid",
    "extend": "Request an extension (申请延期)",
    "approve_extension": "Approve or reject an extension (审批延期)",
    "evaluate": "Evaluate (评价): the reporter's or a meeting's judgement of the reply",
    "archive": "Archive (归档)",
    "supervise": "Supervise (督办)",
    "duplicate": "Mark as a duplicate (重复件) of an earlier appeal",
}
