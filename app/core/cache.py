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

What is kept in Redis is JSON (app/core/codec.py), never pickled, under keys that carry the
release (app.__version__): servers of two releases side by side read none of each other's
values, and a value that does not decode (corrupt, or written by other code) is a miss, logged,
never a failed page.

A write is forgotten twice: when it is flushed (this process's next read sees it)
and when it is committed (so a figure computed by someone else between the two,
without the uncommitted row, is not kept).

The report pages (dashboard, accountability) count a county's appeals: a minute of
clerks' work forgets their figures many times over, and a county-wide recount takes
seconds. They pass `again` and may be shown the last figures counted, up to
COUNTS_STALE_SECONDS old, while one recount runs once their response is sent, in the
same worker (one per figures and scope at a time, across workers with Redis; no thread:
the roll-ups of the figures issue will make the recount itself unnecessary); the page
says how old they are. A
user who wrote since those figures were counted waits for a fresh count instead, so
everyone sees their own work.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time

import redis
from flask import after_this_request, copy_current_request_context, current_app, g, has_request_context, request
from flask import session as web_session
from sqlalchemy import event
from sqlalchemy.orm import Session

import app as _app_package
from app.core import codec

log = logging.getLogger(__name__)

_lock = threading.Lock()
_store: dict = {}
_generation = {"n": 0}
_redis = {"url": None, "client": None, "failed_at": 0.0}
# what the memoized figures count: a write to any of these forgets them
WATCHED = {"appeal", "appeal_event", "visit", "contact_record", "representative", "person", "quota_rule"}
_WROTE = "minqing_memo_wrote"
PREFIX = f"minqing:memo:{_app_package.__version__}:"  # a release reads only its own values
# the last figures counted for report pages: {key: (generation, unix time, value)}
_last: dict = {}
_recounting: dict = {}  # key -> when this process claimed its recount
_pending: list = []  # recounts waiting for their response to be sent
WROTE_AT = "mq_wrote_at"  # in the user's session: when they last wrote a watched record
USER_IN_G = ("user", "_login_user", "_minqing_scope")  # the request's user as FAB, Flask-Login and our scope keep it
RECOUNT_LOCK_SECONDS = 300  # a recount that died holds its Redis lock no longer than this
SERVED_LAST = "minqing.served_last_figures"  # in the request's environ: when the figures it was shown were counted


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
        _redis["client"] = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        _redis["url"] = url
    return _redis["client"]


def _failed(err):
    _redis["failed_at"] = time.monotonic()
    log.warning("COUNTS_CACHE_URL unreachable, each worker keeps its own counts for a minute: %s", err)


def memo(key, compute, again=None):
    """compute() once per COUNTS_CACHE_SECONDS for `key` (hashable), unless a write intervened.

    With `again` (a function giving (key, compute) anew, for a copy of this request) and
    COUNTS_STALE_SECONDS, figures made stale by a write are still served, up to that
    age, while `again` recounts them once the response is sent (see the module's notes)."""
    ttl = float(current_app.config.get("COUNTS_CACHE_SECONDS") or 0)
    if ttl <= 0:
        return compute()
    client = _client()
    stale = float(current_app.config.get("COUNTS_STALE_SECONDS") or 0)
    if again is not None and stale > 0:
        return _stale_while_recount(client, key, compute, again, ttl, stale)
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
        name = _name((key, generation), "")
        cached = client.get(name)
    except Exception as err:  # noqa: BLE001 - any Redis failure: compute without it
        _failed(err)
        return compute()
    if cached is not None:
        try:
            return codec.loads(cached)
        except ValueError as err:
            log.warning("unreadable value in the counts cache, counted again: %s", err)
    value = compute()
    _put(client, name, value, ttl)
    return value


def _put(client, name, value, seconds):
    """Keep `value` in Redis for `seconds`; a value the codec does not keep stays unshared."""
    try:
        data = codec.dumps(value)
    except TypeError as err:
        log.warning("a value of the counts cache cannot be shared (%s): counted by each worker", err)
        return False
    try:
        client.set(name, data, px=max(1, int(seconds * 1000)))
    except Exception as err:  # noqa: BLE001
        _failed(err)
        return False
    return True


# --------------------------------------------------------------------------
# Report figures: the last count served while the next one runs
# --------------------------------------------------------------------------


def _name(key, kind):
    return PREFIX + kind + hashlib.sha1(repr(_canonical(key)).encode()).hexdigest()


def _generation_now(client):
    if client is not None:
        try:
            return ("redis", int(client.get(PREFIX + "generation") or 0))
        except Exception as err:  # noqa: BLE001
            _failed(err)
    return ("local", _generation["n"])


def _read_last(client, key):
    if client is not None:
        try:
            cached = client.get(_name(key, "last:"))
        except Exception as err:  # noqa: BLE001
            _failed(err)
        else:
            try:
                entry = codec.loads(cached) if cached is not None else None
                if entry is not None and not (isinstance(entry, tuple) and len(entry) == 3):
                    raise ValueError("not (generation, time, value)")
                return entry
            except ValueError as err:
                log.warning("unreadable last figures in the counts cache, counted again: %s", err)
                return None
    with _lock:
        return _last.get(key)


def _keep_last(client, key, entry, keep):
    if client is not None and _put(client, _name(key, "last:"), entry, keep):
        return
    with _lock:
        if len(_last) > 2000:
            _last.clear()
        _last[key] = entry


def _count(client, key, compute, keep):
    """Count now, keep the figures with the generation and time they were counted at."""
    generation, at = _generation_now(client), time.time()
    value = compute()
    _keep_last(client, key, (generation, at, value), keep)
    return value


def wrote_since(at):
    """The current user wrote a watched record at or after `at` (unix time)."""
    return has_request_context() and float(web_session.get(WROTE_AT) or 0) >= at


def _stale_while_recount(client, key, compute, again, ttl, stale):
    keep = max(ttl, stale)
    entry = _read_last(client, key)
    if entry is not None:
        generation, at, value = entry
        age, written = time.time() - at, generation != _generation_now(client)
        if not written and age < ttl:
            return value
        if age < stale and not wrote_since(at):
            if written:  # the page says so; figures only past COUNTS_CACHE_SECONDS are renewed quietly
                request.environ[SERVED_LAST] = at
            _recount_later(client, key, again, keep)
            return value
    return _count(client, key, compute, keep)


def served_last():
    """This request was shown figures counted before a later write (being counted again)."""
    return has_request_context() and SERVED_LAST in request.environ


def _claim(client, key):
    if client is not None:
        try:
            return bool(client.set(_name(key, "recount:"), 1, nx=True, px=RECOUNT_LOCK_SECONDS * 1000))
        except Exception as err:  # noqa: BLE001
            _failed(err)
    with _lock:
        since = _recounting.get(key)
        if since is not None and time.monotonic() - since < RECOUNT_LOCK_SECONDS:
            return False  # under way (a claim whose response never closed expires like Redis's)
        _recounting[key] = time.monotonic()
        return True


def _release(client, key):
    with _lock:
        _recounting.pop(key, None)
    if client is not None:
        try:
            client.delete(_name(key, "recount:"))
        except Exception as err:  # noqa: BLE001
            _failed(err)


class _Recount:
    """A recount that runs once, when the response that showed the last figures has been
    sent (the WSGI server closes it), in the same worker: no thread of its own."""

    def __init__(self, run):
        self.run = run
        self.done = False

    def __call__(self):
        with _lock:
            if self.done:
                return
            self.done = True
            if self in _pending:
                _pending.remove(self)
        self.run()


def _recount_later(client, key, again, keep):
    """One recount of `key` after this response is sent, in a copy of this request (same
    user, same arguments): `again()` derives the key and the count anew there, and the
    figures are kept only if the key comes out the same (the same scope, nothing else).
    The user is answered at once; the worker counts before it takes its next request."""
    if not has_request_context() or not _claim(client, key):
        return
    # who asked: the copy gets a new `g`, where FAB and the scope look for the user
    who = {name: g.get(name) for name in USER_IN_G if name in g}

    @copy_current_request_context
    def run():
        try:
            for name, value in who.items():
                setattr(g, name, value)
            fresh_key, compute = again()
            if fresh_key != key:
                log.warning("recount after the response: the key changed (%r), figures not kept", fresh_key)
                return
            _count(client, key, compute, keep)
        except Exception:  # noqa: BLE001 - a failed recount leaves the last figures; the next view tries again
            log.exception("recount of %r failed", key)
        finally:
            _release(client, key)

    job = _Recount(run)
    with _lock:
        if len(_pending) > 200:  # responses never closed (a test client): the oldest are dropped
            del _pending[:100]
        _pending.append(job)

    @after_this_request
    def _when_sent(response):
        response.call_on_close(job)
        return response


def wait_for_recounts(timeout=None):
    """Run now the recounts whose responses were not closed yet (tests, the bench: a test
    client keeps its responses open)."""
    with _lock:
        jobs = list(_pending)
    for job in jobs:
        job()


def forget_last():
    """Drop the last figures of the report pages too (tests, the bench's cold runs)."""
    with _lock:
        _last.clear()


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
        if has_request_context():  # this user sees their own write on the report pages
            web_session[WROTE_AT] = time.time()


@event.listens_for(Session, "after_rollback")
def _nothing_written(session):
    session.info.pop(_WROTE, None)
