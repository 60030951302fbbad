"""Visit quotas (走访任务): the rules, the periods, and who is behind.

The rules (seed 000, 001; all editable by the administrator in 走访任务规则):

* a rule names who it binds — a person kind, words of the position, or both —
  a calendar period (week from Monday, month, quarter or year), a unit (visits, or distinct
  households) and a minimum — per month on average over a quarter or year when 平均每月;
* a visit counts once for each of its visitors;
* "households" are distinct households, identified as the visit's grid plus the
  normalized address (else the normalized name of the person visited): see
  `app.models.visits.household_key`;
* a person is assessed under the kind and position they held on the last day of
  the period (today, while the period runs), for the whole period; visits made
  before a change still count. No proration: the assessment (考核) follows the
  post held when it is made, and a report on a past period reads the history in
  `person_kind_change`;
* inactive people are not assessed;
* a report of a period assesses the rules of that period's kind (a weekly report the weekly rules).

Everything is counted in SQL from the visit tally (`app.services.tally`: per person
and calendar period, kept on every write of a visit); only the per-person results,
never the visits, are handled in Python.
"""

from __future__ import annotations

import calendar
import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.orm import aliased, selectinload

from app.core.cache import memo
from app.core.clock import today
from app.core.errors import DomainError
from app.models.grids import Grid
from app.models.lookups import PersonKind
from app.models.personnel import Person
from app.models.visits import PERIODS, UNITS, PersonKindChange, QuotaRule, VisitTally, split_words
from app.services.tally import period_end, period_start
from app.services.validators import clean_text, require

PERIOD_TITLES = {
    "week": _l("per week"),
    "month": _l("per month"),
    "quarter": _l("per quarter"),
    "year": _l("per year"),
}
MONTHS_IN = {"week": 0, "month": 1, "quarter": 3, "year": 12}
UNIT_TITLES = {"visits": _l("visits"), "households": _l("households")}

# Stored values are Chinese: data an administrator edits (seed 000, 001; DOMAIN.md §4).
SEED_RULES = [
    # name, person kind, position words, period, unit, minimum, note
    (
        "县级领导下访",
        "县直干部",
        "书记、县长、常委、人大常委会主任、政协主席",
        "month",
        "visits",
        2,
        "县级领导每月深入挂点乡镇、村走访不少于2次。",
    ),
    (
        "乡镇领导走访",
        "乡镇干部",
        "书记、乡长、镇长、主任、部长、委员",
        "month",
        "visits",
        3,
        "乡镇领导班子成员每月走访不少于3次。",
    ),
    ("县直部门干部进民家", "县直干部", None, "year", "households", 100, "县直单位干部每人每年走访群众不少于100户。"),
    ("乡镇干部进民家", "乡镇干部", None, "year", "households", 150, "乡镇干部每人每年走访群众不少于150户。"),
    ("村两委干部走访农户", "村两委干部", None, "month", "households", 3, "村两委干部每月必须走访3-5户农户。"),
    (
        "市级领导民情家访",
        None,
        "市委、市长、市人大、市政协",
        "quarter",
        "visits",
        1,
        "设区市市级领导干部平均每月至少一次深入群众进行“民情家访”（按季考核）。",
    ),
]
AVERAGED = {"市级领导民情家访"}  # seed 001 says 平均每月: the minimum is per month over the period


def seed_quota_rules(session):
    """Seed the rules once, into an empty table: afterwards they belong to the administrator."""
    if session.scalar(select(func.count()).select_from(QuotaRule)):
        return
    kinds = {k.name: k for k in session.scalars(select(PersonKind))}
    for order, (name, kind, words, period, unit, minimum, note) in enumerate(SEED_RULES):
        session.add(
            QuotaRule(
                name=name,
                kind=kinds.get(kind),
                position_contains=words,
                period=period,
                unit=unit,
                minimum=minimum,
                average_per_month=name in AVERAGED,
                sort_order=order,
                note=note,
                active=True,
            )
        )
    session.flush()


