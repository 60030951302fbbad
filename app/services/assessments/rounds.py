"""One 考核 (a round): its period, the assessor's inputs, 计算 (the snapshot of results) and 发布
(the lock). Pages read the stored AssessmentScore / AssessmentEntry rows; only 计算 counts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select

from app.core.clock import now
from app.core.errors import Collector, DomainError
from app.models.assessments import AssessmentEntry, AssessmentInput, AssessmentItem, AssessmentScore
from app.models.grids import Grid, subtree_bounds
from app.models.personnel import Person
from app.services.assessments import scoring
from app.services.assessments.scheme import AUTO, MANUAL, VOTES, check_total
from app.services.assessments.sources import MEMBER, SOURCES

DRAFT, COMPUTED, PUBLISHED = "draft", "computed", "published"
STATUSES = {DRAFT: _l("Draft"), COMPUTED: _l("Computed"), PUBLISHED: _l("Published")}
PERIODS = {
    "q1": _l("1st quarter"),
    "q2": _l("2nd quarter"),
    "q3": _l("3rd quarter"),
    "q4": _l("4th quarter"),
    "h1": _l("1st half-year"),
    "h2": _l("2nd half-year"),
    "year": _l("Whole year"),
}
_BOUNDS = {"q1": (1, 3), "q2": (4, 6), "q3": (7, 9), "q4": (10, 12), "h1": (1, 6), "h2": (7, 12), "year": (1, 12)}
NO_DATA = _l("No data yet")


class Locked(DomainError):
    """The round is published: its results and inputs no longer change."""

    status = 409


LOCKED = _l("This assessment is published: its results and entries can no longer be changed.")


def period_bounds(year, period):
    """(first day, last day) of the period of the year."""
    first, last = _BOUNDS[period]
    end = date(year + 1, 1, 1) if last == 12 else date(year, last + 1, 1)
    return date(year, first, 1), date.fromordinal(end.toordinal() - 1)


def period_title(rnd):
    return f"{rnd.year}年{PERIODS.get(rnd.period, rnd.period)}"


def check_open(rnd):
    if rnd is not None and rnd.status == PUBLISHED:
        raise Locked(LOCKED)


def validate_round(session, rnd):
    check_open(rnd)
    errors = Collector()
    with errors.check():
        if rnd.period not in PERIODS:
            raise DomainError(_l("Choose a quarter, a half-year or the year."), field="period")
    with errors.check():
        if rnd.year is None or not 2000 <= int(rnd.year) <= 2100:
            raise DomainError(_l("Enter a year between 2000 and 2100."), field="year")
    with errors.check():
        if rnd.grid is not None and rnd.team_level is not None and rnd.team_level.rank < rnd.grid.level.rank:
            raise DomainError(_l("The teams must be at the level of the grid or below it."), field="team_level")
    errors.raise_if_any()
    if rnd.status not in STATUSES:
        rnd.status = DRAFT


def teams_of(session, rnd):
    """The grids of the round's team level in its jurisdiction (active), by code."""
    low, high = subtree_bounds(rnd.grid.path)
    return session.scalars(
        select(Grid)
        .where(Grid.path >= low, Grid.path < high, Grid.level_id == rnd.team_level_id, Grid.active.is_(True))
        .order_by(Grid.sort_order, Grid.code)
    ).all()


def is_team(session, rnd, grid):
    return grid is not None and grid.level_id == rnd.team_level_id and grid.path.startswith(rnd.grid.path)


def validate_input(session, entry):
    """Every problem of an entry at once (a published round refuses before anything else)."""
    rnd, item = entry.assessment, entry.item
    check_open(rnd)
    errors = Collector()
    with errors.check():
        if item is not None and rnd is not None and item.scheme_id != rnd.scheme_id:
            raise DomainError(_l("The item is not part of this assessment's scheme."), field="item")
    with errors.check():
        if rnd is not None and not is_team(session, rnd, entry.grid):
            raise DomainError(_l("Choose one of the assessment's work teams."), field="grid")
    if item is None:
        errors.raise_if_any()
        return
    with errors.check():
        if item.kind == AUTO:
            raise DomainError(_l("Automatic items are computed from the figures; nothing is entered."), field="item")
    with errors.check():
        if item.subject == MEMBER:
            person = entry.person
            if person is None:
                raise DomainError(_l("This item scores each member: choose the member."), field="person")
            if entry.grid is not None and not (
                person.grid is not None and person.grid.path.startswith(entry.grid.path)
            ):
                raise DomainError(_l("The member does not belong to this team."), field="person")
        elif entry.person is not None:
            raise DomainError(_l("This item scores the team: leave the member empty."), field="person")
    if item.kind == MANUAL:
        with errors.check():
            if entry.points is None or not 0 <= float(entry.points) <= float(item.points):
                raise DomainError(
                    _l("Enter points between 0 and %(max)s.", max=f"{float(item.points):g}"), field="points"
                )
        with errors.check():
            if not (entry.reason or "").strip():
                raise DomainError(_l("Give the reason for the points."), field="reason")
    if item.kind == VOTES:
        with errors.check():
            votes = (entry.votes_satisfied, entry.votes_basic, entry.votes_unsatisfied)
            if any(v is None or v < 0 for v in votes):
                raise DomainError(_l("Enter the three vote counts (0 or more)."), field="votes_satisfied")
            minimum = int(current_app.config.get("ASSESSMENT_MIN_VOTERS", 0) or 0)
            if sum(votes) < minimum:
                raise DomainError(
                    _l("The review meeting needs at least %(n)s voters; %(got)s votes were entered.", n=minimum,
                       got=sum(votes)),
                    field="votes_satisfied",
                )  # fmt: skip
    errors.raise_if_any()


