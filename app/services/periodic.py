"""The job kinds of periodic and maintenance work (app/core/jobs.py), run by the scheduler
(SCHEDULE) or asked for with `flask minqing enqueue KIND`."""

from __future__ import annotations

import datetime as dt

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import text

from app.core import jobs, partitions
from app.core.clock import now
from app.core.mail import mail_configured
from app.extensions import db
from app.services import audit, cell_locks, rollups, tally
from app.services import settings as settings_service
from app.services.appeals.reminders import reminder_texts, reminders, send_reminders
from app.services.quotas import cells as quota_cells
from app.services.representatives import contact_tally


@jobs.job_kind("remind")
def remind(job):
    """Overdue and due-soon appeals, mailed to their handlers when MAIL_SERVER is set."""
    groups = reminders(db.session)
    report, _ = reminder_texts(groups)
    sent = send_reminders(groups) if mail_configured() else 0
    job.note(_l("%(report)s Mails sent: %(sent)s.", report=report.splitlines()[0], sent=sent))


@jobs.job_kind("rebuild-tallies")
def rebuild_tallies(job):
    rows = tally.rebuild(db.session)
    quota_cells.rebuild(db.session)  # they are counted from the tally
    contact_tally.rebuild(db.session)  # the representatives' contacts, a tally too
    db.session.commit()
    job.note(_l("Visit tally counted again from the visits: %(rows)s rows.", rows=rows))


@jobs.job_kind("prune-audit")
def prune_audit(job):
    """The audit trail older than AUDIT_RETENTION_DAYS (0: kept for ever, nothing deleted)."""
    days = int(current_app.config.get("AUDIT_RETENTION_DAYS") or 0)
    if days <= 0:
        job.note(_l("The audit trail is kept for ever (AUDIT_RETENTION_DAYS is 0)."))
        return
    removed = audit.prune(db.session, now() - dt.timedelta(days=days))
    job.note(_l("%(n)s audit trail rows older than %(days)s days deleted.", n=removed, days=days))


@jobs.job_kind("create-partitions")
def create_partitions(job):
    """PostgreSQL: the coming months' partitions of audit_log and appeal_event, and any rows that
    landed in a DEFAULT partition moved to their month (nothing to do on SQLite)."""
    if db.engine.dialect.name != "postgresql":
        job.note(_l("No partitions on this database (SQLite)."))
        return
    done = partitions.maintain(
        db.session.connection(), now(), int(current_app.config.get("PARTITION_MONTHS_AHEAD") or 0)
    )
    db.session.commit()
    job.note(_l("%(created)s monthly partitions made, %(moved)s rows moved out of the default partition.", **done))


@jobs.job_kind("prune-jobs")
def prune_jobs(job):
    removed = jobs.prune(current_app.config["JOBS_KEEP_HOURS"])
    job.note(_l("%(n)s old jobs and their files deleted.", n=removed))


FOUND_LOCK_KEY = 0x4D51_1005  # pg_advisory_xact_lock key: one 发现 recount at a time (beside partitions.py's)


@jobs.job_kind(rollups.FOUND_JOB)
def recount_found(job):
    """The summary cells' 发现 counted again by APPEAL_DISCOVERY_CHANNELS and the channels' names as
    the database holds them when the job runs (`rollups.found_changed` starts it once a change of
    either commits). One at a time: a second job waits for the first and counts after it, so the
    last change wins."""
    conn = db.session.connection()
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": FOUND_LOCK_KEY})
        cell_locks.exclusive(db.session)  # the registrations in flight commit first: the count sees them
    else:  # SQLite: the write lock first, so what is read next is what the last writer committed
        conn.execute(text("UPDATE appeal_summary SET found = found WHERE 1 = 0"))
    names = settings_service.stored_value(db.session, settings_service.DISCOVERY)
    rollups.recount_found(db.session, names)
    job.note(_l("Discovered figures counted again for the channels: %(names)s.", names="、".join(names or ())))
