"""走访率 (三个百分百) and the quota periods of a week and a quarter, 平均每月 (issue 16)."""

from datetime import date

import pytest
from sqlalchemy import select

from app.core.clock import frozen
from app.core.errors import DomainError
from app.extensions import db
from app.models.personnel import Person
from app.models.visits import QuotaRule, VisitGridTally
from app.services import quotas, tally, visit_rate
from tests.conftest import api_token, login
from tests.factories import make_kind, make_person, make_user, make_visit


@pytest.fixture
def world(world):
    world["a1"].households = 10
    world["b1"].households = 4
    db.session.commit()
    world["v1"] = make_person(world["a1"], name="访一")
    world["v2"] = make_person(world["a1"], name="访二")
    # one household visited twice (by two cadres, the address written two ways), one other, one in March
    make_visit(world["a1"], [world["v1"]], visit_date=date(2027, 2, 3), address="幸福路3号", visited_name="赵家")
    make_visit(world["a1"], [world["v2"]], visit_date=date(2027, 2, 17), address="幸福路 3 号", visited_name="赵家")
    make_visit(world["a1a"], [world["v1"]], visit_date=date(2027, 2, 20), address="一组5号", visited_name="钱家")
    make_visit(world["a1"], [world["v1"]], visit_date=date(2027, 3, 2), address="幸福路9号", visited_name="孙家")
    return world


def rates(period, roots):
    return {r.name: (r.households, r.visited, r.rate) for r in visit_rate.visit_rates(db.session, period, roots)}


def test_a_household_visited_twice_counts_once_and_rolls_up_the_subtree(world):
    feb = quotas.period_of(2027, 2)
    got = rates(feb, [world["ta"]])
    assert got["甲一村"] == (10, 2, 0.2)  # 赵家 (twice) + 钱家 in the group below
    assert got["甲镇"] == (10, 2, 0.2)  # no count of its own: its villages' (甲二村 has none)
    assert got["甲二村"] == (None, 0, None)
    assert rates(quotas.period_of(2027), [world["a1"]])["甲一村"] == (10, 3, 0.3)
    quarter = quotas.period_for("quarter", date(2027, 2, 10))
    assert rates(quarter, [world["a1"]])["甲一村"][1] == 3


def test_the_grid_tally_follows_edits_and_deletes_and_a_rebuild_agrees(world):
    visit = make_visit(world["a1"], [world["v2"]], visit_date=date(2027, 2, 25), address="幸福路7号")
    feb = quotas.period_of(2027, 2)
    assert rates(feb, [world["a1"]])["甲一村"][1] == 3
    visit.address = "幸福路3号"  # the same household as 赵家 after all
    db.session.commit()
    assert rates(feb, [world["a1"]])["甲一村"][1] == 2
    visit.grid = world["b1"]  # filed in the wrong village: moved
    db.session.commit()
    assert rates(feb, [world["a1"]])["甲一村"][1] == 2 and rates(feb, [world["b1"]])["乙一村"][1] == 1
    before = sorted(tuple(r) for r in db.session.execute(select(VisitGridTally.__table__)))
    tally.rebuild(db.session)
    assert sorted(tuple(r) for r in db.session.execute(select(VisitGridTally.__table__))) == before


def test_the_quota_page_and_the_dashboard_show_the_rate_of_the_jurisdiction_only(client, world):
    login(client, make_user("Leader", world["ta"]))
    with frozen("2027-02-27 10:00"):
        page = client.get("/quotaruleview/progress/").get_data(as_text=True)
        assert 'id="mq-visit-rate"' in page and f'data-grid="{world["a1"].id}"' in page and "20.0%" in page
        assert f'data-grid="{world["b1"].id}"' not in page
        board = client.get("/dashboard/").get_data(as_text=True)
        assert 'id="mq-dashboard-visit-rate"' in board and "20.0%" in board and "乙一村" not in board
        client.get("/logout/")
        headers = api_token(client, make_user("Leader", world["tb"]))
        body = client.get("/api/v1/quotarule/progress?year=2027&month=2", headers=headers).json
        assert [(r["grid"], r["visited"]) for r in body["visit_rates"]] == [("乙镇", 0), ("乙一村", 0)]


