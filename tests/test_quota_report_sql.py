"""The quota report ranked, counted and grouped in SQL (`quotas.quota_report`) gives what the
Python ranking of every (person, rule) pair gives — kept here as the reference — page by page."""

from datetime import date

import pytest

from app.core.clock import frozen, today
from app.extensions import db
from app.models.personnel import Person
from app.models.visits import QuotaRule
from app.services import quotas
from app.services.quotas.progress import GridProgress, _assessed, _worst_first, changed_after
from app.services.quotas.report import GridName
from tests.conftest import statements_seen
from tests.factories import make_kind, make_person, make_visit

TODAY = "2026-03-15 10:00"


# --- the reference: every pair ranked in Python (the report before it was ranked in SQL) -------


def _grid_groups(items):
    """Roll (person, rule) results up to (the person's grid, rule), worst first."""
    groups = {}
    for item in items:
        key = (item.grid_id, item.rule.id)
        group = groups.get(key)
        if group is None:
            group = groups[key] = GridProgress(GridName(item.grid_id, item.grid_name), item.rule)
        group.people += 1
        group.done += item.done
        group.target += item.rule.minimum
        group.shortfall += item.shortfall
        group.behind += 1 if item.shortfall else 0
    return sorted(groups.values(), key=lambda g: (g.rate, -g.shortfall, g.grid.name, g.rule.sort_order, g.grid.id))


def _summary(items):
    people = {i.person_id for i in items}
    behind = {i.person_id for i in items if i.shortfall}
    return {"people": len(people), "behind": len(behind), "met": len(people - behind), "pairs": len(items)}


def reference(period, clause, grid_id=None, limit=None, offset=0):
    items = _assessed(db.session, period, clause, today(), grid_id)
    ranked = sorted(items, key=_worst_first)
    groups = _grid_groups(items)
    end = None if limit is None else offset + limit
    return (
        [(a.person_id, a.rule.id, a.done, a.shortfall) for a in ranked[offset:end]],
        len(ranked),
        [_group(g) for g in groups[offset:end]],
        len(groups),
        _summary(items),
    )


def _group(g):
    return (g.grid.id, g.grid.name, g.rule.id, g.people, g.behind, g.done, g.target, g.shortfall)


def in_sql(period, clause, grid_id=None, limit=None, offset=0):
    report = quotas.quota_report(db.session, period, clause, grid_id=grid_id, limit=limit, offset=offset)
    rows = [(r.person.id, r.rule.id, r.done, r.shortfall) for r in report.rows]
    return rows, report.total_rows, [_group(g) for g in report.grids], report.total_grids, report.summary


def rule(name, kind=None, words=None, period="month", unit="visits", minimum=3, sort_order=50, **kw):
    r = QuotaRule(name=name, kind=kind, position_contains=words, period=period, unit=unit, minimum=minimum,
                  sort_order=sort_order, active=True, **kw)  # fmt: skip
    db.session.add(r)
    db.session.commit()
    return r


@pytest.fixture
def chinese_collation(world):
    """On PostgreSQL, the names of people and grids in a Chinese collation (甲 before 乙, 'abe'
    before 'Zed'; the test database's own is C): the report must still order them by code point.
    Undone with the test's transaction."""
    conn = db.session.connection()
    if conn.dialect.name != "postgresql":
        return
    if not conn.exec_driver_sql("SELECT 1 FROM pg_collation WHERE collname = 'zh-Hans-x-icu'").first():
        pytest.skip("no ICU Chinese collation on this server")
    for table, length in (("person", 50), ("grid", 100)):
        conn.exec_driver_sql(f'ALTER TABLE {table} ALTER COLUMN name TYPE VARCHAR({length}) COLLATE "zh-Hans-x-icu"')
    assert conn.exec_driver_sql("SELECT '甲' < '乙' COLLATE \"zh-Hans-x-icu\"").scalar()


@pytest.fixture
def varied(world, chinese_collation):
    """Rules of visits and of households, by kind and by position words, two with the same sort
    order, a minimum of 6 beside one of 3 (1 of 3 and 2 of 6 tie in rate); people behind and
    met across several grids, names that tie, Latin beside Chinese (ordered by code point), one
    inactive, one whose kind changed after February."""
    t = world
    monthly, other = make_kind("报表月度类"), make_kind("报表另类")
    t["rules"] = [
        rule("月3次", kind=monthly, minimum=3),
        rule("月2户", kind=monthly, unit="households", minimum=2, sort_order=10),
        rule("书记月2次", words="书记、镇长", minimum=2),  # the same sort order as 月3次
        rule("另类月6次", kind=other, minimum=6, sort_order=20),
        rule("年4户", kind=other, period="year", unit="households", minimum=4),
        rule("季度每月1次", words="书记", period="quarter", minimum=1, average_per_month=True, sort_order=5),
    ]
    grids = [t["a1"], t["a2"], t["a1a"], t["b1"], t["b1a"]]
    names = ["张三", "张三", "李四", "Zoe", "abe", "王五", "赵六", "钱七", "孙八", "周九", "吴十", "郑一"]
    people = []
    for i, name in enumerate(names):
        kind = (monthly, other, None)[i % 3]
        position = ("党委书记", "副镇长", "干事", None)[i % 4]
        people.append(make_person(grids[i % len(grids)], name=name, kind=kind, position=position))
    make_person(t["a1"], name="离岗者", kind=monthly, active=False)
    for i, person in enumerate(people):
        for n in range(i % 7):  # 0 to 6 visits, to a household of their own now and then
            day = date(2026, 2 if n % 2 else 3, 1 + n)
            make_visit(person.grid, [person], visit_date=day, address=f"{person.id}号{n % 3}")
    # a person whose kind changes on 5 March: February is assessed under the kind held then
    mover = make_person(t["a2"], name="调动者", kind=monthly, position="镇长")
    make_visit(t["a2"], [mover], visit_date=date(2026, 2, 3), address="调动一号")
    with frozen("2026-03-05 09:00"):
        mover = db.session.get(Person, mover.id)
        mover.kind, mover.position = other, "干事"
        db.session.commit()
    t["people"], t["mover"] = people, mover
    return t


