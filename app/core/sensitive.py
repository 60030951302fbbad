"""Sensitive values, declared once on the model and masked wherever they are shown.

A model lists its sensitive columns and what kind of secret each holds:

    class Appeal(Model):
        __sensitive__ = {"reporter_phone": PHONE, "reporter_id_number": ID_NUMBER}

* PHONE, ID_NUMBER — personal numbers of the public (reporters, people visited):
  readable in full only with the sensitive-data permission; PERSONAL — any other
  field a register marks sensitive, under the same permission;
* CONTENT — what a household told a visitor (民情日记 rules): readable only by the
  visit-content roles and the visitors themselves.

A column may carry several kinds (a visited person's phone is both). Who may read
what is decided in `app.services.privacy`; every path that renders a value (lists,
pages, exports, prints, the API, the timeline, the audit trail) goes through it.
This module only knows the declarations and what a masked value looks like.
"""

from __future__ import annotations

PHONE = "phone"
ID_NUMBER = "id_number"
PERSONAL = "personal"  # other personal data a register marks sensitive: read with the same permission
CONTENT = "content"
KINDS = (PHONE, ID_NUMBER, PERSONAL, CONTENT)
NUMBER_KINDS = (PHONE, ID_NUMBER, PERSONAL)  # readable in full with the sensitive-data permission
MASK = "******"
# the audit trail stores, beside a row's changes, which of the changed fields were sensitive
# ({"__sensitive__": {"reporter_phone": ["phone"]}}), so the row is masked on every render
# even if the model is renamed or gone
MARKS = "__sensitive__"


def declared(model):
    """{column: (kind, ...)} of `model` (empty for models without secrets)."""
    raw = getattr(model, "__sensitive__", None) or {}
    return {column: (kinds if isinstance(kinds, tuple) else (kinds,)) for column, kinds in raw.items()}


def mask_phone(value):
    """13812345678 -> 138****5678; 0371-66668888 -> 037******8888."""
    if not value:
        return value
    value = str(value)
    if len(value) < 8:
        return "*" * (len(value) - 2) + value[-2:]
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_id_number(value):
    """410101198001011234 -> 4101**********1234."""
    if not value:
        return value
    value = str(value)
    if len(value) < 10:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def mask_text(value):
    return MASK if value else value


def mask(kinds, value):
    """`value` masked as its strongest kind says (a number keeps its shape, content is hidden)."""
    if value in (None, ""):
        return value
    if PHONE in kinds:
        return mask_phone(value)
    if ID_NUMBER in kinds:
        return mask_id_number(value)
    return mask_text(value)
