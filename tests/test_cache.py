"""The counts memo: kept for COUNTS_CACHE_SECONDS, forgotten on a write, optionally shared in Redis."""

import socket
import uuid

import pytest

from app.extensions import db
from app.services import cache
from tests.factories import make_appeal, tree


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
