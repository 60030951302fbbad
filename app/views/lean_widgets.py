"""FAB's search widget, same markup and behaviour, with what does not change between requests
built once: every list renders its search form's fields (selects with every option of a lookup,
status, importance ...), their labels and the names of every filter of every searchable column
on each request (~20 ms and ~50 translations a page), although all of it depends only on the
view, the language and the lookups' current values.

A field's HTML is kept under a key holding everything it is rendered from that can change while
the process runs: the form class and column, the language, the application root (picker URLs),
the field's data and its choices as read now (a lookup renamed, added or deactivated in any
process is a new key at once). The names of the filters are kept per view's filters, columns and
language; the labels are read each time (a register's field may be renamed).
"""

from __future__ import annotations

from flask import current_app, request
from flask_appbuilder._compat import as_unicode
from flask_appbuilder.widgets import SearchWidget
from flask_babel import get_locale

_FIELDS = "minqing_search_fields"
_NAMES = "minqing_search_filter_names"
KEYS_KEPT = 2048  # a few hundred fields × languages; cleared when full (then rebuilt as used)


def _kept(name):
    kept = current_app.extensions.setdefault(name, {})
    if len(kept) >= KEYS_KEPT:
        kept.clear()
    return kept


def _choices(field):
    if not hasattr(field, "iter_choices"):
        return None
    return tuple(tuple(str(part) for part in choice) for choice in field.iter_choices())


def field_html(form, column, language):
    """The search field `column` of `form` rendered, from the kept copy when nothing it shows changed."""
    field = form[column]
    key = (type(form), column, language, request.script_root, repr(field.data), _choices(field))
    kept = _kept(_FIELDS)
    html = kept.get(key)
    if html is None:
        html = kept[key] = field()
    return html


class LeanSearchWidget(SearchWidget):
    def __call__(self, **kwargs):
        form = self.template_args["form"]
        columns = self.template_args["include_cols"]
        dict_filters = self.filters.get_search_filters()
        language = str(get_locale())
        key = (tuple(columns), language, id(dict_filters))
        kept = _kept(_NAMES)
        found = kept.get(key)
        if found is None:
            names = {col: [as_unicode(flt.name) for flt in dict_filters[col]] for col in columns}
            found = kept[key] = (names, dict_filters)  # holds the filters: their id is not reused
        kwargs["label_columns"] = {col: as_unicode(form[col].label.text) for col in columns}
        kwargs["search_filters"] = found[0]
        kwargs["form_fields"] = {col: field_html(form, col, language) for col in columns}
        kwargs["active_filters"] = self.filters.get_filters_values_tojson()
        return super(SearchWidget, self).__call__(**kwargs)
