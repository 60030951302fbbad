"""Logging: LOG_FORMAT (text or JSON lines), LOG_LEVEL, and a request id on every line.

Each request gets an id: the incoming X-Request-ID when it looks like one (nginx sets it from
$request_id, contrib/nginx), else a new one. Every log record written while the request runs
carries it (`request_id`), it goes back in the X-Request-ID response header, and with
LOG_REQUESTS one INFO line per request gives method, path, status and milliseconds.

Records go to standard error, where gunicorn and systemd's journal collect them. The handler
is the root logger's and is installed once per process (tests build several apps).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sys
import time
import uuid

from flask import current_app, g, has_request_context, request

REQUEST_ID_HEADER = "X-Request-ID"
NO_REQUEST = "-"


def request_id():
    """The current request's id ("-" outside a request)."""
    if has_request_context():
        return g.get("request_id") or NO_REQUEST
    return NO_REQUEST


class RequestIdFilter(logging.Filter):
    def filter(self, record):
        record.request_id = request_id()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id (and exc_info)."""

    def format(self, record):
        entry = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", NO_REQUEST),
        }
        for extra in ("method", "path", "status", "ms", "endpoint"):
            if hasattr(record, extra):
                entry[extra] = getattr(record, extra)
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


class StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (test runners swap it)."""

    def __init__(self):
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass


def make_handler(fmt, stream=None):
    handler = logging.StreamHandler(stream) if stream is not None else StderrHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(RequestIdFilter())
    handler._minqing = True
    return handler


def install(fmt="text", level="INFO"):
    """The root logger at `level` with one handler of ours in `fmt` (replacing an earlier one)."""
    fmt = str(fmt or "text").lower()
    if fmt not in ("text", "json"):
        raise ValueError(f"LOG_FORMAT must be text or json, not {fmt!r}")
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "_minqing", False)]:
        root.removeHandler(handler)
    root.addHandler(make_handler(fmt))
    root.setLevel(str(level or "INFO").upper())


def configure(app):
    """LOG_FORMAT and LOG_LEVEL for the process; Flask's logger writes through the root's handler.
    The factory registers start_request first of all before_request hooks, finish_request after."""
    install(app.config.get("LOG_FORMAT"), app.config.get("LOG_LEVEL"))
    app.logger.handlers.clear()  # Flask's own handler would print its records twice
    app.logger.propagate = True
    app.extensions["minqing_request_id"] = re.compile(app.config["REQUEST_ID_PATTERN"])


log = logging.getLogger("minqing.request")


def start_request():
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    pattern = current_app.extensions["minqing_request_id"]
    g.request_id = incoming if pattern.fullmatch(incoming) else uuid.uuid4().hex
    g.request_started = time.perf_counter()


def finish_request(response):
    rid = g.get("request_id")
    if rid:
        response.headers[REQUEST_ID_HEADER] = rid
    started = g.get("request_started")
    if started is not None and current_app.config.get("LOG_REQUESTS"):
        ms = round((time.perf_counter() - started) * 1000, 1)
        fields = {"method": request.method, "path": request.path, "status": response.status_code, "ms": ms}
        log.info("%s %s %s %.1f ms", request.method, request.path, response.status_code, ms, extra=fields)
    return response
