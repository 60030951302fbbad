"""The request's edge: what arrives from a URL is checked before any view or query sees it.

A record id in a path or a query string that no row can have (not a number, or
beyond a 32-bit integer column) is a 404 or is ignored, never handed to the
database; a malformed `?q=` (rison) of the REST API is a 400.
"""

from __future__ import annotations

import prison
from flask import abort, jsonify, request
from flask_babel import lazy_gettext as _l

MAX_ID = 2**31 - 1  # ids are 32-bit integers on every database we run on


def parse_id(value):
    """A plausible record id from text or a number, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 < value <= MAX_ID else None
    text = str(value or "").strip()
    if not text.isdigit() or len(text) > 10:
        return None
    number = int(text)
    return number if 0 < number <= MAX_ID else None


def id_arg(name):
    """An id from the query string, or None when absent or not a plausible id."""
    return parse_id(request.args.get(name))


def valid_pk_or_404():
    """A record id in a URL that no row can have is a 404, not a database error."""
    pk = (request.view_args or {}).get("pk")
    if pk is None:
        return None
    if parse_id(pk) is None:
        abort(404)
    return None


def valid_rison_or_400():
    """FAB parses ?q= (rison) and lets some malformed values crash: answer 400."""
    if not request.path.startswith("/api/") or "q" not in request.args:
        return None
    try:
        prison.loads(request.args["q"])
    except Exception:  # noqa: BLE001 (any parse failure is the client's)
        return jsonify(message=str(_l("The q parameter is not valid rison."))), 400
    return None
