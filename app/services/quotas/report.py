"""A jurisdiction's quota report (one page of people or grids, worst first) and its roll-up per rule."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import Float, Integer, and_, case, cast, distinct, func, literal_column, select, tuple_, union_all

from app.core.cache import memo
from app.core.clock import today
from app.models.grids import Grid
from app.models.personnel import Person
from app.models.visits import PersonKindChange, QuotaRule, VisitTally
from app.services.quotas import cells
from app.services.quotas.periods import Period, RuleRef
from app.services.quotas.progress import (
    Assessed,
    GridProgress,
    _done_counts,
    _progress_rows,
    _rule_people,
    applicable_rules,
    changed_after,
)


@dataclass(frozen=True)
class GridName:
    id: int
    name: str


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
    Ranked, counted and grouped in SQL, so that a page costs no more in Python for a city
    than for a village: one statement for the page of people (none when `people` is false:
    the page shows the grids), one for the totals, one for the page of grids and their count.
    Once per request under `cache_key` (who may see whom) when given; only the people shown
    are loaded as rows."""
    on = on or today()

    def compute():
        pairs, refs = _pairs(session, period, person_clause, on, grid_id)
        if pairs is None:
            return [], 0, [], 0, {"people": 0, "behind": 0, "met": 0, "pairs": 0}
        ranked = _people_page(session, pairs, refs, offset, limit) if people else []
        total_rows, summary_ = _totals(session, pairs)
        groups, total_grids = _grid_page(session, pairs, refs, offset, limit)
        return ranked, total_rows, groups, total_grids, summary_

    if cache_key is None:
        ranked, total_rows, groups, total_grids, summary_ = compute()
    else:
        key = ("quota_report", period.kind, period.start, on, grid_id, cache_key, offset, limit, people)
        ranked, total_rows, groups, total_grids, summary_ = memo(key, compute)
    rows = _progress_rows(session, ranked, period, on) if people else []
    return QuotaReport(period, rows, total_rows, groups, total_grids, summary_)


def _number(value):
    """An integer written into the statement (a rule's id, sort order or minimum): each
    branch of the UNION ALL carries its rule as constants."""
    return literal_column(str(int(value)), Integer)


def _binary(name, dialect):
    """`name` compared by code point, as Python compares str (a Chinese collation would
    reorder the names): PostgreSQL's "C" collation; SQLite's default is binary already."""
    return name.collate("C") if dialect == "postgresql" else name


def _rate(done, target):
    """min(1, done / target) in floating point, 1 when the target is 0: Python's arithmetic
    (`Assessed.rate`, `GridProgress.rate`; no integer division), so that ties tie in SQL too."""
    ratio = cast(done, Float) / target
    return case((target == 0, 1.0), (ratio < 1.0, ratio), else_=1.0)


def _pairs(session, period, person_clause, on, grid_id):
    """Every (person, rule) pair of the period as one subquery — a UNION ALL of one SELECT per
    rule: the person's id, name and grid, the rule's id, sort order and minimum as constants,
    the count done — and {rule id: RuleRef}; (None, {}) when no rule applies. Who is assessed
    is `_rule_people`'s test (as `_assessed`), kind changes after the period's day included."""
    day = min(period.end, on)
    changed = changed_after(session, day)
    tally = and_(VisitTally.person_id == Person.id, VisitTally.period == period.kind, VisitTally.start == period.start)
    refs, selects = {}, []
    for rule in applicable_rules(session, period):
        ref = refs[rule.id] = RuleRef.of(rule, period)
        count = VisitTally.households if rule.unit == "households" else VisitTally.visits
        query = (
            select(
                Person.id.label("person_id"),
                Person.name.label("name"),
                Person.grid_id.label("grid_id"),
                _number(ref.id).label("rule_id"),
                _number(ref.sort_order).label("sort_order"),
                _number(ref.minimum).label("minimum"),
                func.coalesce(count, 0).label("done"),
            )
            .select_from(Person)
            .outerjoin(VisitTally, tally)
            .where(_rule_people(rule, day, person_clause, changed))
        )
        if grid_id is not None:
            query = query.where(Person.grid_id == grid_id)
        selects.append(query)
    if not selects:
        return None, refs
    return (union_all(*selects) if len(selects) > 1 else selects[0]).subquery("pairs"), refs


def _paged(query, offset, limit):
    return query.offset(offset or None).limit(limit)


