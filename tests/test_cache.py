"""The counts memo: kept for COUNTS_CACHE_SECONDS, forgotten on a write, optionally shared in Redis."""

import datetime as dt
import io
import pickle
import re
import socket
import threading
import time
import uuid

import flask
import pytest
from openpyxl import load_workbook

import app as app_package
from app.core import cache, clock, codec
from app.extensions import db
from app.services import scope
from app.services.quotas import Period
from tests.conftest import login
from tests.factories import make_appeal, make_user, tree

ON = dt.date(2026, 11, 20)


class Counter:
    def __init__(self):
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return {"n": self.calls}


@pytest.fixture
def shared(app):
    """COUNTS_CACHE_URL set to the local Redis (skipped where there is none)."""
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
    except OSError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    old_url, old_prefix = app.config.get("COUNTS_CACHE_URL"), cache.PREFIX
    app.config["COUNTS_CACHE_URL"] = "redis://127.0.0.1:6379/15"
    cache.PREFIX = f"minqing:test:{uuid.uuid4().hex}:"  # this run's keys only
    cache._redis.update(url=None, client=None, failed_at=0.0)
    yield cache._client()
    client = cache._client()
    for key in client.scan_iter(cache.PREFIX + "*"):
        client.delete(key)
    app.config["COUNTS_CACHE_URL"], cache.PREFIX = old_url, old_prefix
    cache._redis.update(url=None, client=None, failed_at=0.0)


def test_kept_then_forgotten_by_a_write():
    compute = Counter()
    assert cache.memo(("k", 1), compute) == {"n": 1}
    assert cache.memo(("k", 1), compute) == {"n": 1} and compute.calls == 1
    make_appeal(tree()["a1"])  # a watched table: flushed and committed
    assert cache.memo(("k", 1), compute) == {"n": 2}


def test_a_write_is_forgotten_again_at_commit():
    """A figure computed between the writer's flush and its commit does not stay."""
    t = tree()
    compute = Counter()
    appeal = make_appeal(t["a1"])
    appeal.content = "改了内容"
    db.session.flush()  # forgotten here...
    cache.memo(("k", 2), compute)  # ...someone counts before the commit...
    db.session.commit()  # ...and that count is forgotten at the commit
    cache.memo(("k", 2), compute)
    assert compute.calls == 2


def test_shared_between_workers_in_redis(shared):
    compute = Counter()
    key = ("dashboard", frozenset({"Leader", "Clerk"}), ("/1/",))
    assert cache.memo(key, compute) == {"n": 1}
    cache._store.clear()  # another worker: nothing of its own
    same = ("dashboard", frozenset({"Clerk", "Leader"}), ("/1/",))
    assert cache.memo(same, compute) == {"n": 1} and compute.calls == 1
    cache.forget()  # a write in any worker moves the shared generation on
    assert cache.memo(key, compute) == {"n": 2}


def test_keys_carry_the_release():
    assert cache.PREFIX == f"minqing:memo:{app_package.__version__}:"


@pytest.mark.parametrize(
    "junk",
    [b"\x80\x04\x95garbage", pickle.dumps({"n": 99}), b'{"n": 99}', b'{"mq1": {"dc": "os:system", "f": {}}}'],
    ids=["bytes", "pickle", "foreign-json", "foreign-class"],
)
def test_a_corrupt_value_in_redis_is_a_miss(shared, caplog, junk):
    compute = Counter()
    key = ("k", "corrupt")
    assert cache.memo(key, compute) == {"n": 1}
    names = [name for name in shared.scan_iter(cache.PREFIX + "*") if not name.endswith(b"generation")]
    assert len(names) == 1
    shared.set(names[0], junk)
    assert cache.memo(key, compute) == {"n": 2}  # counted again, no error
    assert "unreadable value in the counts cache" in caplog.text
    assert codec.loads(shared.get(names[0])) == {"n": 2}  # and the good value written back


def test_corrupt_last_figures_are_a_miss(shared, caplog):
    shared.set(cache._name(("k", "last"), "last:"), b"not json")
    assert cache._read_last(shared, ("k", "last")) is None
    assert "unreadable last figures" in caplog.text


def test_values_go_through_json_with_the_apps_own_dataclasses(shared):
    period = Period("month", 2026, 11, dt.date(2026, 11, 1), dt.date(2026, 11, 30))
    value = ([period], {("a", 1): {1, 2}}, dt.datetime(2026, 11, 20, 9, 30), None)
    compute = lambda: value  # noqa: E731
    assert cache.memo(("k", "dc"), compute) == value
    cache._store.clear()
    assert cache.memo(("k", "dc"), lambda: pytest.fail("not read back")) == value
    raw = next(n for n in shared.scan_iter(cache.PREFIX + "*") if not n.endswith(b"generation"))
    assert shared.get(raw).startswith(b'{"mq1":')  # JSON, not a pickle


