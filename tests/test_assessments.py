"""百分制考核 (issue 16): the scoring maths on hand-computed cases, 计算 into stored rows, scope,
the lock after 发布, the Excel export and the default scheme of seed 003."""

import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from app.core import clock
from app.core.errors import DomainError
from app.extensions import db
from app.models.assessments import AssessmentInput, AssessmentItem, AssessmentRound, AssessmentScheme, AssessmentScore
from app.models.audit import AuditLog
from app.services import assessments as svc
from app.services.assessments import scoring
from app.services.assessments.scheme import DEFAULT_SCHEME
from tests.conftest import api_token, login
from tests.factories import level, make_appeal, make_person, make_user, tree

# --- the arithmetic -------------------------------------------------------------------------


def test_votes_30_15_5_score_4_50_of_5():
    assert scoring.vote_score(30, 15, 5) == pytest.approx(4.5)
    score, points = scoring.vote_points(5, 30, 15, 5)
    assert round(points, 2) == 4.5
    score, points = scoring.vote_points(20, 30, 15, 5)  # an item worth 20: that share of 20
    assert round(points, 2) == 18.0
    assert scoring.vote_points(5, 0, 0, 0) == (None, None)  # nobody voted: no data


def test_rate_rule_full_points_above_the_threshold_linear_below():
    assert scoring.rate_points(20, 0.95, full_at=90, zero_at=50) == 20
    assert scoring.rate_points(20, 0.70, full_at=90, zero_at=50) == pytest.approx(10)
    assert scoring.rate_points(20, 0.40, full_at=90, zero_at=50) == 0
    assert scoring.rate_points(20, 0.5) == pytest.approx(10)  # 100/0: points × rate
    assert scoring.rate_points(20, None) is None


def test_team_member_and_unit_scores_and_ranks():
    assert scoring.member_score([18, 30], [18]) == 66
    assert scoring.team_score([18, 30], [[18], [15]]) == pytest.approx(64.5)
    assert scoring.team_score([16.8, None], [[10]]) == pytest.approx(26.8)
    assert scoring.unit_score([64.5, 26.8]) == pytest.approx(45.65)
    assert scoring.ranks([50, 70, 50, None, 10]) == [2, 1, 2, None, 4]


# --- a quarter computed -----------------------------------------------------------------------


def _scheme():
    scheme = AssessmentScheme(name="测试方案")
    db.session.add(scheme)
    items = {
        "votes": AssessmentItem(scheme=scheme, name="群众评价", points=Decimal(20), kind="votes", subject="team"),
        "manual": AssessmentItem(scheme=scheme, name="宣传报道", points=Decimal(20), kind="manual", subject="member"),
        "handling": AssessmentItem(
            scheme=scheme, name="处置率", points=Decimal(50), kind="auto", subject="team", source="handling_rate"
        ),
        "rota": AssessmentItem(
            scheme=scheme, name="值班出勤", points=Decimal(10), kind="auto", subject="member", source="rota_attendance"
        ),
    }
    for order, item in enumerate(items.values()):
        item.sort_order = order
        svc.validate_item(db.session, item)
        db.session.add(item)
    db.session.commit()
    return scheme, items


@pytest.fixture
def quarter(app):
    t = tree()
    scheme, items = _scheme()
    # 甲一村: two appeals in Q4 2026, one answered at this level, one still open: 处置率 50 %
    make_appeal(t["a1"], status="answered", at="2026-11-03 09:00")
    make_appeal(t["a1"], status="registered", at="2026-11-04 09:00")
    make_appeal(t["a1"], status="answered", at="2026-08-04 09:00")  # Q3: not counted
    p1 = make_person(t["a1"], name="队员甲")
    p2 = make_person(t["a1a"], name="队员乙")  # a group below the village: a member of its team
    p3 = make_person(t["a2"], name="队员丙")
    rnd = AssessmentRound(scheme=scheme, grid=t["ta"], team_level=level(2), year=2026, period="q4")
    db.session.add(rnd)
    db.session.commit()
    entries = [
        AssessmentInput(assessment=rnd, item=items["votes"], grid=t["a1"], votes_satisfied=30, votes_basic=15,
                        votes_unsatisfied=5),
        AssessmentInput(assessment=rnd, item=items["votes"], grid=t["a2"], votes_satisfied=20, votes_basic=20,
                        votes_unsatisfied=10),
        AssessmentInput(assessment=rnd, item=items["manual"], grid=t["a1"], person=p1, points=Decimal(18), reason="简报3期"),
        AssessmentInput(assessment=rnd, item=items["manual"], grid=t["a1"], person=p2, points=Decimal(15), reason="简报2期"),
        AssessmentInput(assessment=rnd, item=items["manual"], grid=t["a2"], person=p3, points=Decimal(10), reason="简报1期"),
    ]  # fmt: skip
    for entry in entries:
        svc.validate_input(db.session, entry)
        db.session.add(entry)
    db.session.commit()
    return {**t, "rnd": rnd, "items": items, "p1": p1, "p2": p2, "p3": p3, "scheme": scheme}


