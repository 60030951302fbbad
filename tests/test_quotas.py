"""Visit quotas: the arithmetic on hand-computed cases, the report pages and API, the rules' rules."""

from datetime import date

import pytest
from flask import g
from sqlalchemy import select

from app.core.clock import frozen
from app.core.errors import DomainError
from app.extensions import db
from app.models.personnel import Person
from app.models.visits import PersonKindChange, QuotaRule
from app.services import quotas
from app.services.scope import EVERYTHING
from tests.conftest import api_token, login, statements_seen
from tests.factories import make_kind, make_person, make_user, make_visit

TODAY = "2026-03-15 10:00"


def rule(name, kind=None, words=None, period="month", unit="visits", minimum=3):
    r = QuotaRule(name=name, kind=kind, position_contains=words, period=period, unit=unit, minimum=minimum,
                  sort_order=50, active=True)  # fmt: skip
    db.session.add(r)
    db.session.commit()
    return r


def progress(period, **kw):
    """{(person name, rule name): (done, target, shortfall)} for everyone (no scope)."""
    rows = quotas.quota_progress(db.session, period, Person.id.is_not(None), **kw)
    return {(r.person.name, r.rule.name): (r.done, r.target, r.shortfall) for r in rows}


@pytest.fixture
def world(world):
    t = world
    t["monthly"] = make_kind("测试月度类")
    t["yearly"] = make_kind("测试年度类")
    t["r_month"] = rule("每月3次", kind=t["monthly"], minimum=3)
    t["r_year"] = rule("每年5户", kind=t["yearly"], period="year", unit="households", minimum=5)
    return t


def test_seeded_rules_follow_the_domain():
    seeded = {r.name: r for r in db.session.scalars(select(QuotaRule))}
    got = {
        name: (r.kind.name if r.kind else None, r.period, r.unit, r.minimum)
        for name, r in seeded.items()
    }  # fmt: skip
    assert got == {
        "县级领导下访": ("县直干部", "month", "visits", 2),
        "乡镇领导走访": ("乡镇干部", "month", "visits", 3),
        "县直部门干部进民家": ("县直干部", "year", "households", 100),
        "乡镇干部进民家": ("乡镇干部", "year", "households", 150),
        "村两委干部走访农户": ("村两委干部", "month", "households", 3),
        "市级领导民情家访": (None, "quarter", "visits", 1),  # 平均每月至少一次 (seed 001)
    }
    assert seeded["市级领导民情家访"].average_per_month
    assert "书记" in seeded["乡镇领导走访"].position_words


def test_month_boundaries(world):
    """Jan 31 belongs to January, Feb 1 and Feb 28 to February, Mar 1 to March."""
    p = make_person(world["a1"], name="月度甲", kind=world["monthly"])
    for day in (date(2026, 1, 31), date(2026, 2, 1), date(2026, 2, 1), date(2026, 2, 28), date(2026, 3, 1)):
        make_visit(world["a1"], [p], visit_date=day)
    with frozen(TODAY):
        assert progress(quotas.period_of(2026, 1))[("月度甲", "每月3次")] == (1, 3, 2)
        assert progress(quotas.period_of(2026, 2))[("月度甲", "每月3次")] == (3, 3, 0)
        march = quotas.quota_progress(db.session, quotas.period_of(2026, 3), Person.id == p.id)
        (row,) = march
        assert (row.done, row.shortfall) == (1, 2)
        # Mar 15 of 31 days: ceil(3 * 15 / 31) = 2 expected by today, 1 done: behind pace
        assert row.expected == 2 and row.behind_pace
        # the yearly report does not assess monthly rules
        assert ("月度甲", "每月3次") not in progress(quotas.period_of(2026))


