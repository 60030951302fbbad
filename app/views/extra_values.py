"""The API's `extra` object: a record's extra fields (扩展字段) as JSON, answered masked as the
record's own columns and taken with every problem at once (app.views.api uses it; the pages get
theirs from app.views.extras)."""

from __future__ import annotations

import datetime as dt
import decimal

from flask_babel import lazy_gettext as _l

from app.core.errors import Collector, DomainError
from app.models.registers import ChoiceValue, FieldType
from app.services import scope
from app.services.privacy import Reader
from app.services.registers import extensions
from app.services.registers.definitions import LOOKUPS

EXTRA = "extra"  # the API's object of extra values
NOT_AN_OBJECT = _l('Send the extra fields as an object: {"code": value}.')
UNKNOWN_FIELD = _l("There is no extra field “%(code)s”.")


def _json_value(field, value):
    if value is None:
        return None
    if field.type == FieldType.MULTICHOICE:
        return [v.id for v in value]
    if field.type in (FieldType.CHOICE, FieldType.PERSON, FieldType.APPEAL):
        return getattr(value, "id", value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


def extra_json(session, items):
    """{item id: {code: value}} of `items`' extra fields, masked as the record's own columns."""
    if not items:
        return {}
    model = type(items[0])
    table = extensions.table_of(model)
    built = extensions.live(table) if table else None
    if built is None:
        return {}
    fields = built[2]
    extensions.prefetch(session, model, items)
    reader = Reader().prepare(session, model, [i.id for i in items])
    return {
        item.id: {f.code: reader.show(model, f.code, _json_value(f, getattr(item, f.code)), item=item) for f in fields}
        for item in items
    }


def _linked(session, field, value):
    """The record an id of a link field names (in the user's scope), or DomainError."""
    if field.type == FieldType.PERSON:
        model = extensions.model_of("person")
    elif field.type == FieldType.APPEAL:
        model = extensions.model_of("appeal")
    elif field.lookup:
        model = LOOKUPS[field.lookup]
    else:
        model = ChoiceValue  # which list it belongs to is checked with the field's rules
    if isinstance(value, bool) or not isinstance(value, int):
        raise DomainError(_l("Give the id (a whole number) of an existing record."), field=field.code)
    obj = session.get(model, value)
    if obj is None or (scope.is_scoped(model) and not scope.visible(session, model, obj.id)):
        raise DomainError(_l("Give the id (a whole number) of an existing record."), field=field.code)
    return obj


def set_extra_json(session, item, data):
    """Put the API's `extra` object on `item`; every problem at once (DomainErrors)."""
    if data is None:
        return
    if not isinstance(data, dict):
        raise DomainError(NOT_AN_OBJECT, field=EXTRA)
    table = extensions.table_of(type(item))
    built = extensions.live(table) if table else None
    fields = {f.code: f for f in built[2]} if built else {}
    errors = Collector()
    for code, value in data.items():
        with errors.check():
            field = fields.get(code)
            if field is None:
                raise DomainError(UNKNOWN_FIELD % {"code": str(code)[:40]}, field=EXTRA)
            if value is not None and field.type in (FieldType.CHOICE, FieldType.PERSON, FieldType.APPEAL):
                value = _linked(session, field, value)
            elif value is not None and field.type == FieldType.MULTICHOICE:
                if not isinstance(value, list):
                    raise DomainError(_l("Give the ids as a list."), field=code)
                value = [_linked(session, field, v) for v in value]
            elif isinstance(value, (dict, list)):
                raise DomainError(_l("“%(value)s” is not a %(type)s.", value=str(value)[:40],
                                     type=FieldType.label_of(field.type)), field=code)  # fmt: skip
            setattr(item, code, value)
    errors.raise_if_any()
