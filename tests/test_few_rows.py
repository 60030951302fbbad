"""A text search whose matches are few pages among the matching ids (app.views.few_rows): the
same rows, order, pages and counts as the usual count-then-walk, on the list page and the API,
within the scope; the count query fetches the ids and the page asks for them by id."""

import re
from urllib.parse import quote

import prison
import pytest
from flask import g

from app.views import few_rows
from app.views.appeals import AppealView
from tests.conftest import login, statements_seen
from tests.factories import make_appeal, make_user

ORDERS = [None, ("reporter_name", "asc"), ("registered_at", "asc"), ("number", "desc")]


@pytest.fixture
def appeals(world):
    mine = [
        make_appeal(world["a1"] if i % 3 else world["a2"], reporter_name=f"王{'甲乙丙丁'[i % 4]}{i}",
                    content=f"反映排水沟堵塞（{i}）" if i % 2 else f"反映路灯损坏（{i}）")
        for i in range(14)
    ]  # fmt: skip
    # another township's appeals with the same words: never shown
    others = [make_appeal(world["b1"], reporter_name="王甲", content="反映排水沟堵塞") for _ in range(3)]
    return mine, others


def api_page(client, term, page=0, size=3, order=None):
    q = {"filters": [{"col": "content", "opr": "ct", "value": term}], "page": page, "page_size": size}
    if order:
        q["order_column"], q["order_direction"] = order
    response = client.get(f"/api/v1/appeal/?q={quote(prison.dumps(q))}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json["count"], [row["number"] for row in response.json["result"]]


def html_page(client, term, page=0, size=3, order=None):
    url = f"/appealview/list/?_flt_2_content={quote(term)}&psize_AppealView={size}&page_AppealView={page}"
    if order:
        url += f"&_oc_AppealView={order[0]}&_od_AppealView={order[1]}"
    response = client.get(url)
    assert response.status_code == 200
    return re.findall(r">(\d{9})</a>", response.get_data(as_text=True))


def every_page(client, term, order, pages=4):
    return [api_page(client, term, p, order=order) for p in range(pages)], [
        html_page(client, term, p, order=order) for p in range(pages)
    ]


@pytest.mark.parametrize("order", ORDERS)
def test_few_matches_page_exactly_as_the_walk_does(app, client, world, appeals, monkeypatch, order):
    mine, others = appeals
    login(client, make_user("Leader", world["ta"]))
    monkeypatch.setitem(app.config, "LIST_FEW_ROWS", 0)  # the usual path: count, then walk the order
    usual = every_page(client, "排水沟", order)
    monkeypatch.setitem(app.config, "LIST_FEW_ROWS", 2000)
    few = every_page(client, "排水沟", order)
    assert few == usual
    shown = [n for _, rows in usual[0] for n in rows]
    assert sorted(shown) == sorted(a.number for a in mine if "排水沟" in a.content)  # 7, in pages of 3
    assert usual[0][0][0] == 7 and not {a.number for a in others} & set(shown)


def test_the_count_fetches_the_ids_and_the_page_asks_for_them(app, client, world, appeals, monkeypatch):
    login(client, make_user("Leader", world["ta"]))
    monkeypatch.setitem(app.config, "LIST_FEW_ROWS", 2000)
    with statements_seen() as seen:
        count, rows = api_page(client, "排水沟")
    assert count == 7 and len(rows) == 3
    appeal_statements = [s for s in seen if "FROM appeal" in s and "appeal_event" not in s]
    assert not any("count(" in s.lower() for s in appeal_statements)  # the ids were counted, not counted again
    monkeypatch.setitem(app.config, "LIST_FEW_ROWS", 0)
    with statements_seen() as seen:
        assert api_page(client, "排水沟") == (count, rows)
    assert any("count(" in s.lower() for s in seen if "FROM appeal" in s)


def test_more_matches_than_few_count_and_page_as_before(app, client, world, appeals, monkeypatch):
    login(client, make_user("Leader", world["ta"]))
    monkeypatch.setitem(app.config, "LIST_FEW_ROWS", 0)
    usual = every_page(client, "反映", None, pages=5)
    for few, cap in ((3, 0), (2000, 0)):
        monkeypatch.setitem(app.config, "LIST_FEW_ROWS", few)
        monkeypatch.setitem(app.config, "LIST_COUNT_CAP", cap)
        assert every_page(client, "反映", None, pages=5) == usual, (few, cap)
    assert usual[0][0][0] == 14
    # a capped count reads "few+" past LIST_FEW_ROWS (refine the search): the same rows on every page
    monkeypatch.setitem(app.config, "LIST_FEW_ROWS", 3)
    monkeypatch.setitem(app.config, "LIST_COUNT_CAP", 10000)
    api, html = every_page(client, "反映", None, pages=5)
    assert [rows for _, rows in api] == [rows for _, rows in usual[0]] and html == usual[1]
    assert {count for count, _ in api} == {4}  # "3+"
    assert "3+" in client.get(f"/appealview/list/?_flt_2_content={quote('反映')}").get_data(as_text=True)


def test_a_dense_search_pages_along_the_order_without_the_text_index_on_sqlite(app, client, world, appeals,
                                                                               monkeypatch):  # fmt: skip
    """More matches than few: SQLite would take the FTS table's rowids as its driving list (every
    match, sorted for one page); the page walks the list's order instead, checking text and grid
    on each row. The count still reads the index. PostgreSQL plans both itself."""
    login(client, make_user("Leader", world["ta"]))
    monkeypatch.setitem(app.config, "LIST_FEW_ROWS", 3)
    with statements_seen() as seen:
        html_page(client, "排水沟")
    searched = [s for s in seen if "LIKE" in s and "FROM appeal" in s]
    counted = [s for s in searched if "ORDER BY" not in s]
    paged = [s for s in searched if "ORDER BY" in s]
    assert counted and paged
    sqlite = app.extensions["sqlalchemy"].engines[None].dialect.name == "sqlite"
    assert all("__fts_" in s for s in counted) == sqlite
    assert not any("__fts_" in s for s in paged)


def test_a_capped_count_reads_the_same_with_few_rows_on(app, client, world, appeals, monkeypatch):
    login(client, make_user("Leader", world["ta"]))
    monkeypatch.setitem(app.config, "LIST_COUNT_CAP", 5)
    for few in (0, 3, 5, 2000):
        monkeypatch.setitem(app.config, "LIST_FEW_ROWS", few)
        shown = min(5, few) if few else 5  # a text search's count stops at the smaller of the two
        count, rows = api_page(client, "反映")
        assert count == shown + 1 and len(rows) == 3, few  # "5+": one more than the cap
        html = client.get(f"/appealview/list/?_flt_2_content={quote('反映')}").get_data(as_text=True)
        assert f"{shown}+" in html, few


def test_no_text_search_and_an_empty_result_take_the_usual_path(app, client, world, appeals, monkeypatch):
    login(client, make_user("Leader", world["ta"]))
    monkeypatch.setitem(app.config, "LIST_FEW_ROWS", 2000)
    assert api_page(client, "没有这句话") == (0, [])
    with statements_seen() as seen:
        response = client.get("/api/v1/appeal/?q=(page_size:3)")
    assert response.status_code == 200 and response.json["count"] == 14
    assert any("count(" in s.lower() for s in seen if "FROM appeal" in s)


def test_the_ids_are_kept_for_one_query_only(app, world, appeals):
    """The handover lives in `g` for one `query()` of one interface: nothing on the interface,
    nothing left after it."""
    datamodel = next(v for v in app.appbuilder.baseviews if isinstance(v, AppealView)).datamodel
    before = dict(vars(datamodel))
    with app.test_request_context():
        assert few_rows.taken(datamodel) is None
        filters = datamodel.get_filters(["content"])
        filters.add_filter("content", few_rows.TEXT_FILTERS[0], "排水沟")
        with few_rows.window(datamodel):
            assert few_rows.open_for(datamodel)
        assert not few_rows.open_for(datamodel) and few_rows.taken(datamodel) is None
        count, items = datamodel.query(filters, page=0, page_size=3)
        assert count == 10 and len(items) == 3  # no scope filter passed here: the other township's three too
        assert g.get("_minqing_few_rows") == {}
    assert vars(datamodel) == before
