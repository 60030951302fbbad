"""Registers at scale: one register with BENCH_REGISTER_ROWS entries (default 1,000,000) over a
county's grids, on SQLite and PostgreSQL, and the pages a clerk and a leader open.

    make bench-registers                 # both databases, 1M entries (reused when loaded)
    BENCH_DB=postgresql BENCH_REGISTER_ROWS=200000 make bench-registers

The entries are written below the ORM (COPY on PostgreSQL, executemany on SQLite) into the
register's own table, then the roll-ups are counted once (`rollups.rebuild`), as the
bulk demo does for its tables. Targets (issue 19): a register's list, filtered by a choice
field and by a date range, p95 <= 100 ms; the add form <= 100 ms; statistics <= 300 ms.
Appends its rows to bench/registers.md and bench/registers.json.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ROWS = int(os.environ.get("BENCH_REGISTER_ROWS", "1000000"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "20"))
DBS = os.environ.get("BENCH_DB", "both")
PG_URL = os.environ.get("BENCH_REGISTERS_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/bench_registers")
PASSWORD = "Bench@Reg2026x"
TOWNSHIPS, VILLAGES, GROUPS = 20, 25, 8  # 20 townships x 25 villages x 8 groups = 4,000 level-3 grids


def sqlite_url():
    folder = Path(os.environ.get("BENCH_SQLITE_DIR", ROOT / "instance" / "bench"))
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'registers.db'}"


def make_app(url):
    from app import create_app

    return create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "RATELIMIT_ENABLED": False, "WTF_CSRF_ENABLED": False,
         "FAB_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000", "ADMIN_PASSWORD": PASSWORD,
         "REGISTERS_CHECK_SECONDS": 3600}
    )  # fmt: skip


def fresh(url):
    from sqlalchemy import create_engine, text

    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        return
    base, name = url.rsplit("/", 1)
    admin = create_engine(base + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def loaded(app):
    from sqlalchemy import inspect, text

    from app.extensions import db

    with app.app_context():
        try:
            if "bench_marker" not in inspect(db.engine).get_table_names():
                return None
            return db.session.execute(text("SELECT rows, seconds FROM bench_marker")).one()
        finally:
            db.session.remove()
            db.engine.dispose()  # a reload drops the database: no connection of ours may hold it


def load(url):
    """A county's grid tree, the seeded registers, a clerk and a leader, and ROWS disputes."""
    from sqlalchemy import select, text

    fresh(url)
    app = make_app(url)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["minqing", "init"])
    if result.exit_code:
        raise SystemExit(result.output)
    started = time.perf_counter()
    with app.app_context():
        from app.extensions import db
        from app.models.grids import Grid
        from app.models.lookups import GridLevel
        from app.models.registers import ChoiceValue
        from app.services.registers import rollups, runtime
        from app.services.users import create_user

        levels = {lv.rank: lv for lv in db.session.scalars(select(GridLevel))}
        county = Grid(code="C", name="示范县", level=levels[0])
        db.session.add(county)
        leaves = []
        for t in range(TOWNSHIPS):
            township = Grid(code=f"T{t:02d}", name=f"第{t + 1}镇", level=levels[1], parent=county)
            for v in range(VILLAGES):
                village = Grid(code=f"T{t:02d}V{v:02d}", name=f"第{t + 1}镇{v + 1}村", level=levels[2], parent=township)
                for g in range(GROUPS):
                    leaves.append(
                        Grid(code=f"T{t:02d}V{v:02d}G{g}", name=f"{g + 1}组", level=levels[3], parent=village)
                    )
            db.session.add(township)
        db.session.commit()
        sm = app.appbuilder.sm
        create_user(
            db.session, sm, "clerk", PASSWORD, ["Clerk"], grid_code="T00", name="录入员", check_complexity=False
        )
        create_user(
            db.session, sm, "leader", PASSWORD, ["Leader"], grid_code="T00", name="领导", check_complexity=False
        )
        db.session.commit()
        cls = runtime.entry_class("dispute")
        spec = runtime.spec("dispute")
        values = {f.code: [v.id for v in db.session.scalars(select(ChoiceValue).where(
            ChoiceValue.list_id == f.choice_list_id))] for f in spec.live_fields if f.type == "choice"}  # fmt: skip
        leaf_ids = [g.id for g in db.session.scalars(select(Grid).where(Grid.level_id == levels[3].id))]
        rnd = random.Random(20261202)
        today = dt.date(2026, 12, 1)
        table = cls.__table__
        cols = ["grid_id", "f_found_on", "f_parties", "f_kind", "f_summary", "f_state", "created_at", "updated_at",
                "version"]  # fmt: skip

        def rows():
            for n in range(ROWS):
                day = today - dt.timedelta(days=rnd.randrange(3 * 365))
                stamp = dt.datetime.combine(day, dt.time(9, 0))
                yield (rnd.choice(leaf_ids), day, f"当事人{n}", rnd.choice(values["kind"]), "邻里因宅基地边界发生争执",
                       rnd.choice(values["state"]), stamp, stamp, 1)  # fmt: skip

        conn = db.session.connection()
        if conn.dialect.name == "postgresql":
            raw = conn.connection.dbapi_connection
            with raw.cursor() as cur, cur.copy(f"COPY {table.name} ({', '.join(cols)}) FROM STDIN") as copy:
                for row in rows():
                    copy.write_row(row)
        else:
            sql = f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
            raw = conn.connection.dbapi_connection
            batch = []
            for row in rows():
                batch.append(tuple(v.isoformat(sep=" ") if isinstance(v, dt.datetime) else
                                   v.isoformat() if isinstance(v, dt.date) else v for v in row))  # fmt: skip
                if len(batch) == 20000:
                    raw.executemany(sql, batch)
                    batch = []
            if batch:
                raw.executemany(sql, batch)
        db.session.commit()
        loaded_at = time.perf_counter()
        rollup_rows = rollups.rebuild(db.session, cls)
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.exec_driver_sql("VACUUM ANALYZE")
        else:
            db.session.connection().exec_driver_sql("ANALYZE")
            db.session.commit()
        seconds = time.perf_counter() - started
        with db.engine.begin() as c:
            c.execute(text("CREATE TABLE bench_marker (rows INTEGER, seconds FLOAT)"))
            c.execute(text("INSERT INTO bench_marker VALUES (:r, :s)"), {"r": ROWS, "s": seconds})
        print(f"  {ROWS:,} entries in {loaded_at - started:.0f} s, roll-ups ({rollup_rows:,} rows) and statistics "
              f"in {seconds - (loaded_at - started):.0f} s")  # fmt: skip
    return app


