"""Who is behind: each person's progress under each rule, read from the visit tally."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import selectinload

from app.core.cache import memo
from app.core.clock import today
from app.models.grids import Grid
from app.models.personnel import Person
from app.models.visits import PersonKindChange, QuotaRule, VisitTally
from app.services.quotas.periods import Pace, RuleRef, expected_by, person_state_on


@dataclass
class PersonProgress(Pace):
    person: Person
    rule: QuotaRule
    done: int
    target: int
    expected: int


@dataclass
class GridProgress:
    grid: object
    rule: QuotaRule
    people: int = 0
    behind: int = 0
    done: int = 0
    target: int = 0
    shortfall: int = 0

    @property
    def rate(self):
        return min(1.0, (self.target - self.shortfall) / self.target) if self.target else 1.0


def _done_counts(period, person_ids=None):
    """Per person: visits made in the period, and distinct households visited; only of
    `person_ids` (a SELECT of ids, or a list) when given. Read from the visit tally
    (`app.services.tally`), kept on every write of a visit: one row per person and
    period, where counting the visits themselves reads a county's whole year."""
    query = select(
        VisitTally.person_id.label("person_id"),
        VisitTally.visits.label("visits"),
        VisitTally.households.label("households"),
    ).where(VisitTally.period == period.kind, VisitTally.start == period.start)
    if person_ids is not None:
        query = query.where(VisitTally.person_id.in_(person_ids))
    return query.subquery()


def changed_after(session, day):
    """The people with a recorded change of kind or position after `day` (usually none: such a
    change is dated when it is made), read once a request."""

    def compute():
        query = select(PersonKindChange.person_id).where(PersonKindChange.changed_on > day).distinct()
        return sorted(session.scalars(query))

    return memo(("quota_changed_after", day), compute)


def _rule_people(rule, day, person_clause, changed=None):
    """The people `rule` assesses among `person_clause` (active, of its kind and position
    words on `day`). Written as two branches so the common case — nobody's kind changed
    after `day` — is a plain indexed test on the person row, and the correlated lookup
    of the old kind runs only for the few people who changed. `changed`: those people's ids
    (`changed_after`) when known — none, and the test is the person row's alone (an OR with a
    subquery keeps PostgreSQL from using the kind's index: a county's people read per rule)."""
    kind_at, position_at = person_state_on(day)

    def matches(kind, position):
        conditions = []
        if rule.kind_id is not None:
            conditions.append(kind == rule.kind_id)
        words = rule.position_words
        if words:
            conditions.append(or_(*[func.coalesce(position, "").contains(w, autoescape=True) for w in words]))
        return and_(*conditions)

    if changed is not None and not changed:
        return and_(Person.active.is_(True), person_clause, matches(Person.kind_id, Person.position))
    if changed is None:
        changed = select(PersonKindChange.person_id).where(PersonKindChange.changed_on > day)
    unchanged = and_(Person.id.not_in(changed), matches(Person.kind_id, Person.position))
    changed_since = and_(Person.id.in_(changed), matches(kind_at, position_at))
    return and_(Person.active.is_(True), person_clause, or_(unchanged, changed_since))


def applicable_rules(session, period):
    return session.scalars(
        select(QuotaRule)
        .where(QuotaRule.active.is_(True), QuotaRule.period == period.kind)
        .order_by(QuotaRule.sort_order, QuotaRule.id)
    ).all()


class Assessed(NamedTuple):
    """One person under one rule, as plain values (no ORM object): what ranking needs, with
    the shortfall and rate worked out once (a county ranks tens of thousands of them)."""

    person_id: int
    name: str
    grid_id: int
    grid_name: str
    rule: object  # RuleRef
    done: int
    shortfall: int
    rate: float

    @classmethod
    def of(cls, person_id, name, grid_id, grid_name, rule, done):
        minimum = rule.minimum
        rate = min(1.0, done / minimum) if minimum else 1.0
        return cls(person_id, name, grid_id, grid_name, rule, done, max(0, minimum - done), rate)


