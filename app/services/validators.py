"""Checks of single values shared by forms, services and importers."""

import datetime as dt
import re

from flask import current_app
from flask_babel import lazy_gettext as _l

from app.core.errors import DomainError


def clean_text(value):
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def require(value, message, field):
    value = clean_text(value) if isinstance(value, str) else value
    if value in (None, ""):
        raise DomainError(message, field=field)
    return value


def normalize_phone(value, field="phone"):
    """Accept a mobile (13812345678) or landline (0371-12345678, 12345678) number."""
    value = clean_text(value)
    if value is None:
        return None
    compact = re.sub(r"[\s()（）]", "", value).replace("－", "-")
    if compact.startswith("+86"):
        compact = compact[3:]
    if not re.match(current_app.config["PHONE_PATTERN"], compact):
        raise DomainError(
            _l("%(value)s is not a valid phone number (mobile 13812345678 or landline 0371-12345678).", value=value),
            field=field,
        )
    return compact


ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARS = "10X98765432"


def normalize_id_number(value, field="id_number"):
    """A resident ID number (GB 11643): 17 digits, a birth date inside, and a check
    character (digit or X) computed from the others. Returns it with an upper-case X."""

    value = clean_text(value)
    if value is None:
        return None
    compact = re.sub(r"\s", "", value).upper()
    if not re.fullmatch(r"\d{17}[\dX]", compact):
        raise DomainError(
            _l("An ID number has 18 characters: 17 digits, then a digit or X (%(value)s).", value=value),
            field=field,
        )
    try:
        dt.date(int(compact[6:10]), int(compact[10:12]), int(compact[12:14]))
    except ValueError:
        raise DomainError(
            _l("The ID number %(value)s does not contain a valid date of birth.", value=value), field=field
        ) from None
    expected = id_check_char(compact[:17])
    if compact[17] != expected:
        raise DomainError(
            _l("The ID number %(value)s fails its check digit: please check every digit.", value=value), field=field
        )
    return compact


def id_check_char(first17):
    """The check character of the first 17 digits of an ID number (for test and demo data)."""
    return ID_CHECK_CHARS[sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]


def non_negative(value, field):
    if value is not None and value < 0:
        raise DomainError(_l("The number must not be negative."), field=field)
    return value
