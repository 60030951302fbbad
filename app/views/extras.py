"""Extra fields (扩展字段) on the built-in pages and APIs: appeals, visits, people, grids, contact
records. When the definitions change (app.services.registers.runtime), `refresh` gives every
view of an extensible record the live extra fields: form fields (built as a register's are:
pickers, choice lists, validators), columns of its form, show page, list (fields marked "in
list") and Excel export, labels, help texts and formatters. The API answers and takes them as
one `extra` object (app.views.extra_values). Their values go through the record's own masking (`__sensitive__`), scope
and unit of work; every rule is checked with the record's own rules (ScopedModelView.pre_add).
"""

from __future__ import annotations

from flask import current_app, has_app_context
from flask_appbuilder.models.filters import BaseFilter
from flask_babel import lazy_gettext as _l

from app.extensions import db
from app.models.registers import FieldType
from app.services.registers import extensions, runtime
from app.views.fab_compat import put_in_place, search_filters_of, search_filters_with, serve_unregistered
from app.views.registers.entries import page_class

EXTRA_FIELDSET = _l("Extra fields")


def _layout(view):
    """What the view declared itself (taken once, before any extra field was added)."""
    layout = view.__dict__.get("_declared_layout")
    if layout is None:
        layout = {
            name: getattr(view, name, None)
            for name in ("add_columns", "edit_columns", "show_columns", "list_columns", "export_columns",
                         "add_fieldsets", "edit_fieldsets", "show_fieldsets", "label_columns",
                         "description_columns", "formatters_columns", "add_form", "edit_form", "search_columns",
                         "search_form")
        }  # fmt: skip
        layout["filters"] = search_filters_of(view)
        view._declared_layout = layout
    return layout


def _with_fieldset(fieldsets, codes):
    if not fieldsets or not codes:
        return fieldsets
    return [*fieldsets, (str(EXTRA_FIELDSET), {"fields": list(codes), "expanded": True})]


def _form_with(form_class, page_form, codes):
    if form_class is None or not codes:
        return form_class
    return type(form_class.__name__, (form_class,), {code: getattr(page_form, code) for code in codes})


def apply_to_view(view, page, fields):
    """Give one HTML view the live extra fields (`page`: a register page built from them). The
    other threads of the worker go on serving with this view: every new value (forms, filters,
    columns) is built first and then put in place in one short loop, so a request meets either
    the old layout or the new one in all but that loop's few microseconds."""
    base = _layout(view)
    codes = [f.code for f in fields]
    listed = [f.code for f in fields if f.in_list]

    def plus(name, extra):
        declared = base[name]
        return declared if not declared or not extra else [*declared, *extra]

    formatters = dict(base["formatters_columns"] or {})
    if page is not None:
        formatters.update({c: page.formatters_columns[c] for c in codes if c in page.formatters_columns})
    changes = {
        "add_columns": plus("add_columns", codes),
        "edit_columns": plus("edit_columns", codes),
        "show_columns": plus("show_columns", codes),
        "list_columns": plus("list_columns", listed),
        "export_columns": [*(base["export_columns"] or base["list_columns"] or []), *codes] if codes else (
            base["export_columns"]),
        "add_fieldsets": _with_fieldset(base["add_fieldsets"], codes),
        "edit_fieldsets": _with_fieldset(base["edit_fieldsets"], codes),
        "show_fieldsets": _with_fieldset(base["show_fieldsets"], codes),
        "label_columns": {**(base["label_columns"] or {}), **{f.code: f.label for f in fields}},
        "description_columns": {
            **(base["description_columns"] or {}), **{f.code: f.help_text for f in fields if f.help_text},
        },
        "formatters_columns": formatters,
        "add_form": _form_with(base["add_form"], page.add_form if page else None, codes),
        "edit_form": _form_with(base["edit_form"], page.edit_form if page else None, codes),
        "extra_codes": tuple(codes),
    }  # fmt: skip
    search, filters = _search(view, base, page, [f.code for f in fields if f.filterable])
    put_in_place(view, {**changes, **search}, filters)


class ExtraFilter(BaseFilter):
    """A condition on an extra field: the register page's own filter (`inner`) on the extra
    values' table, as `record.id IN (ids of the rows that match)`. FAB makes instances again
    from the class (column name, datamodel), so each inner filter gets a class of its own."""

    inner = None

    @classmethod
    def wrapping(cls, inner):
        return type("ExtraFilter", (cls,), {"inner": inner, "name": inner.name, "arg_name": inner.arg_name})

    def apply(self, query, value):
        table = self.inner.model
        matching = self.inner.apply(db.session.query(table.id), value)
        return query.filter(self.model.id.in_(matching.statement))


def _extra_filters(view, page, filterable):
    """{code: [filter instances]}: the register page's filters of each filterable extra field."""
    if page is None:
        return {}
    inner = search_filters_of(page).get_search_filters()
    return {code: [ExtraFilter.wrapping(f)(code, view.datamodel) for f in inner.get(code, [])] for code in filterable}


def _search(view, base, page, filterable):
    """The view's search with the filterable extra fields (conditions, form fields): the new values."""
    if base["search_columns"] is None or base["search_form"] is None:
        return {}, None
    columns = [*base["search_columns"], *filterable]
    changes = {
        "search_columns": columns,
        "search_form": _form_with(base["search_form"], page.search_form if page else None, filterable),
    }
    return changes, search_filters_with(base["filters"], columns, _extra_filters(view, page, filterable))


def apply_to_api(view, page, fields):
    """Give one REST API the live extra fields: the `extra` object's codes and the filterable
    ones as rison filter columns (offered by `_info`, applied as the list page applies them)."""
    declared = view.__dict__.get("_declared_search")
    if declared is None:
        declared = view._declared_search = (list(view.search_columns or []), search_filters_of(view))
    columns, filters = declared
    filterable = [f.code for f in fields if f.filterable]
    search_columns = [*columns, *filterable]
    changes = {"search_columns": search_columns, "extra_codes": tuple(f.code for f in fields)}
    put_in_place(view, changes, search_filters_with(filters, search_columns, _extra_filters(view, page, filterable)))


@runtime.on_rebuild
def refresh(_specs=None):
    """Every view and API of an extensible record, in step with the definitions."""
    if not has_app_context() or getattr(current_app, "appbuilder", None) is None:
        return
    appbuilder = current_app.appbuilder
    built = runtime.built_extensions()
    pages = {}
    for table in extensions.TARGETS:
        spec_cls = built.get(table)
        fields = ()
        if spec_cls is not None:
            spec, cls = spec_cls
            fields = tuple(f for f in spec.live_fields if f.type != FieldType.GRID)
            if fields:
                page = serve_unregistered(page_class(spec, cls)(), appbuilder, "RegisterEntryView")
                pages[table] = (page, fields)
    for view in appbuilder.baseviews:
        datamodel = getattr(view, "datamodel", None)
        table = extensions.table_of(getattr(datamodel, "obj", None))
        if table is None:
            continue
        page, fields = pages.get(table, (None, ()))
        if hasattr(view, "add_form"):  # an HTML view
            apply_to_view(view, page, fields)
        else:
            apply_to_api(view, page, fields)
