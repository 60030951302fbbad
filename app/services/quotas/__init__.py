"""Visit quotas (走访任务): the rules, the periods, and who is behind.

The rules (seed 000, 001; all editable by the administrator in 走访任务规则):

* a rule names who it binds — a person kind, words of the position, or both —
  a calendar period (week from Monday, month, quarter or year), a unit (visits, or distinct
  households) and a minimum — per month on average over a quarter or year when 平均每月;
* a visit counts once for each of its visitors;
* "households" are distinct households, identified as the visit's grid plus the
  normalized address (else the normalized name of the person visited): see
  `app.models.visits.household_key`;
* a person is assessed under the kind and position they held on the last day of
  the period (today, while the period runs), for the whole period; visits made
  before a change still count. No proration: the assessment (考核) follows the
  post held when it is made, and a report on a past period reads the history in
  `person_kind_change`;
* inactive people are not assessed;
* a report of a period assesses the rules of that period's kind (a weekly report the weekly rules).

Everything is counted in SQL from the visit tally (`app.services.tally`: per person
and calendar period, kept on every write of a visit); only the per-person results,
never the visits, are handled in Python.

The package: `rules` (seeded rules, checks), `periods` (periods, pace, a person's kind on a
day), `progress` (each person under each rule), `report` (a jurisdiction's page and roll-up).
"""

from app.services.quotas.periods import (
    Period,
    RuleRef,
    current_period,
    expected_by,
    period_for,
    period_of,
    person_state_on,
    rule_target,
)
from app.services.quotas.progress import (
    Assessed,
    GridProgress,
    PersonProgress,
    _done_counts,
    applicable_rules,
    own_progress,
    quota_progress,
)
from app.services.quotas.report import (
    GridName,
    QuotaReport,
    RuleRollup,
    kept_rollup,
    kept_rollups,
    people_rollups,
    quota_report,
    quota_rollup,
    rollup_by_child,
    rollup_rate,
)
from app.services.quotas.rules import (
    AVERAGED,
    MONTHS_IN,
    PERIOD_TITLES,
    SEED_RULES,
    UNIT_TITLES,
    seed_quota_rules,
    validate_quota_rule,
)

__all__ = [
    "AVERAGED", "MONTHS_IN", "PERIOD_TITLES", "SEED_RULES", "UNIT_TITLES", "Assessed", "GridName", "GridProgress",
    "Period", "PersonProgress", "QuotaReport", "RuleRef", "RuleRollup", "_done_counts", "applicable_rules",
    "current_period", "kept_rollup", "kept_rollups", "expected_by", "own_progress", "people_rollups", "period_for", "period_of",
    "person_state_on", "quota_progress", "quota_report", "quota_rollup", "rollup_by_child", "rollup_rate", "rule_target",
    "seed_quota_rules", "validate_quota_rule",
]  # fmt: skip
