"""A per-request memo: a count asked for twice while one page is built is counted once.

Nothing is kept between requests, so nothing can be stale and no write has to forget
anything: the appeal figures are read from roll-ups kept in the writing transaction
(`app.services.rollups`), the visit quotas from the visit tally (`app.services.tally`).
What a page still counts itself (the quota and representatives' reports) it counts on
each view, once (a write in the same request forgets this request's memo).
"""

from __future__ import annotations

from flask import g, has_request_context, request
from sqlalchemy import event
from sqlalchemy.orm import Session

_MEMO = "_minqing_memo"


def _canonical(value):
    """The key with sets in a fixed order."""
    if isinstance(value, (set, frozenset)):
        return ("set", tuple(sorted(_canonical(v) for v in value)))
    if isinstance(value, (tuple, list)):
        return tuple(_canonical(v) for v in value)
    return value


def memo(key, compute):
    """compute() once per request for `key` (hashable); outside a request, every time."""
    if not has_request_context():
        return compute()
    this_request = request._get_current_object()
    held = g.get(_MEMO)
    if held is None or held[0] is not this_request:  # (g can outlive a request: tests share one)
        held = (this_request, {})
        setattr(g, _MEMO, held)
    key = _canonical(key)
    if key not in held[1]:
        held[1][key] = compute()
    return held[1][key]


@event.listens_for(Session, "after_flush")
def _forget_on_write(session, flush_context):
    """A write inside the request: what it memoized may have changed (this request only)."""
    if has_request_context():
        g.pop(_MEMO, None)
