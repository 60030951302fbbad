"""Visit quota cells (app/services/quotas/cells.py): after every kind of write they equal a count
(`cells.differences`) and the live `quota_rollup` of every grid's subtree, for every period kind;
the month turns without a job; a leader's figures keep to their subtree; the dashboard and the
accountability table read them."""

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from app.core.clock import frozen, now, today
from app.extensions import db
from app.models.grids import Grid
from app.models.personnel import Person
from app.models.visits import PERIODS, PersonKindChange, QuotaCell, QuotaRule, Visit
from app.services import dashboard as dash
from app.services import quotas, stats
from app.services import scope as scope_service
from app.services.quotas import cells
from tests.conftest import login
from tests.factories import make_grid, make_kind, make_person, make_user, make_visit
from tests.test_quotas import rule

TODAY = "2026-03-15 10:00"
GRIDS = ("county", "ta", "tb", "a1", "a2", "a1a", "b1", "b1a")


def _figures(rollups):
    return sorted((r.rule.id, r.period.kind, r.period.start, r.people, r.met, r.done, r.target) for r in rollups)


def _by_child(grouped):
    return {key: _figures(rollups) for key, rollups in grouped.items()}


def agree(t, on=None):
    """The cells equal a count, and for every grid and period kind the figures summed from them
    equal the live count (whole subtree, and split by child for every grid)."""
    on = on or today()
    assert cells.differences(db.session) == []
    db.session.expire_all()  # a grid move rewrote paths below the ORM
    for name in GRIDS:
        grid = db.session.get(Grid, t[name].id)
        clause = stats.in_subtrees(Person.grid_id, (grid.path,))
        for kind in PERIODS:
            period = quotas.current_period(kind, on)
            kept = quotas.kept_rollup(db.session, period, [grid.id], on)
            assert kept is not None
            assert _figures(kept) == _figures(quotas.quota_rollup(db.session, period, clause, on=on)), (name, kind)
            split = quotas.kept_rollup(db.session, period, [grid.id], on, by_child=True)
            live = quotas.rollup_by_child(db.session, grid, period, clause, on)
            assert _by_child(split) == _by_child(live), (name, kind)


def _totals(t, kind="month", name="county"):
    period = quotas.current_period(kind)
    return {r.rule.id: (r.people, r.met, r.done) for r in quotas.kept_rollup(db.session, period, [t[name].id])}


@pytest.fixture
def qw(world):
    t = world
    with frozen(TODAY):
        t["monthly"], t["yearly"] = make_kind("月度类"), make_kind("年度类")
        t["r_month"] = rule("每月3次", kind=t["monthly"], minimum=3)
        t["r_year"] = rule("每年5户", kind=t["yearly"], period="year", unit="households", minimum=5)
        t["r_words"] = rule("书记主任每月2次", words="书记、主任", minimum=2)
        t["r_week"] = rule("每周1次", kind=t["monthly"], period="week", minimum=1)
        t["r_avg"] = rule("季度平均每月1次", kind=t["monthly"], period="quarter", minimum=1)
        t["r_avg"].average_per_month = True
        db.session.commit()
        t["m1"] = make_person(t["a1"], name="月一", kind=t["monthly"], position="村书记")
        t["m2"] = make_person(t["a1a"], name="月二", kind=t["monthly"])
        t["m3"] = make_person(t["b1"], name="月三", kind=t["monthly"])
        t["y1"] = make_person(t["b1a"], name="年一", kind=t["yearly"])
        t["y2"] = make_person(t["ta"], name="年二", kind=t["yearly"], position="办公室主任")
        for day, grid, people, address in (
            (date(2026, 3, 2), "a1", ("m1",), "幸福路1号"),
            (date(2026, 3, 3), "a1", ("m1", "y2"), "幸福路2号"),
            (date(2026, 3, 9), "a1a", ("m1", "m2"), "幸福路3号"),
            (date(2026, 3, 14), "b1", ("m3", "y1"), "和平路1号"),
            (date(2026, 2, 20), "b1a", ("y1",), "和平路2号"),
            (date(2026, 1, 5), "ta", ("y2",), "解放路9号"),
        ):
            make_visit(t[grid], [t[p] for p in people], visit_date=day, address=address)
    return t


def test_cells_are_filled_and_equal_the_live_figures(qw):
    with frozen(TODAY):
        agree(qw)
        month = _totals(qw)
        # m1: 3 visits (met), m2: 1, m3: 1 of 3; words: m1 (村书记) 3 → 2, y2 (主任) 1
        assert month[qw["r_month"].id] == (3, 1, 5)
        assert month[qw["r_words"].id] == (2, 1, 3)
        assert _totals(qw, "year")[qw["r_year"].id] == (2, 0, 4)  # y1: 2 households, y2: 2
        assert _totals(qw, "quarter")[qw["r_avg"].id] == (3, 1, 5)  # target 3 a person: m1 3, m2 1, m3 1
        assert _totals(qw, "month", "tb")[qw["r_month"].id] == (1, 0, 1)


