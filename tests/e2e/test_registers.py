"""In a real browser, the register designer (issue 19): the IT administrator designs a new
register (巡查登记簿) with fields of six types, the township's clerk records entries and sees
every mistake of a refused form at once, another township's clerk sees none of it (list, API,
Excel), the administrator adds and removes a field while entries exist, and the register's
Excel import and prints work."""

import datetime as dt
import io
import re

from openpyxl import load_workbook
from sqlalchemy import select

from app.models.grids import Grid
from tests.e2e.test_settings_page import USERNAME, _admin

CODE = "patrol"
NAME = "安全巡查登记簿"
LIST = f"/registers/{CODE}/list/"


def _submit(page, selector="button[type=submit]"):
    with page.expect_navigation():
        page.click(selector)
    page.wait_for_load_state()
    return page


def _add_field(admin, register_id, code, label, kind, **options):
    page = admin.go(f"/registerfields/add?_flt_0_register={register_id}")
    page.fill("#code", code)
    page.fill("#label", label)
    page.select_option("#type", kind)
    for name, value in options.items():
        if value is True:
            page.check(f"#{name}")
        elif name == "new_values":
            page.fill("#new_values", "\n".join(value))
        else:
            page.fill(f"#{name}", str(value))
    return _submit(page)


def _design(admin):
    page = admin.go("/registerdesign/list/")
    assert "台账设计" in page.content()
    page = admin.go("/registerdesign/add")
    page.fill("#code", CODE)
    page.fill("#name", NAME)
    page.fill("#menu_group", "台账")
    page.fill("#description", "村（社区）安全巡查、隐患排查记录")
    page = _submit(page)
    assert "/registerdesign/show/" in page.url, page.content()[:3000]
    register_id = int(re.search(r"/show/(\d+)", page.url).group(1))
    _add_field(admin, register_id, "day", "巡查日期", "date", position=1, required=True, filterable=True,
               sortable=True, in_list=True)  # fmt: skip
    _add_field(admin, register_id, "patroller", "巡查人", "text", position=2, required=True, in_list=True,
               filterable=True)  # fmt: skip
    _add_field(admin, register_id, "kind", "巡查类型", "choice", position=3, in_list=True, filterable=True,
               new_values=["治安巡逻", "消防检查", "防汛巡查"])  # fmt: skip
    _add_field(admin, register_id, "people", "参加人数", "integer", position=4, in_list=True, min_value=1,
               max_value=50)  # fmt: skip
    _add_field(admin, register_id, "phone", "联系电话", "phone", position=5)
    page = _add_field(admin, register_id, "hazard", "发现隐患", "boolean", position=6, in_list=True)
    return register_id


def _village(server, township, prefix):
    """A village of the demo township (its id for the form, its code for Excel)."""
    with server["app"].app_context():
        from app.extensions import db

        town = db.session.scalar(select(Grid).where(Grid.name == township))
        village = db.session.scalar(
            select(Grid).where(Grid.path.startswith(town.path), Grid.id != town.id, Grid.name.startswith(prefix))
            .order_by(Grid.path)
        )  # fmt: skip
        return village.name, village.code


def _token(session, username, password):
    response = session.context.request.post(
        session.url + "/api/v1/security/login",
        data={"username": username, "password": password, "provider": "db", "refresh": False},
    )
    assert response.ok, response.text()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _entry(clerk, day, patroller, kind, people, phone="", hazard=False, village=None):
    page = clerk.go(LIST)  # as a clerk does: the list, then "+"
    with page.expect_navigation():
        page.locator(f"a[href$='/registers/{CODE}/add']").first.click()
    if village:
        clerk.pick("grid", village)
    page.locator("#day").press_sequentially(day.isoformat())  # typed: the date picker reads keys
    page.keyboard.press("Escape")
    page.fill("#patroller", patroller)
    page.select_option("#kind", label=kind)
    page.fill("#people", str(people))
    page.fill("#phone", phone)
    if hazard:
        page.check("#hazard")
    return page


