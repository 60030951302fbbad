"""Excel in, the later kinds: representatives (代表名册) and historical appeals (历史诉求).

Each: the template, a happy path checked in the database, a file with bad rows
refused as a whole (row counts of every table touched unchanged, the exact
row/column/message on the page and from the CLI), and the user's scope.
"""

import datetime as dt
import io

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from app.core import clock
from app.extensions import db
from app.models.appeals import Appeal, AppealCounter, AppealEvent
from app.models.personnel import Person
from app.models.representatives import Constituency, Representative, constituency_grids
from app.services import appeals as appeal_service
from app.services.validators import id_check_char
from tests.conftest import login
from tests.factories import make_appeal, make_constituency, make_person, make_user, tree

TODAY = dt.datetime(2026, 3, 10, 9, 0)
GOOD_ID = "41010219800101002" + id_check_char("41010219800101002")
BAD_ID = GOOD_ID[:17] + ("0" if GOOD_ID[17] != "0" else "1")


@pytest.fixture
def frozen():
    with clock.frozen(TODAY):
        yield


def _xlsx(rows):
    wb = Workbook()
    for row in rows:
        wb.active.append(row)
    buffer = io.BytesIO()
    wb.save(buffer)
    buffer.seek(0)
    return buffer


def _upload(client, kind, rows):
    return client.post(
        "/import/upload", data={"kind": kind, "file": (_xlsx(rows), "data.xlsx")}, content_type="multipart/form-data"
    )


def _count(table):
    return db.session.scalar(select(func.count()).select_from(table))


def _errors(response):
    """The error table of the import page as [(row, column, message)]."""
    import re

    body = response.get_data(as_text=True)
    table = body.split('id="mq-import-errors"', 1)[1].split("</table>", 1)[0]
    cells = re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td></tr>", table)
    return [(int(r), c, m.replace("&#34;", '"').replace("&#39;", "'")) for r, c, m in cells]


# --------------------------------------------------------------------------
# Templates
# --------------------------------------------------------------------------


def test_templates_download_with_chinese_headers_example_and_notes(client):
    login(client, make_user("Admin"))
    expected = {
        "representatives": ["姓名*", "电话", "性别", "工作单位", "职务", "代表级别*", "选区*", "覆盖网格编码"],
        "appeals": ["登记编号", "登记日期*", "反映人*", "家庭住址", "工作单位", "电话", "身份证号码", "民情民意事项*"],
    }
    for kind, head in expected.items():
        response = client.get(f"/import/template/{kind}")
        assert response.status_code == 200
        assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        disposition = response.headers["Content-Disposition"]
        assert disposition.startswith("attachment;") and ".xlsx" in disposition
        wb = load_workbook(io.BytesIO(response.data))
        sheet, notes, choices = wb.worksheets  # the choice columns' drop-down values on a hidden sheet
        assert choices.sheet_state == "hidden"
        assert [c.value for c in sheet[1]][: len(head)] == head
        assert any(c.value for c in sheet[2])  # the example row
        assert notes.title == "填表说明" and notes.max_row > len(head)
    from urllib.parse import quote

    for kind, name in {"representatives": "代表名册", "appeals": "历史诉求"}.items():
        assert quote(name) in client.get(f"/import/template/{kind}").headers["Content-Disposition"]


def test_the_example_rows_of_the_templates_are_valid_input(client, frozen):
    """A clerk who uploads the template as downloaded (codes fixed) gets it imported."""
    t = tree()
    login(client, make_user("Clerk", t["ta"]))
    rows = [list(r) for r in load_workbook(io.BytesIO(client.get("/import/template/appeals").data)).active.values]
    rows[1][rows[0].index("网格编码*")] = "TA1"
    rows[1][0] = None  # a number of 2023 would be fine too, but keep the test month-independent
    response = _upload(client, "appeals", rows)
    assert response.status_code == 200, _errors(response)


# --------------------------------------------------------------------------
# Representatives
# --------------------------------------------------------------------------

REP_HEADER = [
    "姓名",
    "电话",
    "性别",
    "单位",
    "代表级别",
    "选区",
    "覆盖网格编码",
    "任期起（年）",
    "任期止（年）",
    "在任",
]


