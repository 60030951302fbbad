"""The search's own SQL, plain scan against the index, in one process on one database (an A/B
that the machine's load hits alike): the list's page of ids and its capped count, in the scope
of Admin, a county leader and a township leader, 20 repetitions, p50/p95 in ms.

    BENCH_SQLITE_DIR=... .venv/bin/python bench/search_sql.py sqlite
    BENCH_PG_URL=... .venv/bin/python bench/search_sql.py postgresql
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path.cwd()))

from bench.bench import db_url, make_app, summary, timed  # noqa: E402
from bench.search import ROLES, terms  # noqa: E402


def main():
    kind = sys.argv[1] if len(sys.argv) > 1 else "sqlite"
    repeat = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    app = make_app(db_url(kind, "medium"))
    rows = []
    load_before = os.getloadavg()
    with app.app_context():
        from sqlalchemy import func, select

        from app.extensions import db
        from app.models import Appeal
        from app.services import scope, search

        session = db.session
        searches = terms(session)
        for role, username in ROLES:
            me = scope.for_user(session, app.appbuilder.sm.find_user(username=username))
            where = scope.clause_for(Appeal, me)
            for what, (name, term) in searches.items():
                col = getattr(Appeal, name)
                starts = name == "number"
                for how, cond in (
                    ("scan", search.plain(col, term, starts)),
                    ("index", search.contains(col, term, starts)),
                ):
                    page = select(Appeal.id).where(where, cond).order_by(Appeal.registered_at.desc()).limit(20)
                    count = select(func.count()).select_from(
                        select(Appeal.id).where(where, cond).limit(10001).subquery()
                    )

                    def run(page=page, count=count):
                        ids = session.scalars(page).all()
                        return session.scalar(count), len(ids)

                    samples, found = timed(run, repeat, warmup=1)
                    row = {"db": kind, "role": role, "search": what, "term": term, "how": how, "found": found[0],
                           **summary(samples)}  # fmt: skip
                    rows.append(row)
                    print(json.dumps(row, ensure_ascii=False), flush=True)
    out = Path(__file__).resolve().parent / "search_sql.json"
    runs = json.loads(out.read_text()) if out.exists() else []
    runs.append({"db": kind, "load_before": load_before, "load_after": os.getloadavg(), "rows": rows})
    out.write_text(json.dumps(runs, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
