"""The leader's dashboard (领导驾驶舱) and the accountability table (定责到人).

Both read one jurisdiction (a grid the user may see, default: their own) and one
period; every figure links to the list it counts. The figures come from
`app.services.dashboard`, counted in SQL.
"""

from __future__ import annotations

import calendar
from urllib.parse import urlencode

from flask import abort, current_app, flash, request, send_file, url_for
from flask_appbuilder import BaseView
from flask_appbuilder.security.decorators import has_access
from flask_appbuilder.views import expose
from flask_babel import lazy_gettext as _l

from app.core.clock import today
from app.core.errors import DomainError, NotFound
from app.core.excel import workbook_sheets
from app.core.replica import reports_session
from app.services import dashboard as dash
from app.services import quotas as quota_service
from app.services import scope, stats, visit_rate
from app.services.registers import runtime as register_runtime
from app.services.registers import summary as register_summary
from app.views.edge import id_arg

RESOURCE = "Dashboard"


def percent(value):
    return "—" if value is None else f"{value * 100:.1f}%"


class _AreaPeriodView(BaseView):
    class_permission_name = RESOURCE
    method_permission_name = {"index": "read"}
    base_permissions = ["can_read"]
    default_view = "index"

    def _area_period(self):
        session = reports_session()  # a read replica when configured
        my_scope = scope.current()
        try:
            preset = request.args.get("preset") or current_app.config["DASHBOARD_DEFAULT_PRESET"]
            period = dash.parse_period(preset, request.args.get("start"), request.args.get("end"))
        except DomainError as err:
            flash(str(err), "danger")
            period = dash.preset_period(current_app.config["DASHBOARD_DEFAULT_PRESET"])
        try:
            area = dash.choose_area(session, my_scope, id_arg("grid"))
        except NotFound:
            abort(404)
        return session, my_scope, area, period

    def _base_args(self, area, period):
        args = {"grid": area.grid.id if area.grid else None}
        if period.preset:
            args["preset"] = period.preset
        else:
            args.update(start=period.start.isoformat(), end=period.end.isoformat())
        return args


SERIES_TITLES = {
    "collected": _l("Collected"),
    "closed": _l("Resolved"),
    "overdue": _l("Overdue"),
    "pending": _l("Pending"),
}


def _series(rows, keys):
    """Chart.js datasets: one per figure in `keys`, its values taken from each of `rows`."""
    return [{"key": k, "label": str(SERIES_TITLES[k]), "data": [row[k] for row in rows]} for k in keys]


class DashboardView(_AreaPeriodView):
    route_base = "/dashboard"
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        session, my_scope, area, period = self._area_period()
        on = today()
        origin = area.grid.id if area.grid else "all"
        span = {"origin": origin, "from": period.start.isoformat(), "to": period.end.isoformat()}

        appeal_link = links_to("AppealView.list")  # a few hundred links a page: the route built once
        span_link = links_to("AppealView.list", **span)

        def figure_link(key, **extra):
            return span_link(stat=key, **extra)

        now_in = {"in": area.grid.id} if area.grid else {}
        data = dash.figures(session, my_scope, area, period, on)
        figures, trend, categories, by_grid = data["figures"], data["trend"], data["categories"], data["by_grid"]
        base_args = self._base_args(area, period)
        dashboard_link = links_to("DashboardView.index", **{k: v for k, v in base_args.items() if k != "grid"})
        charts = {
            "trend": {
                "labels": [m for m, _ in trend],
                "series": _series([row for _, row in trend], ("collected", "closed", "overdue")),
                "links": [
                    appeal_link(origin=origin, **{"from": _month_start(m, period), "to": _month_end(m, period)})
                    for m, _ in trend
                ],
            },
            "category": {
                "labels": [name for _, name, _ in categories],
                "series": _series([row for _, _, row in categories], ("collected", "pending")),
                "links": [figure_link("collected", category=cid) for cid, _, _ in categories],
            },
            "grid": {
                "labels": [g.name if g else str(_l("This level")) for g, _ in by_grid],
                "series": _series([f for _, f in by_grid], ("collected", "closed", "overdue")),
                "links": [dashboard_link(grid=g.id) if g else None for g, _ in by_grid],
            },
        }
        rep_year = period.end.year
        sm = self.appbuilder.sm
        card_specs = [s for s in register_runtime.specs().values()
                      if s.active and s.dashboard_card and sm.has_access("can_read", s.resource)]  # fmt: skip
        register_cards = register_summary.cards(session, my_scope, card_specs, period.start, period.end, area.grid)
        rates = visit_rate.dashboard_rates(
            session, my_scope, area.grid, quota_service.current_period("month", on),
            quota_service.current_period("year", on),
        )  # fmt: skip
        return self.render_template(
            "minqing/dashboard.html",
            visit_rates=rates,
            register_cards=register_cards,
            title=_l("Dashboard"),
            area=area,
            crumbs=dash.ancestors(session, area.grid, my_scope),
            period=period,
            presets=dash.PRESETS,
            base_args=base_args,
            figures=figures,
            attention=data["attention"],
            now_in=now_in,
            figure_link=figure_link,
            appeal_link=appeal_link,
            span_link=span_link,
            dashboard_link=dashboard_link,
            by_grid=by_grid,
            categories=categories,
            charts=charts,
            quotas=data["quotas"],
            visits=data["visits"],
            reps=data["reps"],
            computed_at=data["computed_at"],
            rep_year=rep_year,
            percent=percent,
            rates=stats.RATES,
            petition_keys=stats.PETITION_COUNTS,
            count_titles={c.key: c.title for c in stats.COUNTS},
            can_account=area.grid is not None,
        )


