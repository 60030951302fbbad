"""The dashboard's faster reads give the figures of the plain ones: the summary cells added up
by month, category and grid in SQL equal the day cells' breakdown (overdue against a frozen
day, before and after the deadlines pass); 走访率 for two periods at once equals one by one."""

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import url_for
from sqlalchemy import func, select

from app.extensions import db
from app.models.appeals import Appeal
from app.services import dashboard as dash
from app.services import quotas, stats, visit_rate
from app.views.dashboard import links_to
from tests.conftest import login, statements_seen
from tests.factories import make_appeal, make_grid, make_person, make_user, make_visit
from tests.test_stats import ON, example  # noqa: F401  (the fixture)


def _day_cells(area, period, on, monkeypatch):
    """The breakdown read from the day cells (what a period of part months reads)."""
    with monkeypatch.context() as patch:
        patch.setattr(stats, "summary_serves", lambda *_args: False)
        return dash.appeal_breakdown(db.session, area, period, on)


@pytest.mark.parametrize("chosen", ["county", "ta", "tops"])
def test_summary_sums_equal_the_day_cells(example, monkeypatch, chosen):  # noqa: F811
    if chosen == "tops":  # Admin's whole install: the jurisdiction's roots, no grid chosen
        area = dash.Area(None, None, [example["county"]])
    else:
        grid = example[chosen]
        area = dash.Area(grid, (grid.path,), dash._children(db.session, grid))
    period = dash.Period(dt.date(2026, 1, 1), dt.date(2026, 12, 31), "year")
    assert stats.summary_serves(period.start, period.end)
    overdue = set()
    for on in (dt.date(2026, 10, 2), ON, dt.date(2027, 3, 1)):  # before and after deadlines pass
        summed = dash.appeal_breakdown(db.session, area, period, on)
        counted = _day_cells(area, period, on, monkeypatch)
        assert summed.total["collected"] > 0
        assert summed.total == counted.total
        assert summed.by_month == counted.by_month
        assert summed.by_category == counted.by_category
        assert summed.by_grid == counted.by_grid
        overdue.add(summed.total["overdue"])
    assert len(overdue) > 1  # the read follows the day


def test_visit_rates_of_two_periods_at_once(example):  # noqa: F811
    county, a1, a2 = example["county"], example["a1"], example["a2"]
    a1.households, a2.households = 10, 5
    db.session.commit()
    cadre = make_person(a1, name="访一")
    make_visit(a1, [cadre], visit_date=dt.date(2026, 11, 3), address="一号")
    make_visit(example["a1a"], [cadre], visit_date=dt.date(2026, 11, 4), address="一组一号")
    make_visit(a1, [cadre], visit_date=dt.date(2026, 3, 3), address="二号")
    make_visit(a2, [cadre], visit_date=dt.date(2026, 11, 5), address="三号")
    month, year = quotas.current_period("month", ON), quotas.current_period("year", ON)
    by_month, by_year = visit_rate.rates_of(db.session, [month, year], [county, example["ta"]])
    rows = [(r.name, r.depth, r.households, r.visited) for r in by_month]
    assert rows == [
        ("示范县", 0, 15, 3), ("甲镇", 1, 15, 3), ("乙镇", 1, None, 0),
        ("甲镇", 0, 15, 3), ("甲一村", 1, 10, 2), ("甲二村", 1, 5, 1),
    ]  # fmt: skip
    assert [r.visited for r in by_year] == [4, 4, 0, 4, 3, 1]
    assert [r.visited for r in visit_rate.visit_rates(db.session, year, [county, example["ta"]])] == [4, 4, 0, 4, 3, 1]


def test_links_built_once_say_what_url_for_says(app):
    """The dashboard's link helper gives url_for's URL (the same path and query; None left out)."""
    with app.test_request_context():
        span = {"origin": 7, "from": "2026-01-01", "to": "2026-12-31"}
        made = links_to("AppealView.list", **span)(stat="collected", category=3, grid=None)
        built = url_for("AppealView.list", stat="collected", category=3, grid=None, **span)
        assert urlsplit(made).path == urlsplit(built).path
        assert parse_qs(urlsplit(made).query) == parse_qs(urlsplit(built).query)
        assert links_to("DashboardView.index")() == url_for("DashboardView.index")


def test_a_jurisdiction_of_consecutive_ids_is_one_run_without_the_islands_query(app, client, world, monkeypatch):
    """A county leader of a county's own install: every grid id between the scope's lowest and
    highest is inside it, so the scope is one id range, read without numbering the grids."""
    monkeypatch.setitem(app.config, "SCOPE_ID_LIST_MAX", 1)
    mine = {make_appeal(world[k]).number for k in ("county", "a1", "b1a")}
    login(client, make_user("Leader", world["county"]))
    with statements_seen() as seen:
        numbers = {r["number"] for r in client.get("/api/v1/appeal/?q=(page_size:100)").json["result"]}
    assert numbers == mine
    assert not [s for s in seen if "row_number" in s.lower()]
    listing = [s for s in seen if "FROM appeal" in s and "LIMIT" in s]
    assert listing and all("BETWEEN" in s for s in listing), listing
    # a grid outside the scope between its ids: the runs are numbered as before, and still exact
    outside = make_grid("外县", None, code="X0")
    inside = make_grid("示范县新镇", world["county"], code="TN")
    assert outside.id < inside.id
    mine.add(make_appeal(inside).number)
    make_appeal(outside)
    numbers = {r["number"] for r in client.get("/api/v1/appeal/?q=(page_size:100)").json["result"]}
    assert numbers == mine and db.session.scalar(select(func.count()).select_from(Appeal)) == 5
