"""What a process builds from stored definitions, kept current on every server without a restart.

A change writes a new token into `runtime_generation` under a name ("registers", "settings")
in the same transaction as the change (`bump`). Each process keeps a `Generation` per name:
the token it built from. `ensure_current` compares it with the stored one (at most every
`interval()` seconds) and rebuilds when they differ. The process that made the change looks
again at once, and rebuilds from what is stored when the transaction rolls back.

A generation may belong to one application (`app=`): the settings overlay its own config, so
two apps in one process (the tests' "other server") are two servers. Without `app` it is the
process's (the registers' entry classes are module-wide).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
import weakref

from flask import current_app, has_app_context
from sqlalchemy import event, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from app.models.registers import RuntimeGeneration

log = logging.getLogger(__name__)

_generations: dict[str, weakref.WeakSet] = {}


class Generation:
    """One process's (or one app's) copy of what is stored under `name`.

    `rebuild(session, token)` builds that copy from the database; it runs under the
    generation's lock, once per token, however many threads ask at the same time.
    """

    def __init__(self, name, rebuild, interval=lambda: 0.0, app=None):
        self.name = name
        self._rebuild = rebuild
        self._interval = interval
        self.app = app
        self.token = None
        self.checked = None  # when the stored token was last read (None: read it next time)
        self.lock = threading.RLock()
        _generations.setdefault(name, weakref.WeakSet()).add(self)

    def ensure_current(self, session, force=False):
        """Rebuild if the stored token changed since this copy was built; returns the token."""
        if (
            not force
            and self.token is not None
            and self.checked is not None
            and time.monotonic() - self.checked < self._interval()
        ):
            return self.token
        try:
            with session.no_autoflush:
                token = stored_token(session, self.name)
        except (OperationalError, ProgrammingError):  # a database not migrated yet: nothing stored
            session.rollback()
            return self.token
        self.checked = time.monotonic()
        if token == self.token and not force:
            return token
        with self.lock:
            if token != self.token or force:
                self._rebuild(session, token)
                self.token = token
        return token

    def recheck(self):
        """Look at the stored token on the next `ensure_current`."""
        self.checked = None

    def forget(self):
        """Rebuild on the next `ensure_current`, whatever the stored token."""
        with self.lock:
            self.token = None
            self.checked = None

    def _mine(self):
        """Whether the current application is the one this generation belongs to."""
        if self.app is None:
            return True
        return has_app_context() and current_app._get_current_object() is self.app


def _local(name):
    return [g for g in list(_generations.get(name, ())) if g._mine()]


def bump(session, name):
    """A new token for `name`, written in the caller's transaction. This process looks again
    at once (its next `ensure_current`), and rebuilds if the transaction rolls back."""
    token = uuid.uuid4().hex
    # one upsert, sent at once after what the caller changed before it (autoflush; inside a flush
    # there is nothing to flush): two transactions writing the first token of a name take turns
    # on its key instead of the second failing on the insert
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(RuntimeGeneration.__table__).values(name=name, token=token)
    session.execute(statement.on_conflict_do_update(index_elements=["name"], set_={"token": token}))
    session.info.setdefault("runtime_bumped", set()).add(name)
    for generation in _local(name):
        generation.recheck()
    return token


def stored_token(session, name):
    return session.scalar(select(RuntimeGeneration.token).where(RuntimeGeneration.name == name)) or "initial"


@event.listens_for(Session, "after_rollback")
def _rolled_back(session):
    """A change that did not happen: rebuild from what is stored."""
    for name in session.info.pop("runtime_bumped", None) or ():
        for generation in _local(name):
            generation.forget()


@event.listens_for(Session, "after_commit")
def _committed(session):
    session.info.pop("runtime_bumped", None)