def test_an_unreachable_redis_only_costs_the_memo(app, caplog):
    app.config["COUNTS_CACHE_URL"] = "redis://127.0.0.1:1/0"
    cache._redis.update(url=None, client=None, failed_at=0.0)
    try:
        compute = Counter()
        assert cache.memo(("k", 3), compute) == {"n": 1}
        assert cache.memo(("k", 3), compute) == {"n": 2}  # computed, not kept, no error
        assert "COUNTS_CACHE_URL unreachable" in caplog.text
    finally:
        app.config["COUNTS_CACHE_URL"] = ""
        cache._redis.update(url=None, client=None, failed_at=0.0)


# --------------------------------------------------------------------------
# Report pages: the last figures while they are counted again after the response
# --------------------------------------------------------------------------


@pytest.fixture
def stale(app):
    app.config["COUNTS_STALE_SECONDS"] = 300
    yield
    app.config["COUNTS_STALE_SECONDS"] = 0


def _registered(html):
    return int(re.search(r'data-mq-figure="collected">\s*<div class="panel-body"><div class="mq-num">(\d+)<', html)[1])


def _dashboard(client, grid):
    with clock.frozen(ON):
        html = client.get(f"/dashboard/?grid={grid.id}&start=2026-11-01&end=2026-11-30").get_data(as_text=True)
        cache.wait_for_recounts()
    return _registered(html), 'data-mq-recounting="1"' in html


@pytest.mark.commits  # the stale figures are recounted after the response, in a copy of the request
def test_a_write_elsewhere_shows_the_last_figures_while_they_are_recounted(client, stale):
    t = tree()
    make_appeal(t["a1"], at="2026-11-03 09:00")
    login(client, make_user("Leader", t["ta"]))
    assert _dashboard(client, t["ta"]) == (1, False)
    make_appeal(t["a2"], at="2026-11-04 09:00")  # a clerk's write somewhere else
    # served at once with the figures counted before, saying so; a recount starts
    assert _dashboard(client, t["ta"]) == (1, True)
    # the recount (in a copy of the request, same user) has kept the new figures
    assert _dashboard(client, t["ta"]) == (2, False)


@pytest.mark.commits  # the stale figures are recounted after the response, in a copy of the request
def test_the_user_who_wrote_waits_for_a_fresh_count(client, stale):
    t = tree()
    make_appeal(t["a1"], at="2026-11-03 09:00")
    login(client, make_user("Leader", t["ta"]))
    assert _dashboard(client, t["ta"]) == (1, False)
    make_appeal(t["a2"], at="2026-11-04 09:00")
    with client.session_transaction() as web:
        web[cache.WROTE_AT] = time.time()  # this user wrote it (set by every commit in a request)
    assert _dashboard(client, t["ta"]) == (2, False)


def test_a_commit_in_a_request_marks_the_writer(app):
    t = tree()
    with app.test_request_context("/"):
        flask.g._minqing_scope = (None, scope.EVERYTHING)  # this request may write anywhere
        make_appeal(t["a1"])
        assert flask.session[cache.WROTE_AT] >= time.time() - 5
    with app.test_request_context("/"):
        flask.g._minqing_scope = (None, scope.EVERYTHING)
        t["a1"].name = "改名"  # grids are not counted by the report pages: no mark
        db.session.commit()
        assert cache.WROTE_AT not in flask.session


@pytest.mark.commits  # the stale figures are recounted after the response, in a copy of the request
def test_figures_only_aged_are_renewed_without_a_notice(client, app, stale):
    """No write since: past COUNTS_CACHE_SECONDS the figures are recounted after
    the response, but the page does not claim records have changed."""
    t = tree()
    make_appeal(t["a1"], at="2026-11-03 09:00")
    login(client, make_user("Leader", t["ta"]))
    assert _dashboard(client, t["ta"]) == (1, False)
    key = next(iter(cache._last))
    generation, at, value = cache._last[key]
    cache._last[key] = (generation, at - 60, value)  # counted a minute ago (COUNTS_CACHE_SECONDS is 30)
    assert _dashboard(client, t["ta"]) == (1, False)
    assert cache._last[key][1] > at - 60  # renewed after the response all the same


@pytest.mark.commits  # the stale figures are recounted after the response, in a copy of the request
def test_figures_too_old_are_counted_afresh(client, app, stale):
    t = tree()
    login(client, make_user("Leader", t["ta"]))
    assert _dashboard(client, t["ta"]) == (0, False)
    make_appeal(t["a1"], at="2026-11-03 09:00")
    app.config["COUNTS_STALE_SECONDS"] = 0.001  # older than this: the viewer waits
    time.sleep(0.01)
    assert _dashboard(client, t["ta"]) == (1, False)


