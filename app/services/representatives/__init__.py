"""Representatives (人大代表) and their contact records with voters (联系选民记录).

Scope. A constituency belongs to the lowest grid containing every grid it
covers; a representative and their records follow their constituency. A user
sees a representative or a contact record when

* it is their own — the representative's person is the user's person — or
* one of their roles other than the own-only roles (REPRESENTATIVE_OWN_ONLY_ROLES,
  by default "Representative") can read the resource, and the constituency's grid
  lies in their jurisdiction.

So a user with only the Representative role sees and edits only their own
records (another representative's record answers 404), a leader sees every
record of the constituencies in their jurisdiction, and a user with several
roles sees the union of what each grants.

Target. Each representative contacts at least REPRESENTATIVE_YEARLY_CONTACTS
(40) voters a year, counted in person-times (a forum of 12 voters counts 12).
"""

from app.services.representatives import tally as contact_tally  # noqa: F401  (its listeners keep the tally)
from app.services.representatives.progress import (  # noqa: F401
    RepProgress,
    check_year,
    overdue_reports_in,
    progress,
    progress_overview,
    progress_rollup,
    yearly_target,
)
from app.services.representatives.record_book import record_book, record_book_xlsx  # noqa: F401
from app.services.representatives.rules import (  # noqa: F401
    LEVEL_TITLES,
    REPORT_TITLES,
    appeal_prefill_from_contact,
    check_constituency_deletable,
    check_contact_deletable,
    check_representative_deletable,
    contact_scope_clause,
    linked_appeals,
    lowest_common_grid,
    overdue_reports_clause,
    own_representatives,
    report_status,
    representative_scope_clause,
    unreported_clause,
    validate_constituency,
    validate_contact,
    validate_representative,
)
