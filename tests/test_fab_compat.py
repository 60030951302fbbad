"""Every override of a Flask-AppBuilder private name lives in app/views/fab_compat.py and was
written for one FAB version: this pins the version and the signatures it relies on, and
checks that no other module reaches into FAB's private names. A FAB upgrade that changes
any of them fails here first (read fab_compat.py against the new FAB source, then update
the snapshot below)."""

import pathlib
import re

import flask_appbuilder

from app.views import fab_compat

SIGNATURES = {
    "ModelView._add": "(self)",
    "ModelView._edit": "(self, pk)",
    "ModelView._delete": "(self, pk)",
    "ModelView._list": "(self, **kwargs)",
    "ModelView._get_list_widget": "(self, filters, actions=None, order_column='', order_direction='', page=None, page_size=None, widgets=None, **kwargs)",
    "ModelView._get_search_widget": "(self, form=None, exclude_cols=None, widgets=None)",
    "ModelView._init_forms": "(self)",
    "ModelView._fill_form_exclude_cols": "(self, exclude_cols, form)",
    "ModelView._get_add_widget": "(self, form, exclude_cols=None, widgets=None)",
    "ModelView._get_edit_widget": "(self, form, exclude_cols=None, widgets=None)",
    "ModelView._get_show_widget": "(self, pk, item, widgets=None, actions=None, show_fieldsets=None)",
    "ModelView._get_related_views_widgets": "(self, item, orders=None, pages=None, page_sizes=None, widgets=None, **args)",
    "ModelView._deserialize_pk_if_composite": "(self, pk)",
    "ModelRestApi._handle_filters_args": "(self, rison_args: 'Dict[str, Any]') -> 'Filters'",
    "ModelRestApi._get_field_info": "(self, field: 'Field', filter_rel_field: 'Dict[str, Any]', page: 'Optional[int]' = None, page_size: 'Optional[int]' = None) -> 'Dict[str, Any]'",
    "ModelRestApi._merge_update_item": "(self, model_item: 'Model', data: 'Dict[str, Any]') -> 'Dict[str, Any]'",
    "ModelRestApi.post_headless": "(self) -> 'Response'",
    "ModelRestApi.put_headless": "(self, pk: 'ModelKeyType') -> 'Response'",
    "ModelRestApi.delete_headless": "(self, pk: 'ModelKeyType') -> 'Response'",
    "ModelRestApi._init_model_schemas": "(self) -> 'None'",
    "SQLAInterface._apply_inner_all": "(self, query: 'Query', filters: 'Filters | None' = None, order_column: 'str' = '', order_direction: 'str' = '', page: 'int | None' = None, page_size: 'int | None' = None, select_columns: 'list[str] | None' = None, aliases_mapping: 'dict[str, AliasedClass] | None' = None) -> 'Query'",
    "Filters._add_filter": "(self, filter_instance, values)",
    "Filters.clear_filters": "(self)",
    "Filters._get_filters": "(self, cols: List[str])",
    "Filters.copy": "(self)",
    "Filters.get_joined_filters": "(self, filters) -> 'Filters'",
    "SQLAInterface.get_filters": "(self, search_columns=None, search_filters=None)",
    "SQLAInterface.get_inner_filters": "(self, filters: 'Optional[Filters]') -> 'Filters'",
    "SecurityManager._has_view_access": "(self, user: 'object', permission_name: 'str', view_name: 'str') -> 'bool'",
    "SecurityManager._has_access_builtin_roles": "(self, role, permission_name: 'str', view_name: 'str') -> 'bool'",
    "SecurityManager.get_user_roles": "(self, user) -> 'List[object]'",
    "ModelView.list.__wrapped__": "(self)",
}


def test_written_for_this_fab_version():
    assert flask_appbuilder.__version__ == fab_compat.FAB_VERSION == "5.3.0"


def test_every_private_name_relied_on_still_has_its_signature():
    assert fab_compat.signatures() == SIGNATURES


def test_views_keep_the_private_attributes_fab_compat_reads(app):
    views = [v for v in app.appbuilder.baseviews if hasattr(v, "datamodel") and hasattr(v, "list_columns")]
    html = [v for v in views if isinstance(v, flask_appbuilder.ModelView)]
    assert html and all(hasattr(v, "_base_filters") and hasattr(v, "_filters") for v in html)


def test_no_other_module_touches_fab_private_names():
    """Overrides (def _add ...) and reads (self._base_filters ...) only in fab_compat."""
    names = {name for names in fab_compat.PRIVATE_NAMES.values() for name in names if name.startswith("_")}
    names |= {"_base_filters", "_filters", "__wrapped__"}
    pattern = re.compile(r"(def |\.)(" + "|".join(re.escape(n) for n in sorted(names)) + r")\b")
    root = pathlib.Path(__file__).resolve().parent.parent / "app"
    offenders = []
    for path in root.rglob("*.py"):
        if path.name == "fab_compat.py":
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if pattern.search(line):
                offenders.append(f"{path.relative_to(root.parent)}:{number}: {line.strip()}")
    assert offenders == []


