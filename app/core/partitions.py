"""Monthly partitions on PostgreSQL for the append-only tables that grow fastest.

`audit_log` and `appeal_event` are range-partitioned by month on their time column `at`
(migration 0039): one partition per month, named `<table>_pYYYYMM`, and a DEFAULT partition
`<table>_default` that takes any row whose month has no partition yet, so an insert never fails.
Nothing references these tables by foreign key (a partitioned table may be referenced only on
its whole primary key, which now includes `at`); `visit` is referenced (photos, contact records,
the tally), so it stays a plain table.

* `partition_table` / `unpartition_table`: the conversion both ways, keeping every row, index,
  default, sequence, foreign key, check and trigger (the primary key becomes (id, at) on
  PostgreSQL; the ORM still maps `id` alone, which the sequence keeps unique).
* `maintain`: the scheduler's daily `create-partitions` job: this month's and the next
  PARTITION_MONTHS_AHEAD months' partitions, and rows that landed in DEFAULT moved to their month.
* `drop_months_before`: retention drops whole expired months (DETACH + DROP) before the rest is
  deleted row by row.

On SQLite (one county, one file) none of this applies: every function is for PostgreSQL only.
"""

from __future__ import annotations

import datetime as dt
import logging
import re

from sqlalchemy import text

log = logging.getLogger(__name__)

PARTITIONED = {"audit_log": "at", "appeal_event": "at"}  # table -> its time column (the partition key)
MAINTAIN_LOCK_KEY = 0x4D51_1004  # pg_advisory_xact_lock key: one create-partitions at a time (beside nodes.py's)
_NAME = re.compile(r"^(?P<table>[a-z_]+?)_(?:p(?P<month>\d{6})|default)$")


def month_start(moment):
    """The first instant of `moment`'s month (a datetime)."""
    return dt.datetime(moment.year, moment.month, 1)


def add_months(month, count):
    index = month.year * 12 + month.month - 1 + count
    return dt.datetime(index // 12, index % 12 + 1, 1)


def partition_name(table, month):
    return f"{table}_p{month:%Y%m}"


def default_name(table):
    return f"{table}_default"


def is_partition(name):
    """A month's or the default partition of a partitioned table (left out of schema comparisons)."""
    found = _NAME.match(name or "")
    return bool(found) and found.group("table") in PARTITIONED


def _quoted(name):
    return '"' + name.replace('"', '""') + '"'


def is_partitioned(conn, table):
    if conn.dialect.name != "postgresql":
        return False
    return bool(
        conn.scalar(
            text("SELECT c.relkind = 'p' FROM pg_class c WHERE c.oid = to_regclass(:t)"),
            {"t": table},
        )
    )


def months(conn, table):
    """{month start: partition name} of `table`'s monthly partitions."""
    names = conn.scalars(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass(:t)"
        ),
        {"t": table},
    ).all()
    found = {}
    for name in names:
        match = _NAME.match(name)
        if match and match.group("month"):
            found[dt.datetime.strptime(match.group("month"), "%Y%m")] = name
    return found


def _bounds(month):
    return f"FROM ('{month:%Y-%m-%d %H:%M:%S}') TO ('{add_months(month, 1):%Y-%m-%d %H:%M:%S}')"


