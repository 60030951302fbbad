"""百分制考核 (seed 003): scheme (items, the default scheme, the 100-point total), scoring (the
arithmetic), sources (the figures automatic items read), rounds (entries, 计算, 发布), results
(the ranked tables, the points behind a score, Excel)."""

from app.services.assessments.rounds import (  # noqa: F401
    COMPUTED,
    DRAFT,
    PERIODS,
    PUBLISHED,
    STATUSES,
    Locked,
    check_open,
    check_round_deletable,
    clear_results,
    compute_round,
    period_bounds,
    period_title,
    publish_round,
    teams_of,
    validate_input,
    validate_round,
)
from app.services.assessments.scheme import (  # noqa: F401
    KINDS,
    SUBJECTS,
    check_item_deletable,
    check_scheme_deletable,
    seed_default_scheme,
    validate_item,
    validate_scheme,
)
from app.services.assessments.sources import SOURCES, source_choices  # noqa: F401
