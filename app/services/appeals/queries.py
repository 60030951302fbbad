"""Queries over many appeals: the counts that need attention, duplicates, finding an
appeal by number within the scope."""

from __future__ import annotations

import logging

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, func, select

from app.core.cache import memo
from app.core.clock import today
from app.core.errors import NotFound
from app.core.inputs import parse_id
from app.models.appeals import (
    OPEN_STATUSES,
    Appeal,
    Status,
)
from app.services import scope
from app.services.appeals.deadlines import due_soon_clause, open_clause, overdue_clause
from app.services.validators import clean_text

log = logging.getLogger(__name__)


def attention_counts(session, where, cache_key=None):
    """Overdue, due soon, supervised-and-open and extensions awaiting approval, in one query
    (reused for COUNTS_CACHE_SECONDS under `cache_key`, e.g. the scope, when given)."""
    if cache_key is not None:
        return memo(("appeal_attention", today(), cache_key), lambda: attention_counts(session, where))

    def count_if(condition):
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    row = session.execute(
        select(
            count_if(overdue_clause()),
            count_if(due_soon_clause()),
            count_if(and_(open_clause(), Appeal.supervised.is_(True))),
            count_if(and_(open_clause(), Appeal.extension_until.is_not(None))),
            count_if(and_(Appeal.status.in_((Status.REGISTERED, Status.ESCALATED)), Appeal.duplicate_of_id.is_(None))),
        ).where(where, Appeal.status.in_(OPEN_STATUSES))  # each count is of open appeals: an index range, not a scan
    ).one()
    return dict(
        zip(("overdue", "due_soon", "supervised", "extension", "unassigned"), (int(v) for v in row), strict=True)
    )


def duplicates_of(session, appeal):
    return session.scalars(select(Appeal).where(Appeal.duplicate_of_id == appeal.id).order_by(Appeal.id)).all()


def find_visible_appeal(session, number_or_id, field_name="original"):
    """An appeal by its number (or id) within the current scope; NotFound otherwise."""
    text = clean_text(str(number_or_id)) if number_or_id not in (None, "") else None
    if text is None:
        return None
    appeal = session.scalar(select(Appeal).where(Appeal.number == text, scope.clause_for(Appeal)))
    if appeal is None and parse_id(text) is not None:
        appeal = session.scalar(select(Appeal).where(Appeal.id == parse_id(text), scope.clause_for(Appeal)))
    if appeal is None:
        raise NotFound(_l("There is no appeal %(number)s within your jurisdiction.", number=text), field=field_name)
    return appeal
