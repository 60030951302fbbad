"""Registration numbers (登记编号 = year + month + sequence, e.g. 202611001): handed out from a
per-month counter inside the registering transaction (see `next_sequence`), or claimed by
hand for ledgers typed in from paper (`reserve_number`)."""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite

from app.core.errors import DomainError
from app.models.appeals import (
    Appeal,
    AppealCounter,
)
from app.services.validators import clean_text


def format_number(month, seq):
    """登记编号 = year + month + sequence: "202611001"; the sequence widens past 999."""
    return f"{month}{seq:03d}"


def next_sequence(session, month):
    """The next sequence number of `month` ('YYYYMM'), taken inside the caller's transaction.

    One atomic upsert on the month's counter row: the first registration of a
    month inserts 1, every other one increments. The row stays locked until the
    transaction ends, so concurrent registrations queue on it (PostgreSQL row
    lock; SQLite database write lock, taken up front with BEGIN IMMEDIATE), and a
    rolled-back registration hands its number back: no duplicates, no gaps.
    """
    connection = session.connection()
    dialect = connection.dialect.name
    table = AppealCounter.__table__
    if dialect == "postgresql":
        insert = postgresql.insert
    elif dialect == "sqlite":
        insert = sqlite.insert

        _sqlite_write_lock(connection)
    else:  # pragma: no cover - other databases are not supported targets
        raise RuntimeError(f"registration numbers need PostgreSQL or SQLite, not {dialect}")
    statement = (
        insert(table)
        .values(month=month, last_seq=1)
        .on_conflict_do_update(index_elements=[table.c.month], set_={"last_seq": table.c.last_seq + 1})
        .returning(table.c.last_seq)
    )
    return session.execute(statement).scalar_one()


def _sqlite_write_lock(connection):
    """Take SQLite's write lock before reading the counter (BEGIN IMMEDIATE).

    Python's sqlite3 opens a transaction only at the first write; if nothing was
    written yet in this transaction, start it as IMMEDIATE so the lock is taken
    (waiting up to SQLITE_BUSY_TIMEOUT_MS) before the counter is read.
    """
    raw = connection.connection.dbapi_connection
    if not raw.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _is_busy(exc):
    text = str(getattr(exc, "orig", exc)).lower()
    return "database is locked" in text or "database is busy" in text


def parse_number(text, field_name="number"):
    """A registration number typed by hand: "202301005" -> ("202301", 5), or DomainError."""
    text = clean_text(text)
    match = re.fullmatch(r"(\d{4})(\d{2})(\d{3,})", text or "")
    bad = DomainError(
        _l("%(value)s is not a registration number: year, month and a sequence of 3 digits, like 202301005.",
           value=text),
        field=field_name,
    )  # fmt: skip
    if match is None:
        raise bad
    year, month, seq = int(match[1]), int(match[2]), int(match[3])
    if not (1990 <= year <= 2100 and 1 <= month <= 12 and seq >= 1):
        raise bad
    ym = f"{year:04d}{month:02d}"
    if format_number(ym, seq) != text:  # "2023010005": the sequence has a needless leading zero
        raise bad
    return ym, seq


def number_in_use(session, month, seq):
    """Whether the number (month, seq) belongs to an appeal or was handed out already.

    The counter of a month is the last number handed out; every number up to it
    belongs to an appeal (a rolled-back registration gives its number back), so
    one at or below it can never be given again, not even by an import.
    """
    with session.no_autoflush:
        taken = session.scalar(select(Appeal.id).where(Appeal.number_month == month, Appeal.number_seq == seq).limit(1))
        last = session.scalar(select(AppealCounter.last_seq).where(AppealCounter.month == month)) or 0
    return taken is not None or seq <= last


def reserve_number(session, month, seq, field_name="number"):
    """Claim the hand-typed number (month, seq) inside the caller's transaction.

    The month's counter row is locked first (the same upsert registrations use),
    then moved up to `seq`, so later registrations of that month continue after
    it and never hand it out again. Raises DomainError if it is taken meanwhile.
    """
    connection = session.connection()
    table = AppealCounter.__table__
    if connection.dialect.name == "postgresql":
        insert = postgresql.insert
    else:
        insert = sqlite.insert

        _sqlite_write_lock(connection)
    statement = (
        insert(table)
        .values(month=month, last_seq=0)
        .on_conflict_do_update(index_elements=[table.c.month], set_={"last_seq": table.c.last_seq})
        .returning(table.c.last_seq)
    )
    last = session.execute(statement).scalar_one()
    if seq <= last:
        raise DomainError(
            _l("The registration number %(number)s is already used.", number=format_number(month, seq)),
            field=field_name,
        )
    session.execute(update(table).where(table.c.month == month).values(last_seq=seq))
