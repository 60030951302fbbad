"""The visit quotas' figures kept per grid (table `quota_cell`), in the transaction of every write.

A leader's dashboard and accountability table show, per rule, how many people of a jurisdiction
are assessed, how many met the target and how much of it is done (`RuleRollup`). Counted from
the people and the visit tally that joins every person of a county on every view; here the
figures are kept per grid on each person's grid path (the grid itself, child 0, and every grid
above with the child the person lies under), so a jurisdiction's figures are a sum over the cells
of its top grid (or its roots): a few hundred rows.

What a cell holds (`QuotaCell`): per (grid, rule) the people the rule assesses now (row
`start` = ASSESSED), and per period of the rule's kind the people who did something, by their
count capped at the rule's target (row `start` = the period's first day, `done` = the capped
count). people = assessed; met = those in the bucket of the target; done = Σ bucket × people;
target = people × target. Nothing needs a row when a month begins (nobody has done anything yet).

The cells follow the people as they are now (kind, position, grid, active) and the rules as they
are now: exactly what `quota_rollup` counts for a period whose last day (or today) no recorded
change of kind or position lies after (`serves`); else the figures are counted live.

Kept exact by one mechanism, whatever writes:

* a flush touching people (kind, position, grid, active, new, deleted) or visits (their visitors
  before and after): the people's contributions are read before the flush (their rows locked
  first, so two writers take turns) and after it (the visit tally is recounted by then:
  `app.services.tally` listens first), and the difference is added to the cells;
* a rule added, edited or removed: its cells are counted again in SQL (`recount`);
* a grid moved: its own cells (its subtree, summed over its children) are taken from the grids above
  it before and given to the grids above it after (`app.services.grid_moves`), counting nobody.

Writes below the ORM (the bulk loader, `rebuild-tallies`) are followed by `rebuild()`;
`flask minqing rollups check` compares the cells with a count (`differences`).
"""

from __future__ import annotations

from collections import Counter, defaultdict

from sqlalchemy import Date, bindparam, case, event, func, select, text
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session

from app.models.grids import Grid
from app.models.personnel import Person
from app.models.visits import ASSESSED, PersonKindChange, QuotaCell, QuotaRule, Visit, VisitTally, visit_visitors
from app.services import grid_moves, tally  # noqa: F401  (its listeners first: the tally is recounted before the cells read it)
from app.services.quotas.periods import RuleRef
from app.services.quotas.rules import MONTHS_IN
from app.services.rollup_sql import PAIRS
from app.services.rollups import apply_counts

CELL = QuotaCell.__table__
KEYS = ("anchor_grid_id", "rule_id", "start", "child_grid_id", "done")
PERSON_ATTRIBUTES = ("kind_id", "kind", "position", "grid_id", "grid", "active")
RULE_ATTRIBUTES = ("kind_id", "kind", "position_contains", "period", "unit", "minimum", "average_per_month", "active")
_PENDING = "minqing_quota_cells_pending"
BATCH = 2000


def target_of(rule):
    """The rule's target in one of its periods (`rule_target`: the minimum, times the months of a
    quarter or year for a rule 平均每月); a person's count is capped at it."""
    months = MONTHS_IN[rule.period]
    return rule.minimum * months if rule.average_per_month and months >= 3 else rule.minimum


# --------------------------------------------------------------------------
# Who a rule assesses, as the database's LIKE says (SQLite folds ASCII letters, PostgreSQL does not)
# --------------------------------------------------------------------------

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def matcher(dialect):
    fold = (lambda s: s.translate(_ASCII_LOWER)) if dialect == "sqlite" else (lambda s: s)

    def matches(rule, kind_id, position):
        if rule.kind_id is not None and kind_id != rule.kind_id:
            return False
        words = rule.position_words
        return not words or any(fold(w) in fold(position or "") for w in words)

    return matches


def _rules(conn):
    return conn.execute(
        select(QuotaRule.__table__).where(QuotaRule.__table__.c.active.is_(True)).order_by(QuotaRule.__table__.c.id)
    ).all()


