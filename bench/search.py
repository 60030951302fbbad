"""Appeal list search, timed: reporter name (2 and 3 characters), content and number prefix, as
Admin, a county leader and a township leader, through the Flask test client (server time).

    BENCH_PG_URL=postgresql+psycopg://postgres@127.0.0.1:5432/wt_search_bench \
        .venv/bin/python bench/search.py postgresql [repeat] [label]
    BENCH_SQLITE_DIR=... .venv/bin/python bench/search.py sqlite [repeat] [label]

The database must hold a loaded scale (`make bench BENCH_SCALE=medium` or bench.bench.load).
Run it from the checkout whose code is measured (the terms are chosen from the data, so two
checkouts measure the same searches); it prints one JSON line per row and appends them to
bench/search.json under `label`. Figures and how they were taken: bench/search.md.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path.cwd()
sys.path.insert(0, str(ROOT))

from bench.bench import ADMIN_PASSWORD, db_url, make_app, summary, timed  # noqa: E402

ROLES = (("Admin", "admin"), ("CountyLeader", "countyleader"), ("TownshipLeader", "leader"))


def terms(session):
    """Searches a clerk types: a two-character and a three-character name of the data, a
    phrase of the contents, the first digits of a month's numbers."""
    from sqlalchemy import func, select

    from app.models import Appeal

    def name_of(length):
        return session.scalar(
            select(Appeal.reporter_name)
            .where(func.length(Appeal.reporter_name) == length)
            .group_by(Appeal.reporter_name)
            .order_by(func.count().desc(), Appeal.reporter_name)
            .limit(1)
        )

    content = session.scalar(select(Appeal.content).order_by(Appeal.id.desc()).limit(1))
    number = session.scalar(select(Appeal.number).order_by(Appeal.id.desc()).limit(1))
    return {
        "name (2 chars)": ("reporter_name", name_of(2)),
        "name (3 chars)": ("reporter_name", name_of(3)),
        "content": ("content", content[2:6]),
        "number (prefix)": ("number", number[:7]),
    }


def main():
    kind = sys.argv[1] if len(sys.argv) > 1 else "postgresql"
    repeat = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    label = sys.argv[3] if len(sys.argv) > 3 else "run"
    url = db_url(kind, "medium")
    app = make_app(url)
    with app.app_context():
        from app.extensions import db

        sm = app.appbuilder.sm
        sm.reset_password(sm.find_user(username="admin").id, ADMIN_PASSWORD)
        searches = terms(db.session)
        db.session.remove()
    from sqlalchemy import event

    with app.app_context():
        from app.extensions import db

        engine = db.engine
    searched = []  # (ms) of this request's statements that search (the rest: counts, lookups, the page)

    @event.listens_for(engine, "before_cursor_execute")
    def _start(conn, cursor, statement, parameters, context, executemany):
        conn.info["mq_t"] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def _stop(conn, cursor, statement, parameters, context, executemany):
        if any(word in statement for word in ("LIKE", "MATCH", "minqing_bigrams")):
            searched.append((time.perf_counter() - conn.info["mq_t"]) * 1000)

    rows = []
    load_before = os.getloadavg()
    for role, username in ROLES:
        client = app.test_client()
        password = ADMIN_PASSWORD if username == "admin" else app.config["DEMO_PASSWORD"]
        r = client.post("/login/", data={"username": username, "password": password})
        assert r.status_code == 302, f"login {username}: {r.status_code}"
        wanted = [("appeal list (no search)", "/appealview/list/", "")]
        for what, (column, term) in searches.items():
            index, operation = (0, "sw") if column == "number" else (2, "ct")  # FAB: 0 starts with, 2 contains
            wanted.append(
                (f"appeal list search ({what})", f"/appealview/list/?_flt_{index}_{column}={quote(term)}", term)
            )
            rison = quote(f"(filters:!((col:{column},opr:{operation},value:'{term}')))")
            wanted.append((f"API appeal search ({what})", f"/api/v1/appeal/?q={rison}", term))
        for what, page, term in wanted:
            sql_ms = []

            def hit(page=page, client=client, sql_ms=sql_ms):
                searched.clear()
                response = client.get(page)
                response.get_data()
                sql_ms.append(sum(searched))
                return response.status_code

            samples, status = timed(hit, repeat, warmup=2)
            sql = summary(sql_ms[2:])
            row = {"label": label, "db": kind, "role": role, "search": what, "term": term, "status": status,
                   **summary(samples), "sql_p50": sql["p50"], "sql_p95": sql["p95"]}  # fmt: skip
            rows.append(row)
            print(json.dumps(row, ensure_ascii=False), flush=True)
    load_after = os.getloadavg()
    out = Path(__file__).resolve().parent / "search.json"
    runs = json.loads(out.read_text()) if out.exists() else []
    runs.append({"label": label, "db": kind, "at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                 "load_before": load_before, "load_after": load_after, "rows": rows})  # fmt: skip
    out.write_text(json.dumps(runs, ensure_ascii=False, indent=1))
    print(f"load average before {load_before}, after {load_after}")


if __name__ == "__main__":
    main()
