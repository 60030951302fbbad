"""The login limit's counters in the application's own database (RATELIMIT_STORAGE_URI=minqing+db://).

Flask-Limiter keeps its counters in a `limits` storage. `memory://` counts in each worker
process, so `make run`'s two gunicorn workers let through twice the documented limit (and N
servers N times). This storage counts in the database every worker already shares (and, on
PostgreSQL, every server): each hit is one atomic INSERT … ON CONFLICT DO UPDATE … RETURNING,
so concurrent workers cannot both pass the last allowed attempt. With Redis available,
`RATELIMIT_STORAGE_URI=redis://…` keeps the counters out of the database instead.

Only the fixed-window strategy (Flask-Limiter's default) is supported.
"""

from __future__ import annotations

import hashlib
import time

from limits.storage import Storage
from sqlalchemy import case, delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db
from app.models.security import RateLimitCounter

SCHEME = "minqing+db"
TABLE = RateLimitCounter.__table__


def _key(key):
    """Keys fit the column: a long one (an IPv6 address and a long route) is hashed."""
    return key if len(key) <= 200 else "sha256:" + hashlib.sha256(key.encode()).hexdigest()


class DatabaseStorage(Storage):
    """A `limits` storage over the RateLimitCounter table of the app's database."""

    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri=None, wrap_exceptions=False, **options):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self):
        return SQLAlchemyError

    @staticmethod
    def _engine():
        return db.engine  # the current app's: limits are checked inside a request

    def incr(self, key, expiry, amount=1):
        key, moment = _key(key), time.time()
        engine = self._engine()
        insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
        expired = TABLE.c.expires_at <= moment
        statement = (
            insert(TABLE)
            .values(key=key, hits=amount, expires_at=moment + expiry)
            .on_conflict_do_update(
                index_elements=[TABLE.c.key],
                set_={
                    "hits": case((expired, amount), else_=TABLE.c.hits + amount),
                    "expires_at": case((expired, moment + expiry), else_=TABLE.c.expires_at),
                },
            )
            .returning(TABLE.c.hits)
        )
        with engine.begin() as conn:
            hits = conn.execute(statement).scalar_one()
            conn.execute(delete(TABLE).where(TABLE.c.expires_at < moment - 3600))  # long-gone windows
        return hits

    def get(self, key):
        with self._engine().connect() as conn:
            hits = conn.scalar(select(TABLE.c.hits).where(TABLE.c.key == _key(key), TABLE.c.expires_at > time.time()))
        return hits or 0

    def get_expiry(self, key):
        with self._engine().connect() as conn:
            expires = conn.scalar(select(TABLE.c.expires_at).where(TABLE.c.key == _key(key)))
        return expires if expires is not None else time.time()

    def check(self):
        try:
            with self._engine().connect() as conn:
                conn.scalar(select(func.count()).select_from(TABLE))
        except SQLAlchemyError:
            return False
        return True

    def reset(self):
        with self._engine().begin() as conn:
            return conn.execute(delete(TABLE)).rowcount

    def clear(self, key):
        with self._engine().begin() as conn:
            conn.execute(delete(TABLE).where(TABLE.c.key == _key(key)))
