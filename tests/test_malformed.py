"""Malformed input is a clear 400/404/413/422, never a 5xx, and writes nothing (issue 18, item 4).

Each case below once answered 500 on SQLite or PostgreSQL. The classes are fixed at the
request's edge (app/views/edge.py): one parser for ids and page numbers, one for rison and
JSON input, NUL bytes and lone surrogates refused before any view or query sees them.
"""

import json

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models.appeals import AppealEvent
from app.models.grids import Grid
from app.models.personnel import Person
from tests.conftest import api_token, login
from tests.factories import level, make_appeal, make_person, make_user, tree

HUGE = "99999999999999999999"
CLEAR = {400, 404, 413, 422}


@pytest.fixture
def world(client):
    t = tree()
    clerk = make_user("Clerk", t["ta"])
    make_person(t["a1"], name="被查人")
    return t, clerk


HTML_CASES = [
    f"/picker/grid?id={HUGE}",
    "/picker/grid?id=%C2%B2",  # a Unicode digit: isdigit() but not int()
    f"/picker/grid?page={HUGE}",
    "/picker/person?q=a%00b",
    f"/appealview/list/?in={HUGE}",
    f"/appealview/list/?origin={HUGE}&stat=closed",
    f"/appealview/list/?category={HUGE}",
    f"/appealview/list/?page_AppealView={HUGE}",
    f"/appealview/list/?psize_AppealView={HUGE}",
    "/appealview/list/?page_AppealView=-1x",
    "/personview/list/?_flt_0_grid=abc",
    f"/personview/list/?_flt_0_grid={HUGE}",
    "/personview/list/?_flt_0_name=a%00b",
    "/appealview/list/?_flt_0_reporter_name=a%00b",
    f"/appealview/add?grid={HUGE}&channel={HUGE}",
    f"/appealview/add?visit={HUGE}",
    f"/personview/show/{HUGE}",
]


@pytest.mark.parametrize("url", HTML_CASES)
def test_malformed_page_arguments_are_clear_client_errors(client, world, url):
    t, clerk = world
    login(client, clerk)
    response = client.get(url)
    assert response.status_code in CLEAR | {200}, (url, response.status_code)
    assert response.status_code < 500


API_GET_CASES = [
    "/api/v1/grid/?q=(page:99999999999999999999)",
    "/api/v1/grid/?q=(page:-1)",
    "/api/v1/grid/?q=(page_size:99999999999999999999)",
    "/api/v1/grid/?q=(page:'x')",
    f"/api/v1/person/?q=(filters:!((col:grid,opr:rel_o_m,value:{HUGE})))",
    "/api/v1/person/?q=(filters:!((col:grid,opr:rel_o_m,value:abc)))",
    "/api/v1/person/?q=(filters:!((col:grid,opr:rel_o_m,value:1.5)))",
    "/api/v1/person/?q=(filters:!((col:name,opr:ct,value:'a%00b')))",
    "/api/v1/grid/?q=(filters:!((col:households,opr:gt,value:abc)))",
    f"/api/v1/grid/{HUGE}",
    "/api/v1/grid/_info?q=(add_columns:(parent:(page:99999999999999999999)))",
]


@pytest.mark.parametrize("url", API_GET_CASES)
def test_malformed_api_queries_are_clear_client_errors(client, world, url):
    t, clerk = world
    headers = api_token(client, clerk)
    response = client.get(url, headers=headers)
    assert response.status_code in CLEAR | {200}, (url, response.status_code, response.get_data(as_text=True)[:300])


def _grid_count():
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(Grid))


@pytest.mark.parametrize(
    "body",
    [
        {"households": 2**63},
        {"households": 2**31},
        {"households": -(2**63) - 1},
        {"households": 1e300},
        {"name": "含\u0000空字符"},
        {"sort_order": 2**40},
    ],
)
def test_malformed_api_bodies_write_nothing(client, world, body):
    t, clerk = world
    headers = api_token(client, clerk)
    before = _grid_count()
    full = {"code": "TA9", "name": "甲九村", "level": level(2).id, "parent": t["ta"].id, **body}
    response = client.post("/api/v1/grid/", json=full, headers=headers)
    assert response.status_code in {400, 422}, response.get_data(as_text=True)[:300]
    assert _grid_count() == before


@pytest.mark.parametrize("raw", ['{"name": "\\ud800", "grid": %d}', '{"name": "x\\u0000", "grid": %d}'])
def test_nul_and_lone_surrogates_in_json_are_refused(client, world, raw):
    t, clerk = world
    headers = {**api_token(client, clerk), "Content-Type": "application/json"}
    before = db.session.scalar(select(func.count()).select_from(Person))
    response = client.post("/api/v1/person/", data=raw % t["a1"].id, headers=headers)
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Person)) == before


def test_a_nul_byte_in_a_form_is_refused(client, world):
    t, clerk = world
    login(client, clerk)
    before = db.session.scalar(select(func.count()).select_from(Person))
    response = client.post("/personview/add", data={"name": "甲\x00乙", "grid": t["a1"].id, "active": "y"})
    assert response.status_code == 400
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Person)) == before


@pytest.mark.parametrize("person", [99999999999999, 2**63, "abc", 1.5, -1, True, [1]])
def test_an_appeal_step_with_an_impossible_id_is_refused(client, world, person):
    t, clerk = world
    appeal = make_appeal(t["a1"])
    headers = api_token(client, clerk)
    before = db.session.scalar(select(func.count()).select_from(AppealEvent))
    response = client.post(f"/api/v1/appeal/{appeal.id}/assign", json={"handler_person": person}, headers=headers)
    assert response.status_code in {400, 404, 422}, response.get_data(as_text=True)[:300]
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(AppealEvent)) == before


def test_a_body_over_the_upload_limit_is_413_on_the_api(client, world):
    t, clerk = world
    headers = {**api_token(client, clerk), "Content-Type": "application/json"}
    body = json.dumps({"name": "x" * (12 * 1024 * 1024), "grid": t["a1"].id})
    response = client.post("/api/v1/person/", data=body, headers=headers)
    assert response.status_code == 413
    response = client.put(f"/api/v1/grid/{t['a1'].id}", data=body, headers=headers)
    assert response.status_code == 413