def test_lean_filters_copy_like_fab(app):
    """LeanFilters' copies hold what FAB's hold (the model's filters of every column, no search
    columns, the same conditions), from a dict built once."""
    from flask_appbuilder.models.filters import Filters

    from app.models import Appeal

    with app.app_context():
        view = next(v for v in app.appbuilder.baseviews if getattr(v, "datamodel", None) is not None
                    and v.datamodel.obj is Appeal and isinstance(v, flask_appbuilder.ModelView))  # fmt: skip
        ours = view._filters
        assert isinstance(ours, fab_compat.LeanFilters)
        # the conditions the last list request set on the view (FAB keeps them there): left as they were
        conditions = (list(ours.filters), list(ours.values))
        column = ours.search_columns[0]
        ours_with = ours.copy()
        ours_with.add_filter_index(column, 0, "x")
        for lean, fab in (
            (ours_with.copy(), Filters.copy(ours_with)),
            (
                ours_with.get_joined_filters(view._base_filters),
                Filters.get_joined_filters(ours_with, view._base_filters),
            ),
        ):
            assert isinstance(lean, fab_compat.LeanFilters)
            assert lean.search_columns == fab.search_columns == []
            assert lean.get_search_filters() == fab.get_search_filters() == {}
            assert lean.filters == fab.filters and lean.values == fab.values
            assert {k: [type(f) for f in v] for k, v in lean._all_filters.items()} == {
                k: [type(f) for f in v] for k, v in fab._all_filters.items()
            }
        assert (ours.filters, ours.values) == conditions  # the view's own conditions untouched


def _html_list_views(app):
    views = [v for v in app.appbuilder.baseviews if isinstance(v, fab_compat.CompatModelView)]
    return [v for v in views if fab_compat.shared_filters(v).search_columns]


def test_each_request_fills_search_conditions_of_its_own(app):
    """FAB fills a view's search conditions from the URL on the view (one object per process)
    and reads them back later in the request: two requests of a worker's threads would swap
    them. Every list view: a second request's conditions, set while the first is open, leave
    the first's as they were, and the view's own Filters keeps none."""
    views = _html_list_views(app)
    assert len(views) > 10
    for view in views:
        shared = fab_compat.shared_filters(view)
        before = (list(shared.filters), list(shared.values))
        column = shared.search_columns[0]
        with app.test_request_context(f"/x/list/?_flt_0_{column}=first"):
            mine = fab_compat.active_filters(view)
            assert mine.values == [["first"]], view
            with app.test_request_context(f"/x/list/?_flt_0_{column}=second"):
                theirs = fab_compat.active_filters(view)
                assert theirs is not mine and theirs.values == [["second"]]
            assert view._filters is mine and mine.values == [["first"]], view
            # the copy offers what the view offers
            assert mine.search_columns == shared.search_columns
            assert mine.get_search_filters() is shared.get_search_filters()
        assert (shared.filters, shared.values) == before, view
    with app.app_context():  # outside a request: the view's own
        assert all(v._filters is fab_compat.shared_filters(v) for v in views)


def test_new_search_filters_reach_a_request_already_holding_a_copy(app):
    """An extra field made filterable mid-request (put_in_place) gives the request a copy
    of the new Filters, not the old copy."""
    view = _html_list_views(app)[0]
    shared = fab_compat.shared_filters(view)
    try:
        with app.test_request_context("/x/list/"):
            old = view._filters
            fab_compat.put_in_place(view, {}, fab_compat.search_filters_with(shared, shared.search_columns, {}))
            new = view._filters
            assert new is not old and new is not fab_compat.shared_filters(view)
            assert fab_compat.shared_filters(view) is not shared
    finally:
        view._filters = shared


def test_inner_filters_like_fabs(app):
    """The inner filters of a list's count and page (conditions on the model's own columns and
    its many-to-one relations; one-to-many dotted ones left out) are FAB's, without FAB's
    conversion of every column of the model on each call."""
    from flask_appbuilder.models.sqla.interface import SQLAInterface

    from app.models import Appeal

    with app.app_context():
        view = next(v for v in app.appbuilder.baseviews if getattr(v, "datamodel", None) is not None
                    and v.datamodel.obj is Appeal and isinstance(v, flask_appbuilder.ModelView))  # fmt: skip
        datamodel = view.datamodel
        conditions = datamodel.blank_filters()
        conditions.add_filter("reporter_name", datamodel.FilterStartsWith, "张")
        conditions.add_filter("grid.name", datamodel.FilterEqual, "甲一村")  # many-to-one: kept
        conditions.add_filter("events.note", datamodel.FilterEqual, "x")  # one-to-many: left out
        joined = conditions.get_joined_filters(view._base_filters)
        lean = datamodel.get_inner_filters(joined)
        fab = SQLAInterface.get_inner_filters(datamodel, joined)
        assert isinstance(lean, fab_compat.LeanFilters)
        assert [(type(f), f.column_name) for f in lean.filters] == [(type(f), f.column_name) for f in fab.filters]
        assert [f.column_name for f in lean.filters] == ["reporter_name", "grid.name", "id"]
        assert lean.values == fab.values
        assert all(f.datamodel is datamodel for f in lean.filters)
        assert lean.search_columns == fab.search_columns == []
        assert {k: [type(f) for f in v] for k, v in lean._all_filters.items()} == {
            k: [type(f) for f in v] for k, v in fab._all_filters.items()
        }
        assert datamodel.get_inner_filters(None).filters == []
