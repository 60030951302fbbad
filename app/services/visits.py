"""Visit logs (民情家访日志 / 民情日记): rules for a visit, follow-ups, and the link to appeals."""

from datetime import timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, select

from app.core.cache import memo
from app.core.clock import now, today
from app.core.errors import Collector, DomainError, Forbidden
from app.models.appeals import Appeal
from app.models.grids import Grid
from app.models.lookups import VisitForm, VisitTarget
from app.models.personnel import Person
from app.models.visits import Visit
from app.services import follow_ups as _follow_ups  # noqa: F401 (its listeners keep visit.follow_up_open)
from app.services import privacy, scope
from app.services.grids import references_to
from app.services.validators import clean_text, normalize_phone, require

FOLLOW_UP_FORM = "定期回访"  # the VisitForm a follow-up visit gets by default (seeded)
DEFAULT_TARGET = "一般群众"  # a new visit's category until the clerk picks a priority one (seeded)


def validate_visit(session, visit, user=None):
    """Check a new or edited visit; raises DomainError and changes nothing else."""
    with session.no_autoflush:
        _validate_visit(session, visit, user)


def _validate_visit(session, visit, user):
    """Every rule, each on its own: a clerk sees all the problems of the form at once."""
    errors = Collector()
    with errors.check():
        if visit.visit_date is None:
            raise DomainError(_l("Enter the date of the visit."), field="visit_date")
        if visit.visit_date > today():
            raise DomainError(
                _l("The visit date %(date)s is in the future: record a visit once it has taken place.",
                   date=visit.visit_date.isoformat()),
                field="visit_date",
            )  # fmt: skip
    with errors.check():
        if visit.form is None and not (visit.form_id and session.get(VisitForm, visit.form_id)):
            raise DomainError(_l("Choose the form of the visit."), field="form")
    with errors.check():
        if visit.grid is None and not (visit.grid_id and session.get(Grid, visit.grid_id)):
            raise DomainError(_l("Choose the grid visited."), field="grid")
    with errors.check():
        if visit.target is None and not (visit.target_id and session.get(VisitTarget, visit.target_id)):
            raise DomainError(_l("Choose the category of the person visited."), field="target")
    with errors.check():
        visitors = list(visit.visitors or [])
        if not visitors:
            raise DomainError(_l("Choose at least one visitor."), field="visitors")
        if visit.id is None:
            for person in visitors:
                if not person.active:
                    raise DomainError(
                        _l("%(name)s is marked inactive and cannot be entered as a visitor.", name=person.name),
                        field="visitors",
                    )
    with errors.check():
        visit.visited_name = require(
            visit.visited_name, _l("Enter the name of the household head or person visited."), "visited_name"
        )
    with errors.check():
        visit.visited_phone = normalize_phone(visit.visited_phone, field="visited_phone")
    visit.address = clean_text(visit.address)
    with errors.check():
        if visit.family_size is not None and visit.family_size < 1:
            raise DomainError(
                _l("The family size must be at least 1 (leave it empty if unknown)."), field="family_size"
            )
    for field in ("situation", "problems", "actions", "result"):
        setattr(visit, field, clean_text(getattr(visit, field)))
    with errors.check():
        if visit.follow_up_date is not None and visit.visit_date and visit.follow_up_date <= visit.visit_date:
            raise DomainError(
                _l("The follow-up date must be after the visit date (%(date)s).", date=visit.visit_date.isoformat()),
                field="follow_up_date",
            )
    with errors.check():
        original = visit.follow_up_of or (visit.follow_up_of_id and session.get(Visit, visit.follow_up_of_id))
        if original is not None:
            if visit.id is not None and original.id == visit.id:
                raise DomainError(_l("A visit cannot follow itself up."), field="follow_up_of")
            if visit.visit_date and original.visit_date > visit.visit_date:
                raise DomainError(
                    _l("The visit followed up (%(date)s) is later than this one.",
                       date=original.visit_date.isoformat()),
                    field="follow_up_of",
                )  # fmt: skip
    errors.raise_if_any()
    if visit.id is None and visit.recorded_by_id is None and user is not None:
        visit.recorded_by_id = user.id


def check_visit_editable(scope, visit):
    """Whoever cannot read a visit's content cannot edit it: the form would show it."""
    if not privacy.can_see_visit_content(scope, visit):
        raise Forbidden(_l("Only the visitors, the person who recorded it, and clerks or leaders may change a visit."))


