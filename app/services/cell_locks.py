"""Kept figures and the changes of structure that recount them: one at a time.

The kept cells (appeal roll-ups, the visit tally, the quota cells) are updated by every write
as a difference: what a record counted in before the flush, subtracted; what it counts in
after, added. A few changes rework cells wholesale instead: a grid moving (the cells of the
grids above it), a visit-quota rule changing (its cells counted again), an appeal channel
added, removed or renamed (the 发现 counts). On PostgreSQL two transactions run side by side:
a registration that read the old grid path while a move was not yet committed would add its
appeal to the grids the move has just taken it away from, and the cells would drift from a
recount until `flask minqing rollups rebuild`.

So on PostgreSQL every flush that writes records the cells count (`WRITERS`) first takes a
shared transaction lock (many writers at once), and a flush that changes structure takes it
exclusively (it waits for the writers in flight to commit; new writers wait for it). The locks
end with the transaction. SQLite writes one transaction at a time already: nothing to do.
"""

from __future__ import annotations

from sqlalchemy import event, text
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session

from app.models.appeals import Appeal
from app.models.grids import Grid
from app.models.lookups import AppealChannel
from app.models.personnel import Person
from app.models.visits import QuotaRule, Visit

KEY = 0x4D51_1014  # pg_advisory_xact_lock key (ours: see app/core/nodes.py and partitions.py for the others)
WRITERS = (Appeal, Visit, Person)  # records whose writes change kept cells by a difference
_HELD = "minqing_cell_lock"  # session.info: the mode held in the current transaction


def shared(session):
    """Take the shared lock for this transaction (a write that changes cells by a difference)."""
    _take(session, "shared")


def exclusive(session):
    """Take the exclusive lock for this transaction (a change that reworks cells wholesale)."""
    _take(session, "exclusive")


def _take(session, mode):
    held = session.info.get(_HELD)
    if held == "exclusive" or held == mode:
        return
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        return
    function = "pg_advisory_xact_lock" if mode == "exclusive" else "pg_advisory_xact_lock_shared"
    conn.execute(text(f"SELECT {function}(:key)"), {"key": KEY})
    session.info[_HELD] = mode


def _moved(grid):
    attrs = sa_inspect(grid).attrs
    return attrs.parent_id.history.has_changes() or attrs.parent.history.has_changes()


def _renamed(channel):
    return sa_inspect(channel).attrs.name.history.has_changes()


def structural(session):
    """Whether this flush reworks cells wholesale: a grid moved, a quota rule or a channel changed."""
    for obj in (*session.new, *session.deleted):
        if isinstance(obj, (QuotaRule, AppealChannel)):
            return True
    for obj in session.dirty:
        if isinstance(obj, QuotaRule) and session.is_modified(obj):
            return True
        if isinstance(obj, Grid) and _moved(obj):
            return True
        if isinstance(obj, AppealChannel) and _renamed(obj):
            return True
    return False


@event.listens_for(Session, "before_flush")
def _lock_before_cells(session, flush_context, instances):
    """Before the cells' own listeners read anything (this module is imported ahead of them)."""
    if structural(session):
        exclusive(session)
    elif any(isinstance(obj, WRITERS) for obj in (*session.new, *session.dirty, *session.deleted)):
        shared(session)


@event.listens_for(Session, "after_transaction_end")
def _released(session, transaction):
    """The transaction's locks are gone with it; a savepoint rolled back let go of those taken
    inside it too: the next flush takes the lock again (taking it twice is harmless)."""
    session.info.pop(_HELD, None)
