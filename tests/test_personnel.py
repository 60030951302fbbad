"""People, posts and assignments: forms in Chinese, bad input refused, history kept."""

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from app.core.clock import frozen
from app.core.errors import DomainError
from app.extensions import db
from app.models.personnel import Assignment, Person, Post
from app.services import personnel as personnel_service
from tests.conftest import login
from tests.factories import make_assignment, make_person, make_user, post, tree


def test_clerk_registers_a_person(client):
    t = tree()
    login(client, make_user("Clerk", t["ta"]))
    response = client.post(
        "/personview/add",
        data={"name": "刘红", "gender": "F", "unit": "甲一村村委会", "position": "妇女主任",
              "phone": "138 1234 5678", "grid": str(t["a1"].id), "active": "y"},
        follow_redirects=True,
    )  # fmt: skip
    assert "记录已添加" in response.get_data(as_text=True)
    person = db.session.scalar(select(Person).where(Person.name == "刘红"))
    assert person.phone == "13812345678" and person.gender == "F" and person.grid_id == t["a1"].id
    body = client.get("/personview/list/").get_data(as_text=True)
    assert "刘红" in body and "女" in body


def test_malformed_phone_is_refused_with_a_chinese_message(client):
    t = tree()
    login(client, make_user("Clerk", t["ta"]))
    response = client.post(
        "/personview/add",
        data={"name": "王五", "phone": "12345", "grid": str(t["a1"].id), "active": "y", "gender": ""},
    )
    assert "“12345”不是有效的电话号码" in response.get_data(as_text=True)
    assert db.session.scalar(select(Person).where(Person.name == "王五")) is None


def test_landlines_and_mobiles_are_accepted():
    t = tree()
    for raw, stored in [
        ("0371-66668888", "0371-66668888"),
        ("+86 139 0000 1111", "13900001111"),
        ("66668888", "66668888"),
    ]:
        p = Person(name="x", grid=t["a1"], phone=raw)
        personnel_service.validate_person(db.session, p)
        assert p.phone == stored
    db.session.rollback()


@pytest.mark.parametrize("raw", ["1381234", "13812345", "0381234", "0371-1234567", "0371-01234567", "12345678"])
def test_local_numbers_do_not_start_with_0_or_1(raw):
    """A 7-digit number starting with 1 is a truncated mobile, not a landline (issue 18, item 9)."""
    t = tree()
    p = Person(name="x", grid=t["a1"], phone=raw)
    with pytest.raises(DomainError, match="不是有效的电话号码"):
        personnel_service.validate_person(db.session, p)
    db.session.rollback()


def test_assignment_overlap_and_period_rules():
    t = tree()
    person = make_person(t["a1"], name="周组长")
    make_assignment(person, t["a1a"], "网格长", start=date(2024, 1, 1))
    chief, worker = post("网格长"), post("网格员")
    again = Assignment(person=person, grid=t["a1a"], post=chief, start_date=date(2024, 6, 1))
    try:
        personnel_service.validate_assignment(db.session, again)
        raise AssertionError("overlap accepted")
    except DomainError as err:
        assert "已在本网格担任此岗位" in str(err)
    backwards = Assignment(person=person, grid=t["a1"], post=worker, start_date=date(2024, 6, 1),
                           end_date=date(2024, 1, 1))  # fmt: skip
    try:
        personnel_service.validate_assignment(db.session, backwards)
        raise AssertionError("end before start accepted")
    except DomainError as err:
        assert err.field == "end_date"
    wrong_level = Assignment(person=person, grid=t["a1"], post=chief, start_date=date(2024, 6, 1))
    try:
        personnel_service.validate_assignment(db.session, wrong_level)
        raise AssertionError("post at the wrong level accepted")
    except DomainError as err:
        assert "只适用于" in str(err)
    db.session.rollback()


