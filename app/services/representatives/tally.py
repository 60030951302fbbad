"""The contact tally: per representative and calendar year, person-times met and records.

The progress figures (the dashboard's 代表联系选民, the progress page) judge each
representative's year against the yearly target. Counted from the contact records, a
county's year is a GROUP BY over its records on every view; the tally (table
`contact_tally`) keeps the two numbers per (representative, year) and is what they read.
Important opinions not reported in time are a function of today and stay counted, from the
few rows of the partial index of unreported opinions.

Kept like the visit tally (`app.services.tally`): before a flush the (representative, year)
pairs a change of a contact record touches are noted — as the object says now and as the
database still says — and after the flush those pairs are counted again from the records,
in the same transaction. Two writers of one representative's records take turns: the
representative row is locked first (PostgreSQL), so the second counts after the first.

Writes that bypass the ORM (the bulk demo loader, hand-made SQL) are followed by
`rebuild()` (`flask minqing rollups rebuild`, `rebuild-tallies`); `check()` compares.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy import event, func, literal, select, text
from sqlalchemy.orm import Session

from app.models.representatives import ContactRecord, ContactTally, Representative

_PENDING = "minqing_contact_tally_pending"
TALLY = ContactTally.__table__
COLUMNS = ["representative_id", "year", "done", "records"]


@event.listens_for(Session, "before_flush")
def _note_changes(session, flush_context, instances):
    """Note the (representative, year) of every contact record about to change: as the object
    says now and as the database still says (its representative and date before the change)."""
    records = [r for r in (*session.new, *session.dirty, *session.deleted) if isinstance(r, ContactRecord)]
    if not records:
        return
    pending = session.info.setdefault(_PENDING, set())
    for record in records:
        # the representative itself when it is new too: its id is known after the flush
        rep = record.representative if record.representative is not None else record.representative_id
        if record.contact_date is not None and rep is not None and record not in session.deleted:
            pending.add((rep, record.contact_date.year))
    stored = [r.id for r in records if r.id is not None]
    if stored:
        rows = session.connection().execute(
            select(ContactRecord.representative_id, ContactRecord.contact_date).where(ContactRecord.id.in_(stored))
        )
        pending.update((rep_id, day.year) for rep_id, day in rows)


@event.listens_for(Session, "after_flush")
def _recount_changes(session, flush_context):
    pending = session.info.pop(_PENDING, None)
    if pending:
        pairs = {(rep if isinstance(rep, int) else rep.id, year) for rep, year in pending}
        recount(session, {(rep_id, year) for rep_id, year in pairs if rep_id is not None})


@event.listens_for(Session, "after_rollback")
def _forget_pending(session):
    session.info.pop(_PENDING, None)


def _counts(year, rep_ids):
    """SELECT representative id, year, person-times, records counted from the live records."""
    return (
        select(
            ContactRecord.representative_id,
            literal(year),
            func.sum(ContactRecord.voter_count),
            func.count(ContactRecord.id),
        )
        .where(
            ContactRecord.contact_date >= dt.date(year, 1, 1),
            ContactRecord.contact_date <= dt.date(year, 12, 31),
            ContactRecord.deleted_at.is_(None),
            ContactRecord.representative_id.in_(rep_ids),
        )
        .group_by(ContactRecord.representative_id)
    )


def recount(session, pairs):
    """Count again the tally rows of each (representative id, year) from the records (on the
    session's connection: it runs inside a flush)."""
    if not pairs:
        return
    by_year = defaultdict(set)
    for rep_id, year in pairs:
        by_year[year].add(rep_id)
    everyone = sorted({rep_id for rep_id, _ in pairs})
    conn = session.connection()
    # one writer at a time per representative: the second counts what the first committed
    conn.execute(
        select(Representative.id).where(Representative.id.in_(everyone)).order_by(Representative.id).with_for_update()
    )
    for year, ids in sorted(by_year.items()):
        ids = sorted(ids)
        conn.execute(TALLY.delete().where(TALLY.c.year == year, TALLY.c.representative_id.in_(ids)))
        conn.execute(TALLY.insert().from_select(COLUMNS, _counts(year, ids)))


def _year_sql(dialect):
    if dialect == "postgresql":
        return "CAST(EXTRACT(YEAR FROM contact_date) AS INTEGER)"
    return "CAST(strftime('%Y', contact_date) AS INTEGER)"


def _counted_sql(dialect):
    year = _year_sql(dialect)
    return (
        f"SELECT representative_id, {year} AS year, sum(voter_count) AS done, count(*) AS records "
        f"FROM contact_record WHERE deleted_at IS NULL GROUP BY representative_id, {year}"
    )


def rebuild(session):
    """Count the whole tally again from the records: one GROUP BY. Returns the rows written."""
    conn = session.connection()
    conn.execute(TALLY.delete())
    conn.execute(text(f"INSERT INTO contact_tally ({', '.join(COLUMNS)}) {_counted_sql(conn.dialect.name)}"))
    return conn.execute(select(func.count()).select_from(TALLY)).scalar()


def check(session, limit=200):
    """The tally rows that differ from a count of the records: [('counted' or 'kept',
    representative id, year, person-times, records)], at most `limit`. One EXCEPT each way."""
    conn = session.connection()
    counted = _counted_sql(conn.dialect.name)
    kept = f"SELECT {', '.join(COLUMNS)} FROM contact_tally"
    out = []
    for side, first, second in (("counted", counted, kept), ("kept", kept, counted)):
        rows = conn.execute(text(f"SELECT * FROM ({first}) a EXCEPT SELECT * FROM ({second}) b LIMIT {int(limit)}"))
        out += [(side, *row) for row in rows]
    return out[:limit]
