"""Progress toward the yearly target (REPRESENTATIVE_YEARLY_CONTACTS person-times), per
representative and ranked over a jurisdiction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import defaultload, lazyload, selectinload

from app.core.cache import memo
from app.core.clock import today
from app.core.errors import DomainError
from app.models.personnel import Person
from app.models.representatives import Constituency, ContactRecord, ContactTally, Representative
from app.services.quotas.periods import Pace, expected_by
from app.services.representatives.rules import overdue_reports_clause

# --------------------------------------------------------------------------
# Progress toward the yearly target
# --------------------------------------------------------------------------


def yearly_target():
    return current_app.config["REPRESENTATIVE_YEARLY_CONTACTS"]


def check_year(year):
    try:
        year = int(year)
    except (TypeError, ValueError):
        raise DomainError(_l("Choose a valid year."), field="year") from None
    if not 2000 <= year <= 2100:
        raise DomainError(_l("Choose a valid year."), field="year")
    return year


@dataclass
class RepProgress(Pace):
    representative: Representative
    year: int
    target: int
    done: int
    records: int
    expected: int
    overdue_reports: int = 0

    def as_dict(self):
        return {
            "representative_id": self.representative.id,
            "year": self.year,
            "target": self.target,
            "done": self.done,
            "records": self.records,
            "shortfall": self.shortfall,
            "expected_by_today": self.expected,
            "behind_pace": self.behind_pace,
            "overdue_reports": self.overdue_reports,
        }


def progress(session, rep, year, on=None):
    """Person-times met by `rep` in `year` against the yearly target, with the pace."""
    return progress_overview(session, year, Representative.id == rep.id, on=on, include_inactive=True)[0]


def _yearly_counts(year, on):
    """Per representative in `year`: person-times met and records (the contact tally, kept on
    every write: one row per representative) and important opinions reported late (counted
    from the few unreported ones, a function of today). Two subqueries keyed by rep_id, joined
    to the representatives the caller chose (a semi-join of the caller's clause inside them
    made PostgreSQL probe the constituency and grid of every tally row)."""
    kept = select(
        ContactTally.representative_id.label("rep_id"),
        ContactTally.done.label("done"),
        ContactTally.records.label("records"),
    ).where(ContactTally.year == year)
    late = (
        select(ContactRecord.representative_id.label("rep_id"), func.count().label("overdue"))
        .where(
            ContactRecord.contact_date >= date(year, 1, 1),
            ContactRecord.contact_date <= date(year, 12, 31),
            ContactRecord.deleted_at.is_(None),
            overdue_reports_clause(on),
        )
        .group_by(ContactRecord.representative_id)
    )
    return kept.subquery(), late.subquery()


def _with_counts(query, counts):
    """`query` (over Representative) outer-joined to both subqueries of `_yearly_counts`."""
    kept, late = counts
    return query.outerjoin(kept, kept.c.rep_id == Representative.id).outerjoin(late, late.c.rep_id == Representative.id)


def _serving_in(year):
    return and_(Representative.active.is_(True), Representative.term_start <= year, Representative.term_end >= year)


def progress_overview(session, year, clause, on=None, include_inactive=False, limit=None, offset=0, cache_key=None):
    """The representatives in `clause` serving in `year`: done / target, worst first.
    Ranked and paged (`offset`, `limit`) in SQL (one GROUP BY, then the page), so a county's 5,000
    mandates are not loaded to show the first few hundred; `progress_rollup` counts them."""
    on = on or today()
    year = check_year(year)
    start, end = date(year, 1, 1), date(year, 12, 31)
    target = yearly_target()
    counts = _yearly_counts(year, on)
    kept, late = counts
    done = func.coalesce(kept.c.done, 0)
    # the page's ids first, ranked on the counts alone (no person or constituency rows)...
    ranked = (
        _with_counts(
            select(Representative.id, done, func.coalesce(kept.c.records, 0), func.coalesce(late.c.overdue, 0)),
            counts,
        )
        .where(clause)
        # worst first: the fewest person-times toward the target (all who met it rank alike)
        .order_by(case((done >= target, target), else_=done), Representative.person_name, Representative.id)
    )
    if not include_inactive:
        ranked = ranked.where(_serving_in(year))
    if limit is not None:
        ranked = ranked.limit(limit).offset(offset)

    def rank():
        return [tuple(row) for row in session.execute(ranked).all()]

    if cache_key is None:
        page = rank()
    else:  # once per request
        page = memo(("rep_progress", year, on, include_inactive, limit, offset, cache_key), rank)
    # ...then those representatives, with what the page shows of them: the person's and the
    # constituency's own grids and kinds (joined by default) are not shown, and left out
    reps = (
        {
            rep.id: rep
            for rep in session.scalars(
                select(Representative)
                .where(Representative.id.in_([row[0] for row in page]))
                # people by their ids (joined, PostgreSQL merges through the whole person table)
                .options(
                    selectinload(Representative.person).lazyload(Person.grid),
                    selectinload(Representative.person).lazyload(Person.kind),
                    defaultload(Representative.constituency).lazyload(Constituency.grid),
                    defaultload(Representative.constituency).lazyload(Constituency.grids),
                )
            ).unique()
        }
        if page
        else {}
    )
    expected = expected_by(target, start, end, on)
    return [
        RepProgress(reps[rep_id], year, target, int(done_), int(records), expected, int(late or 0))
        for rep_id, done_, records, late in page
    ]


def overdue_reports_in(session, year, clause, on=None, limit=200):
    """The important opinions not reported in time that the progress page's rows count: contacts
    of `year`, by the representatives in `clause` serving in it (the rows' own filter), oldest first."""
    year = check_year(year)
    reps = select(Representative.id).where(clause, _serving_in(year))
    query = (
        select(ContactRecord)
        .where(
            ContactRecord.contact_date >= date(year, 1, 1),
            ContactRecord.contact_date <= date(year, 12, 31),
            ContactRecord.deleted_at.is_(None),
            ContactRecord.representative_id.in_(reps),
            overdue_reports_clause(on or today()),
        )
        .order_by(ContactRecord.contact_date, ContactRecord.id)
        .limit(limit)
        # what the page shows (date, place, opinions, the representative's name): the models' joined
        # chains (representative → person → grid → level, constituency → grid → level, form) made
        # PostgreSQL join every person of the county to pick 200 rows (0.7–1.3 s at city scale)
        .options(
            lazyload("*"),
            selectinload(ContactRecord.representative).lazyload("*"),
            selectinload(ContactRecord.representative).selectinload(Representative.person).lazyload("*"),
        )
    )
    return session.scalars(query).all()


@dataclass
class ProgressRollup:
    year: int
    representatives: int
    done: int
    target: int
    met: int
    behind_pace: int
    overdue_reports: int

    @property
    def rate(self):
        return min(1.0, self.done / self.target) if self.target else None


def progress_rollup(session, year, clause, on=None, cache_key=None):
    """The representatives of `clause` serving in `year` together: person-times met
    (each capped at the target), how many met it and how many are behind the
    calendar's pace, and important opinions not yet reported. One query, in SQL."""
    on = on or today()
    year = check_year(year)
    target = yearly_target()
    expected = expected_by(target, date(year, 1, 1), date(year, 12, 31), on)
    counts = _yearly_counts(year, on)
    kept, late = counts
    done = func.coalesce(kept.c.done, 0)

    def compute():
        row = session.execute(
            _with_counts(
                select(
                    func.count(Representative.id),
                    func.coalesce(func.sum(case((done >= target, target), else_=done)), 0),
                    func.coalesce(func.sum(case((done >= target, 1), else_=0)), 0),
                    func.coalesce(func.sum(case((done < expected, 1), else_=0)), 0),
                    func.coalesce(func.sum(late.c.overdue), 0),
                ).select_from(Representative),
                counts,
            ).where(clause, _serving_in(year))
        ).one()
        reps, capped, met, behind, overdue = (int(v) for v in row)
        return ProgressRollup(year, reps, capped, reps * target, met, behind, overdue)

    if cache_key is None:
        return compute()

    return memo(("rep_rollup", year, on, cache_key), compute)
