"""Every place MinQing reaches into Flask-AppBuilder's private names, and only here.

Written against FAB 5.3.0 (pinned in requirements.txt; `tests/test_fab_compat.py`
checks the version and that every name listed in `PRIVATE_NAMES` still exists with
the signature we call). A FAB upgrade starts by reading this file against the new
FAB source: the rest of the app uses the public hooks defined below
(`save_form`, `delete_item`, `list_page`, `search_columns_shown`, `clean_filters`,
`api_add` / `api_update` / `api_delete`, `get_in_scope`, ...), never FAB's internals.

Why each override exists (see shared/FAB-NOTES.md):

* `_add` / `_edit` / `_delete`: FAB flashes any exception's text and keeps going
  (half-written rows, English database errors); ours go through one unit of work.
* `list.__wrapped__`: the list route, re-exposed so bad URL arguments are a 400.
* `_get_list_widget`: clamp page size and page number (FAB accepts ?psize=1000000).
* `_get_search_widget`: hide the phone/ID search fields from who may not read them.
* `_edit` on GET takes the record the view fetched in scope in this request (`get_in_scope`)
  instead of fetching it a second time; a POST always fetches it afresh.
* `_get_show_widget` (`show_widgets`): a show page built from the record the view already
  fetched in scope (FAB's `_show` fetches it again).
* `_init_forms`: relations become server-side pickers; FAB's Unique check dropped.
* `_apply_inner_all`: a bounded count of ids instead of `count(*)` of full rows.
* `_handle_filters_args`, `_get_field_info`, `_merge_update_item`, the `*_headless`
  REST methods: scope, masking and one unit of work in the API. The rison filters of a
  request are read into a Filters of its own (`rest_filters`): FAB clears and refills the
  view's one shared object (two threads of a worker mix their conditions) and takes each
  operation's class from a process-wide map where the last class built with that name wins
  (an extra field's filter could answer a plain column's `eq`).
* `_has_view_access`: a user's permissions loaded once per request, not per check.
* `Filters.copy` / `get_joined_filters` (`LeanFilters`, from `get_filters`): copies without
  converting every column of the model again (four times a list page).
* `_filters` (`RequestFilters`): FAB keeps a view's search conditions on the one view object
  of the process (`get_filter_args(self._filters)` clears and refills it from the URL, then
  the list query and the search form read it back); a worker's threads would swap each
  other's conditions in between. Each request reads and fills a copy of its own.
"""

from __future__ import annotations

import copy
import inspect

from flask import abort, has_request_context, request
from flask_appbuilder import ModelView
from flask_appbuilder.api import ModelRestApi
from flask_appbuilder.const import API_FILTERS_RIS_KEY
from flask_appbuilder.exceptions import InvalidColumnFilterFABException, InvalidOperationFilterFABException
from flask_appbuilder.models.filters import Filters
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.security.sqla.manager import SecurityManager
from flask_appbuilder.urltools import get_filter_args, get_order_args, get_page_args, get_page_size_args

FAB_VERSION = "5.3.0"

# FAB's private (or internal) names this module overrides or calls, by class
PRIVATE_NAMES = {
    ModelView: (
        "_add",
        "_edit",
        "_delete",
        "_list",
        "_get_list_widget",
        "_get_search_widget",
        "_init_forms",
        "_fill_form_exclude_cols",
        "_get_add_widget",
        "_get_edit_widget",
        "_get_show_widget",
        "_get_related_views_widgets",
        "_deserialize_pk_if_composite",
    ),
    SQLAInterface: ("_apply_inner_all", "get_filters", "get_inner_filters"),
    ModelRestApi: (
        "_handle_filters_args",
        "_get_field_info",
        "_merge_update_item",
        "post_headless",
        "put_headless",
        "delete_headless",
        "_init_model_schemas",
    ),  # fmt: skip
    Filters: ("_add_filter", "clear_filters", "_get_filters", "copy", "get_joined_filters"),
    SecurityManager: ("_has_view_access", "_has_access_builtin_roles", "get_user_roles"),
}


def signatures():
    """{"Class.name": "(signature)"} of every name in PRIVATE_NAMES, for the pinning test."""
    out = {}
    for cls, names in PRIVATE_NAMES.items():
        for name in names:
            out[f"{cls.__name__}.{name}"] = str(inspect.signature(getattr(cls, name)))
    out["ModelView.list.__wrapped__"] = str(inspect.signature(ModelView.list.__wrapped__))
    return out


# --------------------------------------------------------------------------
# Filters
# --------------------------------------------------------------------------


