"""Quota rules: their titles, the seeded rules and the checks on an edited rule."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from app.core.errors import DomainError
from app.models.lookups import PersonKind
from app.models.visits import PERIODS, UNITS, QuotaRule, split_words
from app.services.validators import clean_text, require

PERIOD_TITLES = {
    "week": _l("per week"),
    "month": _l("per month"),
    "quarter": _l("per quarter"),
    "year": _l("per year"),
}
MONTHS_IN = {"week": 0, "month": 1, "quarter": 3, "year": 12}
UNIT_TITLES = {"visits": _l("visits"), "households": _l("households")}

# Stored values are Chinese: data an administrator edits (seed 000, 001; DOMAIN.md §4).
SEED_RULES = [
    # name, person kind, position words, period, unit, minimum, note
    (
        "县级领导下访",
        "县直干部",
        "书记、县长、常委、人大常委会主任、政协主席",
        "month",
        "visits",
        2,
        "县级领导每月深入挂点乡镇、村走访不少于2次。",
    ),
    (
        "乡镇领导走访",
        "乡镇干部",
        "书记、乡长、镇长、主任、部长、委员",
        "month",
        "visits",
        3,
        "乡镇领导班子成员每月走访不少于3次。",
    ),
    ("县直部门干部进民家", "县直干部", None, "year", "households", 100, "县直单位干部每人每年走访群众不少于100户。"),
    ("乡镇干部进民家", "乡镇干部", None, "year", "households", 150, "乡镇干部每人每年走访群众不少于150户。"),
    ("村两委干部走访农户", "村两委干部", None, "month", "households", 3, "村两委干部每月必须走访3-5户农户。"),
    (
        "市级领导民情家访",
        None,
        "市委、市长、市人大、市政协",
        "quarter",
        "visits",
        1,
        "设区市市级领导干部平均每月至少一次深入群众进行“民情家访”（按季考核）。",
    ),
]
AVERAGED = {"市级领导民情家访"}  # seed 001 says 平均每月: the minimum is per month over the period


def seed_quota_rules(session):
    """Seed the rules once, into an empty table: afterwards they belong to the administrator."""
    if session.scalar(select(func.count()).select_from(QuotaRule)):
        return
    kinds = {k.name: k for k in session.scalars(select(PersonKind))}
    for order, (name, kind, words, period, unit, minimum, note) in enumerate(SEED_RULES):
        session.add(
            QuotaRule(
                name=name,
                kind=kinds.get(kind),
                position_contains=words,
                period=period,
                unit=unit,
                minimum=minimum,
                average_per_month=name in AVERAGED,
                sort_order=order,
                note=note,
                active=True,
            )
        )
    session.flush()


def validate_quota_rule(session, rule):
    rule.name = require(rule.name, _l("Enter a name for the rule."), "name")
    rule.position_contains = clean_text(rule.position_contains)
    rule.note = clean_text(rule.note)
    if rule.position_contains:
        rule.position_contains = "、".join(split_words(rule.position_contains))
    if rule.kind is None and rule.kind_id is None and not rule.position_contains:
        raise DomainError(_l("Name the person kind, words of the position, or both."), field="kind")
    if rule.period not in PERIODS:
        raise DomainError(_l("Choose per week, month, quarter or year."), field="period")
    if rule.average_per_month and MONTHS_IN[rule.period] < 3:
        raise DomainError(
            _l("An average per month needs a quarter or a year as the period."), field="average_per_month"
        )
    if rule.unit not in UNITS:
        raise DomainError(_l("Choose visits or households."), field="unit")
    if rule.minimum is None or rule.minimum < 1:
        raise DomainError(_l("The minimum must be at least 1."), field="minimum")
    with session.no_autoflush:
        clash = session.scalar(select(QuotaRule.id).where(QuotaRule.name == rule.name, QuotaRule.id != (rule.id or 0)))
    if clash:
        raise DomainError(_l("A rule named %(name)s already exists.", name=rule.name), field="name")