class _Rule:
    """A rule row with the words of its position (the ORM's `position_words`)."""

    def __init__(self, row):
        self.id, self.kind_id, self.period, self.unit = row.id, row.kind_id, row.period, row.unit
        self.minimum, self.average_per_month = row.minimum, row.average_per_month
        self.position_words = QuotaRule(position_contains=row.position_contains).position_words
        self.target = target_of(self)


# --------------------------------------------------------------------------
# Kept on write: the people's contributions before and after a flush
# --------------------------------------------------------------------------


def contributions(conn, person_ids):
    """{cell key (KEYS order): people} that the people `person_ids` add to the cells now."""
    ids = sorted(i for i in person_ids if i is not None)
    out = Counter()
    if not ids:
        return out
    rules = [_Rule(row) for row in _rules(conn)]
    if not rules:
        return out
    matches = matcher(conn.dialect.name)
    person, grid, tallies = Person.__table__, Grid.__table__, VisitTally.__table__
    for i in range(0, len(ids), BATCH):
        chunk = ids[i : i + BATCH]
        done = defaultdict(list)
        for row in conn.execute(
            select(
                tallies.c.person_id, tallies.c.period, tallies.c.start, tallies.c.visits, tallies.c.households
            ).where(tallies.c.person_id.in_(chunk))
        ):
            done[row.person_id].append(row)
        people = conn.execute(
            select(person.c.id, person.c.kind_id, person.c.position, grid.c.path)
            .join(grid, grid.c.id == person.c.grid_id)
            .where(person.c.id.in_(chunk), person.c.active.is_(True))
        )
        for pid, kind_id, position, path in people:
            grids = [int(part) for part in (path or "").strip("/").split("/") if part]
            pairs = [(anchor, grids[k + 1] if k + 1 < len(grids) else 0) for k, anchor in enumerate(grids)]
            for rule in rules:
                if not matches(rule, kind_id, position):
                    continue
                counts = []
                for t in done.get(pid, ()):
                    n = t.households if rule.unit == "households" else t.visits
                    if t.period == rule.period and n > 0:
                        counts.append((t.start, min(n, rule.target)))
                for anchor, child in pairs:
                    out[(anchor, rule.id, ASSESSED, child, 0)] += 1
                    for start, capped in counts:
                        out[(anchor, rule.id, start, child, capped)] += 1
    return out


def apply(conn, delta):
    """Add {cell key: change} to the cells (one upsert, cells in one order so two writers wait
    rather than deadlock); cells left with nobody go."""
    apply_counts(conn, CELL, KEYS, delta, column="people")


def _changed(obj, names):
    attrs = sa_inspect(obj).attrs
    return any(name in attrs and attrs[name].history.has_changes() for name in names)


@event.listens_for(Session, "before_flush")
def _note_before(session, flush_context, instances):
    """The people a flush may change the cells of, and what they add to the cells now."""
    objects, ids, rules, moved = [], set(), set(), set()
    visits = []
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Person):
            if obj in session.new or obj in session.deleted or _changed(obj, PERSON_ATTRIBUTES):
                objects.append(obj)
        elif isinstance(obj, Visit):
            visits.append(obj)
            if obj not in session.deleted:
                objects.extend(obj.visitors or ())
        elif isinstance(obj, QuotaRule):
            if obj in session.new or obj in session.deleted or _changed(obj, RULE_ATTRIBUTES):
                rules.add(obj)
        elif isinstance(obj, Grid) and _changed(obj, ("parent_id", "parent")):
            moved.add(obj)
    if not (objects or visits or rules or moved):
        return
    conn = session.connection()
    ids.update(p.id for p in objects if p.id is not None)
    stored = [v.id for v in visits if v.id is not None]
    if stored:
        ids.update(
            conn.execute(select(visit_visitors.c.person_id).where(visit_visitors.c.visit_id.in_(stored))).scalars()
        )
    if ids:  # one writer at a time per person (the tally locks them too): the second reads what the first wrote
        conn.execute(select(Person.id).where(Person.id.in_(sorted(ids))).order_by(Person.id).with_for_update())
    # a flush that found nothing to write never reached after_flush: what it noted is simply replaced
    before = contributions(conn, ids)
    session.info[_PENDING] = (objects, ids, before, rules, moved)