def check_visit_deletable(session, visit, scope=None):
    if scope is not None:
        check_visit_editable(scope, visit)
    window = timedelta(hours=current_app.config["CORRECTION_WINDOW_HOURS"])
    if visit.created_at is not None and now() - visit.created_at > window:
        raise DomainError(
            _l("A visit is part of the log: it can be deleted only within %(hours)s hours of entry; correct it instead.",
               hours=current_app.config["CORRECTION_WINDOW_HOURS"])
        )  # fmt: skip
    if references_to(session, "visit", visit.id, skip={("visit_visitor", "visit_id")}):
        raise DomainError(_l("Other records (a follow-up visit, an appeal) point at this visit: correct it instead."))


# --------------------------------------------------------------------------
# Follow-ups (定期回访)
# --------------------------------------------------------------------------


def follow_ups_due(session, clause, on=None, days_ahead=None, limit=500):
    """Visits whose follow-up is overdue or due within `days_ahead` days and not yet made,
    earliest first. Returns (rows [(visit, days_left)], counts {"overdue", "soon"})."""
    on = on or today()
    if days_ahead is None:
        days_ahead = current_app.config["VISIT_FOLLOW_UP_DAYS_AHEAD"]
    base = _follow_ups_base(clause, on, days_ahead)
    visits = session.scalars(base.order_by(Visit.follow_up_date, Visit.id).limit(limit)).all()
    rows = [(v, (v.follow_up_date - on).days) for v in visits]
    return rows, follow_up_counts(session, clause, on, days_ahead)


def _follow_ups_base(clause, on, days_ahead):
    """The visits whose follow-up is still to make by `on` + `days_ahead`: read from the kept
    `follow_up_open` (app.services.follow_ups), a partial index of the open ones only."""
    horizon = on + timedelta(days=days_ahead)
    return select(Visit).where(clause, Visit.follow_up_open.is_not(None), Visit.follow_up_open <= horizon)


def follow_up_counts(session, clause, on=None, days_ahead=None, key=None):
    """How many follow-ups are overdue and due soon (one SQL count); with a `key` naming
    the clause (e.g. the user's scope) counted once per request."""

    on = on or today()
    if days_ahead is None:
        days_ahead = current_app.config["VISIT_FOLLOW_UP_DAYS_AHEAD"]

    def compute():
        due = _follow_ups_base(clause, on, days_ahead).subquery()
        overdue, total = session.execute(
            select(func.coalesce(func.sum(case((due.c.follow_up_open < on, 1), else_=0)), 0), func.count())
        ).one()
        return {"overdue": int(overdue), "soon": int(total) - int(overdue), "total": int(total)}

    return compute() if key is None else memo(("follow_ups", key, on, days_ahead), compute)


def default_target(session):
    return session.scalar(select(VisitTarget).where(VisitTarget.name == DEFAULT_TARGET, VisitTarget.active.is_(True)))


def follow_up_prefill(session, original, user=None):
    """What a follow-up visit of `original` starts with (the clerk can change anything)."""
    form = session.scalar(select(VisitForm).where(VisitForm.name == FOLLOW_UP_FORM, VisitForm.active.is_(True)))
    visitors = []
    if user is not None:
        me = session.scalar(select(Person).where(Person.user_id == user.id, Person.active.is_(True)))
        if me is not None:
            visitors = [me]
    return {
        "follow_up_of": original,
        "visit_date": today(),
        "form": form or original.form,
        "grid": original.grid,
        "target": original.target,
        "visited_name": original.visited_name,
        "visited_phone": original.visited_phone,
        "address": original.address,
        "family_size": original.family_size,
        "visitors": visitors or list(original.visitors),
    }


# --------------------------------------------------------------------------
# The link to appeals: a problem raised in a visit becomes an appeal
# (民情诉求) registered from a form prefilled with the person visited, so nothing
# said is lost; the appeal keeps `visit_id` and each side shows the other.
# --------------------------------------------------------------------------

APPEAL_CHANNEL_FOR_VISIT = "入户走访"  # AppealChannel seeded by the foundation


def appeal_prefill_from_visit(visit, content=None):
    """The appeal a problem raised in `visit` starts as: the person visited is the reporter."""
    return {
        "reporter_name": visit.visited_name,
        "reporter_address": visit.address,
        "reporter_phone": visit.visited_phone,
        "content": clean_text(content) or visit.problems,
        "grid": visit.grid,
        "channel_name": APPEAL_CHANNEL_FOR_VISIT,
        "visit": visit,
    }


def linked_appeals(session, visit):
    """The appeals raised from `visit` that the user may see, oldest first."""

    query = select(Appeal).where(Appeal.visit_id == visit.id, scope.clause_for(Appeal)).order_by(Appeal.id)
    return session.scalars(query).all()
