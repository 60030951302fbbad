"""In a real browser: a clerk opens a village's 说事日 calendar, generates it again and prints the 公示."""

import re


def test_clerk_checks_a_rota_month_and_prints_the_duty_notice(as_user, server):
    clerk = as_user("clerk")
    page = clerk.go("/rotaview/list/")
    assert "村民说事日" in page.content()
    href = page.locator("a[href*='/rotaview/show/']").first.get_attribute("href")
    pk = re.search(r"/show/(\d+)", href).group(1)
    page = clerk.go(f"/rotaview/calendar/{pk}")
    assert page.locator("#mq-rota-check").count() == 1 and page.locator(".mq-slot").count() >= 4
    with page.expect_navigation():
        page.click("text=按规则生成值班安排")
    page.wait_for_load_state()
    assert "新增 0 条" in page.content()  # generated with the demo: nothing new, nothing overwritten
    clerk.shot("20-rota-calendar")
    notice_href = page.locator("a[href*='/rotaview/notice/']").first.get_attribute("href")
    notice = clerk.go(notice_href)
    assert "值班接访公示" in notice.content() and "接待群众" in notice.content()
    clerk.shot("21-rota-notice")
