"""Periodic work, once per deployment: `flask minqing scheduler`.

SCHEDULE maps a job kind to a local time of day ("08:00"). The scheduler looks every
SCHEDULER_CHECK_SECONDS for kinds whose time has come and that have not been started today, and
enqueues them (app/core/jobs.py: on the RQ queue with JOBS_REDIS_URL, else it runs them itself).
What it started and when is kept in JOBS_DIR/schedule.json, so a restart (or another node taking
over, when JOBS_DIR is shared) does not start today's work again.

Several nodes may run a scheduler: on PostgreSQL each tries a session advisory lock on a
connection of its own, and only the holder works; the others wait as standbys and take over when
its connection ends (a crash, a stop). On SQLite (one file, one machine) there is one node.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import time

from flask import current_app
from sqlalchemy import text

from app.core import jobs
from app.core.clock import now
from app.extensions import db

log = logging.getLogger(__name__)

SCHEDULER_LOCK_KEY = 0x4D51_1003  # pg_advisory_lock key of the scheduler (beside app/core/nodes.py's)


def _state_path():
    return os.path.join(jobs.directory(), "schedule.json")


def last_runs():
    try:
        with open(_state_path(), encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return {}


def _keep(runs):
    temporary = _state_path() + f".{os.getpid()}.tmp"
    with open(temporary, "w", encoding="utf-8") as fh:
        json.dump(runs, fh)
    os.replace(temporary, _state_path())


def due(schedule, moment, runs):
    """The kinds of `schedule` ({kind: "HH:MM"}) due at `moment` and not started that day."""
    found = []
    for kind, at in sorted(schedule.items()):
        hour, minute = (int(part) for part in str(at).split(":", 1))
        if moment.time() >= dt.time(hour, minute) and runs.get(kind) != moment.date().isoformat():
            found.append(kind)
    return found


def tick(moment=None):
    """Start what is due now. Returns [(kind, job id)]."""
    moment = moment or now()
    runs = last_runs()
    started = []
    for kind in due(current_app.config["SCHEDULE"], moment, runs):
        if kind not in jobs.SYSTEM_KINDS:
            log.error("SCHEDULE names %r, which is no job kind the scheduler may start", kind)
            continue
        runs[kind] = moment.date().isoformat()
        _keep(runs)  # before it runs: a job that kills the scheduler is not started again today
        log.info("scheduler: starting %s", kind)
        started.append((kind, jobs.enqueue(kind, title=kind)))
    return started


class Leadership:
    """This node's claim to be the one scheduler (PostgreSQL advisory lock; always on SQLite)."""

    def __init__(self, engine):
        self.engine = engine
        self.conn = None

    def held(self):
        if self.engine.dialect.name != "postgresql":
            return True
        if self.conn is not None:
            try:
                self.conn.execute(text("SELECT 1"))
                return True
            except Exception as err:  # noqa: BLE001 - the connection (and the lock with it) is gone
                log.warning("scheduler lost its database connection, and its lock: %s", err)
                self.release()
        conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        if conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": SCHEDULER_LOCK_KEY}):
            self.conn = conn
            log.info("scheduler: this node now schedules the periodic work")
            return True
        conn.close()
        return False

    def release(self):
        if self.conn is not None:
            try:
                # the connection would go back to the pool with its session, and the lock, alive:
                # end that session instead (a crashed process ends it too)
                self.conn.invalidate()
                self.conn.close()
            except Exception:  # noqa: BLE001
                pass
            self.conn = None


def serve(once=False, sleep=time.sleep):
    """Run the scheduler: tick while this node holds the lock, wait as a standby otherwise."""
    leadership = Leadership(db.engine)
    standby_said = False
    try:
        while True:
            if leadership.held():
                standby_said = False
                tick()
                db.session.remove()
            elif not standby_said:
                log.info("scheduler: another node schedules; this one waits as a standby")
                standby_said = True
            if once:
                return leadership.conn is not None or db.engine.dialect.name != "postgresql"
            sleep(float(current_app.config["SCHEDULER_CHECK_SECONDS"]))
    finally:
        leadership.release()
