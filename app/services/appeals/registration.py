"""Registering an appeal from the paper form (民情民意收集登记表), and correcting the
registration afterwards (every correction an event with old → new)."""

from __future__ import annotations

import datetime as dt
import logging

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from app.core.clock import now
from app.core.errors import Collector, DomainError, Forbidden
from app.models.appeals import (
    Appeal,
    Importance,
    Status,
)
from app.models.grids import Grid
from app.models.lookups import AppealCategory, AppealChannel
from app.models.personnel import Person
from app.services import scope
from app.services.appeals.actors import WRITE
from app.services.appeals.deadlines import compute_due_date
from app.services.appeals.numbering import _is_busy, format_number, next_sequence
from app.services.appeals.workflow import NotAllowedNow, _event
from app.services.validators import clean_text, normalize_id_number, normalize_phone, require

# 信访 flags (集体访 with its number of people, 越级访, 重复访, 苗头性): they may be corrected at any time
PETITION_FIELDS = ("petition_collective", "petition_people", "petition_bypass", "petition_repeat", "petition_warning")
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
    *PETITION_FIELDS,
)
# what may still be corrected once an appeal has been handed out: how to reach
# the reporter, and the category (statistics); never what was reported or where
CORRECTABLE_FIELDS = (
    "reporter_address", "reporter_unit", "reporter_phone", "reporter_id_number", "category", *PETITION_FIELDS,
)  # fmt: skip
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
    "petition_collective": _l("Collective petition"),
    "petition_people": _l("Number of people"),
    "petition_bypass": _l("Bypassing a level"),
    "petition_repeat": _l("Repeated petition"),
    "petition_warning": _l("Early warning sign"),
}
REGISTER_ATTEMPTS = 5  # SQLite: a busy database is retried this often before giving up
DB_BUSY = _l("The database is busy. Please submit again.")

log = logging.getLogger(__name__)


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
    if appeal.importance not in Importance.codes():
        raise DomainError(_l("Choose general or important."), field="importance")
    _validate_petition(appeal)
    with session.no_autoflush:
        if _related(session, appeal, "channel", AppealChannel) is None:
            raise DomainError(_l("Choose the collection channel."), field="channel")
        if _related(session, appeal, "category", AppealCategory) is None:
            raise DomainError(_l("Choose the category."), field="category")
        if _related(session, appeal, "grid", Grid) is None:
            raise DomainError(_l("Choose the grid the appeal belongs to."), field="grid")


def _validate_petition(appeal):
    """集体访 needs its number of people (at least 2); the other flags are plain yes/no."""
    for name in ("petition_collective", "petition_bypass", "petition_repeat", "petition_warning"):
        setattr(appeal, name, bool(getattr(appeal, name)))
    if not appeal.petition_collective:
        appeal.petition_people = None
        return
    people = appeal.petition_people
    if people is None or isinstance(people, bool) or not isinstance(people, int) or people < 2:
        raise DomainError(_l("Enter how many people came together (at least 2)."), field="petition_people")


def reported_by_grid(session, user_id, origin_grid):
    """上报: the 填表人 (login `user_id`) is a person of `origin_grid` or of a grid below it, so the
    grid's own people put the appeal on the platform (see app.services.stats)."""
    if user_id is None or origin_grid is None:
        return False
    with session.no_autoflush:
        path = session.scalar(
            select(Grid.path).join(Person, Person.grid_id == Grid.id).where(Person.user_id == user_id)
        )
    return path is not None and path.startswith(origin_grid.path)


def _related(session, obj, name, model):
    value = getattr(obj, name)
    if value is None and getattr(obj, f"{name}_id") is not None:
        value = session.get(model, getattr(obj, f"{name}_id"))
    return value


