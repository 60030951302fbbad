"""For nginx, monitors and Prometheus: /healthz, /readyz and /metrics.

No login, no menu entry, no CSRF (GET only) and no rate limit: `answer_first` runs before any
other before_request hook (the factory puts it there), so these answers read neither the
settings table nor the session, and /healthz touches no database at all.

* /healthz — the process answers (nginx's and systemd's liveness check): always 200.
* /readyz  — this server can serve: the database answers, its schema is at the migrations'
  head, and the configured Redis (RATELIMIT_STORAGE_URI) answers a PING.
  200 when all do, else 503; the JSON names each check and why it failed.
* /metrics — Prometheus text (app/core/metrics.py), for METRICS_TOKEN or METRICS_ALLOWED_NETWORKS.
"""

from __future__ import annotations

import logging

import redis
from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from flask import current_app, jsonify, request
from flask_babel import force_locale, gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import inspect, text

import app as app_package
from app.core import metrics
from app.extensions import csrf, db

log = logging.getLogger(__name__)

_heads: dict = {}  # migrations directory -> its head revisions (read once per process)
_redis_clients: dict = {}
REDIS_SETTINGS = ("RATELIMIT_STORAGE_URI",)


def healthz():
    return jsonify(status="ok", version=app_package.__version__)


def readyz():
    checks = {"database": _database()}
    if checks["database"]["ok"]:
        checks["migrations"] = _migrations()
    for setting in REDIS_SETTINGS:
        url = current_app.config.get(setting) or ""
        if url.startswith(("redis://", "rediss://", "unix://")):
            checks[setting] = _redis(url)
    ready = all(check["ok"] for check in checks.values())
    body = {"status": "ready" if ready else "unavailable", "version": app_package.__version__, "checks": checks}
    if not ready:
        failed = [name for name, check in checks.items() if not check["ok"]]
        log.warning("not ready: %s", ", ".join(f"{name}: {checks[name]['reason']}" for name in failed))
    return jsonify(body), 200 if ready else 503


def _failed(message, err=None):
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):  # Chinese first, no session touched
        reason = str(message)
    detail = {"ok": False, "reason": reason}
    if err is not None:
        detail["error"] = f"{type(err).__name__}: {err}"[:300]
    return detail


def _database():
    try:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as err:  # noqa: BLE001 - whatever the driver raises, the database is not there
        return _failed(_l("The database cannot be reached."), err)
    return {"ok": True}


def _migrations():
    directory = current_app.extensions["migrate"].directory
    if directory not in _heads:
        config = AlembicConfig()
        config.set_main_option("script_location", directory)
        _heads[directory] = set(ScriptDirectory.from_config(config).get_heads())
    try:
        with db.engine.connect() as conn:
            migrated = inspect(conn).has_table("alembic_version")  # none: never initialized
            current = set(conn.scalars(text("SELECT version_num FROM alembic_version"))) if migrated else set()
    except Exception as err:  # noqa: BLE001
        return _failed(_l("The schema version cannot be read."), err)
    if current != _heads[directory]:
        detail = _failed(_l("The database schema is not at the newest migration: run flask minqing init."))
        detail.update(current=sorted(current), head=sorted(_heads[directory]))
        return detail
    return {"ok": True, "head": sorted(current)}


def _redis(url):
    timeout = float(current_app.config["READYZ_REDIS_TIMEOUT"])
    client = _redis_clients.get(url)
    if client is None:
        client = _redis_clients[url] = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        client.ping()
    except Exception as err:  # noqa: BLE001 - any Redis failure
        return _failed(_l("Redis cannot be reached."), err)
    return {"ok": True}


def metrics_view():
    if not metrics.allowed():
        with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
            message = gettext("Metrics need METRICS_TOKEN or an address in METRICS_ALLOWED_NETWORKS.")
        return jsonify(message=message), 403
    body, content_type = metrics.exposition()
    return body, 200, {"Content-Type": content_type}


OPS_VIEWS = {"minqing_healthz": healthz, "minqing_readyz": readyz, "minqing_metrics": metrics_view}
PATHS = {"minqing_healthz": "/healthz", "minqing_readyz": "/readyz", "minqing_metrics": "/metrics"}


def answer_first():
    """First before_request hook: an ops endpoint answers before anything else runs."""
    view = OPS_VIEWS.get(request.endpoint)
    if view is not None:
        return view()
    return None


def register_ops(app):
    metrics.init_app(app)
    for endpoint, view in OPS_VIEWS.items():
        app.add_url_rule(PATHS[endpoint], endpoint, csrf.exempt(view), methods=["GET"])