def test_year_boundary_and_distinct_households(world):
    """Households are grid + normalized address, counted once per period."""
    p = make_person(world["a1"], name="年度乙", kind=world["yearly"])
    make_visit(world["a1"], [p], visit_date=date(2025, 12, 31), address="幸福路3号")
    make_visit(world["a1"], [p], visit_date=date(2026, 1, 1), address="幸福路 3 号")  # the same household
    make_visit(world["a1"], [p], visit_date=date(2026, 2, 1), address="幸福路３号")  # and again
    make_visit(world["a1"], [p], visit_date=date(2026, 2, 2), address="幸福路5号")
    make_visit(world["a2"], [p], visit_date=date(2026, 2, 3), address="幸福路3号")  # same words, other grid
    make_visit(world["a1"], [p], visit_date=date(2026, 2, 4), visited_name="无地址户")  # identified by name
    make_visit(world["a1"], [p], visit_date=date(2026, 2, 5), visited_name="无地址 户")
    with frozen(TODAY):
        assert progress(quotas.period_of(2025))[("年度乙", "每年5户")] == (1, 5, 4)
        assert progress(quotas.period_of(2026))[("年度乙", "每年5户")] == (4, 5, 1)


def test_a_visit_counts_once_for_each_visitor(world):
    a = make_person(world["a1"], name="同行甲", kind=world["monthly"])
    b = make_person(world["a1"], name="同行乙", kind=world["monthly"])
    make_visit(world["a1"], [a, b], visit_date=date(2026, 2, 10))
    make_visit(world["a1"], [a], visit_date=date(2026, 2, 11))
    with frozen(TODAY):
        got = progress(quotas.period_of(2026, 2))
    assert got[("同行甲", "每月3次")] == (2, 3, 1) and got[("同行乙", "每月3次")] == (1, 3, 2)


def test_a_kind_change_mid_period_applies_the_kind_held_at_period_end(world):
    """Monthly cadre in January, yearly cadre from Feb 15: January is assessed monthly; February and the
    year under the yearly rule, counting the January visits too."""
    p = make_person(world["a1"], name="调动丙", kind=world["monthly"])
    make_visit(world["a1"], [p], visit_date=date(2026, 1, 10), address="一号院")
    make_visit(world["a1"], [p], visit_date=date(2026, 2, 20), address="二号院")
    with frozen("2026-02-15 09:00"):
        person = db.session.get(Person, p.id)
        person.kind = world["yearly"]
        person.position = "驻村队员"
        db.session.commit()
    change = db.session.scalar(select(PersonKindChange).where(PersonKindChange.person_id == p.id))
    assert (change.changed_on, change.old_kind_id, change.new_kind_id) == (
        date(2026, 2, 15), world["monthly"].id, world["yearly"].id,
    )  # fmt: skip
    assert change.new_position == "驻村队员" and change.old_position is None
    with frozen(TODAY):
        assert progress(quotas.period_of(2026, 1)) == {("调动丙", "每月3次"): (1, 3, 2)}
        assert ("调动丙", "每月3次") not in progress(quotas.period_of(2026, 2))
        assert progress(quotas.period_of(2026))[("调动丙", "每年5户")] == (2, 5, 3)
        # a past year is assessed on the kind held then
        assert ("调动丙", "每年5户") not in progress(quotas.period_of(2025))


def test_changing_only_other_fields_records_no_kind_change(world):
    p = make_person(world["a1"], name="不变丁", kind=world["monthly"])
    p.phone = "13900000000"
    p.kind = world["monthly"]
    db.session.commit()
    assert db.session.scalar(select(PersonKindChange).where(PersonKindChange.person_id == p.id)) is None


def test_inactive_people_are_not_assessed(world):
    p = make_person(world["a1"], name="离岗戊", kind=world["monthly"], active=False)
    make_visit(world["a1"], [p], visit_date=date(2026, 2, 1))
    with frozen(TODAY):
        assert ("离岗戊", "每月3次") not in progress(quotas.period_of(2026, 2))


def test_position_words_select_people_whatever_their_kind(world):
    r = rule("书记镇长", words="书记、镇长", minimum=2)
    make_person(world["ta"], name="书记己", position="党委书记")
    make_person(world["ta"], name="镇长庚", position="副镇长", kind=world["yearly"])
    make_person(world["ta"], name="干事辛", position="综治办干事")
    make_person(world["ta"], name="百分壬", position="100%书记")  # LIKE wildcards are literal
    with frozen(TODAY):
        names = {name for name, rule_name in progress(quotas.period_of(2026, 3), rule_id=r.id)}
    assert names == {"书记己", "镇长庚", "百分壬"}


