"""The leader's dashboard and the accountability table: figures against the hand-computed
example of test_stats, the list behind every figure, the SQL-only aggregation, the
quota and representative roll-ups, scope and permissions, and the Excel export."""

import datetime as dt
import io
import re

from openpyxl import load_workbook
from sqlalchemy import select

from app.core import clock
from app.extensions import db
from app.models.appeals import Appeal
from app.models.personnel import Person
from app.services import dashboard as dash
from app.services import quotas
from app.services import representatives as rep_service
from tests.conftest import login, statements_seen
from tests.factories import (
    make_assignment,
    make_contact,
    make_kind,
    make_person,
    make_representative,
    make_user,
    make_visit,
    tree,
)
from tests.test_quotas import rule
from tests.test_stats import OCTOBER, ON, example  # noqa: F401  (the fixture)

OCT = "start=2026-10-01&end=2026-10-31"


def _figure(html, key):
    match = re.search(rf'data-mq-figure="{key}">\s*<div class="panel-body"><div class="mq-num">(\d+)</div>', html)
    assert match, f"figure {key} not on the page"
    return int(match.group(1))


def _figure_link(html, key):
    match = re.search(rf'<a class="panel[^"]*" href="([^"]+)" data-mq-figure="{key}">', html)
    return match.group(1).replace("&amp;", "&")


def _numbers(html):
    return set(re.findall(r"\b(20\d{7})\b", html))


def _leader(grid):
    return make_user("Leader", grid)


def test_dashboard_figures_match_the_hand_computed_example(client, example):  # noqa: F811
    leader = _leader(example["ta"])
    login(client, leader)
    with clock.frozen(ON):
        html = client.get(f"/dashboard/?{OCT}").get_data(as_text=True)
    assert {k: _figure(html, k) for k in ("collected", "closed", "pending", "overdue")} == {
        "collected": 7,
        "closed": 5,
        "pending": 2,
        "overdue": 2,
    }
    assert "71.4%" in html  # 办结率 5/7
    assert "42.9%" in html  # 按期办结率 3/7
    assert "66.7%" in html  # 满意率 2/3
    # the leader's own township is the default area, broken down by its villages
    assert 'id="mq-by-grid"' in html and "甲一村" in html and "甲二村" in html
    assert "乙镇" not in html


def test_every_figure_opens_the_rows_it_counts(client, example):  # noqa: F811
    leader = _leader(example["ta"])
    login(client, leader)
    with clock.frozen(ON):
        html = client.get(f"/dashboard/?{OCT}").get_data(as_text=True)
        for key, expected in (("collected", 7), ("closed", 5), ("pending", 2), ("overdue", 2)):
            url = _figure_link(html, key)
            page = client.get(url).get_data(as_text=True)
            rows = _numbers(page.split('class="table', 1)[-1])
            counted = db.session.scalars(
                select(Appeal.number).where(dash.stats.base_clause((example["ta"].path,), *OCTOBER))
            ).all()
            assert len(rows) == expected and rows <= set(counted), (key, url, rows)
            assert "仪表盘筛选" in page or "From the dashboard" in page


def test_trend_category_and_grid_breakdowns(example):  # noqa: F811
    area = dash.Area(example["ta"], (example["ta"].path,), [example["a1"], example["a2"]])
    period = dash.Period(dt.date(2026, 9, 1), dt.date(2026, 11, 30))
    trend = dict(dash.appeal_trend(db.session, area, period, on=ON))
    assert list(trend) == ["2026-09", "2026-10", "2026-11"]
    assert trend["2026-09"]["collected"] == 1 and trend["2026-11"]["collected"] == 1
    assert trend["2026-10"] == {"collected": 7, "closed": 5, "overdue": 2}
    october = dash.Period(*OCTOBER)
    categories = dash.appeal_by_category(db.session, area, october, on=ON)
    assert sum(row["collected"] for _, _, row in categories) == 7
    names = [g.name if g else "本级" for g, _ in dash.appeal_by_grid(db.session, area, october, on=ON)]
    assert names == ["本级", "甲一村", "甲二村"]