@pytest.mark.commits  # the stale figures are recounted after the response, in a copy of the request
def test_a_recount_keeps_nothing_for_another_scope(client, app, stale, caplog):
    """The recount derives its key again from the copied request: if that key differs
    (another user, another scope), its figures are not kept under the first key."""
    t = tree()
    make_appeal(t["a1"], at="2026-11-03 09:00")
    login(client, make_user("Leader", t["ta"]))
    _dashboard(client, t["ta"])
    key = next(iter(cache._last))
    make_appeal(t["a2"], at="2026-11-04 09:00")
    calls = []
    with app.test_request_context("/"):
        cache._recount_later(None, key, lambda: (("another", "key"), lambda: calls.append(1)), 300)
        cache.wait_for_recounts()
    assert calls == [] and "key changed" in caplog.text
    assert cache._last[key][2]["figures"]["collected"] == 1  # the last figures stay as they were


@pytest.mark.commits  # the stale figures are recounted after the response, in a copy of the request
def test_one_recount_at_a_time(client, stale):
    t = tree()
    make_appeal(t["a1"], at="2026-11-03 09:00")
    login(client, make_user("Leader", t["ta"]))
    _dashboard(client, t["ta"])
    make_appeal(t["a2"], at="2026-11-04 09:00")
    key = next(iter(cache._last))
    assert cache._claim(None, key)  # a recount of these figures is under way
    started = list(cache._pending)
    try:
        with clock.frozen(ON):
            html = client.get(f"/dashboard/?grid={t['ta'].id}&start=2026-11-01&end=2026-11-30").get_data(as_text=True)
        assert 'data-mq-recounting="1"' in html
        assert cache._pending == started  # no second recount was queued
        with clock.frozen(ON):
            cache._release(None, key)  # the first one ends: the next view may queue one
            client.get(f"/dashboard/?grid={t['ta'].id}&start=2026-11-01&end=2026-11-30")
        assert len([job for job in cache._pending if job not in started]) == 1
    finally:
        cache._release(None, key)


@pytest.mark.commits  # the stale figures are recounted after the response, in a copy of the request
def test_recounted_in_redis_for_every_worker(client, shared, stale):
    t = tree()
    make_appeal(t["a1"], at="2026-11-03 09:00")
    login(client, make_user("Leader", t["ta"]))
    assert _dashboard(client, t["ta"]) == (1, False)
    cache._last.clear()  # another worker: nothing of its own
    make_appeal(t["a2"], at="2026-11-04 09:00")
    assert _dashboard(client, t["ta"]) == (1, True)
    assert _dashboard(client, t["ta"]) == (2, False)
    assert not cache._last  # kept in Redis only


@pytest.mark.commits  # the stale figures are recounted after the response, in a copy of the request
def test_accountability_too_but_not_its_export(client, stale):
    t = tree()
    make_appeal(t["a1"], at="2026-11-03 09:00")
    login(client, make_user("Leader", t["ta"]))
    url = f"/accountability/?grid={t['ta'].id}&start=2026-11-01&end=2026-11-30"
    with clock.frozen(ON):
        assert 'data-mq-recounting="1"' not in client.get(url).get_data(as_text=True)
        make_appeal(t["a2"], at="2026-11-04 09:00")
        assert 'data-mq-recounting="1"' in client.get(url).get_data(as_text=True)
        cache.wait_for_recounts()
        make_appeal(t["a2"], at="2026-11-05 09:00")
        # the Excel file is a document to file: counted afresh, with the newest appeal
        sheet = load_workbook(io.BytesIO(client.get(url + "&format=xlsx").data)).worksheets[0]
        cache.wait_for_recounts()
    collected = [row[2] for row in sheet.iter_rows(values_only=True) if row[0] == "甲镇"]
    assert collected == [3]


@pytest.mark.commits  # the recount runs in a copy of the request, after the response
def test_the_recount_runs_when_the_response_is_sent_and_starts_no_thread(client, stale, monkeypatch):
    """The figures are renewed by the worker once the page has gone out (the WSGI server
    closes the response), never by a thread of their own."""
    started = []
    monkeypatch.setattr(threading.Thread, "start", lambda self: started.append(self))
    t = tree()
    make_appeal(t["a1"], at="2026-11-03 09:00")
    login(client, make_user("Leader", t["ta"]))
    url = f"/dashboard/?grid={t['ta'].id}&start=2026-11-01&end=2026-11-30"
    with clock.frozen(ON):
        client.get(url).close()
        make_appeal(t["a2"], at="2026-11-04 09:00")
        response = client.get(url)
        assert _registered(response.get_data(as_text=True)) == 1 and cache._pending  # the last figures, at once
        response.close()  # what the server does once the page is sent
        assert not cache._pending
        assert _registered(client.get(url).get_data(as_text=True)) == 2
    assert started == []