def test_worst_first_and_grid_rollup(world):
    a = make_person(world["a1"], name="甲一", kind=world["monthly"])
    b = make_person(world["a1"], name="甲二", kind=world["monthly"])
    c = make_person(world["a2"], name="乙一", kind=world["monthly"])
    for day in (1, 2, 3):
        make_visit(world["a1"], [a], visit_date=date(2026, 2, day))
    make_visit(world["a1"], [b], visit_date=date(2026, 2, 4))
    with frozen(TODAY):
        in_villages = Person.grid_id.in_([world["a1"].id, world["a2"].id])
        rows = quotas.quota_progress(db.session, quotas.period_of(2026, 2), in_villages)
        assert [(r.person.name, r.shortfall) for r in rows] == [("乙一", 3), ("甲二", 2), ("甲一", 0)]
        grids = quotas.quota_report(db.session, quotas.period_of(2026, 2), in_villages).grids
        assert [(g.grid.name, g.people, g.behind, g.done, g.target, g.shortfall) for g in grids] == [
            ("甲二村", 1, 1, 0, 3, 3),
            ("甲一村", 2, 1, 4, 6, 2),
        ]
        assert c.id and b.id


def test_periods_and_pace():
    assert quotas.period_of(2024, 2).end == date(2024, 2, 29)
    assert quotas.period_of(2026).days == 365
    with pytest.raises(DomainError):
        quotas.period_of(2026, 13)
    with pytest.raises(DomainError):
        quotas.period_of("abc")
    start, end = date(2026, 1, 1), date(2026, 12, 31)
    assert quotas.expected_by(40, start, end, date(2025, 12, 31)) == 0
    assert quotas.expected_by(40, start, end, date(2026, 7, 1)) == 20  # day 182: ceil(40*182/365)
    assert quotas.expected_by(40, start, end, date(2027, 1, 1)) == 40


# --- pages and API ----------------------------------------------------------


def test_progress_page_by_grid_and_person_with_visits_one_click_away(client, world):
    a = make_person(world["a1"], name="落后者", kind=world["monthly"])
    make_person(world["b1"], name="乙镇人", kind=world["monthly"])
    make_visit(world["a1"], [a], visit_date=date(2026, 3, 2), visited_name="三月一户")
    with frozen(TODAY):
        login(client, make_user("Leader", world["ta"]))
        body = client.get("/quotaruleview/progress/?year=2026&month=3&kind=month").get_data(as_text=True)
        assert "甲一村" in body and "乙一村" not in body and "2026-03" in body
        body = client.get(
            f"/quotaruleview/progress/?year=2026&month=3&kind=month&tab=people&grid={world['a1'].id}"
        ).get_data(as_text=True)
        assert "落后者" in body and "乙镇人" not in body and "落后于进度" in body
        link = (
            f"/visitview/list/?_flt_0_visitors={a.id}&amp;_flt_1_visit_date=2026-02-28&amp;_flt_2_visit_date=2026-04-01"
        )
        assert link in body
        visits = client.get(link.replace("&amp;", "&")).get_data(as_text=True)
        assert "三月一户" in visits
        assert client.get(f"/quotaruleview/progress/?grid={world['b1'].id}").status_code == 404
        yearly = client.get("/quotaruleview/progress/?year=2026&kind=year&tab=people").get_data(as_text=True)
        assert "落后者" not in yearly  # a monthly cadre has no yearly rule


