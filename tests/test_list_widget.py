"""The lean list widget renders exactly FAB's markup (it only builds each row's links once a page)."""

import json
import re

import pytest
from flask_appbuilder.widgets import ListWidget, SearchWidget

from app.extensions import db
from app.models import AppealCategory
from app.views.lean_widgets import LeanSearchWidget
from app.views.scoped import LeanListWidget, ScopedModelView
from tests.conftest import login
from tests.factories import make_appeal, make_person, make_user, make_visit


def _normalized(html):
    html = re.sub(r'name="csrf_token"[^>]*value="[^"]*"', "", html)
    html = re.sub(r'nonce="[^"]*"', "", html)
    return re.sub(r"\s+", " ", html)


def _views(app):
    return [v for v in app.appbuilder.baseviews if isinstance(v, ScopedModelView)]


def _with_fab_widget(client, path, views, attribute, fab_widget):
    """The page as FAB's own widget (`attribute` of every view set to `fab_widget`) renders it."""
    ours = {view: getattr(view, attribute) for view in views}
    try:
        for view in views:
            setattr(view, attribute, fab_widget)
        return client.get(path)
    finally:
        for view, widget in ours.items():
            setattr(view, attribute, widget)


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
    stock = _with_fab_widget(client, path, views, "list_widget", ListWidget)
    assert "btn-delete-" in lean.get_data(as_text=True) or "fa-search" in lean.get_data(as_text=True)
    assert _normalized(lean.get_data(as_text=True)) == _normalized(stock.get_data(as_text=True))


@pytest.mark.parametrize(
    "path",
    [
        "/appealview/list/",
        "/appealview/list/?_flt_0_category=1&_flt_2_reporter_name=群众",
        "/visitview/list/",
        "/personview/list/",
        "/gridview/list/",
    ],
)
def test_lean_search_widget_renders_fab_markup_and_follows_the_lookups(app, client, world, path):
    """Same page as with FAB's SearchWidget, built twice (the second from the kept fields), and a
    lookup renamed in between shows at once in the search form's select."""
    make_appeal(world["a1"], reporter_name="群众甲")
    views = _views(app)
    assert all(v.search_widget is LeanSearchWidget for v in views)
    login(client, make_user("Admin"))
    first, kept = client.get(path), client.get(path)
    stock = _with_fab_widget(client, path, views, "search_widget", SearchWidget)
    assert first.status_code == kept.status_code == stock.status_code == 200
    assert 'id="filter_form"' in first.get_data(as_text=True)
    for page in (first, kept):
        assert _normalized(page.get_data(as_text=True)) == _normalized(stock.get_data(as_text=True))
    if path.startswith("/appealview/"):
        category = db.session.scalars(db.select(AppealCategory).order_by(AppealCategory.id)).first()
        old = category.name

        def search_form(page):
            return page.get_data(as_text=True).split("new AdminFilters(", 1)[1].split("</script>", 1)[0]

        assert json.dumps(old)[1:-1] in search_form(client.get(path))  # tojson escapes non-ASCII
        category.name = "改名的类别"
        db.session.commit()
        assert json.dumps("改名的类别")[1:-1] in search_form(client.get(path))
