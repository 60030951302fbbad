"""In a real browser: a clerk works on grids in Chinese; a grid worker on a phone."""

import re


def test_clerk_adds_a_grid_with_the_search_picker_and_prints_its_notice(as_user, server):
    clerk = as_user("clerk")
    page = clerk.page
    assert "城关镇综治办录入员" in page.content()
    clerk.shot("01-clerk-home")
    page = clerk.go("/gridview/add")
    page.fill("#code", "410100001099")
    page.fill("#name", "新建示范村")
    page.select_option("#level", label="村/社区")
    clerk.pick("parent", "城关")
    page.fill("#households", "260")
    clerk.shot("02-clerk-add-grid")
    with page.expect_navigation():
        page.click("button[type=submit]")
    page.wait_for_load_state()
    assert "记录已添加" in page.content()
    page = clerk.go("/gridview/list/?_flt_0_name=新建示范村")
    assert "新建示范村" in page.content()
    clerk.shot("03-clerk-grid-list")
    href = page.locator("a[href*='/gridview/show/']").first.get_attribute("href")
    pk = re.search(r"/show/(\d+)", href).group(1)
    notice = clerk.go(f"/gridview/notice/{pk}")
    assert "网格责任公示牌" in notice.content() and "城关镇" in notice.content()
    clerk.shot("04-public-notice")


def test_clerk_cannot_reach_another_township(as_user, server):
    clerk = as_user("clerk")
    response = clerk.page.goto(server["url"] + "/picker/grid?q=黄河")
    assert response.status == 200 and '"results":[]' in clerk.page.content().replace(" ", "")


def test_grid_worker_on_a_phone(as_user):
    worker = as_user("gridworker", width=390, height=844)
    page = worker.go("/gridview/list/")
    assert "网格" in page.content()
    width = page.evaluate("document.documentElement.scrollWidth")
    worker.shot("05-gridworker-phone-grids")
    assert width <= 392, f"the page is {width}px wide on a 390px phone"
