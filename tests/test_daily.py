"""Issue 17, the daily experience: what every role meets in a working day."""

import re

import pytest
from sqlalchemy import select
from werkzeug.security import check_password_hash

from app.extensions import db
from app.models.appeals import AppealEvent
from app.models.audit import AuditLog
from app.models.personnel import Person
from tests.conftest import TEST_PASSWORD, login
from tests.factories import make_appeal, make_assignment, make_person, make_representative, make_user, tree
from tests.test_security import _limited_app

ROLES = ("Admin", "Clerk", "GridWorker", "Leader", "Representative")


def _user_of(role, t):
    grid = {"Admin": None, "Clerk": t["ta"], "GridWorker": t["a1"], "Leader": t["ta"]}.get(role, t["a1"])
    user = make_user(role, grid)
    if role == "Representative":
        make_representative(person=db.session.scalar(select(Person).where(Person.user_id == user.id)))
    return user


def _menu(html):
    """The layout's left menu (its groups and items), not the page's own links."""
    return html.split('<nav class="mq-sidebar"', 1)[1].split("</nav>", 1)[0]


def _menu_links(html):
    """Every href of the left menu."""
    return sorted({h for h in re.findall(r'href="([^"#]+)"', _menu(html))})


@pytest.mark.parametrize("role", ROLES)
def test_every_menu_link_of_every_role_answers_200(client, role):
    t = tree()
    login(client, _user_of(role, t))
    links = _menu_links(client.get("/", follow_redirects=True).get_data(as_text=True))
    assert links, "the role sees no menu at all"
    broken = {href: client.get(href).status_code for href in links}
    assert {h: s for h, s in broken.items() if s != 200} == {}
    if role != "Representative":
        assert "/gridview/coverage/" in links


def test_a_new_install_without_grids_answers_every_admin_menu_link(client):
    """`flask minqing init` without demo data: the Admin's first look (dashboard, reports,
    every menu page) must work before any grid exists (it once failed on an empty CASE)."""
    from tests.factories import make_user

    login(client, make_user("Admin"))
    links = _menu_links(client.get("/", follow_redirects=True).get_data(as_text=True))
    assert len(links) > 10
    broken = {href: client.get(href, follow_redirects=True).status_code for href in links}
    assert {h: s for h, s in broken.items() if s != 200} == {}
    notice = client.get("/rotaview/notice/", follow_redirects=True).get_data(as_text=True)
    assert "请先添加网格" in notice  # the duty notice says why there is nothing to print


@pytest.mark.parametrize("role", ROLES)
def test_every_role_opens_its_user_info_and_changes_its_password(client, sm, role):
    t = tree()
    user = _user_of(role, t)
    login(client, user)
    info = client.get("/users/userinfo/")
    assert info.status_code == 200
    assert user.username in info.get_data(as_text=True)
    assert client.get("/resetmypassword/form").status_code == 200
    new = "NeW@Pass77abc"
    changed = client.post("/resetmypassword/form", data={"password": new, "conf_password": new})
    assert changed.status_code == 302
    db.session.expire_all()
    assert check_password_hash(sm.find_user(username=user.username).password, new)
    client.get("/logout/")
    old = client.post("/login/", data={"username": user.username, "password": TEST_PASSWORD})
    assert "/login" in old.headers["Location"]  # the old password is refused
    login(client, user, password=new)


def test_date_pickers_and_select2_speak_chinese(client, app):
    t = tree()
    login(client, make_user("Clerk", t["ta"]))
    page = client.get("/visitview/add").get_data(as_text=True)
    assert "appbuilder_date" in page  # the form has a date picker ...
    src = "/static/vendor/locale/zh-CN.js"
    # ... and the Chinese locale, after the libraries it sets up
    assert page.index("bootstrap-datepicker.min.js") < page.index(src)
    assert page.index("select2.min.js") < page.index(src)
    script = client.get(src).get_data(as_text=True)
    assert '"日", "一", "二"' in script and 'datepicker.defaults.language = "zh-CN"' in script
    assert "删除所有项目" in script and 'select2.defaults.set("language"' in script


def _selected_grid(client):
    page = client.get("/appealview/add").get_data(as_text=True)
    select_tag = page.split('name="grid"', 1)[1].split("</select>", 1)[0]
    found = re.search(r'<option value="(\d+)" selected', select_tag)
    return int(found.group(1)) if found else None