def validate_quota_rule(session, rule):
    rule.name = require(rule.name, _l("Enter a name for the rule."), "name")
    rule.position_contains = clean_text(rule.position_contains)
    rule.note = clean_text(rule.note)
    if rule.position_contains:
        rule.position_contains = "、".join(split_words(rule.position_contains))
    if rule.kind is None and rule.kind_id is None and not rule.position_contains:
        raise DomainError(_l("Name the person kind, words of the position, or both."), field="kind")
    if rule.period not in PERIODS:
        raise DomainError(_l("Choose per week, month, quarter or year."), field="period")
    if rule.average_per_month and MONTHS_IN[rule.period] < 3:
        raise DomainError(
            _l("An average per month needs a quarter or a year as the period."), field="average_per_month"
        )
    if rule.unit not in UNITS:
        raise DomainError(_l("Choose visits or households."), field="unit")
    if rule.minimum is None or rule.minimum < 1:
        raise DomainError(_l("The minimum must be at least 1."), field="minimum")
    with session.no_autoflush:
        clash = session.scalar(select(QuotaRule.id).where(QuotaRule.name == rule.name, QuotaRule.id != (rule.id or 0)))
    if clash:
        raise DomainError(_l("A rule named %(name)s already exists.", name=rule.name), field="name")


# --------------------------------------------------------------------------
# Periods and pace
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    kind: str  # "week" | "month" | "quarter" | "year"
    year: int
    month: int | None  # the month of a month, the first month of a quarter or week
    start: date
    end: date

    @property
    def label(self):
        if self.kind == "week":
            return f"{self.start:%Y-%m-%d}～{self.end:%m-%d}"
        if self.kind == "quarter":
            return f"{self.year} Q{(self.start.month - 1) // 3 + 1}"
        return f"{self.year}-{self.month:02d}" if self.kind == "month" else str(self.year)

    @property
    def months(self):
        return MONTHS_IN[self.kind]

    @property
    def days(self):
        return (self.end - self.start).days + 1


def period_of(year, month=None):
    """The month `year`-`month`, or the whole `year` when month is None."""
    try:
        year = int(year)
        month = int(month) if month not in (None, "") else None
    except (TypeError, ValueError):
        raise DomainError(_l("Choose a valid year and month."), field="period") from None
    if not 2000 <= year <= 2100 or (month is not None and not 1 <= month <= 12):
        raise DomainError(_l("Choose a valid year and month."), field="period")
    if month is None:
        return Period("year", year, None, date(year, 1, 1), date(year, 12, 31))
    last = calendar.monthrange(year, month)[1]
    return Period("month", year, month, date(year, month, 1), date(year, month, last))


def period_for(kind, on):
    """The calendar week (Monday to Sunday), month, quarter or year holding the day `on`."""
    if kind not in PERIODS:
        raise DomainError(_l("Choose per week, month, quarter or year."), field="period")
    start = period_start(kind, on)
    return Period(kind, start.year, start.month if kind != "year" else None, start, period_end(kind, start))


def current_period(kind, on=None):
    return period_for(kind, on or today())


def rule_target(rule, period):
    """What `rule` asks of a person in `period`: its minimum, times the months of the period
    for a rule "on average per month" (平均每月, seed 001)."""
    if getattr(rule, "average_per_month", False) and period.months >= 3:
        return rule.minimum * period.months
    return rule.minimum


def expected_by(target, start, end, on=None):
    """How much of `target` should be done by `on` at an even pace over [start, end]."""
    on = on or today()
    if on < start:
        return 0
    if on >= end:
        return target
    elapsed = (on - start).days + 1
    return math.ceil(target * elapsed / ((end - start).days + 1))


# --------------------------------------------------------------------------
# A person's kind and position on a day
# --------------------------------------------------------------------------


def person_state_on(day):
    """SQL expressions: Person's kind id and position on `day` (see PersonKindChange)."""
    later = aliased(PersonKindChange)
    after_day = and_(later.person_id == Person.id, later.changed_on > day)
    first = select(later).where(after_day).order_by(later.changed_on, later.id).limit(1)
    has_later = exists().where(after_day)
    kind_then = first.with_only_columns(later.old_kind_id).scalar_subquery()
    position_then = first.with_only_columns(later.old_position).scalar_subquery()
    kind_at = case((has_later, kind_then), else_=Person.kind_id)
    position_at = case((has_later, position_then), else_=Person.position)
    return kind_at, position_at


# --------------------------------------------------------------------------
# Progress
# --------------------------------------------------------------------------


@dataclass
class PersonProgress:
    person: Person
    rule: QuotaRule
    done: int
    target: int
    expected: int

    @property
    def shortfall(self):
        return max(0, self.target - self.done)

    @property
    def behind_pace(self):
        return self.done < self.expected

    @property
    def rate(self):
        return min(1.0, self.done / self.target) if self.target else 1.0


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


