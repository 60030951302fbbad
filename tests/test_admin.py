"""IT staff: add a login linked to a person, edit lookup lists, without a programmer."""

from sqlalchemy import select

from app.extensions import db
from app.models.lookups import AppealCategory, GridLevel
from app.models.personnel import Person
from app.services import scope
from tests.conftest import TEST_PASSWORD, login
from tests.factories import make_assignment, make_person, make_user, tree


def test_admin_adds_a_user_linked_to_a_person(client, sm):
    t = tree()
    person = make_person(t["a1"], name="孙网格员")
    make_assignment(person, t["a1"], "网格员")
    login(client, make_user("Admin"))
    role = sm.find_role("GridWorker")
    response = client.post(
        "/users/add",
        data={"first_name": "孙", "last_name": "网格员", "username": "sun", "email": "sun@x.cn", "active": "y",
              "roles": [str(role.id)], "password": TEST_PASSWORD, "conf_password": TEST_PASSWORD,
              "person": str(person.id)},
        follow_redirects=True,
    )  # fmt: skip
    assert response.status_code == 200
    user = sm.find_user(username="sun")
    assert user is not None
    db.session.expire_all()
    assert db.session.get(Person, person.id).user_id == user.id
    assert scope.for_user(db.session, user).paths == (t["a1"].path,)
    # the edit form shows the link and can move it to another person
    other = make_person(t["a2"], name="孙二")
    page = client.get(f"/users/edit/{user.id}").get_data(as_text=True)
    assert "孙网格员" in page
    client.post(
        f"/users/edit/{user.id}",
        data={"first_name": "孙", "last_name": "网格员", "username": "sun", "email": "sun@x.cn", "active": "y",
              "roles": [str(role.id)], "person": str(other.id)},
    )  # fmt: skip
    db.session.expire_all()
    assert db.session.get(Person, person.id).user_id is None
    assert db.session.get(Person, other.id).user_id == user.id


def test_admin_adds_a_lookup_value_and_clerks_only_read(client):
    t = tree()
    login(client, make_user("Admin"))
    client.post("/appealcategoryview/add", data={"name": "移风易俗", "sort_order": "20", "active": "y"})
    assert db.session.scalar(select(AppealCategory).where(AppealCategory.name == "移风易俗")) is not None
    dup = client.post("/appealcategoryview/add", data={"name": "土地", "sort_order": "1", "active": "y"})
    assert "“土地”已在列表中" in dup.get_data(as_text=True)
    level = db.session.scalar(select(GridLevel).where(GridLevel.rank == 2))
    in_use = client.post(f"/gridlevelview/delete/{level.id}", follow_redirects=True)
    assert "正在使用，不能删除，请改为停用" in in_use.get_data(as_text=True)
    login(client, make_user("Clerk", t["ta"]))
    assert client.get("/appealcategoryview/list/").status_code == 200
    assert client.post("/appealcategoryview/add", data={"name": "越权"}).status_code in (302, 403)
    assert db.session.scalar(select(AppealCategory).where(AppealCategory.name == "越权")) is None


def test_menus_follow_permissions(client):
    t = tree()
    login(client, make_user("GridWorker", t["a1"]))
    home = client.get("/").get_data(as_text=True)
    menu = home.split('<nav class="mq-sidebar"', 1)[1].split("</nav>", 1)[0]
    assert "网格管理" in menu and "安全" not in menu
    assert client.get("/users/list/").status_code in (302, 403)