def _scores(rnd, subject):
    rows = db.session.scalars(
        select(AssessmentScore).where(AssessmentScore.round_id == rnd.id, AssessmentScore.subject == subject)
    ).all()
    return {r.name: (r.score, r.rank) for r in rows}


def test_a_quarter_for_two_teams_scores_to_two_decimals(quarter):
    rnd = quarter["rnd"]
    with clock.frozen("2026-12-31 18:00"):
        counts = svc.compute_round(db.session, rnd)
    db.session.commit()
    assert counts == {"people": 3, "teams": 2, "units": 1}
    # 甲一村: votes 18.00 + 处置率 50 % of 50 = 25.00 + members' own average (18 + 15) / 2 = 16.50
    # 甲二村: votes (100 + 80 + 30) / 50 = 4.2 → 16.80, no appeals (暂无数据), member 10.00
    assert _scores(rnd, "team") == {"甲一村": (59.5, 1), "甲二村": (26.8, 2)}
    assert _scores(rnd, "person") == {"队员甲": (61.0, 1), "队员乙": (58.0, 2), "队员丙": (26.8, 3)}
    assert _scores(rnd, "unit") == {"甲镇": (43.15, 1)}  # (59.5 + 26.8) / 2
    assert rnd.status == svc.COMPUTED
    a2 = db.session.scalar(select(AssessmentScore).where(AssessmentScore.name == "甲二村"))
    by_name = {e.name: e for e in a2.entries}
    assert by_name["处置率"].points is None and by_name["处置率"].detail == "暂无数据"
    assert by_name["值班出勤"].points is None  # no rotas yet: not scored
    assert by_name["群众评价"].points == 16.8 and by_name["群众评价"].figure == pytest.approx(4.2)


def test_results_are_a_snapshot_until_computed_again(quarter):
    rnd = quarter["rnd"]
    with clock.frozen("2026-12-31 18:00"):
        svc.compute_round(db.session, rnd)
        db.session.commit()
        make_appeal(quarter["a2"], status="answered", at="2026-12-01 09:00")
        assert _scores(rnd, "team")["甲二村"] == (26.8, 2)  # a new appeal changes no stored row
        svc.compute_round(db.session, rnd)
        db.session.commit()
    assert _scores(rnd, "team")["甲二村"] == (76.8, 1)


def test_a_scheme_not_totalling_100_is_refused_at_compute(quarter):
    quarter["items"]["votes"].points = Decimal(25)
    db.session.commit()
    with pytest.raises(DomainError) as caught:
        svc.compute_round(db.session, quarter["rnd"])
    assert "105" in str(caught.value)


def test_entries_are_checked_all_at_once(quarter):
    entry = AssessmentInput(
        assessment=quarter["rnd"], item=quarter["items"]["manual"], grid=quarter["b1"], points=Decimal(30)
    )
    with pytest.raises(Exception) as caught:
        svc.validate_input(db.session, entry)
    fields = {e.field for e in caught.value.errors}
    assert {"grid", "person", "points", "reason"} <= fields


def test_a_review_meeting_needs_the_minimum_of_voters(quarter, app):
    entry = AssessmentInput(
        assessment=quarter["rnd"], item=quarter["items"]["votes"], grid=quarter["a1"], votes_satisfied=10,
        votes_basic=5, votes_unsatisfied=0,
    )  # fmt: skip
    with pytest.raises(Exception) as caught:
        svc.validate_input(db.session, entry)
    assert caught.value.field == "votes_satisfied"
    app.config["ASSESSMENT_MIN_VOTERS"] = 0
    try:
        svc.validate_input(db.session, entry)
    finally:
        app.config["ASSESSMENT_MIN_VOTERS"] = 50


# --- pages: scope, the lock, the export --------------------------------------------------------


