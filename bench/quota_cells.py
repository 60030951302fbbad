"""The visit quota parts of the dashboard and the accountability table, summed from the quota cells
(now) against the live count they replace (before), on a loaded demo database; p50 of 5 after a
warm-up, with the load average. Figures are compared too.

    .venv/bin/python -m bench.quota_cells sqlite:////tmp/medium.db
    .venv/bin/python -m bench.quota_cells postgresql+psycopg://postgres@127.0.0.1:5432/medium
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time

from sqlalchemy import and_, select

from app import create_app
from app.core.clock import today
from app.extensions import db
from app.models.grids import Grid
from app.models.personnel import Person
from app.services import dashboard as dash
from app.services import quotas
from app.services import scope as scope_service

RUNS = 5


def p50(fn):
    fn()
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 1)


def figures(rollups):
    return sorted((r.rule.id, r.period.kind, r.people, r.met, r.done, r.target) for r in rollups)


def live_visit_quotas(session, area, on):
    """dashboard.visit_quotas as it was: the live count of the area's people."""
    clause = and_(scope_service.clause_for(Person), area.grid_clause(Person.grid_id))
    month, year = quotas.current_period("month", on), quotas.current_period("year", on)
    return {
        "month": quotas.quota_rollup(session, month, clause, on=on),
        "year": quotas.quota_rollup(session, year, clause, on=on),
    }


def live_only(fn):
    """Run `fn` with the cells declared unable to answer (the live count, as before)."""
    kept, people = quotas.kept_rollups, quotas.people_rollups
    quotas.kept_rollups = lambda *args, **kwargs: None
    quotas.people_rollups = _people_live
    try:
        return fn()
    finally:
        quotas.kept_rollups, quotas.people_rollups = kept, people


def _people_live(session, periods, ids, on=None):
    """The responsible people's own figures as before: one live count per rule and period."""
    return {
        p.kind: quotas.quota_rollup(session, p, Person.id.in_(ids), on=on, group=Person.id, person_ids=ids)
        for p in periods
    }


def main(url):
    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    out = []
    with app.app_context():
        session, on = db.session, today()
        top = session.scalar(select(Grid).where(Grid.parent_id.is_(None)).order_by(Grid.id))
        township = session.scalar(select(Grid).where(Grid.parent_id == top.id).order_by(Grid.id))
        for who, scope in (
            ("Admin", scope_service.EVERYTHING),
            ("township", scope_service.Scope(paths=(township.path,))),
        ):
            area = dash.choose_area(session, scope)
            kept, live = dash.visit_quotas(session, area, on), live_visit_quotas(session, area, on)
            same = all(figures(kept[k]) == figures(live[k]) for k in ("month", "year"))
            period = dash.preset_period("month", on)
            rows_kept = dash.accountability(session, area, period, on)[0]
            rows_live = live_only(lambda area=area, period=period: dash.accountability(session, area, period, on)[0])
            same_rows = [figures(r.quota) for r in rows_kept] == [figures(r.quota) for r in rows_live]
            grid = area.grid
            out.append(
                {
                    "database": session.get_bind().dialect.name,
                    "who": who,
                    "visit_quotas_before_ms": p50(lambda area=area: live_visit_quotas(session, area, on)),
                    "visit_quotas_after_ms": p50(lambda area=area: dash.visit_quotas(session, area, on)),
                    "quota_by_child_before_ms": p50(
                        lambda grid=grid: live_only(lambda: dash._quota_by_child(session, grid, on))
                    ),
                    "quota_by_child_after_ms": p50(lambda grid=grid: dash._quota_by_child(session, grid, on)),
                    "accountability_before_ms": p50(
                        lambda area=area, period=period: live_only(
                            lambda: dash.accountability(session, area, period, on)
                        )
                    ),
                    "accountability_after_ms": p50(
                        lambda area=area, period=period: dash.accountability(session, area, period, on)
                    ),
                    "figures_equal": same and same_rows,
                    "load_average": os.getloadavg(),
                }
            )
            session.rollback()
    for row in out:
        print(json.dumps(row))


if __name__ == "__main__":
    main(sys.argv[1])
