"""Data scope: another grid's grids, people and assignments are invisible and untouchable,
in lists, pages, forms, pickers, actions and the REST API, for every role."""

import pytest
from flask import g
from sqlalchemy import func, select

from app.extensions import db
from app.models.appeals import Appeal
from app.models.grids import Grid
from app.models.personnel import Assignment, Person
from app.services import scope
from tests.conftest import api_token, login, statements_seen
from tests.factories import level, make_appeal, make_assignment, make_grid, make_person, make_user, post

SCOPED_ROLES = ["Clerk", "GridWorker", "Leader"]


@pytest.fixture
def world(world):
    """The shared world, pa and pb with a post in their villages."""
    t = world
    t["asg_a"] = make_assignment(t["pa"], t["a1"], "网格员")
    t["asg_b"] = make_assignment(t["pb"], t["b1"], "网格员")
    return t


# --- lists and pages ------------------------------------------------------


@pytest.mark.parametrize("role", SCOPED_ROLES)
def test_lists_show_only_the_users_subtree(client, world, role):
    login(client, make_user(role, world["ta"]))
    grids = client.get("/gridview/list/?psize_GridView=100").get_data(as_text=True)
    assert "甲一村" in grids and "乙一村" not in grids and "乙镇" not in grids
    people = client.get("/personview/list/?psize_PersonView=100").get_data(as_text=True)
    assert "甲村干部" in people and "乙村干部" not in people
    assignments = client.get("/assignmentview/list/?psize_AssignmentView=100").get_data(as_text=True)
    assert "甲村干部" in assignments and "乙村干部" not in assignments


@pytest.mark.parametrize("role", SCOPED_ROLES)
def test_other_grids_records_answer_404_by_id(client, world, role):
    login(client, make_user(role, world["ta"]))
    for url in (
        f"/gridview/show/{world['b1'].id}",
        f"/gridview/notice/{world['b1'].id}",
        f"/gridview/card/{world['b1'].id}",
        f"/personview/show/{world['pb'].id}",
        f"/assignmentview/show/{world['asg_b'].id}",
    ):
        assert client.get(url).status_code == 404, url
    # and their own are there
    assert client.get(f"/gridview/show/{world['a1'].id}").status_code == 200
    assert client.get(f"/personview/show/{world['pa'].id}").status_code == 200


def test_clerk_cannot_edit_or_delete_another_grids_records(client, world):
    login(client, make_user("Clerk", world["ta"]))
    b1, pb = world["b1"], world["pb"]
    assert client.get(f"/gridview/edit/{b1.id}").status_code == 404
    assert client.post(f"/gridview/edit/{b1.id}", data={"name": "改名"}).status_code == 404
    assert client.post(f"/gridview/delete/{world['b1a'].id}").status_code == 404
    assert client.post(f"/personview/edit/{pb.id}", data={"name": "改名"}).status_code == 404
    assert client.post(f"/personview/delete/{pb.id}").status_code == 404
    assert client.post(f"/assignmentview/delete/{world['asg_b'].id}").status_code == 404
    db.session.expire_all()
    assert db.session.get(Grid, b1.id).name == "乙一村"
    assert db.session.get(Grid, world["b1a"].id) is not None
    assert db.session.get(Person, pb.id).name == "乙村干部"


def test_actions_by_id_respect_scope(client, world):
    """FAB's own action endpoints load rows without the base filters; ours do not."""
    login(client, make_user("Clerk", world["ta"]))
    response = client.post("/assignmentview/action_post", data={"action": "end_now", "rowid": [str(world["asg_b"].id)]})
    assert response.status_code == 404
    assert client.post(f"/assignmentview/action/end_now/{world['asg_b'].id}").status_code == 404
    db.session.expire_all()
    assert db.session.get(Assignment, world["asg_b"].id).end_date is None
    # the same action on an own record works
    client.post("/assignmentview/action_post", data={"action": "end_now", "rowid": [str(world["asg_a"].id)]})
    db.session.expire_all()
    assert db.session.get(Assignment, world["asg_a"].id).end_date is not None