def test_the_appeal_form_starts_in_the_users_own_lowest_grid(client):
    t = tree()
    clerk = make_user("Clerk", t["ta"])  # the township's clerk: the township
    login(client, clerk)
    assert _selected_grid(client) == t["ta"].id
    me = db.session.scalar(select(Person).where(Person.user_id == clerk.id))
    make_assignment(me, t["a1"])  # ... who also serves village A1 (scope still the township): the village
    assert _selected_grid(client) == t["a1"].id
    village_clerk = make_user("Clerk", t["a2"])
    login(client, village_clerk)
    assert _selected_grid(client) == t["a2"].id
    # two villages, neither the lowest: the clerk chooses
    make_assignment(db.session.scalar(select(Person).where(Person.user_id == village_clerk.id)), t["b1"])
    assert _selected_grid(client) is None
    login(client, make_user("Admin"))
    assert _selected_grid(client) is None


def test_the_category_chart_labels_every_bar(client):
    """Chart.js skips labels that do not fit: the charts' label axis must not (issue 17 #14)."""
    script = client.get("/static/dashboard.js").get_data(as_text=True)
    assert "scales[labelAxis] = { ticks: { autoSkip: false" in script
    assert 'draw("mq-chart-category", data.category, "category", true)' in script  # horizontal: the y axis
    assert "chart.labels.length * 24" in script  # a row per category
    assert "scales: scales," in script


def test_a_missing_page_is_a_chinese_404_inside_the_layout(client):
    t = tree()
    login(client, make_user("Clerk", t["ta"]))
    response = client.get("/no/such/page/", headers={"Referer": "http://localhost/appealview/list/"})
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert "页面不存在" in page and "返回上一页" in page and "回到首页" in page
    assert 'href="http://localhost/appealview/list/"' in page  # back where the user came from
    assert "/gridview/list/" in page  # the menu of the layout
    assert "Not Found" not in page
    # a record outside the jurisdiction: the same page
    assert "页面不存在" in client.get("/gridview/show/999999").get_data(as_text=True)
    # another site's address is never the way back
    other = client.get("/no/such/page/", headers={"Referer": "https://evil.example/x"}).get_data(as_text=True)
    assert "evil.example" not in other


def test_a_forbidden_page_is_a_chinese_403_with_a_way_back(client):
    t = tree()
    login(client, make_user("GridWorker", t["a1"]))
    response = client.get("/users/list/")
    assert response.status_code == 403
    page = response.get_data(as_text=True)
    assert "无权访问" in page and "返回上一页" in page and "回到首页" in page
    assert "Forbidden" not in page
    assert "/appealview/list/" in page  # inside the layout, with the role's menu


def test_api_errors_stay_json(client):
    t = tree()
    login(client, make_user("Clerk", t["ta"]))
    response = client.get("/api/v1/no_such_thing/")
    assert response.status_code == 404
    assert response.is_json and response.json["message"]


def test_the_login_limit_says_when_to_try_again(app):
    make_user("Clerk", username="limited_daily")
    client = _limited_app(app).test_client()
    codes = [client.post("/login/", data={"username": "limited_daily", "password": "bad"}) for _ in range(4)]
    limited = codes[-1]
    assert limited.status_code == 429
    page = limited.get_data(as_text=True)
    assert "尝试次数过多" in page and "请在 1 分钟后再试" in page and "回到首页" in page
    assert int(limited.headers["Retry-After"]) <= 60
    body = {"username": "limited_daily", "password": "bad", "provider": "db"}
    api = [client.post("/api/v1/security/login", json=body) for _ in range(4)][-1]
    assert api.status_code == 429 and api.is_json and "分钟后再试" in api.json["message"]


def test_the_audit_trail_reads_as_sentences_about_records(client):
    t = tree()
    appeal = make_appeal(t["a1"], status="in_progress", at="2026-11-03 09:00")
    leader = make_user("Leader", t["ta"])
    login(client, leader)
    client.post(f"/appealview/act/{appeal.id}/supervise", data={"note": "三日内办结"})
    event = db.session.scalar(select(AppealEvent).where(AppealEvent.action == "supervise"))
    assert event is not None and str(event) == f"诉求 {appeal.number} 督办：三日内办结"
    person = make_person(t["a1"], name="改名前")
    person.active = False
    db.session.commit()
    login(client, make_user("Admin"))
    listing = client.get("/audit/list/?psize_AuditLogView=100").get_data(as_text=True)
    assert f"诉求 {appeal.number} 督办：三日内办结" in listing
    assert "诉求办理记录" in listing and "<td>人员</td>" in listing.replace("\n", "").replace(" ", "")
    assert "appeal_event" not in listing and "<AppealEvent" not in listing
    row = db.session.scalar(
        select(AuditLog).where(
            AuditLog.table_name == "person", AuditLog.record_id == person.id, AuditLog.action == "update"
        )
    )
    shown = client.get(f"/audit/show/{row.id}").get_data(as_text=True)
    assert "启用: " in shown and "→ 否" in shown and "active:" not in shown
    # a leader reads the same words about the records of the jurisdiction (the steps' own rows
    # stay the admin's: their data holds the corrections' full values)
    login(client, leader)
    listing = client.get("/audit/list/?psize_AuditLogView=100").get_data(as_text=True)
    assert "<td>诉求</td>" in listing.replace("\n", "").replace(" ", "") and "<td>人员</td>" in listing.replace(
        "\n", ""
    ).replace(" ", "")
    supervised = db.session.scalar(
        select(AuditLog)
        .where(AuditLog.table_name == "appeal", AuditLog.action == "update")
        .order_by(AuditLog.id.desc())
    )
    shown = client.get(f"/audit/show/{supervised.id}").get_data(as_text=True)
    assert "督办意见" in shown or "督办" in shown
    assert "supervision_note" not in shown


