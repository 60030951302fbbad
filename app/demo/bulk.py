"""Bulk demo data at a county's volume (`flask minqing demo --scale county|medium`).

The small demo drives every appeal through the real services, which takes about a
second per hundred records; a county (10,000 grids, 200,000 people, 1,000,000
appeals, 3,000,000 visits) is written with driver-level bulk inserts instead:
COPY on PostgreSQL, executemany in large batches on SQLite, secondary indices
dropped during the load and rebuilt once at the end. Rows are made from
precomputed pools with one seeded `random.Random` (no Faker per row), so a scale
always produces the same data for the same day.

The figures kept beside the rows (the appeal cells, the visit tally) are counted in Python from
what the generator notes of each row (app.demo.bulk_counts), and written as rows too: no GROUP BY over the tables after the load. The
quota cells and the contact tally are still counted in SQL. `flask minqing rollups check` proves
all of them against a count of the rows.

The rows are what the services would have written (paths as the Grid listeners
compute them, registration numbers YYYYMM + a gap-free sequence with the month
counters set, deadlines, version 1, soft-delete columns empty); the audit trail
is left out: this is demo data, nobody did anything. The demo logins are then
created through the ordinary service (`create_demo_logins`), so they are real.
"""

import random
import sqlite3
import time
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import select, text

from app.core.clock import today
from app.demo.base import create_demo_logins
from app.demo.bulk_counts import Counts
from app.demo.bulk_rows import BATCH, _appeals, _dt, _grids, _names, _people, _representatives, _visits
from app.models.grids import Grid
from app.models.lookups import GridLevel
from app.models.personnel import Person
from app.models.representatives import Constituency, Representative
from app.services import rollups as appeal_rollups
from app.services import search
from app.services.quotas import cells as quota_cells
from app.services.representatives import contact_tally


@dataclass(frozen=True)
class Shape:
    townships: int
    villages: int  # per township
    groups: int  # per village
    people: int
    appeals: int
    visits: int
    representatives: int
    contacts_per_rep: int = 20
    counties: int = 1  # more than one: a city above them

    @property
    def grids(self):
        county = 1 + self.townships * (1 + self.villages * (1 + self.groups))
        return self.counties * county + (1 if self.counties > 1 else 0)


SCALES = {
    # 1 + 20 + 500 + 9,500 = 10,021 grids
    "county": Shape(20, 25, 19, 200_000, 1_000_000, 3_000_000, 5_000),
    "medium": Shape(5, 20, 10, 20_000, 100_000, 300_000, 500),
    # 10 counties under a city: 100,211 grids (PostgreSQL only)
    "city": Shape(20, 25, 19, 2_000_000, 10_000_000, 30_000_000, 50_000, counties=10),
    # for the tests: seconds, but every table and every status present
    "tiny": Shape(3, 4, 3, 400, 800, 1_500, 12, 6),
    "tinycity": Shape(2, 2, 2, 300, 600, 900, 8, 4, counties=3),
}
POSTGRESQL_ONLY = ("city",)  # SQLite would take hours and a file of tens of gigabytes
# bytes of the file mapped during the load (SQLite caps it at its build's limit, 2 GB here)
SQLITE_MMAP = 8 << 30


class Writer:
    """Rows into one table, as fast as the driver goes, on the caller's transaction."""

    def __init__(self, connection, progress):
        self.connection = connection
        self.dialect = connection.dialect.name
        self.raw = connection.connection.dbapi_connection
        self.progress = progress
        self.counts = {}

    def write(self, table, columns, rows):
        started = time.perf_counter()
        count = 0
        if self.dialect == "postgresql":
            with self.raw.cursor() as cur:
                with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                        count += 1
        else:
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
            cur = self.raw.cursor()
            batch = []
            for row in rows:
                batch.append(row)
                if len(batch) >= BATCH:
                    cur.executemany(sql, batch)
                    count += len(batch)
                    batch = []
            if batch:
                cur.executemany(sql, batch)
                count += len(batch)
            cur.close()
        self.counts[table] = self.counts.get(table, 0) + count
        self.progress(f"  {table:<18} {count:>10,} rows  {time.perf_counter() - started:6.1f} s")
        return count