def test_representatives_import_reuses_people_and_makes_constituencies(client):
    t = tree()
    known = make_person(t["a1"], name="张代表", phone="13900000001")
    make_person(t["a1"], name="张代表", phone="13900000002")  # same name: the phone tells them apart
    existing = make_constituency([t["a2"]], name="第二选区")
    login(client, make_user("Clerk", t["ta"]))
    people_before = _count(Person)
    rows = [
        [
            "姓名",
            "电话",
            "性别",
            "工作单位",
            "代表级别",
            "选区",
            "覆盖网格编码",
            "任期起（年）",
            "任期止（年）",
            "在任",
        ],
        ["张代表", "13900000001", "", "", "乡镇", "第一选区", "TA1、TA1a", 2021, 2026, "是"],
        ["新代表", "13900000009", "女", "甲一村村委会", "县级", "第一选区", "", 2021, 2026, ""],
        ["老代表", "", "男", "", "乡镇", "第二选区", "", 2016, 2021, "否"],
    ]
    response = _upload(client, "representatives", rows)
    assert response.status_code == 200 and "已导入 3 行" in response.get_data(as_text=True)
    reps = {r.person.name: r for r in db.session.scalars(select(Representative))}
    assert set(reps) == {"张代表", "新代表", "老代表"}
    assert reps["张代表"].person_id == known.id and reps["张代表"].level == "township"
    first = reps["张代表"].constituency
    assert first.name == "第一选区" and first.grid_id == t["a1"].id
    assert sorted(g.code for g in first.grids) == ["TA1", "TA1a"]
    assert reps["新代表"].constituency_id == first.id and reps["新代表"].level == "county"
    new = reps["新代表"].person
    assert (new.gender, new.phone, new.unit, new.grid_id) == ("F", "13900000009", "甲一村村委会", t["a1"].id)
    assert new.kind.name == "人大代表"
    assert reps["老代表"].constituency_id == existing.id and reps["老代表"].active is False
    assert (reps["老代表"].term_start, reps["老代表"].term_end) == (2016, 2021)
    assert _count(Person) == people_before + 2
    assert _count(Constituency) == 2


def test_representatives_file_with_bad_rows_changes_nothing(app, client, tmp_path):
    t = tree()
    make_person(t["a1"], name="同名", phone="13900000001")
    make_person(t["a1"], name="同名", phone="13900000002")
    login(client, make_user("Clerk", t["ta"]))
    tables = (Person, Representative, Constituency, constituency_grids)
    before = [_count(x) for x in tables]
    rows = [
        REP_HEADER,
        ["好代表", "13900000003", "男", "", "乡镇", "新选区", "TA1", 2021, 2026, "是"],  # fine on its own
        ["坏网格", "", "男", "", "乡镇", "另一选区", "TA1、NOPE", 2021, 2026, ""],
        ["坏层级", "", "男", "", "省", "新选区", "TA1", 2021, 2026, ""],
        ["同名", "", "", "", "乡镇", "新选区", "TA1", 2021, 2026, ""],
        ["坏任期", "", "", "", "乡镇", "新选区", "TA1", 2026, 2021, ""],
        ["坏电话", "123", "", "", "乡镇", "新选区", "TA1", 2021, 2026, ""],
        ["无选区", "", "", "", "乡镇", "没有的选区", "", 2021, 2026, ""],
        ["", "", "", "", "乡镇", "新选区", "TA1", 2021, 2026, ""],
    ]
    response = _upload(client, "representatives", rows)
    assert response.status_code == 422
    assert "未导入任何数据：文件中有 7 处错误" in response.get_data(as_text=True)
    assert _errors(response) == [
        (3, "覆盖网格编码", "没有编码为 NOPE 的网格。"),
        (4, "代表级别", "“省”不是允许的值，应为：乡镇、县、市。"),
        (5, "电话", "有多名人员叫“同名”，请填写电话加以区分。"),
        (6, "任期止（年）", "任期止早于任期起。"),
        (7, "电话", "“123”不是有效的电话号码（手机如 13812345678，固话如 0371-12345678）。"),
        (8, "覆盖网格编码", "没有名为“没有的选区”的选区：请填写其覆盖网格编码以新建。"),
        (9, "姓名", "此项必填。"),
    ]
    assert [_count(x) for x in tables] == before
    path = tmp_path / "reps.xlsx"
    path.write_bytes(_xlsx(rows).read())
    result = app.test_cli_runner().invoke(args=["minqing", "import", "representatives", str(path)])
    assert result.exit_code == 1
    assert "row 3  覆盖网格编码: 没有编码为 NOPE 的网格。" in result.output
    assert [_count(x) for x in tables] == before


