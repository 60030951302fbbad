"""Checks of single values shared by forms, services and importers."""

import re

from flask import current_app
from flask_babel import lazy_gettext as _l

from app.services.errors import DomainError


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


def non_negative(value, field):
    if value is not None and value < 0:
        raise DomainError(_l("The number must not be negative."), field=field)
    return value
