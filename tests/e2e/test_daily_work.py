"""In a real browser, the day's work of issue 6: a clerk registers, assigns and answers an
appeal; a grid worker logs a visit on a phone and raises an appeal from it; the township
leader sees the new figures on the dashboard, clicks through to the list behind them, and
cannot see another township's data."""

import re

NUMBER = re.compile(r"\b(20\d{4}\d{3,})\b")


def _figure(page, key):
    return int(page.locator(f"[data-mq-figure={key}] .mq-num").inner_text())


def _register(session, name, content, phone="13812345678"):
    page = session.go("/appealview/add")
    page.fill("#reporter_name", name)
    page.fill("#reporter_phone", phone)
    page.fill("#reporter_address", "城关镇胡岗村三组")
    page.fill("#content", content)
    page.select_option("#channel", index=1)
    page.select_option("#category", index=1)
    return page


def _act(page, action, **fields):
    page.click(f"[data-mq-action={action}]")
    form = page.locator(f"#mq-act-{action} form")
    form.wait_for(state="visible")
    page.locator(f"#mq-act-{action}.collapse.in").wait_for()  # the panel has finished opening
    for name, value in fields.items():
        form.locator(f"[name={name}]").fill(value)
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    page.wait_for_load_state()


def test_clerk_and_leader_appeal_story(as_user, server):
    leader = as_user("leader")
    page = leader.go("/")
    assert page.url.rstrip("/").endswith("/dashboard"), page.url  # a leader's home is the dashboard
    page = leader.go("/dashboard/?preset=month")
    before = {key: _figure(page, key) for key in ("collected", "closed", "pending")}

    clerk = as_user("clerk")
    page = clerk.page
    assert "民情诉求" in page.content()  # the menus speak Chinese
    page = _register(clerk, "王秀英", "村东头路灯坏了三个月，晚上出行不便。")
    clerk.pick("grid", "城关")
    clerk.shot("06-clerk-register-appeal")
    with page.expect_navigation():
        page.click("button[type=submit]")
    page.wait_for_load_state()
    assert "/appealview/show/" in page.url, page.content()[:2000]
    number = NUMBER.search(page.locator("h1, h2, h3, .mq-number, .panel-heading").first.inner_text() + page.content())
    assert number, "the registration number is shown"
    number = number.group(1)
    assert "已登记" in page.content()
    _act(page, "assign", handler_unit="城关镇建设办", note="请三日内修复")
    assert "已交办" in page.content()
    _act(page, "feedback", reply="已更换路灯三盏，经回访群众确认已亮。")
    assert "已反馈" in page.content()
    assert page.locator("[data-mq-event=feedback]").count() == 1  # the timeline holds every step
    clerk.shot("07-clerk-appeal-answered")

    # the clerk's work shows on the leader's dashboard at once (roll-ups kept on write)
    page = leader.go("/dashboard/?preset=month")
    assert _figure(page, "collected") == before["collected"] + 1
    assert _figure(page, "closed") == before["closed"] + 1
    assert _figure(page, "pending") == before["pending"]
    assert page.locator("#mq-chart-trend").is_visible()
    page.wait_for_timeout(300)  # the charts draw after load
    leader.shot("08-leader-dashboard")
    page.click("[data-mq-figure=closed]")
    page.wait_for_load_state()
    assert "/appealview/list/" in page.url and "stat=closed" in page.url
    assert number in page.content()
    assert "仪表盘筛选" in page.locator(".mq-drill").inner_text()
    leader.shot("09-leader-list-behind-figure")

    # another township: neither its dashboard nor its appeals
    town2 = server["app"].config.get("_E2E_TOWN2_ID")
    response = leader.page.goto(f"{leader.url}/dashboard/?grid={town2}")
    assert response.status == 404
    leader.errors.remove("Failed to load resource: the server responded with a status of 404 (NOT FOUND)")
    page = leader.go("/appealview/list/?_flt_0_reporter_name=")
    assert "黄河街道" not in page.locator("table").first.inner_text()
    page = leader.go("/accountability/?preset=year")
    assert "城关镇" in page.content() and "黄河街道" not in page.content()
    leader.shot("10-leader-accountability")


def test_grid_worker_logs_a_visit_on_a_phone_and_raises_an_appeal(as_user):
    worker = as_user("gridworker", width=390, height=844)
    page = worker.go("/visitview/add")
    page.select_option("#form", index=1)
    worker.pick("grid", "胡岗")
    page.fill("#visited_name", "李德明")
    page.fill("#address", "胡岗村二组12号")
    page.fill("#family_size", "4")
    page.fill("#situation", "老两口带两个孙子生活，儿子在外打工。")
    page.fill("#problems", "房后排水沟堵塞，下雨天院子进水。")
    width = page.evaluate("document.documentElement.scrollWidth")
    worker.shot("11-gridworker-phone-visit-form")
    assert width <= 392, f"the visit form is {width}px wide on a 390px phone"
    with page.expect_navigation():
        page.click("button[type=submit]")
    page.wait_for_load_state()
    assert "记录已添加" in page.content() or "/visitview/show/" in page.url, page.content()[:2000]
    if "/visitview/show/" not in page.url:
        page = worker.go("/visitview/list/?_flt_0_visited_name=李德明")
        page.locator("a[href*='/visitview/show/']").first.click()
        page.wait_for_load_state()
    page.click("#mq-raise-appeal")
    page.wait_for_load_state()
    assert page.input_value("#reporter_name") == "李德明"  # prefilled from the visit
    assert "排水沟" in page.input_value("#content")
    page.select_option("#channel", index=1)
    page.select_option("#category", index=1)
    width = page.evaluate("document.documentElement.scrollWidth")
    worker.shot("12-gridworker-phone-raise-appeal")
    assert width <= 392, f"the appeal form is {width}px wide on a 390px phone"
    with page.expect_navigation():
        page.click("button[type=submit]")
    page.wait_for_load_state()
    assert "/appealview/show/" in page.url, page.content()[:2000]
    assert "李德明" in page.content()
    page = worker.go("/appealview/list/")
    width = page.evaluate("document.documentElement.scrollWidth")
    worker.shot("13-gridworker-phone-appeal-list")
    assert width <= 392, f"the appeal list is {width}px wide on a 390px phone"