# --------------------------------------------------------------------------
# 计算: the snapshot
# --------------------------------------------------------------------------


@dataclass
class Scored:
    item: object
    figure: float | None
    points: float | None
    detail: str = ""


@dataclass
class TeamResult:
    grid: object
    own: list = field(default_factory=list)  # Scored of the team's items
    members: dict = field(default_factory=dict)  # person -> [Scored of the member items]


def _evaluate(item, figure_detail, entry):
    if item.kind == AUTO:
        figure, detail = figure_detail or (None, "")
        points = scoring.rate_points(item.points, figure, item.full_at, item.zero_at)
        return Scored(item, figure, points, detail if figure is not None else str(NO_DATA))
    if item.kind == MANUAL:
        if entry is None or entry.points is None:
            return Scored(item, None, None, str(NO_DATA))
        return Scored(item, None, float(entry.points), entry.reason or "")
    if entry is None:
        return Scored(item, None, None, str(NO_DATA))
    bases = (item.score_satisfied, item.score_basic, item.score_unsatisfied)
    figure, points = scoring.vote_points(
        item.points, entry.votes_satisfied, entry.votes_basic, entry.votes_unsatisfied, bases
    )
    detail = str(
        _l("Satisfied %(a)s, fairly satisfied %(b)s, unsatisfied %(c)s", a=entry.votes_satisfied or 0,
           b=entry.votes_basic or 0, c=entry.votes_unsatisfied or 0)
    )  # fmt: skip
    return Scored(item, figure, points, detail)


def _members(session, rnd, teams):
    """{team id: [person]}: the active people whose grid lies in each team's subtree."""
    out = {t.id: [] for t in teams}
    low, high = subtree_bounds(rnd.grid.path)
    people = session.execute(
        select(Person, Grid.path)
        .join(Grid, Grid.id == Person.grid_id)
        .where(Person.active.is_(True), Grid.path >= low, Grid.path < high)
        .order_by(Person.name, Person.id)
    ).all()
    for person, path in people:
        for team in teams:
            if path.startswith(team.path):
                out[team.id].append(person)
                break
    return out


def evaluate(session, rnd):
    """[TeamResult] of the round, from the figures of this moment and the entries."""
    start, end = period_bounds(rnd.year, rnd.period)
    items = session.scalars(
        select(AssessmentItem).where(AssessmentItem.scheme_id == rnd.scheme_id).order_by(
            AssessmentItem.sort_order, AssessmentItem.id
        )
    ).all()  # fmt: skip
    teams = teams_of(session, rnd)
    if not teams:
        raise DomainError(_l("The jurisdiction has no grids at the level of the work teams."), field="team_level")
    members = _members(session, rnd, teams)
    entries = {
        (e.item_id, e.grid_id, e.person_id): e
        for e in session.scalars(select(AssessmentInput).where(AssessmentInput.round_id == rnd.id))
    }
    results = []
    for team in teams:
        result = TeamResult(team)
        people = members[team.id]
        ids = [p.id for p in people]
        member_figures = {
            item.id: SOURCES[item.source].compute(session, ids, start, end)
            for item in items
            if item.kind == AUTO and item.subject == MEMBER
        }
        for item in items:
            if item.subject == MEMBER:
                continue
            figure = SOURCES[item.source].compute(session, team, start, end) if item.kind == AUTO else None
            result.own.append(_evaluate(item, figure, entries.get((item.id, team.id, None))))
        for person in people:
            result.members[person] = [
                _evaluate(
                    item, member_figures.get(item.id, {}).get(person.id), entries.get((item.id, team.id, person.id))
                )
                for item in items
                if item.subject == MEMBER
            ]
        results.append(result)
    return results


