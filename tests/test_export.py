"""Excel out: every list exports what the user sees (filters, scope), safely."""

import io

from openpyxl import load_workbook
from sqlalchemy import select

from app.extensions import db
from app.models.audit import AuditLog
from app.services.excel import safe_cell
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
