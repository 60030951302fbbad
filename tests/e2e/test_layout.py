"""The layout in Chromium (issue 17, defect 8): for each demo role, its landing page and one of
its lists at 1366 px and on a 390 px phone: no horizontal overflow, a menu whose entries never
wrap, no English outside the data; on the phone a drawer menu and the lists as cards."""

import re

import pytest

# the page's own words (menu, bar, breadcrumb, titles, buttons, column heads), not its data
CHROME = ".mq-topbar, .mq-sidebar, .mq-breadcrumb, h1, h2, h3, h4, th, .btn, label, .panel-heading, .nav-pills"
ALLOWED = {"Excel", "ID"}  # 导出Excel, 身份证号码 (ID)
ENGLISH = re.compile(r"[A-Za-z]{2,}")

ROLES = {  # username -> (landing path it ends on, one list)
    "clerk": ("/", "/appealview/list/"),
    "gridworker": ("/", "/visitview/list/"),
    "leader": ("/dashboard/", "/accountability/?preset=year"),
    "rep": ("/", "/contactrecordview/list/"),
    "e2eadmin": ("/dashboard/", "/appealview/list/"),
}


@pytest.fixture(scope="module")
def admin(server):
    """An IT administrator (the demo has none: `flask minqing init` prints its password)."""
    app = server["app"]
    with app.app_context():
        sm = app.appbuilder.sm
        if sm.find_user(username="e2eadmin") is None:
            sm.add_user(
                "e2eadmin", "信息管理员", "", "e2eadmin@minqing.local", [sm.find_role("Admin")], server["password"]
            )
    return "e2eadmin"


def _check(session, label):
    page = session.page
    state = page.evaluate(
        """(chrome) => ({
            scroll: document.scrollingElement.scrollWidth,
            inner: window.innerWidth,
            bar: document.querySelector('.mq-topbar').offsetHeight,
            wrapped: [...document.querySelectorAll('#mq-sidebar .mq-menu a')]
                .filter(a => a.offsetHeight > 46).map(a => a.innerText),
            words: [...document.querySelectorAll(chrome)].map(e => e.innerText).join(' '),
        })""",
        CHROME,
    )
    assert state["scroll"] <= state["inner"], f"{label}: {state['scroll']}px wide in {state['inner']}px"
    assert state["bar"] == 50, f"{label}: the top bar wraps ({state['bar']}px)"
    assert state["wrapped"] == [], f"{label}: menu entries wrap: {state['wrapped']}"
    english = set(ENGLISH.findall(state["words"])) - ALLOWED
    assert not english, f"{label}: English words {english}"


@pytest.mark.parametrize("username", list(ROLES))
def test_each_role_at_1366_px(as_user, admin, username):
    landing, listing = ROLES[username]
    session = as_user(username, width=1366, height=900)
    page = session.go("/")
    assert page.url.split("?")[0].endswith(landing), page.url
    assert page.locator("#mq-sidebar").is_visible()
    first = page.locator("#mq-sidebar [data-mq-menu]").first.get_attribute("data-mq-menu")
    assert first == "My work"  # 我的工作 first in every menu
    _check(session, f"{username} home")
    if username == "clerk":
        session.shot("30-clerk-home-layout")
    page = session.go(listing)
    _check(session, f"{username} {listing}")
    assert page.locator("#mq-sidebar li.active").count() >= 1  # the menu marks where the user is
    assert page.locator("#mq-breadcrumb li").count() >= 2
    if username == "e2eadmin":
        session.shot("31-admin-layout-1366", full_page=False)
        # collapsed to icons, remembered on the next page
        page.click("#mq-menu-toggle")
        assert page.locator("body.mq-collapsed").count() == 1
        page = session.go("/mywork/")
        assert page.locator("body.mq-collapsed").count() == 1
        _check(session, "admin, menu collapsed")
        page.click("#mq-menu-toggle")


@pytest.mark.parametrize("username", list(ROLES))
def test_each_role_on_a_390_px_phone(as_user, admin, username):
    landing, listing = ROLES[username]
    session = as_user(username, width=390, height=844)
    page = session.go("/")
    _check(session, f"{username} phone home")
    sidebar = page.locator("#mq-sidebar")
    assert not sidebar.is_visible()  # a drawer, closed
    page.click("#mq-menu-toggle")
    sidebar.wait_for(state="visible")
    page.wait_for_timeout(250)  # the drawer slides in
    box = sidebar.bounding_box()
    assert box["x"] >= -1 and box["x"] + box["width"] <= 390
    _check(session, f"{username} phone drawer")
    if username == "gridworker":
        session.shot("32-gridworker-phone-drawer", full_page=False)
    page.click("#mq-backdrop", position={"x": 370, "y": 400})
    sidebar.wait_for(state="hidden")
    page = session.go(listing)
    _check(session, f"{username} phone {listing}")
    cards = page.locator("table.mq-cards")
    if page.locator(".table-responsive > table.table tbody tr").count():
        assert cards.count() >= 1, "the list is not shown as cards"
        assert not page.locator("table.mq-cards > thead").first.is_visible()
        label = page.locator("table.mq-cards td[data-label]").first.get_attribute("data-label")
        assert label and not ENGLISH.search(label)
    if username == "gridworker":
        session.shot("33-gridworker-phone-visit-cards", full_page=False)
    if username == "leader":
        session.shot("34-leader-phone-accountability", full_page=False)


def test_my_work_and_the_representatives_home(as_user, server):
    rep = as_user("rep", width=1366, height=900)
    page = rep.go("/")
    assert page.locator("#mq-rep-home [data-mq-rep-done]").count() >= 1
    target = page.locator("#mq-rep-home [data-mq-rep-target]").first.inner_text()
    assert int(target) == server["app"].config["REPRESENTATIVE_YEARLY_CONTACTS"]
    rep.shot("35-representative-home")
    clerk = as_user("clerk", width=1366, height=900)
    page = clerk.go("/mywork/")
    figure = page.locator("[data-mq-work=unassigned]")
    count = int(figure.locator("[data-mq-count]").inner_text())
    with page.expect_navigation():
        figure.click()
    assert "unassigned=1" in page.url
    assert re.search(r"记录数目:\s*" + str(count) + r"\b", page.locator(".well").first.inner_text())
    clerk.shot("36-clerk-my-work")
