"""The request's edge: what arrives from outside is checked before any view or query sees it.

Registered as before_request hooks by app/factory.py, for every page and API alike:

* `valid_pk_or_404` — a record id in the path that no row can have is a 404;
* `valid_args_or_400` — query-string and form values: no NUL byte anywhere; page numbers
  and sizes (`page`, `page_size`, FAB's `page_<View>` / `psize_<View>`) through one parser;
  the arguments that name a record (`ID_ARGS`) and FAB's filters on a relation or an integer
  column (`_flt_<n>_<column>`) through one id / integer parser;
* `valid_rison_or_400` — the REST API's `?q=` (rison): parsed, the same text rules, page
  numbers anywhere in it, and its filters on relations (`rel_o_m`, `rel_m_m`) and integers;
* `valid_body_or_4xx` — a REST body: over MAX_CONTENT_LENGTH is a 413 (FAB's `@safe`
  would make it a 500), not JSON is a 400, and so is JSON holding a NUL byte, a lone
  surrogate, NaN/Infinity or a number beyond 64 bits.

The parsers themselves live in app/core/inputs.py, where services use them too.
"""

from __future__ import annotations

import json
import re

import prison
from flask import abort, current_app, jsonify, request
from flask_babel import lazy_gettext as _l
from markupsafe import escape

from app.core.inputs import INT32, INT64, MAX_ID, MAX_PAGE, bad_json_value, bad_text, parse_id, parse_int, parse_page

__all__ = ["MAX_ID", "id_arg", "parse_id", "parse_page"]

# query-string arguments that name a record by id, anywhere in the app (with the words some also take)
ID_ARGS = {
    "id": (),
    "in": (),
    "origin": ("all",),
    "grid": (),
    "category": (),
    "channel": (),
    "visit": (),
    "contact_record": (),
    "representative": (),
    "follow_up_of": (),
    "person": (),
}
PAGE_ARG = re.compile(r"^(page|page_size|limit|page_\w+|psize_\w+)$")
FILTER_ARG = re.compile(r"^_flt_\d+_(\w[\w.]*)$")
RELATION_OPERATORS = {"rel_o_m", "rel_m_m"}  # FAB's relation filters: the value is an id

BAD_RISON = _l("The q parameter is not valid rison.")
BAD_TEXT = _l("The request holds characters that cannot be stored (a NUL byte or a broken Unicode character).")
BAD_NUMBER = _l("The request holds a number beyond any field's range.")
BAD_JSON = _l("The body is not valid JSON.")
BAD_PAGE = _l("%(name)s must be a whole number from 0 to %(max)s.")
BAD_ID = _l("%(name)s must be the id (a whole number) of a record.")
BAD_INTEGER = _l("%(name)s must be a whole number within the field's range.")
VALUE_REFUSED = _l("A value in the request is not one this field can hold.")


def id_arg(name):
    """An id from the query string, or None when absent or not a plausible id."""
    return parse_id(request.args.get(name))


def refuse(status, message):
    """The 4xx answer of the edge: JSON under /api/, a short page elsewhere."""
    text = str(message)
    if request.path.startswith("/api/"):
        return jsonify(message=text), status
    return f"<!DOCTYPE html><meta charset='utf-8'><p>{escape(text)}</p>", status


def valid_pk_or_404():
    """A record id in a URL that no row can have is a 404, not a database error."""
    pk = (request.view_args or {}).get("pk")
    if pk is None:
        return None
    if parse_id(pk) is None:
        abort(404)
    return None


def datamodel_of_request():
    """The data interface of the view or API serving this request (None for other routes)."""
    function = current_app.view_functions.get(request.endpoint or "")
    view = getattr(function, "__self__", None)
    return getattr(view, "datamodel", None)