def ensure_month(conn, table, month):
    """Make `month`'s partition of `table` if it is missing, moving the rows of that month that
    landed in DEFAULT into it. Returns (created, rows moved)."""
    column = PARTITIONED[table]
    month = month_start(month)
    if month in months(conn, table):
        return False, 0
    name, default = partition_name(table, month), default_name(table)
    window = {"a": month, "b": add_months(month, 1)}
    waiting = conn.scalar(
        text(f"SELECT 1 FROM {_quoted(default)} WHERE {_quoted(column)} >= :a AND {_quoted(column)} < :b LIMIT 1"),
        window,
    )
    if not waiting:
        conn.execute(text(f"CREATE TABLE {_quoted(name)} PARTITION OF {_quoted(table)} FOR VALUES {_bounds(month)}"))
        return True, 0
    # rows of that month wait in DEFAULT: PostgreSQL would refuse the new partition while they are
    # there. Inserts wait (a short lock) while they move into a table then attached as the month.
    conn.execute(text(f"LOCK TABLE {_quoted(table)} IN SHARE ROW EXCLUSIVE MODE"))
    conn.execute(text(f"CREATE TABLE {_quoted(name)} (LIKE {_quoted(table)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"))
    moved = conn.execute(
        text(
            f"WITH moved AS (DELETE FROM {_quoted(default)} WHERE {_quoted(column)} >= :a AND {_quoted(column)} < :b "
            f"RETURNING *) INSERT INTO {_quoted(name)} SELECT * FROM moved"
        ),
        window,
    ).rowcount
    conn.execute(text(f"ALTER TABLE {_quoted(table)} ATTACH PARTITION {_quoted(name)} FOR VALUES {_bounds(month)}"))
    log.info("partitions: %s made, %s rows moved out of %s", name, moved, default)
    return True, moved


def maintain(conn, today, ahead):
    """This month's and the next `ahead` months' partitions of every partitioned table, and every
    month that has rows in DEFAULT. Returns {"created": n, "moved": n}."""
    totals = {"created": 0, "moved": 0}
    if conn.dialect.name != "postgresql":
        return totals
    conn.execute(
        text("SELECT pg_advisory_xact_lock(:k)"), {"k": MAINTAIN_LOCK_KEY}
    )  # a second run waits, then finds all made
    for table, column in PARTITIONED.items():
        if not is_partitioned(conn, table):
            continue
        first = month_start(today)
        wanted = {add_months(first, n) for n in range(int(ahead) + 1)}
        wanted |= set(
            conn.scalars(
                text(f"SELECT DISTINCT date_trunc('month', {_quoted(column)}) FROM {_quoted(default_name(table))}")
            )
        )
        for month in sorted(wanted):
            created, moved = ensure_month(conn, table, month)
            totals["created"] += created
            totals["moved"] += moved
    return totals


def drop_months_before(conn, table, before):
    """DETACH and DROP the monthly partitions of `table` that end at or before `before` (whole
    expired months: no row by row delete, no bloat). Returns how many rows they held."""
    if not is_partitioned(conn, table):
        return 0
    dropped = 0
    for month, name in sorted(months(conn, table).items()):
        if add_months(month, 1) > before:
            continue
        dropped += conn.scalar(text(f"SELECT count(*) FROM {_quoted(name)}"))
        conn.execute(text(f"ALTER TABLE {_quoted(table)} DETACH PARTITION {_quoted(name)}"))
        conn.execute(text(f"DROP TABLE {_quoted(name)}"))
        log.info("partitions: %s dropped (older than %s)", name, before)
    return dropped


# -- the conversion (migration 0039) --------------------------------------------------------------


def _definitions(conn, table):
    """What DROP TABLE would lose and the new table must get again."""
    oid = {"t": table}
    return {
        "pkey": conn.scalar(
            text("SELECT conname FROM pg_constraint WHERE conrelid = to_regclass(:t) AND contype = 'p'"), oid
        ),
        "foreign": conn.execute(
            text(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = to_regclass(:t) AND contype = 'f' ORDER BY conname"
            ),
            oid,
        ).all(),
        "unique": conn.scalars(
            text("SELECT conname FROM pg_constraint WHERE conrelid = to_regclass(:t) AND contype IN ('u', 'x')"), oid
        ).all(),
        "indexes": conn.execute(
            text(
                "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
                "WHERE x.indrelid = to_regclass(:t) AND NOT x.indisprimary ORDER BY i.relname"
            ),
            oid,
        ).all(),
        "triggers": conn.execute(
            text(
                "SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger "
                "WHERE tgrelid = to_regclass(:t) AND NOT tgisinternal ORDER BY tgname"
            ),
            oid,
        ).all(),
        "referenced_by": conn.scalars(
            text("SELECT conname FROM pg_constraint WHERE confrelid = to_regclass(:t) AND contype = 'f'"), oid
        ).all(),
        "sequence": conn.scalar(text("SELECT pg_get_serial_sequence(:t, 'id')"), oid),
    }