def _people_page(session, pairs, refs, offset, limit):
    """The page of (person, rule) pairs worst first (`_worst_first`, then the rules' order) as
    `Assessed` (without the grid's name: the rows load their people and grids)."""
    dialect = session.get_bind().dialect.name
    shortfall = case((pairs.c.done < pairs.c.minimum, pairs.c.minimum - pairs.c.done), else_=0)
    order = (_rate(pairs.c.done, pairs.c.minimum), shortfall.desc(), _binary(pairs.c.name, dialect),
             pairs.c.sort_order, pairs.c.person_id, pairs.c.rule_id)  # fmt: skip
    query = select(pairs.c.person_id, pairs.c.name, pairs.c.grid_id, pairs.c.rule_id, pairs.c.done).order_by(*order)
    return [
        Assessed.of(pid, name, gid, None, refs[rule_id], int(done))
        for pid, name, gid, rule_id, done in session.execute(_paged(query, offset, limit))
    ]


def _totals(session, pairs):
    """(the count of pairs, the summary): people assessed, people behind under some rule, the rest met."""
    behind = case((pairs.c.done < pairs.c.minimum, pairs.c.person_id))
    query = select(func.count(), func.count(distinct(pairs.c.person_id)), func.count(distinct(behind)))
    count, people, late = (int(n) for n in session.execute(query.select_from(pairs)).one())
    return count, {"people": people, "behind": late, "met": people - late, "pairs": count}


def _grid_page(session, pairs, refs, offset, limit):
    """The page of (grid, rule) groups (`GridProgress`) worst first, and how many groups there are."""
    dialect = session.get_bind().dialect.name
    late = pairs.c.done < pairs.c.minimum
    groups = (
        select(
            pairs.c.grid_id, pairs.c.rule_id, pairs.c.sort_order,
            func.count().label("people"),
            func.sum(case((late, 1), else_=0)).label("behind"),
            func.sum(pairs.c.done).label("done"),
            func.sum(pairs.c.minimum).label("target"),
            func.sum(case((late, pairs.c.minimum - pairs.c.done), else_=0)).label("shortfall"),
        )
        .group_by(pairs.c.grid_id, pairs.c.rule_id, pairs.c.sort_order)
        .subquery("groups")
    )  # fmt: skip
    g = groups.c
    order = (_rate(g.target - g.shortfall, g.target), g.shortfall.desc(), _binary(Grid.name, dialect), g.sort_order,
             g.grid_id, g.rule_id)  # fmt: skip
    query = (
        select(g.grid_id, Grid.name, g.rule_id, g.people, g.behind, g.done, g.target, g.shortfall, func.count().over())
        .join(Grid, Grid.id == g.grid_id)
        .order_by(*order)
    )
    rows = session.execute(_paged(query, offset, limit)).all()
    page = [
        GridProgress(GridName(gid, name), refs[rule_id], *(int(n) for n in (people, behind, done, target, short)))
        for gid, name, rule_id, people, behind, done, target, short, _ in rows
    ]
    if rows:
        return page, int(rows[0][-1])
    if not offset:
        return page, 0
    return page, int(session.scalar(select(func.count()).select_from(groups)))  # a page past the end


def _rule_query(rule, done, day, person_clause, columns, changed=None):
    count_column = done.c.households if rule.unit == "households" else done.c.visits
    count = func.coalesce(count_column, 0)
    return (
        select(*columns(count))
        .select_from(Person)
        .outerjoin(done, done.c.person_id == Person.id)
        .where(_rule_people(rule, day, person_clause, changed))
    )


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
    changed = changed_after(session, day)
    for rule in applicable_rules(session, period):
        ref = RuleRef.of(rule, period)
        minimum = ref.minimum
        assessed = _rule_people(rule, day, person_clause, changed)
        done = _done_counts(period, person_ids if person_ids is not None else select(Person.id).where(assessed))

        def columns(count, minimum=minimum):
            capped = case((count >= minimum, minimum), else_=count)
            aggregates = [
                func.count(Person.id),
                func.coalesce(func.sum(case((count >= minimum, 1), else_=0)), 0),
                func.coalesce(func.sum(capped), 0),
            ]
            return ([group] if group is not None else []) + aggregates

        query = _rule_query(rule, done, day, person_clause, columns, changed)
        if group is not None:
            for key, people, met, capped in session.execute(query.group_by(group)).all():
                out[key].append(RuleRollup(ref, period, int(people), int(met), int(capped), int(people) * minimum))
        else:
            people, met, capped = session.execute(query).one()
            out.append(RuleRollup(ref, period, int(people), int(met), int(capped), int(people) * minimum))
    return out


