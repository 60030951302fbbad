"""Grid tree: CRUD through the Chinese UI, tree rules, path upkeep, coverage, print pages."""

from sqlalchemy import func, select

from app.core.errors import DomainError
from app.extensions import db
from app.models.grids import Grid
from app.services import grids as grid_service
from tests.conftest import login
from tests.factories import level, make_assignment, make_grid, make_person, make_user, tree


def _grid_form(**kw):
    data = {"code": "", "name": "", "level": "", "parent": "", "households": "", "sort_order": "0", "active": "y"}
    data.update({k: str(v) for k, v in kw.items()})
    return data


def test_admin_adds_grid_through_the_form(client):
    t = tree()
    login(client, make_user("Admin"))
    response = client.post(
        "/gridview/add",
        data=_grid_form(code="TA3", name="甲三村", level=level(2).id, parent=t["ta"].id, households=120),
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "记录已添加" in response.get_data(as_text=True)
    grid = db.session.scalar(select(Grid).where(Grid.code == "TA3"))
    assert grid is not None and grid.parent_id == t["ta"].id
    assert grid.path == f"{t['ta'].path}{grid.id}/" and grid.depth == 2
    assert grid.households == 120


def test_clerk_adds_grid_under_own_township(client):
    t = tree()
    login(client, make_user("Clerk", t["ta"]))
    client.post(
        "/gridview/add",
        data=_grid_form(code="TA2a", name="甲二村一组", level=level(3).id, parent=t["a2"].id),
    )
    grid = db.session.scalar(select(Grid).where(Grid.code == "TA2a"))
    assert grid is not None and grid.path.startswith(t["ta"].path)


def test_duplicate_code_is_refused_in_chinese_and_nothing_saved(client):
    t = tree()
    login(client, make_user("Admin"))
    before = db.session.scalar(select(func.count()).select_from(Grid))
    response = client.post(
        "/gridview/add",
        data=_grid_form(code="TA1", name="重复", level=level(2).id, parent=t["ta"].id),
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 200  # the form comes back with the error
    assert "网格编码 TA1 已被“甲一村”使用" in body
    assert db.session.scalar(select(func.count()).select_from(Grid)) == before


def test_level_that_does_not_fit_its_parent_is_refused(client):
    t = tree()
    login(client, make_user("Admin"))
    response = client.post(
        "/gridview/add",
        data=_grid_form(code="X1", name="错层", level=level(1).id, parent=t["a1"].id),
    )
    assert "“乡镇/街道”级网格不能放在“村/社区”级网格之下" in response.get_data(as_text=True)
    assert db.session.scalar(select(Grid).where(Grid.code == "X1")) is None


def test_moving_a_grid_under_its_own_child_is_refused(client):
    t = tree()
    login(client, make_user("Admin"))
    response = client.post(
        f"/gridview/edit/{t['ta'].id}",
        data={**_grid_form(code="TA", name="甲镇", level=level(1).id, parent=t["a1"].id),
              "row_version": t["ta"].version},
    )  # fmt: skip
    body = response.get_data(as_text=True)
    assert "网格不能移到自身或其下级之下" in body or "不能放在" in body
    db.session.expire_all()
    assert db.session.get(Grid, t["ta"].id).parent_id == t["county"].id


def test_cycle_rule_in_the_service():
    t = tree()
    grid = db.session.get(Grid, t["a1"].id)
    grid.parent = t["a1a"]
    try:
        grid_service.validate_grid(db.session, grid)
    except DomainError as err:
        assert err.field in ("parent", "level")
    else:
        raise AssertionError("a cycle was accepted")
    db.session.rollback()


def test_moving_a_subtree_updates_every_descendant_path():
    t = tree()
    a1 = db.session.get(Grid, t["a1"].id)
    a1.parent = t["tb"]
    grid_service.validate_grid(db.session, a1)
    db.session.commit()
    db.session.expire_all()
    a1 = db.session.get(Grid, t["a1"].id)
    a1a = db.session.get(Grid, t["a1a"].id)
    tb = db.session.get(Grid, t["tb"].id)
    assert a1.path == f"{tb.path}{a1.id}/"
    assert a1a.path == f"{a1.path}{a1a.id}/"
    assert a1a.depth == 3
    # township A's subtree no longer holds the moved village
    ta = db.session.get(Grid, t["ta"].id)
    inside = db.session.scalars(select(Grid.code).where(grid_service.subtree_clause(ta))).all()
    assert sorted(inside) == ["TA", "TA2"]


def test_sibling_with_prefix_id_is_not_in_the_subtree():
    """/1/2/ must not contain /1/23/: the subtree range is exact."""
    county = make_grid("县", rank=0, code="K")
    grids = [make_grid(f"镇{i}", county, code=f"K{i}") for i in range(12)]
    first = grids[0]
    inside = db.session.scalars(select(Grid.id).where(grid_service.subtree_clause(first))).all()
    assert inside == [first.id]


def test_grid_with_children_cannot_be_deleted(client):
    t = tree()
    login(client, make_user("Admin"))
    response = client.post(f"/gridview/delete/{t['a1'].id}", follow_redirects=True)
    assert "“甲一村”仍有下级网格 1，不能删除" in response.get_data(as_text=True)
    assert db.session.get(Grid, t["a1"].id) is not None


def test_grid_with_people_cannot_be_deleted_but_an_empty_one_can(client):
    t = tree()
    make_person(t["a2"], name="张三")
    login(client, make_user("Admin"))
    response = client.post(f"/gridview/delete/{t['a2'].id}", follow_redirects=True)
    assert "仍有人员 1" in response.get_data(as_text=True)
    client.post(f"/gridview/delete/{t['b1a'].id}", follow_redirects=True)
    db.session.expire_all()
    assert db.session.get(Grid, t["b1a"].id) is None


def test_list_shows_parent_chain_and_child_count(client):
    tree()
    login(client, make_user("Admin"))
    body = client.get("/gridview/list/?psize_GridView=50").get_data(as_text=True)
    assert "示范县 › 甲镇 › 甲一村" in body  # chain of 甲一村一组


def test_grid_page_shows_children_and_responsible_people(client):
    t = tree()
    chief = make_person(t["a1"], name="李书记", phone="13900001111", position="党支部书记")
    make_assignment(chief, t["a1"], "直接责任人")
    login(client, make_user("Admin"))
    body = client.get(f"/gridview/show/{t['a1'].id}").get_data(as_text=True)
    assert "甲一村一组" in body and "李书记" in body and "直接责任人" in body


def test_public_notice_lists_grid_and_ancestors_responsible_people(client):
    t = tree()
    secretary = make_person(t["ta"], name="王镇长", phone="13711112222", position="镇党委书记")
    make_assignment(secretary, t["ta"], "第一责任人")
    chief = make_person(t["a1a"], name="赵组长", phone="0371-66668888")
    make_assignment(chief, t["a1a"], "网格长")
    stranger = make_person(t["b1a"], name="孙外人")
    make_assignment(stranger, t["b1a"], "网格长")
    retired = make_person(t["a1a"], name="钱原组长")
    make_assignment(retired, t["a1a"], "网格长", end=__import__("datetime").date(2020, 6, 1))
    login(client, make_user("Admin"))
    body = client.get(f"/gridview/notice/{t['a1a'].id}").get_data(as_text=True)
    assert "网格责任公示牌" in body
    for text in ("王镇长", "13711112222", "第一责任人", "赵组长", "0371-66668888", "网格长"):
        assert text in body
    assert "负总责" in body  # the post's duty text
    assert "孙外人" not in body and "钱原组长" not in body
    card = client.get(f"/gridview/card/{t['a1a'].id}").get_data(as_text=True)
    assert "干群联系卡" in card and "王镇长" in card and "赵组长" in card and "孙外人" not in card


def test_coverage_report_lists_unstaffed_grids_and_level_gaps(client):
    t = tree()
    for key in ("county", "ta", "tb", "a1", "a2", "b1", "b1a"):
        make_assignment(make_person(t[key]), t[key], "网格长" if t[key].level.rank == 3 else "第一责任人")
    skipped = make_grid("越级组", t["tb"], rank=3, code="SKIP")  # a group directly under a township
    make_assignment(make_person(skipped), skipped, "网格长")
    report = grid_service.coverage_report(db.session, Grid.id.isnot(None))
    assert [g.code for g in report["unstaffed"]] == ["TA1a"]
    assert [g.code for g, _parent in report["level_gaps"]] == ["SKIP"]
    login(client, make_user("Admin"))
    body = client.get("/gridview/coverage/").get_data(as_text=True)
    assert "甲一村一组" in body and "越级组" in body


def test_bad_households_and_bad_code_get_clear_messages(client):
    t = tree()
    login(client, make_user("Admin"))
    body = client.post(
        "/gridview/add", data=_grid_form(code="有 空格", name="甲四村", level=level(2).id, parent=t["ta"].id)
    ).get_data(as_text=True)
    assert "网格编码只能由字母、数字" in body
    body = client.post(
        "/gridview/add",
        data=_grid_form(code="TA4", name="甲四村", level=level(2).id, parent=t["ta"].id, households=-3),
    ).get_data(as_text=True)
    assert "数值不能为负数" in body
    assert db.session.scalar(select(Grid).where(Grid.name == "甲四村")) is None


def test_a_city_level_is_added_above_the_county_without_renumbering(client):
    """Seed 003's four-level platforms: a 市 above the 县 is a new level with a rank above 0
    (-1) and a grid the county is moved under; nothing below is renumbered (codes, levels,
    appeal numbers stay), every path follows, and scope and figures work from the new top."""
    from app.models.appeals import Appeal
    from app.models.lookups import GridLevel
    from app.services import rollups
    from tests.factories import make_appeal

    t = tree()
    appeal = make_appeal(t["a1"])
    number, levels_before = appeal.number, {g: t[g].level_id for g in t}
    login(client, make_user("Admin"))
    added = client.post("/gridlevelview/add", data={"name": "市", "rank": "-1", "sort_order": "0", "active": "y"})
    assert added.status_code == 302
    city_level = db.session.scalar(select(GridLevel).where(GridLevel.name == "市"))
    made = client.post("/gridview/add", data=_grid_form(code="S0", name="示范市", level=city_level.id))
    assert made.status_code == 302
    city = db.session.scalar(select(Grid).where(Grid.code == "S0"))
    county = t["county"]
    moved = client.post(f"/gridview/edit/{county.id}", data={
        **_grid_form(code=county.code, name=county.name, level=county.level_id, parent=city.id),
        "row_version": county.version})  # fmt: skip
    assert moved.status_code == 302
    db.session.expire_all()
    for key, grid in t.items():
        grid = db.session.get(Grid, grid.id)
        assert grid.path.startswith(city.path) and grid.level_id == levels_before[key], key
        assert grid.depth == len(grid.path.strip("/").split("/")) - 1
    assert db.session.get(Appeal, appeal.id).number == number
    assert rollups.check(db.session) == []  # the cells follow grid ids, not paths
    # a township clerk still sees only the township; a city leader sees the county's appeal
    login(client, make_user("Clerk", t["tb"]))
    assert number not in client.get("/appealview/list/").get_data(as_text=True)
    login(client, make_user("Leader", db.session.get(Grid, city.id)))
    assert number in client.get("/appealview/list/").get_data(as_text=True)
    assert client.get("/dashboard/").status_code == 200