def test_it_staff_manage_users_in_chinese_with_one_name_and_no_email(client, sm):
    tree()  # (the dashboard fails on a database without any grid: a separate defect)
    login(client, make_user("Admin"))
    home = client.get("/", follow_redirects=True).get_data(as_text=True)
    menu = _menu_links(home)
    assert "/users/list/" in menu and "/roles/list/" in menu
    assert not {"/groups/list/", "/viewmenus/list/", "/permissions/list/", "/permissionviews/list/"} & set(menu)
    assert "安全" in home and "用户列表" in home and "角色列表" in home and "用户组" not in home
    form = client.get("/users/add").get_data(as_text=True)
    assert "姓名" in form and 'name="last_name"' not in form and "LDAP" not in form and "OID" not in form
    assert "录入员" in form and ">Clerk<" not in form and ">Public<" not in form
    assert "用户名@minqing.local" in form
    clerk_role = sm.find_role("Clerk")
    response = client.post(
        "/users/add",
        data={"first_name": "刘明", "username": "liuming", "email": "", "active": "y", "roles": [str(clerk_role.id)],
              "password": TEST_PASSWORD, "conf_password": TEST_PASSWORD},
    )  # fmt: skip
    assert response.status_code == 302
    user = sm.find_user(username="liuming")
    assert (user.first_name, user.last_name, user.email) == ("刘明", "", "liuming@minqing.local")
    listing = client.get("/users/list/").get_data(as_text=True)
    assert "录入员" in listing and "liuming@minqing.local" in listing
    # the role's permissions read as what they allow
    role_page = client.get(f"/roles/show/{sm.find_role('Leader').id}").get_data(as_text=True)
    assert "诉求 · 督办" in role_page and "can_supervise" not in role_page and "领导" in role_page
    assert client.get("/roles/list/").status_code == 200
    # the user edits their own 姓名 (one field) and the menu bar greets them by it
    login(client, "liuming")
    edit = client.get("/minqinguserinfoeditview/form").get_data(as_text=True)
    assert "姓名" in edit and 'name="last_name"' not in edit
    assert client.post("/minqinguserinfoeditview/form", data={"first_name": "刘小明"}).status_code == 302
    db.session.expire_all()
    assert sm.find_user(username="liuming").get_full_name().strip() == "刘小明"


def _badges(page):
    tabs = page.split('class="nav nav-pills mq-status-tabs"', 1)[1].split("</ul>", 1)[0]
    return [int(n) for n in re.findall(r'<span class="badge">(\d+)</span>', tabs)]


def test_assigned_to_me_counts_what_it_lists(client):
    t = tree()
    worker = make_user("GridWorker", t["a1"])
    me = db.session.scalar(select(Person).where(Person.user_id == worker.id))
    for _ in range(3):
        make_appeal(t["a1"], status="in_progress", at="2026-11-03 09:00")  # the grid's, handled by others
    login(client, worker)
    page = client.get("/appealview/list/?mine=1").get_data(as_text=True)
    assert _badges(page)[0] == 0 and sum(_badges(page)[1:]) == 0  # nothing of mine: every count 0
    everything = client.get("/appealview/list/").get_data(as_text=True)
    assert _badges(everything)[0] == 3
    mine = make_appeal(t["a1"], status="in_progress", at="2026-11-03 09:00")
    mine.handler_person_id = me.id
    db.session.commit()
    page = client.get("/appealview/list/?mine=1&open=1").get_data(as_text=True)
    assert _badges(page)[0] == 1 and sum(_badges(page)[1:]) == 1
    assert page.count(f"/appealview/show/{mine.id}") >= 1
    assert "?mine=1&amp;open=1&amp;status=in_progress" in page  # the tabs stay within my appeals
    assert _badges(client.get("/appealview/list/").get_data(as_text=True))[0] == 4