def rollup_by_child(session, grid, period, person_clause, on=None):
    """`quota_rollup` of `person_clause` split by the child subtree of `grid` each person lies in
    ({child grid id: [RuleRollup]}, None: the people of the grid itself), counted live."""
    child = select(Grid.id, Grid.path).where(Grid.parent_id == grid.id).subquery()
    high = func.substr(child.c.path, 1, func.length(child.c.path) - 1).concat("0")
    person_grid = Grid.__table__.alias("person_grid")
    child_of_person = (
        select(child.c.id)
        .where(person_grid.c.id == Person.grid_id, person_grid.c.path >= child.c.path, person_grid.c.path < high)
        .scalar_subquery()
    )
    return quota_rollup(session, period, person_clause, on=on, group=child_of_person)


def people_rollups(session, periods, person_ids, on=None):
    """`quota_rollup(..., group=Person.id, person_ids=...)` of a few people named outright (the
    responsible people of an accountability table) for each of `periods`: {period kind: {person
    id: [RuleRollup]}}, each person judged in Python on their row, their first change of kind
    after the period's day and their tally (as `own_progress`; the database's LIKE folding):
    four small queries, not two per rule."""
    on = on or today()
    ids = sorted(set(person_ids))
    out = {period.kind: defaultdict(list) for period in periods}
    if not ids:
        return out
    matches = cells.matcher(session.get_bind().dialect.name)
    people = session.execute(
        select(Person.id, Person.kind_id, Person.position).where(Person.id.in_(ids), Person.active.is_(True))
    ).all()
    first_day = min(min(period.end, on) for period in periods)
    changes = session.execute(
        select(PersonKindChange.person_id, PersonKindChange.changed_on, PersonKindChange.old_kind_id,
               PersonKindChange.old_position)
        .where(PersonKindChange.person_id.in_(ids), PersonKindChange.changed_on > first_day)
        .order_by(PersonKindChange.changed_on, PersonKindChange.id)
    ).all()  # fmt: skip
    tally = {
        (row.person_id, row.period, row.start): (row.visits, row.households)
        for row in session.execute(
            select(VisitTally.person_id, VisitTally.period, VisitTally.start, VisitTally.visits, VisitTally.households)
            .where(VisitTally.person_id.in_(ids))
            .where(tuple_(VisitTally.period, VisitTally.start).in_([(p.kind, p.start) for p in periods]))
        )
    }
    for period in periods:
        day = min(period.end, on)
        state = {pid: (kind_id, position) for pid, kind_id, position in people}
        for pid, changed_on, old_kind, old_position in reversed(changes):  # the first change after the day wins
            if changed_on > day and pid in state:
                state[pid] = (old_kind, old_position)
        for rule in applicable_rules(session, period):
            ref = RuleRef.of(rule, period)
            for pid, (kind_id, position) in state.items():
                if not matches(rule, kind_id, position):
                    continue
                counts = tally.get((pid, period.kind, period.start), (0, 0))
                done = int(counts[1] if rule.unit == "households" else counts[0])
                met = int(done >= ref.minimum)
                out[period.kind][pid].append(RuleRollup(ref, period, 1, met, min(done, ref.minimum), ref.minimum))
    return out


def kept_rollups(session, periods, anchors, on=None, by_child=False):
    """`quota_rollup` of the people under the grids `anchors` (subtree roots, none inside
    another) for each of `periods` (of different kinds), summed from the cells kept on write
    (`cells`) in one query: {period kind: [RuleRollup]}, or with `by_child` {period kind: {child
    grid id (None: the grid itself): [RuleRollup]}}. None when the cells cannot answer (a change
    of kind or position recorded after a period's day): count live then."""
    on = on or today()
    if not cells.serves(session, periods, on):
        return None
    rules = session.scalars(
        select(QuotaRule)
        .where(QuotaRule.active.is_(True), QuotaRule.period.in_([period.kind for period in periods]))
        .order_by(QuotaRule.sort_order, QuotaRule.id)
    ).all()
    return cells.rollups(session, periods, rules, anchors, RuleRollup, by_child)


def kept_rollup(session, period, anchors, on=None, by_child=False):
    """`kept_rollups` of one period: [RuleRollup] (or by child), None when the cells cannot answer."""
    kept = kept_rollups(session, [period], anchors, on, by_child)
    return None if kept is None else kept[period.kind]


def rollup_rate(rollups):
    """Completion over several rules (None when nobody is assessed)."""
    target = sum(r.target for r in rollups)
    return min(1.0, sum(r.done for r in rollups) / target) if target else None
