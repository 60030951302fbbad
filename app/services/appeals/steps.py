"""The workflow steps (verb_noun), each through `check_action()`, and `perform()`: one entry
point for the pages and the API (an action name and its input)."""

from __future__ import annotations

import datetime as dt

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import update

from app.core.clock import now, today
from app.core.errors import DomainError, NotFound
from app.core.inputs import parse_id
from app.models.appeals import (
    CLOSED_STATUSES,
    Appeal,
    EvaluationSource,
    Satisfaction,
)
from app.models.personnel import Person
from app.services import scope
from app.services.appeals.queries import find_visible_appeal
from app.services.appeals.workflow import NotAllowedNow, _event, _move, check_action
from app.services.validators import clean_text, require


def _handler_text(person, unit):
    parts = [person.name if person is not None else None, unit]
    return " · ".join(p for p in parts if p) or None


def _check_handler(person, unit):
    if person is None and not unit:
        raise DomainError(_l("Choose the handling person or enter the handling unit."), field="handler_person")
    if person is not None and not person.active:
        raise DomainError(
            _l("%(name)s is marked inactive and cannot handle appeals.", name=person.name), field="handler_person"
        )


def default_handler(appeal):
    """访办一体 (seeds 001, 002: 谁接访、谁负责、谁处理): the person an appeal raised from a visit
    or a representative's contact record is handed to unless someone else is chosen — the
    (first active) visitor, or the representative. None for other appeals."""
    if appeal.visit is not None:
        return next((p for p in appeal.visit.visitors if p.active), None)
    if appeal.contact_record is not None:
        person = appeal.contact_record.representative.person
        return person if person.active else None
    return None


def assign_appeal(session, actor, appeal, handler_person=None, handler_unit=None, note=None):
    """交办: hand the appeal to a person and/or a unit (谁接访、谁负责、谁处理). Neither given: the
    visitor or representative it was raised from (`default_handler`)."""
    transition = check_action(session, actor, appeal, "assign")
    handler_unit = clean_text(handler_unit)
    if handler_person is None and not handler_unit:
        handler_person = default_handler(appeal)
    _check_handler(handler_person, handler_unit)
    appeal.handler_person = handler_person
    appeal.handler_unit = handler_unit
    appeal.assigned_at = now()
    return _move(
        session, actor, appeal, "assign", transition, note=clean_text(note),
        handler_text=_handler_text(handler_person, handler_unit),
    )  # fmt: skip


def reassign_appeal(session, actor, appeal, handler_person=None, handler_unit=None, reason=None):
    """退回/重新交办: another handler; a reply judged unsatisfactory is reopened."""
    transition = check_action(session, actor, appeal, "reassign")
    reason = require(reason, _l("Give the reason for reassigning."), "note")
    handler_unit = clean_text(handler_unit)
    _check_handler(handler_person, handler_unit)
    if appeal.status in CLOSED_STATUSES:
        _reopen(appeal)
    appeal.handler_person = handler_person
    appeal.handler_unit = handler_unit
    appeal.assigned_at = now()
    return _move(
        session, actor, appeal, "reassign", transition, note=reason,
        handler_text=_handler_text(handler_person, handler_unit),
    )  # fmt: skip


def _reopen(appeal):
    appeal.feedback = None
    appeal.feedback_by_name = None
    appeal.closed_at = None
    appeal.closed_on_time = None
    appeal.satisfaction = None
    appeal.evaluation_source = None
    appeal.evaluators = None
    appeal.evaluation_comment = None
    appeal.evaluated_at = None


def start_appeal(session, actor, appeal, note=None):
    """办理: the handler has taken the case up."""
    transition = check_action(session, actor, appeal, "start")
    return _move(session, actor, appeal, "start", transition, note=clean_text(note))


def _close(appeal, actor, reply):
    moment = now()
    appeal.feedback = reply
    appeal.feedback_by_name = actor.name
    appeal.closed_at = moment
    appeal.closed_on_time = moment.date() <= appeal.due_date
    appeal.extension_until = appeal.extension_reason = appeal.extension_progress = None


def resolve_appeal_on_spot(session, actor, appeal, reply=None, note=None):
    """当场解决: answered at registration, straight to feedback."""
    transition = check_action(session, actor, appeal, "resolve_on_spot")
    reply = require(reply, _l("Enter the reply given to the reporter."), "reply")
    _close(appeal, actor, reply)
    return _move(session, actor, appeal, "resolve_on_spot", transition, note=clean_text(note))


