"""Representatives (人大代表) and their contact records with voters (联系选民记录).

Scope. A constituency belongs to the lowest grid containing every grid it
covers; a representative and their records follow their constituency. A user
sees a representative or a contact record when

* it is their own — the representative's person is the user's person — or
* one of their roles other than the own-only roles (REPRESENTATIVE_OWN_ONLY_ROLES,
  by default "Representative") can read the resource, and the constituency's grid
  lies in their jurisdiction.

So a user with only the Representative role sees and edits only their own
records (another representative's record answers 404), a leader sees every
record of the constituencies in their jurisdiction, and a user with several
roles sees the union of what each grants.

Target. Each representative contacts at least REPRESENTATIVE_YEARLY_CONTACTS
(40) voters a year, counted in person-times (a forum of 12 voters counts 12).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, timedelta

from flask import current_app, g, has_request_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, false, func, or_, select, true
from sqlalchemy.orm import defaultload, selectinload

from app.core.clock import now, today
from app.core.errors import DomainError, NotFound
from app.models.grids import Grid
from app.models.personnel import Person
from app.models.representatives import LEVELS, Constituency, ContactRecord, ReportState, Representative, report_days
from app.services import scope
from app.services.grids import references_to
from app.services.quotas import expected_by
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


def overdue_reports_clause(on=None):
    """Important opinions not reported within REPRESENTATIVE_REPORT_DAYS of the contact."""
    cutoff = (on or today()) - timedelta(days=report_days())
    return and_(
        ContactRecord.important.is_(True), ContactRecord.reported_at.is_(None), ContactRecord.contact_date < cutoff
    )


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
class RepProgress:
    representative: Representative
    year: int
    target: int
    done: int
    records: int
    expected: int
    overdue_reports: int = 0

    @property
    def shortfall(self):
        return max(0, self.target - self.done)

    @property
    def behind_pace(self):
        return self.done < self.expected

    @property
    def rate(self):
        return min(1.0, self.done / self.target) if self.target else 1.0

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


def _yearly_counts(year, on, clause=None):
    """Per representative in `year`: person-times met, records, important opinions reported
    late; only of the representatives in `clause` when given (a township's, not the county's)."""
    start, end = date(year, 1, 1), date(year, 12, 31)
    query = (
        select(
            ContactRecord.representative_id.label("rep_id"),
            func.sum(ContactRecord.voter_count).label("done"),
            func.count(ContactRecord.id).label("records"),
            func.sum(case((overdue_reports_clause(on), 1), else_=0)).label("overdue"),
        )
        .where(
            ContactRecord.contact_date >= start, ContactRecord.contact_date <= end, ContactRecord.deleted_at.is_(None)
        )
        .group_by(ContactRecord.representative_id)
    )
    if clause is not None:
        query = query.where(ContactRecord.representative_id.in_(select(Representative.id).where(clause)))
    return query.subquery()


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
    counts = _yearly_counts(year, on, clause)
    done = func.coalesce(counts.c.done, 0)
    # the page's ids first, ranked on the counts alone (no person or constituency rows)...
    ranked = (
        select(
            Representative.id,
            done,
            func.coalesce(counts.c.records, 0),
            func.coalesce(counts.c.overdue, 0),
        )
        .outerjoin(counts, counts.c.rep_id == Representative.id)
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
    else:  # kept for COUNTS_CACHE_SECONDS: a county's 5,000 mandates are not ranked on every view
        from app.core.cache import memo

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
    counts = _yearly_counts(year, on, clause)
    done = func.coalesce(counts.c.done, 0)

    def compute():
        row = session.execute(
            select(
                func.count(Representative.id),
                func.coalesce(func.sum(case((done >= target, target), else_=done)), 0),
                func.coalesce(func.sum(case((done >= target, 1), else_=0)), 0),
                func.coalesce(func.sum(case((done < expected, 1), else_=0)), 0),
                func.coalesce(func.sum(counts.c.overdue), 0),
            )
            .select_from(Representative)
            .outerjoin(counts, counts.c.rep_id == Representative.id)
            .where(clause, _serving_in(year))
        ).one()
        reps, capped, met, behind, overdue = (int(v) for v in row)
        return ProgressRollup(year, reps, capped, reps * target, met, behind, overdue)

    if cache_key is None:
        return compute()
    from app.core.cache import memo

    return memo(("rep_rollup", year, on, cache_key), compute)


# --------------------------------------------------------------------------
# The record book (联系选民记录簿)
# --------------------------------------------------------------------------


def record_book(session, rep, year):
    year = check_year(year)
    records = session.scalars(
        select(ContactRecord)
        .where(
            ContactRecord.representative_id == rep.id,
            ContactRecord.deleted_at.is_(None),
            ContactRecord.contact_date >= date(year, 1, 1),
            ContactRecord.contact_date <= date(year, 12, 31),
        )
        .order_by(ContactRecord.contact_date, ContactRecord.id)
    ).all()
    return {
        "representative": rep,
        "year": year,
        "records": records,
        "total_voters": sum(r.voter_count for r in records),
        "total_records": len(records),
        "target": yearly_target(),
    }


RISKY_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    """A text cell a spreadsheet will not run as a formula (=, +, -, @ get a leading quote)."""
    if isinstance(value, str) and value.startswith(RISKY_START):
        return "'" + value
    return value


def record_book_xlsx(book):
    """The record book as an .xlsx file (bytes): Chinese headers, date order, yearly total."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    rep = book["representative"]
    wb = Workbook()
    ws = wb.active
    ws.title = f"{book['year']}"
    title = str(_l("Record book of contacts with voters"))
    ws.append([safe_cell(f"{rep.person.name} · {book['year']} · {title}")])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append(
        [
            str(_l("Level")),
            str(LEVEL_TITLES.get(rep.level, rep.level)),
            str(_l("Constituency")),
            safe_cell(rep.constituency.name),
            str(_l("Term")),
            rep.term,
            str(_l("Yearly target (person-times)")),
            book["target"],
        ]
    )
    headers = [
        _l("No."),
        _l("Date"),
        _l("Place"),
        _l("Form"),
        _l("Voters met (person-times)"),
        _l("Voters"),
        _l("Opinions and suggestions"),
        _l("Replies"),
        _l("Important"),
        _l("Reported to"),
        _l("Reported on"),
    ]
    ws.append([str(h) for h in headers])
    header_row = ws.max_row
    for cell in ws[header_row]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    yes, no = str(_l("Yes")), str(_l("No"))
    for index, r in enumerate(book["records"], start=1):
        ws.append(
            [
                index,
                r.contact_date,
                safe_cell(r.place),
                safe_cell(r.form.name),
                r.voter_count,
                safe_cell(r.voter_names or ""),
                safe_cell(r.opinions or ""),
                safe_cell(r.replies or ""),
                yes if r.important else no,
                safe_cell(r.reported_to or ""),
                r.reported_at,
            ]
        )
        ws.cell(row=ws.max_row, column=2).number_format = "yyyy-mm-dd"
        ws.cell(row=ws.max_row, column=11).number_format = "yyyy-mm-dd"
        for column in (6, 7, 8):
            ws.cell(row=ws.max_row, column=column).alignment = Alignment(wrap_text=True, vertical="top")
    ws.append(
        [str(_l("Total")), "", "", str(_l("%(n)s contacts", n=book["total_records"])), book["total_voters"]]
    )  # fmt: skip
    for cell in ws[ws.max_row]:
        cell.font = Font(bold=True)
    widths = [6, 12, 22, 14, 10, 20, 40, 40, 6, 12, 12]
    for index, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
    ws.freeze_panes = ws.cell(row=header_row + 1, column=1)
    ws.print_title_rows = f"{header_row}:{header_row}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


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
    from app.models.appeals import Appeal
    from app.services import scope

    query = select(Appeal).where(Appeal.contact_record_id == record.id, scope.clause_for(Appeal))
    return session.scalars(query.order_by(Appeal.id)).all()
