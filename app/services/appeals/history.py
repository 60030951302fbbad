"""Historical appeals, typed in from a clerk's Excel ledger: checked as the workflow would
have left them, numbered in their registration month."""

from __future__ import annotations

import datetime as dt
import logging

from flask_babel import lazy_gettext as _l

from app.core.clock import now, today
from app.core.errors import DomainError, Forbidden
from app.models.appeals import (
    CLOSED_STATUSES,
    EvaluationSource,
    Satisfaction,
    Status,
)
from app.models.grids import Grid
from app.services.appeals.actors import ARCHIVE, ASSIGN, EVALUATE, HANDLE, WRITE
from app.services.appeals.deadlines import compute_due_date
from app.services.appeals.numbering import format_number, next_sequence, reserve_number
from app.services.appeals.registration import reported_by_grid, validate_registration
from app.services.appeals.workflow import _event
from app.services.validators import clean_text

HISTORY_PERMISSIONS = {
    Status.REGISTERED: (WRITE,),
    Status.ASSIGNED: (WRITE, ASSIGN),
    Status.IN_PROGRESS: (WRITE, ASSIGN, HANDLE),
    Status.ANSWERED: (WRITE, HANDLE),
    Status.EVALUATED: (WRITE, HANDLE, EVALUATE),
    Status.ARCHIVED: (WRITE, HANDLE, EVALUATE, ARCHIVE),
}

log = logging.getLogger(__name__)


def prepare_historical_appeal(session, actor, appeal, registered_at, status, closed_on=None):
    """Check a historical appeal and set what the workflow would have set.

    `appeal` carries the registration fields, and for a closed case the reply
    (feedback), the satisfaction and its comment, the handling unit. The
    deadline comes from the registration date and importance as for any
    appeal; 按期办结 compares the closing date with it. Does not number it (see
    `number_historical_appeals`) and does not commit. Raises DomainError.
    """
    if status not in HISTORY_PERMISSIONS:
        raise DomainError(_l("Choose the status of the appeal."), field="status")
    missing = [p for p in HISTORY_PERMISSIONS[status] if not actor.can(p)]
    if missing:
        raise Forbidden(
            _l("Your role cannot record an appeal that is already “%(status)s”.", status=Status.label_of(status)),
            field="status",
        )
    validate_registration(session, appeal)
    if registered_at is None:
        raise DomainError(_l("Enter the registration date."), field="registered_at")
    if registered_at > now():
        raise DomainError(
            _l("The registration date %(date)s is in the future.", date=registered_at.date().isoformat()),
            field="registered_at",
        )
    appeal.registered_at = registered_at
    appeal.status = status
    appeal.due_date = compute_due_date(registered_at.date(), appeal.importance)
    appeal.origin_grid = appeal.grid or session.get(Grid, appeal.grid_id)
    appeal.filed_by_id = actor.user_id
    appeal.filed_by_name = clean_text(appeal.filed_by_name) or actor.name
    appeal.reported_by_grid = reported_by_grid(session, actor.user_id, appeal.origin_grid)
    appeal.extension_count = appeal.escalation_count = 0
    appeal.supervised = False
    appeal.handler_unit = clean_text(appeal.handler_unit)
    appeal.feedback = clean_text(appeal.feedback)
    appeal.evaluation_comment = clean_text(appeal.evaluation_comment)
    closed = status in CLOSED_STATUSES
    if status in (Status.ASSIGNED, Status.IN_PROGRESS) and not appeal.handler_unit:
        raise DomainError(_l("Enter the unit or person the appeal was handed to."), field="handler_unit")
    if appeal.handler_unit:
        appeal.assigned_at = registered_at
    if not closed:
        for name in ("feedback", "satisfaction", "evaluation_comment"):
            if getattr(appeal, name):
                raise DomainError(
                    _l("An appeal still open has no reply or evaluation yet: leave this empty or change the status."),
                    field=name,
                )
        if closed_on is not None:
            raise DomainError(
                _l("An appeal still open has no reply or evaluation yet: leave this empty or change the status."),
                field="closed_on",
            )
        return appeal
    if not appeal.feedback:
        raise DomainError(_l("Enter the reply given to the reporter."), field="feedback")
    if closed_on is None:
        raise DomainError(_l("Enter the date the reply was given."), field="closed_on")
    if closed_on < registered_at.date() or closed_on > today():
        raise DomainError(
            _l("The reply date must lie between the registration date %(start)s and today.",
               start=registered_at.date().isoformat()),
            field="closed_on",
        )  # fmt: skip
    closed_at = dt.datetime.combine(closed_on, dt.time())
    appeal.closed_at = max(closed_at, registered_at)
    appeal.closed_on_time = closed_on <= appeal.due_date
    appeal.feedback_by_name = appeal.handler_unit or appeal.filed_by_name
    if appeal.satisfaction is None:
        if status in (Status.EVALUATED, Status.ARCHIVED):
            raise DomainError(_l("Choose satisfied, basically satisfied or unsatisfied."), field="satisfaction")
        if appeal.evaluation_comment:
            raise DomainError(_l("Choose satisfied, basically satisfied or unsatisfied."), field="satisfaction")
        return appeal
    if appeal.satisfaction not in Satisfaction.codes():
        raise DomainError(_l("Choose satisfied, basically satisfied or unsatisfied."), field="satisfaction")
    if appeal.satisfaction == Satisfaction.UNSATISFIED and not appeal.evaluation_comment:
        raise DomainError(_l("Record why the reporter is not satisfied."), field="evaluation_comment")
    if status == Status.ANSWERED:  # a reply that was judged is 已评议
        appeal.status = Status.EVALUATED
    appeal.evaluation_source = EvaluationSource.REPORTER
    appeal.evaluated_at = appeal.closed_at
    if appeal.status == Status.ARCHIVED:
        appeal.archived_at = appeal.closed_at
    return appeal


def number_historical_appeals(session, actor, appeals):
    """Number the checked historical appeals and write their "imported" event.

    A hand-typed number (appeal.number set) is claimed first, moving its month's
    counter past it; the others get the next numbers of their registration
    month, in date order, exactly as the registration form would have. Returns
    [(appeal, DomainError)] for numbers taken meanwhile (then roll back).
    """
    errors = []
    with session.no_autoflush:
        for appeal in appeals:
            if appeal.number:
                try:
                    reserve_number(session, appeal.number_month, appeal.number_seq)
                except DomainError as err:
                    errors.append((appeal, err))
        if errors:
            return errors
        for appeal in sorted((a for a in appeals if not a.number), key=lambda a: a.registered_at):
            month = appeal.registered_at.strftime("%Y%m")
            appeal.number_month = month
            appeal.number_seq = next_sequence(session, month)
            appeal.number = format_number(month, appeal.number_seq)
        for appeal in appeals:
            note = str(_l("Registered on %(date)s; recorded from the ledger as “%(status)s”.",
                          date=appeal.registered_at.date().isoformat(), status=Status.label_of(appeal.status)))  # fmt: skip
            _event(session, actor, appeal, "import", note=note, handler_text=appeal.handler_unit)
    return errors