def test_a_weekly_rule_across_a_month_boundary(world):
    kind = make_kind("周任务类")
    person = make_person(world["a1"], name="周访人", kind=kind)
    rule = QuotaRule(name="每周2次", kind=kind, period="week", unit="visits", minimum=2, sort_order=60, active=True)
    db.session.add(rule)
    db.session.commit()
    for day in (date(2027, 3, 29), date(2027, 3, 31), date(2027, 4, 1)):  # Monday, Wednesday, Thursday
        make_visit(world["a1"], [person], visit_date=day)
    with frozen("2027-04-01 18:00"):
        week = quotas.current_period("week")
        assert (week.start, week.end) == (date(2027, 3, 29), date(2027, 4, 4))
        rows = quotas.quota_progress(db.session, week, Person.id == person.id)
        assert [(r.rule.name, r.done, r.target, r.shortfall) for r in rows] == [("每周2次", 3, 2, 0)]
        april = quotas.current_period("month")
        assert quotas.quota_progress(db.session, april, Person.id == person.id) == []  # weekly rules only weekly
    earlier = quotas.period_for("week", date(2027, 3, 28))  # the Sunday before: the week of 22-28 March
    assert quotas.quota_progress(db.session, earlier, Person.id == person.id)[0].done == 0


def test_the_city_leaders_rule_is_one_a_month_on_average_over_the_quarter(world):
    leader = make_person(world["ta"], name="市领导", position="市委副书记")
    for day in (date(2027, 1, 5), date(2027, 1, 20)):  # two in January, none in February or March
        make_visit(world["a1"], [leader], visit_date=day)
    with frozen("2027-03-31 18:00"):
        q1 = quotas.current_period("quarter")
        assert q1.label == "2027 Q1" and (q1.start, q1.end) == (date(2027, 1, 1), date(2027, 3, 31))
        rows = quotas.quota_progress(db.session, q1, Person.id == leader.id)
        assert [(r.rule.name, r.done, r.target, r.shortfall) for r in rows] == [("市级领导民情家访", 2, 3, 1)]
        rollup = quotas.quota_rollup(db.session, q1, Person.id == leader.id)
        assert [(r.people, r.met, r.done, r.target) for r in rollup if r.rule.name == "市级领导民情家访"] == [
            (1, 0, 2, 3)
        ]


def test_an_average_needs_a_longer_period(world):
    rule = QuotaRule(name="按月平均", position_contains="书记", period="month", unit="visits", minimum=1,
                     average_per_month=True)  # fmt: skip
    with pytest.raises(DomainError) as err:
        quotas.validate_quota_rule(db.session, rule)
    assert err.value.field == "average_per_month"
    rule.period = "year"
    quotas.validate_quota_rule(db.session, rule)
    assert quotas.rule_target(rule, quotas.period_of(2027)) == 12


def test_the_progress_page_and_api_take_a_week_or_a_quarter(client, world):
    login(client, make_user("Clerk", world["ta"]))
    page = client.get("/quotaruleview/progress/?kind=week&year=2027&month=4&day=1").get_data(as_text=True)
    assert "2027-03-29～04-04" in page
    page = client.get("/quotaruleview/progress/?kind=quarter&year=2027&month=2").get_data(as_text=True)
    assert "2027 Q1" in page
    headers = api_token(client, make_user("Clerk", world["ta"]))
    body = client.get("/api/v1/quotarule/progress?kind=quarter&year=2027&month=5", headers=headers).json
    assert body["period"]["start"] == "2027-04-01" and body["period"]["kind"] == "quarter"