def filters_plus(filters, extra):
    """A copy of FAB's `filters` with (filter instance, value) pairs added."""
    out = filters.copy()
    for flt, value in extra:
        out._add_filter(flt, value)
    return out


def filters_without(filters, columns):
    """A copy of FAB's `filters` without the conditions on `columns`."""
    kept = filters.copy()
    kept.clear_filters()
    for flt, value in zip(filters.filters, filters.values, strict=True):
        if flt.column_name not in columns:
            kept._add_filter(flt, value)
    return kept


def rest_filters(view_filters, conditions):
    """A request's own Filters from the API's rison `filters` list: each condition's
    operation is one the column itself offers (the view's search filters), so a column
    answers only with its own filter class; anything else raises FAB's filter exceptions
    (answered 400)."""
    filters = view_filters.copy()
    filters.clear_filters()
    offered = view_filters.get_search_filters()
    if not isinstance(conditions, list):
        raise InvalidColumnFilterFABException("filters must be a list")
    for condition in conditions:
        if not isinstance(condition, dict) or not {"col", "opr", "value"} <= set(condition):
            raise InvalidColumnFilterFABException("each filter needs col, opr and value")
        column, operation = condition["col"], condition["opr"]
        if not isinstance(column, str) or column not in view_filters.search_columns:
            raise InvalidColumnFilterFABException(f"Filter column: {column} not allowed to filter")
        found = next((f for f in offered.get(column, []) if f.arg_name == operation), None)
        if found is None:
            raise InvalidOperationFilterFABException(f"Filter operation: {operation} not allowed on column: {column}")
        cls = found if isinstance(found, type) else type(found)  # a view's own search_filters are classes
        filters._add_filter(cls(column, view_filters.datamodel), condition["value"])
    return filters


def search_filters_of(view):
    """The view's search filters as FAB built them (what extra columns are added to)."""
    return shared_filters(view)


def shared_filters(view):
    """The view's own Filters (search columns and choices), not a request's copy."""
    shared = view.__dict__.get(RequestFilters.SHARED)
    return view._filters if shared is None else shared


def search_filters_with(base, search_columns, extra):
    """A view's filters (`_filters`) with search columns FAB cannot derive from the model (extra
    fields, valued in another table): `extra` = {column: [filter instances]}; built, not assigned."""
    filters = base.copy()
    filters.clear_filters()
    filters.search_columns = list(search_columns)
    filters._search_filters = {**base.get_search_filters(), **extra}
    filters._all_filters = {**base._all_filters, **extra}
    return filters


def put_in_place(view, changes, filters=None):
    """Assign a view's new attributes and filters, built beforehand, one right after the other."""
    for name, value in changes.items():
        setattr(view, name, value)
    if filters is not None:
        view._filters = filters


def replace_search_filter(view, column, old_class, new_class):
    """Swap one of FAB's filters on `column` (same place in the list: URLs keep their index)."""
    filters = shared_filters(view)
    for group in (filters.get_search_filters(), filters._all_filters):
        options = group.get(column)
        if options:
            group[column] = [new_class(column, view.datamodel) if type(f) is old_class else f for f in options]


FETCHED_KEY = "minqing.fetched"  # the WSGI environ's {(view id, pk): record} of a GET request


def get_in_scope(view, pk):
    """The record `pk` through the view's base filters (scope), or None. On a GET request
    it is remembered for the request's edit form (`_edit` would fetch it a second time)."""
    if isinstance(view, ModelView):
        pk = view._deserialize_pk_if_composite(pk)
    item = view.datamodel.get(pk, view._base_filters)
    if item is not None and has_request_context() and request.method == "GET":
        request.environ.setdefault(FETCHED_KEY, {})[(id(view), str(pk))] = item
    return item


def _fetched_now(view, pk):
    """The record this GET request already fetched in scope through `view` (None: fetch it)."""
    if request.method != "GET":
        return None
    return request.environ.get(FETCHED_KEY, {}).get((id(view), str(pk)))


def set_base_filters(view, base_filters):
    """Replace a view's base filters after FAB built them (the recycle bin's own scope)."""
    view.base_filters = base_filters
    view._base_filters = view.datamodel.get_filters().add_filter_list(base_filters)


def joined_with_base(view, filters):
    return filters.get_joined_filters(view._base_filters)


def active_filters(view):
    """The view's filters as the request's URL sets them."""
    get_filter_args(view._filters)
    return view._filters


