"""A short-lived, per-process memo for counts over whole jurisdictions.

The counts above a county's appeal list (how many in each state) read every
appeal in scope; computed on each page view they cost more than the page. They
are kept for COUNTS_CACHE_SECONDS per (what, scope), and forgotten as soon as
this process writes a record of a watched table. Another worker's write shows
after at most COUNTS_CACHE_SECONDS.
"""

from __future__ import annotations

import threading
import time

from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

_lock = threading.Lock()
_store: dict = {}
_generation = {"n": 0}
WATCHED = {"appeal", "appeal_event", "visit", "contact_record"}


def memo(key, compute):
    """compute() once per COUNTS_CACHE_SECONDS for `key` (hashable), unless a write intervened."""
    ttl = float(current_app.config.get("COUNTS_CACHE_SECONDS") or 0)
    if ttl <= 0:
        return compute()
    full_key = (key, _generation["n"])
    now = time.monotonic()
    with _lock:
        hit = _store.get(full_key)
    if hit is not None and hit[0] > now:
        return hit[1]
    value = compute()
    with _lock:
        if len(_store) > 2000:  # scopes are few; this only guards against growth
            _store.clear()
        _store[full_key] = (now + ttl, value)
    return value


def forget():
    with _lock:
        _generation["n"] += 1
        _store.clear()


@event.listens_for(Session, "after_flush")
def _forget_on_write(session, flush_context):
    for obj in (*session.new, *session.dirty, *session.deleted):
        if getattr(obj, "__tablename__", None) in WATCHED:
            forget()
            return