def test_visit_added_edited_deleted_and_restored(qw):
    t = qw
    with frozen(TODAY):
        visit = make_visit(t["a2"], [t["m2"]], visit_date=date(2026, 3, 10), address="新村1号")
        agree(t)
        visit.visit_date = date(2026, 2, 10)  # to last month
        db.session.commit()
        agree(t)
        visit.visit_date = date(2026, 3, 11)
        visit.visitors = [t["m3"], t["y1"]]  # other visitors
        db.session.commit()
        agree(t)
        visit.address = "幸福路1号"  # another household (same address as before in another grid: a new one)
        visit.grid = t["a1"]
        db.session.commit()
        agree(t)
        visit.deleted_at = now()
        db.session.commit()
        agree(t)
        assert _totals(t)[t["r_month"].id] == (3, 1, 5)
        visit.deleted_at = None
        db.session.commit()
        agree(t)
        assert _totals(t)[t["r_month"].id] == (3, 1, 6)


def test_person_kind_position_grid_active_and_new_or_removed(qw):
    t = qw
    with frozen(TODAY):
        m2 = t["m2"]
        m2.kind = t["yearly"]
        db.session.commit()
        agree(t)
        m2.position = "党支部书记"
        db.session.commit()
        agree(t)
        m2.grid = t["b1a"]
        db.session.commit()
        agree(t)
        m2.active = False
        db.session.commit()
        agree(t)
        m2.active = True
        m2.kind = t["monthly"]
        db.session.commit()
        agree(t)
        newcomer = make_person(t["a2"], name="新人", kind=t["monthly"], position="主任")
        agree(t)
        make_visit(t["a2"], [newcomer], visit_date=date(2026, 3, 12))
        agree(t)
        stranger = make_person(t["a2"], name="待删", kind=t["monthly"])
        agree(t)
        db.session.delete(stranger)
        db.session.commit()
        agree(t)


def test_rule_added_edited_and_removed(qw):
    t = qw
    with frozen(TODAY):
        extra = rule("每月1户", kind=t["monthly"], unit="households", minimum=1)
        agree(t)
        changes = (
            ("minimum", 2), ("kind", t["yearly"]), ("position_contains", "书记"), ("period", "year"),
            ("unit", "visits"), ("period", "quarter"), ("average_per_month", True), ("active", False), ("active", True),
        )  # fmt: skip
        for name, value in changes:
            setattr(extra, name, value)
            db.session.commit()
            agree(t)
        t["r_month"].minimum = 1
        db.session.commit()
        agree(t)
        db.session.delete(extra)
        db.session.commit()
        agree(t)
        assert not db.session.scalar(select(QuotaCell.id).where(QuotaCell.rule_id == extra.id))


def test_grid_moved_with_its_people(qw):
    t = qw
    with frozen(TODAY):
        before = _totals(t, name="ta")[t["r_month"].id]
        t["a1"].parent = t["tb"]
        db.session.commit()
        agree(t)
        assert before == (2, 1, 4) and _totals(t, name="ta")[t["r_month"].id] == (0, 0, 0)
        assert _totals(t, name="tb")[t["r_month"].id] == (3, 1, 5)
        newer = make_grid("新区", t["county"], code="NEW")
        t["b1"].parent = newer
        db.session.commit()
        agree(t)


def test_a_change_of_kind_after_the_day_is_counted_live(qw):
    t = qw
    with frozen(TODAY):
        t["m1"].kind = t["yearly"]  # today: the change counts from today on, the cells still answer
        db.session.commit()
        agree(t)
        db.session.add(
            PersonKindChange(person_id=t["m3"].id, changed_on=today() + timedelta(days=3), old_kind_id=t["monthly"].id,
                             new_kind_id=t["monthly"].id, old_position="主任", new_position=None, created_at=now())
        )  # fmt: skip
        db.session.commit()
        month = quotas.current_period("month")
        assert quotas.kept_rollup(db.session, month, [t["county"].id]) is None
        area = dash.choose_area(db.session, scope_service.EVERYTHING, t["county"].id)
        shown = dash.visit_quotas(db.session, area)
        live = quotas.quota_rollup(db.session, month, stats.in_subtrees(Person.grid_id, (t["county"].path,)))
        assert _figures(shown["month"]) == _figures(live)
        words = [r for r in shown["month"] if r.rule.id == t["r_words"].id][0]
        assert words.people == 3  # m1 (村书记), y2 (办公室主任), and m3 as 主任 on the day
    with frozen("2026-03-20 10:00"):  # past the recorded change: the cells answer again
        assert quotas.kept_rollup(db.session, quotas.current_period("month"), [t["county"].id]) is not None