@event.listens_for(Session, "after_flush")
def _add_difference(session, flush_context):
    pending = session.info.pop(_PENDING, None)
    if pending is None:
        return
    objects, ids, before, rules, moved = pending
    conn = session.connection()
    ids = set(ids) | {p.id for p in objects if p.id is not None}
    delta = contributions(conn, ids)
    delta.subtract(before)
    moves = grid_moves.Moves(session) if moved else None
    if moves and not moves.nested:  # the grids above a moved one lose or gain what it holds
        taken = {key: -n for key, n in before.items()}  # what the flush took out before the move
        held = grid_moves.held(conn, CELL, KEYS, ("people",), moves.grids, taken)
        for key, (change,) in moves.delta(KEYS, held).items():
            delta[key] += change
    apply(conn, delta)
    for rule in rules:
        recount(conn, rule_id=rule.id)
    if moves and moves.nested:  # one moved grid above another: the grids above them counted again
        recount(conn, anchors=moves.anchors)


@event.listens_for(Session, "after_rollback")
def _forget(session):
    session.info.pop(_PENDING, None)


# --------------------------------------------------------------------------
# Counted in SQL: a rule's or some grids' cells, the whole table, the check
# --------------------------------------------------------------------------


def _like(word):
    escaped = word.replace("/", "//").replace("%", "/%").replace("_", "/_")
    return f"%{escaped}%"


def _counted_selects(rule, anchors=None, into=""):
    """Two statements (assessed rows, done rows) of one rule's cells counted from the people and
    the visit tally, each SELECT prefixed by `into`; only of the grids `anchors` when given."""
    where = ["x.active = :active"]
    params = {"active": True}
    if rule.kind_id is not None:
        where.append(f"x.kind_id = {int(rule.kind_id)}")
    words = rule.position_words
    if words:
        likes = []
        for n, word in enumerate(words):
            likes.append(f"COALESCE(x.position, '') LIKE :w{n} ESCAPE '/'")
            params[f"w{n}"] = _like(word)
        where.append("(" + " OR ".join(likes) + ")")
    if anchors is not None:
        where.append("p.anchor_id IN (" + ", ".join(str(int(a)) for a in sorted(anchors)) + ")")
    condition = " AND ".join(where)
    rule_id, cap = int(rule.id), int(rule.target)
    count = "t.households" if rule.unit == "households" else "t.visits"
    capped = f"CASE WHEN {count} >= {cap} THEN {cap} ELSE {count} END"
    head = f"{into} {PAIRS} SELECT p.anchor_id AS anchor_grid_id, {rule_id} AS rule_id, "
    assessed = (
        f"{head}:assessed AS start, p.child_id AS child_grid_id, 0 AS done, count(*) AS people "
        f"FROM person x JOIN pairs p ON p.grid_id = x.grid_id WHERE {condition} GROUP BY p.anchor_id, p.child_id"
    )
    done = (
        f"{head}t.start AS start, p.child_id AS child_grid_id, {capped} AS done, count(*) AS people "
        f"FROM person x JOIN pairs p ON p.grid_id = x.grid_id "
        f"JOIN visit_tally t ON t.person_id = x.id AND t.period = :period "
        f"WHERE {condition} AND {count} > 0 GROUP BY p.anchor_id, t.start, p.child_id, {capped}"
    )
    return (
        text(assessed).bindparams(bindparam("assessed", ASSESSED, type_=Date), **params),
        text(done).bindparams(period=rule.period, **params),
    )


def recount(conn, rule_id=None, anchors=None):
    """Count again the cells of one rule (`rule_id`), of some grids (`anchors`), or all."""
    delete = CELL.delete()
    if rule_id is not None:
        delete = delete.where(CELL.c.rule_id == rule_id)
    if anchors is not None:
        delete = delete.where(CELL.c.anchor_grid_id.in_(sorted(anchors)))
    conn.execute(delete)
    into = "INSERT INTO quota_cell (" + ", ".join((*KEYS, "people")) + ")"
    for row in _rules(conn):
        if rule_id is None or row.id == rule_id:
            for statement in _counted_selects(_Rule(row), anchors, into):
                conn.execute(statement)


def rebuild(session):
    """Every cell counted again from the people and the visit tally (after the tally is rebuilt,
    a bulk load, hand-made SQL). Returns the number of cells."""
    conn = session.connection()
    recount(conn)
    if conn.dialect.name == "postgresql":
        conn.execute(text("ANALYZE quota_cell"))
    return conn.execute(select(func.count()).select_from(CELL)).scalar()


