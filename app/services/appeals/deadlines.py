"""Deadlines: due date = registration date + APPEAL_DAYS_GENERAL/IMPORTANT days, moved only
by an approved extension. Overdue / due soon are defined once here (`due_state` and its SQL
twins `overdue_clause`, `due_soon_clause`)."""

from __future__ import annotations

import datetime as dt

from flask import current_app
from sqlalchemy import and_

from app.core.clock import today
from app.models.appeals import (
    OPEN_STATUSES,
    Appeal,
    Importance,
    due_soon_days,
)


def days_allowed(importance):
    """Days to handle and answer an appeal (seeds 001, 002: 一般 one week, 重要 one month)."""
    key = "APPEAL_DAYS_IMPORTANT" if importance == Importance.IMPORTANT else "APPEAL_DAYS_GENERAL"
    return int(current_app.config[key])


def compute_due_date(registered_on, importance):
    return registered_on + dt.timedelta(days=days_allowed(importance))


def soon_days():
    return due_soon_days()


def due_state(appeal, on=None):
    """ "overdue", "due_soon" or None (the rule lives on the model: Appeal.due_state_on)."""
    return appeal.due_state_on(on or today(), due_soon_days())


def open_clause():
    return and_(Appeal.status.in_(OPEN_STATUSES), Appeal.duplicate_of_id.is_(None))


def overdue_clause(on=None):
    """SQL twin of due_state(...) == "overdue"."""
    return and_(open_clause(), Appeal.due_date < (on or today()))


def due_soon_clause(on=None):
    """SQL twin of due_state(...) == "due_soon"."""
    on = on or today()
    return and_(open_clause(), Appeal.due_date >= on, Appeal.due_date <= on + dt.timedelta(days=soon_days()))


def week_clause(on=None):
    """Open appeals due from today to the end of this week (Sunday)."""
    on = on or today()
    return and_(open_clause(), Appeal.due_date >= on, Appeal.due_date <= on + dt.timedelta(days=6 - on.weekday()))