def test_a_leader_computes_publishes_and_the_round_is_locked(quarter, client):
    rnd = quarter["rnd"]
    leader = make_user("Leader", quarter["ta"])
    login(client, leader)
    with clock.frozen("2026-12-31 18:00"):
        response = client.post(f"/assessmentroundview/action/compute/{rnd.id}")
    assert response.status_code == 302
    page = client.get(f"/assessmentroundview/show/{rnd.id}?subject=person").get_data(as_text=True)
    assert "队员甲" in page and "61.00" in page
    score = db.session.scalar(select(AssessmentScore).where(AssessmentScore.name == "队员甲"))
    breakdown = client.get(f"/assessmentroundview/breakdown/{score.id}").get_data(as_text=True)
    assert "简报3期" in breakdown and "18.00" in breakdown and "暂无数据" in breakdown
    assert client.post(f"/assessmentroundview/action/publish/{rnd.id}").status_code == 302
    db.session.refresh(rnd)
    assert rnd.status == svc.PUBLISHED and rnd.published_by_id == leader.id
    trail = db.session.scalars(
        select(AuditLog).where(AuditLog.table_name == "assessment_round", AuditLog.record_id == rnd.id)
    ).all()
    assert any((row.changes or {}).get("status") == ["computed", "published"] for row in trail)
    # after 发布: entries, the round and its results stay as they are
    entry = db.session.scalar(select(AssessmentInput).where(AssessmentInput.person_id == quarter["p1"].id))
    response = client.post(
        f"/assessmentinputview/edit/{entry.id}",
        data={"assessment": rnd.id, "item": entry.item_id, "grid": entry.grid_id, "person": entry.person_id,
              "points": "20", "reason": "改", "row_version": entry.version},
    )  # fmt: skip
    body = response.get_data(as_text=True)
    assert "已发布" in body and "不能再修改" in body
    db.session.refresh(entry)
    assert entry.points == Decimal(18)
    response = client.post(f"/assessmentroundview/action/compute/{rnd.id}", follow_redirects=True)
    assert "不能再修改" in response.get_data(as_text=True)
    assert client.post(f"/assessmentinputview/delete/{entry.id}").status_code in (302, 200)
    assert db.session.get(AssessmentInput, entry.id) is not None
    assert _scores(rnd, "person")["队员甲"] == (61.0, 1)
    with pytest.raises(svc.Locked) as caught:
        svc.compute_round(db.session, rnd)
    assert caught.value.status == 409


def test_another_township_sees_nothing_of_the_round(quarter, client):
    rnd = quarter["rnd"]
    with clock.frozen("2026-12-31 18:00"):
        svc.compute_round(db.session, rnd)
    db.session.commit()
    score = db.session.scalar(select(AssessmentScore).where(AssessmentScore.name == "队员甲"))
    login(client, make_user("Leader", quarter["tb"]))
    assert client.get(f"/assessmentroundview/show/{rnd.id}").status_code == 404
    assert client.get(f"/assessmentroundview/breakdown/{score.id}").status_code == 404
    assert client.get(f"/assessmentroundview/results_xlsx/{rnd.id}").status_code == 404
    assert client.post(f"/assessmentroundview/action/publish/{rnd.id}").status_code == 404
    assert "甲镇" not in client.get("/assessmentroundview/list/").get_data(as_text=True)
    assert "简报" not in client.get("/assessmentinputview/list/").get_data(as_text=True)
    # a village's leader sees its own team's rows, not the other village's
    login(client, make_user("Leader", quarter["a1"]))
    assert client.get(f"/assessmentroundview/show/{rnd.id}").status_code == 404


def test_the_excel_export_holds_the_ranked_tables(quarter, client):
    rnd = quarter["rnd"]
    with clock.frozen("2026-12-31 18:00"):
        svc.compute_round(db.session, rnd)
    db.session.commit()
    login(client, make_user("Leader", quarter["ta"]))
    response = client.get(f"/assessmentroundview/results_xlsx/{rnd.id}")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.data))
    teams = [[c.value for c in row] for row in book["工作组"].iter_rows(min_row=2)]
    assert teams[0][:4] == ["排名", "网格名称", "单位", "得分"]
    assert teams[1][:4] == [1, "甲一村", "甲镇", "59.50"]
    assert teams[2][:4] == [2, "甲二村", "甲镇", "26.80"]
    assert "暂无数据" in teams[2]
    people = [[c.value for c in row] for row in book["人员"].iter_rows(min_row=3)]
    assert [r[1] for r in people] == ["队员甲", "队员乙", "队员丙"]


def test_only_admin_edits_the_scheme(quarter, client):
    login(client, make_user("Leader", quarter["ta"]))
    scheme = quarter["scheme"]
    assert client.get(f"/assessmentschemeview/show/{scheme.id}").status_code == 200
    client.post(f"/assessmentschemeview/edit/{scheme.id}", data={"name": "改名", "row_version": scheme.version})
    db.session.refresh(scheme)
    assert scheme.name == "测试方案"


