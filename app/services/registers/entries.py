"""Entries of a register: every rule of every field checked at once, defaults, uniqueness.

The same check runs for the form, the API and each row of an Excel import, so an entry
obeys exactly the rules its register's designer set — and a clerk sees every problem of
a form in one go.
"""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from app.core.errors import Collector, DomainError
from app.models.registers import NUMBER_TYPES, TIME_TYPES, ChoiceValue, FieldType, UniqueWithin
from app.services.registers.values import clean_value, length_bound, parse_value


def field_value(entry, field):
    """What the entry holds for `field` (a link: the related row or its id)."""
    if field.type == FieldType.GRID:
        return entry.__dict__.get("grid") or entry.grid_id
    if field.type in (FieldType.CHOICE, FieldType.PERSON, FieldType.APPEAL):
        return entry.__dict__.get(field.code) or getattr(entry, field.column)
    return getattr(entry, field.code)


def is_empty(value):
    return value is None or value == "" or (isinstance(value, (list, tuple, set)) and not value)


def apply_defaults(session, entry):
    """A new entry's empty fields take their defaults."""
    for field in type(entry).__fields__:
        if field.type == FieldType.ATTACHMENT or field.default_value in (None, ""):
            continue
        if not is_empty(field_value(entry, field)):
            continue
        if field.type == FieldType.CHOICE:
            value = session.scalar(
                select(ChoiceValue).where(
                    ChoiceValue.list_id == field.choice_list_id, ChoiceValue.name == field.default_value
                )
            )
            if value is not None:
                setattr(entry, field.code, value)
        elif field.type not in (FieldType.MULTICHOICE, FieldType.PERSON, FieldType.APPEAL, FieldType.GRID):
            setattr(entry, field.code, parse_value(field.type, field.default_value))


def check_entry(session, entry, user=None):
    """Tidy `entry`'s values and raise every broken rule at once (DomainErrors)."""
    cls = type(entry)
    errors = Collector()
    with session.no_autoflush:
        for field in cls.__fields__:
            if field.type == FieldType.ATTACHMENT:
                continue  # files: checked with the form's uploads (app.services.registers.files)
            with errors.check():
                _check(session, entry, field)
    errors.raise_if_any()
    if user is not None and entry.id is None and entry.created_by_id is None:
        entry.created_by_id = user.id


def _check(session, entry, field):
    value = field_value(entry, field)
    if is_empty(value):
        if field.required:
            raise DomainError(_l("%(label)s is required.", label=field.label), field=field.code)
        if field.type not in (FieldType.MULTICHOICE, FieldType.GRID) and field.type not in (
            FieldType.CHOICE, FieldType.PERSON, FieldType.APPEAL,
        ):  # fmt: skip
            setattr(entry, field.code, None)
        return
    if field.type in (FieldType.TEXT, FieldType.TEXTAREA, FieldType.PHONE, FieldType.ID_NUMBER, FieldType.INTEGER,
                      FieldType.DECIMAL, FieldType.DATE, FieldType.DATETIME, FieldType.BOOLEAN):  # fmt: skip
        value = clean_value(field, value)
        setattr(entry, field.code, value)
    label = field.label
    if field.type in (FieldType.TEXT, FieldType.TEXTAREA):
        shortest = length_bound(field.min_value, "min_value")
        if shortest and len(value) < shortest:
            raise DomainError(
                _l("%(label)s needs at least %(n)s characters.", label=label, n=shortest), field=field.code
            )
        if field.pattern and not re.fullmatch(field.pattern, value):
            message = field.pattern_message or _l("%(label)s is not in the expected form.", label=label)
            raise DomainError(message, field=field.code)
    if field.type in NUMBER_TYPES or field.type in TIME_TYPES:
        low = parse_value(field.type, field.min_value, field.code)
        high = parse_value(field.type, field.max_value, field.code)
        if low is not None and value < low:
            raise DomainError(_l("%(label)s must be at least %(min)s.", label=label, min=low), field=field.code)
        if high is not None and value > high:
            raise DomainError(_l("%(label)s must be at most %(max)s.", label=label, max=high), field=field.code)
    if field.type == FieldType.CHOICE and not field.lookup:
        _check_choices(entry, field, [value])
    if field.type == FieldType.MULTICHOICE:
        _check_choices(entry, field, list(value))
    if field.unique_within:
        _check_unique(session, entry, field, value)


def _check_choices(entry, field, values):
    for value in values:
        list_id = getattr(value, "list_id", None)
        if list_id is not None and list_id != field.choice_list_id:
            raise DomainError(_l("Choose %(label)s from its list.", label=field.label), field=field.code)


def _check_unique(session, entry, field, value):
    cls = type(entry)
    column = (
        getattr(cls, field.column) if field.type in (FieldType.CHOICE, FieldType.PERSON) else getattr(cls, field.code)
    )
    if hasattr(value, "id"):
        value = value.id
    query = select(func.count()).select_from(cls).where(column == value)
    if hasattr(cls, "deleted_at"):
        query = query.where(cls.deleted_at.is_(None))
    if entry.id is not None:
        query = query.where(cls.id != entry.id)
    if field.unique_within == UniqueWithin.GRID and hasattr(cls, "grid_id"):
        grid_id = entry.grid.id if entry.__dict__.get("grid") is not None else entry.grid_id
        query = query.where(cls.grid_id == grid_id)
    if session.scalar(query):
        where = _l("in this grid") if field.unique_within == UniqueWithin.GRID else _l("in this register")
        raise DomainError(
            _l("Another entry %(where)s already has this %(label)s.", where=where, label=field.label), field=field.code
        )
