"""REST API: JWT login, the four resources, OpenAPI spec, validation as JSON errors."""

from sqlalchemy import select

from app.extensions import db
from app.models.grids import Grid
from app.models.personnel import Person
from tests.conftest import api_token
from tests.factories import level, make_user, post, tree


def test_openapi_spec_lists_the_resources(client):
    t = tree()
    headers = api_token(client, make_user("Admin"))
    spec = client.get("/api/v1/_openapi", headers=headers).json
    for path in ("/grid/", "/person/", "/post/", "/assignment/", "/security/login"):
        assert any(p.endswith(path) for p in spec["paths"]), path
    assert t  # data exists; the spec itself is static


def test_jwt_login_required(client):
    assert client.get("/api/v1/grid/").status_code == 401


def test_clerk_creates_reads_updates_deletes_a_grid(client):
    t = tree()
    headers = api_token(client, make_user("Clerk", t["ta"]))
    created = client.post(
        "/api/v1/grid/",
        json={"code": "TA9", "name": "甲九村", "level": level(2).id, "parent": t["ta"].id, "households": 88},
        headers=headers,
    )
    assert created.status_code == 201, created.json
    pk = created.json["id"]
    got = client.get(f"/api/v1/grid/{pk}", headers=headers).json["result"]
    assert got["name"] == "甲九村" and got["parent"]["name"] == "甲镇" and got["path"].startswith(t["ta"].path)
    version = client.get(f"/api/v1/grid/{pk}", headers=headers).json["result"]["version"]
    assert (
        client.put(f"/api/v1/grid/{pk}", json={"name": "甲九村（新）", "version": version}, headers=headers).status_code
        == 200
    )
    assert db.session.get(Grid, pk).name == "甲九村（新）"
    assert client.delete(f"/api/v1/grid/{pk}", headers=headers).status_code == 200
    assert db.session.get(Grid, pk) is None


def test_api_rule_violations_are_json_errors_in_chinese(client):
    t = tree()
    headers = api_token(client, make_user("Clerk", t["ta"]))
    dup = client.post(
        "/api/v1/grid/",
        json={"code": "TA1", "name": "重名", "level": level(2).id, "parent": t["ta"].id},
        headers=headers,
    )
    assert dup.status_code == 422 and dup.json["field"] == "code" and "已被“甲一村”使用" in dup.json["message"]
    bad_phone = client.post(
        "/api/v1/person/", json={"name": "赵六", "grid": t["a1"].id, "phone": "abc"}, headers=headers
    )
    assert bad_phone.status_code == 422 and "不是有效的电话号码" in bad_phone.json["message"]
    with_children = client.delete(f"/api/v1/grid/{t['a1'].id}", headers=headers)
    assert with_children.status_code == 422 and "下级网格" in with_children.json["message"]
    not_json = client.post("/api/v1/person/", data="x", headers=headers)
    assert not_json.status_code == 400
    assert db.session.scalar(select(Person).where(Person.name == "赵六")) is None


def test_api_english_on_request(client):
    t = tree()
    headers = api_token(client, make_user("Clerk", t["ta"]))
    dup = client.post(
        "/api/v1/grid/?_l_=en",
        json={"code": "TA1", "name": "重名", "level": level(2).id, "parent": t["ta"].id},
        headers=headers,
    )
    assert "is already used by" in dup.json["message"]


def test_assignment_and_post_resources(client):
    t = tree()
    headers = api_token(client, make_user("Clerk", t["ta"]))
    person = client.post("/api/v1/person/", json={"name": "钱七", "grid": t["a1"].id}, headers=headers).json["id"]
    created = client.post(
        "/api/v1/assignment/",
        json={"person": person, "grid": t["a1"].id, "post": post("网格员").id, "start_date": "2025-01-01"},
        headers=headers,
    )
    assert created.status_code == 201, created.json
    listing = client.get("/api/v1/assignment/?q=(page_size:50)", headers=headers).json
    assert "钱七" in [row["person"]["name"] for row in listing["result"]]
    posts = client.get("/api/v1/post/?q=(page_size:50)", headers=headers).json
    assert "网格长" in [row["name"] for row in posts["result"]]
    assert client.post("/api/v1/post/", json={"name": "越权"}, headers=headers).status_code == 403


def test_page_size_is_capped(client, app):
    t = tree()
    headers = api_token(client, make_user("Admin"))
    listing = client.get("/api/v1/grid/?q=(page_size:100000)", headers=headers)
    assert listing.status_code in (200, 400)
    if listing.status_code == 200:
        assert len(listing.json["result"]) <= app.config["FAB_API_MAX_PAGE_SIZE"]
    assert t


def test_fuzz_findings_are_client_errors_not_server_errors(client):
    """Found by `make fuzz`: each of these used to answer 500."""
    t = tree()
    headers = api_token(client, make_user("Clerk", t["ta"]))
    before = db.session.scalar(select(db.func.count()).select_from(Grid))
    # a JSON object where a relation id belongs would have created a new related row
    nested = client.post(
        "/api/v1/grid/", json={"code": "Z1", "name": "z", "level": {"name": "新层级", "rank": 9}, "parent": t["ta"].id},
        headers=headers,
    )  # fmt: skip
    assert nested.status_code == 422 and "level" in nested.json["message"]
    assert (
        client.put(
            f"/api/v1/grid/{t['a1'].id}", json={"parent": {"": 1}, "version": t["a1"].version}, headers=headers
        ).status_code
        == 422
    )
    assert db.session.scalar(select(db.func.count()).select_from(Grid)) == before
    # ids beyond any integer column
    assert client.get("/api/v1/grid/36893488147419103232", headers=headers).status_code == 404
    assert client.delete("/api/v1/person/99999999999999999999", headers=headers).status_code == 404
    assert client.get("/gridview/show/99999999999999999999").status_code in (302, 404)
    # malformed rison in ?q=
    assert client.get("/api/v1/person/?q=4.66e%2B16", headers=headers).status_code == 400
    assert (
        client.get("/api/v1/grid/_info?q=(keys:!(add_columns),add_columns:(x:(page:-1)))", headers=headers).status_code
        < 500
    )


def test_api_lists_records_whose_optional_relation_is_empty(client):
    """A grid without a parent (the county) must not vanish from the API list."""
    t = tree()
    headers = api_token(client, make_user("Admin"))
    listing = client.get("/api/v1/grid/?q=(page_size:50)", headers=headers).json
    assert listing["count"] == len(listing["result"]) == 8
    county = client.get(f"/api/v1/grid/{t['county'].id}", headers=headers)
    assert county.status_code == 200 and county.json["result"]["parent"] is None


def test_appeal_api_refuses_objects_where_ids_belong(client):
    """Found by `make fuzz`: the appeal's own POST also checks relation values."""
    t = tree()
    headers = api_token(client, make_user("Clerk", t["ta"]))
    response = client.post(
        "/api/v1/appeal/", json={"reporter_name": "x", "content": "y", "category": {"": 40}, "channel": {},
                                 "grid": t["a1"].id, "importance": "general"},
        headers=headers,
    )  # fmt: skip
    assert response.status_code == 422 and "category" in response.json["message"]