def _rule_people(rule, day, person_clause):
    """The people `rule` assesses among `person_clause` (active, of its kind and position
    words on `day`). Written as two branches so the common case — nobody's kind changed
    after `day` — is a plain indexed test on the person row, and the correlated lookup
    of the old kind runs only for the few people who changed (a hashed id set)."""
    changed = select(PersonKindChange.person_id).where(PersonKindChange.changed_on > day)
    kind_at, position_at = person_state_on(day)

    def matches(kind, position):
        conditions = []
        if rule.kind_id is not None:
            conditions.append(kind == rule.kind_id)
        words = rule.position_words
        if words:
            conditions.append(or_(*[func.coalesce(position, "").contains(w, autoescape=True) for w in words]))
        return and_(*conditions)

    unchanged = and_(Person.id.not_in(changed), matches(Person.kind_id, Person.position))
    changed_since = and_(Person.id.in_(changed), matches(kind_at, position_at))
    return and_(Person.active.is_(True), person_clause, or_(unchanged, changed_since))


def done_by_person(session, period):
    """{person id: (visits, households)} of the period, in one GROUP BY shared by every rule
    (counted once per request: it reads the visit tally)."""

    def compute():
        counts = _done_counts(period)
        rows = session.execute(select(counts.c.person_id, counts.c.visits, counts.c.households))
        return {row.person_id: (row.visits, row.households) for row in rows}

    return memo(("quota_done", period.start, period.end), compute)


def applicable_rules(session, period):
    return session.scalars(
        select(QuotaRule)
        .where(QuotaRule.active.is_(True), QuotaRule.period == period.kind)
        .order_by(QuotaRule.sort_order, QuotaRule.id)
    ).all()


@dataclass(frozen=True)
class Assessed:
    """One person under one rule, as plain values (no ORM object): what ranking needs."""

    person_id: int
    name: str
    grid_id: int
    grid_name: str
    rule: object  # RuleRef
    done: int

    @property
    def shortfall(self):
        return max(0, self.rule.minimum - self.done)

    @property
    def rate(self):
        return min(1.0, self.done / self.rule.minimum) if self.rule.minimum else 1.0


def _assessed(session, period, person_clause, on, grid_id=None, rule_id=None):
    """Every (person, rule) pair of the period as `Assessed` tuples: one narrow query per
    rule (ids, names, the grid's name), the counts from the period's tally (`done_by_person`)."""

    day = min(period.end, on)
    done = done_by_person(session, period)
    out = []
    for rule in applicable_rules(session, period):
        if rule_id is not None and rule.id != rule_id:
            continue
        unit = 1 if rule.unit == "households" else 0
        ref = RuleRef.of(rule, period)
        query = (
            select(Person.id, Person.name, Person.grid_id, Grid.name)
            .join(Grid, Grid.id == Person.grid_id)
            .where(_rule_people(rule, day, person_clause))
        )
        if grid_id is not None:
            query = query.where(Person.grid_id == grid_id)
        for pid, name, gid, grid_name in session.execute(query):
            out.append(Assessed(pid, name, gid, grid_name, ref, int(done.get(pid, (0, 0))[unit])))
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


@dataclass(frozen=True)
class GridName:
    id: int
    name: str


def _grid_groups(items):
    """Roll (person, rule) results up to (the person's grid, rule), worst first."""
    groups = {}
    for item in items:
        key = (item.grid_id, item.rule.id)
        group = groups.get(key)
        if group is None:
            group = groups[key] = GridProgress(GridName(item.grid_id, item.grid_name), item.rule)
        group.people += 1
        group.done += item.done
        group.target += item.rule.minimum
        group.shortfall += item.shortfall
        group.behind += 1 if item.shortfall else 0
    return sorted(groups.values(), key=lambda g: (g.rate, -g.shortfall, g.grid.name, g.rule.sort_order, g.grid.id))


def _summary(items):
    people = {i.person_id for i in items}
    behind = {i.person_id for i in items if i.shortfall}
    return {"people": len(people), "behind": len(behind), "met": len(people - behind), "pairs": len(items)}


@dataclass
class QuotaReport:
    period: Period
    rows: list  # [PersonProgress], the worst `limit`
    total_rows: int
    grids: list  # [GridProgress], the worst `limit`
    total_grids: int
    summary: dict


