"""What a value from outside must look like before any query or column sees it.

One parser for record ids and one for page numbers (used by the request's edge,
app/views/edge.py, and by services that take ids from forms or JSON), the integer
ranges of the database columns, and the text no database takes: NUL bytes
(PostgreSQL refuses them in text) and lone UTF-16 surrogates (not encodable as UTF-8).
"""

from __future__ import annotations

import math

MAX_ID = 2**31 - 1  # ids are 32-bit integers on every database we run on
MAX_PAGE = 1_000_000  # no list has this many pages; beyond it OFFSET overflows somewhere
INT32 = (-(2**31), 2**31 - 1)  # Integer columns
INT64 = (-(2**63), 2**63 - 1)  # BigInteger columns, and any number a JSON body may hold


def _whole(value):
    """An int from an int or a string of ASCII digits (no sign, no '²', no '1.0'), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = str(value if value is not None else "").strip()
    if not text or not text.isascii() or not text.isdigit() or len(text) > 18:
        return None
    return int(text)


def parse_id(value):
    """A plausible record id (1 … 2³¹-1) from text or a number, else None."""
    number = _whole(value)
    return number if number is not None and 0 < number <= MAX_ID else None


def parse_page(value):
    """A page number or page size (0 … MAX_PAGE) from text or a number, else None."""
    number = _whole(value)
    return number if number is not None and 0 <= number <= MAX_PAGE else None


def parse_int(value, bounds=INT32):
    """A whole number within `bounds` (a signed column's range) from text or a number, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    else:
        text = str(value if value is not None else "").strip()
        sign, digits = (-1, text[1:]) if text.startswith("-") else (1, text.removeprefix("+"))
        number = _whole(digits)
        if number is None:
            return None
        number *= sign
    low, high = bounds
    return number if low <= number <= high else None


def bad_text(text):
    """Why `text` cannot be stored (a NUL byte, a lone surrogate), or None."""
    if "\x00" in text:
        return "nul"
    if any("\ud800" <= ch <= "\udfff" for ch in text):
        return "surrogate"
    return None


def bad_json_value(value, depth=0):
    """Why a parsed JSON (or rison) value cannot be taken, or None: text no database stores,
    a number beyond any column (64 bits), infinity or NaN, or nesting deeper than any form."""
    if depth > 20:
        return "depth"
    if isinstance(value, str):
        return bad_text(value)
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return None if INT64[0] <= value <= INT64[1] else "range"
    if isinstance(value, float):
        return None if math.isfinite(value) else "range"
    if isinstance(value, dict):
        for key, item in value.items():
            problem = bad_json_value(key, depth + 1) or bad_json_value(item, depth + 1)
            if problem:
                return problem
        return None
    if isinstance(value, (list, tuple)):
        for item in value:
            problem = bad_json_value(item, depth + 1)
            if problem:
                return problem
    return None
