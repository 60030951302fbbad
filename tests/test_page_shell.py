"""What every page costs before its own content (the page shell): the user with their roles, their
scope, the record of a show page, the related rows of a list. Read each request from the database
(nothing of it is kept between requests), in as few statements as the answers need."""

import datetime as dt

from sqlalchemy import select

from app.extensions import db
from app.models.appeals import Appeal
from app.models.personnel import Person
from app.services import appeals as svc
from app.services import scope
from tests.conftest import login, statements_seen
from tests.factories import make_appeal, make_assignment, make_person, make_user, make_visit
from tests.test_appeals import _form


def _selects(seen, table):
    return [s for s in seen if s.lstrip().upper().startswith("SELECT") and f"FROM {table}" in s]


def test_the_user_and_their_roles_are_one_statement_and_read_each_request(client, world, sm):
    user = make_user("Clerk", world["a1"])
    user_id = user.id
    login(client, user)
    db.session.remove()  # as a server's next request starts: nothing of the user in its session
    with statements_seen() as seen:
        assert client.get("/appealview/add").status_code == 200
    users = _selects(seen, "ab_user")
    assert len(users) == 1 and "ab_role" in users[0] and "ab_group" in users[0]
    assert not _selects(seen, "ab_role, ab_user_role") and not _selects(seen, "ab_group, ab_user_group")
    # a role taken away (by an admin on any server) counts from the next request
    other = db.session.get(type(user), user_id)
    other.roles = [sm.find_role("Leader")]  # a leader does not register appeals
    db.session.commit()
    assert client.get("/appealview/add").status_code != 200
    assert client.get("/appealview/list/").status_code == 200


def test_the_scope_and_the_persons_name_are_one_statement(client, world):
    user = make_user("Clerk", world["a1"])
    person = db.session.scalar(select(Person).where(Person.user_id == user.id))
    person.name = "张录入"
    make_assignment(person, world["b1"], end=dt.date(2021, 1, 1))  # ended: no scope
    db.session.commit()
    login(client, user)
    with statements_seen() as seen:
        assert client.get("/appealview/list/").status_code == 200
    assert len([s for s in seen if "person.user_id" in s]) == 1
    assert scope.for_user(db.session, user).paths == (world["a1"].path,)
    assert scope.for_user(db.session, user).person_name == "张录入"
    # the name the services write on a record (the person's, not the login's)
    response = client.post("/appealview/add", data=_form(world["a1"], reporter_name="李群众"))
    assert response.status_code == 302
    appeal = db.session.scalar(select(Appeal).where(Appeal.reporter_name == "李群众"))
    assert appeal.events[0].actor_name == "张录入"


def test_a_user_with_a_person_but_no_post_sees_nothing_and_admin_everything(world):
    user = make_user("Clerk")
    make_person(world["a1"], name="无岗位者").user_id = user.id
    db.session.commit()
    found = scope.for_user(db.session, user)
    assert found.empty and found.person_id is not None
    admin = make_user("Admin")
    assert scope.for_user(db.session, admin).all


def test_a_show_page_reads_its_record_once_and_in_scope(client, world):
    user = make_user("Clerk", world["a1"])
    visit = make_visit(world["a1"], [world["pa"]])
    theirs = make_visit(world["b1"], [world["pb"]])
    login(client, user)
    mine, theirs, a1, b1 = visit.id, theirs.id, world["a1"].id, world["b1"].id
    db.session.remove()  # as a server's next request starts
    with statements_seen() as seen:
        page = client.get(f"/visitview/show/{mine}")
    assert page.status_code == 200 and "甲村干部" in page.get_data(as_text=True)
    assert len([s for s in _selects(seen, "visit") if "visit.id = " in s]) == 1
    assert client.get(f"/visitview/show/{theirs}").status_code == 404
    db.session.remove()
    with statements_seen() as seen:
        assert client.get(f"/gridview/show/{a1}").status_code == 200
    assert len([s for s in _selects(seen, "grid") if "grid.id = " in s]) == 1
    assert client.get(f"/gridview/show/{b1}").status_code == 404


def test_lists_join_only_what_they_show(client, world):
    handler = make_person(world["a1"], name="办理人甲")
    appeal = make_appeal(world["a1"], status="assigned")
    svc.perform(db.session, svc.system_actor(), appeal, "reassign", {"handler_person": handler.id, "note": "换人"})
    db.session.commit()
    make_visit(world["a1"], [world["pa"]])
    login(client, make_user("Clerk", world["a1"]))
    with statements_seen() as seen:
        page = client.get("/appealview/list/").get_data(as_text=True)
    assert "办理人甲" in page and "甲一村" in page
    rows = [s for s in _selects(seen, "appeal") if "appeal.id IN" in s]
    assert len(rows) == 1 and "grid_level" not in rows[0] and "person_kind" not in rows[0]
    with statements_seen() as seen:
        page = client.get("/visitview/list/").get_data(as_text=True)
    assert "甲村干部" in page
    assert not [s for s in seen if "grid_level" in s or "person_kind" in s]


def test_an_edit_form_reads_its_record_once_and_in_scope(client, world):
    user = make_user("Clerk", world["a1"])
    appeal = make_appeal(world["a1"])
    mine, theirs = appeal.id, make_appeal(world["b1"]).id
    edited = _form(world["a1"], reporter_name="王改名", row_version=str(appeal.version))
    refused = _form(world["a1"], row_version="1")
    login(client, user)
    db.session.remove()  # as a server's next request starts
    with statements_seen() as seen:
        page = client.get(f"/appealview/edit/{mine}")
    assert page.status_code == 200 and "反映人" in page.get_data(as_text=True)
    assert len([s for s in _selects(seen, "appeal") if "appeal.id = " in s]) == 1
    assert client.get(f"/appealview/edit/{theirs}").status_code == 404
    # a save reads the record afresh (nothing kept from an earlier request)
    response = client.post(f"/appealview/edit/{mine}", data=edited)
    assert response.status_code == 302
    assert db.session.get(Appeal, mine).reporter_name == "王改名"
    assert client.post(f"/appealview/edit/{theirs}", data=refused).status_code == 404


def test_a_page_asks_each_permission_once_per_user_and_request(client, world, sm, monkeypatch):
    asked = []
    real = type(sm).access_now

    def counted(self, permission_name, view_name):
        asked.append((permission_name, view_name))
        return real(self, permission_name, view_name)

    monkeypatch.setattr(type(sm), "access_now", counted)
    clerk, leader = make_user("Clerk", world["a1"]), make_user("Leader", world["a1"])
    appeal = make_appeal(world["a1"], reporter_phone="13912345678").id
    login(client, clerk)
    asked.clear()
    assert client.get("/appealview/list/").status_code == 200
    # once each (the first question is asked before the login is loaded: it may come twice)
    assert asked and len(asked) <= len(set(asked)) + 1
    first = len(asked)
    assert client.get("/appealview/list/").status_code == 200
    assert len(asked) > first  # asked again on the next request: nothing kept between requests
    # the answers are the user's: a clerk registers appeals, a leader does not
    assert "登记诉求" in client.get("/appealview/list/").get_data(as_text=True)
    login(client, leader)
    assert client.get(f"/appealview/show/{appeal}").status_code == 200
    assert "登记诉求" not in client.get("/appealview/list/").get_data(as_text=True)