def timed(fn, repeat):
    first_t = time.perf_counter()
    status = fn()
    first = (time.perf_counter() - first_t) * 1000
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        status = fn()
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    p95 = samples[max(0, int(round(0.95 * len(samples))) - 1)]
    return {"first_ms": round(first, 1), "p50_ms": round(statistics.median(samples), 1), "p95_ms": round(p95, 1),
            "status": status}  # fmt: skip


def measure(app, kind):
    from sqlalchemy import select

    from app.extensions import db
    from app.models.registers import ChoiceValue
    from app.services.registers import runtime

    with app.app_context():
        spec = runtime.spec("dispute")
        kind_field = spec.field("kind")
        neighbours = db.session.scalar(select(ChoiceValue.id).where(ChoiceValue.list_id == kind_field.choice_list_id,
                                                                    ChoiceValue.name == "邻里纠纷"))  # fmt: skip
    pages = [
        ("list", "/registers/dispute/list/", 100),
        ("list filtered by a choice", f"/registers/dispute/list/?_flt_0_kind={neighbours}", 100),
        ("list filtered by a date range", "/registers/dispute/list/?from=2026-09-01&to=2026-09-30", 100),
        ("list by choice and date range", f"/registers/dispute/list/?v_kind={neighbours}&from=2026-01-01&to=2026-06-30", 100),
        ("search by a text field", "/registers/dispute/list/?_flt_2_parties=当事人12345", 100),
        ("add form", "/registers/dispute/add", 100),
        ("statistics (summary)", "/registers/dispute/summary/?from=2024-01-01&to=2026-12-31", 300),
        ("API list (page of 20)", "/api/v1/registers/dispute/?q=(page_size:20)", 100),
    ]  # fmt: skip
    out = []
    for role in ("clerk", "leader"):
        client = app.test_client()
        response = client.post("/login/", data={"username": role, "password": PASSWORD})
        assert response.status_code == 302, f"login {role}"
        for name, url, target in pages:
            if role == "leader" and name == "add form":
                continue
            result = timed(lambda url=url, client=client: client.get(url).status_code, REPEAT)
            result.update(db=kind, role=role, page=name, target_ms=target, met=result["p95_ms"] <= target)
            out.append(result)
            print(f"  [{kind}] {role:6} {name:32} first {result['first_ms']:7.1f}  p50 {result['p50_ms']:7.1f}  "
                  f"p95 {result['p95_ms']:7.1f} ms  target {target}  {'ok' if result['met'] else 'MISSED'}  "
                  f"({result['status']})")  # fmt: skip
    return out