def test_read_only_roles_cannot_write_at_all(client, world):
    for role in ("GridWorker", "Leader"):
        login(client, make_user(role, world["ta"]))
        assert client.get("/gridview/add").status_code in (302, 403)
        assert client.post(f"/gridview/delete/{world['a1a'].id}").status_code in (302, 403)
        assert client.post(f"/personview/edit/{world['pa'].id}", data={"name": "x"}).status_code in (302, 403)
    db.session.expire_all()
    assert db.session.get(Grid, world["a1a"].id) is not None
    assert db.session.get(Person, world["pa"].id).name == "甲村干部"


# --- forms and pickers ----------------------------------------------------


def test_pickers_offer_only_in_scope_options(client, world):
    login(client, make_user("Clerk", world["ta"]))
    grids = client.get("/picker/grid?q=村").json["results"]
    texts = " ".join(r["text"] for r in grids)
    assert "甲一村" in texts and "乙一村" not in texts
    people = client.get("/picker/person?q=").json["results"]
    assert {r["id"] for r in people} >= {world["pa"].id}
    assert world["pb"].id not in {r["id"] for r in people}
    assert client.get(f"/picker/grid?id={world['b1'].id}").json["results"] == []


def test_forms_never_embed_every_grid_or_person(client, world):
    login(client, make_user("Clerk", world["ta"]))
    body = client.get("/personview/add").get_data(as_text=True)
    assert 'class="form-control mq-picker"' in body
    assert "乙一村" not in body and "甲一村一组" not in body  # no option list of grids


def test_posting_an_out_of_scope_grid_in_a_form_is_refused(client, world):
    login(client, make_user("Clerk", world["ta"]))
    before = db.session.scalar(select(func.count()).select_from(Person))
    response = client.post(
        "/personview/add", data={"name": "越界者", "grid": str(world["b1"].id), "active": "y", "gender": ""}
    )
    assert "所选记录不存在或不在您的管辖范围内" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Person)) == before
    response = client.post(
        f"/gridview/edit/{world['a2'].id}",
        data={
            "code": "TA2",
            "name": "甲二村",
            "level": str(level(2).id),
            "parent": str(world["tb"].id),
            "sort_order": "0",
        },
    )
    db.session.expire_all()
    assert db.session.get(Grid, world["a2"].id).parent_id == world["ta"].id


def test_assigning_a_person_from_another_grid_is_refused(client, world):
    """Drawing a stranger into one's grid would widen their scope: refused."""
    login(client, make_user("Clerk", world["ta"]))
    response = client.post(
        "/assignmentview/add",
        data={"person": str(world["pb"].id), "grid": str(world["a1"].id), "post": str(post("网格员").id),
              "start_date": "2024-01-01"},
    )  # fmt: skip
    assert "所选记录不存在或不在您的管辖范围内" in response.get_data(as_text=True)
    assert (
        db.session.scalar(select(func.count()).select_from(Assignment).where(Assignment.person_id == world["pb"].id))
        == 1
    )


def test_a_clerk_cannot_create_a_top_level_grid(client, world):
    login(client, make_user("Clerk", world["ta"]))
    client.post("/gridview/add", data={"code": "NEW", "name": "新镇", "level": str(level(1).id), "sort_order": "0"})
    assert db.session.scalar(select(Grid).where(Grid.code == "NEW")) is None


# --- users without a grid, several roles, admin -----------------------------


def test_user_without_grid_sees_nothing(client, world):
    login(client, make_user("Clerk"))
    body = client.get("/gridview/list/").get_data(as_text=True)
    assert "甲一村" not in body and "乙一村" not in body
    assert client.get(f"/gridview/show/{world['a1'].id}").status_code == 404
    assert client.get("/picker/grid?q=").json["results"] == []


def test_ended_assignment_no_longer_gives_scope(client, world):
    user = make_user("Clerk")
    person = make_person(world["ta"], name="调走的录入员")
    person.user_id = user.id
    db.session.commit()
    make_assignment(person, world["ta"], end=__import__("datetime").date(2021, 1, 1))
    login(client, user)
    assert client.get(f"/gridview/show/{world['a1'].id}").status_code == 404


def test_admin_sees_everything(client, world):
    login(client, make_user("Admin"))
    body = client.get("/gridview/list/?psize_GridView=100").get_data(as_text=True)
    assert "甲一村" in body and "乙一村" in body