def filter_value_problem(datamodel, column, value, operator=None):
    """The message for a filter value the column cannot take, or None."""
    if value in (None, ""):
        return None
    relation = operator in RELATION_OPERATORS
    integer = None
    if datamodel is not None and column in getattr(datamodel, "list_properties", {}):
        relation = relation or datamodel.is_relation(column)
        if not relation and column in datamodel.list_columns and datamodel.is_integer(column):
            integer = INT64 if "BigInteger" in type(datamodel.list_columns[column].type).__name__ else INT32
    if relation and parse_id(value) is None:
        return BAD_ID % {"name": column}
    if integer is not None and parse_int(value, integer) is None:
        return BAD_INTEGER % {"name": column}
    return None


def valid_args_or_400():
    """Query-string and form values: no NUL, page numbers and ids that can be."""
    datamodel = None
    for name, value in request.args.items(multi=True):
        if bad_text(name) or bad_text(value):
            return refuse(400, BAD_TEXT)
        text = value.strip()
        if PAGE_ARG.match(name) and text and parse_page(text) is None:
            return refuse(400, BAD_PAGE % {"name": name, "max": MAX_PAGE})
        if name in ID_ARGS and text and text not in ID_ARGS[name] and parse_id(text) is None:
            return refuse(400, BAD_ID % {"name": name})
        matched = FILTER_ARG.match(name)
        if matched:
            datamodel = datamodel or datamodel_of_request()
            problem = filter_value_problem(datamodel, matched.group(1), text)
            if problem:
                return refuse(400, problem)
    if request.method in ("POST", "PUT", "PATCH") and request.mimetype in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        for name, value in request.form.items(multi=True):
            if bad_text(name) or bad_text(value):
                return refuse(400, BAD_TEXT)
    return None


def _pages_problem(value, depth=0):
    """A `page` / `page_size` anywhere in a rison structure that is not a page number."""
    if depth > 10:
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("page", "page_size") and parse_page(item) is None:
                return BAD_PAGE % {"name": key, "max": MAX_PAGE}
            problem = _pages_problem(item, depth + 1)
            if problem:
                return problem
    elif isinstance(value, list):
        for item in value:
            problem = _pages_problem(item, depth + 1)
            if problem:
                return problem
    return None


def valid_rison_or_400():
    """The REST API's ?q= (rison), checked before FAB parses it (some values crash it)."""
    if not request.path.startswith("/api/") or "q" not in request.args:
        return None
    try:
        args = prison.loads(request.args["q"])
    except Exception:  # noqa: BLE001 (any parse failure is the client's)
        return refuse(400, BAD_RISON)
    problem = bad_json_value(args)
    if problem:
        return refuse(400, BAD_NUMBER if problem == "range" else BAD_TEXT)
    problem = _pages_problem(args)
    if problem:
        return refuse(400, problem)
    filters = args.get("filters") if isinstance(args, dict) else None
    if isinstance(filters, list):
        datamodel = datamodel_of_request()
        for condition in filters:
            if not isinstance(condition, dict):
                continue
            column = str(condition.get("col", ""))
            value = condition.get("value")
            if isinstance(value, (dict, list)):
                return refuse(400, BAD_ID % {"name": column})
            problem = filter_value_problem(datamodel, column, value, condition.get("opr"))
            if problem:
                return refuse(400, problem)
    return None


def _no_constant(name):
    raise ValueError(name)  # NaN, Infinity, -Infinity: not JSON


def valid_body_or_4xx():
    """A REST write's body: within the size limit (413), JSON when it says so (400), and
    holding nothing a column cannot take (400): checked here, outside FAB's `@safe`."""
    if request.method not in ("POST", "PUT", "PATCH") or not request.path.startswith("/api/"):
        return None
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit and request.content_length is not None and request.content_length > limit:
        abort(413)
    data = request.get_data(cache=True)  # beyond the limit: RequestEntityTooLarge, the 413 handler
    if not data or not request.is_json:
        return None
    try:
        body = json.loads(data.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError):
        return refuse(400, BAD_JSON)
    problem = bad_json_value(body)
    if problem:
        return refuse(400, BAD_NUMBER if problem == "range" else BAD_TEXT)
    return None
