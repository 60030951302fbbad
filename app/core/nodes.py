"""Several app servers on one database: what start-up refuses, the pool, and one `init` at a time.

MULTI_NODE (config.py) says this server is one of several behind a load balancer. Anything
kept per process then breaks quietly: a SECRET_KEY generated into instance/ signs logins and
CSRF tokens no other server accepts; login counts in memory:// let N servers through N times;
counts memoized per worker disagree between servers; jobs run inside a web worker die with it
and their files stay on that one server; photos written to one server's disk are missing on the
others. With MULTI_NODE on, create_app() refuses to start and says which setting to change (in
Chinese and English: operators read both).

`init_lock(engine)` serializes `flask minqing init` (and migrations/env.py serializes each
migration run) across servers starting together with a PostgreSQL advisory lock; on SQLite,
one file on one machine, it does nothing.
"""

from __future__ import annotations

import contextlib
import logging

from sqlalchemy import text
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

# pg_advisory_lock keys (any 64-bit numbers of our own): the whole `init`, and one migration run
INIT_LOCK_KEY = 0x4D51_1001
MIGRATE_LOCK_KEY = 0x4D51_1002


class StartupRefused(RuntimeError):
    """create_app() will not start with these settings (the message says why and what to set)."""


def is_postgres(uri):
    return make_url(uri).get_backend_name() == "postgresql"


def multi_node(config):
    """MULTI_NODE as set, or (None) on with PostgreSQL in production."""
    explicit = config.get("MULTI_NODE")
    if explicit is not None:
        return bool(explicit)
    return bool(config.get("ENV_PRODUCTION")) and is_postgres(config["SQLALCHEMY_DATABASE_URI"])


def per_process_settings(config):
    """(setting, 中文, English) for each thing kept per process under `config`."""
    found = []
    if config.get("_SECRET_KEY_GENERATED") or not config.get("SECRET_KEY"):
        found.append(
            (
                "SECRET_KEY",
                "SECRET_KEY 未设置（各服务器各自生成密钥，登录和表单在服务器之间失效）：在每台服务器设置同一个随机值",
                "SECRET_KEY is not set (each server generates its own: logins and forms fail across servers): "
                "set the same random value on every server",
            )
        )
    storage = (config.get("RATELIMIT_STORAGE_URI") or "memory://").split(":", 1)[0]
    if storage == "memory" or (storage == "minqing+db" and not is_postgres(config["SQLALCHEMY_DATABASE_URI"])):
        found.append(
            (
                "RATELIMIT_STORAGE_URI",
                "登录限流计数只在本进程（或本机 SQLite）：设置 RATELIMIT_STORAGE_URI=minqing+db://（PostgreSQL）"
                "或 redis://主机:6379/0",
                "login counts are kept per process (or in a local SQLite): set RATELIMIT_STORAGE_URI=minqing+db:// "
                "(on PostgreSQL) or redis://host:6379/0",
            )
        )
    found += shared_files_settings(config)
    return found


def shared_files_settings(config):
    """(setting, 中文, English) for jobs and files that would live on one server only."""
    found = []
    if not config.get("JOBS_REDIS_URL"):
        found.append(
            (
                "JOBS_REDIS_URL",
                "JOBS_REDIS_URL 未设置（后台任务在网页进程里运行，进程重启即丢失，且只在本服务器）："
                "设置 JOBS_REDIS_URL=redis://主机:6379/3 并在一台服务器运行 flask minqing worker",
                "JOBS_REDIS_URL is not set (jobs would run inside a web worker, die with it and stay on this "
                "server): set JOBS_REDIS_URL=redis://host:6379/3 and run `flask minqing worker`",
            )
        )
    if (config.get("ATTACHMENT_STORAGE") or "local") == "local" and not config.get("ATTACHMENT_DIR_SHARED"):
        found.append(
            (
                "ATTACHMENT_DIR_SHARED",
                "照片和附件存在本机目录（其他服务器看不到）：把 ATTACHMENT_DIR 设为各服务器共同挂载的目录（NFS 等）"
                "后设置 ATTACHMENT_DIR_SHARED=true，或改用对象存储 ATTACHMENT_STORAGE",
                "photos and files are kept in a local directory the other servers cannot read: mount one shared "
                "directory (NFS...) as ATTACHMENT_DIR on every server and set ATTACHMENT_DIR_SHARED=true, or use "
                "an object store (ATTACHMENT_STORAGE)",
            )
        )
    if not config.get("JOBS_DIR_SHARED"):
        found.append(
            (
                "JOBS_DIR_SHARED",
                "后台任务的进度和结果文件存在本机目录（在其他服务器上查看或下载不到）：把 JOBS_DIR 设为各服务器"
                "共同挂载的目录后设置 JOBS_DIR_SHARED=true",
                "jobs' progress and result files are kept in a local directory (not seen or downloaded through "
                "the other servers): mount one shared directory as JOBS_DIR on every server and set "
                "JOBS_DIR_SHARED=true",
            )
        )
    return found


def check_multi_node(config):
    """Refuse to start a server of several with anything kept per process."""
    if not multi_node(config):
        return
    found = per_process_settings(config)
    if not found:
        return
    lines = ["多服务器模式（MULTI_NODE）下不能启动 / refusing to start with MULTI_NODE on:"]
    for _setting, zh, en in found:
        lines += [f"  - {zh}", f"    {en}"]
    lines.append("  单台服务器可设置 MINQING_MULTI_NODE=false。A single server may set MINQING_MULTI_NODE=false.")
    raise StartupRefused("\n".join(lines))


def engine_options(config):
    """SQLALCHEMY_ENGINE_OPTIONS with the pool settings (DB_POOL_*) for a server database;
    SQLite keeps SQLAlchemy's own pool. A key set in SQLALCHEMY_ENGINE_OPTIONS wins."""
    options = dict(config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    options.setdefault("pool_pre_ping", True)
    if make_url(config["SQLALCHEMY_DATABASE_URI"]).get_backend_name() != "sqlite":
        options.setdefault("pool_size", int(config["DB_POOL_SIZE"]))
        options.setdefault("max_overflow", int(config["DB_MAX_OVERFLOW"]))
        options.setdefault("pool_timeout", float(config["DB_POOL_TIMEOUT"]))
        options.setdefault("pool_recycle", int(config["DB_POOL_RECYCLE"]))
    return options


@contextlib.contextmanager
def advisory_lock(engine, key):
    """Hold PostgreSQL's session advisory lock `key` on a connection of its own for the block
    (waiting for whoever holds it); nothing on other databases."""
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if not conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}):
            log.warning("another server holds the lock %s (init or migration): waiting for it", key)
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})


def init_lock(engine):
    return advisory_lock(engine, INIT_LOCK_KEY)


def migrate_lock(engine):
    return advisory_lock(engine, MIGRATE_LOCK_KEY)