def test_the_default_scheme_of_seed_003_totals_100(app):
    scheme = svc.seed_default_scheme(db.session)
    db.session.commit()
    assert scheme.name == DEFAULT_SCHEME
    total = db.session.scalar(select(func.sum(AssessmentItem.points)).where(AssessmentItem.scheme_id == scheme.id))
    assert total == 100
    names = [i.name for i in scheme.items]
    assert names[:4] == ["宣传报道情况", "出勤到位情况", "组织学习、巡查情况", "群众评价满意程度"]
    assert {i.source for i in scheme.items if i.kind == "auto"} == {
        "reporting_rate", "discovery_rate", "handling_rate", "satisfaction_rate"
    }  # fmt: skip
    assert svc.seed_default_scheme(db.session) is None  # once


def test_the_api_resource_assessment_is_scoped(quarter, client):
    rnd = quarter["rnd"]
    with clock.frozen("2026-12-31 18:00"):
        svc.compute_round(db.session, rnd)
    db.session.commit()
    headers = api_token(client, make_user("Leader", quarter["ta"]))
    listing = client.get("/api/v1/assessment/", headers=headers)
    assert listing.status_code == 200 and rnd.id in listing.json["ids"]
    results = client.get(f"/api/v1/assessment/{rnd.id}/results?subject=person", headers=headers)
    assert results.status_code == 200
    first = results.json["result"][0]
    assert (first["rank"], first["name"], first["score"]) == (1, "队员甲", 61.0)
    assert {"name": "值班出勤", "max_points": 10.0, "points": None, "detail": "暂无数据"} in first["items"]
    other = api_token(client, make_user("Leader", quarter["tb"]))
    assert rnd.id not in client.get("/api/v1/assessment/", headers=other).json["ids"]
    assert client.get(f"/api/v1/assessment/{rnd.id}", headers=other).status_code == 404
    assert client.get(f"/api/v1/assessment/{rnd.id}/results", headers=other).status_code == 404


def test_a_clerk_enters_the_votes_through_the_form(quarter, client):
    rnd, item = quarter["rnd"], quarter["items"]["votes"]
    db.session.execute(AssessmentInput.__table__.delete().where(AssessmentInput.item_id == item.id))
    db.session.commit()
    login(client, make_user("Clerk", quarter["ta"]))
    assert client.get("/assessmentinputview/add").status_code == 200
    data = {"assessment": rnd.id, "item": item.id, "grid": quarter["a1"].id, "votes_satisfied": "30",
            "votes_basic": "15", "votes_unsatisfied": "5"}  # fmt: skip
    assert client.post("/assessmentinputview/add", data=data).status_code == 302
    entry = db.session.scalar(select(AssessmentInput).where(AssessmentInput.item_id == item.id))
    assert (entry.grid_id, entry.votes_satisfied, entry.votes_basic, entry.votes_unsatisfied) == (
        quarter["a1"].id, 30, 15, 5
    )  # fmt: skip
    # too few voters, and a grid that is not a work team: both said at once, nothing saved
    data.update(grid=quarter["ta"].id, votes_satisfied="3")
    body = client.post("/assessmentinputview/add", data=data).get_data(as_text=True)
    assert "至少需要 50 人投票" in body and "请选择本次考核的工作组" in body
    data.update(grid=quarter["b1"].id, votes_satisfied="30")  # another township's team
    assert "不在您的管辖范围" in client.post("/assessmentinputview/add", data=data).get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(AssessmentInput).where(
        AssessmentInput.item_id == item.id)) == 1  # fmt: skip


def test_a_village_assesses_itself_as_one_team_and_one_unit(quarter, client):
    scheme = quarter["scheme"]
    rnd = AssessmentRound(scheme=scheme, grid=quarter["a1"], team_level=level(2), year=2026, period="q4")
    db.session.add(rnd)
    db.session.commit()
    login(client, make_user("Leader", quarter["a1"]))  # the village's own leader: its parent is out of scope
    with clock.frozen("2026-12-31 18:00"):
        assert client.post(f"/assessmentroundview/action/compute/{rnd.id}").status_code == 302
    db.session.refresh(rnd)
    assert rnd.status == svc.COMPUTED
    # only the handling rate has data in this round (its entries are the other round's): 50 % of 50
    assert _scores(rnd, "team") == {"甲一村": (25.0, 1)}
    assert _scores(rnd, "unit") == {"甲一村": (25.0, 1)}
