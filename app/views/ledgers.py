"""The printed ledgers the seeds name (一人一帐, 一村一册, 半年小结), reached from a person's and a
grid's page (PersonView.ledger, GridView.village_book, GridView.half_year). Every value a row shows
passes through privacy.Reader, as on every other page."""

from __future__ import annotations

from flask import abort, current_app, request

from app.core.clock import now
from app.core.errors import DomainError
from app.extensions import db
from app.models.appeals import Appeal, Status
from app.models.visits import Visit
from app.services import ledgers, scope
from app.services.privacy import Reader


def _shower(visits):
    """show(item, column): the value as the current user may read it."""
    readers = {Visit: Reader().prepare(db.session, Visit, [v.id for v in visits]), Appeal: Reader()}

    def show(item, column):
        value = getattr(item, column)
        reader = readers.get(type(item)) or Reader()
        return reader.show(type(item), column, value, item=item)

    return show


def _span():
    try:
        return ledgers.span_of(request.args.get("from"), request.args.get("to"))
    except DomainError:
        abort(400)


def _common(**kwargs):
    return {
        "printed_at": now(),
        "status_title": lambda code: Status.label_of(code),
        "limit": int(current_app.config.get("LEDGER_PRINT_MAX_ROWS", 1000)),
        **kwargs,
    }


def person_ledger(view, person):
    span = _span()
    book = ledgers.person_ledger(db.session, person, span)
    return view.render_template(
        "minqing/print/person_ledger.html",
        **_common(person=person, span=span, book=book, show=_shower(book["visits"])),
    )


def village_book(view, grid):
    span = _span()
    sm = view.appbuilder.sm
    book = ledgers.village_book(
        db.session, grid, span, scope.current(), readable=lambda spec: sm.has_access("can_read", spec.resource)
    )
    return view.render_template(
        "minqing/print/village_book.html",
        **_common(grid=grid, span=span, book=book, show=_shower(book["visits"])),
    )


def half_year(view, grid):
    try:
        year, half, span = ledgers.half_of(request.args.get("year"), request.args.get("half"))
    except DomainError:
        abort(400)
    summary = ledgers.half_year(db.session, grid, span)
    return view.render_template(
        "minqing/print/half_year.html",
        **_common(grid=grid, span=span, year=year, half_title=ledgers.HALVES[half], summary=summary),
    )
