"""Deadlines: due date = registration date + APPEAL_DAYS_GENERAL days (一般: "一周", 7) or
+ APPEAL_MONTHS_IMPORTANT calendar months (重要: "一个月", 1: 1 March → 1 April, 31 January →
28/29 February, the last day of a shorter month), moved only by an approved extension. Overdue / due soon are defined once here (`due_state` and its SQL
twins `overdue_clause`, `due_soon_clause`)."""

from __future__ import annotations

import datetime as dt

from dateutil.relativedelta import relativedelta
from flask import current_app
from sqlalchemy import and_

from app.core.clock import today
from app.models.appeals import (
    OPEN_STATUSES,
    Appeal,
    Importance,
    due_soon_days,
)


def allowed_term(importance):
    """The time to handle and answer an appeal (seeds 001, 002: 一般 one week, 重要 one month):
    a relativedelta of APPEAL_DAYS_GENERAL days or APPEAL_MONTHS_IMPORTANT calendar months."""
    if importance == Importance.IMPORTANT:
        return relativedelta(months=int(current_app.config["APPEAL_MONTHS_IMPORTANT"]))
    return relativedelta(days=int(current_app.config["APPEAL_DAYS_GENERAL"]))


def compute_due_date(registered_on, importance):
    """The registration day plus the term; a month from the 31st ends on the last day of a
    shorter month (relativedelta clips the day)."""
    return registered_on + allowed_term(importance)


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
