"""Fixed lists of codes stored as text (states, importance, satisfaction ...), each code with
a translated label: `class Status(Choice)` + `@labelled({...})`.

The members are `str` (StrEnum): they compare equal to the codes in the database and
in URLs, and go into SQL as their code. What a code looks like on a page (a badge
class, an icon) belongs to the views, not here.
"""

from __future__ import annotations

from enum import StrEnum

_LABELS: dict[type, dict[str, object]] = {}


class Choice(StrEnum):
    @property
    def label(self):
        """The translated title ("已登记")."""
        return _LABELS[type(self)][self.value]

    @classmethod
    def label_of(cls, code, default=None):
        """The label of a code read from the database or a request; `default` (else the code) if unknown."""
        labels = _LABELS[cls]
        if code in labels:
            return labels[code]
        return code if default is None else default

    @classmethod
    def codes(cls):
        """Every code, in the order of definition."""
        return tuple(member.value for member in cls)

    @classmethod
    def choices(cls):
        """[(code, label)] for a select field."""
        return [(member.value, member.label) for member in cls]


def labelled(labels):
    """Class decorator giving each member of a Choice its translated label (every member needs one)."""

    def attach(cls):
        missing = [m.value for m in cls if m.value not in labels]
        if missing:
            raise TypeError(f"{cls.__name__}: no label for {missing}")
        _LABELS[cls] = dict(labels)
        return cls

    return attach