def _rebuild(conn, table, staged, found, key):
    """Put `staged` in `table`'s place with its name, primary key `key`, sequence, keys, indexes, triggers."""
    if found["sequence"]:
        conn.execute(text(f"ALTER SEQUENCE {found['sequence']} OWNED BY NONE"))  # or DROP TABLE takes it along
    conn.execute(text(f"DROP TABLE {_quoted(table)}"))
    conn.execute(text(f"ALTER TABLE {_quoted(staged)} RENAME TO {_quoted(table)}"))
    pkey = found["pkey"] or f"{table}_pkey"
    conn.execute(text(f"ALTER TABLE {_quoted(table)} ADD CONSTRAINT {_quoted(pkey)} PRIMARY KEY ({key})"))
    if found["sequence"]:
        conn.execute(text(f"ALTER SEQUENCE {found['sequence']} OWNED BY {_quoted(table)}.id"))
    for name, definition in found["foreign"]:
        conn.execute(text(f"ALTER TABLE {_quoted(table)} ADD CONSTRAINT {_quoted(name)} {definition}"))
    for _name, definition in found["indexes"]:
        conn.execute(text(definition))  # "CREATE INDEX name ON public.table ...": on every partition too
    for _name, definition in found["triggers"]:
        conn.execute(text(definition))
    conn.execute(text(f"ANALYZE {_quoted(table)}"))


def partition_table(conn, table, today, ahead):
    """Turn plain `table` into one range-partitioned by month on its time column, every row kept in
    its month's partition (months from its oldest row to `ahead` months after `today`), a DEFAULT."""
    column = PARTITIONED[table]
    found = _definitions(conn, table)
    if found["referenced_by"] or found["unique"]:
        raise RuntimeError(f"{table} is referenced by a foreign key or has a unique constraint: not partitioned")
    conn.execute(text(f"LOCK TABLE {_quoted(table)} IN ACCESS EXCLUSIVE MODE"))
    staged = f"{table}__partitioned"
    conn.execute(
        text(
            f"CREATE TABLE {_quoted(staged)} (LIKE {_quoted(table)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
            f"INCLUDING COMMENTS) PARTITION BY RANGE ({_quoted(column)})"
        )
    )
    oldest = conn.scalar(text(f"SELECT min({_quoted(column)}) FROM {_quoted(table)}"))
    month = month_start(min(oldest, today) if oldest is not None else today)
    last = add_months(month_start(today), int(ahead))
    while month <= last:
        conn.execute(
            text(
                f"CREATE TABLE {_quoted(partition_name(table, month))} PARTITION OF {_quoted(staged)} "
                f"FOR VALUES {_bounds(month)}"
            )
        )
        month = add_months(month, 1)
    conn.execute(text(f"CREATE TABLE {_quoted(default_name(table))} PARTITION OF {_quoted(staged)} DEFAULT"))
    conn.execute(text(f"INSERT INTO {_quoted(staged)} SELECT * FROM {_quoted(table)}"))
    _rebuild(conn, table, staged, found, f"id, {_quoted(column)}")


def unpartition_table(conn, table):
    """Back to one plain table (the downgrade): every row, index, key and trigger kept."""
    found = _definitions(conn, table)
    conn.execute(text(f"LOCK TABLE {_quoted(table)} IN ACCESS EXCLUSIVE MODE"))
    staged = f"{table}__plain"
    conn.execute(
        text(
            f"CREATE TABLE {_quoted(staged)} (LIKE {_quoted(table)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
            "INCLUDING COMMENTS)"
        )
    )
    conn.execute(text(f"INSERT INTO {_quoted(staged)} SELECT * FROM {_quoted(table)} ORDER BY id"))
    _rebuild(conn, table, staged, found, "id")  # DROP TABLE of a partitioned table drops its partitions