def test_the_month_turns_without_a_job(qw):
    t = qw
    with frozen(TODAY):
        march = _totals(t)
    with frozen("2026-04-01 08:00"):
        agree(t)
        april = _totals(t)
        assert march[t["r_month"].id] == (3, 1, 5) and april[t["r_month"].id] == (3, 0, 0)
        assert _totals(t, "year")[t["r_year"].id] == (2, 0, 4)  # the year goes on
        assert _totals(t, "quarter")[t["r_avg"].id] == (3, 0, 0)  # a new quarter
        make_visit(t["a1"], [t["m1"]], visit_date=today(), address="幸福路1号")
        agree(t)
        assert _totals(t)[t["r_month"].id] == (3, 0, 1)
    with frozen("2026-04-20 08:00"):  # a later week of the month, and last month's visit edited
        old = db.session.scalar(select(Visit).where(Visit.visit_date == date(2026, 3, 2)))
        old.visit_date = date(2026, 4, 2)
        db.session.commit()
        agree(t)
        assert _totals(t)[t["r_month"].id] == (3, 0, 2)


def test_a_leader_sees_only_their_subtree(client, qw):
    t = qw
    leader = make_user("Leader", t["ta"])
    with frozen(TODAY):
        scope = scope_service.Scope(paths=(t["ta"].path,))
        shown = dash.visit_quotas(db.session, dash.choose_area(db.session, scope))
        mine = [r for r in shown["month"] if r.rule.id == t["r_month"].id][0]
        assert (mine.people, mine.met, mine.done) == (2, 1, 4)  # m1 and m2; m3 of township B left out
        live = quotas.quota_rollup(
            db.session, quotas.current_period("month"), stats.in_subtrees(Person.grid_id, (t["ta"].path,))
        )
        assert _figures(shown["month"]) == _figures(live)
        login(client, leader)
        html = client.get("/dashboard/").get_data(as_text=True)
    row = html.split("每月3次</a>", 1)[1].split("</tr>", 1)[0]
    assert "<td>2</td><td>1</td>" in row and "(4 / 6)" in row


def test_dashboard_and_accountability_read_the_cells(qw, monkeypatch):
    t = qw
    with frozen(TODAY):
        area = dash.choose_area(db.session, scope_service.EVERYTHING, t["ta"].id)
        live_quotas = dash.visit_quotas(db.session, area)
        rows, _people, _at = dash.accountability(db.session, area, dash.preset_period("month"))

        def refuse(*args, **kwargs):
            raise AssertionError("counted live")

        monkeypatch.setattr(quotas, "quota_rollup", refuse)
        monkeypatch.setattr(quotas, "rollup_by_child", refuse)
        kept = dash.visit_quotas(db.session, area)
        assert _figures(kept["month"]) == _figures(live_quotas["month"])
        assert _figures(kept["year"]) == _figures(live_quotas["year"])
        kept_rows, _people, _at = dash.accountability(db.session, area, dash.preset_period("month"))
        assert [(r.label, _figures(r.quota)) for r in kept_rows] == [(r.label, _figures(r.quota)) for r in rows]
        merged = {r.rule.id: (r.people, r.done) for r in rows[0].quota if r.period.kind == "month"}
        assert merged[t["r_month"].id] == (2, 4)


def test_rollups_check_names_a_wrong_cell_and_rebuild_mends_it(app, qw):
    t = qw
    runner = app.test_cli_runner()
    with frozen(TODAY):
        cell = db.session.scalar(select(QuotaCell).where(QuotaCell.anchor_grid_id == t["county"].id).limit(1))
        cell.people += 1
        db.session.commit()
        (difference,) = cells.differences(db.session)
        assert difference[0]["anchor_grid_id"] == t["county"].id and difference[2] == difference[1] + 1
        result = runner.invoke(args=["minqing", "rollups", "check"])
        assert result.exit_code == 1 and "quota_cell anchor_grid_id=" in result.output
        assert cells.rebuild(db.session) > 0
        db.session.commit()
        assert cells.differences(db.session) == []
        assert db.session.scalar(select(QuotaRule.id).limit(1))


def test_the_responsible_peoples_own_figures_equal_the_live_count(qw):
    t = qw
    ids = [t[name].id for name in ("m1", "m2", "m3", "y1", "y2", "pa", "pb")]
    with frozen(TODAY):
        t["y1"].active = False
        db.session.add(
            PersonKindChange(person_id=t["m3"].id, changed_on=date(2026, 3, 20), old_kind_id=t["yearly"].id,
                             new_kind_id=t["monthly"].id, old_position="主任", new_position=None, created_at=now())
        )  # fmt: skip
        db.session.commit()
        for on in (today(), date(2026, 3, 25), date(2026, 2, 10)):
            periods = [quotas.current_period(kind, on) for kind in PERIODS]
            mine = quotas.people_rollups(db.session, periods, ids, on)
            for period in periods:
                live = quotas.quota_rollup(
                    db.session, period, Person.id.in_(ids), on=on, group=Person.id, person_ids=ids
                )
                assert _by_child(mine[period.kind]) == _by_child(live), (on, period.kind)