def links_to(endpoint, **fixed):
    """link(**args): the URL of `endpoint` with `fixed` and `args` as its query (None values left
    out, as url_for does), the route built once: url_for per figure was a tenth of a county
    dashboard's time."""
    base = url_for(endpoint, **fixed)
    glue = "&" if "?" in base else "?"

    def link(**args):
        query = urlencode([(k, v) for k, v in args.items() if v is not None])
        return base + glue + query if query else base

    return link


def _month_start(month, period):
    start = f"{month}-01"
    return max(start, period.start.isoformat())


def _month_end(month, period):

    year, mon = (int(x) for x in month.split("-"))
    end = f"{month}-{calendar.monthrange(year, mon)[1]:02d}"
    return min(end, period.end.isoformat())


PERSON_HEADERS = (
    _l("Person"), _l("Post"), _l("Grid"), _l("Filed"), _l("Handled"), _l("Resolved"), _l("Overdue"),
    _l("Passed to a higher level"), _l("Closure rate"), _l("On-time closure rate"), _l("Satisfaction rate"),
    _l("Monthly visit quota"), _l("Yearly visit quota"),
)  # fmt: skip
GRID_HEADERS = (
    _l("Grid"), _l("Responsible people"), _l("Collected"), _l("Found by the grid"), _l("Reported by the grid"),
    _l("Resolved at this level"), _l("Passed to a higher level"), _l("Overdue"), _l("Closure rate"), _l("On-time closure rate"), _l("Satisfaction rate"),
    _l("Monthly visit quota"), _l("Yearly visit quota"),
)  # fmt: skip


class AccountabilityView(_AreaPeriodView):
    route_base = "/accountability"

    @expose("/")
    @has_access
    def index(self):
        session, my_scope, area, period = self._area_period()
        if area.grid is None:
            flash(str(_l("Choose one of your grids.")), "info")
            return self.render_template(
                "minqing/accountability.html",
                title=_l("Accountability"),
                area=area,
                crumbs=[],
                period=period,
                presets=dash.PRESETS,
                base_args=self._base_args(area, period),
                rows=[],
                people=[],
                percent=percent,
            )
        on = today()
        rows, people, computed_at = dash.accountability(session, area, period, on)
        if request.args.get("format") == "xlsx":
            return self._xlsx(area, period, rows, people)
        return self.render_template(
            "minqing/accountability.html",
            title=_l("Accountability"),
            area=area,
            crumbs=dash.ancestors(session, area.grid, my_scope),
            period=period,
            presets=dash.PRESETS,
            base_args=self._base_args(area, period),
            rows=rows,
            people=people,
            computed_at=computed_at,
            percent=percent,
            span={"from": period.start.isoformat(), "to": period.end.isoformat()},
        )

    def _xlsx(self, area, period, rows, people):
        grid_rows = [
            (
                r.label,
                "、".join(f"{p.name}（{post}）" for p, post in r.responsible),
                r.figures["collected"],
                r.figures["discovered"],
                r.figures["reported"],
                r.figures["handled_locally"],
                r.figures["escalated"],
                r.figures["overdue"],
                percent(r.figures["closure_rate"]),
                percent(r.figures["on_time_rate"]),
                percent(r.figures["satisfaction_rate"]),
                percent(r.quota_month_rate),
                percent(r.quota_year_rate),
            )
            for r in rows
        ]
        person_rows = [
            (
                p.person.name,
                p.post,
                p.grid.name,
                p.filed,
                p.handled,
                p.closed,
                p.overdue,
                p.escalated,
                percent(p.closure_rate),
                percent(p.on_time_rate),
                percent(p.satisfaction_rate),
                percent(p.quota_month_rate),
                percent(p.quota_year_rate),
            )
            for p in people
        ]
        title = f"{area.grid.name} {period.start}—{period.end}"
        buffer = workbook_sheets(
            [
                (str(_l("By grid")), [str(h) for h in GRID_HEADERS], grid_rows),
                (str(_l("By responsible person")), [str(h) for h in PERSON_HEADERS], person_rows),
            ],
            title=title,
        )
        name = f"定责到人-{area.grid.code}-{period.start:%Y%m%d}-{period.end:%Y%m%d}.xlsx"
        return send_file(
            buffer,
            as_attachment=True,
            download_name=name,
            mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
