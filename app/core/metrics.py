"""Prometheus metrics: requests, latency by endpoint, the database pool (served at /metrics).

One gunicorn worker knows only its own requests. With PROMETHEUS_MULTIPROC_DIR set in the
environment before the server starts (contrib/minqing.env), prometheus_client keeps every
worker's values in files there and /metrics adds them up (its multiprocess mode); gunicorn's
child_exit hook marks a dead worker's files (contrib/gunicorn.conf.py). Without it, the values
are this process's, which is right for `python run.py` and one-worker servers.

Endpoints are labelled by their Flask endpoint name (a bounded set), never by the raw path.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import time

from flask import current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as prometheus_multiprocess

from app.extensions import db

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_metrics: dict = {}  # made once per process, on the first app's settings


def init_app(app):
    if _metrics:
        return
    directory = os.environ.get(MULTIPROC_ENV)
    if directory:  # a command (`flask minqing init`) may start before gunicorn made it
        os.makedirs(directory, exist_ok=True)
    buckets = [float(b) for b in app.config["METRICS_LATENCY_BUCKETS"]]
    _metrics.update(
        requests=Counter("minqing_http_requests", "HTTP requests answered", ["method", "endpoint", "status"]),
        latency=Histogram(
            "minqing_http_request_duration_seconds", "Time to answer a request", ["endpoint"], buckets=buckets
        ),
        jobs=Counter("minqing_jobs", "Jobs queued, started, done and failed", ["kind", "status"]),
        pool_in_use=Gauge("minqing_db_pool_checked_out", "Database connections in use", multiprocess_mode="livesum"),
        pool_open=Gauge(
            "minqing_db_pool_connections", "Database connections open (in use or idle)", multiprocess_mode="livesum"
        ),
        pool_overflow=Gauge(
            "minqing_db_pool_overflow", "Connections open beyond DB_POOL_SIZE", multiprocess_mode="livesum"
        ),
    )


def observe(response):
    """after_request: count the request, its time, and the pool as it is now."""
    started = g.get("request_started")
    endpoint = request.url_rule.endpoint if request.url_rule is not None else "none"
    _metrics["requests"].labels(request.method, endpoint, str(response.status_code)).inc()
    if started is not None:
        _metrics["latency"].labels(endpoint).observe(time.perf_counter() - started)
    pool_figures()
    return response


def job(kind, status):
    """A job changed state (app/core/jobs.py): queued, running, done or failed."""
    if _metrics:
        _metrics["jobs"].labels(kind, status).inc()


def pool_figures():
    pool = db.engine.pool
    checked_out = getattr(pool, "checkedout", None)
    if checked_out is None:  # pools that keep no count (SQLite's in-memory StaticPool)
        return
    in_use, idle = pool.checkedout(), getattr(pool, "checkedin", lambda: 0)()
    _metrics["pool_in_use"].set(in_use)
    _metrics["pool_open"].set(in_use + idle)
    _metrics["pool_overflow"].set(max(0, getattr(pool, "overflow", lambda: 0)()))


def exposition():
    """(body, content type) of every metric: all workers' with PROMETHEUS_MULTIPROC_DIR."""
    pool_figures()
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return generate_latest(registry), CONTENT_TYPE_LATEST


def allowed():
    """The request carries METRICS_TOKEN, or comes from METRICS_ALLOWED_NETWORKS."""
    return token_ok(request.headers.get("Authorization", "")) or address_allowed(request.remote_addr)


def token_ok(header):
    token = current_app.config.get("METRICS_TOKEN") or ""
    scheme, _, given = header.partition(" ")
    return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token)


def address_allowed(address):
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(net, strict=False) for net in current_app.config["METRICS_ALLOWED_NETWORKS"])
