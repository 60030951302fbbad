"""In a real browser at phone width (issue 17): a grid worker's visit form with bad fields shows
every problem at once; corrected, with a photo taken on the phone, it is saved and the photo's
thumbnail is on the visit's page. (The date pickers already refuse a visit in the future and a
follow-up before the visit in the browser, so the server's date checks are proved in
tests/test_visits.py; here a bad phone and a family of 0 come back together.)"""

import datetime as dt
import io

from PIL import Image


def _jpeg():
    out = io.BytesIO()
    Image.new("RGB", (64, 48), "orange").save(out, "JPEG")
    return out.getvalue()


def test_three_bad_fields_at_once_then_a_photo_from_the_phone(as_user):
    worker = as_user("gridworker", width=390, height=844)
    page = worker.go("/visitview/add")
    page.select_option("#form", index=1)
    worker.pick("grid", "胡岗")
    today = dt.date.today()
    page.fill("#visit_date", today.isoformat())
    page.keyboard.press("Escape")
    page.fill("#visited_name", "张秀兰")
    page.fill("#visited_phone", "12345")  # 1: not a phone number
    page.fill("#address", "胡岗村三组8号")
    page.fill("#family_size", "0")  # 2: at least 1
    page.fill("#situation", "独居老人，腿脚不便。")
    with page.expect_navigation():
        page.click("button[type=submit]")
    page.wait_for_load_state()
    errors = " ".join(page.locator(".help-block, .alert").all_inner_texts())
    assert "电话" in errors or "手机" in errors, errors
    assert "有 2 处问题" in errors and "家庭人数至少为1" in errors, errors
    worker.shot("38-phone-visit-three-errors")
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 392

    page.fill("#visited_phone", "13900002222")
    page.fill("#family_size", "1")
    page.fill("#visit_date", today.isoformat())
    page.keyboard.press("Escape")
    page.fill("#follow_up_date", (today + dt.timedelta(days=7)).isoformat())
    page.locator("form input[type=file]").first.set_input_files(
        {"name": "门前.jpg", "mimeType": "image/jpeg", "buffer": _jpeg()}
    )
    with page.expect_navigation():
        page.click("button[type=submit]")
    page.wait_for_load_state()
    if "/visitview/show/" not in page.url:
        page = worker.go("/visitview/list/?_flt_0_visited_name=张秀兰")
        page.locator("a[href*='/visitview/show/']").first.click()
        page.wait_for_load_state()
    thumb = page.locator("img[src*='/attachments/thumb/']")
    assert thumb.count() == 1
    thumb.first.scroll_into_view_if_needed()  # lazily loaded
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=thumb.first.element_handle())
    worker.shot("39-phone-visit-photo")
