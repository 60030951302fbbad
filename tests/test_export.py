"""Excel out: every list exports what the user sees (filters, scope), safely."""

import io

from openpyxl import load_workbook
from sqlalchemy import select

from app.core.excel import safe_cell
from app.extensions import db
from app.models.audit import AuditLog
from tests.conftest import login
from tests.factories import make_person, make_user, tree


def _rows(response):
    assert response.status_code == 200, response.status_code
    assert response.mimetype.endswith("spreadsheetml.sheet")
    ws = load_workbook(io.BytesIO(response.data)).active
    return [[c.value for c in row] for row in ws.iter_rows()]


def test_export_honours_scope_filters_and_chinese_headers(client):
    t = tree()
    make_person(t["a1"], name="导出甲", phone="13811112222")
    make_person(t["a2"], name="导出乙")
    make_person(t["b1"], name="外镇丙")
    login(client, make_user("Clerk", t["ta"]))
    rows = _rows(client.get("/personview/export/"))
    assert rows[0][:3] == ["姓名", "性别", "职务"]
    names = {r[0] for r in rows[1:]}
    assert {"导出甲", "导出乙"} <= names and "外镇丙" not in names
    filtered = _rows(client.get(f"/personview/export/?_flt_0_grid={t['a1'].id}"))
    assert {r[0] for r in filtered[1:]} == {"导出甲"}
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "export")) is not None


def test_export_neutralises_formulas(client):
    t = tree()
    make_person(t["a1"], name='=HYPERLINK("http://x")', unit="+1+1", position="@SUM(A1)")
    login(client, make_user("Clerk", t["ta"]))
    rows = _rows(client.get("/personview/export/"))
    row = next(r for r in rows if r[0] and "HYPERLINK" in r[0])
    assert row[0].startswith("'=") and row[3].startswith("'+") and row[2].startswith("'@")
    assert safe_cell("-2") == "'-2" and safe_cell(-2) == -2 and safe_cell("正常") == "正常"


def test_list_pages_offer_the_export_button(client):
    t = tree()
    login(client, make_user("Clerk", t["ta"]))
    body = client.get("/gridview/list/").get_data(as_text=True)
    assert "导出Excel" in body and "/gridview/export/" in body


def _appeal_rows(client, query=""):
    rows = _rows(client.get(f"/appealview/export/{query}"))
    header = rows[0]
    return header, [dict(zip(header, r, strict=True)) for r in rows[1:]]


def test_appeal_export_scope_filters_quick_buttons_and_masking(client):
    from tests.factories import make_appeal

    t = tree()
    make_appeal(t["a1"], reporter_name="甲一群众", reporter_phone="13811112222", at="2026-03-02 09:00")
    make_appeal(t["a2"], reporter_name="甲二群众", status="assigned", at="2026-03-03 09:00")
    make_appeal(t["b1"], reporter_name="乙镇群众", at="2026-03-04 09:00")
    login(client, make_user("Clerk", t["ta"]))
    header, rows = _appeal_rows(client)
    assert header[:4] == ["登记编号", "登记时间", "反映人", "电话"] and "状态" in header
    assert {r["反映人"] for r in rows} == {"甲一群众", "甲二群众"}  # another township's appeal is absent
    assert next(r for r in rows if r["反映人"] == "甲一群众")["电话"] == "13811112222"
    assert {r["状态"] for r in rows} == {"已登记", "已交办"}  # the label's text, not its HTML
    _h, filtered = _appeal_rows(client, f"?_flt_0_grid={t['a2'].id}")
    assert [r["反映人"] for r in filtered] == ["甲二群众"]
    _h, quick = _appeal_rows(client, "?status=assigned")  # the list's quick button
    assert [r["反映人"] for r in quick] == ["甲二群众"]
    # a leader reads appeals but holds no sensitive-data permission: phones masked
    login(client, make_user("Leader", t["ta"]))
    _h, rows = _appeal_rows(client)
    assert next(r for r in rows if r["反映人"] == "甲一群众")["电话"] == "138****2222"
    assert "乙镇群众" not in {r["反映人"] for r in rows}


def test_visit_export_masks_what_the_user_may_not_read(client):
    from tests.factories import make_visit

    t = tree()
    colleague = make_person(t["a1"], name="同事")
    make_visit(t["a1"], [colleague], visited_name="甲户", problems="家里漏雨", visited_phone="13800001111")
    make_visit(t["b1"], [make_person(t["b1"])], visited_name="乙户", problems="外镇的事")
    login(client, make_user("GridWorker", t["a1"]))
    rows = _rows(client.get("/visitview/export/"))
    assert rows[0][0] == "走访日期" and "反映的问题" in rows[0]
    problems = rows[0].index("反映的问题")
    assert [(r[4], r[problems]) for r in rows[1:]] == [("甲户", "******")]
    login(client, make_user("Clerk", t["ta"]))
    rows = _rows(client.get("/visitview/export/"))
    assert [(r[4], r[problems]) for r in rows[1:]] == [("甲户", "家里漏雨")]


def test_every_list_exports_in_chinese_within_scope(client):
    from tests.factories import make_appeal, make_contact, make_representative

    t = tree()
    for grid in (t["a1"], t["b1"]):
        rep = make_representative(grid=grid, name=f"代表{grid.code}")
        make_contact(rep, place=f"{grid.code}村委会")
        make_appeal(grid)
    login(client, make_user("Clerk", t["ta"]))
    lists = {
        "/gridview/export/": "网格编码",
        "/personview/export/": "姓名",
        "/assignmentview/export/": "人员",
        "/postview/export/": "岗位",
        "/representativeview/export/": "人大代表",
        "/contactrecordview/export/": "日期",
        "/constituencyview/export/": "选区",
        "/appealcategoryview/export/": "名称",
    }
    for url, first in lists.items():
        rows = _rows(client.get(url))
        assert rows[0][0] == first, url
        assert all(any("\u4e00" <= ch <= "\u9fff" for ch in h) for h in rows[0]), (url, rows[0])
        text = " ".join(str(v) for r in rows[1:] for v in r)
        assert "TB" not in text and "乙" not in text, (url, text)
    assert {r[1] for r in _rows(client.get("/representativeview/export/"))[1:]} == {"乡镇"}
    assert [r[3] for r in _rows(client.get("/contactrecordview/export/"))[1:]] == ["TA1村委会"]


def test_the_audit_trail_exports_for_who_reads_it(client):
    t = tree()
    login(client, make_user("Admin"))
    client.get("/personview/export/")
    rows = _rows(client.get("/audit/export/"))
    assert rows[0] == ["时间", "用户", "地址", "操作", "数据表", "记录编号", "摘要"]
    assert "导出" in {r[3] for r in rows[1:]}
    assert "/audit/export/" in client.get("/audit/list/").get_data(as_text=True)
    login(client, make_user("Clerk", t["ta"]))  # clerks do not read the audit trail
    assert client.get("/audit/export/").status_code in (302, 403)