def write(results, loads):
    stamp = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    (ROOT / "bench" / "registers.json").write_text(
        json.dumps({"at": stamp, "rows": ROWS, "repeat": REPEAT, "loads": loads, "results": results}, indent=1,
                   ensure_ascii=False), encoding="utf-8")  # fmt: skip
    lines = [f"# Registers at scale — {stamp}", "",
             f"One register (矛盾纠纷排查调处台账) with {ROWS:,} entries over {TOWNSHIPS * VILLAGES * GROUPS:,} level-3 grids; "
             f"a township clerk and a township leader; {REPEAT} requests a page after one first (cold) request; "
             "server time through the Flask test client.", "",
             "| db | role | page | first ms | p50 ms | p95 ms | target | |", "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in results:
        lines.append(f"| {r['db']} | {r['role']} | {r['page']} | {r['first_ms']} | {r['p50_ms']} | {r['p95_ms']} | "
                     f"≤ {r['target_ms']} | {'met' if r['met'] else '**missed**'} |")  # fmt: skip
    met = sum(r["met"] for r in results)
    lines += ["", f"{met} of {len(results)} targets met.", ""]
    for kind, info in loads.items():
        lines.append(f"- {kind}: load {info}")
    (ROOT / "bench" / "registers.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def main():
    kinds = ["sqlite", "postgresql"] if DBS == "both" else [DBS]
    results, loads = [], {}
    for kind in kinds:
        url = sqlite_url() if kind == "sqlite" else PG_URL
        app = make_app(url) if not url.startswith("sqlite") or Path(url.removeprefix("sqlite:///")).exists() else None
        marker = None
        if app is not None:
            try:
                marker = loaded(app)
            except Exception:  # noqa: BLE001 (no database yet)
                marker = None
        if marker is None or marker[0] != ROWS:
            print(f"[{kind}] loading {ROWS:,} register entries …")
            app = load(url)
            marker = loaded(app)
        else:
            print(f"[{kind}] {ROWS:,} entries already loaded: reused")
        before = os.getloadavg()[0]
        measured = measure(app, kind)
        loads[kind] = (f"{marker[1]:.0f} s for {marker[0]:,} entries; measured {dt.datetime.now():%Y-%m-%d %H:%M}, "
                       f"load average {before:.1f} → {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")  # fmt: skip
        results += measured
    # one database measured alone keeps the other's last rows (and says when they were taken)
    previous = ROOT / "bench" / "registers.json"
    if DBS != "both" and previous.exists():
        old = json.loads(previous.read_text(encoding="utf-8"))
        results = [r for r in old.get("results", []) if r["db"] not in kinds] + results
        for kind, info in (old.get("loads") or {}).items():
            loads.setdefault(kind, info if "measured" in info else f"{info}; measured {old.get('at')}")
    write(results, loads)


if __name__ == "__main__":
    main()
