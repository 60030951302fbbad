"""Quota periods, the pace expected by a day, and a person's kind and position on a day."""

from __future__ import annotations

import calendar
import math
from dataclasses import dataclass
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, exists, select
from sqlalchemy.orm import aliased

from app.core.clock import today
from app.core.errors import DomainError
from app.models.personnel import Person
from app.models.visits import PERIODS, PersonKindChange
from app.services.quotas.rules import MONTHS_IN
from app.services.tally import period_end, period_start


@dataclass(frozen=True)
class Period:
    kind: str  # "week" | "month" | "quarter" | "year"
    year: int
    month: int | None  # the month of a month, the first month of a quarter or week
    start: date
    end: date

    @property
    def label(self):
        if self.kind == "week":
            return f"{self.start:%Y-%m-%d}～{self.end:%m-%d}"
        if self.kind == "quarter":
            return f"{self.year} Q{(self.start.month - 1) // 3 + 1}"
        return f"{self.year}-{self.month:02d}" if self.kind == "month" else str(self.year)

    @property
    def months(self):
        return MONTHS_IN[self.kind]

    @property
    def days(self):
        return (self.end - self.start).days + 1


def period_of(year, month=None):
    """The month `year`-`month`, or the whole `year` when month is None."""
    try:
        year = int(year)
        month = int(month) if month not in (None, "") else None
    except (TypeError, ValueError):
        raise DomainError(_l("Choose a valid year and month."), field="period") from None
    if not 2000 <= year <= 2100 or (month is not None and not 1 <= month <= 12):
        raise DomainError(_l("Choose a valid year and month."), field="period")
    if month is None:
        return Period("year", year, None, date(year, 1, 1), date(year, 12, 31))
    last = calendar.monthrange(year, month)[1]
    return Period("month", year, month, date(year, month, 1), date(year, month, last))


def period_for(kind, on):
    """The calendar week (Monday to Sunday), month, quarter or year holding the day `on`."""
    if kind not in PERIODS:
        raise DomainError(_l("Choose per week, month, quarter or year."), field="period")
    start = period_start(kind, on)
    return Period(kind, start.year, start.month if kind != "year" else None, start, period_end(kind, start))


def current_period(kind, on=None):
    return period_for(kind, on or today())


def rule_target(rule, period):
    """What `rule` asks of a person in `period`: its minimum, times the months of the period
    for a rule "on average per month" (平均每月, seed 001)."""
    if getattr(rule, "average_per_month", False) and period.months >= 3:
        return rule.minimum * period.months
    return rule.minimum


def expected_by(target, start, end, on=None):
    """How much of `target` should be done by `on` at an even pace over [start, end]."""
    on = on or today()
    if on < start:
        return 0
    if on >= end:
        return target
    elapsed = (on - start).days + 1
    return math.ceil(target * elapsed / ((end - start).days + 1))


@dataclass(frozen=True)
class RuleRef:
    """What a report needs of a rule: plain values, safe to keep between requests."""

    id: int
    name: str
    sort_order: int
    minimum: int  # the target in the period (a per-month average times the months)
    period: str = "month"
    unit: str = "visits"
    per_month: int | None = None  # the rule's monthly minimum when it is an average

    @classmethod
    def of(cls, rule, period=None):
        target = rule_target(rule, period) if period is not None else rule.minimum
        average = rule.minimum if target != rule.minimum else None
        return cls(rule.id, rule.name, rule.sort_order, target, rule.period, rule.unit, average)


def person_state_on(day):
    """SQL expressions: Person's kind id and position on `day` (see PersonKindChange)."""
    later = aliased(PersonKindChange)
    after_day = and_(later.person_id == Person.id, later.changed_on > day)
    first = select(later).where(after_day).order_by(later.changed_on, later.id).limit(1)
    has_later = exists().where(after_day)
    kind_then = first.with_only_columns(later.old_kind_id).scalar_subquery()
    position_then = first.with_only_columns(later.old_position).scalar_subquery()
    kind_at = case((has_later, kind_then), else_=Person.kind_id)
    position_at = case((has_later, position_then), else_=Person.position)
    return kind_at, position_at


class Pace:
    """What a count against a yearly or periodic target says (a person's visits, a representative's
    contacts): how many are still missing, whether it is behind the pace expected by today, and
    how much of the target is done. Needs `done`, `target` and `expected` on the class."""

    @property
    def shortfall(self):
        return max(0, self.target - self.done)

    @property
    def behind_pace(self):
        return self.done < self.expected

    @property
    def rate(self):
        return min(1.0, self.done / self.target) if self.target else 1.0
