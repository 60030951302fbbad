"""The workflow table and its one gate.

For each action: the states it may start from, the state it leads to, the permission
it needs, and an extra condition. `check_action()` is the one place that enforces it,
in this order: scope (404), role (403), state (400); then each verb in `steps` checks
its input (422). Every step writes an AppealEvent (who, when, what, note)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import current_app
from flask_babel import lazy_gettext as _l

from app.core.clock import now
from app.core.errors import DomainError, Forbidden, NotFound
from app.models.appeals import (
    AppealEvent,
    Satisfaction,
    Status,
)
from app.services import scope
from app.services.appeals.actors import APPROVE, ARCHIVE, ASSIGN, EVALUATE, HANDLE, SUPERVISE, WRITE

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Transition:
    sources: frozenset
    target: str | None  # None: the state does not change
    permission: str
    title: object
    guard: object = None  # appeal -> message if not possible now, else None


def _needs_pending_extension(appeal):
    if appeal.extension_until is None:
        return _l("There is no extension request waiting for approval.")
    return None


def _no_pending_extension(appeal):
    if appeal.extension_until is not None:
        return _l("An extension request is already waiting for approval.")
    return None


def _reopen_only_if_unsatisfied(appeal):
    if appeal.status == Status.EVALUATED and appeal.satisfaction != Satisfaction.UNSATISFIED:
        return _l("Only an appeal judged unsatisfactory can be handed out again after evaluation.")
    return None


def is_duplicate(appeal):
    return appeal.is_duplicate


def evaluation_required():
    """APPEAL_EVALUATION_REQUIRED: archiving waits for the evaluation (评议). Off, an appeal
    may be archived once the reply is given (seed 002: 反馈 → 归档), where reporters do not
    evaluate."""
    return bool(current_app.config.get("APPEAL_EVALUATION_REQUIRED", True))


def _evaluated_or_duplicate(appeal):
    if is_duplicate(appeal) or appeal.status == Status.EVALUATED:
        return None
    if not evaluation_required() and appeal.status == Status.ANSWERED:
        return None
    if evaluation_required():
        return _l("An appeal is archived after its evaluation (or as a duplicate of another).")
    return _l("An appeal is archived after the reply is given (or as a duplicate of another).")


def _not_a_duplicate_yet(appeal):
    if is_duplicate(appeal):
        return _l("This appeal is already marked as a duplicate.")
    return None


NOT_ARCHIVED = frozenset(s for s in Status.codes() if s != Status.ARCHIVED)

TRANSITIONS = {
    "assign": Transition(frozenset({Status.REGISTERED, Status.ESCALATED}), Status.ASSIGNED, ASSIGN, _l("Assign")),
    "start": Transition(frozenset({Status.ASSIGNED}), Status.IN_PROGRESS, HANDLE, _l("Start handling")),
    "resolve_on_spot": Transition(frozenset({Status.REGISTERED}), Status.ANSWERED, HANDLE, _l("Resolved on the spot")),
    "escalate": Transition(
        frozenset({Status.REGISTERED, Status.ESCALATED, Status.ASSIGNED, Status.IN_PROGRESS}),
        Status.ESCALATED,
        HANDLE,
        _l("Escalate"),
    ),
    "extend": Transition(
        frozenset({Status.ASSIGNED, Status.IN_PROGRESS}),
        None,
        HANDLE,
        _l("Request an extension"),
        _no_pending_extension,
    ),
    "approve_extension": Transition(
        frozenset({Status.ASSIGNED, Status.IN_PROGRESS}),
        None,
        APPROVE,
        _l("Decide on the extension"),
        _needs_pending_extension,
    ),
    "feedback": Transition(
        frozenset({Status.ASSIGNED, Status.IN_PROGRESS}), Status.ANSWERED, HANDLE, _l("Give feedback")
    ),
    "evaluate": Transition(frozenset({Status.ANSWERED}), Status.EVALUATED, EVALUATE, _l("Evaluate")),
    "archive": Transition(NOT_ARCHIVED, Status.ARCHIVED, ARCHIVE, _l("Archive"), _evaluated_or_duplicate),
    "supervise": Transition(NOT_ARCHIVED, None, SUPERVISE, _l("Supervise")),
    "reassign": Transition(
        frozenset({Status.ASSIGNED, Status.IN_PROGRESS, Status.ANSWERED, Status.EVALUATED}),
        Status.ASSIGNED,
        ASSIGN,
        _l("Return and reassign"),
        _reopen_only_if_unsatisfied,
    ),
    "duplicate": Transition(
        frozenset({Status.REGISTERED, Status.ESCALATED}), None, WRITE, _l("Mark as duplicate"), _not_a_duplicate_yet
    ),
}
# a duplicate waits for its original: it is only supervised or archived
DUPLICATE_ACTIONS = frozenset({"archive", "supervise"})

# what the timeline calls each kind of event (workflow actions and the rest)
EVENT_TITLES = {
    "register": _l("Registered"),
    "import": _l("Imported from Excel"),
    "edit": _l("Registration corrected"),
    "duplicate_linked": _l("Duplicate linked"),
    **{name: t.title for name, t in TRANSITIONS.items()},
}
AppealEvent.step_titles = EVENT_TITLES  # an event's str() (the audit trail's summary) names its step


class NotAllowedNow(DomainError):
    """The action does not fit the appeal's current state. HTTP 400."""

    status = 400


# optimistic locking (Appeal.version): the views answer a StaleDataError with this, HTTP 409
CHANGED_MEANWHILE = _l("Someone else changed this appeal a moment ago. Reload the page and try again.")


def check_action(session, actor, appeal, action):
    """The one gate of every workflow step: scope, then role, then state."""
    if action not in TRANSITIONS:
        raise NotFound(_l("There is no such action."))
    scope.check_writable(session, appeal)
    return _gate(actor, appeal, action)


def _gate(actor, appeal, action):
    """Role, then state (check_action without the scope query)."""
    transition = TRANSITIONS[action]
    if not actor.can(transition.permission):
        raise Forbidden(_l("Your role does not allow “%(action)s” on appeals.", action=transition.title))
    if appeal.status not in transition.sources:
        raise NotAllowedNow(
            _l(
                "“%(action)s” is not possible while the appeal is “%(status)s”.",
                action=transition.title,
                status=appeal.status_title,
            )
        )
    if is_duplicate(appeal) and action not in DUPLICATE_ACTIONS:
        raise NotAllowedNow(_l("This appeal is a duplicate: handle the original appeal instead."))
    message = transition.guard(appeal) if transition.guard else None
    if message:
        raise NotAllowedNow(message)
    return transition


def allowed_actions(session, actor, appeal):
    """The actions `actor` may take on `appeal` now, in table order (for the buttons)."""
    try:
        scope.check_writable(session, appeal)
    except DomainError:
        return []
    out = []
    for action in TRANSITIONS:
        try:
            _gate(actor, appeal, action)
        except DomainError:
            continue
        out.append(action)
    return out


def _event(session, actor, appeal, action, from_status=None, **fields):
    event = AppealEvent(
        action=action,
        from_status=from_status,
        to_status=appeal.status,
        at=now(),
        actor_id=actor.user_id,
        actor_name=actor.name,
        **fields,
    )
    event.appeal = appeal  # no load of the whole timeline
    session.add(event)
    return event


def _move(session, actor, appeal, action, transition, **fields):
    """Change the state as the table says and write the timeline event."""
    before = appeal.status
    if transition.target is not None:
        appeal.status = transition.target
    return _event(session, actor, appeal, action, from_status=before, **fields)
