"""Excel in: templates, all-or-nothing imports with per-row errors, scope, the CLI."""

import io

from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from app.extensions import db
from app.models.grids import Grid
from app.models.personnel import Assignment, Person
from tests.conftest import login
from tests.factories import make_person, make_user, tree


def _xlsx(rows):
    wb = Workbook()
    for row in rows:
        wb.active.append(row)
    buffer = io.BytesIO()
    wb.save(buffer)
    buffer.seek(0)
    return buffer


def _count(model):
    return db.session.scalar(select(func.count()).select_from(model))


def _upload(client, kind, rows):
    return client.post(
        "/import/upload",
        data={"kind": kind, "file": (_xlsx(rows), "data.xlsx")},
        content_type="multipart/form-data",
    )


def test_templates_have_chinese_headers_and_an_example(client):
    login(client, make_user("Admin"))
    for kind in ("grids", "people", "posts", "assignments"):
        response = client.get(f"/import/template/{kind}")
        assert response.status_code == 200
        wb = load_workbook(io.BytesIO(response.data))
        header = [c.value for c in wb.worksheets[0][1]]
        example = [c.value for c in wb.worksheets[0][2]]
        assert all(h for h in header) and any(example)
        assert any("\u4e00" <= ch <= "\u9fff" for h in header for ch in h)
    grids = load_workbook(io.BytesIO(client.get("/import/template/grids").data)).worksheets[0]
    assert [c.value for c in grids[1]][:4] == ["网格编码*", "网格名称*", "层级*", "上级网格编码"]


def test_grids_with_parents_in_the_same_file_import_with_right_paths(client):
    t = tree()
    login(client, make_user("Clerk", t["ta"]))
    rows = [
        ["网格编码", "网格名称", "层级", "上级网格编码", "户数"],
        ["TA3a", "甲三村一组", "村组/楼院/街区", "TA3", 40],  # child before its parent
        ["TA3", "甲三村", "村/社区", "TA", 300],
        ["TA3b", "甲三村二组", "村组/楼院/街区", "TA3", 35],
    ]
    response = _upload(client, "grids", rows)
    assert "已导入 3 行" in response.get_data(as_text=True)
    village = db.session.scalar(select(Grid).where(Grid.code == "TA3"))
    group = db.session.scalar(select(Grid).where(Grid.code == "TA3a"))
    assert village.parent_id == t["ta"].id and group.parent_id == village.id
    assert group.path == f"{village.path}{group.id}/" and village.path.startswith(t["ta"].path)


def test_one_bad_row_rejects_the_whole_file_with_row_and_column(client):
    t = tree()
    login(client, make_user("Clerk", t["ta"]))
    before = _count(Person)
    rows = [
        ["姓名", "性别", "电话", "网格编码", "人员类别"],
        ["好人甲", "男", "13800000001", "TA1", "网格员"],
        ["坏电话", "女", "12345", "TA1", ""],
        ["外镇人", "男", "", "TB1", ""],  # another township: outside the clerk's scope
        ["", "男", "", "TA1", ""],
        ["怪类别", "男", "", "TA1", "外星人"],
    ]
    response = _upload(client, "people", rows)
    body = response.get_data(as_text=True)
    assert "未导入任何数据：文件中有 4 处错误" in body
    assert "“12345”不是有效的电话号码" in body and "没有编码为 TB1 的网格" in body
    assert "此项必填" in body and "“外星人”不在人员类别列表中" in body
    assert ">3</td><td>电话<" in body.replace("\n", "").replace(" ", "") or "<td>3</td>" in body
    assert _count(Person) == before


def test_assignments_import_finds_people_by_name_and_phone(client):
    t = tree()
    make_person(t["a1"], name="同名", phone="13800000001")
    make_person(t["a1"], name="同名", phone="13800000002")
    make_person(t["a1"], name="独一", phone=None)
    login(client, make_user("Clerk", t["ta"]))
    ambiguous = _upload(
        client, "assignments", [["姓名", "网格编码", "岗位", "起始日期"], ["同名", "TA1", "网格员", "2026-01-01"]]
    )
    assert "有多名人员叫“同名”" in ambiguous.get_data(as_text=True)
    ok = _upload(
        client,
        "assignments",
        [
            ["姓名", "电话", "网格编码", "岗位", "起始日期"],
            ["同名", "13800000002", "TA1", "网格员", "2026-01-01"],
            ["独一", "", "TA1a", "网格长", "2026/02/01"],
        ],
    )
    assert "已导入 2 行" in ok.get_data(as_text=True)
    assert _count(Assignment) == 3  # two imported + the clerk's own


def test_not_an_excel_file_and_missing_columns(client):
    t = tree()
    login(client, make_user("Clerk", t["ta"]))
    response = client.post(
        "/import/upload", data={"kind": "people", "file": (io.BytesIO(b"not excel"), "x.xlsx")},
        content_type="multipart/form-data",
    )  # fmt: skip
    assert "文件不是 Excel .xlsx 工作簿" in response.get_data(as_text=True)
    response = _upload(client, "people", [["姓名"], ["张三"]])
    assert "表头行中缺少这一列" in response.get_data(as_text=True)


def test_roles_without_write_cannot_import(client):
    t = tree()
    login(client, make_user("GridWorker", t["a1"]))
    assert client.get("/import/template/grids").status_code in (302, 403)
    assert _upload(client, "grids", [["网格编码"], ["X"]]).status_code in (302, 403)


def test_cli_import_and_template(app, tmp_path):
    t = tree()
    path = tmp_path / "g.xlsx"
    runner = app.test_cli_runner()
    assert runner.invoke(args=["minqing", "template", "grids", str(path)]).exit_code == 0
    path.write_bytes(
        _xlsx([["网格编码", "网格名称", "层级", "上级网格编码"], ["TB2", "乙二村", "村/社区", "TB"]]).read()
    )
    result = runner.invoke(args=["minqing", "import", "grids", str(path)])
    assert result.exit_code == 0, result.output
    assert db.session.scalar(select(Grid).where(Grid.code == "TB2")).parent_id == t["tb"].id
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(
        _xlsx([["网格编码", "网格名称", "层级", "上级网格编码"], ["TB9", "乙九村", "村/社区", "NOPE"]]).read()
    )
    result = runner.invoke(args=["minqing", "import", "grids", str(bad)])
    assert result.exit_code == 1 and "NOPE" in result.output


def test_upload_too_large_is_refused(app, client):
    t = tree()
    login(client, make_user("Clerk", t["ta"]))
    app.config["MAX_CONTENT_LENGTH"], old = 1000, app.config["MAX_CONTENT_LENGTH"]
    try:
        response = client.post(
            "/import/upload", data={"kind": "people", "file": (io.BytesIO(b"x" * 5000), "big.xlsx")},
            content_type="multipart/form-data",
        )  # fmt: skip
        assert response.status_code == 413 and "上传的文件太大" in response.get_data(as_text=True)
    finally:
        app.config["MAX_CONTENT_LENGTH"] = old
