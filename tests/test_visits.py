"""Visit logs (民情家访): recording, bad input, scope, privacy per role, follow-ups, the appeal seam."""

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from app.core.clock import frozen
from app.core.errors import DomainError
from app.extensions import db
from app.models.lookups import VisitForm, VisitTarget
from app.models.personnel import Person
from app.models.visits import Visit, household_key
from app.services import visits as visit_service
from tests.conftest import api_token, login
from tests.factories import lookup, make_person, make_user, make_visit, tree

TODAY = "2026-03-15 10:00"


def person_of(user):
    return db.session.scalar(select(Person).where(Person.user_id == user.id))


def visit_count():
    return db.session.scalar(select(func.count()).select_from(Visit))


def form_data(t, people, **overrides):
    data = {
        "visit_date": "2026-03-10",
        "form": str(lookup(VisitForm, "登门上户").id),
        "visitors": [str(p.id) for p in people],
        "grid": str(t["a1a"].id),
        "target": str(lookup(VisitTarget, "困难群体").id),
        "visited_name": "王大娘",
        "visited_phone": "139 0000 1111",
        "address": "甲一村一组 12 号",
        "family_size": "4",
        "situation": "老伴去世，儿子在外务工",
        "problems": "低保申请没有回音",
        "actions": "帮助整理申请材料",
        "result": "已转民政所",
        "follow_up_date": "2026-04-10",
    }
    data.update(overrides)
    return data


@pytest.fixture
def world(world):
    """The shared world: its a1 person is the cadre, its b1 person the stranger; a second cadre in a1."""
    t = world
    t["cadre"] = t["pa"]
    t["cadre2"] = make_person(t["a1"], name="张干部")
    t["stranger"] = t["pb"]
    return t


# --- recording -------------------------------------------------------------


def test_clerk_records_a_visit_made_by_two_cadres(client, world):
    with frozen(TODAY):
        clerk = make_user("Clerk", world["ta"])
        login(client, clerk)
        response = client.post(
            "/visitview/add", data=form_data(world, [world["cadre"], world["cadre2"]]), follow_redirects=True
        )
        assert "记录已添加" in response.get_data(as_text=True)
        visit = db.session.scalar(select(Visit).where(Visit.visited_name == "王大娘"))
        assert {p.name for p in visit.visitors} == {"甲村干部", "张干部"}
        assert visit.visited_phone == "13900001111" and visit.family_size == 4
        assert visit.recorded_by_id == clerk.id
        assert visit.household_key == f"{world['a1a'].id}:@甲一村一组12号"
        body = client.get("/visitview/list/").get_data(as_text=True)
        assert "王大娘" in body and "张干部、甲村干部" in body and "低保申请没有回音" in body


def test_the_add_form_starts_with_today_and_the_user_as_visitor(client, world):
    with frozen(TODAY):
        worker = make_user("GridWorker", world["a1"])
        login(client, worker)
        body = client.get("/visitview/add").get_data(as_text=True)
        assert 'value="2026-03-15"' in body
        assert f'<option value="{person_of(worker).id}" selected>' in body
        assert "multiple" in body and "mq-picker" in body


