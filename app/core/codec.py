"""Values kept outside the process (the shared counts memo in Redis) as JSON, never pickled.

A pickled value names classes and runs their code when read: a rolling deploy that changed a
class could answer 500, and whoever can write to Redis could run code in the app. Here a value
is written as tagged JSON: tuples, sets, dicts with any keys, dates, datetimes, decimals and
the app's own dataclasses (by name, only classes of `app.*` already loaded) survive the trip;
anything else cannot be written (the value is then simply not shared). Reading a value that
does not decode (corrupt, another release's dataclass) raises ValueError: the caller treats it
as a miss.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import json
import sys

ENVELOPE = "mq1"  # the outer key of every value: anything else in the store is not ours


def _enc(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [_enc(v) for v in value]
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return {"t": [_enc(v) for v in value]}
    if isinstance(value, (set, frozenset)):
        return {"s": [_enc(v) for v in value]}
    if isinstance(value, dict):
        return {"d": [[_enc(k), _enc(v)] for k, v in value.items()]}
    if isinstance(value, dt.datetime):
        return {"dt": value.isoformat()}
    if isinstance(value, dt.date):
        return {"date": value.isoformat()}
    if isinstance(value, dt.time):
        return {"time": value.isoformat()}
    if isinstance(value, decimal.Decimal):
        return {"dec": str(value)}
    cls = type(value)
    if dataclasses.is_dataclass(value) and cls.__module__.startswith("app."):
        fields = {f.name: _enc(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"dc": f"{cls.__module__}:{cls.__qualname__}", "f": fields}
    raise TypeError(f"not kept in a shared cache: {cls.__name__}")


def _dataclass(name, fields):
    module_name, _, qualname = name.partition(":")
    module = sys.modules.get(module_name) if module_name.startswith("app.") else None
    cls = module
    for part in qualname.split("."):
        cls = getattr(cls, part, None)
    if module is None or not isinstance(cls, type) or not dataclasses.is_dataclass(cls):
        raise ValueError(f"unknown dataclass {name}")
    return cls(**{k: _dec(v) for k, v in fields.items()})


def _dec(value):
    if isinstance(value, list):
        return [_dec(v) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"dc", "f"}:
        return _dataclass(value["dc"], value["f"])
    if len(value) != 1:
        raise ValueError("not a value written by this codec")
    ((tag, body),) = value.items()
    if tag == "t":
        return tuple(_dec(v) for v in body)
    if tag == "s":
        return {_dec(v) for v in body}
    if tag == "d":
        return {_dec(k): _dec(v) for k, v in body}
    if tag == "dt":
        return dt.datetime.fromisoformat(body)
    if tag == "date":
        return dt.date.fromisoformat(body)
    if tag == "time":
        return dt.time.fromisoformat(body)
    if tag == "dec":
        return decimal.Decimal(body)
    raise ValueError(f"not a value written by this codec (tag {tag!r})")


def dumps(value) -> bytes:
    """The value as UTF-8 JSON; TypeError if it holds something that is not kept."""
    return json.dumps({ENVELOPE: _enc(value)}, ensure_ascii=False, separators=(",", ":")).encode()


def loads(data):
    """The value written by dumps(); ValueError for anything else."""
    try:
        outer = json.loads(data)
        if not isinstance(outer, dict) or set(outer) != {ENVELOPE}:
            raise ValueError("not a value written by this codec")
        return _dec(outer[ENVELOPE])
    except (TypeError, KeyError, AttributeError, UnicodeDecodeError, decimal.InvalidOperation) as err:
        raise ValueError(str(err)) from err
