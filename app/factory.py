"""create_app(): the application, its extensions, views, CLI and request guards."""

import gc
import logging
import os
import secrets

from flask import Flask, current_app, g, jsonify, request
from flask_appbuilder import AppBuilder
from flask_babel import get_locale, gettext
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DataError
from werkzeug.middleware.proxy_fix import ProxyFix

import config as default_config
from app.cli import register_cli
from app.core import jobs, logs, metrics, nodes
from app.core.replica import close_reports_session
from app.error_pages import register_error_pages
from app.extensions import csrf, db, migrate
from app.security import check_production_settings, init_web_security
from app.services import settings as settings_service
from app.views import register_views
from app.views.edge import (
    VALUE_REFUSED,
    refuse,
    valid_args_or_400,
    valid_body_or_4xx,
    valid_pk_or_404,
    valid_rison_or_400,
)
from app.views.layout import init_layout
from app.views.ops import answer_first, register_ops

ROOT_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir))
log = logging.getLogger(__name__)


def create_app(config=None):
    """Build the application. `config` is a dict of overrides (tests use it)."""
    app = Flask(__name__, instance_path=_instance_dir(config))
    app.config.from_object("config")
    if config:
        app.config.update(config)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = os.path.join(ROOT_DIR, "translations")
    logs.configure(app)  # LOG_FORMAT, LOG_LEVEL: the start-up's own lines already in them
    os.makedirs(app.instance_path, exist_ok=True)
    _ensure_secret_key(app)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = nodes.engine_options(app.config)  # the pool (DB_POOL_*)
    _configure_sqlite(app)

    nodes.check_multi_node(app.config)  # one of several servers: nothing kept per process
    check_production_settings(app)
    if app.config.get("PROXY_FIX"):
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1)

    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(ROOT_DIR, "migrations"))
    csrf.init_app(app)
    settings_service.init_app(app)
    # first of all: the request sees the settings (系统参数) stored on any server
    app.before_request(settings_service.refresh)
    if settings_service.refresh not in jobs.BEFORE_SYSTEM_JOB:
        jobs.BEFORE_SYSTEM_JOB.append(settings_service.refresh)  # the scheduler's jobs too

    with app.app_context():
        appbuilder = AppBuilder(update_perms=False)
        appbuilder.init_app(app, db.session)
        register_views(appbuilder)
        appbuilder.post_init()
    register_cli(app)
    init_web_security(app)
    app.before_request(_forget_request_state)

    app.teardown_request(close_reports_session)  # each request lets go of the replica's connection
    app.teardown_appcontext(close_reports_session)

    app.before_request(valid_pk_or_404)  # the request's edge (app/views/edge.py)
    app.before_request(valid_body_or_4xx)
    app.before_request(valid_args_or_400)
    app.before_request(valid_rison_or_400)
    register_error_pages(app)  # 403, 404, 429, 500: Chinese, in the layout (JSON under /api/)
    app.register_error_handler(413, _too_large)
    app.register_error_handler(DataError, _value_refused)  # what the edge missed: the database's word
    app.register_error_handler(OverflowError, _value_refused)
    app.add_url_rule("/favicon.ico", "favicon", lambda: ("", 204))
    _operations(app)
    app.jinja_env.globals["get_locale"] = get_locale
    init_layout(app)  # the left menu and breadcrumb of minqing/base.html
    # What is built by now (FAB, the mappers, the views: ~200,000 objects) lives as long
    # as the worker. Kept out of the collector's full passes, those stop taking ~150 ms
    # each and stalling whichever request they fall in (~20 ms now: bench/notes.md).
    gc.collect()
    gc.freeze()
    return app


def _operations(app):
    """Logs with request ids, metrics, /healthz /readyz /metrics (app/views/ops.py). Run last:
    the request id is set, and an ops endpoint answers, before every other before_request hook."""
    register_ops(app)
    app.before_request_funcs.setdefault(None, [])[0:0] = [logs.start_request, answer_first]
    app.after_request(metrics.observe)
    app.after_request(logs.finish_request)


def _too_large(error):

    limit = current_app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024)
    message = gettext("The upload is too large: at most %(mb)s MB.", mb=limit)
    if request.path.startswith("/api/"):
        return jsonify(message=message), 413
    return f"<!DOCTYPE html><meta charset='utf-8'><p>{message}</p>", 413


def _value_refused(error):
    """A value the database could not take (bad integer syntax, a number out of range) got past
    the edge: the client's input, so a 400 rather than a 500 (logged, to close the gap)."""
    log.warning("a value reached the database and was refused: %s", error)
    db.session.rollback()
    return refuse(400, VALUE_REFUSED)


def _forget_request_state():
    """Per-request caches live on `g`; drop them even when an app context is reused."""

    g.pop("_minqing_scope", None)
    # the logged-in user as cached by Flask-Login and Flask-JWT-Extended: a reused
    # context (the tests' one) would otherwise answer with the previous request's user
    g.pop("_login_user", None)
    for key in [k for k in vars(g) if k.startswith("_jwt_extended_")]:
        g.pop(key, None)


def _instance_dir(config):
    if config and config.get("INSTANCE_DIR"):
        return config["INSTANCE_DIR"]

    return default_config.INSTANCE_DIR


def _ensure_secret_key(app):
    """Development convenience: a random key kept in instance/ survives restarts.

    Production must set SECRET_KEY itself (checked in app.security).
    """
    if app.config.get("SECRET_KEY"):
        return
    path = os.path.join(app.instance_path, "secret_key")
    if not os.path.exists(path):
        with open(path, "w", encoding="ascii") as fh:
            fh.write(secrets.token_hex(32))
        os.chmod(path, 0o600)
    with open(path, encoding="ascii") as fh:
        app.config["SECRET_KEY"] = fh.read().strip()
    app.config["_SECRET_KEY_GENERATED"] = True


def _configure_sqlite(app):
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if not uri.startswith("sqlite"):
        return
    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    connect_args = dict(options.get("connect_args") or {})
    connect_args.setdefault("timeout", app.config["SQLITE_BUSY_TIMEOUT_MS"] / 1000)
    options["connect_args"] = connect_args
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    """Foreign keys on, WAL for concurrent readers: SQLite is the embedded default."""
    module = type(dbapi_connection).__module__
    if not module.startswith("sqlite3"):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