def _action(page, row_text, action):
    """Tick the field `row_text` in the list and run `action` (with its confirmation)."""
    page.locator("tr", has_text=row_text).locator("input[type=checkbox]").check()
    page.click(".dropdown-toggle:has-text('操作')")
    page.click(f".dropdown-menu a:has-text('{action}')")
    ok = page.locator("#modal-confirm-ok:visible")  # the page holds two such dialogs
    ok.wait_for()
    with page.expect_navigation():
        ok.click()
    page.locator(".alert-success").wait_for()  # after the action's redirect
    return page


def test_admin_designs_a_register_and_clerks_use_it(as_user, server):
    today = dt.date.today()
    password = server["password"]
    _admin(server)
    admin = as_user(USERNAME)

    # 1. the Admin designs the register in the browser
    register_id = _design(admin)
    page = admin.go(f"/registerdesign/edit/{register_id}")
    page.fill("#date_field", "day")  # the date that places an entry in a period
    _submit(page)
    page = admin.go(f"/registerdesign/show/{register_id}")
    page.click("a[href='#RegisterFieldView']")
    fields = page.locator("#RegisterFieldView table").inner_text()
    for label in ("巡查日期", "巡查人", "巡查类型", "参加人数", "联系电话", "发现隐患"):
        assert label in fields
    admin.shot("21-designer-fields")
    page = admin.go("/registerdesign/list/")
    assert NAME in page.content() and "台账名称" in page.content()
    admin.shot("20-designer-list")
    # it is granted to the Clerk role when created: the role screen shows the grant
    page = admin.go("/roles/list/?_flt_0_name=Clerk")
    page.locator("a[href*='/roles/edit/']").first.click()
    page.wait_for_load_state()
    granted = page.locator("#permissions option[selected]").all_inner_texts()
    assert sum(f"Register:{CODE}" in g for g in granted) == 2, granted  # read and write

    # 2. the township clerk records two entries; a third is refused with every problem at once
    village, village_code = _village(server, "城关镇", "")
    clerk = as_user("clerk")
    assert NAME in clerk.go("/").content()  # in the clerk's menu
    page = _entry(clerk, today, "", "治安巡逻", 99, phone="12", village=village)
    page = _submit(page)
    assert "3 处问题" in page.content(), page.locator(".container").first.inner_text()
    errors = page.locator("#model_form .alert-danger").all_inner_texts()  # each at its field
    assert len(errors) == 3 and "请填写巡查人" in errors[0], errors
    assert "不能大于 50" in errors[1] and "不是有效的电话号码" in errors[2], errors
    clerk.shot("22-register-form-errors")
    for patroller, kind, people, hazard in (("张建国", "治安巡逻", 3, False), ("李卫东", "消防检查", 2, True)):
        page = _entry(clerk, today - dt.timedelta(days=people), patroller, kind, people, "13812345678", hazard)
        page = _submit(page)
        assert "/registers/patrol/" in page.url and "巡查人" not in page.locator(".alert-danger").all_inner_texts()
    page = clerk.go(LIST)
    listing = page.locator("table").last.inner_text()
    assert "张建国" in listing and "李卫东" in listing and "消防检查" in listing
    assert page.content().count("/registers/patrol/show/") == 2
    clerk.shot("23-register-list")
    headers = _token(clerk, "clerk", password)
    assert clerk.context.request.get(f"{clerk.url}/api/v1/registers/{CODE}/", headers=headers).json()["count"] == 2

    # 3. another township's clerk sees none of them: list, API, Excel export
    clerk2 = as_user("clerk2")
    page = clerk2.go(LIST)
    assert page.url.endswith(LIST) and "张建国" not in page.content() and "李卫东" not in page.content()
    headers2 = _token(clerk2, "clerk2", password)
    listed = clerk2.context.request.get(f"{clerk2.url}/api/v1/registers/{CODE}/", headers=headers2)
    assert listed.status == 200 and listed.json()["count"] == 0
    mine = clerk.context.request.get(f"{clerk.url}/api/v1/registers/{CODE}/", headers=headers).json()["ids"][0]
    assert clerk2.context.request.get(f"{clerk2.url}/api/v1/registers/{CODE}/{mine}", headers=headers2).status == 404
    export = clerk2.context.request.get(f"{clerk2.url}/registers/{CODE}/export/")
    assert export.status == 200
    sheet = load_workbook(io.BytesIO(export.body())).active
    cells = [str(c.value) for row in sheet.iter_rows() for c in row]
    assert "巡查人" in cells and not any(name in cells for name in ("张建国", "李卫东"))
    export = clerk.context.request.get(f"{clerk.url}/registers/{CODE}/export/")
    cells = [str(c.value) for row in load_workbook(io.BytesIO(export.body())).active.iter_rows() for c in row]
    assert "张建国" in cells and "李卫东" in cells  # the export itself works

    # 4. the Admin adds a field and removes one while entries exist
    _add_field(admin, register_id, "result", "处理结果", "text", position=7, in_list=True)
    page = admin.go(f"/registerdesign/show/{register_id}")
    page.click("a[href='#RegisterFieldView']")
    _action(page, "联系电话", "移除")
    assert "已移除 1 个字段" in page.locator(".alert-success").inner_text()
    page = clerk.go(LIST)
    header = page.locator("table").last.locator("thead").inner_text()
    assert "处理结果" in header and "联系电话" not in header and "巡查人" in header
    listing = page.locator("table").last.inner_text()
    assert "张建国" in listing and "李卫东" in listing  # the entries keep their data
    show = page.locator("a[href*='/registers/patrol/show/']").first.get_attribute("href")
    page = clerk.go(show)
    assert "联系电话" not in page.content() and "处理结果" in page.content()
    with page.expect_navigation():
        page.click("#mq-edit-entry")  # the new field, filled in on an old entry
    page.fill("#result", "已整改")
    page = _submit(page)
    assert "已整改" in clerk.go(LIST).locator("table").last.inner_text()
    # restored, the removed field shows its kept values again
    page = admin.go(f"/registerdesign/show/{register_id}")
    page.click("a[href='#RegisterFieldView']")
    _action(page, "联系电话", "恢复")
    page = clerk.go(show)
    assert "联系电话" in page.content() and "13812345678" in page.content()

    # 5. Excel import (the template, filled in with openpyxl) and the prints
    page = clerk.go(f"/registers/{CODE}/import/")
    with page.expect_download() as download:
        page.click("#mq-register-template")
    assert download.value.suggested_filename.endswith(".xlsx"), download.value.suggested_filename
    template = load_workbook(io.BytesIO(open(download.value.path(), "rb").read()))
    sheet = template.worksheets[0]
    columns = [str(c.value).rstrip("*") for c in sheet[1]]
    values = {"网格": village_code, "巡查日期": today.isoformat(), "巡查人": "王志强", "巡查类型": "防汛巡查",
              "参加人数": 4, "联系电话": "13912345678", "发现隐患": "否", "处理结果": "河堤无险情"}  # fmt: skip
    sheet.delete_rows(2, sheet.max_row)
    sheet.append([values.get(c) for c in columns])
    buffer = io.BytesIO()
    template.save(buffer)
    page.set_input_files(
        "form.mq-import input[type=file]",
        files=[{"name": "巡查.xlsx", "mimeType": "application/octet-stream", "buffer": buffer.getvalue()}],
    )
    page = _submit(page, "form.mq-import button[type=submit]")
    assert page.url.split("?")[0].endswith(LIST), page.content()[:3000]
    assert "王志强" in page.locator("table").last.inner_text()
    assert page.content().count("/registers/patrol/show/") == 3
    page = clerk.go(show)
    page = clerk.go(page.get_attribute("#mq-print-entry", "href"))  # it opens in a new tab
    assert NAME in page.content() and "巡查人" in page.content() and "/print/" in page.url
    clerk.shot("24-register-print")
    page = clerk.go(f"/registers/{CODE}/print_list/")
    for name in ("张建国", "李卫东", "王志强"):
        assert name in page.content()
    page = clerk.go(f"/registers/{CODE}/summary/")
    assert page.locator("#mq-register-total").inner_text().strip() == "3"
    clerk.shot("25-register-summary")
