"""走访率 (三个百分百) and the quota periods of a week and a quarter, 平均每月 (issue 16)."""

from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from app.core.clock import frozen
from app.core.errors import DomainError
from app.extensions import db
from app.models.grids import Grid
from app.models.personnel import Person
from app.models.visits import QuotaRule, Visit, VisitGridTally
from app.services import quotas, tally, visit_rate, visits
from app.services.dashboard import Area, Period
from tests.conftest import api_token, login
from tests.factories import make_grid, make_kind, make_person, make_user, make_visit


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


def _households_by_rule(gid):
    """The rule in plain Python, from the grid rows: the own 户数 when filled, else the sum of the
    children's by the same rule (None when nothing below is known)."""
    grids = db.session.scalars(select(Grid)).all()
    kids = {}
    for g in grids:
        kids.setdefault(g.parent_id, []).append(g)
    own = {g.id: g.households for g in grids}

    def rule(i):
        if own.get(i):
            return own[i]
        parts = [p for p in (rule(k.id) for k in kids.get(i, ())) if p]
        return sum(parts) if parts else None

    return rule(gid)


def _shown(roots):
    feb = quotas.period_of(2027, 2)
    return {r.grid_id: r.households for r in visit_rate.visit_rates(db.session, feb, roots)}


def test_the_households_follow_every_grid_write_and_agree_with_the_rule(world):
    """Nothing is stored for the households: each write kind of a grid (add, edit, move, delete)
    shows at once, as the rule counted from the grid rows says."""

    def agrees():
        shown = _shown([world["ta"], world["tb"], world["a1"]])
        assert shown == {gid: _households_by_rule(gid) for gid in shown}
        return shown

    assert agrees()[world["ta"].id] == 10 and agrees()[world["a1"].id] == 10
    new = make_grid("甲三村", parent=world["ta"], households=7)  # add
    db.session.commit()
    assert agrees()[world["ta"].id] == 17
    world["a1"].households = None  # edit: the village's own count emptied, its groups' count instead
    world["a1a"].households = 3
    db.session.commit()
    assert agrees()[world["a1"].id] == 3 and _shown([world["ta"]])[world["ta"].id] == 10
    world["a1"].households = 0  # 0 is no count of its own either
    db.session.commit()
    assert agrees()[world["a1"].id] == 3
    new.parent = world["tb"]  # move to the other township
    db.session.commit()
    assert agrees()[world["tb"].id] == 4 + 7 and _shown([world["ta"]])[world["ta"].id] == 3
    world["ta"].households = 50  # a township's own count wins over its villages'
    db.session.commit()
    assert agrees()[world["ta"].id] == 50
    db.session.delete(new)  # delete
    db.session.commit()
    assert agrees()[world["tb"].id] == 4


def test_visits_made_reads_the_month_tally_for_whole_months_and_counts_other_periods(world):
    gone = make_visit(world["a1"], [world["v1"]], visit_date=date(2027, 2, 21), address="幸福路11号")
    make_visit(world["b1"], [make_person(world["b1"], name="乙访")], visit_date=date(2027, 2, 5), address="乙路1号")
    gone.deleted_at = datetime(2027, 3, 1, 9, 0)  # in the recycle bin: not made, as far as the figures go
    db.session.commit()
    everywhere, ta = Area(None, None), Area(world["ta"], (world["ta"].path,))
    on = date(2027, 3, 15)
    whole = Period(date(2027, 2, 1), date(2027, 3, 15))  # ends today: whole months
    part = Period(date(2027, 2, 4), date(2027, 3, 15))
    assert visit_rate.whole_months(whole, on) and not visit_rate.whole_months(part, on)
    assert visit_rate.whole_months(Period(date(2027, 2, 1), date(2027, 2, 28)), on)
    assert not visit_rate.whole_months(Period(date(2027, 2, 1), date(2027, 2, 27)), on)
    assert visit_rate.whole_months(Period(date(2027, 2, 1), date(2027, 2, 27)), date(2027, 2, 27))
    assert visit_rate.visits_made(db.session, everywhere, whole, on) == 5  # 4 in February, 1 in March
    assert visit_rate.visits_made(db.session, ta, whole, on) == 4
    assert visit_rate.visits_made(db.session, everywhere, part, on) == 4  # not the visit of 3 February
    # the whole months are read from the tally (a row changed by hand shows), the rest counted
    db.session.execute(
        VisitGridTally.__table__.update()
        .where(VisitGridTally.grid_id == world["b1"].id, VisitGridTally.period == "month")
        .values(visits=VisitGridTally.visits + 10)
    )
    assert visit_rate.visits_made(db.session, everywhere, whole, on) == 15
    assert visit_rate.visits_made(db.session, everywhere, part, on) == 4
    tally.rebuild(db.session)
    assert visit_rate.visits_made(db.session, everywhere, whole, on) == 5
    # a whole year (to today) and a whole quarter read one year or quarter row per grid, the same figure
    year, quarter = Period(date(2027, 1, 1), on), Period(date(2027, 1, 1), date(2027, 3, 31))
    whole_year = Period(date(2027, 1, 1), date(2027, 12, 31))
    assert visit_rate.tally_tiles(year.start, date(2027, 12, 31)) == [("year", date(2027, 1, 1))]
    assert visit_rate.tally_tiles(quarter.start, quarter.end) == [("quarter", date(2027, 1, 1))]
    assert visit_rate.visits_made(db.session, everywhere, year, on) == 5
    assert visit_rate.visits_made(db.session, everywhere, Period(date(2027, 1, 1), date(2027, 12, 31)), on) == 5
    db.session.execute(
        VisitGridTally.__table__.update()
        .where(VisitGridTally.period == "year")
        .values(visits=VisitGridTally.visits + 100)
    )
    rows = db.session.scalar(select(func.count()).select_from(VisitGridTally).where(VisitGridTally.period == "year"))
    assert (
        rows and visit_rate.visits_made(db.session, everywhere, whole_year, on) == 5 + 100 * rows
    )  # read: the year rows
    tally.rebuild(db.session)


def test_a_visit_dated_in_the_future_is_refused_so_a_period_ending_today_is_whole(world):
    """`whole_months` counts a period ending today as whole: no visit may be dated later (the
    rule every visit form and the API run)."""
    with frozen("2027-03-15 10:00"):
        visit = Visit(grid=world["a1"], visitors=[world["v1"]], visit_date=date(2027, 3, 16), visited_name="李家")
        with pytest.raises(DomainError) as refused:
            visits.validate_visit(db.session, visit)
        assert any(e.field == "visit_date" for e in refused.value.errors)
        db.session.rollback()
