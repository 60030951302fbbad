"""Values of register fields: bounds and defaults typed by IT staff, and cells or request values
typed by clerks, read per field type with the same rules everywhere (forms, API, Excel, type
changes)."""

from __future__ import annotations

import datetime as dt
import decimal
import re

from flask_babel import lazy_gettext as _l

from app.core.errors import DomainError
from app.models.registers import TEXT_MAX, TEXTAREA_MAX, FieldType
from app.services.validators import normalize_id_number, normalize_phone

YES = {"是", "yes", "y", "true", "1", "√", "✓", "on"}
NO = {"否", "no", "n", "false", "0", "×", "off"}


def parse_value(field_type, value, field_name="default_value"):
    """A bound or default as the field's type (None when empty); DomainError when it does not fit."""
    if value in (None, ""):
        return None
    text_value = str(value).strip()
    try:
        if field_type == FieldType.INTEGER:
            return int(text_value)
        if field_type == FieldType.DECIMAL:
            return decimal.Decimal(text_value)
        if field_type == FieldType.DATE:
            return dt.date.fromisoformat(text_value)
        if field_type == FieldType.DATETIME:
            return dt.datetime.fromisoformat(text_value)
        if field_type == FieldType.BOOLEAN:
            if text_value.lower() in ("1", "true", "yes", "是", "y"):
                return True
            if text_value.lower() in ("0", "false", "no", "否", "n"):
                return False
            raise ValueError(text_value)
    except (ValueError, decimal.InvalidOperation):
        raise DomainError(
            _l("“%(value)s” is not a %(type)s.", value=text_value, type=FieldType.label_of(field_type)),
            field=field_name,
        ) from None
    return text_value


def length_bound(value, field_name):
    if value in (None, ""):
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        raise DomainError(_l("Give the number of characters as a whole number."), field=field_name) from None
    if number < 0:
        raise DomainError(_l("The number must not be negative."), field=field_name)
    return number


def text_limit(field):
    """The most characters a text field takes (its maximum, within the column's size)."""
    cap = TEXT_MAX if field.type == FieldType.TEXT else TEXTAREA_MAX
    high = length_bound(field.max_value, "max_value") if field.type in (FieldType.TEXT, FieldType.TEXTAREA) else None
    return min(cap, high) if high else cap


def parse_date(text_value):
    """2026-01-02, 2026/1/2, 2026.1.2 or 2026年1月2日."""
    match = re.fullmatch(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?", text_value.strip())
    if match is None:
        raise ValueError(text_value)
    return dt.date(int(match[1]), int(match[2]), int(match[3]))


def clean_value(field, value):
    """A value of `field` from a cell, a request or a stored value of another type: typed, or
    DomainError (field = the field's code). Links (choice, person, appeal) are the caller's."""
    if isinstance(value, str):
        value = value.strip()
    if value in (None, ""):
        return None
    kind = field.type
    bad = DomainError(
        _l("“%(value)s” is not a %(type)s.", value=str(value)[:40], type=FieldType.label_of(kind)), field=field.code
    )
    try:
        if kind in (FieldType.TEXT, FieldType.TEXTAREA):
            text_value = str(value)
            if len(text_value) > text_limit(field):
                raise DomainError(
                    _l("At most %(n)s characters (this has %(m)s).", n=text_limit(field), m=len(text_value)),
                    field=field.code,
                )
            return text_value
        if kind == FieldType.INTEGER:
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if isinstance(value, bool):
                raise bad
            return int(str(value))
        if kind == FieldType.DECIMAL:
            if isinstance(value, bool):
                raise bad
            number = decimal.Decimal(str(value))
            if not number.is_finite() or abs(number) >= decimal.Decimal(10) ** 14:
                raise bad
            return number
        if kind == FieldType.DATE:
            if isinstance(value, dt.datetime):
                return value.date()
            if isinstance(value, dt.date):
                return value
            return parse_date(str(value))
        if kind == FieldType.DATETIME:
            if isinstance(value, dt.datetime):
                return value
            if isinstance(value, dt.date):
                return dt.datetime(value.year, value.month, value.day)
            return dt.datetime.fromisoformat(str(value).replace("/", "-"))
        if kind == FieldType.BOOLEAN:
            if isinstance(value, bool):
                return value
            lowered = str(value).lower()
            if lowered in YES:
                return True
            if lowered in NO:
                return False
            raise bad
        if kind == FieldType.PHONE:
            return normalize_phone(str(value), field=field.code)
        if kind == FieldType.ID_NUMBER:
            return normalize_id_number(str(value), field=field.code)
    except (ValueError, decimal.InvalidOperation, OverflowError):
        raise bad from None
    return value
