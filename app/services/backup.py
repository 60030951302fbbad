"""Backup and restore of the whole database, for IT staff and cron.

SQLite: the online backup API (a consistent copy while the app keeps running).
PostgreSQL: pg_dump / pg_restore in the custom format (must be on PATH, same
major version as the server).
"""

import os
import shutil
import sqlite3
import subprocess

from sqlalchemy.engine import make_url


class BackupError(Exception):
    pass


def _libpq_url(url):
    """postgresql+psycopg://u:p@h/db → postgresql://u:p@h/db (what pg_dump understands)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def backup(engine, path):
    url = make_url(str(engine.url.render_as_string(hide_password=False)))
    os.makedirs(os.path.dirname(os.path.abspath(path)) or ".", exist_ok=True)
    if url.get_backend_name() == "sqlite":
        source = sqlite3.connect(url.database)
        try:
            target = sqlite3.connect(path)
            with target:
                source.backup(target)
            target.close()
        finally:
            source.close()
        return path
    if url.get_backend_name() == "postgresql":
        _run(["pg_dump", "--format=custom", "--no-owner", "--file", path, _libpq_url(url)])
        return path
    raise BackupError(f"backups of {url.get_backend_name()} are not supported")


def restore(engine, path):
    if not os.path.exists(path):
        raise BackupError(f"{path} does not exist")
    url = make_url(str(engine.url.render_as_string(hide_password=False)))
    engine.dispose()  # no pooled connection may hold the old database
    if url.get_backend_name() == "sqlite":
        source = sqlite3.connect(path)
        try:
            target = sqlite3.connect(url.database)
            with target:
                source.backup(target)
            target.close()
        finally:
            source.close()
        return
    if url.get_backend_name() == "postgresql":
        _run(["pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction",
              "--dbname", _libpq_url(url), path])  # fmt: skip
        return
    raise BackupError(f"restoring {url.get_backend_name()} is not supported")


def _run(argv):
    if shutil.which(argv[0]) is None:
        raise BackupError(f"{argv[0]} is not installed (apt-get install postgresql-client)")
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"{argv[0]} failed: {done.stderr.strip()[:500]}")