def test_progress_api(client, world):
    a = make_person(world["a1"], name="接口人", kind=world["monthly"])
    make_visit(world["a1"], [a], visit_date=date(2026, 2, 5))
    make_person(world["b1"], name="乙镇人", kind=world["monthly"])
    with frozen(TODAY):
        headers = api_token(client, make_user("Clerk", world["ta"]))
        data = client.get("/api/v1/quotarule/progress?year=2026&month=2", headers=headers).json
        assert data["period"]["start"] == "2026-02-01" and data["period"]["end"] == "2026-02-28"
        row = next(p for p in data["people"] if p["name"] == "接口人")
        assert (row["done"], row["target"], row["shortfall"]) == (1, 3, 2)
        assert all(p["name"] != "乙镇人" for p in data["people"])
        bad = client.get("/api/v1/quotarule/progress?year=2026&month=13", headers=headers)
        assert bad.status_code == 422 and "请选择有效的年份和月份" in bad.json["message"]
        assert client.get("/api/v1/quotarule/progress?year=2026").json is not None
        # an id no database can hold is refused at the edge (found by make fuzz: it was a 500 on SQLite)
        huge = client.get("/api/v1/quotarule/progress?grid=-51183277818763253121024", headers=headers)
        assert huge.status_code == 400


def test_rules_are_edited_by_the_administrator_only(client, world):
    with frozen(TODAY):
        login(client, make_user("Clerk", world["ta"]))
        assert client.get("/quotaruleview/list/").status_code == 200
        client.post("/quotaruleview/add", data={"name": "录入员加的", "period": "month", "unit": "visits",
                                               "minimum": "1", "kind": str(world["monthly"].id), "sort_order": "0"})  # fmt: skip
        assert db.session.scalar(select(QuotaRule).where(QuotaRule.name == "录入员加的")) is None
        login(client, make_user("Admin"))
        body = client.post("/quotaruleview/add", data={"name": "无对象", "period": "month", "unit": "visits",
                                                      "minimum": "2", "sort_order": "0"}).get_data(as_text=True)  # fmt: skip
        assert "请指定人员类别或职务关键词" in body
        body = client.post("/quotaruleview/add", data={"name": "零次", "period": "month", "unit": "visits",
                                                      "minimum": "0", "kind": str(world["monthly"].id), "sort_order": "0"},
                           ).get_data(as_text=True)  # fmt: skip
        assert "最低数量至少为1" in body
        client.post("/quotaruleview/add", data={"name": "网格员每月", "period": "month", "unit": "households",
                                               "minimum": "4", "position_contains": "网格员，网格长",
                                               "active": "y", "sort_order": "9"})  # fmt: skip
        added = db.session.scalar(select(QuotaRule).where(QuotaRule.name == "网格员每月"))
        assert added.position_contains == "网格员、网格长" and added.unit == "households" and added.minimum == 4
        assert db.session.scalar(select(QuotaRule).where(QuotaRule.name.in_(["无对象", "零次"]))) is None


def test_worst_first_means_lowest_completion_across_rules(world):
    """0 of 3 is worse than 5 of 10, although its shortfall is smaller."""
    big = rule("每月10次", kind=world["yearly"], minimum=10)
    a = make_person(world["a1"], name="零次", kind=world["monthly"])
    b = make_person(world["a1"], name="五次", kind=world["yearly"])
    for day in range(1, 6):
        make_visit(world["a1"], [b], visit_date=date(2026, 2, day))
    with frozen(TODAY):
        rows = quotas.quota_progress(db.session, quotas.period_of(2026, 2), Person.id.in_([a.id, b.id]))
    assert [(r.person.name, r.rule.name, r.shortfall) for r in rows] == [
        ("零次", "每月3次", 3),
        ("五次", "每月10次", 5),
    ]
    assert big.id