def give_feedback(session, actor, appeal, reply=None, note=None):
    """反馈: the reply to the reporter; the appeal counts as closed (办结) from now."""
    transition = check_action(session, actor, appeal, "feedback")
    reply = require(reply, _l("Enter the reply given to the reporter."), "reply")
    _close(appeal, actor, reply)
    return _move(session, actor, appeal, "feedback", transition, note=clean_text(note))


def escalate_appeal(session, actor, appeal, reason=None):
    """上报: beyond this level's power, the case moves to the parent grid (村→乡镇→县).

    The handler is cleared (the higher level assigns anew), the deadline keeps
    running, and the event keeps where it came from. The move itself goes
    through one UPDATE after the event is flushed: the parent grid is usually
    outside the escalating user's scope, which the write backstop (rightly)
    refuses for ordinary edits; here the service has checked the step and the
    target is exactly the parent grid.
    """
    transition = check_action(session, actor, appeal, "escalate")
    reason = require(reason, _l("Give the reason for escalating."), "note")
    with session.no_autoflush:
        grid = appeal.grid
        parent_id = grid.parent_id
    if parent_id is None:
        raise NotAllowedNow(_l("%(grid)s is the top level: there is nowhere to escalate to.", grid=grid.name))
    appeal.escalation_count = (appeal.escalation_count or 0) + 1
    appeal.handler_person = None
    appeal.handler_unit = None
    appeal.assigned_at = None
    appeal.extension_until = appeal.extension_reason = appeal.extension_progress = None
    event = _move(
        session, actor, appeal, "escalate", transition, note=reason, from_grid_id=grid.id, to_grid_id=parent_id
    )
    session.flush()
    session.execute(
        update(Appeal).where(Appeal.id == appeal.id).values(grid_id=parent_id, version=Appeal.version + 1),
        execution_options={"synchronize_session": False},
    )
    session.expire(appeal, ["grid", "grid_id", "version"])
    return event


def _max_extension_days():
    return int(current_app.config["APPEAL_EXTENSION_MAX_DAYS"])


def request_extension(session, actor, appeal, until=None, reason=None, progress=None):
    """延期: the handler asks for a later deadline, stating the reason and the
    progress told to the reporter; a leader decides (approve_extension)."""
    transition = check_action(session, actor, appeal, "extend")
    reason = require(reason, _l("Give the reason for the extension."), "reason")
    progress = require(progress, _l("Describe the progress told to the reporter."), "progress")
    if until is None:
        raise DomainError(_l("Choose the new deadline."), field="until")
    if until <= appeal.due_date or until <= today():
        raise DomainError(
            _l("The new deadline must be after %(date)s and in the future.", date=appeal.due_date.isoformat()),
            field="until",
        )
    limit = appeal.due_date + dt.timedelta(days=_max_extension_days())
    if until > limit:
        raise DomainError(
            _l("An extension may move the deadline to %(date)s at the latest.", date=limit.isoformat()), field="until"
        )
    appeal.extension_until = until
    appeal.extension_reason = reason
    appeal.extension_progress = progress
    return _move(session, actor, appeal, "extend", transition, note=reason, due_date=until, data={"progress": progress})


def approve_extension(session, actor, appeal, approve=True, note=None):
    """A leader approves (the deadline moves) or rejects (a reason is required) an extension."""
    transition = check_action(session, actor, appeal, "approve_extension")
    note = clean_text(note)
    if approve is None:
        raise DomainError(_l("Choose whether to approve the extension."), field="approve")
    if not approve and not note:
        raise DomainError(_l("Give the reason for rejecting the extension."), field="note")
    until = appeal.extension_until
    if approve:
        appeal.due_date = until
        appeal.extension_count = (appeal.extension_count or 0) + 1
    appeal.extension_until = appeal.extension_reason = appeal.extension_progress = None
    return _move(
        session, actor, appeal, "approve_extension", transition, note=note,
        result="approved" if approve else "rejected", due_date=until,
    )  # fmt: skip


def evaluate_appeal(session, actor, appeal, result=None, comment=None, source=None, evaluators=None):
    """评议: 满意 / 基本满意 / 不满意, by the reporter or at a review meeting."""
    transition = check_action(session, actor, appeal, "evaluate")
    if result not in Satisfaction.codes():
        raise DomainError(_l("Choose satisfied, basically satisfied or unsatisfied."), field="result")
    source = source or EvaluationSource.REPORTER
    if source not in EvaluationSource.codes():
        raise DomainError(_l("Choose who evaluated: the reporter or a review meeting."), field="source")
    comment = clean_text(comment)
    evaluators = clean_text(evaluators)
    if source == EvaluationSource.REVIEW and not evaluators:
        raise DomainError(_l("Enter who took part in the review."), field="evaluators")
    if result == Satisfaction.UNSATISFIED and not comment:
        raise DomainError(_l("Record why the reporter is not satisfied."), field="comment")
    appeal.satisfaction = result
    appeal.evaluation_source = source
    appeal.evaluators = evaluators
    appeal.evaluation_comment = comment
    appeal.evaluated_at = now()
    return _move(session, actor, appeal, "evaluate", transition, note=comment, result=result)


