"""Appeals: registration and numbering, the handling workflow, deadlines, reminders.

"件件有着落、事事有回音": every appeal gets a number, an owner and a deadline, and
every step is an AppealEvent (who, when, what, note).

* The workflow is the TRANSITIONS table below: for each action, the states it
  may start from, the state it leads to, the permission it needs, and an extra
  condition. `check_action()` is the one place that enforces it, in this order:
  scope (404), role (403), state (400); then each verb checks its input (422).
* Permissions are extras on the "Appeal" resource (can_assign, can_handle ...).
  Services take an `Actor` (name, user, permissions) instead of a request; the
  views build it from the logged-in user (app.views.appeals.current_actor).
* Deadlines: due date = registration date + APPEAL_DAYS_GENERAL/IMPORTANT days,
  moved only by an approved extension. Overdue / due soon are defined once here
  (`due_state`, `overdue_clause`, `due_soon_clause`).
* Registration numbers: see `next_sequence()`.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass, field

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, func, select, update
from sqlalchemy.exc import OperationalError

from app.core.clock import now, today
from app.core.errors import DomainError, Forbidden, NotFound
from app.models.appeals import (
    Appeal,
    AppealCounter,
    AppealEvent,
    EvaluationSource,
    Importance,
    Satisfaction,
    Status,
)
from app.models.grids import Grid
from app.models.lookups import AppealCategory, AppealChannel
from app.models.personnel import Person
from app.services import scope
from app.services.validators import clean_text, normalize_id_number, normalize_phone, require

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------
# Who acts: an actor and the permissions of the "Appeal" resource
# --------------------------------------------------------------------------

RESOURCE = "Appeal"
READ, WRITE = "read", "write"
ASSIGN = "assign"  # 交办, 重新交办
HANDLE = "handle"  # 开始办理, 当场解决, 反馈, 上报, 申请延期
EVALUATE = "evaluate"  # 评议 (record the reporter's or a review's judgement)
ARCHIVE = "archive"  # 归档
SUPERVISE = "supervise"  # 督办 (leaders)
APPROVE = "approve"  # 审批延期 (leaders)
ACTION_PERMISSIONS = (ASSIGN, HANDLE, EVALUATE, ARCHIVE, SUPERVISE, APPROVE)
PERMISSIONS = (READ, WRITE) + ACTION_PERMISSIONS


@dataclass(frozen=True)
class Actor:
    """Who performs a step: the name printed on the timeline and forms, the login
    (if any) and the Appeal permissions (without the "can_" prefix)."""

    name: str
    permissions: frozenset = field(default_factory=frozenset)
    user_id: int | None = None

    def can(self, permission):
        return permission in self.permissions


def system_actor(name="系统"):
    """For the CLI and the demo: every permission, no login."""
    return Actor(name=name, permissions=frozenset(PERMISSIONS))


# --------------------------------------------------------------------------
# The workflow
# --------------------------------------------------------------------------

S = Status


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
    if appeal.status == S.EVALUATED and appeal.satisfaction != Satisfaction.UNSATISFIED:
        return _l("Only an appeal judged unsatisfactory can be handed out again after evaluation.")
    return None


def is_duplicate(appeal):
    """Marked as a duplicate (also before the link is flushed)."""
    return appeal.duplicate_of_id is not None or appeal.__dict__.get("duplicate_of") is not None


def _evaluated_or_duplicate(appeal):
    if appeal.status != S.EVALUATED and not is_duplicate(appeal):
        return _l("An appeal is archived after its evaluation (or as a duplicate of another).")
    return None


def _not_a_duplicate_yet(appeal):
    if is_duplicate(appeal):
        return _l("This appeal is already marked as a duplicate.")
    return None


NOT_ARCHIVED = frozenset(s for s in S.ORDER if s != S.ARCHIVED)

TRANSITIONS = {
    "assign": Transition(frozenset({S.REGISTERED, S.ESCALATED}), S.ASSIGNED, ASSIGN, _l("Assign")),
    "start": Transition(frozenset({S.ASSIGNED}), S.IN_PROGRESS, HANDLE, _l("Start handling")),
    "resolve_on_spot": Transition(frozenset({S.REGISTERED}), S.ANSWERED, HANDLE, _l("Resolved on the spot")),
    "escalate": Transition(
        frozenset({S.REGISTERED, S.ESCALATED, S.ASSIGNED, S.IN_PROGRESS}), S.ESCALATED, HANDLE, _l("Escalate")
    ),
    "extend": Transition(
        frozenset({S.ASSIGNED, S.IN_PROGRESS}), None, HANDLE, _l("Request an extension"), _no_pending_extension
    ),
    "approve_extension": Transition(
        frozenset({S.ASSIGNED, S.IN_PROGRESS}), None, APPROVE, _l("Decide on the extension"), _needs_pending_extension
    ),
    "feedback": Transition(frozenset({S.ASSIGNED, S.IN_PROGRESS}), S.ANSWERED, HANDLE, _l("Give feedback")),
    "evaluate": Transition(frozenset({S.ANSWERED}), S.EVALUATED, EVALUATE, _l("Evaluate")),
    "archive": Transition(NOT_ARCHIVED, S.ARCHIVED, ARCHIVE, _l("Archive"), _evaluated_or_duplicate),
    "supervise": Transition(NOT_ARCHIVED, None, SUPERVISE, _l("Supervise")),
    "reassign": Transition(
        frozenset({S.ASSIGNED, S.IN_PROGRESS, S.ANSWERED, S.EVALUATED}),
        S.ASSIGNED,
        ASSIGN,
        _l("Return and reassign"),
        _reopen_only_if_unsatisfied,
    ),
    "duplicate": Transition(
        frozenset({S.REGISTERED, S.ESCALATED}), None, WRITE, _l("Mark as duplicate"), _not_a_duplicate_yet
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


# --------------------------------------------------------------------------
# Deadlines
# --------------------------------------------------------------------------


def days_allowed(importance):
    """Days to handle and answer an appeal (seeds 001, 002: 一般 one week, 重要 one month)."""
    key = "APPEAL_DAYS_IMPORTANT" if importance == Importance.IMPORTANT else "APPEAL_DAYS_GENERAL"
    return int(current_app.config[key])


def compute_due_date(registered_on, importance):
    return registered_on + dt.timedelta(days=days_allowed(importance))


def _soon_days():
    return int(current_app.config["APPEAL_DUE_SOON_DAYS"])


def due_state(appeal, on=None):
    """ "overdue", "due_soon" or None. Only open appeals (no reply yet, not a
    duplicate) run against their deadline; the deadline day itself is in time."""
    if appeal.status not in S.OPEN or is_duplicate(appeal) or appeal.due_date is None:
        return None
    on = on or today()
    if appeal.due_date < on:
        return "overdue"
    if appeal.due_date <= on + dt.timedelta(days=_soon_days()):
        return "due_soon"
    return None


def open_clause():
    return and_(Appeal.status.in_(S.OPEN), Appeal.duplicate_of_id.is_(None))


def overdue_clause(on=None):
    """SQL twin of due_state(...) == "overdue"."""
    return and_(open_clause(), Appeal.due_date < (on or today()))


def due_soon_clause(on=None):
    """SQL twin of due_state(...) == "due_soon"."""
    on = on or today()
    return and_(open_clause(), Appeal.due_date >= on, Appeal.due_date <= on + dt.timedelta(days=_soon_days()))


def attention_counts(session, where, cache_key=None):
    """Overdue, due soon, supervised-and-open and extensions awaiting approval, in one query
    (reused for COUNTS_CACHE_SECONDS under `cache_key`, e.g. the scope, when given)."""
    if cache_key is not None:
        from app.core.cache import memo

        return memo(("appeal_attention", today(), cache_key), lambda: attention_counts(session, where))

    def count_if(condition):
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    row = session.execute(
        select(
            count_if(overdue_clause()),
            count_if(due_soon_clause()),
            count_if(and_(open_clause(), Appeal.supervised.is_(True))),
            count_if(and_(open_clause(), Appeal.extension_until.is_not(None))),
            count_if(and_(Appeal.status.in_((S.REGISTERED, S.ESCALATED)), Appeal.duplicate_of_id.is_(None))),
        ).where(where, Appeal.status.in_(S.OPEN))  # each count is of open appeals: an index range, not a scan
    ).one()
    return dict(
        zip(("overdue", "due_soon", "supervised", "extension", "unassigned"), (int(v) for v in row), strict=True)
    )


# --------------------------------------------------------------------------
# Registration and numbering
# --------------------------------------------------------------------------

REGISTRATION_FIELDS = (
    "reporter_name",
    "reporter_address",
    "reporter_unit",
    "reporter_phone",
    "reporter_id_number",
    "content",
    "channel",
    "category",
    "importance",
    "grid",
)
# what may still be corrected once an appeal has been handed out: how to reach
# the reporter, and the category (statistics); never what was reported or where
CORRECTABLE_FIELDS = ("reporter_address", "reporter_unit", "reporter_phone", "reporter_id_number", "category")
FIELD_TITLES = {
    "reporter_name": _l("Reporter"),
    "reporter_address": _l("Home address"),
    "reporter_unit": _l("Work unit"),
    "reporter_phone": _l("Phone"),
    "reporter_id_number": _l("ID number"),
    "content": _l("Content"),
    "channel": _l("Channel"),
    "category": _l("Category"),
    "importance": _l("Importance"),
    "grid": _l("Grid"),
}
REGISTER_ATTEMPTS = 5  # SQLite: a busy database is retried this often before giving up
DB_BUSY = _l("The database is busy. Please submit again.")


def format_number(month, seq):
    """登记编号 = year + month + sequence: "202611001"; the sequence widens past 999."""
    return f"{month}{seq:03d}"


def next_sequence(session, month):
    """The next sequence number of `month` ('YYYYMM'), taken inside the caller's transaction.

    One atomic upsert on the month's counter row: the first registration of a
    month inserts 1, every other one increments. The row stays locked until the
    transaction ends, so concurrent registrations queue on it (PostgreSQL row
    lock; SQLite database write lock, taken up front with BEGIN IMMEDIATE), and a
    rolled-back registration hands its number back: no duplicates, no gaps.
    """
    connection = session.connection()
    dialect = connection.dialect.name
    table = AppealCounter.__table__
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert

        _sqlite_write_lock(connection)
    else:  # pragma: no cover - other databases are not supported targets
        raise RuntimeError(f"registration numbers need PostgreSQL or SQLite, not {dialect}")
    statement = (
        insert(table)
        .values(month=month, last_seq=1)
        .on_conflict_do_update(index_elements=[table.c.month], set_={"last_seq": table.c.last_seq + 1})
        .returning(table.c.last_seq)
    )
    return session.execute(statement).scalar_one()


def _sqlite_write_lock(connection):
    """Take SQLite's write lock before reading the counter (BEGIN IMMEDIATE).

    Python's sqlite3 opens a transaction only at the first write; if nothing was
    written yet in this transaction, start it as IMMEDIATE so the lock is taken
    (waiting up to SQLITE_BUSY_TIMEOUT_MS) before the counter is read.
    """
    raw = connection.connection.dbapi_connection
    if not raw.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _is_busy(exc):
    text = str(getattr(exc, "orig", exc)).lower()
    return "database is locked" in text or "database is busy" in text


def validate_registration(session, appeal):
    """Check and tidy the registration fields of a new or edited appeal."""
    appeal.reporter_name = require(appeal.reporter_name, _l("Enter the reporter's name."), "reporter_name")
    appeal.content = require(appeal.content, _l("Enter what the reporter asks or reports."), "content")
    appeal.reporter_address = clean_text(appeal.reporter_address)
    appeal.reporter_unit = clean_text(appeal.reporter_unit)
    appeal.reporter_phone = normalize_phone(appeal.reporter_phone, field="reporter_phone")
    appeal.reporter_id_number = normalize_id_number(appeal.reporter_id_number, field="reporter_id_number")
    if appeal.importance in (None, ""):
        appeal.importance = Importance.GENERAL
    if appeal.importance not in Importance.ORDER:
        raise DomainError(_l("Choose general or important."), field="importance")
    with session.no_autoflush:
        if _related(session, appeal, "channel", AppealChannel) is None:
            raise DomainError(_l("Choose the collection channel."), field="channel")
        if _related(session, appeal, "category", AppealCategory) is None:
            raise DomainError(_l("Choose the category."), field="category")
        if _related(session, appeal, "grid", Grid) is None:
            raise DomainError(_l("Choose the grid the appeal belongs to."), field="grid")


def _related(session, obj, name, model):
    value = getattr(obj, name)
    if value is None and getattr(obj, f"{name}_id") is not None:
        value = session.get(model, getattr(obj, f"{name}_id"))
    return value


def register_appeal(session, actor, appeal):
    """Register a new appeal: number, deadline, 填表人, first timeline event. COMMITS.

    The number and the record are one transaction; when SQLite is busy the
    whole registration is retried, so a registration is never refused for
    numbering. Raises DomainError (nothing saved) on bad input.
    """
    if not actor.can(WRITE):
        raise Forbidden(_l("Your role does not allow registering appeals."))
    with session.no_autoflush:
        validate_registration(session, appeal)
        scope.check_writable(session, appeal)
    for attempt in range(1, REGISTER_ATTEMPTS + 1):
        try:
            _register_once(session, actor, appeal)
            session.commit()
            return appeal
        except OperationalError as exc:
            session.rollback()
            if not _is_busy(exc):
                raise
            log.warning("registration attempt %s: database busy", attempt)
    raise DomainError(DB_BUSY)


def _register_once(session, actor, appeal):
    appeal.events = []  # a retried attempt starts over
    moment = now()
    month = moment.strftime("%Y%m")
    seq = next_sequence(session, month)
    appeal.number_month = month
    appeal.number_seq = seq
    appeal.number = format_number(month, seq)
    appeal.registered_at = moment
    appeal.status = S.REGISTERED
    appeal.due_date = compute_due_date(moment.date(), appeal.importance)
    appeal.origin_grid = appeal.grid or session.get(Grid, appeal.grid_id)
    appeal.filed_by_id = actor.user_id
    appeal.filed_by_name = actor.name
    appeal.extension_count = 0
    appeal.escalation_count = 0
    appeal.supervised = False
    session.add(appeal)
    _event(session, actor, appeal, "register", note=_source_note(appeal))
    session.flush()


def _source_note(appeal):
    """The register event says where the appeal came from, so the timeline tells the whole story."""
    if appeal.visit is not None:
        return str(_l("Raised during the visit to %(name)s on %(date)s.", name=appeal.visit.visited_name,
                      date=appeal.visit.visit_date.isoformat()))  # fmt: skip
    if appeal.contact_record is not None:
        record = appeal.contact_record
        return str(_l("Passed on by representative %(name)s from the contact with voters on %(date)s.",
                      name=record.representative.person.name, date=record.contact_date.isoformat()))  # fmt: skip
    return None


# --------------------------------------------------------------------------
# Historical appeals (imported from a clerk's Excel ledger)
# --------------------------------------------------------------------------

# the state an imported appeal may be in, and the permissions reaching it needs
HISTORY_PERMISSIONS = {
    S.REGISTERED: (WRITE,),
    S.ASSIGNED: (WRITE, ASSIGN),
    S.IN_PROGRESS: (WRITE, ASSIGN, HANDLE),
    S.ANSWERED: (WRITE, HANDLE),
    S.EVALUATED: (WRITE, HANDLE, EVALUATE),
    S.ARCHIVED: (WRITE, HANDLE, EVALUATE, ARCHIVE),
}


def parse_number(text, field_name="number"):
    """A registration number typed by hand: "202301005" -> ("202301", 5), or DomainError."""
    text = clean_text(text)
    match = re.fullmatch(r"(\d{4})(\d{2})(\d{3,})", text or "")
    bad = DomainError(
        _l("%(value)s is not a registration number: year, month and a sequence of 3 digits, like 202301005.",
           value=text),
        field=field_name,
    )  # fmt: skip
    if match is None:
        raise bad
    year, month, seq = int(match[1]), int(match[2]), int(match[3])
    if not (1990 <= year <= 2100 and 1 <= month <= 12 and seq >= 1):
        raise bad
    ym = f"{year:04d}{month:02d}"
    if format_number(ym, seq) != text:  # "2023010005": the sequence has a needless leading zero
        raise bad
    return ym, seq


def number_in_use(session, month, seq):
    """Whether the number (month, seq) belongs to an appeal or was handed out already.

    The counter of a month is the last number handed out; every number up to it
    belongs to an appeal (a rolled-back registration gives its number back), so
    one at or below it can never be given again, not even by an import.
    """
    with session.no_autoflush:
        taken = session.scalar(select(Appeal.id).where(Appeal.number_month == month, Appeal.number_seq == seq).limit(1))
        last = session.scalar(select(AppealCounter.last_seq).where(AppealCounter.month == month)) or 0
    return taken is not None or seq <= last


def reserve_number(session, month, seq, field_name="number"):
    """Claim the hand-typed number (month, seq) inside the caller's transaction.

    The month's counter row is locked first (the same upsert registrations use),
    then moved up to `seq`, so later registrations of that month continue after
    it and never hand it out again. Raises DomainError if it is taken meanwhile.
    """
    connection = session.connection()
    table = AppealCounter.__table__
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert

        _sqlite_write_lock(connection)
    statement = (
        insert(table)
        .values(month=month, last_seq=0)
        .on_conflict_do_update(index_elements=[table.c.month], set_={"last_seq": table.c.last_seq})
        .returning(table.c.last_seq)
    )
    last = session.execute(statement).scalar_one()
    if seq <= last:
        raise DomainError(
            _l("The registration number %(number)s is already used.", number=format_number(month, seq)),
            field=field_name,
        )
    session.execute(update(table).where(table.c.month == month).values(last_seq=seq))


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
            _l("Your role cannot record an appeal that is already “%(status)s”.", status=Status.TITLES[status]),
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
    appeal.extension_count = appeal.escalation_count = 0
    appeal.supervised = False
    appeal.handler_unit = clean_text(appeal.handler_unit)
    appeal.feedback = clean_text(appeal.feedback)
    appeal.evaluation_comment = clean_text(appeal.evaluation_comment)
    closed = status in S.CLOSED
    if status in (S.ASSIGNED, S.IN_PROGRESS) and not appeal.handler_unit:
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
        if status in (S.EVALUATED, S.ARCHIVED):
            raise DomainError(_l("Choose satisfied, basically satisfied or unsatisfied."), field="satisfaction")
        if appeal.evaluation_comment:
            raise DomainError(_l("Choose satisfied, basically satisfied or unsatisfied."), field="satisfaction")
        return appeal
    if appeal.satisfaction not in Satisfaction.ORDER:
        raise DomainError(_l("Choose satisfied, basically satisfied or unsatisfied."), field="satisfaction")
    if appeal.satisfaction == Satisfaction.UNSATISFIED and not appeal.evaluation_comment:
        raise DomainError(_l("Record why the reporter is not satisfied."), field="evaluation_comment")
    if status == S.ANSWERED:  # a reply that was judged is 已评议
        appeal.status = S.EVALUATED
    appeal.evaluation_source = EvaluationSource.REPORTER
    appeal.evaluated_at = appeal.closed_at
    if appeal.status == S.ARCHIVED:
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
                          date=appeal.registered_at.date().isoformat(), status=Status.TITLES[appeal.status]))  # fmt: skip
            _event(session, actor, appeal, "import", note=note, handler_text=appeal.handler_unit)
    return errors


RELATED_FIELDS = {"channel": AppealChannel, "category": AppealCategory, "grid": Grid}


def registration_changes(session, appeal):
    """{field: [old, new]} of the registration fields, compared with the stored row
    (names for related records, codes for importance, text otherwise)."""
    if appeal.id is None:
        return {}
    table = Appeal.__table__
    with session.no_autoflush:
        stored = session.execute(select(table).where(table.c.id == appeal.id)).mappings().one()
        changes = {}
        for name in REGISTRATION_FIELDS:
            if name in RELATED_FIELDS:
                model = RELATED_FIELDS[name]
                new = getattr(appeal, name)
                new_id = new.id if new is not None else getattr(appeal, f"{name}_id")
                old_id = stored[f"{name}_id"]
                if new_id != old_id:
                    old = session.get(model, old_id) if old_id is not None else None
                    changes[name] = [old.name if old else "", new.name if new is not None else ""]
            else:
                old, new = stored[name], getattr(appeal, name)
                if (old or None) != (new or None):
                    changes[name] = [old or "", new or ""]
    return changes


def registration_locked(appeal):
    """Once handed out, only contact details and the category may be corrected."""
    return appeal.status not in (S.REGISTERED, S.ESCALATED)


def update_registration(session, actor, appeal, note=None):
    """Check an edit of an existing appeal's registration fields and record it.

    Call it before anything flushes the edit (the changes are found by comparing
    with the stored row); the views and the API do so under no_autoflush.

    Before assignment every field may be corrected (a new importance moves the
    deadline, a new grid moves the case); afterwards only CORRECTABLE_FIELDS;
    an archived appeal not at all. Each correction is an event with old → new.
    """
    if not actor.can(WRITE):
        raise Forbidden(_l("Your role does not allow correcting appeals."))
    with session.no_autoflush:
        validate_registration(session, appeal)
        changes = registration_changes(session, appeal)
        if not changes:
            return None
        if appeal.status == S.ARCHIVED:
            raise NotAllowedNow(_l("An archived appeal can no longer be changed."))
        if registration_locked(appeal):
            locked = [name for name in changes if name not in CORRECTABLE_FIELDS]
            if locked:
                raise DomainError(
                    _l(
                        "Once an appeal is assigned only the reporter's address, work unit, phone, "
                        "ID number and the category can be corrected (not: %(fields)s).",
                        fields="、".join(str(FIELD_TITLES[name]) for name in locked),
                    ),
                    field=locked[0],
                )
        if "importance" in changes and appeal.extension_count == 0:
            appeal.due_date = compute_due_date(appeal.registered_at.date(), appeal.importance)
        if "grid" in changes and appeal.escalation_count == 0:
            appeal.origin_grid = appeal.grid
        scope.check_writable(session, appeal)
    return _event(
        session,
        actor,
        appeal,
        "edit",
        from_status=appeal.status,
        note=clean_text(note),
        data=changes,
    )


# --------------------------------------------------------------------------
# The workflow steps (verb_noun), each through check_action()
# --------------------------------------------------------------------------


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


def assign_appeal(session, actor, appeal, handler_person=None, handler_unit=None, note=None):
    """交办: hand the appeal to a person and/or a unit (谁接访、谁负责、谁处理)."""
    transition = check_action(session, actor, appeal, "assign")
    handler_unit = clean_text(handler_unit)
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
    if appeal.status in S.CLOSED:
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
    if result not in Satisfaction.ORDER:
        raise DomainError(_l("Choose satisfied, basically satisfied or unsatisfied."), field="result")
    source = source or EvaluationSource.REPORTER
    if source not in EvaluationSource.ORDER:
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


# --------------------------------------------------------------------------
# One entry point for the pages and the API: an action name and its input
# --------------------------------------------------------------------------


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
    try:
        pk = int(value)
    except (TypeError, ValueError):
        raise DomainError(_l("Choose a valid record."), field=field_name) from None
    obj = session.get(model, pk)
    if obj is None or not scope.visible(session, model, pk):
        raise NotFound(scope.RECORD_OUT_OF_SCOPE, field=field_name)
    return obj


def find_visible_appeal(session, number_or_id, field_name="original"):
    """An appeal by its number (or id) within the current scope; NotFound otherwise."""
    text = clean_text(str(number_or_id)) if number_or_id not in (None, "") else None
    if text is None:
        return None
    appeal = session.scalar(select(Appeal).where(Appeal.number == text, scope.clause_for(Appeal)))
    if appeal is None and text.isdigit() and len(text) < 9:
        appeal = session.scalar(select(Appeal).where(Appeal.id == int(text), scope.clause_for(Appeal)))
    if appeal is None:
        raise NotFound(_l("There is no appeal %(number)s within your jurisdiction.", number=text), field=field_name)
    return appeal


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


# --------------------------------------------------------------------------
# Timeline and reminders
# --------------------------------------------------------------------------


def timeline(session, appeal):
    """The appeal's events, oldest first, with grid names and related numbers
    resolved in two queries (not one per event)."""
    events = session.scalars(
        select(AppealEvent).where(AppealEvent.appeal_id == appeal.id).order_by(AppealEvent.at, AppealEvent.id)
    ).all()
    grid_ids = {i for e in events for i in (e.from_grid_id, e.to_grid_id) if i}
    related_ids = {e.related_appeal_id for e in events if e.related_appeal_id}
    grids = dict(session.execute(select(Grid.id, Grid.name).where(Grid.id.in_(grid_ids))).all()) if grid_ids else {}
    numbers = (
        dict(session.execute(select(Appeal.id, Appeal.number).where(Appeal.id.in_(related_ids))).all())
        if related_ids
        else {}
    )
    out = []
    for event in events:
        out.append(
            {
                "event": event,
                "title": EVENT_TITLES.get(event.action, event.action),
                "from_grid": grids.get(event.from_grid_id),
                "to_grid": grids.get(event.to_grid_id),
                "related_number": numbers.get(event.related_appeal_id),
                "from_status": Status.TITLES.get(event.from_status) if event.from_status else None,
                "to_status": Status.TITLES.get(event.to_status) if event.to_status else None,
                "result": RESULT_TITLES.get(event.result) if event.result else None,
            }
        )
    return out


RESULT_TITLES = {
    **Satisfaction.TITLES,
    "approved": _l("Approved"),
    "rejected": _l("Rejected"),
}


def duplicates_of(session, appeal):
    return session.scalars(select(Appeal).where(Appeal.duplicate_of_id == appeal.id).order_by(Appeal.id)).all()


@dataclass
class ReminderGroup:
    """The overdue and due-soon appeals of one handler (or of a grid, while unassigned)."""

    title: str
    email: str | None
    items: list = field(default_factory=list)  # (appeal, "overdue" | "due_soon", days)


def reminders(session, on=None):
    """Open appeals that are overdue or due within APPEAL_DUE_SOON_DAYS, grouped by
    handler: the person (with the email of their login), else the unit, else
    "unassigned in <grid>". One query."""
    from flask_appbuilder.security.sqla.models import User

    on = on or today()
    rows = session.execute(
        select(Appeal, User.email)
        .outerjoin(Person, Appeal.handler_person_id == Person.id)
        .outerjoin(User, Person.user_id == User.id)
        .where(open_clause(), Appeal.due_date <= on + dt.timedelta(days=_soon_days()))
        .order_by(Appeal.due_date, Appeal.number_month, Appeal.number_seq)
    ).all()
    groups = {}
    for appeal, email in rows:
        if appeal.handler_person is not None:
            key = ("person", appeal.handler_person_id)
            title = _handler_text(appeal.handler_person, appeal.handler_unit)
        elif appeal.handler_unit:
            key, title, email = ("unit", appeal.handler_unit), appeal.handler_unit, None
        else:
            key = ("grid", appeal.grid_id)
            title = str(_l("Not yet assigned: %(grid)s", grid=appeal.grid.name))
            email = None
        group = groups.setdefault(key, ReminderGroup(title=title, email=email or None))
        state = due_state(appeal, on)
        group.items.append((appeal, state, (appeal.due_date - on).days))
    return sorted(groups.values(), key=lambda g: (-sum(1 for i in g.items if i[1] == "overdue"), g.title))


def _reminder_line(appeal, state, days):
    if state == "overdue":
        when = str(_l("overdue by %(n)s day(s)", n=-days))
    elif days == 0:
        when = str(_l("due today"))
    else:
        when = str(_l("due in %(n)s day(s)", n=days))
    summary = " ".join(appeal.content.split())[:40]
    return f"  {appeal.number}  {when}  {_l('Deadline')} {appeal.due_date.isoformat()}  {appeal.grid.name}  {appeal.reporter_name}：{summary}"


def reminder_texts(groups, on=None):
    """(the whole report, {group index: that group's text}) as plain text, for print and mail."""
    on = on or today()
    overdue = sum(1 for g in groups for item in g.items if item[1] == "overdue")
    soon = sum(1 for g in groups for item in g.items if item[1] != "overdue")
    head = str(_l("Appeal deadlines on %(date)s: %(overdue)s overdue, %(soon)s due soon.", date=on.isoformat(),
                  overdue=overdue, soon=soon))  # fmt: skip
    parts = [head]
    per_group = {}
    for index, group in enumerate(groups):
        title = group.title + (f" <{group.email}>" if group.email else "")
        lines = [f"== {title} =="] + [_reminder_line(*item) for item in group.items]
        per_group[index] = "\n".join(lines)
        parts.append(per_group[index])
    return "\n".join(parts), per_group


def send_reminders(groups, on=None):
    """Mail each handler with a login e-mail their own list, and the whole report to
    APPEAL_REMIND_SUMMARY_TO. Returns the number of mails sent (0 without MAIL_SERVER)."""
    from app.core.mail import send_mails

    on = on or today()
    report, per_group = reminder_texts(groups, on)
    messages = []
    for index, group in enumerate(groups):
        if group.email:
            overdue = sum(1 for item in group.items if item[1] == "overdue")
            subject = str(_l("Appeals to handle: %(overdue)s overdue, %(total)s in all", overdue=overdue,
                             total=len(group.items)))  # fmt: skip
            messages.append((group.email, subject, per_group[index]))
    for address in current_app.config.get("APPEAL_REMIND_SUMMARY_TO") or []:
        messages.append((address, str(_l("Appeal deadlines on %(date)s", date=on.isoformat())), report))
    return send_mails(messages)