def test_a_long_report_is_paged_worst_first(app, client, world):
    """Only a page of the worst rows is loaded and shown; the pages together hold everyone once."""
    people = [make_person(world["a1"], name=f"分页{i:02d}", kind=world["monthly"]) for i in range(7)]
    for i, person in enumerate(people):  # 分页00 made no visit ... 分页06 made 3 (met)
        for day in range(min(i, 3)):
            make_visit(world["a1"], [person], visit_date=date(2026, 3, 1 + day))
    old = app.config["QUOTA_REPORT_MAX_ROWS"]
    app.config["QUOTA_REPORT_MAX_ROWS"] = 3
    try:
        with frozen(TODAY):
            login(client, make_user("Leader", world["ta"]))
            url = "/quotaruleview/progress/?year=2026&month=3&kind=month&tab=people"
            pages = [client.get(f"{url}&page={n}").get_data(as_text=True) for n in (1, 2, 3)]
            shown = [[p.name for p in people if p.name in body] for body in pages]
            assert shown == [["分页00", "分页01", "分页02"], ["分页03", "分页04", "分页05"], ["分页06"]]
            assert "第 1 / 3 页" in pages[0] and "page=2" in pages[0] and "下一页" in pages[0]
            assert "上一页" in pages[2] and "下一页" not in pages[2]
            # the API pages the same way, with the totals before the limit
            headers = api_token(client, make_user("Clerk", world["ta"]))
            data = client.get("/api/v1/quotarule/progress?year=2026&month=3&limit=2", headers=headers).json
            assert [p["name"] for p in data["people"]] == ["分页00", "分页01"]
            assert data["total_people_rows"] == 7 and data["summary"]["people"] == 7
            assert data["summary"]["behind"] == 3 and len(data["grids"]) == 1
            too_many = client.get("/api/v1/quotarule/progress?year=2026&month=3&limit=999", headers=headers).json
            assert len(too_many["people"]) == 3  # never more than a page
    finally:
        app.config["QUOTA_REPORT_MAX_ROWS"] = old


def test_the_ranking_is_kept_within_a_request_and_forgotten_on_a_visit(app, world):
    """Nothing is kept between requests any more (app.core.cache): within one request the
    ranking is done once, and a write in that request forgets it."""
    a = make_person(world["a1"], name="翻页甲", kind=world["monthly"])
    clause = Person.grid_id == world["a1"].id

    with frozen(TODAY), app.test_request_context():
        g._minqing_scope = (None, EVERYTHING)  # the request's user may write in a1
        period = quotas.period_of(2026, 3)
        first = quotas.quota_report(db.session, period, clause, limit=10, cache_key=("test",))
        with statements_seen() as seen:
            again = quotas.quota_report(db.session, period, clause, limit=10, offset=0, cache_key=("test",))
        assert not [s for s in seen if "visit_tally" in s or "quota_rule" in s]  # ranked once, not again
        assert [r.done for r in first.rows] == [r.done for r in again.rows] == [0]
        make_visit(world["a1"], [a], visit_date=date(2026, 3, 3))  # a write forgets the ranking
        after = quotas.quota_report(db.session, period, clause, limit=10, cache_key=("test",))
        assert [r.done for r in after.rows] == [1]


def test_own_progress_judges_one_person_as_the_report_does(world):
    """The home page's check in Python gives what the SQL report gives, kind changes and words included."""
    rule("书记走访", words="书记、镇长", minimum=2)
    mover = make_person(world["a1"], name="调动者", kind=world["monthly"], position="副镇长")
    people = [
        mover,
        make_person(world["a1"], name="年度者", kind=world["yearly"]),
        make_person(world["a1"], name="书记者", position="党委书记"),
        make_person(world["a1"], name="无关者", position="干事"),
        make_person(world["a1"], name="离岗者", kind=world["monthly"], active=False),
    ]
    for day in (5, 6, 20):
        make_visit(world["a1"], people[:3], visit_date=date(2026, 1, day), address=f"{day}号")
    with frozen("2026-02-10 09:00"):
        person = db.session.get(Person, mover.id)
        person.kind, person.position = world["yearly"], "驻村队员"
        db.session.commit()
    with frozen(TODAY):
        for period in (quotas.period_of(2026, 1), quotas.period_of(2026, 2), quotas.period_of(2026)):
            for p in people:
                sql = quotas.quota_progress(db.session, period, Person.id == p.id)
                own = quotas.own_progress(db.session, period, db.session.get(Person, p.id))
                as_rows = [(r.rule.id, r.done, r.target, r.expected) for r in sorted(sql, key=lambda r: r.rule.id)]
                assert as_rows == [
                    (r.rule.id, r.done, r.target, r.expected) for r in sorted(own, key=lambda r: r.rule.id)
                ]
        january = quotas.own_progress(db.session, quotas.period_of(2026, 1), db.session.get(Person, mover.id))
        assert {r.rule.name: r.done for r in january} == {"每月3次": 3, "书记走访": 3}  # the kind and post held then