PERIODS = [quotas.period_of(2026, 2), quotas.period_of(2026, 3), quotas.period_of(2026),
           quotas.period_for("quarter", date(2026, 3, 1)), quotas.period_for("week", date(2026, 3, 2))]  # fmt: skip


@pytest.mark.parametrize("period", PERIODS, ids=lambda p: p.kind + str(p.start))
def test_the_sql_report_gives_the_python_ranking_page_by_page(varied, period):
    everyone = Person.id.is_not(None)
    township_a = Person.grid_id.in_([varied[k].id for k in ("ta", "a1", "a2", "a1a")])
    with frozen(TODAY):
        if period.kind == "month" and period.month == 2:
            assert changed_after(db.session, period.end)  # the changed-kind branch is taken
        for clause in (everyone, township_a):
            whole = reference(period, clause)
            assert in_sql(period, clause) == whole
            assert whole[1] > 0 or period.kind == "week"
            for limit in (1, 3, 5):
                for offset in range(0, whole[1] + limit + 1, limit):  # pages, the last one past the end
                    assert in_sql(period, clause, limit=limit, offset=offset) == reference(
                        period, clause, None, limit, offset
                    )
            for grid in ("a1", "a2", "b1a"):
                grid_id = varied[grid].id
                assert in_sql(period, clause, grid_id) == reference(period, clause, grid_id)
                assert in_sql(period, clause, grid_id, 2, 2) == reference(period, clause, grid_id, 2, 2)
            assert in_sql(period, clause, limit=4, offset=500) == reference(period, clause, None, 4, 500)


def test_the_kind_held_at_the_period_end_decides(varied):
    mover = varied["mover"].id
    with frozen(TODAY):
        february = {(r[0], r[1]) for r in in_sql(quotas.period_of(2026, 2), Person.id == mover)[0]}
        march = {(r[0], r[1]) for r in in_sql(quotas.period_of(2026, 3), Person.id == mover)[0]}
    rules = {r.name: r.id for r in varied["rules"]}
    assert february == {(mover, rules["月3次"]), (mover, rules["月2户"]), (mover, rules["书记月2次"])}
    assert march == {(mover, rules["另类月6次"])}


def test_ties_in_rate_and_names_compare_as_python_does(world, chinese_collation):
    """1 of 3 and 2 of 6 tie in rate (no integer division: 0 of 3 comes first), the larger
    shortfall first; equal names then by the rules' order; 'Z' before 'a' before Chinese."""
    kind = make_kind("并列类")
    three, six = rule("三次", kind=kind, minimum=3), rule("六次", kind=kind, minimum=6, sort_order=40)
    people = [make_person(world["a1"], name=name, kind=kind) for name in ("乙", "甲", "Zed", "abe")]
    visits = {"乙": 2, "甲": 2, "Zed": 1, "abe": 0}
    for person in people:
        for n in range(visits[person.name]):
            make_visit(world["a1"], [person], visit_date=date(2026, 3, 1 + n))
    period = quotas.period_of(2026, 3)
    clause = Person.id.in_([p.id for p in people])
    with frozen(TODAY):
        got = quotas.quota_report(db.session, period, clause)
        assert in_sql(period, clause) == reference(period, clause)
    assert [(r.person.name, r.rule.name) for r in got.rows] == [
        ("abe", "六次"), ("abe", "三次"), ("Zed", "六次"),  # 0 done (shortfall 6, then 3); 1 of 6
        ("乙", "六次"), ("甲", "六次"), ("Zed", "三次"),  # 2 of 6 (shortfall 4) before 1 of 3 (2): the same rate
        ("乙", "三次"), ("甲", "三次"),
    ]  # fmt: skip
    assert three.id and six.id


def test_a_page_costs_the_same_statements_however_many_people(varied):
    """Ranked in SQL: the statements of a page do not grow with the people, and only a page is read."""
    kind = make_kind("很多类")
    rule("很多月1次", kind=kind, minimum=1)
    period = quotas.period_of(2026, 3)
    counts = []
    for _ in range(2):
        for i in range(10):
            make_person(varied["a1"], name=f"多{i}", kind=kind)
        db.session.expire_all()
        with frozen(TODAY), statements_seen() as seen:
            report = quotas.quota_report(db.session, period, Person.id.is_not(None), limit=3)
        assert len(report.rows) == 3 and len(report.grids) == 3
        counts.append(len([s for s in seen if not s.startswith(("SAVEPOINT", "RELEASE"))]))
    assert counts[0] == counts[1] <= 7  # kind changes, rules, page, totals, grids, people, grids