BULK_TABLES = ("grid", "person", "assignment", "appeal", "appeal_event", "visit", "visit_visitor",
               "constituency", "constituency_grid", "representative", "contact_record", "appeal_counter")  # fmt: skip
# the visit tally, counted from the generator's notes and written before the recounts (the quota cells read it)
TALLY_TABLES = ("visit_tally", "visit_grid_tally")
# the kept counts, filled by the generator or once by the recounts at the end: their indices are built after them
COUNT_TABLES = ("visit_tally", "visit_grid_tally", "quota_cell", "appeal_rollup", "appeal_summary", "appeal_open",
                "appeal_state")  # fmt: skip


def _secondary_indices(connection, tables):
    """(name, DDL) of the plain indices of `tables` (not those behind a constraint)."""
    if connection.dialect.name == "postgresql":
        rows = connection.execute(
            text(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
                "AND tablename = ANY(:t) AND indexname NOT IN (SELECT conname FROM pg_constraint)"
            ),
            {"t": list(tables)},
        )
    else:
        rows = connection.execute(
            text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                "AND tbl_name IN (" + _listed(tables) + ")"
            )
        )
    # a partitioned table's index reads "ON ONLY t": built so, it would stay invalid with no index on
    # any partition; built on the table it is made on every partition again, as the migration made it
    return [(r[0], r[1].replace(" ON ONLY ", " ON ", 1)) for r in rows]


def _sqlite_triggers(connection, tables):
    """(name, DDL) of the SQLite triggers of `tables` (length checks, text search upkeep): the
    rows are right by construction, and each text search index is built once at the end."""
    if connection.dialect.name != "sqlite":
        return []
    rows = connection.execute(
        text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN (" + _listed(tables) + ")")
    )
    return [(r[0], r[1]) for r in rows]


def _sqlite_fts_tables(connection, tables):
    """The FTS5 tables (not their shadow tables) indexing a column of `tables`."""
    rows = connection.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'table'"))
    return [
        name
        for name, sql in rows
        if sql
        and sql.upper().startswith("CREATE VIRTUAL TABLE")
        and any(name.startswith(f"{table}__fts_") for table in tables)
    ]


def _listed(tables):
    return ", ".join(f"'{t}'" for t in tables)