def test_representatives_import_stays_in_the_users_scope(client):
    t = tree()
    make_person(t["b1"], name="外镇代表", phone="13900000005")
    make_constituency([t["b1"]], name="乙镇选区")
    login(client, make_user("Clerk", t["ta"]))
    before = (_count(Representative), _count(Person), _count(Constituency))
    response = _upload(
        client,
        "representatives",
        [REP_HEADER, ["甲代表", "", "", "", "乡镇", "跨镇选区", "TA1、TB1", 2021, 2026, ""],
         ["外镇代表", "13900000005", "", "", "乡镇", "乙镇选区", "", 2021, 2026, ""]],
    )  # fmt: skip
    assert response.status_code == 422
    assert _errors(response) == [
        (2, "覆盖网格编码", "没有编码为 TB1 的网格。"),
        (3, "覆盖网格编码", "没有名为“乙镇选区”的选区：请填写其覆盖网格编码以新建。"),
    ]
    assert (_count(Representative), _count(Person), _count(Constituency)) == before


# --------------------------------------------------------------------------
# Historical appeals
# --------------------------------------------------------------------------

APPEAL_HEADER = [
    "登记编号", "登记日期", "反映人", "家庭住址", "电话", "身份证号", "民情民意事项", "收集渠道", "类别", "重要程度",
    "网格编码", "办理状态", "承办单位", "办结日期", "办理结果", "满意度", "评议意见",
]  # fmt: skip


def _appeal_row(**kw):
    values = {
        "登记编号": None, "登记日期": "2026-01-16", "反映人": "李四", "家庭住址": "甲一村3组", "电话": "13712345678",
        "身份证号": None, "民情民意事项": "路灯坏了", "收集渠道": "来电", "类别": "基础设施", "重要程度": "一般",
        "网格编码": "TA1", "办理状态": "已登记", "承办单位": None, "办结日期": None, "办理结果": None, "满意度": None,
        "评议意见": None,
    }  # fmt: skip
    values.update({k.replace("_", ""): v for k, v in kw.items()})
    return [values[h] for h in APPEAL_HEADER]


