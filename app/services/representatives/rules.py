"""Representatives' rules: who sees which representative and record (scope), what a
constituency, a representative and a contact record must satisfy, and what a contact
record raises (appeals)."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app, g, has_request_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, false, or_, select, true

from app.core.clock import now, today
from app.core.errors import DomainError, NotFound
from app.models.appeals import Appeal
from app.models.grids import Grid
from app.models.personnel import Person
from app.models.representatives import LEVELS, Constituency, ContactRecord, ReportState, Representative, report_days
from app.services import scope
from app.services.grids import references_to
from app.services.scope import scope_rule
from app.services.validators import clean_text, require

LEVEL_TITLES = {"township": _l("Township"), "county": _l("County"), "city": _l("City")}
REPORT_TITLES = dict(ReportState.choices())
APPEAL_CHANNEL_FOR_CONTACT = "人大代表转交"  # AppealChannel seeded by the foundation


# --------------------------------------------------------------------------
# Scope
# --------------------------------------------------------------------------


def _role_reads(role_names, resource):
    """Whether any of the roles holds can_read on `resource` (cached per request)."""
    key = (tuple(sorted(role_names)), resource)
    cache = g.setdefault("_minqing_role_reads", {}) if has_request_context() else {}
    if key not in cache:
        sm = current_app.appbuilder.sm
        found = False
        for name in role_names:
            role = sm.find_role(name)
            if role is None:
                continue
            if any(pv.permission.name == "can_read" and pv.view_menu.name == resource for pv in role.permissions):
                found = True
                break
        cache[key] = found
    return cache[key]


def grid_wide(scope, resource):
    """Whether the user reads `resource` across their jurisdiction (not only their own)."""
    if scope.all:
        return True
    own_only = set(current_app.config.get("REPRESENTATIVE_OWN_ONLY_ROLES", ()))
    others = [r for r in scope.roles if r not in own_only]
    return bool(others) and not scope.empty and _role_reads(others, resource)


def _reps_in_grids(scope):
    return (
        select(Representative.id)
        .join(Constituency, Representative.constituency_id == Constituency.id)
        .where(Constituency.grid_id.in_(scope.grid_ids()))
    )


def _own_reps(scope):
    return select(Representative.id).where(Representative.person_id == scope.person_id)


@scope_rule(Representative)
def representative_scope_clause(scope):
    if scope.all:
        return true()
    clauses = []
    if scope.person_id is not None:
        clauses.append(Representative.person_id == scope.person_id)
    if grid_wide(scope, "Representative"):
        clauses.append(Representative.id.in_(_reps_in_grids(scope)))
    return or_(*clauses) if clauses else false()


@scope_rule(ContactRecord)
def contact_scope_clause(scope):
    if scope.all:
        return true()
    clauses = []
    if scope.person_id is not None:
        clauses.append(ContactRecord.representative_id.in_(_own_reps(scope)))
    if grid_wide(scope, "ContactRecord"):
        clauses.append(ContactRecord.representative_id.in_(_reps_in_grids(scope)))
    return or_(*clauses) if clauses else false()


def own_representatives(session, user, active_only=True):
    """The representative mandates of the user's person (usually one)."""
    query = select(Representative).join(Person, Representative.person_id == Person.id).where(Person.user_id == user.id)
    if active_only:
        query = query.where(Representative.active.is_(True))
    return session.scalars(query.order_by(Representative.level, Representative.term_start.desc())).all()


# --------------------------------------------------------------------------
# Constituencies and representatives
# --------------------------------------------------------------------------


def lowest_common_grid(session, grids):
    """The deepest grid whose subtree holds every grid of `grids`."""
    chains = [[int(x) for x in (g.path or "").strip("/").split("/") if x] for g in grids]
    common = []
    for ids in zip(*chains, strict=False):
        if len(set(ids)) != 1:
            break
        common.append(ids[0])
    return session.get(Grid, common[-1]) if common else None


def validate_constituency(session, constituency):
    constituency.name = require(constituency.name, _l("Enter the constituency's name."), "name")
    constituency.note = clean_text(constituency.note)
    grids = list(constituency.grids or [])
    if not grids:
        raise DomainError(_l("Choose the grids the constituency covers."), field="grids")
    with session.no_autoflush:
        home = lowest_common_grid(session, grids)
        if home is None:
            raise DomainError(_l("The grids chosen do not belong to one tree."), field="grids")
        # the derived grid must be the user's too, checked before any message could name it
        if not scope.visible(session, Grid, home.id):
            raise NotFound(scope.GRID_OUT_OF_SCOPE, field="grids")
        constituency.grid = home
        clash = session.scalar(
            select(Constituency.id).where(
                Constituency.name == constituency.name,
                Constituency.grid_id == home.id,
                Constituency.id != (constituency.id or 0),
            )
        )
    if clash:
        raise DomainError(
            _l("%(grid)s already has a constituency named %(name)s.", grid=home.name, name=constituency.name),
            field="name",
        )


def check_constituency_deletable(session, constituency):
    if references_to(session, "constituency", constituency.id, skip={("constituency_grid", "constituency_id")}):
        raise DomainError(_l("Representatives are elected in this constituency: it cannot be deleted."))


