"""The lean list widget renders exactly FAB's markup (it only builds each row's links once a page)."""

import re

import pytest
from flask_appbuilder.widgets import ListWidget

from app.views.scoped import LeanListWidget, ScopedModelView
from tests.conftest import login
from tests.factories import make_appeal, make_person, make_user, make_visit


def _normalized(html):
    html = re.sub(r'name="csrf_token"[^>]*value="[^"]*"', "", html)
    html = re.sub(r'nonce="[^"]*"', "", html)
    return re.sub(r"\s+", " ", html)


def _views(app):
    return [v for v in app.appbuilder.baseviews if isinstance(v, ScopedModelView)]


@pytest.mark.parametrize(
    "path",
    [
        "/appealview/list/",
        "/visitview/list/",
        "/personview/list/",
        "/gridview/list/",
        "/appealview/list/?psize_AppealView=2&page_AppealView=1",
    ],
)
def test_lean_list_widget_renders_fab_markup(app, client, world, path):
    for i in range(3):
        make_appeal(world["a1"], reporter_name=f"群众{i}")
        make_visit(world["a1"], [world["pa"]])
    make_person(world["a1"], name="李四")
    views = _views(app)
    assert views and all(v.list_widget is LeanListWidget for v in views)
    login(client, make_user("Admin"))
    lean = client.get(path)
    assert lean.status_code == 200
    try:
        for view in views:
            view.list_widget = ListWidget
        stock = client.get(path)
    finally:
        for view in views:
            view.list_widget = LeanListWidget
    assert "btn-delete-" in lean.get_data(as_text=True) or "fa-search" in lean.get_data(as_text=True)
    assert _normalized(lean.get_data(as_text=True)) == _normalized(stock.get_data(as_text=True))