def test_historical_appeals_import_with_numbers_deadlines_and_events(client, frozen):
    t = tree()
    clerk = make_user("Clerk", t["ta"])
    login(client, clerk)
    rows = [
        APPEAL_HEADER,
        # a number from the paper ledger, archived, answered within the week
        _appeal_row(
            登记编号="202601005",
            办理状态="已归档",
            承办单位="城建所",
            办结日期="2026-01-20",
            办理结果="已修好",
            满意度="满意",
            身份证号=GOOD_ID,
        ),
        # no number, important, answered late (due 2026-02-03: one calendar month), judged by the reporter: 已评议
        _appeal_row(
            登记日期=dt.date(2026, 1, 3),
            重要程度="重要",
            办理状态="已办结",
            办结日期="2026-02-10",
            办理结果="已协调",
            满意度="不满意",
            评议意见="太慢",
            电话="0371-66668888",
        ),
        # still open, handed to a unit, this month
        _appeal_row(登记日期="2026-03-01", 办理状态="办理中", 承办单位="民政所", 网格编码="TA1a"),
        # registered, overdue since its week ran out
        _appeal_row(登记日期="2026/02/20", 办理状态="", 电话=""),
    ]
    response = _upload(client, "appeals", rows)
    assert response.status_code == 200 and "已导入 4 行" in response.get_data(as_text=True)
    got = {a.reporter_phone or a.number: a for a in db.session.scalars(select(Appeal))}
    archived = db.session.scalar(select(Appeal).where(Appeal.number == "202601005"))
    assert (archived.status, archived.number_month, archived.number_seq) == ("archived", "202601", 5)
    assert archived.due_date == dt.date(2026, 1, 23) and archived.closed_on_time is True
    assert archived.satisfaction == "satisfied" and archived.archived_at is not None
    assert archived.reporter_id_number == GOOD_ID and archived.registered_at == dt.datetime(2026, 1, 16)
    late = got["0371-66668888"]
    # numbered after the claimed 005 of the same month, never below it
    assert late.number == "202601006" and late.status == "evaluated"
    assert late.due_date == dt.date(2026, 2, 3) and late.closed_on_time is False
    assert late.evaluation_comment == "太慢" and late.feedback == "已协调"
    open_ = db.session.scalar(select(Appeal).where(Appeal.status == "in_progress"))
    assert open_.number == "202603001" and open_.handler_unit == "民政所" and open_.closed_on_time is None
    assert open_.grid_id == open_.origin_grid_id == t["a1a"].id and open_.due_date == dt.date(2026, 3, 8)
    registered = db.session.scalar(select(Appeal).where(Appeal.status == "registered"))
    assert registered.number == "202602001" and appeal_service.due_state(registered) == "overdue"
    for appeal in (archived, late, open_, registered):
        assert appeal.filed_by_id == clerk.id and appeal.filed_by_name == clerk.username
        (event,) = db.session.scalars(select(AppealEvent).where(AppealEvent.appeal_id == appeal.id)).all()
        assert (event.action, event.actor_id, event.actor_name, event.at) == ("import", clerk.id, clerk.username, TODAY)
        assert event.to_status == appeal.status
    counters = dict(db.session.execute(select(AppealCounter.month, AppealCounter.last_seq)).all())
    assert counters == {"202601": 6, "202602": 1, "202603": 1}
    # the numbering goes on after the imported numbers
    assert make_appeal(t["a1"], at="2026-03-10 10:00").number == "202603002"
    page = client.get(f"/appealview/show/{archived.id}").get_data(as_text=True)
    assert "从Excel导入" in page and "按台账导入" in page


def test_historical_appeals_file_with_bad_rows_changes_nothing(app, client, frozen, tmp_path):
    t = tree()
    login(client, make_user("Clerk", t["ta"]))
    make_appeal(t["a1"], at="2026-01-05 09:00")  # 202601001
    tables = (Appeal, AppealEvent, AppealCounter)
    before = [_count(x) for x in tables]
    counters = dict(db.session.execute(select(AppealCounter.month, AppealCounter.last_seq)).all())
    rows = [
        APPEAL_HEADER,
        _appeal_row(登记编号="202601007"),  # fine on its own
        _appeal_row(电话="12345"),
        _appeal_row(身份证号=BAD_ID),
        _appeal_row(登记编号="202601001"),  # the number of an appeal registered in the system
        _appeal_row(登记编号="202601007"),  # twice in the file
        _appeal_row(登记日期="2026-03-11"),  # tomorrow
        _appeal_row(网格编码="NOPE"),
        _appeal_row(办理状态="已解决"),
        _appeal_row(民情民意事项=None),
        _appeal_row(登记编号="202602003"),  # not the month of the date
        _appeal_row(办理状态="已归档", 办结日期="2026-01-20", 办理结果="已修好"),  # no satisfaction
        _appeal_row(办理结果="已修好"),  # a reply on an open appeal
        _appeal_row(重要程度="紧急"),
        _appeal_row(收集渠道="微博"),
    ]
    response = _upload(client, "appeals", rows)
    assert response.status_code == 422
    assert "未导入任何数据：文件中有 13 处错误" in response.get_data(as_text=True)
    assert _errors(response) == [
        (3, "电话", "“12345”不是有效的电话号码（手机如 13812345678，固话如 0371-12345678）。"),
        (4, "身份证号码", f"身份证号码 {BAD_ID} 校验位不符，请逐位核对。"),
        (5, "登记编号", "登记编号 202601001 已被使用（编号不得重复使用）。"),
        (6, "登记编号", "登记编号 202601007 在文件中重复出现。"),
        (7, "登记日期", "登记日期 2026-03-11 晚于今天。"),
        (8, "网格编码", "没有编码为 NOPE 的网格。"),
        (9, "状态", "“已解决”不是允许的值，应为：已登记、已交办、办理中、已反馈、已评议、已归档。"),
        (10, "民情民意事项", "此项必填。"),
        (11, "登记编号", "登记编号 202602003 与登记月份 2026-01 不符。"),
        (12, "满意度", "请选择“满意”“基本满意”或“不满意”。"),
        (13, "答复", "尚未办结的诉求还没有答复和评议：请留空此项，或修改办理状态。"),
        (14, "重要程度", "“紧急”不是允许的值，应为：一般、重要。"),
        (15, "收集渠道", "“微博”不在收集渠道列表中。"),
    ]
    assert [_count(x) for x in tables] == before
    assert dict(db.session.execute(select(AppealCounter.month, AppealCounter.last_seq)).all()) == counters
    path = tmp_path / "appeals.xlsx"
    path.write_bytes(_xlsx(rows).read())
    result = app.test_cli_runner().invoke(args=["minqing", "import", "appeals", str(path)])
    assert result.exit_code == 1 and "13 error(s)" in result.output
    assert "row 5  登记编号: 登记编号 202601001 已被使用（编号不得重复使用）。" in result.output
    assert [_count(x) for x in tables] == before