def test_scope_is_the_union_of_assignments_and_roles(client, world):
    """A person with posts in two villages sees both; two roles never add rows beyond scope."""
    user = make_user("Clerk", world["a1"], roles=["Clerk", "Leader"])
    person = db.session.scalar(select(Person).where(Person.user_id == user.id))
    make_assignment(person, world["b1"], "网格员")
    login(client, user)
    body = client.get("/gridview/list/?psize_GridView=100").get_data(as_text=True)
    assert "甲一村一组" in body and "乙一村一组" in body
    assert "甲二村" not in body  # a sibling of a1 stays out
    assert client.get(f"/gridview/show/{world['a2'].id}").status_code == 404
    s = scope.for_user(db.session, user)
    assert s.paths == tuple(sorted([world["a1"].path, world["b1"].path]))


def test_nested_assignments_collapse_to_one_root(world):
    s = scope.minimal_roots([world["a1"].path, world["ta"].path, world["a1a"].path])
    assert s == (world["ta"].path,)


# --- REST API -------------------------------------------------------------


@pytest.mark.parametrize("resource,key", [("grid", "b1"), ("person", "pb"), ("assignment", "asg_b")])
def test_api_get_put_delete_of_another_grid_answer_404(client, world, resource, key):
    user = make_user("Clerk", world["ta"])
    headers = api_token(client, user)
    pk = world[key].id
    assert client.get(f"/api/v1/{resource}/{pk}", headers=headers).status_code == 404
    assert client.put(f"/api/v1/{resource}/{pk}", json={"name": "x"}, headers=headers).status_code == 404
    assert client.delete(f"/api/v1/{resource}/{pk}", headers=headers).status_code == 404
    listing = client.get(f"/api/v1/{resource}/?q=(page_size:100)", headers=headers).json
    assert pk not in listing["ids"]


def test_api_post_pointing_at_another_grid_is_refused(client, world):
    headers = api_token(client, make_user("Clerk", world["ta"]))
    before = db.session.scalar(select(func.count()).select_from(Person))
    response = client.post("/api/v1/person/", json={"name": "越界", "grid": world["b1"].id}, headers=headers)
    assert response.status_code == 404
    response = client.post(
        "/api/v1/grid/", json={"code": "BX", "name": "乙新村", "level": level(2).id, "parent": world["tb"].id},
        headers=headers,
    )  # fmt: skip
    assert response.status_code == 404
    assert db.session.scalar(select(func.count()).select_from(Person)) == before
    assert db.session.scalar(select(Grid).where(Grid.code == "BX")) is None


def test_api_put_moving_a_record_into_another_grid_is_refused(client, world):
    headers = api_token(client, make_user("Clerk", world["ta"]))
    response = client.put(
        f"/api/v1/person/{world['pa'].id}",
        json={"grid": world["b1"].id, "version": world["pa"].version},
        headers=headers,
    )
    assert response.status_code == 404
    db.session.expire_all()
    assert db.session.get(Person, world["pa"].id).grid_id == world["a1"].id


def test_api_related_values_in_info_are_scoped(client, world):
    headers = api_token(client, make_user("Clerk", world["ta"]))
    info = client.get("/api/v1/person/_info?q=(keys:!(add_columns))", headers=headers).json
    grid_field = next(c for c in info["add_columns"] if c["name"] == "grid")
    names = {v["value"] for v in grid_field["values"]}
    assert "甲一村" in names and "乙一村" not in names


def test_backstop_refuses_out_of_scope_writes_in_a_request(app, world):
    """Even a view that forgot to check cannot save into another grid during a request."""
    user = make_user("Clerk", world["ta"])
    from app.core.errors import NotFound

    with app.test_request_context("/"):
        from flask import g
        from flask_login import login_user

        login_user(user)
        g.user = user
        person = db.session.get(Person, world["pa"].id)
        person.grid_id = world["b1"].id
        with pytest.raises(NotFound):
            db.session.flush()
        db.session.rollback()


# --- the scope's grid ids, listed once per request (PostgreSQL) --------------------


def test_a_grid_added_during_a_request_is_in_scope_at_once(app, world):
    """On PostgreSQL the scope's grid ids are read once per request and sent as a list;
    a grid added, then used, in the same request (an import) must be in that list."""
    township = scope.Scope(paths=(world["ta"].path,), roles=frozenset({"Clerk"}))

    def people():
        return set(db.session.scalars(select(Person.name).where(scope.clause_for(Person))))

    with app.test_request_context("/"):
        g._minqing_scope = (None, township)
        assert people() == {"甲村干部"}
        new_group = make_grid("新组", parent=world["a1"])
        make_person(new_group, name="新组组长")
        assert people() == {"甲村干部", "新组组长"}
    with app.test_request_context("/"):
        g._minqing_scope = (None, township)  # a new request (a shared `g` in tests) reads them again
        assert people() == {"甲村干部", "新组组长"}


