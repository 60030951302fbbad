"""我的工作: what each role has on its plate, counted exactly as the lists they link to count.

Every figure is the row count of one list page: the same scope clause the list's base filter
applies (`scope.clause_for`) and the same condition as the list's filter (the appeal list's
quick keys, the visit list's visitor filter, the contact list's ?unreported=1), so a click never
shows a different number (tests/test_mywork.py compares each figure with its list).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import and_, func, select

from app.core.clock import today
from app.models.appeals import Appeal
from app.models.representatives import ContactRecord
from app.models.visits import Visit, visit_visitors
from app.roles import ADMIN, CLERK, GRID_WORKER, LEADER, REPRESENTATIVE
from app.services import scope
from app.services import visits as visit_service
from app.services.appeals.lists import quick_clause
from app.services.representatives.progress import progress
from app.services.representatives.rules import own_representatives, unreported_clause

# which role has which parts (an administrator sees the clerk's and the leader's)
SECTIONS = {
    CLERK: ("clerk",),
    GRID_WORKER: ("grid_worker",),
    LEADER: ("leader",),
    REPRESENTATIVE: ("representative",),
    ADMIN: ("clerk", "leader"),
}
ORDER = ("clerk", "grid_worker", "leader", "representative")


@dataclass
class Figure:
    key: str
    count: int
    args: dict = field(default_factory=dict)  # the linked list's arguments
    overdue: int = 0  # of the follow-ups: how many are past their date


@dataclass
class RepFigures:
    progress: object  # RepProgress
    unreported: int


def sections_for(roles):
    wanted = {part for role in roles for part in SECTIONS.get(role, ())}
    return [part for part in ORDER if part in wanted]


def appeal_count(session, keys):
    """The rows of /appealview/list/?<keys>: the user's scope and the quick keys."""
    where = and_(scope.clause_for(Appeal), *(quick_clause(session, key) for key in keys))
    return session.scalar(select(func.count()).select_from(Appeal).where(where))


def visits_by(session, person_id):
    """The rows of /visitview/list/?_flt_0_visitors=<person>: the visits the person went on."""
    mine = Visit.id.in_(select(visit_visitors.c.visit_id).where(visit_visitors.c.person_id == person_id))
    return session.scalar(select(func.count()).select_from(Visit).where(scope.clause_for(Visit), mine))


def unreported_count(session):
    """The rows of /contactrecordview/list/?unreported=1."""
    where = and_(scope.clause_for(ContactRecord), unreported_clause())
    return session.scalar(select(func.count()).select_from(ContactRecord).where(where))


def unreported_records(session, limit=10):
    """The oldest important opinions still to report (the representative's home lists them)."""
    where = and_(scope.clause_for(ContactRecord), unreported_clause())
    query = select(ContactRecord).where(where).order_by(ContactRecord.contact_date, ContactRecord.id).limit(limit)
    return session.scalars(query).all()


def representative_figures(session, user, year=None):
    """Each of the user's own mandates: progress toward the yearly target (the setting)."""
    year = year or today().year
    return [progress(session, rep, year) for rep in own_representatives(session, user)]


def figures(session, part, me):
    """The figures of one part of the page, each with its list's arguments."""
    if part == "clerk":
        return [
            Figure("filed", appeal_count(session, ["filed"]), {"filed": "1"}),
            Figure("unassigned", appeal_count(session, ["unassigned"]), {"unassigned": "1"}),
        ]
    if part == "grid_worker":
        out = [Figure("mine", appeal_count(session, ["mine", "open"]), {"mine": "1", "open": "1"})]
        if me.person_id is not None:
            out.append(Figure("visits", visits_by(session, me.person_id), {"_flt_0_visitors": str(me.person_id)}))
        follow = visit_service.follow_up_counts(session, scope.clause_for(Visit))
        out.append(Figure("followups", follow["total"], overdue=follow["overdue"]))
        return out
    if part == "leader":
        return [
            Figure("supervised", appeal_count(session, ["supervised"]), {"supervised": "1"}),
            Figure("extension", appeal_count(session, ["extension"]), {"extension": "1"}),
            Figure("overdue", appeal_count(session, ["due:overdue"]), {"due": "overdue"}),
        ]
    if part == "representative":
        return [Figure("unreported", unreported_count(session), {"unreported": "1"})]
    raise ValueError(part)