def quota_report(
    session, period, person_clause, on=None, grid_id=None, limit=None, offset=0, people=True, cache_key=None
):
    """The progress report of a jurisdiction: one page (`offset`, `limit`) of the
    (person, rule) rows and of the (grid, rule) groups, worst first, and the totals.
    Ranked on plain tuples — once per request under `cache_key` (who may
    see whom) when given, so one page asking twice does not rank a county's tens of thousands
    of cadres again; only the people shown are loaded as rows, and none when `people`
    is false (the page shows the grids)."""
    on = on or today()

    def compute():
        items = _assessed(session, period, person_clause, on, grid_id)
        return sorted(items, key=_worst_first), _grid_groups(items), _summary(items)

    if cache_key is None:
        ranked, groups, summary_ = compute()
    else:
        ranked, groups, summary_ = memo(("quota_report", period.kind, period.start, on, grid_id, cache_key), compute)
    end = None if limit is None else offset + limit
    rows = _progress_rows(session, ranked[offset:end], period, on) if people else []
    return QuotaReport(period, rows, len(ranked), groups[offset:end], len(groups), summary_)


def _rule_query(rule, done, day, person_clause, columns):
    count_column = done.c.households if rule.unit == "households" else done.c.visits
    count = func.coalesce(count_column, 0)
    return (
        select(*columns(count))
        .select_from(Person)
        .outerjoin(done, done.c.person_id == Person.id)
        .where(_rule_people(rule, day, person_clause))
    )


@dataclass(frozen=True)
class RuleRef:
    """What a report needs of a rule: plain values, safe to keep between requests."""

    id: int
    name: str
    sort_order: int
    minimum: int  # the target in the period (a per-month average times the months)
    period: str = "month"
    unit: str = "visits"
    per_month: int | None = None  # the rule's monthly minimum when it is an average

    @classmethod
    def of(cls, rule, period=None):
        target = rule_target(rule, period) if period is not None else rule.minimum
        average = rule.minimum if target != rule.minimum else None
        return cls(rule.id, rule.name, rule.sort_order, target, rule.period, rule.unit, average)


@dataclass
class RuleRollup:
    rule: RuleRef
    period: Period
    people: int = 0
    met: int = 0
    done: int = 0  # counted toward the targets: nobody's surplus makes up for another's shortfall
    target: int = 0

    @property
    def behind(self):
        return self.people - self.met

    @property
    def rate(self):
        return min(1.0, self.done / self.target) if self.target else None


def quota_rollup(session, period, person_clause, on=None, group=None, person_ids=None):
    """Per rule of the period's kind: people assessed, people who met the minimum, and
    completion (each person's count capped at the minimum, over the sum of minimums).
    Counted in SQL, one query per rule; `group` (a column, e.g. a child grid id joined
    through `person_clause`) splits the figures: {group value: [RuleRollup]}; without
    it the result is [RuleRollup]. `person_ids` (a short list) names the people outright,
    so their visits are looked up by person rather than counted for everyone."""
    on = on or today()
    day = min(period.end, on)
    out = defaultdict(list) if group is not None else []
    for rule in applicable_rules(session, period):
        ref = RuleRef.of(rule, period)
        minimum = ref.minimum
        assessed = _rule_people(rule, day, person_clause)
        done = _done_counts(period, person_ids if person_ids is not None else select(Person.id).where(assessed))

        def columns(count, minimum=minimum):
            capped = case((count >= minimum, minimum), else_=count)
            aggregates = [
                func.count(Person.id),
                func.coalesce(func.sum(case((count >= minimum, 1), else_=0)), 0),
                func.coalesce(func.sum(capped), 0),
            ]
            return ([group] if group is not None else []) + aggregates

        query = _rule_query(rule, done, day, person_clause, columns)
        if group is not None:
            for key, people, met, capped in session.execute(query.group_by(group)).all():
                out[key].append(RuleRollup(ref, period, int(people), int(met), int(capped), int(people) * minimum))
        else:
            people, met, capped = session.execute(query).one()
            out.append(RuleRollup(ref, period, int(people), int(met), int(capped), int(people) * minimum))
    return out


def rollup_rate(rollups):
    """Completion over several rules (None when nobody is assessed)."""
    target = sum(r.target for r in rollups)
    return min(1.0, sum(r.done for r in rollups) / target) if target else None