def validate_representative(session, rep):
    with session.no_autoflush:
        person = rep.person or (rep.person_id and session.get(Person, rep.person_id))
        if person is None:
            raise DomainError(_l("Choose the person who is the representative."), field="person")
        if rep.id is None and not person.active:
            raise DomainError(_l("%(name)s is marked inactive.", name=person.name), field="person")
        if rep.level not in LEVELS:
            raise DomainError(_l("Choose the level: township, county or city."), field="level")
        if rep.constituency is None and not (rep.constituency_id and session.get(Constituency, rep.constituency_id)):
            raise DomainError(_l("Choose the constituency."), field="constituency")
        for field in ("term_start", "term_end"):
            value = getattr(rep, field)
            if value is None or not 1949 <= value <= 2100:
                raise DomainError(_l("Enter the term as years, e.g. 2021 and 2026."), field=field)
        if rep.term_end < rep.term_start:
            raise DomainError(_l("The term ends before it starts."), field="term_end")
        rep.note = clean_text(rep.note)
        clash = session.scalar(
            select(Representative.id).where(
                Representative.person_id == person.id,
                Representative.level == rep.level,
                Representative.term_start == rep.term_start,
                Representative.id != (rep.id or 0),
            )
        )
    if clash:
        raise DomainError(
            _l("%(name)s is already registered as a representative at this level for this term.", name=person.name),
            field="person",
        )


def check_representative_deletable(session, rep):
    if references_to(session, "representative", rep.id):
        raise DomainError(_l("The representative has contact records: mark them inactive instead of deleting."))


# --------------------------------------------------------------------------
# Contact records
# --------------------------------------------------------------------------


def validate_contact(session, record, user=None):
    with session.no_autoflush:
        _validate_contact(session, record, user)


def _validate_contact(session, record, user):
    rep = record.representative or (record.representative_id and session.get(Representative, record.representative_id))
    if rep is None:
        raise DomainError(_l("Choose the representative."), field="representative")
    if record.id is None and not rep.active:
        raise DomainError(_l("%(name)s is no longer an active representative.", name=rep), field="representative")
    if record.contact_date is None:
        raise DomainError(_l("Enter the date of the contact."), field="contact_date")
    if record.contact_date > today():
        raise DomainError(
            _l("The date %(date)s is in the future: record a contact once it has taken place.",
               date=record.contact_date.isoformat()),
            field="contact_date",
        )  # fmt: skip
    if not rep.term_start <= record.contact_date.year <= rep.term_end:
        raise DomainError(
            _l("%(date)s is outside the representative's term (%(term)s).",
               date=record.contact_date.isoformat(), term=rep.term),
            field="contact_date",
        )  # fmt: skip
    record.place = require(record.place, _l("Enter where the contact took place."), "place")
    if record.form is None and record.form_id is None:
        raise DomainError(_l("Choose the form of the contact."), field="form")
    if record.voter_count is None or record.voter_count < 1:
        raise DomainError(
            _l("The number of voters met must be at least 1 (a forum of 12 voters counts 12)."), field="voter_count"
        )
    for field in ("voter_names", "opinions", "replies"):
        setattr(record, field, clean_text(getattr(record, field)))
    record.reported_to = clean_text(record.reported_to)
    record.important = bool(record.important)
    if record.reported_to and record.reported_at is None:
        raise DomainError(_l("Enter the date it was reported."), field="reported_at")
    if record.reported_at is not None:
        if not record.reported_to:
            raise DomainError(_l("Enter who it was reported to (人大主席 or 副主席)."), field="reported_to")
        if record.reported_at < record.contact_date:
            raise DomainError(_l("It cannot have been reported before the contact took place."), field="reported_at")
        if record.reported_at > today():
            raise DomainError(_l("The report date is in the future."), field="reported_at")
    if record.id is None and record.recorded_by_id is None and user is not None:
        record.recorded_by_id = user.id


def check_contact_deletable(session, record):
    hours = current_app.config["CORRECTION_WINDOW_HOURS"]
    if record.created_at is not None and now() - record.created_at > timedelta(hours=hours):
        raise DomainError(
            _l("A contact record is part of the record book: it can be deleted only within %(hours)s hours of entry.",
               hours=hours)
        )  # fmt: skip
    if references_to(session, "contact_record", record.id):
        raise DomainError(_l("Appeals were raised from this record: correct it instead of deleting it."))


def report_status(record, on=None):
    """For an important opinion: reported / late / pending / overdue; None otherwise."""
    return record.report_state_on(on or today(), report_days())


def unreported_clause():
    """Important opinions not yet reported to the 人大主席/副主席 (late or not)."""
    return and_(ContactRecord.important.is_(True), ContactRecord.reported_at.is_(None))


def overdue_reports_clause(on=None):
    """Important opinions not reported within REPRESENTATIVE_REPORT_DAYS of the contact."""
    cutoff = (on or today()) - timedelta(days=report_days())
    return and_(
        ContactRecord.important.is_(True), ContactRecord.reported_at.is_(None), ContactRecord.contact_date < cutoff
    )


# --------------------------------------------------------------------------
# The link to appeals — SEAM (see app/services/visits.py for the plan)
# --------------------------------------------------------------------------


def appeal_prefill_from_contact(record, content=None):
    """The appeal an opinion in `record` starts as: the voters are the reporter, via the representative."""
    rep = record.representative
    return {
        "reporter_name": (record.voter_names or "").split("、")[0].strip() or None,
        "reporter_address": record.place,
        "reporter_phone": None,
        "content": clean_text(content) or record.opinions,
        "grid": rep.constituency.grid,
        "channel_name": APPEAL_CHANNEL_FOR_CONTACT,
        "contact_record": record,
        "note": str(_l("Forwarded by representative %(name)s", name=rep.person.name)),
    }


def linked_appeals(session, record):
    """The appeals raised from `record` that the user may see, oldest first."""

    query = select(Appeal).where(Appeal.contact_record_id == record.id, scope.clause_for(Appeal))
    return session.scalars(query.order_by(Appeal.id)).all()
