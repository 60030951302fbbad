"""One unit of work: commit what a request changed, or nothing at all.

Every HTML and REST write goes through `unit_of_work()`:

    with unit_of_work(form=form) as work:        # an HTML form
        form.populate_obj(item)
        service.check(item)
    if work.failed:
        return render_the_form_again()

    with unit_of_work(api=True) as work:          # a REST endpoint
        service.act(...)
    if work.failed:
        return self.refusal(work.refusal)

The block's changes are committed when it ends. A broken rule (`DomainError`), a
record someone else saved meanwhile (`StaleDataError`), or a constraint the
database refused (`IntegrityError`) rolls everything back and becomes a
`Refusal`: a translated message, the HTTP status it deserves and the form field
it concerns. For HTML the message is flashed and attached to the field; for the
API the caller turns `work.refusal` into the JSON body. Any other exception
rolls back and propagates (a real bug: the 500 handler and the log see it).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import flash
from flask_babel import lazy_gettext as _l
from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import MANYTOONE
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from app.core.errors import DomainError, DomainErrors
from app.extensions import db

log = logging.getLogger(__name__)

SAVE_FAILED = _l("The record could not be saved: it conflicts with existing data.")
STALE = _l("Someone else saved this record after you opened it. Reload the page and make your change again.")
DB_BUSY = _l("The database is busy. Please submit again.")
SEVERAL_PROBLEMS = _l("%(n)s problems to correct: each is shown at its field.")


@dataclass(frozen=True)
class Refusal:
    """Why a write was refused, in the user's language."""

    message: str
    status: int = 422
    field: str | None = None
    errors: tuple = ()  # ((field, message), ...) when several rules were broken at once

    def body(self):
        """The REST answer's JSON body: the message, and every problem by field."""
        out = {"message": self.message}
        if self.field:
            out["field"] = self.field
        if self.errors:
            by_field = {}
            for field, message in self.errors:
                by_field.setdefault(field or "_", []).append(message)
            out["errors"] = by_field
        return out


def refusal_for(exc, stale_message=None):
    """The Refusal an expected failure deserves, or None for an unexpected one."""
    if isinstance(exc, DomainErrors):
        return Refusal(str(exc), exc.status, exc.field, tuple((e.field, str(e)) for e in exc.errors))
    if isinstance(exc, DomainError):
        return Refusal(str(exc), exc.status, exc.field)
    if isinstance(exc, StaleDataError):
        return Refusal(str(stale_message or STALE), 409)
    if isinstance(exc, IntegrityError):
        log.warning("integrity error: %s", exc.orig)
        return Refusal(str(SAVE_FAILED), 422)
    if isinstance(exc, OperationalError) and "locked" in str(exc.orig).lower():
        return Refusal(str(DB_BUSY), 503)  # SQLite: another writer held the lock too long
    return None


class unit_of_work:  # noqa: N801 (used as a statement: `with unit_of_work(...)`)
    """Commit on success; on an expected failure roll back and record a Refusal.

    `form`: an HTML form whose field gets the message (and the message is flashed);
    `api`: a REST write (nothing flashed); `flash_errors=False` to keep quiet;
    `stale_message`: what a concurrent save is called here (appeals say it their way);
    `commit=False`: the block commits itself (a service that retries, say).
    """

    def __init__(self, form=None, api=False, stale_message=None, flash_errors=True, session=None, commit=True):
        self.form = form
        self.api = api
        self.stale_message = stale_message
        self.flash_errors = flash_errors and not api
        self.session = session or db.session
        self.commit = commit
        self.refusal: Refusal | None = None

    @property
    def failed(self):
        return self.refusal is not None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None and self.commit:
            try:
                self.session.commit()
            except Exception as commit_exc:  # noqa: BLE001 (mapped below, or re-raised)
                return self._fail(commit_exc, reraise=True)
            return False
        if exc_type is None:
            return False
        return self._fail(exc)

    def _fail(self, exc, reraise=False):
        self.session.rollback()
        refusal = refusal_for(exc, self.stale_message)
        if refusal is None:
            if reraise:
                raise exc
            return False  # propagate: not the user's doing
        self.refusal = refusal
        if self.flash_errors:
            self._show(refusal)
        return True

    def _show(self, refusal):
        problems = refusal.errors or ((refusal.field, refusal.message),)
        unplaced = []
        for name, message in problems:
            field = getattr(self.form, name, None) if (self.form is not None and name) else None
            if field is not None:
                field.errors = list(field.errors or []) + [message]
            else:
                unplaced.append(message)
        if refusal.errors:  # several: each by its field, and one line saying how many
            flash(str(SEVERAL_PROBLEMS % {"n": len(problems)}), "danger")
            for message in unplaced:
                flash(message, "danger")
        else:
            flash(refusal.message, "danger")


def discard_new(session, item):
    """A new record that was refused: take it out of the collections of the records it points
    to (a backref put it there), quietly, so no later flush of the same session writes the
    refused row or warns about it. The unit of work has rolled back: nothing else is pending."""
    state = inspect(item)
    for relationship in state.mapper.relationships:
        if relationship.direction is not MANYTOONE:
            continue
        parent = item.__dict__.get(relationship.key)
        back = relationship.back_populates or (relationship.backref and relationship.backref[0] if isinstance(
            relationship.backref, tuple) else relationship.backref)  # fmt: skip
        if parent is None or not back:
            continue
        collection = parent.__dict__.get(back)
        if isinstance(collection, list) and any(member is item for member in collection):
            set_committed_value(parent, back, [member for member in collection if member is not item])
        set_committed_value(item, relationship.key, None)
    if item in session:
        session.expunge(item)