def load_bulk(session, sm, scale="county", progress=print):
    """Fill an empty database with `scale` (a key of SCALES). Returns a summary like load_demo's."""
    shape = SCALES[scale]
    seed = current_app.config["DEMO_SEED"]
    rnd = random.Random(seed)
    started = time.perf_counter()
    progress = _clocked(progress, started)
    progress(f"Bulk demo '{scale}': {shape.grids:,} grids, {shape.people:,} people, {shape.appeals:,} appeals, "
             f"{shape.visits:,} visits, {shape.representatives:,} representatives")  # fmt: skip
    session.commit()  # SQLite changes its journal outside a transaction
    conn = session.connection()
    dialect = conn.dialect.name
    if dialect == "sqlite":
        # one transaction of a gigabyte: through a write-ahead log every page is written twice
        # and every read looks it up in the log; a rollback journal in memory keeps the undo
        _journal(conn, "MEMORY")
        # the generated rows are consistent by construction: no foreign key lookups per row (as on PostgreSQL)
        conn.exec_driver_sql("PRAGMA foreign_keys = OFF")
        conn.exec_driver_sql("PRAGMA synchronous = OFF")
        conn.exec_driver_sql("PRAGMA cache_size = -400000")
        conn.exec_driver_sql("PRAGMA temp_store = MEMORY")
        conn.exec_driver_sql("PRAGMA threads = 2")  # the sorter of CREATE INDEX and GROUP BY
        # the index builds and recounts read the whole file again and again: mapped, not read() page by page
        mmap_before = conn.exec_driver_sql("PRAGMA mmap_size").scalar()
        conn.exec_driver_sql(f"PRAGMA mmap_size = {SQLITE_MMAP}")
    else:
        # the generated rows are consistent by construction: skip the per-row FK triggers
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '512MB'")
        # the recounts' GROUP BYs (quota cells, contact tally) hash and sort in memory, not on disk
        conn.exec_driver_sql("SET LOCAL work_mem = '256MB'")
        conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
    indices = _secondary_indices(conn, BULK_TABLES)
    count_indices = _secondary_indices(conn, COUNT_TABLES)
    for name, _ in indices + count_indices:
        conn.exec_driver_sql(f"DROP INDEX {name}")
    triggers = _sqlite_triggers(conn, BULK_TABLES)  # PostgreSQL's are off (replica role)
    count_triggers = _sqlite_triggers(conn, COUNT_TABLES)  # their length checks: back after the recounts
    for name, _ in triggers + count_triggers:
        conn.exec_driver_sql(f'DROP TRIGGER "{name}"')
    writer = Writer(conn, progress)
    if shape.counties > 1:
        _city_level(session)
    ids = _lookup_ids(conn)
    day = today()
    stamp = _dt(datetime.combine(day, datetime.min.time()))
    names = _names(rnd, 5000)

    grids = _grids(writer, rnd, shape, ids, stamp)
    people = _people(writer, rnd, shape, ids, grids, names, day, stamp)
    counts = Counts(grids["path"], appeal_rollups.found_channels(conn))
    _appeals(writer, rnd, shape, ids, grids, people, names, day, counts)
    _visits(writer, rnd, shape, ids, grids, people, names, day, stamp, counts)
    reps = _representatives(writer, rnd, shape, ids, grids, people, names, day, stamp)

    _build(conn, indices, "indices rebuilt", progress)
    if dialect == "postgresql" and any(name == search.NAME_KEYS_INDEX for name, _ in indices):
        conn.exec_driver_sql(search.NAME_KEYS_STATISTICS)  # (a rebuilt index has the default sample)
    # the appeal cells and the visit tally, counted from what the generator noted (no GROUP BY over a
    # million appeals and three million visits); no thread of its own: the app starts none
    t = time.perf_counter()
    counts.count()
    progress(f"  cells and tally counted from the generator's notes  {time.perf_counter() - t:6.1f} s")
    counts.write(writer)
    if dialect == "postgresql":
        # the recounts below join these tables: without statistics of the rows just copied (this
        # transaction's own; ANALYZE counts them) the planner takes them for empty (quota cells 50 s, not 5)
        t = time.perf_counter()
        conn.exec_driver_sql(f"ANALYZE {', '.join(BULK_TABLES + TALLY_TABLES)}")
        progress(f"  statistics of the loaded tables  {time.perf_counter() - t:6.1f} s")
    if triggers:
        t = time.perf_counter()
        for _name, ddl in triggers:
            conn.exec_driver_sql(ddl)
        fts = _sqlite_fts_tables(conn, BULK_TABLES)
        for name in fts:  # the search indices, built once from the rows (as a trigger per row would)
            conn.exec_driver_sql(f'INSERT INTO "{name}"("{name}") VALUES (\'rebuild\')')
        tables = set(conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'")).scalars())
        pairs = [key for key in search.PAIR_INDEXED if search.pairs_table_name(*key) in tables]
        for table_name, column_name in pairs:  # the name's character pairs, likewise
            conn.exec_driver_sql(search.pairs_fill_statement(table_name, column_name))
        built = len(fts) + len(pairs)
        progress(f"  triggers back ({len(triggers)}), text search built ({built})  {time.perf_counter() - t:6.1f} s")
    t = time.perf_counter()

    # the visit tally was written above (and follow_up_open by the generator): no recount of the visits
    cells = quota_cells.rebuild(session)  # the quotas' figures per grid, counted from the people and the tally
    contact_rows = contact_tally.rebuild(session)  # the representatives' contacts per year
    progress(f"  quota cells ({cells:,}), contact tally ({contact_rows:,})  {time.perf_counter() - t:6.1f} s")
    # the appeal cells were written above too (`flask minqing rollups check` compares them with a count)
    _build(conn, count_indices + count_triggers, "indices (and triggers) of the kept counts", progress)
    if dialect == "postgresql":
        conn.exec_driver_sql("SET LOCAL session_replication_role = origin")
        for table in ("grid", "person", "assignment", "appeal", "appeal_event", "visit", "constituency",
                      "representative", "contact_record"):  # fmt: skip
            conn.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT coalesce(max(id), 1) FROM {table}))"
            )
    session.commit()
    t = time.perf_counter()
    if dialect == "postgresql":
        # VACUUM too: index-only scans need the visibility map of the freshly copied tables
        with session.get_bind().connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.exec_driver_sql("VACUUM ANALYZE")
    else:
        session.connection().exec_driver_sql("ANALYZE")
        session.commit()
    progress(f"  statistics (VACUUM/ANALYZE)  {time.perf_counter() - t:6.1f} s")

    # the logins, through the ordinary service, in the first townships and the fourth village
    county = session.get(Grid, grids["county"])
    townships = [session.get(Grid, gid) for gid in grids["townships"][:2]]
    villages = [session.get(Grid, gid) for gid in grids["villages"][:4]]

    kind = ids["person_kind"]["人大代表"]

    def rep_person(grid, title):
        p = Person(name=title, gender="F", unit=f"{grid.name}人民政府", position="城关镇人大代表", kind_id=kind,
                   grid=grid, active=True)  # fmt: skip
        session.add(p)
        return p

    logins = create_demo_logins(session, sm, county, townships, villages, rep_person)
    rep_user = sm.find_user(username="rep")
    me = session.scalar(select(Person).where(Person.user_id == rep_user.id))
    mine = session.scalar(select(Constituency).where(Constituency.grid_id == grids["villages"][0]))
    if me is not None and mine is not None:
        year = day.year
        session.add(Representative(person=me, constituency=mine, level="township", term_start=year - 3,
                                   term_end=year + 2, active=True))  # fmt: skip
    session.commit()
    if dialect == "sqlite":
        _journal(session.connection(), "WAL")  # as every connection sets it
        session.connection().exec_driver_sql(f"PRAGMA mmap_size = {int(mmap_before)}")
        session.connection().exec_driver_sql("PRAGMA foreign_keys = ON")  # as every connection sets it
    progress(f"Done in {time.perf_counter() - started:.1f} s")
    return {
        "grids": writer.counts.get("grid", 0),
        "people": writer.counts.get("person", 0),
        "assignments": writer.counts.get("assignment", 0),
        "appeals": writer.counts.get("appeal", 0),
        "visits": writer.counts.get("visit", 0),
        "representatives": reps,
        "logins": logins,
        "seconds": round(time.perf_counter() - started, 1),
    }