def test_listed_ids_and_the_subquery_find_the_same_records(app, world):
    township = scope.Scope(paths=(world["ta"].path, world["b1"].path), roles=frozenset({"Clerk"}))
    subquery = scope.grid_id_clause(Person.grid_id, township)  # outside a request: always the subquery
    with app.test_request_context("/"):
        clause = scope.grid_id_clause(Person.grid_id, township)
        listed = set(db.session.scalars(select(Person.id).where(clause)))
    # on PostgreSQL the ids travel as one array; SQLite keeps the subquery (both must agree)
    assert ("ANY" in str(clause)) is (db.engine.dialect.name == "postgresql")
    assert listed == set(db.session.scalars(select(Person.id).where(subquery))) == {world["pa"].id, world["pb"].id}


@pytest.mark.parametrize("ranges_max", [50, 1])
def test_a_jurisdiction_of_more_grids_than_the_id_list_reads_id_ranges(app, client, world, monkeypatch, ranges_max):
    """A county leader's thousands of grids: `grid_id BETWEEN lo AND hi OR …` over the runs of
    the subtree's ids (an index range), the subquery when they are scattered over more runs than
    SCOPE_RANGES_MAX; either way exactly the subtree (the limit lowered to 1 grid here)."""
    monkeypatch.setitem(app.config, "SCOPE_ID_LIST_MAX", 1)
    monkeypatch.setitem(app.config, "SCOPE_RANGES_MAX", ranges_max)
    late = make_grid("甲镇新村", world["ta"], code="TA9")  # added after 乙镇's grids: a second run
    make_person(late, name="新村干部")
    mine = {make_appeal(g).number for g in (world["ta"], world["a1"], world["a1a"], late)}
    other = make_appeal(world["b1"]).number
    ids = [world[k].id for k in ("ta", "a1", "a2", "a1a")]
    runs = scope.id_runs(db.session, scope.Scope(paths=(world["ta"].path,)))
    assert [(lo, hi) for lo, hi, _ in runs] == [(ids[0], ids[0]), (ids[1], ids[3]), (late.id, late.id)]
    assert sum(n for _, _, n in runs) == 5

    login(client, make_user("Leader", world["ta"]))
    with statements_seen() as seen:
        numbers = {r["number"] for r in client.get("/api/v1/appeal/?q=(page_size:100)").json["result"]}
        people = client.get("/personview/list/?psize_PersonView=100").get_data(as_text=True)
    assert numbers == mine and other not in numbers
    assert "新村干部" in people and "甲村干部" in people and "乙村干部" not in people
    listing = [s for s in seen if "FROM appeal" in s and "LIMIT" in s]
    assert listing and all(("BETWEEN" in s) == (ranges_max > 1) for s in listing), listing
    assert db.session.scalar(select(func.count()).select_from(Appeal)) == 5


def test_a_large_jurisdictions_id_runs_are_kept_until_the_tree_changes(app, client, world, monkeypatch):
    """The county leader's id runs are worked out once per process, not per page: the next page
    asks the grid table nothing but the tree's version; a grid moved out of the subtree is out of
    the scope on the very next page (its move rewrote the version in its own transaction)."""
    monkeypatch.setitem(app.config, "SCOPE_ID_LIST_MAX", 1)
    mine = make_appeal(world["a1a"]).number
    login(client, make_user("Leader", world["ta"]))
    seen = []

    def numbers():
        with statements_seen() as statements:
            listed = {r["number"] for r in client.get("/api/v1/appeal/?q=(page_size:100)").json["result"]}
        seen[:] = statements
        return listed

    def grid_scans():
        return [s for s in seen if "FROM grid" in s and "grid.path >=" in s]

    assert numbers() == {mine}
    assert numbers() == {mine}
    assert grid_scans() == []  # kept: only the version was read
    moved = db.session.get(Grid, world["a1a"].id)
    moved.parent = db.session.get(Grid, world["b1"].id)
    db.session.commit()
    assert numbers() == set()  # moved out: gone at once
    assert grid_scans()  # the runs worked out again for the new tree
