"""The one source of time. Tests freeze it with `frozen(...)`; code never calls datetime.now()."""

import contextlib
import datetime as dt
from zoneinfo import ZoneInfo

from flask import current_app

_frozen = None


def _tz():
    try:
        return ZoneInfo(current_app.config.get("TIMEZONE", "Asia/Shanghai"))
    except RuntimeError:  # outside an application context
        return ZoneInfo("Asia/Shanghai")


def now():
    """Local wall-clock time (naive, in the configured TIMEZONE): what clerks see on paper."""
    if _frozen is not None:
        return _frozen
    return dt.datetime.now(_tz()).replace(tzinfo=None, microsecond=0)


def today():
    return now().date()


@contextlib.contextmanager
def frozen(moment):
    """Freeze now() at `moment` (a datetime, or an ISO string) inside the block."""
    global _frozen
    if isinstance(moment, str):
        moment = dt.datetime.fromisoformat(moment)
    if isinstance(moment, dt.date) and not isinstance(moment, dt.datetime):
        moment = dt.datetime.combine(moment, dt.time(9, 0))
    previous, _frozen = _frozen, moment
    try:
        yield moment
    finally:
        _frozen = previous