def _entry(scored, order):
    return AssessmentEntry(
        item_id=scored.item.id, name=scored.item.name, max_points=float(scored.item.points),
        figure=scored.figure, points=scoring.rounded(scored.points), detail=(scored.detail or "")[:500],
        sort_order=order,
    )  # fmt: skip


def _team_member_average(results_by_item, item, order):
    values = [s.points for s in results_by_item]
    known = [v for v in values if v is not None]
    detail = str(_l("Average of %(n)s members", n=len(known))) if known else str(NO_DATA)
    return AssessmentEntry(
        item_id=item.id, name=item.name, max_points=float(item.points), figure=None,
        points=scoring.rounded(scoring.average(values)), detail=detail, sort_order=order,
    )  # fmt: skip


def _rank(rows):
    for row, rank in zip(rows, scoring.ranks([r.score for r in rows]), strict=True):
        row.rank = rank


def compute_round(session, rnd):
    """计算: replace the round's stored results with those of this moment."""
    check_open(rnd)
    check_total(session, rnd.scheme)
    results = evaluate(session, rnd)
    old = select(AssessmentScore.id).where(AssessmentScore.round_id == rnd.id)
    session.execute(delete(AssessmentEntry).where(AssessmentEntry.score_id.in_(old)))
    session.execute(delete(AssessmentScore).where(AssessmentScore.round_id == rnd.id))
    people_rows, team_rows, units = [], [], {}
    for result in results:
        team = result.grid
        own_points = [s.points for s in result.own]
        member_points = {p: [s.points for s in scored] for p, scored in result.members.items()}
        team_total = scoring.rounded(scoring.team_score(own_points, list(member_points.values())))
        # a unit is the team's parent grid, inside the round's jurisdiction (never above it)
        parent = team.parent
        unit = (
            parent if parent is not None and team.id != rnd.grid_id and parent.path.startswith(rnd.grid.path) else team
        )
        row = AssessmentScore(
            assessment=rnd, subject="team", grid_id=team.id, unit_id=unit.id, name=team.name, score=team_total,
            unscored=sum(1 for s in result.own if s.points is None),
        )  # fmt: skip
        row.entries = [_entry(s, i) for i, s in enumerate(result.own)]
        member_items = [s.item for s in next(iter(result.members.values()), [])]
        for j, item in enumerate(member_items):
            row.entries.append(
                _team_member_average([scored[j] for scored in result.members.values()], item, len(result.own) + j)
            )
        team_rows.append(row)
        units.setdefault(unit.id, (unit, []))[1].append(team_total)
        for person, scored in result.members.items():
            prow = AssessmentScore(
                assessment=rnd, subject="person", grid_id=team.id, person_id=person.id, unit_id=unit.id,
                name=person.name, score=scoring.rounded(scoring.member_score(own_points, member_points[person])),
                unscored=sum(1 for s in [*result.own, *scored] if s.points is None),
            )  # fmt: skip
            prow.entries = [_entry(s, i) for i, s in enumerate([*result.own, *scored])]
            people_rows.append(prow)
    unit_rows = []
    for unit, scores in units.values():
        urow = AssessmentScore(
            assessment=rnd, subject="unit", grid_id=unit.id, name=unit.name,
            score=scoring.rounded(scoring.unit_score(scores)), unscored=sum(1 for s in scores if s is None),
        )  # fmt: skip
        urow.entries = [
            AssessmentEntry(name=t.name, max_points=100.0, points=t.score, detail=str(_l("Work team")), sort_order=i)
            for i, t in enumerate(r for r in team_rows if r.unit_id == unit.id)
        ]
        unit_rows.append(urow)
    for rows in (people_rows, team_rows, unit_rows):
        _rank(rows)
        session.add_all(rows)
    rnd.status = COMPUTED
    rnd.computed_at = now()
    session.flush()
    return {"people": len(people_rows), "teams": len(team_rows), "units": len(unit_rows)}


def publish_round(session, rnd, user_id=None):
    """发布: the results as computed become final; nothing of the round changes any more."""
    check_open(rnd)
    if rnd.status != COMPUTED:
        raise DomainError(_l("Compute the results before publishing them."))
    rnd.status = PUBLISHED
    rnd.published_at = now()
    rnd.published_by_id = user_id
    session.flush()


def check_round_deletable(session, rnd):
    check_open(rnd)
    if session.scalar(select(AssessmentInput.id).where(AssessmentInput.round_id == rnd.id).limit(1)):
        raise DomainError(_l("Delete the assessment's entries first."))


def clear_results(session, rnd):
    """Results of a draft that is deleted go with it."""
    old = select(AssessmentScore.id).where(AssessmentScore.round_id == rnd.id)
    session.execute(delete(AssessmentEntry).where(AssessmentEntry.score_id.in_(old)))
    session.execute(delete(AssessmentScore).where(AssessmentScore.round_id == rnd.id))