def test_dashboard_reads_rollups_never_the_appeals(client, example):  # noqa: F811
    login(client, _leader(example["ta"]))
    with statements_seen() as seen, clock.frozen(ON):
        assert client.get(f"/dashboard/?{OCT}").status_code == 200
    assert [s for s in seen if re.search(r"(FROM|JOIN) appeal\b", s)] == []
    # the cells: day cells, summary cells (whole months), open cells (needs attention)
    cell_queries = [s for s in seen if re.search(r"FROM appeal_(rollup|summary|open)\b", s)]
    read = {table for s in cell_queries for table in re.findall(r"FROM (appeal_(?:rollup|summary|open))\b", s)}
    assert read >= {"appeal_summary", "appeal_open"}
    for statement in cell_queries:
        assert "sum(" in re.split(r"FROM appeal_(?:rollup|summary|open)\b", statement, maxsplit=1)[0].lower(), statement


def test_quota_rollup_hand_computed():
    t = tree()
    kind = make_kind("看板测试类")
    monthly = rule("看板每月3次", kind=kind, minimum=3)
    busy = make_person(t["a1"], name="勤快", kind=kind)
    slow = make_person(t["a2"], name="慢慢", kind=kind)
    make_person(t["a1"], name="离岗", kind=kind, active=False)
    make_person(t["b1"], name="乙镇人", kind=kind)
    for day in (2, 3, 4, 5):
        make_visit(t["a1"], [busy], visit_date=dt.date(2026, 3, day))
    make_visit(t["a2"], [slow], visit_date=dt.date(2026, 3, 6))
    make_visit(t["a2"], [slow], visit_date=dt.date(2026, 2, 27))  # February: not counted
    period = quotas.period_of(2026, 3)
    in_ta = Person.grid_id.in_([t["a1"].id, t["a2"].id])
    with clock.frozen("2026-03-31 10:00"):
        (mine,) = [r for r in quotas.quota_rollup(db.session, period, in_ta) if r.rule.id == monthly.id]
        # two people assessed (the inactive one is not, 乙镇 is outside), one met 3;
        # completion = (min(4, 3) + 1) / (3 + 3): a surplus does not make up for a shortfall
        assert (mine.people, mine.met, mine.behind, mine.done, mine.target) == (2, 1, 1, 4, 6)
        assert round(mine.rate, 4) == round(4 / 6, 4)
        # the same numbers as the per-person report
        rows = [r for r in quotas.quota_progress(db.session, period, in_ta) if r.rule.id == monthly.id]
        assert sorted((r.person.name, r.done) for r in rows) == [("勤快", 4), ("慢慢", 1)]
        grouped = quotas.quota_rollup(db.session, period, in_ta, group=Person.grid_id)
        by_grid = {key: [r for r in v if r.rule.id == monthly.id][0] for key, v in grouped.items()}
        assert (by_grid[t["a1"].id].done, by_grid[t["a2"].id].done) == (3, 1)


def test_representative_rollup_hand_computed():
    t = tree()
    with clock.frozen("2026-07-01 10:00"):  # mid-year: 20 of 40 expected by now (ceil of 40 * 182/365 = 20)
        ahead = make_representative(grid=t["a1"])
        behind = make_representative(grid=t["a2"])
        make_representative(grid=t["b1"])  # another township
        make_contact(ahead, dt.date(2026, 3, 1), voter_count=12, form="选民座谈会")
        make_contact(ahead, dt.date(2026, 5, 1), voter_count=30)
        make_contact(behind, dt.date(2026, 4, 1), voter_count=5)
        make_contact(behind, dt.date(2025, 12, 30), voter_count=50)  # last year
        clause = select_reps_in(t)
        roll = rep_service.progress_rollup(db.session, 2026, clause)
    # ahead met 42 (capped at 40), behind 5: 45 of 80; one met the target, one is behind the pace
    assert (roll.representatives, roll.done, roll.target, roll.met, roll.behind_pace) == (2, 45, 80, 1, 1)


def select_reps_in(t):
    from app.models.representatives import Constituency, Representative

    return Representative.constituency_id.in_(
        select(Constituency.id).where(Constituency.grid_id.in_([t["a1"].id, t["a2"].id]))
    )


def test_dashboard_keeps_to_the_jurisdiction(client, example):  # noqa: F811
    leader = _leader(example["ta"])
    login(client, leader)
    with clock.frozen(ON):
        assert client.get(f"/dashboard/?grid={example['tb'].id}").status_code == 404
        assert client.get(f"/dashboard/?grid={example['county'].id}").status_code == 404
        assert client.get(f"/accountability/?grid={example['b1'].id}").status_code == 404
        assert client.get(f"/dashboard/?grid={example['a1'].id}&{OCT}").status_code == 200
        # a county leader sees both townships, and the county's total (the 乙一村 appeal too)
        county_leader = make_user("Leader", example["county"])
        login(client, county_leader)
        html = client.get(f"/dashboard/?{OCT}").get_data(as_text=True)
    assert _figure(html, "collected") == 8 and "甲镇" in html and "乙镇" in html


