"""What every import kind shares: columns, cell parsers, row errors, the Importer base."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.models.grids import Grid
from app.services import scope

YES = {"是", "yes", "y", "true", "1", "√", "✓"}
YES_NO = ["是", "否"]  # the drop-down of a yes/no column
GENDERS = ["男", "女"]


def names_of(session, model):
    """The active values of a lookup list, in its order (a drop-down's choices)."""
    query = select(model.name)
    if hasattr(model, "active"):
        query = query.where(model.active.is_(True))
    if hasattr(model, "sort_order"):
        query = query.order_by(model.sort_order, model.id)
    return list(session.scalars(query.order_by(model.name)))


NO = {"否", "no", "n", "false", "0", "×"}


@dataclass
class Col:
    key: str
    header: object  # lazy Chinese/English label
    required: bool = False
    example: object = None
    note: object = ""
    aliases: tuple = ()  # other headers a clerk's own sheet may use for it (台账 wording)


@dataclass
class ImportResult:
    kind: str
    created: int = 0
    errors: list = field(default_factory=list)  # (row number, column header, message)

    @property
    def ok(self):
        return not self.errors


class RowError(Exception):
    def __init__(self, column, message):
        super().__init__(str(message))
        self.column = column
        self.message = message


def cell_text(value):
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def cell_int(value, col):
    text = cell_text(value)
    if text is None:
        return None
    try:
        return int(float(text))
    except ValueError:
        raise RowError(col, _l("Enter a whole number.")) from None


def cell_bool(value, col, default=True):
    text = cell_text(value)
    if text is None:
        return default
    if text.lower() in YES:
        return True
    if text.lower() in NO:
        return False
    raise RowError(col, _l("Enter 是 or 否."))


def cell_date(value, col):
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = cell_text(value)
    for fmt in ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise RowError(col, _l("Enter a date like 2026-01-31."))


def cell_datetime(value, col):
    """A date, or a date and time when the cell holds one (a date alone is taken at 00:00)."""
    if isinstance(value, dt.datetime):
        return value.replace(microsecond=0, tzinfo=None)
    text = cell_text(value)
    if text and " " in text:
        for fmt in ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M"):
            try:
                return dt.datetime.strptime(text, fmt)
            except ValueError:
                continue
    day = cell_date(value, col)
    return dt.datetime.combine(day, dt.time()) if day is not None else None


class Importer:
    kind = ""
    title = ""
    resource = ""
    columns: list[Col] = []
    checks_required = False  # True: build() reports missing required cells itself, with every other problem
    model_name = None  # the extensible table the rows become (its extra fields are columns too)

    def __init__(self, session, actor=None):
        self.session = session
        self.actor = actor

    def column(self, key):
        return next(c for c in self.columns if c.key == key)

    @classmethod
    def choice_values(cls, session):
        """{column key: [values]} of the columns whose cells are one of a list: the template offers
        them as drop-down lists (a kind overrides it)."""
        return {}

    def build(self, row, row_no):
        """Turn one row (dict key -> raw value) into a new object; raise RowError."""
        raise NotImplementedError

    def order(self, rows):
        return rows

    def finish(self, made):
        """After every row passed, before the commit: [(row number, column, message)] or []."""
        return []

    def field_column(self, field_name):
        """The template column a service error about `field_name` belongs to."""
        mapping = getattr(self, "field_map", {})
        key = mapping.get(field_name, field_name)
        for col in self.columns:
            if col.key == key:
                return col
        return None


def codes_in(text):
    """ "TA1、TA2, TA3" -> ["TA1", "TA2", "TA3"] (、，, ; and spaces all separate)."""
    return [c for c in re.split(r"[、，,;；\s]+", text or "") if c]


def cell_choice(value, col, choices, message):
    """A cell that must be one of `choices` ({accepted spelling: stored value})."""
    text = cell_text(value)
    if text is None:
        return None
    found = choices.get(text.lower())
    if found is None:
        raise RowError(col, _l("“%(value)s” is not allowed here: %(allowed)s.", value=text, allowed=message))
    return found


REPRESENTATIVE_KIND = "人大代表"  # the PersonKind seeded for representatives


def grid_by_code(session, code, col):
    if not code:
        raise RowError(col, _l("Enter the grid code."))
    grid = session.scalar(select(Grid).where(Grid.code == code))
    if grid is None or not scope.visible(session, Grid, grid.id):
        raise RowError(col, _l("There is no grid with code %(code)s.", code=code))
    return grid
