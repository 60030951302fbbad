"""Bulk demo data at a county's volume (`flask minqing demo --scale county|medium`).

The small demo drives every appeal through the real services, which takes about a
second per hundred records; a county (10,000 grids, 200,000 people, 1,000,000
appeals, 3,000,000 visits) is written with driver-level bulk inserts instead:
COPY on PostgreSQL, executemany in large batches on SQLite, secondary indices
dropped during the load and rebuilt once at the end. Rows are made from
precomputed pools with one seeded `random.Random` (no Faker per row), so a scale
always produces the same data for the same day.

The rows are what the services would have written (paths as the Grid listeners
compute them, registration numbers YYYYMM + a gap-free sequence with the month
counters set, deadlines, version 1, soft-delete columns empty); the audit trail
is left out: this is demo data, nobody did anything. The demo logins are then
created through the ordinary service (`create_demo_logins`), so they are real.
"""

import random
import time
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import select, text

from app.core.clock import today
from app.demo.base import create_demo_logins
from app.demo.bulk_rows import BATCH, _appeals, _dt, _grids, _names, _people, _representatives, _visits
from app.models.grids import Grid
from app.models.personnel import Person
from app.models.representatives import Constituency, Representative
from app.services import rollups as appeal_rollups
from app.services import tally


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

    @property
    def grids(self):
        return 1 + self.townships * (1 + self.villages * (1 + self.groups))


SCALES = {
    # 1 + 20 + 500 + 9,500 = 10,021 grids
    "county": Shape(20, 25, 19, 200_000, 1_000_000, 3_000_000, 5_000),
    "medium": Shape(5, 20, 10, 20_000, 100_000, 300_000, 500),
    # for the tests: seconds, but every table and every status present
    "tiny": Shape(3, 4, 3, 400, 800, 1_500, 12, 6),
}


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
                "AND tbl_name IN (" + ", ".join(f"'{t}'" for t in tables) + ")"
            )
        )
    return [(r[0], r[1]) for r in rows]


def load_bulk(session, sm, scale="county", progress=print):
    """Fill an empty database with `scale` (a key of SCALES). Returns a summary like load_demo's."""
    shape = SCALES[scale]
    seed = current_app.config["DEMO_SEED"]
    rnd = random.Random(seed)
    started = time.perf_counter()
    progress(f"Bulk demo '{scale}': {shape.grids:,} grids, {shape.people:,} people, {shape.appeals:,} appeals, "
             f"{shape.visits:,} visits, {shape.representatives:,} representatives")  # fmt: skip
    conn = session.connection()
    dialect = conn.dialect.name
    if dialect == "sqlite":
        conn.exec_driver_sql("PRAGMA synchronous = OFF")
        conn.exec_driver_sql("PRAGMA cache_size = -400000")
        conn.exec_driver_sql("PRAGMA temp_store = MEMORY")
    else:
        # the generated rows are consistent by construction: skip the per-row FK triggers
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '256MB'")
        conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
    indices = _secondary_indices(conn, BULK_TABLES)
    for name, _ in indices:
        conn.exec_driver_sql(f"DROP INDEX {name}")
    writer = Writer(conn, progress)
    ids = _lookup_ids(conn)
    day = today()
    stamp = _dt(datetime.combine(day, datetime.min.time()))
    names = _names(rnd, 5000)

    grids = _grids(writer, rnd, shape, ids, stamp)
    people = _people(writer, rnd, shape, ids, grids, names, day, stamp)
    _appeals(writer, rnd, shape, ids, grids, people, names, day)
    _visits(writer, rnd, shape, ids, grids, people, names, day, stamp)
    reps = _representatives(writer, rnd, shape, ids, grids, people, names, day, stamp)

    t = time.perf_counter()
    for _name, ddl in indices:
        conn.exec_driver_sql(ddl)
    progress(f"  indices rebuilt ({len(indices)})  {time.perf_counter() - t:6.1f} s")
    t = time.perf_counter()

    rows = tally.rebuild(session)  # the visits went in below the ORM: count the quotas' tally once
    progress(f"  visit tally ({rows:,} rows)  {time.perf_counter() - t:6.1f} s")
    t = time.perf_counter()
    days, summaries, opens, states = appeal_rollups.rebuild(session)  # the appeals too: one GROUP BY per cell table
    progress(
        f"  appeal roll-ups ({days:,} day cells, {summaries:,} summary cells, {opens:,} open cells,"
        f" {states:,} state cells)"
        f"  {time.perf_counter() - t:6.1f} s"
    )
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


def _lookup_ids(conn):
    out = {}
    for table in ("person_kind", "appeal_category", "appeal_channel", "visit_form", "visit_target", "contact_form",
                  "post"):  # fmt: skip
        out[table] = {name: i for i, name in conn.execute(text(f"SELECT id, name FROM {table}"))}
    out["grid_level"] = {rank: i for i, rank in conn.execute(text("SELECT id, rank FROM grid_level"))}
    return out
