"""The counts above the appeal lists (lists.list_counts, no flag) before and after the state
cells, in one process on one database, old and new alternately (an A/B that the machine's load
hits alike): as Admin, a county leader and a township leader, p50/p95 in ms; the numbers of
both must be equal.

before: the per-state counts from the day cells (appeal_rollup, a cell per leaf grid × day × ...)
        joined to the grid each case lives in now, over the scope's path ranges (the code
        before migration 0046); needs-attention from the open cells in both;
after:  the state cells (appeal_state) of the scope's roots.

    .venv/bin/python bench/state.py sqlite [repeat]      (BENCH_SQLITE_DIR: where medium.db is)
    BENCH_PG_URL=... .venv/bin/python bench/state.py postgresql [repeat]
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path.cwd()))

from bench.bench import db_url, make_app, summary, timed  # noqa: E402
from bench.search import ROLES  # noqa: E402


def before(session, scope_service):
    """lists.list_counts() as it was before the state cells."""
    from sqlalchemy import select, true

    from app.models.appeals import AppealRollup
    from app.services.appeals import NOW_GRID, attention_counts, cell_sum, cells_now_in, open_cells_in

    me = scope_service.current()
    where = cells_now_in(me)
    by_status = dict(
        session.execute(
            select(AppealRollup.status, cell_sum(true()))
            .select_from(AppealRollup)
            .join(NOW_GRID, NOW_GRID.id == AppealRollup.grid_id)
            .where(where)
            .group_by(AppealRollup.status)
        ).all()
    )
    return {s: int(n) for s, n in by_status.items() if n}, attention_counts(session, where, cells=open_cells_in(me))


def main():
    kind = sys.argv[1] if len(sys.argv) > 1 else "sqlite"
    repeat = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    app = make_app(db_url(kind, "medium"))
    rows = []
    load_before = os.getloadavg()
    with app.app_context():
        from flask import g

        from app.extensions import db
        from app.services import scope
        from app.services.appeals import lists

        session = db.session
        for role, username in ROLES:
            me = scope.for_user(session, app.appbuilder.sm.find_user(username=username))
            with app.test_request_context():
                g._minqing_scope = (None, me)
                old, new = before(session, scope), lists.list_counts(session)
                assert old == new, (role, old, new)
                samples = {"before": [], "after": []}
                for _ in range(repeat):  # alternately, so a busy moment hits both
                    for how, fn in (
                        ("before", lambda: before(session, scope)),
                        ("after", lambda: lists.list_counts(session)),
                    ):
                        samples[how].extend(timed(fn, 1, warmup=0)[0])
            row = {
                "db": kind,
                "role": role,
                "appeals": sum(new[0].values()),
                **{h: summary(s) for h, s in samples.items()},
            }
            rows.append(row)
            print(json.dumps(row, ensure_ascii=False), flush=True)
    out = Path(__file__).resolve().parent / "state.json"
    runs = json.loads(out.read_text()) if out.exists() else []
    runs.append({"db": kind, "load_before": load_before, "load_after": os.getloadavg(), "rows": rows})
    out.write_text(json.dumps(runs, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