class RequestFilters:
    """`view._filters` as each request sees it: FAB's one Filters of the view (set by FAB's
    `__init__` or `put_in_place`) is the template; a request gets a shallow copy with
    lists of conditions of its own the first time it reads the attribute (kept in the WSGI
    environ: a test's app context may outlive many requests), and a new one if the template
    was replaced meanwhile. Outside a request the template itself."""

    SHARED = "_minqing_shared_filters"
    ENVIRON_KEY = "minqing.filters"

    def __get__(self, view, owner=None):
        if view is None:
            return self
        shared = view.__dict__.get(self.SHARED)
        if shared is None or not has_request_context():
            return shared
        copies = request.environ.setdefault(self.ENVIRON_KEY, {})
        kept = copies.get(id(view))
        if kept is None or kept[0] is not shared:
            mine = copy.copy(shared)
            mine.filters, mine.values = list(shared.filters), list(shared.values)
            kept = copies[id(view)] = (shared, mine, view)  # the view kept: its id stays its own
        return kept[1]

    def __set__(self, view, value):
        view.__dict__[self.SHARED] = value


class _ShownFilters:
    """What FAB's search form reads of the filters: the choices of `every` (FAB's copies
    lose them), the active conditions of `kept`."""

    def __init__(self, every, kept):
        self.every, self.kept = every, kept

    def get_search_filters(self):
        return self.every.get_search_filters()

    def get_filters_values_tojson(self):
        return self.kept.get_filters_values_tojson()


_MODEL_FILTERS = {}  # (converter class, interface class, model) -> FAB's filters of every column


class LeanFilters(Filters):
    """FAB's Filters whose copies do not convert every column of the model again: FAB's `copy`
    and `get_joined_filters` build a new Filters, which runs the filter converter over every
    column (a list page makes four of them: ~260 conversions). The copies are the same as
    FAB's (no search columns, the model's own filters of every column), from a dict built once."""

    @classmethod
    def blank(cls, filter_converter, datamodel):
        """FAB's `Filters(filter_converter, datamodel)` (no search columns, no conditions),
        its filters of every column taken from the dict built once per model."""
        key = (filter_converter, type(datamodel), datamodel.obj)
        every = _MODEL_FILTERS.get(key)
        if every is None:
            out = cls(filter_converter, datamodel)
            every = _MODEL_FILTERS[key] = out._all_filters
        out = cls.__new__(cls)
        out.search_columns = []
        out.filter_converter = filter_converter
        out.datamodel = datamodel
        out._search_filters = {}
        out._all_filters = dict(every)  # a view may swap a column's list; the lists are not changed in place
        out.clear_filters()
        return out

    def _fresh(self):
        return LeanFilters.blank(self.filter_converter, self.datamodel)

    def copy(self):
        out = self._fresh()
        out.filters, out.values = list(self.filters), list(self.values)
        return out

    def get_joined_filters(self, filters):
        out = self._fresh()
        out.filters, out.values = self.filters + filters.filters, self.values + filters.values
        return out


# --------------------------------------------------------------------------
# Data interface
# --------------------------------------------------------------------------


class CompatInterface(SQLAInterface):
    def get_filters(self, search_columns=None, search_filters=None):
        return LeanFilters(self.filter_converter_class, self, search_columns or [], search_filters)

    def blank_filters(self):
        """Filters of this model with no condition (FAB's `Filters(converter, datamodel)`), cheap."""
        return LeanFilters.blank(self.filter_converter_class, self)

    def get_inner_filters(self, filters):
        """FAB's inner filters (conditions on the model's own columns and many-to-one/one-to-one
        relations), without FAB converting every column of the model again on each call (twice a
        list page: the count and the page)."""
        inner = self.blank_filters()
        for flt, value in zip(filters.filters, filters.values, strict=True) if filters else ():
            root = flt.column_name.split(".")[0]
            if "." not in flt.column_name or self.is_relation_many_to_one(root) or self.is_relation_one_to_one(root):
                inner.add_filter_list([(flt.column_name, flt.__class__, value)])
        return inner

    def filtered_ids(self, query, filters=None, select_columns=None):
        """The query with filters applied, selecting ids only (what FAB counts)."""
        inner = self._apply_inner_all(query, filters, select_columns=select_columns, aliases_mapping={})
        return inner.with_entities(self.obj.id)

    def _apply_inner_all(self, query, filters=None, order_column="", order_direction="", page=None, page_size=None,
                         select_columns=None, aliases_mapping=None):  # fmt: skip
        """A page of the API (related columns shown: grid.name ...) finds its ids without the
        joins that only load what is shown, then loads those rows with them: FAB pages the
        joined query, which makes the database join a million rows to skip them."""
        dotted = any("." in c for c in select_columns or ())
        needs_join = "." in (order_column or "") or any(
            "." in f.column_name for f in (filters.filters if filters else ())
        )
        if not (page_size and dotted) or needs_join:
            return super()._apply_inner_all(query, filters, order_column, order_direction, page, page_size,
                                             select_columns, aliases_mapping)  # fmt: skip
        ids = super()._apply_inner_all(query, filters, order_column, order_direction, page, page_size,
                                       aliases_mapping={}).with_entities(self.obj.id).all()  # fmt: skip
        return super()._apply_inner_all(query.filter(self.obj.id.in_([row[0] for row in ids])), None, order_column,
                                        order_direction, None, None, select_columns, aliases_mapping)  # fmt: skip


