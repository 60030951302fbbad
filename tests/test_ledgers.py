"""Exports usable as ledgers (台账): the appeal export carries the reply, when it was given, the
reporter's judgement, the work unit and (for who may read it) the ID number; import templates
offer drop-down lists for their choice columns."""

import io

from openpyxl import load_workbook

from app.core.sensitive import mask_id_number
from app.models.lookups import AppealCategory, AppealChannel
from tests.conftest import login
from tests.factories import lookup, make_appeal, make_user
from tests.masking_probe import _id_number

ID_NUMBER = _id_number(16)


def _rows(response):
    assert response.status_code == 200
    ws = load_workbook(io.BytesIO(response.data)).active
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    return [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]


def test_the_appeal_export_is_a_ledger_with_masking_per_role(client, world):
    make_appeal(world["a1"], status="evaluated", at="2026-03-02 09:00", reporter_name="甲一群众",
                reporter_unit="甲一村委会", reporter_id_number=ID_NUMBER)  # fmt: skip
    login(client, make_user("Clerk", world["ta"]))
    (row,) = _rows(client.get("/appealview/export/"))
    assert row["工作单位"] == "甲一村委会" and row["身份证号码"] == ID_NUMBER
    assert row["答复"] == "已办理" and row["满意度"] == "满意" and row["反馈时间"] is not None
    assert str(row["反馈时间"]).startswith("2026-03-02") and row["填表人"] == "测试录入员"
    login(client, make_user("Leader", world["ta"]))  # reads appeals, not personal numbers
    (row,) = _rows(client.get("/appealview/export/"))
    assert row["身份证号码"] == mask_id_number(ID_NUMBER) != ID_NUMBER and row["答复"] == "已办理"


def test_import_templates_offer_drop_down_lists_for_choice_columns(client, world):
    login(client, make_user("Admin"))
    wb = load_workbook(io.BytesIO(client.get("/import/template/appeals").data))
    sheet = wb.worksheets[0]
    header = [str(c.value).rstrip("*") for c in sheet[1]]
    lists = wb["lists"]
    assert lists.sheet_state == "hidden"
    offered = {}
    for check in sheet.data_validations.dataValidation:
        column = str(check.sqref).split(":")[0].rstrip("0123456789")
        name = header[ord(column) - ord("A")]
        letter = check.formula1.split("$")[1]
        offered[name] = [c.value for c in lists[letter] if c.value is not None]
    assert offered["重要程度"] == ["一般", "重要"]
    assert offered["满意度"] == ["满意", "基本满意", "不满意"]
    assert "已归档" in offered["状态"]
    assert lookup(AppealChannel).name in offered["收集渠道"] and lookup(AppealCategory).name in offered["类别"]
    people = load_workbook(io.BytesIO(client.get("/import/template/people").data)).worksheets[0]
    assert len(people.data_validations.dataValidation) == 3  # gender, kind, active