def _build(conn, indices, what, progress):
    """Run each index's DDL; say how long they took, the slowest three named."""
    started, took = time.perf_counter(), []
    for name, ddl in indices:
        t = time.perf_counter()
        conn.exec_driver_sql(ddl)
        took.append((time.perf_counter() - t, name))
    slowest = ", ".join(f"{name} {seconds:.1f} s" for seconds, name in sorted(took, reverse=True)[:3])
    progress(f"  {what} ({len(indices)})  {time.perf_counter() - started:6.1f} s  (slowest: {slowest})")


def _journal(connection, mode):
    """SQLite's journal mode, when no other connection holds the file (else it stays as it was:
    the load is only slower)."""
    try:
        connection.connection.dbapi_connection.execute(f"PRAGMA journal_mode = {mode}")
    except sqlite3.OperationalError:  # database is locked: another connection reads it
        return False
    return True


def _city_level(session):
    """The level above the counties (rank -1), added when the lists do not hold one yet."""
    if session.scalar(select(GridLevel.id).where(GridLevel.rank == -1)) is None:
        session.add(GridLevel(name="市/州", rank=-1, sort_order=-1))
        session.flush()


def _clocked(progress, started):
    """`progress` with the time since the start on each line (where the load's time goes)."""
    return lambda message: progress(f"{message:<72} [{time.perf_counter() - started:6.1f} s]")


def _lookup_ids(conn):
    out = {}
    for table in ("person_kind", "appeal_category", "appeal_channel", "visit_form", "visit_target", "contact_form",
                  "post"):  # fmt: skip
        out[table] = {name: i for i, name in conn.execute(text(f"SELECT id, name FROM {table}"))}
    out["grid_level"] = {rank: i for i, rank in conn.execute(text("SELECT id, rank FROM grid_level"))}
    return out
