"""In a real browser: a township leader sets up a quarter's 百分制考核 of the township's villages,
computes it, publishes it (locked afterwards) and opens the points behind a score."""

import datetime as dt
import re


def test_a_leader_computes_and_publishes_a_quarter_s_assessment(as_user, server):
    leader = as_user("leader")
    page = leader.go("/assessmentroundview/add")
    leader.pick("grid", "城关")
    page.select_option("#team_level", label="村/社区")
    page.fill("#year", str(dt.date.today().year))
    page.select_option("#period", value="q" + str((dt.date.today().month - 1) // 3 + 1))
    leader.shot("37-assessment-add")
    with page.expect_navigation():
        page.click("button[type=submit]")
    page.wait_for_load_state()
    assert "/assessmentroundview/add" not in page.url, page.locator(".help-block, .alert").all_inner_texts()
    page = leader.go("/assessmentroundview/list/")
    href = page.locator("a[href*='/assessmentroundview/show/']").first.get_attribute("href")
    pk = re.search(r"/show/(\d+)", href).group(1)
    page = leader.go(f"/assessmentroundview/show/{pk}")
    page.on("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        page.click("#mq-compute")
    page.wait_for_load_state()
    assert page.locator(".alert-success").count() == 1
    assert page.locator("a[href*='/assessmentroundview/breakdown/']").count() >= 2  # a score per village
    with page.expect_navigation():
        page.click("#mq-publish")
    page.wait_for_load_state()
    body = page.content()
    assert page.locator("#mq-publish").count() == 0 and page.locator("#mq-compute").count() == 0
    leader.shot("37-assessment-published")
    assert "已发布" in body
    breakdown = page.locator("a[href*='/assessmentroundview/breakdown/']").first.get_attribute("href")
    page = leader.go(breakdown)
    assert "满分" in page.content() or "得分" in page.content()
    # published: an edit is refused with the reason, nothing changes
    page = leader.go(f"/assessmentroundview/edit/{pk}")
    page.fill("#note", "发布后再改")
    with page.expect_navigation():
        page.click("button[type=submit]")
    page.wait_for_load_state()
    assert "已发布" in " ".join(page.locator(".alert, .help-block").all_inner_texts())
    page = leader.go(f"/assessmentroundview/show/{pk}")
    assert "发布后再改" not in page.content()