def archive_appeal(session, actor, appeal, note=None):
    """归档: the case is done; nothing changes afterwards."""
    transition = check_action(session, actor, appeal, "archive")
    appeal.archived_at = now()
    return _move(session, actor, appeal, "archive", transition, note=clean_text(note))


def supervise_appeal(session, actor, appeal, note=None):
    """督办: a leader's supervision note; the appeal is flagged until archived."""
    transition = check_action(session, actor, appeal, "supervise")
    note = require(note, _l("Enter the supervision note."), "note")
    appeal.supervised = True
    appeal.supervision_note = note
    appeal.supervised_at = now()
    return _move(session, actor, appeal, "supervise", transition, note=note)


def mark_duplicate(session, actor, appeal, original=None, note=None):
    """Link a repeat registration to the appeal that already covers the matter.

    The duplicate stops running against its deadline and waits for archiving;
    both timelines record the link.
    """
    transition = check_action(session, actor, appeal, "duplicate")
    if original is None:
        raise DomainError(_l("Enter the number of the original appeal."), field="original")
    with session.no_autoflush:
        while original.duplicate_of is not None:  # always point at the first registration
            original = original.duplicate_of
    if original.id == appeal.id:
        raise DomainError(_l("An appeal cannot be a duplicate of itself."), field="original")
    appeal.duplicate_of = original
    event = _move(session, actor, appeal, "duplicate", transition, note=clean_text(note), related_appeal_id=original.id)
    _event(session, actor, original, "duplicate_linked", from_status=original.status, related_appeal_id=appeal.id)
    return event


def _parse_date(value, field_name):
    if value in (None, ""):
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise DomainError(_l("Enter a date like 2026-12-31."), field=field_name) from None


def _parse_bool(value):
    if isinstance(value, bool):
        return value
    if value in (None, ""):
        return None
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "y", "on", "approve", "approved"):
        return True
    if text in ("0", "false", "no", "n", "off", "reject", "rejected"):
        return False
    return None


def _load(session, model, value, field_name):
    if value in (None, ""):
        return None
    pk = parse_id(value)
    if pk is None:
        raise DomainError(_l("Choose a valid record."), field=field_name)
    obj = session.get(model, pk)
    if obj is None or not scope.visible(session, model, pk):
        raise NotFound(scope.RECORD_OUT_OF_SCOPE, field=field_name)
    return obj


def perform(session, actor, appeal, action, data=None):
    """Run `action` with form or JSON input `data`; returns the timeline event.

    The gate (scope, role, state) is checked before the input is read, so a
    refused step answers 404/403/400 whatever was sent. Does not commit.
    """
    check_action(session, actor, appeal, action)
    data = data or {}

    def text(key):
        value = data.get(key)
        return clean_text(value) if value is not None else None

    if action in ("assign", "reassign"):
        person = _load(session, Person, data.get("handler_person"), "handler_person")
        if action == "assign":
            return assign_appeal(session, actor, appeal, person, text("handler_unit"), text("note"))
        return reassign_appeal(session, actor, appeal, person, text("handler_unit"), text("note"))
    if action == "start":
        return start_appeal(session, actor, appeal, text("note"))
    if action == "resolve_on_spot":
        return resolve_appeal_on_spot(session, actor, appeal, text("reply"), text("note"))
    if action == "feedback":
        return give_feedback(session, actor, appeal, text("reply"), text("note"))
    if action == "escalate":
        return escalate_appeal(session, actor, appeal, text("note"))
    if action == "extend":
        until = _parse_date(data.get("until"), "until")
        return request_extension(session, actor, appeal, until, text("reason"), text("progress"))
    if action == "approve_extension":
        return approve_extension(session, actor, appeal, _parse_bool(data.get("approve")), text("note"))
    if action == "evaluate":
        return evaluate_appeal(
            session, actor, appeal, text("result"), text("comment"), text("source"), text("evaluators")
        )
    if action == "archive":
        return archive_appeal(session, actor, appeal, text("note"))
    if action == "supervise":
        return supervise_appeal(session, actor, appeal, text("note"))
    if action == "duplicate":
        original = find_visible_appeal(session, data.get("original"))
        return mark_duplicate(session, actor, appeal, original, text("note"))
    raise NotFound(_l("There is no such action."))  # pragma: no cover - check_action refused it