def test_who_opens_the_dashboard(client, example):  # noqa: F811
    leader = _leader(example["ta"])
    login(client, leader)
    assert client.get("/").headers["Location"].endswith("/dashboard/")
    for role in ("Clerk", "GridWorker", "Representative"):
        user = make_user(role, example["a1"])
        login(client, user)
        response = client.get("/dashboard/")
        assert response.status_code == 403, role
        assert client.get("/accountability/").status_code == 403
        assert client.get("/").status_code == 200  # their own home page


def test_bad_period_is_refused_with_a_message(client, example):  # noqa: F811
    login(client, _leader(example["ta"]))
    html = client.get("/dashboard/?start=2026-10-31&end=2026-10-01", follow_redirects=True).get_data(as_text=True)
    assert "开始日期晚于结束日期" in html
    html = client.get("/dashboard/?start=yesterday").get_data(as_text=True)
    assert "YYYY-MM-DD" in html
    # an id no grid can have is the request's mistake (app/views/edge.py), not the default area
    assert client.get("/dashboard/?grid=abc").status_code == 400


def test_accountability_table_and_its_export(client, example):  # noqa: F811
    t = example
    leader = _leader(t["ta"])
    head = make_person(t["a1"], name="甲一村书记")
    make_assignment(head, t["a1"], "网格长")
    handler = make_person(t["a1"], name="承办干部")
    make_assignment(handler, t["a1"], "网格长")
    with clock.frozen("2026-10-28 10:00"):
        for appeal in db.session.scalars(select(Appeal).where(Appeal.origin_grid_id == t["a1"].id)):
            if appeal.status in ("assigned", "in_progress") and appeal.duplicate_of_id is None:
                appeal.handler_person_id = handler.id
        db.session.commit()
    login(client, leader)
    with clock.frozen(ON):
        html = client.get(f"/accountability/?{OCT}").get_data(as_text=True)
        assert 'id="mq-account-grids"' in html and "甲一村书记" in html and "承办干部" in html
        rows, people, _at = dash.accountability(
            db.session, dash.choose_area(db.session, dash.scope_service.EVERYTHING, t["ta"].id), dash.Period(*OCTOBER)
        )
        response = client.get(f"/accountability/?{OCT}&format=xlsx")
    assert [r.label for r in rows] == ["甲镇", "甲一村", "甲二村"]
    assert rows[0].figures["collected"] == 7 and rows[1].figures["collected"] == 5
    mine = [p for p in people if p.person.id == handler.id][0]
    assert (mine.handled, mine.overdue, mine.closed) == (2, 2, 0)  # appeals 3 and 6, both overdue
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.data))
    grids, persons = book.worksheets
    assert grids.cell(row=2, column=1).value == "网格" and grids.cell(row=3, column=1).value == "甲镇"
    assert grids.cell(row=3, column=3).value == 7
    names = [persons.cell(row=r, column=1).value for r in range(3, persons.max_row + 1)]
    assert "承办干部" in names and "乙镇" not in str([c.value for row in grids.iter_rows() for c in row])


def test_home_page_lists_my_work(client, example):  # noqa: F811
    """A clerk's home shows what waits for them: overdue and unassigned appeals, follow-ups due."""
    t = example
    clerk = make_user("Clerk", t["ta"])
    me = db.session.scalar(select(Person).where(Person.user_id == clerk.id))
    make_visit(t["a1"], [me], visit_date=dt.date(2026, 11, 10), follow_up_date=dt.date(2026, 11, 18))
    login(client, clerk)
    with clock.frozen(ON):
        html = client.get("/").get_data(as_text=True)
    todo = dict(re.findall(r'data-mq-todo="(\w+)">.*?<span class="badge">(\d+)</span>', html))
    assert todo["overdue"] == "4"  # appeals 3 and 6 of the example, and the two registered outside October
    assert todo["followups"] == "1" and "已逾期 1" in html
    assert todo["mine"] == "0"