def test_a_number_once_handed_out_is_never_imported_again(client, frozen):
    """A counter past 3 means 001–003 were handed out: even a missing one is not reused."""
    t = tree()
    login(client, make_user("Clerk", t["ta"]))
    db.session.add(AppealCounter(month="202601", last_seq=3))
    db.session.commit()
    response = _upload(client, "appeals", [APPEAL_HEADER, _appeal_row(登记编号="202601002")])
    assert _errors(response) == [(2, "登记编号", "登记编号 202601002 已被使用（编号不得重复使用）。")]
    bad_format = _upload(client, "appeals", [APPEAL_HEADER, _appeal_row(登记编号="2026010002")])
    assert _errors(bad_format)[0][1] == "登记编号" and "不是有效的登记编号" in _errors(bad_format)[0][2]


def test_historical_appeals_stay_in_the_users_scope(client, frozen):
    t = tree()
    login(client, make_user("Clerk", t["ta"]))
    before = (_count(Appeal), _count(AppealEvent), _count(AppealCounter))
    response = _upload(client, "appeals", [APPEAL_HEADER, _appeal_row(), _appeal_row(网格编码="TB1")])
    assert response.status_code == 422
    assert _errors(response) == [(3, "网格编码", "没有编码为 TB1 的网格。")]
    assert (_count(Appeal), _count(AppealEvent), _count(AppealCounter)) == before
    # roles that may not import: no page, no template, no upload
    login(client, make_user("Leader", t["ta"]))
    assert client.get("/import/template/appeals").status_code in (302, 403)
    assert _upload(client, "appeals", [APPEAL_HEADER, _appeal_row()]).status_code in (302, 403)
    assert _count(Appeal) == before[0]


def test_the_status_reached_needs_the_workflow_permissions(app):
    """Recording an archived appeal needs what archiving it would need."""
    t = tree()
    from app.core.errors import Forbidden
    from app.models.appeals import Appeal as A
    from app.models.lookups import AppealCategory, AppealChannel
    from tests.factories import lookup

    actor = appeal_service.Actor(name="网格员", permissions=frozenset({"read", "write", "handle", "evaluate"}))
    appeal = A(reporter_name="甲", content="事", grid=t["a1"], importance="general", feedback="好",
               satisfaction="satisfied", channel=lookup(AppealChannel),
               category=lookup(AppealCategory))  # fmt: skip
    with clock.frozen(TODAY), pytest.raises(Forbidden):
        appeal_service.prepare_historical_appeal(
            db.session, actor, appeal, dt.datetime(2026, 1, 2), "archived", dt.date(2026, 1, 3)
        )
    db.session.rollback()
