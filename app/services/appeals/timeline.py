"""An appeal's timeline: its events with grid names and related numbers resolved."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.models.appeals import (
    Appeal,
    AppealEvent,
    Satisfaction,
    Status,
)
from app.models.grids import Grid
from app.services.appeals.workflow import EVENT_TITLES
from app.services.privacy import Reader


def timeline(session, appeal):
    """The appeal's events, oldest first, with grid names and related numbers
    resolved in two queries (not one per event)."""
    events = session.scalars(
        select(AppealEvent).where(AppealEvent.appeal_id == appeal.id).order_by(AppealEvent.at, AppealEvent.id)
    ).all()
    grid_ids = {i for e in events for i in (e.from_grid_id, e.to_grid_id) if i}
    related_ids = {e.related_appeal_id for e in events if e.related_appeal_id}
    grids = dict(session.execute(select(Grid.id, Grid.name).where(Grid.id.in_(grid_ids))).all()) if grid_ids else {}
    numbers = (
        dict(session.execute(select(Appeal.id, Appeal.number).where(Appeal.id.in_(related_ids))).all())
        if related_ids
        else {}
    )
    reader = Reader()  # corrections of the reporter's phone or ID number are masked like the record
    out = []
    for event in events:
        data = event.data
        if event.action == "edit" and isinstance(data, dict):
            data = reader.mask_changes(Appeal, data)
        out.append(
            {
                "event": event,
                "data": data,
                "title": EVENT_TITLES.get(event.action, event.action),
                "from_grid": grids.get(event.from_grid_id),
                "to_grid": grids.get(event.to_grid_id),
                "related_number": numbers.get(event.related_appeal_id),
                "from_status": Status.label_of(event.from_status) if event.from_status else None,
                "to_status": Status.label_of(event.to_status) if event.to_status else None,
                "result": RESULT_TITLES.get(event.result) if event.result else None,
            }
        )
    return out


RESULT_TITLES = {
    **dict(Satisfaction.choices()),
    "approved": _l("Approved"),
    "rejected": _l("Rejected"),
}
