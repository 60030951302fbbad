"""Appeals (民情诉求): registration and numbering, the handling workflow, deadlines, reminders.

"件件有着落、事事有回音": every appeal gets a number, an owner and a deadline, and
every step is an AppealEvent (who, when, what, note). By concern:

* `actors`       who acts: `Actor`, the permissions of the "Appeal" resource;
* `workflow`     the TRANSITIONS table and `check_action()`, its one gate;
* `steps`        the verbs (assign_appeal, give_feedback ...) and `perform()`;
* `deadlines`    due dates, overdue / due soon and their SQL twins;
* `numbering`    登记编号 from the per-month counter, hand-typed numbers;
* `registration` registering from the paper form, corrections afterwards;
* `history`      appeals typed in from an Excel ledger;
* `timeline`     an appeal's events for its page and the API;
* `queries`      lists and counts over many appeals (quick filters, attention);
* `reminders`    overdue / due soon by handler, as text and mail.

This module re-exports what the views, the CLI and the importer use.
"""

from app.services import rollups  # noqa: F401  (keeps the figures' cells on every write of an appeal)
from app.services.appeals.actors import PERMISSIONS, RESOURCE, Actor, system_actor  # noqa: F401
from app.services.appeals.deadlines import (  # noqa: F401
    compute_due_date,
    due_soon_clause,
    due_state,
    open_clause,
    overdue_clause,
    week_clause,
)
from app.services.appeals.history import (  # noqa: F401
    HISTORY_PERMISSIONS,
    number_historical_appeals,
    prepare_historical_appeal,
)
from app.services.appeals.numbering import next_sequence, number_in_use, parse_number  # noqa: F401
from app.services.appeals.queries import (  # noqa: F401
    NOW_GRID,
    attention_counts,
    cell_running,
    cell_sum,
    cells_now_in,
    duplicates_of,
    find_visible_appeal,
    open_cells_in,
)
from app.services.appeals.registration import (  # noqa: F401
    FIELD_TITLES,
    register_appeal,
    registration_locked,
    update_registration,
    validate_registration,
)
from app.services.appeals.reminders import reminder_texts, reminders, send_reminders  # noqa: F401
from app.services.appeals.steps import default_handler, perform  # noqa: F401
from app.services.appeals.timeline import timeline  # noqa: F401
from app.services.appeals.workflow import (  # noqa: F401
    CHANGED_MEANWHILE,
    EVENT_TITLES,
    TRANSITIONS,
    allowed_actions,
    check_action,
)