def test_rotation_keeps_history_and_public_pages_follow(client):
    t = tree()
    old = make_person(t["a1a"], name="老组长")
    new = make_person(t["a1a"], name="新组长")
    a = make_assignment(old, t["a1a"], "网格长", start=date(2020, 1, 1))
    with frozen("2026-03-01 10:00"):
        personnel_service.end_assignment(db.session, a)
        db.session.commit()
        make_assignment(new, t["a1a"], "网格长", start=date(2026, 3, 2))
    with frozen("2026-03-05 10:00"):
        login(client, make_user("Admin"))
        body = client.get(f"/gridview/notice/{t['a1a'].id}").get_data(as_text=True)
        assert "新组长" in body and "老组长" not in body
    history = db.session.scalars(
        select(Assignment).where(Assignment.grid_id == t["a1a"].id).order_by(Assignment.start_date)
    ).all()
    assert [(h.person.name, h.end_date) for h in history] == [("老组长", date(2026, 3, 1)), ("新组长", None)]


def test_end_today_action_and_delete_rules(client):
    t = tree()
    person = make_person(t["a1"], name="吴会计")
    old = make_assignment(person, t["a1"], "网格员", start=date(2020, 1, 1))
    old.created_at = old.created_at - timedelta(days=30)
    db.session.commit()
    login(client, make_user("Clerk", t["ta"]))
    response = client.post(f"/assignmentview/delete/{old.id}", follow_redirects=True)
    assert "请使用“今日离任”结束任职" in response.get_data(as_text=True)
    client.get("/")
    client.get(f"/assignmentview/list/?_flt_0_person={person.id}")  # the action is chosen on this page
    response = client.post("/assignmentview/action_post", data={"action": "end_now", "rowid": [str(old.id)]})
    assert response.status_code == 302 and response.location.endswith(
        f"/assignmentview/list/?_flt_0_person={person.id}"
    )
    assert "已结束 1 条任职" in client.get(response.location).get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Assignment, old.id).end_date is not None
    fresh = make_assignment(person, t["a2"], "网格员")  # a mistaken entry, just made: may be deleted
    client.post(f"/assignmentview/delete/{fresh.id}")
    db.session.expire_all()
    assert db.session.get(Assignment, fresh.id) is None


def test_person_with_records_cannot_be_deleted(client):
    t = tree()
    person = make_person(t["a1"], name="郑主任")
    make_assignment(person, t["a1"], "直接责任人")
    login(client, make_user("Clerk", t["ta"]))
    response = client.post(f"/personview/delete/{person.id}", follow_redirects=True)
    assert "已有任职等记录，不能删除，请改为停用" in response.get_data(as_text=True)
    assert db.session.get(Person, person.id) is not None


def test_inactive_person_cannot_take_a_post(client):
    t = tree()
    person = make_person(t["a1"], name="停用者", active=False)
    login(client, make_user("Clerk", t["ta"]))
    response = client.post(
        "/assignmentview/add",
        data={
            "person": str(person.id),
            "grid": str(t["a1"].id),
            "post": str(post("网格员").id),
            "start_date": "2025-01-01",
        },
    )
    assert "已停用，不能任职" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Assignment)) == 1  # only the clerk's own


def test_posts_are_admin_managed_and_duplicate_names_refused(client):
    login(client, make_user("Admin"))
    response = client.post("/postview/add", data={"name": "网格长", "sort_order": "0", "active": "y"})
    assert "岗位“网格长”已存在" in response.get_data(as_text=True)
    client.post(
        "/postview/add",
        data={"name": "平安志愿者", "duty": "协助巡逻", "reward_penalty": "年终表彰", "sort_order": "9", "active": "y",
              "is_responsible": ""},
    )  # fmt: skip
    created = db.session.scalar(select(Post).where(Post.name == "平安志愿者"))
    assert created is not None and created.duty == "协助巡逻" and not created.is_responsible
    t = tree()
    login(client, make_user("Clerk", t["ta"]))
    assert client.post("/postview/add", data={"name": "越权岗位"}).status_code in (302, 403)
    assert db.session.scalar(select(Post).where(Post.name == "越权岗位")) is None