# --------------------------------------------------------------------------
# HTML views
# --------------------------------------------------------------------------


class CompatModelView(ModelView):
    """FAB's ModelView with its private flows replaced by hooks a subclass fills in."""

    _filters = RequestFilters()

    # -- hooks ---------------------------------------------------------------

    def save_form(self, form, item, is_new):
        """Save `item` from a validated form; True when saved (the page redirects)."""
        raise NotImplementedError

    def delete_item(self, item):
        """Delete `item` (already fetched in scope); flashes its own outcome."""
        raise NotImplementedError

    def prefill_add_form(self, form):
        """Fill a new record's form on GET (e.g. from ?follow_up_of=12)."""

    def form_refused(self, form, item=None):
        """A posted form failed its own validation: add what else is wrong (all at once).
        `item`: the record being edited (None on the add form)."""

    def prefill_edit_form(self, form, item):
        """Fill the edit form on GET beyond the record's own values."""

    def list_page(self):
        """The list route's answer (a subclass may add figures around FAB's list)."""
        return ModelView.list.__wrapped__(self)

    def list_widgets(self):
        """FAB's list and search widgets for the request's filters, order and page."""
        return self._list()

    def clamp_list_args(self, filters, kwargs):
        """Called with the list widget's filters and arguments; returns the filters to use."""
        return filters

    def search_columns_shown(self):
        """The search form's columns for this user (None: FAB's own)."""
        return None

    def build_form_fields(self):
        """Before FAB builds the forms: set the *_form_extra_fields."""

    def forms_built(self):
        """After FAB built the forms."""

    # -- FAB's private flows, rewired ----------------------------------------

    def _init_forms(self):
        self.build_form_fields()
        super()._init_forms()
        self.forms_built()

    def _add(self):
        get_filter_args(self._filters, disallow_if_not_in_search=False)
        exclude_cols = self._filters.get_relation_cols()
        form = self.add_form.refresh()
        if request.method == "POST":
            self._fill_form_exclude_cols(exclude_cols, form)
            if form.validate():
                self.process_form(form, True)
                if self.save_form(form, self.datamodel.obj(), is_new=True):
                    return None
            else:
                self.form_refused(form)
        else:
            self.prefill_add_form(form)
            self.update_redirect()
        return self._get_add_widget(form=form, exclude_cols=exclude_cols)

    def _edit(self, pk):
        get_filter_args(self._filters, disallow_if_not_in_search=False)
        exclude_cols = self._filters.get_relation_cols()
        item = _fetched_now(self, pk) or self.datamodel.get(pk, self._base_filters)
        if not item:
            abort(404)
        pk = self.datamodel.get_pk_value(item)
        if request.method == "POST":
            form = self.edit_form.refresh(request.form)
            self._fill_form_exclude_cols(exclude_cols, form)
            form._id = pk
            if form.validate():
                self.process_form(form, False)
                if self.save_form(form, item, is_new=False):
                    return None
            else:
                self.form_refused(form, item)
        else:
            form = self.edit_form.refresh(obj=item)
            self.prefill_edit_form(form, item)
            self.prefill_form(form, pk)
            self.update_redirect()
        widgets = self._get_edit_widget(form=form, exclude_cols=exclude_cols)
        return self._get_related_views_widgets(
            item,
            filters={},
            orders=get_order_args(),
            pages=get_page_args(),
            page_sizes=get_page_size_args(),
            widgets=widgets,
        )

    def show_widgets(self, pk, item):
        """FAB's show page widgets (and related views) of `item`, which the caller has already
        fetched in scope: FAB's `_show` fetches it again (a second query, and its relations'
        loads again)."""
        widgets = self._get_show_widget(pk, item)
        self.update_redirect()
        return self._get_related_views_widgets(
            item, orders=get_order_args(), pages=get_page_args(), page_sizes=get_page_size_args(), widgets=widgets
        )

    def _delete(self, pk):
        item = self.datamodel.get(pk, self._base_filters)
        if not item:
            abort(404)
        self.delete_item(item)

    def _get_list_widget(self, filters, **kwargs):
        filters = self.clamp_list_args(filters, kwargs)
        return super()._get_list_widget(filters, **kwargs)

    def _get_search_widget(self, form=None, exclude_cols=None, widgets=None):
        shown = self.search_columns_shown()
        if shown is None:
            return super()._get_search_widget(form=form, exclude_cols=exclude_cols, widgets=widgets)
        hidden = [c for c in self.search_columns if c not in shown]
        widgets = widgets or {}
        widgets["search"] = self.search_widget(
            route_base=self.route_base,
            form=form,
            include_cols=shown,
            exclude_cols=exclude_cols or [],
            filters=_ShownFilters(self._filters, filters_without(self._filters, hidden)),
        )
        return widgets