@pytest.mark.parametrize(
    "overrides,field,message",
    [
        ({"visit_date": "2026-03-16"}, "visit_date", "走访日期2026-03-16晚于今天"),
        ({"family_size": "0"}, "family_size", "家庭人数至少为1"),
        ({"family_size": "-2"}, "family_size", "家庭人数至少为1"),
        ({"follow_up_date": "2026-03-10"}, "follow_up_date", "回访日期必须晚于走访日期"),
        ({"visitors": []}, "visitors", "请至少选择一名走访人"),
        ({"visited_name": " "}, "visited_name", "请填写户主或被访人姓名"),
        ({"visited_phone": "12345"}, "visited_phone", "不是有效的电话号码"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(client, world, overrides, field, message):
    with frozen(TODAY):
        login(client, make_user("Clerk", world["ta"]))
        data = form_data(world, [world["cadre"]], **overrides)
        body = client.post("/visitview/add", data=data).get_data(as_text=True)
        assert message in body, field
        assert visit_count() == 0


def test_a_field_left_empty_does_not_hide_the_visits_own_rules(client, world):
    """FAB's own field checks (a required name and date left empty) and the visit's rules (a
    family of 0) are shown together, on the add form and on the edit form; nothing is written."""
    with frozen(TODAY):
        login(client, make_user("Clerk", world["ta"]))
        data = form_data(world, [world["cadre"]], visited_name="", visit_date="", family_size="0")
        body = client.post("/visitview/add", data=data).get_data(as_text=True)
        assert "家庭人数至少为1" in body
        assert body.count("该字段是必填字段") >= 2  # name and date: FAB's own checks
        assert visit_count() == 0
        visit = make_visit(world["a1"], [world["cadre"]], visited_name="李大爷", family_size=3)
        db.session.commit()
        data = form_data(world, [world["cadre"]], visited_name="", family_size="0", visited_phone="12345")
        body = client.post(f"/visitview/edit/{visit.id}", data=data).get_data(as_text=True)
        assert "家庭人数至少为1" in body and "不是有效的电话号码" in body
        db.session.expire_all()
        again = db.session.get(Visit, visit.id)
        assert (again.visited_name, again.family_size) == ("李大爷", 3)


def test_bad_input_through_the_api_is_a_json_error_with_the_field(client, world):
    with frozen(TODAY):
        headers = api_token(client, make_user("Clerk", world["ta"]))
        payload = {
            "visit_date": "2026-03-10", "form": lookup(VisitForm, "登门上户").id, "visitors": [world["cadre"].id],
            "grid": world["a1"].id, "target": lookup(VisitTarget, "一般群众").id, "visited_name": "赵大爷",
            "family_size": 0,
        }  # fmt: skip
        response = client.post("/api/v1/visit/", json=payload, headers=headers)
        assert response.status_code == 422 and response.json["field"] == "family_size"
        assert "家庭人数至少为1" in response.json["message"]
        response = client.post("/api/v1/visit/", json={**payload, "family_size": 3, "visit_date": "2027-01-01"},
                               headers=headers)  # fmt: skip
        assert response.status_code == 422 and response.json["field"] == "visit_date"
        created = client.post("/api/v1/visit/", json={**payload, "family_size": 3}, headers=headers)
        assert created.status_code == 201, created.json
        assert visit_count() == 1


def test_an_inactive_cadre_cannot_be_entered_as_visitor():
    with frozen(TODAY):
        t = tree()
        retired = make_person(t["a1"], name="退休干部", active=False)
        visit = Visit(visit_date=date(2026, 3, 1), form=lookup(VisitForm, "夜访"), grid=t["a1"],
                      target=lookup(VisitTarget, "一般群众"), visited_name="某户", visitors=[retired])  # fmt: skip
        with pytest.raises(DomainError) as err:
            visit_service.validate_visit(db.session, visit)
        assert "退休干部已标记为不在岗" in str(err.value)
        db.session.rollback()


# --- scope ----------------------------------------------------------------


def test_visitors_and_grid_from_another_jurisdiction_are_refused(client, world):
    with frozen(TODAY):
        login(client, make_user("Clerk", world["ta"]))
        body = client.post("/visitview/add", data=form_data(world, [world["stranger"]])).get_data(as_text=True)
        assert "所选记录不存在或不在您的管辖范围内" in body
        body = client.post(
            "/visitview/add", data=form_data(world, [world["cadre"]], grid=str(world["b1"].id))
        ).get_data(as_text=True)
        assert "所选记录不存在或不在您的管辖范围内" in body
        assert visit_count() == 0
        headers = api_token(client, make_user("Clerk", world["ta"]))
        payload = {
            "visit_date": "2026-03-10", "form": lookup(VisitForm, "登门上户").id, "visitors": [world["stranger"].id],
            "grid": world["a1"].id, "target": lookup(VisitTarget, "一般群众").id, "visited_name": "赵大爷",
        }  # fmt: skip
        assert client.post("/api/v1/visit/", json=payload, headers=headers).status_code == 404
        assert visit_count() == 0


def test_another_grids_visits_are_invisible_and_answer_404(client, world):
    with frozen(TODAY):
        mine = make_visit(world["a1"], [world["cadre"]], visited_name="甲村户主", visit_date=date(2026, 3, 1))
        theirs = make_visit(world["b1"], [world["stranger"]], visited_name="乙村户主", visit_date=date(2026, 3, 1))
        user = make_user("Clerk", world["ta"])
        login(client, user)
        body = client.get("/visitview/list/").get_data(as_text=True)
        assert "甲村户主" in body and "乙村户主" not in body
        for url in (f"/visitview/show/{theirs.id}", f"/visitview/edit/{theirs.id}"):
            assert client.get(url).status_code == 404, url
        assert client.post(f"/visitview/delete/{theirs.id}").status_code == 404
        assert client.get(f"/visitview/show/{mine.id}").status_code == 200
        headers = api_token(client, user)
        assert client.get(f"/api/v1/visit/{theirs.id}", headers=headers).status_code == 404
        assert client.put(f"/api/v1/visit/{theirs.id}", json={"result": "x"}, headers=headers).status_code == 404
        assert client.delete(f"/api/v1/visit/{theirs.id}", headers=headers).status_code == 404
        listing = client.get("/api/v1/visit/", headers=headers).json
        assert listing["ids"] == [mine.id]
        assert listing["result"][0]["visitor_ids"] == [world["cadre"].id]
        assert listing["result"][0]["visitor_names"] == "甲村干部"
        assert db.session.get(Visit, theirs.id) is not None


def test_leaders_read_visits_but_cannot_write(client, world):
    with frozen(TODAY):
        visit = make_visit(world["a1"], [world["cadre"]])
        login(client, make_user("Leader", world["ta"]))
        assert client.get(f"/visitview/show/{visit.id}").status_code == 200
        assert client.get("/visitview/add").status_code in (302, 403)
        client.post(f"/visitview/edit/{visit.id}", data={"result": "改了"})
        db.session.expire_all()
        assert db.session.get(Visit, visit.id).result is None


# --- privacy --------------------------------------------------------------


@pytest.fixture
def private_visit(world):
    """A visit by grid worker A's person, with confidential content."""
    with frozen(TODAY):
        worker_a = make_user("GridWorker", world["a1"])
        visit = make_visit(
            world["a1"], [person_of(worker_a)], visit_date=date(2026, 3, 2), visited_name="刘某",
            visited_phone="13812345678", situation="家中有精神障碍患者", problems="邻里纠纷多次报警",
            actions="联系村调委会", result="已调解",
        )  # fmt: skip
    world.update(worker_a=worker_a, visit=visit)
    return world


@pytest.mark.parametrize(
    "who,sees,phone",
    # content: visitors, clerks, leaders; the phone: who holds the sensitive-data permission too
    [("clerk", True, True), ("leader", True, False), ("visitor", True, True), ("other_worker", False, False),
     ("admin", False, False)],
)  # fmt: skip
def test_visit_content_is_masked_for_roles_without_the_need(client, private_visit, who, sees, phone):
    w = private_visit
    with frozen(TODAY):
        user = {
            "clerk": lambda: make_user("Clerk", w["ta"]),
            "leader": lambda: make_user("Leader", w["ta"]),
            "visitor": lambda: w["worker_a"],
            "other_worker": lambda: make_user("GridWorker", w["a1"]),
            "admin": lambda: make_user("Admin"),
        }[who]()
        login(client, user)
        listing = client.get("/visitview/list/").get_data(as_text=True)
        page = client.get(f"/visitview/show/{w['visit'].id}").get_data(as_text=True)
        api = client.get(f"/api/v1/visit/{w['visit'].id}", headers=api_token(client, user)).json["result"]
        api_list = client.get("/api/v1/visit/", headers=api_token(client, user)).json["result"][0]
        for text in (listing, page):
            assert ("邻里纠纷多次报警" in text) is sees
            assert "刘某" in text and "已调解" in page  # who and what was done stay readable
        assert ("家中有精神障碍患者" in page) is sees
        assert ("13812345678" in page) is phone
        assert ("138****5678" in page) is not phone
        assert api["visited_phone"] == ("13812345678" if phone else "138****5678")
        if sees:
            assert api["problems"] == "邻里纠纷多次报警"
        else:
            assert "******" in listing and "138****5678" in page and "内容保密" in page
            for row in (api, api_list):
                assert row["problems"] == "******" and row["situation"] == "******"
                assert row["visited_phone"] == "138****5678"
                assert row["result"] == "已调解"


def test_whoever_cannot_read_a_visit_cannot_edit_or_delete_it(client, private_visit):
    w = private_visit
    with frozen(TODAY):
        other = make_user("GridWorker", w["a1"])
        login(client, other)
        response = client.get(f"/visitview/edit/{w['visit'].id}")
        assert response.status_code == 302  # back to the (masked) page, with a message
        client.post(f"/visitview/edit/{w['visit'].id}", data={"problems": "覆盖"})
        client.post(f"/visitview/delete/{w['visit'].id}")
        headers = api_token(client, other)
        body = {"problems": "覆盖", "version": w["visit"].version}
        response = client.put(f"/api/v1/visit/{w['visit'].id}", json=body, headers=headers)
        assert response.status_code == 403 and "只有走访人" in response.json["message"]
        db.session.expire_all()
        visit = db.session.get(Visit, w["visit"].id)
        assert visit is not None and visit.problems == "邻里纠纷多次报警"
        # the visitor himself may correct it
        login(client, w["worker_a"])
        assert client.get(f"/visitview/edit/{w['visit'].id}").status_code == 200


def test_phone_mask_keeps_only_the_ends():
    from app.services.privacy import mask_phone

    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("0371-66668888") == "037******8888"
    assert mask_phone(None) is None


# --- deletion ---------------------------------------------------------------


def test_a_visit_can_be_deleted_only_soon_after_entry(client, world):
    with frozen("2026-03-01 09:00"):
        old = make_visit(world["a1"], [world["cadre"]], visited_name="旧记录", visit_date=date(2026, 2, 28))
    with frozen(TODAY):
        fresh = make_visit(world["a1"], [world["cadre"]], visited_name="刚录的户", visit_date=date(2026, 3, 15))
        login(client, make_user("Clerk", world["ta"]))
        body = client.post(f"/visitview/delete/{old.id}", follow_redirects=True).get_data(as_text=True)
        assert "只能在录入后24小时内删除" in body
        client.post(f"/visitview/delete/{fresh.id}")
        db.session.expire_all()
        assert db.session.get(Visit, old.id).deleted_at is None
        # deletion hides the record (an Admin can restore it); it leaves lists and counts
        assert db.session.get(Visit, fresh.id).deleted_at is not None
        assert client.get(f"/visitview/show/{fresh.id}").status_code == 404
        assert "刚录的户" not in client.get("/visitview/list/").get_data(as_text=True)


# --- households -------------------------------------------------------------


def test_household_identity_folds_blanks_width_and_punctuation():
    assert household_key(5, "幸福路 3 号", "王五") == household_key(5, "幸福路３号", "李四")
    assert household_key(5, "幸福路3号", None) != household_key(6, "幸福路3号", None)
    assert household_key(5, None, "王 五") == household_key(5, "", "王五") == "5:#王五"


# --- follow-ups -------------------------------------------------------------


def test_follow_ups_due_are_listed_overdue_first_and_disappear_once_made(client, world):
    with frozen(TODAY):
        c = world["cadre"]
        overdue = make_visit(world["a1"], [c], visited_name="逾期户", visit_date=date(2026, 2, 1),
                             follow_up_date=date(2026, 3, 1))  # fmt: skip
        soon = make_visit(world["a1"], [c], visited_name="将到期户", visit_date=date(2026, 3, 1),
                          follow_up_date=date(2026, 3, 20))  # fmt: skip
        make_visit(world["a1"], [c], visited_name="远期户", visit_date=date(2026, 3, 1),
                   follow_up_date=date(2026, 5, 1))  # fmt: skip
        done = make_visit(world["a1"], [c], visited_name="已回访户", visit_date=date(2026, 2, 1),
                          follow_up_date=date(2026, 3, 1))  # fmt: skip
        make_visit(world["a1"], [c], visited_name="已回访户", visit_date=date(2026, 3, 2), follow_up_of=done,
                   form="定期回访")  # fmt: skip
        foreign = make_visit(world["b1"], [world["stranger"]], visited_name="乙村逾期户", visit_date=date(2026, 2, 1),
                             follow_up_date=date(2026, 3, 1))  # fmt: skip
        clerk = make_user("Clerk", world["ta"])
        login(client, clerk)
        body = client.get("/visitview/followups/").get_data(as_text=True)
        assert body.index("逾期户") < body.index("将到期户")
        assert "远期户" not in body and "已回访户" not in body and "乙村逾期户" not in body
        assert "逾期14天" in body and "还有5天" in body
        # record the follow-up from the page: the form starts from the original visit
        form = client.get(f"/visitview/add?follow_up_of={overdue.id}").get_data(as_text=True)
        assert 'value="逾期户"' in form and f'<option value="{overdue.id}" selected>' in form
        data = form_data(world, [c], visit_date="2026-03-15", visited_name="逾期户", follow_up_of=str(overdue.id),
                         follow_up_date="", form=str(lookup(VisitForm, "定期回访").id))  # fmt: skip
        client.post("/visitview/add", data=data)
        assert db.session.scalar(select(Visit).where(Visit.follow_up_of_id == overdue.id)) is not None
        body = client.get("/visitview/followups/").get_data(as_text=True)
        assert "逾期户" not in body.replace("乙村逾期户", "") and "将到期户" in body
        page = client.get(f"/visitview/show/{overdue.id}").get_data(as_text=True)
        assert "已完成" in page
        # a follow-up of another grid's visit cannot be started
        assert client.get(f"/visitview/add?follow_up_of={foreign.id}").status_code == 404
        assert soon.id


def test_a_follow_up_cannot_precede_the_visit_it_follows():
    with frozen(TODAY):
        t = tree()
        c = make_person(t["a1"])
        original = make_visit(t["a1"], [c], visit_date=date(2026, 3, 10))
        early = Visit(visit_date=date(2026, 3, 5), form=lookup(VisitForm, "定期回访"), grid=t["a1"],
                      target=lookup(VisitTarget, "一般群众"), visited_name="某户", visitors=[c],
                      follow_up_of=original)  # fmt: skip
        with pytest.raises(DomainError) as err:
            visit_service.validate_visit(db.session, early)
        assert err.value.field == "follow_up_of"
        db.session.rollback()


# --- the link to appeals ------------------------------------------------------


def test_a_problem_raised_maps_onto_an_appeal_with_the_visited_person_as_reporter(world):
    with frozen(TODAY):
        visit = make_visit(world["a1"], [world["cadre"]], visited_name="周老汉", address="甲一村5号",
                           visited_phone="13700001111", problems="自来水管爆裂无人修")  # fmt: skip
        data = visit_service.appeal_prefill_from_visit(visit)
        assert data["reporter_name"] == "周老汉" and data["reporter_address"] == "甲一村5号"
        assert data["reporter_phone"] == "13700001111" and data["content"] == "自来水管爆裂无人修"
        assert data["grid"] is world["a1"] and data["channel_name"] == "入户走访" and data["visit"] is visit
        assert visit_service.appeal_prefill_from_visit(visit, " 另一件事 ")["content"] == "另一件事"


def test_a_visit_raises_a_linked_appeal_and_each_shows_the_other(client, world):
    from app.models.appeals import Appeal
    from app.models.lookups import AppealCategory, AppealChannel
    from tests.factories import lookup

    with frozen(TODAY):
        visit = make_visit(world["a1"], [world["cadre"]], visited_name="周老汉", address="甲一村5号",
                           visited_phone="13700001111", problems="路灯不亮，夜里出行不便")  # fmt: skip
        login(client, make_user("Clerk", world["ta"]))
        page = client.get(f"/visitview/show/{visit.id}").get_data(as_text=True)
        assert "由本次走访转成的诉求" in page and f"/appealview/add?visit={visit.id}" in page
        form = client.get(f"/appealview/add?visit={visit.id}").get_data(as_text=True)
        assert 'value="周老汉"' in form and 'value="甲一村5号"' in form and "路灯不亮，夜里出行不便" in form
        assert f'name="from_visit" type="hidden" value="{visit.id}"' in form
        category = db.session.scalar(select(AppealCategory).where(AppealCategory.name == "基础设施"))
        channel = lookup(AppealChannel, "入户走访")
        response = client.post(
            "/appealview/add",
            data={"reporter_name": "周老汉", "reporter_address": "甲一村5号", "reporter_phone": "13700001111",
                  "content": "路灯不亮，夜里出行不便", "channel": str(channel.id), "category": str(category.id),
                  "importance": "general", "grid": str(world["a1"].id), "from_visit": str(visit.id)},
        )  # fmt: skip
        assert response.status_code == 302
        appeal = db.session.scalar(select(Appeal).where(Appeal.reporter_name == "周老汉"))
        assert appeal.visit_id == visit.id and appeal.events[0].note.startswith("由")
        page = client.get(f"/visitview/show/{visit.id}").get_data(as_text=True)
        assert appeal.number in page
        shown = client.get(f"/appealview/show/{appeal.id}").get_data(as_text=True)
        assert "走访中反映" in shown and f"/visitview/show/{visit.id}" in shown


def test_only_who_may_read_a_visit_can_copy_it_into_an_appeal(client, world):
    with frozen(TODAY):
        visit = make_visit(world["a1"], [world["cadre"]], visited_name="秘密户", problems="家庭隐私问题")
        other = make_visit(world["b1"], [world["cadre"]], visited_name="外镇户", problems="外镇问题")
        worker = make_user("GridWorker", world["a1"])  # not a visitor, not a content role
        login(client, worker)
        form = client.get(f"/appealview/add?visit={visit.id}").get_data(as_text=True)
        assert "家庭隐私问题" not in form and 'name="from_visit" type="hidden" value=""' in form
        login(client, make_user("Clerk", world["ta"]))
        form = client.get(f"/appealview/add?visit={other.id}").get_data(as_text=True)
        assert "外镇问题" not in form  # another township's visit


def test_visits_list_links_to_a_visitor_and_period(client, world):
    """The quota report's drill-down: visits of one visitor within a period."""
    with frozen(TODAY):
        c = world["cadre"]
        make_visit(world["a1"], [c], visited_name="二月户", visit_date=date(2026, 2, 10))
        make_visit(world["a1"], [c], visited_name="三月户", visit_date=date(2026, 3, 1))
        make_visit(world["a1"], [world["cadre2"]], visited_name="别人的户", visit_date=date(2026, 3, 2))
        login(client, make_user("Clerk", world["ta"]))
        start, end = date(2026, 3, 1), date(2026, 3, 31)
        url = (f"/visitview/list/?_flt_0_visitors={c.id}&_flt_1_visit_date={start - timedelta(days=1)}"
               f"&_flt_2_visit_date={end + timedelta(days=1)}")  # fmt: skip
        body = client.get(url).get_data(as_text=True)
        assert "三月户" in body and "二月户" not in body and "别人的户" not in body


def test_the_visit_form_shows_every_problem_at_once(client, world):
    """A bad phone, a family of 0 and a follow-up before the visit: three messages in one answer."""
    from tests.factories import make_user as _make_user

    clerk = _make_user("Clerk", world["ta"])
    login(client, clerk)
    from app.models.lookups import VisitForm, VisitTarget
    from tests.factories import lookup

    response = client.post("/visitview/add", data={
        "visit_date": "2026-11-20", "form": str(lookup(VisitForm).id), "visitors": [str(world["a1_person"].id)]
        if "a1_person" in world else [], "grid": str(world["a1"].id), "target": str(lookup(VisitTarget).id),
        "visited_name": "王大娘", "visited_phone": "12", "family_size": "0", "follow_up_date": "2026-11-01",
    })  # fmt: skip
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "不是有效的电话号码" in body and "家庭人数" in body and "回访日期" in body
    assert "处问题" in body