def register_appeal(session, actor, appeal, then=None):
    """Register a new appeal: number, deadline, 填表人, first timeline event. COMMITS.

    The number and the record are one transaction; when SQLite is busy the
    whole registration is retried, so a registration is never refused for
    numbering. Raises DomainError (nothing saved) on bad input. `then(appeal)`, when given,
    runs after the appeal is flushed and before the commit (its photos: one transaction).
    """
    if not actor.can(WRITE):
        raise Forbidden(_l("Your role does not allow registering appeals."))
    errors = Collector()
    with session.no_autoflush:
        with errors.check():
            validate_registration(session, appeal)
        with errors.check():
            moment = registration_moment(appeal.registered_at)
        errors.raise_if_any()
        scope.check_writable(session, appeal)
    appeal.filed_by_name = clean_text(appeal.filed_by_name) or actor.name
    for attempt in range(1, REGISTER_ATTEMPTS + 1):
        try:
            _register_once(session, actor, appeal, moment)
            if then is not None:
                then(appeal)
            session.commit()
            return appeal
        except OperationalError as exc:
            session.rollback()
            if not _is_busy(exc):
                raise
            log.warning("registration attempt %s: database busy", attempt)
    raise DomainError(DB_BUSY)


def registration_moment(on):
    """When the appeal counts as registered: now, or the day written on the paper form (登记日期)
    when it is typed in later: not after today, at most APPEAL_BACKDATE_DAYS before it."""
    moment = now()
    if on is None:
        return moment
    day = on.date() if isinstance(on, dt.datetime) else on
    if day > moment.date():
        raise DomainError(_l("The registration date %(date)s is in the future.", date=day.isoformat()),
                          field="registered_at")  # fmt: skip
    limit = int(current_app.config["APPEAL_BACKDATE_DAYS"])
    if (moment.date() - day).days > limit:
        raise DomainError(
            _l("The registration date %(date)s is more than %(days)s days ago: older paper forms are imported "
               "as historical appeals.", date=day.isoformat(), days=limit),
            field="registered_at",
        )  # fmt: skip
    if day == moment.date():
        return moment
    return dt.datetime.combine(day, moment.time())


def _register_once(session, actor, appeal, moment):
    appeal.events = []  # a retried attempt starts over
    month = moment.strftime("%Y%m")
    seq = next_sequence(session, month)
    appeal.number_month = month
    appeal.number_seq = seq
    appeal.number = format_number(month, seq)
    appeal.registered_at = moment
    appeal.status = Status.REGISTERED
    appeal.due_date = compute_due_date(moment.date(), appeal.importance)
    appeal.origin_grid = appeal.grid or session.get(Grid, appeal.grid_id)
    appeal.filed_by_id = actor.user_id  # the login that typed it; filed_by_name: who filled the paper form
    appeal.reported_by_grid = reported_by_grid(session, actor.user_id, appeal.origin_grid)
    appeal.extension_count = 0
    appeal.escalation_count = 0
    appeal.supervised = False
    session.add(appeal)
    _event(session, actor, appeal, "register", note=_source_note(appeal, moment))
    session.flush()


def _source_note(appeal, moment=None):
    """The register event says where the appeal came from, so the timeline tells the whole story."""
    if moment is not None and moment.date() < now().date():
        paper = str(_l("Typed in from the paper form of %(date)s filled in by %(name)s.",
                       date=moment.date().isoformat(), name=appeal.filed_by_name))  # fmt: skip
        source = _source_note(appeal)
        return f"{paper} {source}" if source else paper
    if appeal.visit is not None:
        return str(_l("Raised during the visit to %(name)s on %(date)s.", name=appeal.visit.visited_name,
                      date=appeal.visit.visit_date.isoformat()))  # fmt: skip
    if appeal.contact_record is not None:
        record = appeal.contact_record
        return str(_l("Passed on by representative %(name)s from the contact with voters on %(date)s.",
                      name=record.representative.person.name, date=record.contact_date.isoformat()))  # fmt: skip
    return None


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
    return appeal.status not in (Status.REGISTERED, Status.ESCALATED)


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
        if appeal.status == Status.ARCHIVED:
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
            appeal.reported_by_grid = reported_by_grid(session, appeal.filed_by_id, appeal.grid)
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
