"""A short-lived memo for counts over whole jurisdictions.

The counts above a county's appeal list (how many in each state), the dashboard's
figures and the quotas' tallies read a jurisdiction's records; computed on each
page view they cost more than the page. They are kept for COUNTS_CACHE_SECONDS per
(what, scope), and forgotten as soon as a record of a watched table is written.

Where they are kept:

* by default in this process: another worker's write shows after at most
  COUNTS_CACHE_SECONDS, and each worker computes its own;
* with COUNTS_CACHE_URL (redis://…), in Redis, shared by every worker and server:
  one computes, all read it, and a write anywhere is seen everywhere at once (a
  generation number in Redis moves on every write). If Redis cannot be reached, each
  worker keeps its own for a minute (then tries Redis again), and says so in the log.

A write is forgotten twice: when it is flushed (this process's next read sees it)
and when it is committed (so a figure computed by someone else between the two,
without the uncommitted row, is not kept).
"""

from __future__ import annotations

import hashlib
import logging
import pickle
import threading
import time

from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

_lock = threading.Lock()
_store: dict = {}
_generation = {"n": 0}
_redis = {"url": None, "client": None, "failed_at": 0.0}
# what the memoized figures count: a write to any of these forgets them
WATCHED = {"appeal", "appeal_event", "visit", "contact_record", "representative", "person", "quota_rule"}
_WROTE = "minqing_memo_wrote"
PREFIX = "minqing:memo:"


def _canonical(value):
    """The key with sets in a fixed order (string hashes differ between processes)."""
    if isinstance(value, (set, frozenset)):
        return ("set", tuple(sorted(_canonical(v) for v in value)))
    if isinstance(value, (tuple, list)):
        return tuple(_canonical(v) for v in value)
    return value


def _client():
    url = current_app.config.get("COUNTS_CACHE_URL")
    if not url:
        return None
    if time.monotonic() - _redis["failed_at"] < 60:
        return None  # it failed a moment ago: do not wait on it for every request
    if _redis["url"] != url:
        import redis

        _redis["client"] = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        _redis["url"] = url
    return _redis["client"]


def _failed(err):
    _redis["failed_at"] = time.monotonic()
    log.warning("COUNTS_CACHE_URL unreachable, each worker keeps its own counts for a minute: %s", err)


def memo(key, compute):
    """compute() once per COUNTS_CACHE_SECONDS for `key` (hashable), unless a write intervened."""
    ttl = float(current_app.config.get("COUNTS_CACHE_SECONDS") or 0)
    if ttl <= 0:
        return compute()
    client = _client()
    if client is not None:
        return _shared(client, key, compute, ttl)
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


def _shared(client, key, compute, ttl):
    try:
        generation = int(client.get(PREFIX + "generation") or 0)
        name = PREFIX + hashlib.sha1(repr((_canonical(key), generation)).encode()).hexdigest()
        cached = client.get(name)
    except Exception as err:  # noqa: BLE001 - any Redis failure: compute without it
        _failed(err)
        return compute()
    if cached is not None:
        return pickle.loads(cached)  # noqa: S301 - our own values, in our own Redis
    value = compute()
    try:
        client.set(name, pickle.dumps(value), px=int(ttl * 1000))
    except Exception as err:  # noqa: BLE001
        _failed(err)
    return value


def forget():
    with _lock:
        _generation["n"] += 1
        _store.clear()
    try:
        client = _client()
    except RuntimeError:  # no application context (a script's own session)
        client = None
    if client is not None:
        try:
            client.incr(PREFIX + "generation")
        except Exception as err:  # noqa: BLE001
            _failed(err)


@event.listens_for(Session, "after_flush")
def _forget_on_write(session, flush_context):
    for obj in (*session.new, *session.dirty, *session.deleted):
        if getattr(obj, "__tablename__", None) in WATCHED:
            session.info[_WROTE] = True
            forget()
            return


@event.listens_for(Session, "after_commit")
def _forget_on_commit(session):
    if session.info.pop(_WROTE, False):
        forget()


@event.listens_for(Session, "after_rollback")
def _nothing_written(session):
    session.info.pop(_WROTE, None)