# --------------------------------------------------------------------------
# Page and API objects served without a blueprint of their own (registers)
# --------------------------------------------------------------------------


def serve_unregistered(view, appbuilder, endpoint):
    """Make a view or API object answer requests without a blueprint of its own (a
    DelegatingView's routes call it): what FAB's add_view / create_blueprint would set."""
    view.appbuilder = appbuilder
    view.endpoint = endpoint
    if isinstance(view, ModelRestApi):
        view._init_model_schemas()
    return view


# --------------------------------------------------------------------------
# REST APIs
# --------------------------------------------------------------------------


class CompatModelRestApi(ModelRestApi):
    """FAB's ModelRestApi with its write flows replaced by hooks."""

    _filters = RequestFilters()

    def clean_filters(self, filters):
        """The filters of a list request, joined with the base filters (scope)."""
        return filters

    def api_add(self):
        raise NotImplementedError

    def api_update(self, item):
        raise NotImplementedError

    def api_delete(self, item):
        raise NotImplementedError

    def field_info(self, field, info):
        """Adjust the `_info` description of one field."""
        return info

    def merged_update(self, item, body):
        """PUT as PATCH: the body completed with the item's current values."""
        return self._merge_update_item(item, body)

    def _handle_filters_args(self, rison_args):
        filters = rest_filters(self._filters, rison_args.get(API_FILTERS_RIS_KEY, []))
        return self.clean_filters(filters.get_joined_filters(self._base_filters))

    def _get_field_info(self, field, filter_rel_field, page=None, page_size=None):
        return self.field_info(field, super()._get_field_info(field, filter_rel_field, page=page, page_size=page_size))

    def post_headless(self):
        return self.api_add()

    def put_headless(self, pk):
        item = self.datamodel.get(pk, self._base_filters)
        if not item:
            return self.response_404()
        return self.api_update(item)

    def delete_headless(self, pk):
        item = self.datamodel.get(pk, self._base_filters)
        if not item:
            return self.response_404()
        return self.api_delete(item)


# --------------------------------------------------------------------------
# Security manager
# --------------------------------------------------------------------------


class CompatSecurityManager(SecurityManager):
    def permission_pairs(self, role_ids):
        """(permission, view menu) names granted to any of `role_ids`."""
        raise NotImplementedError

    def _has_view_access(self, user, permission_name, view_name):
        """FAB asks the database once per check, and a page checks every menu entry and
        button (about 50 queries a page): within a request, load the user's permissions once."""
        if not has_request_context():
            return super()._has_view_access(user, permission_name, view_name)
        _, pairs, builtin = self._request_permissions(user)
        if (permission_name, view_name) in pairs:
            return True
        return any(self._has_access_builtin_roles(r, permission_name, view_name) for r in builtin)

    def _request_permissions(self, user):
        # on the request, not on g: tests run many requests inside one app context
        cached = getattr(request, "_minqing_permissions", None)
        if cached is None or cached[0] != user.id:
            roles = self.get_user_roles(user)
            builtin = [r for r in roles if r.name in self.builtin_roles]
            db_role_ids = [r.id for r in roles if r.name not in self.builtin_roles]
            pairs = frozenset(self.permission_pairs(db_role_ids)) if db_role_ids else frozenset()
            cached = (user.id, pairs, builtin)
            request._minqing_permissions = cached
        return cached

    def access_key(self, user):
        """Everything this request's permission checks of `user` depend on (hashable): two
        requests with equal keys get the same answers (what the menu is cached by). Read from
        the database on each request, so a changed grant changes the key at once in every process."""
        _, pairs, builtin = self._request_permissions(user)
        return pairs, tuple(sorted(r.name for r in builtin))
