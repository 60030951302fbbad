"""The layout (issue 17, defect 8): the left menu is FAB's menu filtered by FAB's permission
checks, grouped by work with administration last; breadcrumbs; one look for business, admin,
print and error pages."""

import re

from flask_appbuilder import BaseView
from flask_appbuilder.views import expose

from app.extensions import db
from tests.conftest import login
from tests.factories import make_appeal, make_user, tree

LOOKUP_LISTS = ("/appealcategoryview/list/", "/appealchannelview/list/", "/visitformview/list/", "/gridlevelview/list/")


def _menu(page):
    return page.split('<nav class="mq-sidebar"', 1)[1].split("</nav>", 1)[0]


def _home(client):
    return client.get("/", follow_redirects=True).get_data(as_text=True)


def _crumbs(page):
    ol = page.split('id="mq-breadcrumb">', 1)[1].split("</ol>", 1)[0]
    return [re.sub(r"<[^>]+>", "", li).strip() for li in re.findall(r"<li[^>]*>(.*?)</li>", ol, re.S)]


def test_the_administration_groups_come_last_under_their_own_heading(client):
    tree()
    login(client, make_user("Admin"))
    menu = _menu(_home(client))
    work, system = menu.split("系统管理", 1)
    assert "日常工作" in work and "民情诉求" in work and "我的工作" in work
    assert "安全" in system and "基础数据" in system and "回收站" in system
    assert "安全" not in work


def test_grid_workers_and_clerks_see_no_lookup_tables_in_their_menu(client):
    t = tree()
    for role, grid in (("GridWorker", t["a1"]), ("Clerk", t["ta"]), ("Leader", t["ta"]), ("Representative", t["a1"])):
        login(client, make_user(role, grid))
        menu = _menu(_home(client))
        assert not [href for href in LOOKUP_LISTS if href in menu], role
        assert client.get("/appealcategoryview/list/").status_code == 200  # still read (the forms' choices)
    assert "/importview/" in menu or "从Excel导入" not in menu  # what a role uses stays
    login(client, make_user("Clerk", t["ta"]))
    assert "从Excel导入" in _menu(_home(client))
    login(client, make_user("Admin"))
    menu = _menu(_home(client))
    assert all(href in menu for href in LOOKUP_LISTS)


def test_a_view_added_under_a_category_shows_for_who_may_open_it(app, client, sm):
    """Another work area (值班轮值, 考核...) registered the FAB way needs nothing of the layout."""

    class RotaView(BaseView):
        route_base = "/rota_probe"
        default_view = "index"

        @expose("/")
        def index(self):
            return "ok"

    appbuilder = app.appbuilder
    before = list(appbuilder.menu.menu)
    try:
        appbuilder.menu.add_link(
            "Rota probe", href="/rota_probe/", icon="fa-calendar", label="值班轮值表", category="Probe area",
            category_label="探针工作区", category_icon="fa-calendar",
        )  # fmt: skip
        t = tree()
        clerk, worker = make_user("Clerk", t["ta"]), make_user("GridWorker", t["a1"])
        role = sm.find_role("Clerk")
        for name in ("Rota probe", "Probe area"):
            sm.add_permission_role(role, sm.add_permission_view_menu("menu_access", name))
        db.session.commit()
        login(client, clerk)
        menu = _menu(_home(client))
        assert "探针工作区" in menu and 'href="/rota_probe/"' in menu
        assert menu.index("探针工作区") < menu.index("系统管理") if "系统管理" in menu else True
        login(client, worker)
        assert "探针工作区" not in _menu(_home(client))
    finally:
        appbuilder.menu.menu[:] = before
        for name in ("Rota probe", "Probe area"):
            pv = sm.find_permission_view_menu("menu_access", name)
            if pv is not None:
                sm.del_permission_role(sm.find_role("Clerk"), pv)
                sm.del_permission_view_menu("menu_access", name, cascade=True)
        db.session.commit()


def test_breadcrumbs_name_the_group_the_entry_and_the_record(client):
    t = tree()
    appeal = make_appeal(t["a1"])
    login(client, make_user("Clerk", t["ta"]))
    assert _crumbs(client.get("/appealview/list/").get_data(as_text=True)) == ["首页", "民情诉求", "诉求列表"]
    overdue = client.get("/appealview/list/?due=overdue").get_data(as_text=True)
    assert _crumbs(overdue) == ["首页", "民情诉求", "超期诉求"]
    assert re.search(r'<li class="active"><a href="/appealview/list/\?due=overdue"', _menu(overdue))
    show = client.get(f"/appealview/show/{appeal.id}").get_data(as_text=True)
    crumbs = _crumbs(show)
    assert crumbs[:3] == ["首页", "民情诉求", "诉求列表"] and len(crumbs) == 4
    assert 'href="/appealview/list/"' in show.split('id="mq-breadcrumb">', 1)[1].split("</ol>", 1)[0]


def test_one_look_for_error_login_and_print_pages(client):
    page = client.get("/login/").get_data(as_text=True)
    assert 'class="mq-topbar"' in page and "mq-sidebar" not in page  # no menu before signing in
    t = tree()
    login(client, make_user("Clerk", t["ta"]))
    missing = client.get("/no/such/page")
    assert missing.status_code == 404
    text = missing.get_data(as_text=True)
    assert 'class="mq-topbar"' in text and "mq-sidebar" in text and "诉求列表" in _menu(text)
    appeal = make_appeal(t["a1"])
    printed = client.get(f"/appealview/print/{appeal.id}/register").get_data(as_text=True)
    assert "mq-print-bar" in printed and "民情通" in printed


def test_the_user_menu_offers_profile_password_and_logout(client):
    t = tree()
    login(client, make_user("GridWorker", t["a1"]))
    page = _home(client)
    user_menu = page.split('id="mq-user"', 1)[1].split("</li>\n</ul>", 1)[0]
    for href, word in (("/users/userinfo/", "个人信息"), ("/resetmypassword/form", "修改密码"), ("/logout/", "退出")):
        assert href in user_menu and word in user_menu


def test_the_menu_kept_per_permission_set_follows_a_changed_grant_at_once(client, sm):
    """The visible menu is kept per set of grants and language (no permission checks per page):
    a grant taken away, or given back, shows on the next page, with no restart."""
    t = tree()
    login(client, make_user("Clerk", t["ta"]))
    assert "从Excel导入" in _menu(_home(client))
    assert "从Excel导入" in _menu(_home(client))  # the kept menu
    role, pv = sm.find_role("Clerk"), sm.find_permission_view_menu("menu_access", "Import from Excel")
    sm.del_permission_role(role, pv)
    db.session.commit()
    try:
        assert "从Excel导入" not in _menu(_home(client))
    finally:
        sm.add_permission_role(role, pv)
        db.session.commit()
    assert "从Excel导入" in _menu(_home(client))
    client.get("/lang/en")  # the same grants in another language: its own menu
    menu = _menu(_home(client))
    assert "Import from Excel" in menu and "从Excel导入" not in menu
    client.get("/lang/zh")
    assert "从Excel导入" in _menu(_home(client))