def _assessed(session, period, person_clause, on, grid_id=None, rule_id=None):
    """Every (person, rule) pair of the period as `Assessed` tuples: one narrow query per
    rule (ids, names, the grid's name, the person's counts joined from the period's tally)."""

    day = min(period.end, on)
    changed = changed_after(session, day)
    tally = and_(VisitTally.person_id == Person.id, VisitTally.period == period.kind, VisitTally.start == period.start)
    out = []
    for rule in applicable_rules(session, period):
        if rule_id is not None and rule.id != rule_id:
            continue
        ref = RuleRef.of(rule, period)
        count = VisitTally.households if rule.unit == "households" else VisitTally.visits
        query = (
            select(Person.id, Person.name, Person.grid_id, Grid.name, func.coalesce(count, 0))
            .join(Grid, Grid.id == Person.grid_id)
            .outerjoin(VisitTally, tally)
            .where(_rule_people(rule, day, person_clause, changed))
        )
        if grid_id is not None:
            query = query.where(Person.grid_id == grid_id)
        out.extend(
            Assessed.of(pid, name, gid, grid_name, ref, int(done))
            for pid, name, gid, grid_name, done in session.execute(query)
        )
    return out


def _worst_first(item):
    # the lowest completion rate (0 of 100 is as bad as 0 of 150), then the largest shortfall
    return (item.rate, -item.shortfall, item.name, item.rule.sort_order, item.person_id)


def _progress_rows(session, assessed, period, on):
    """PersonProgress of `assessed` (already ranked), with their Person rows loaded in one query."""
    ids = {a.person_id for a in assessed}
    people = (
        {p.id: p for p in session.scalars(select(Person).where(Person.id.in_(ids)).options(selectinload(Person.grid)))}
        if ids
        else {}
    )
    return [
        PersonProgress(
            people[a.person_id],
            a.rule,
            a.done,
            a.rule.minimum,
            expected_by(a.rule.minimum, period.start, period.end, on),
        )
        for a in assessed
    ]


def quota_progress(session, period, person_clause, on=None, grid_id=None, rule_id=None):
    """Done / target / shortfall of every active person in `person_clause` under every
    rule of the period's kind, worst first. For a few people: a whole jurisdiction's
    report is `quota_report` (only the rows shown), one person's own is `own_progress`."""
    on = on or today()
    assessed = sorted(_assessed(session, period, person_clause, on, grid_id, rule_id), key=_worst_first)
    return _progress_rows(session, assessed, period, on)


def own_progress(session, period, person, on=None):
    """One person's own progress (their home page), judged in Python on that person's
    row: the same rules as `quota_progress` — active, the kind and position held on
    the period's last day (today while it runs), any of the rule's position words —
    with the counts read from the tally. Three small queries instead of one per rule."""
    on = on or today()
    if not person.active:
        return []
    day = min(period.end, on)
    change = session.scalars(
        select(PersonKindChange)
        .where(PersonKindChange.person_id == person.id, PersonKindChange.changed_on > day)
        .order_by(PersonKindChange.changed_on, PersonKindChange.id)
        .limit(1)
    ).first()
    kind_id, position = (change.old_kind_id, change.old_position) if change else (person.kind_id, person.position)
    counts = session.execute(
        select(VisitTally.visits, VisitTally.households).where(
            VisitTally.period == period.kind, VisitTally.start == period.start, VisitTally.person_id == person.id
        )
    ).first() or (0, 0)
    rows = []
    for rule in applicable_rules(session, period):
        if rule.kind_id is not None and kind_id != rule.kind_id:
            continue
        words = rule.position_words
        if words and not any(word in (position or "") for word in words):
            continue
        done = int(counts[1] if rule.unit == "households" else counts[0])
        ref = RuleRef.of(rule, period)
        expected = expected_by(ref.minimum, period.start, period.end, on)
        rows.append(PersonProgress(person, ref, done, ref.minimum, expected))
    rows.sort(key=lambda r: (r.rate, -r.shortfall, r.rule.sort_order))
    return rows
