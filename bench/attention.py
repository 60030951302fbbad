"""The dashboard's "needs attention" (dashboard.attention) before and after the open cells, in
one process on one database, old and new alternately (an A/B that the machine's load hits
alike): as Admin, a county leader and a township leader, p50/p95 in ms; the numbers of both
must be equal.

before: the day cells (appeal_rollup, a cell per leaf grid × day × ...) joined to the grid each
        case lives in now, over the scope's path ranges (the code before migration 0043);
after:  the open cells (appeal_open) of the scope's roots.

    .venv/bin/python bench/attention.py sqlite [repeat]      (BENCH_SQLITE_DIR: where medium.db is)
    BENCH_PG_URL=... .venv/bin/python bench/attention.py postgresql [repeat]
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path.cwd()))

from bench.bench import db_url, make_app, summary, timed  # noqa: E402
from bench.search import ROLES  # noqa: E402


def before(session, scope_service, area, on):
    """dashboard.attention as it was before the open cells (two queries over the day cells)."""
    from sqlalchemy import and_, select

    from app.models.appeals import OPEN_STATUSES, AppealRollup
    from app.services import stats
    from app.services.appeals import NOW_GRID, attention_counts, cell_running, cells_now_in

    where = cells_now_in(scope_service.current(), area.paths)
    counts = attention_counts(session, where, on)
    week_end = on + dt.timedelta(days=6 - on.weekday())
    running = cell_running()
    row = session.execute(
        select(
            stats.cell_sum(running),
            stats.cell_sum(and_(running, AppealRollup.due_date >= on, AppealRollup.due_date <= week_end)),
        )
        .select_from(AppealRollup)
        .join(NOW_GRID, NOW_GRID.id == AppealRollup.grid_id)
        .where(where, AppealRollup.status.in_(OPEN_STATUSES))
    ).one()
    counts["open"], counts["due_week"] = int(row[0]), int(row[1])
    return counts


def main():
    kind = sys.argv[1] if len(sys.argv) > 1 else "sqlite"
    repeat = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    app = make_app(db_url(kind, "medium"))
    rows = []
    load_before = os.getloadavg()
    with app.app_context():
        from flask import g

        from app.core.clock import today
        from app.extensions import db
        from app.services import dashboard, scope

        session = db.session
        on = today()
        for role, username in ROLES:
            me = scope.for_user(session, app.appbuilder.sm.find_user(username=username))
            with app.test_request_context():
                g._minqing_scope = (None, me)
                area = dashboard.choose_area(session, me)
                old = before(session, scope, area, on)
                new = dashboard.attention(session, area, on)
                assert old == new, (role, old, new)
                samples = {"before": [], "after": []}
                for _ in range(repeat):  # alternately, so a busy moment hits both
                    for how, fn in (
                        ("before", lambda area=area: before(session, scope, area, on)),
                        ("after", lambda area=area: dashboard.attention(session, area, on)),
                    ):
                        samples[how].extend(timed(fn, 1, warmup=0)[0])
            row = {"db": kind, "role": role, "counts": new, **{how: summary(s) for how, s in samples.items()}}
            rows.append(row)
            print(json.dumps(row, ensure_ascii=False), flush=True)
    out = Path(__file__).resolve().parent / "attention.json"
    runs = json.loads(out.read_text()) if out.exists() else []
    runs.append({"db": kind, "load_before": load_before, "load_after": os.getloadavg(), "rows": rows})
    out.write_text(json.dumps(runs, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