def counted(conn):
    """{cell key: people} as a count of the people and the tally says the cells should be."""
    out = {}
    for row in _rules(conn):
        for statement in _counted_selects(_Rule(row)):
            for anchor, rule_id, start, child, done, people in conn.execute(statement.columns(start=Date)):
                out[(anchor, rule_id, start, child, done)] = people
    return out


def differences(session):
    """The cells that differ from a count: [(cell as a dict, counted, kept)]."""
    conn = session.connection()
    should = counted(conn)
    kept = {tuple(row[:-1]): row[-1] for row in conn.execute(select(*(CELL.c[n] for n in KEYS), CELL.c.people))}
    return [
        (dict(zip(KEYS, key, strict=True)), should.get(key, 0), kept.get(key, 0))
        for key in sorted(set(should) | set(kept), key=repr)
        if should.get(key, 0) != kept.get(key, 0)
    ]


def describe(difference):
    cell, should, kept = difference
    return " ".join(f"{name}={value}" for name, value in cell.items()) + f": counted {should}, kept {kept}"


# --------------------------------------------------------------------------
# Read: a jurisdiction's figures per rule
# --------------------------------------------------------------------------


def serves(session, periods, on):
    """The cells answer for `periods` seen on `on`: nobody's kind or position changed after the
    day a period is assessed on (else the people are counted under their kind of that day)."""
    day = min(min(period.end for period in periods), on)
    return session.scalar(select(PersonKindChange.id).where(PersonKindChange.changed_on > day).limit(1)) is None


def rollups(session, periods, rules, anchors, make, by_child=False):
    """`quota_rollup`'s figures for the people under the grids `anchors` (subtree roots, none in
    another), summed from the cells in one query for several `periods` (of different kinds):
    {period kind: [RuleRollup] per rule of `rules` of that kind (QuotaRule rows, in order)}, or
    with `by_child` {period kind: {child grid id (None: the grid itself): [RuleRollup]}} of the
    children with somebody assessed. `make` builds a RuleRollup (`report` owns the class)."""
    by_kind = {period.kind: period for period in periods}
    refs = {rule.id: (RuleRef.of(rule, by_kind[rule.period]), by_kind[rule.period]) for rule in rules}
    found = {}
    if anchors and refs:
        targets = case({rid: ref.minimum for rid, (ref, _p) in refs.items()}, value=CELL.c.rule_id, else_=0)
        starts = case({rid: period.start for rid, (_r, period) in refs.items()}, value=CELL.c.rule_id)
        current = CELL.c.start == starts
        keys = [CELL.c.rule_id] + ([CELL.c.child_grid_id] if by_child else [])
        rows = session.execute(
            select(
                *keys,
                func.sum(case((CELL.c.start == ASSESSED, CELL.c.people), else_=0)),
                func.sum(case((current & (CELL.c.done >= targets), CELL.c.people), else_=0)),
                func.sum(case((current, CELL.c.done * CELL.c.people), else_=0)),
            )
            .where(
                CELL.c.anchor_grid_id.in_(sorted(anchors)),
                CELL.c.rule_id.in_(list(refs)),
                CELL.c.start.in_(sorted({ASSESSED, *(period.start for period in periods)})),
            )
            .group_by(*keys)
        ).all()
        found = {tuple(row[: len(keys)]): [int(v or 0) for v in row[len(keys) :]] for row in rows}
    out = {kind: defaultdict(list) if by_child else [] for kind in by_kind}
    if not by_child:
        for rid, (ref, period) in refs.items():
            people, met, done = found.get((rid,), (0, 0, 0))
            out[period.kind].append(make(ref, period, people, met, done, people * ref.minimum))
        return out
    order = list(refs)
    for (rid, child), (people, met, done) in sorted(found.items(), key=lambda item: order.index(item[0][0])):
        if people:
            ref, period = refs[rid]
            out[period.kind][child or None].append(make(ref, period, people, met, done, people * ref.minimum))
    return out


__all__ = ["apply", "contributions", "differences", "rebuild", "recount", "rollups", "serves"]
