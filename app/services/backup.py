"""Backup and restore of the whole database, for IT staff and cron.

SQLite: the online backup API (a consistent copy while the app keeps running).
PostgreSQL: pg_dump in the custom format; a restore replays it with psql in ONE transaction
that first drops every table of the schema, so the database ends up exactly as the backup
(no table a newer version added survives an older backup) or, if anything fails, untouched.
pg_dump, pg_restore and psql must be on PATH (postgresql-client, the server's major version).
The password never appears on a command line (visible in `ps`): the clients get the
connection through the libpq environment (PGHOST, PGUSER, PGPASSWORD, ...).

Every restore first reads the schema version (Alembic revision) inside the file: a file that
is no backup of ours is refused with a message, so is a backup of a version this code does
not know (a newer MinQing); an older one is restored and then migrated by the caller.
"""

import os
import shutil
import sqlite3
import subprocess

from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url


class BackupError(Exception):
    pass


def _url(engine_or_url):
    url = getattr(engine_or_url, "url", engine_or_url)
    return make_url(url.render_as_string(hide_password=False) if hasattr(url, "render_as_string") else str(url))


def libpq_env(url):
    """The environment the PostgreSQL clients read the connection from (nothing on argv)."""
    env = dict(os.environ)
    for key, value in (
        ("PGHOST", url.host),
        ("PGPORT", url.port),
        ("PGUSER", url.username),
        ("PGPASSWORD", url.password),
        ("PGDATABASE", url.database),
        ("PGSSLMODE", url.query.get("sslmode")),
    ):
        if value not in (None, ""):
            env[key] = str(value)
    return env


def backup(engine, path):
    url = _url(engine)
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
        _run(["pg_dump", "--format=custom", "--no-owner", "--file", path], libpq_env(url))
        return path
    raise BackupError(f"backups of {url.get_backend_name()} are not supported")


def revision_of(engine, path):
    """The schema version (Alembic revision) a backup file holds; BackupError if it is none of ours."""
    if not os.path.exists(path):
        raise BackupError(f"{path} does not exist")
    url = _url(engine)
    if url.get_backend_name() == "sqlite":
        return _sqlite_revision(path)
    if url.get_backend_name() == "postgresql":
        return _pg_revision(path, libpq_env(url))
    raise BackupError(f"restoring {url.get_backend_name()} is not supported")


def _sqlite_revision(path):
    try:
        source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = source.execute("SELECT version_num FROM alembic_version").fetchall()
        finally:
            source.close()
    except sqlite3.DatabaseError as err:
        raise BackupError(
            f"{path} is not a MinQing backup (not a SQLite database with a schema version: {err})"
        ) from None
    if len(rows) != 1:
        raise BackupError(f"{path} is not a MinQing backup (it holds no schema version)")
    return rows[0][0]


def _pg_revision(path, env):
    listing = _run(["pg_restore", "--list", path], env, what=f"{path} is not a MinQing backup (pg_restore --list)")
    if "TABLE DATA public alembic_version" not in listing:
        raise BackupError(f"{path} is not a MinQing backup (it holds no schema version)")
    data = _run(["pg_restore", "--data-only", "--table=alembic_version", "--file=-", path], env)
    lines = data.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.startswith("COPY ") and "alembic_version" in line)
    except StopIteration:
        raise BackupError(f"{path} is not a MinQing backup (it holds no schema version)") from None
    versions = []
    for line in lines[start + 1 :]:
        if line == "\\.":
            break
        versions.append(line.strip())
    if len(versions) != 1:
        raise BackupError(f"{path} is not a MinQing backup (it holds no schema version)")
    return versions[0]


def check_revision(revision, head, known):
    """Refuse a backup whose schema this code does not know; True when it must be migrated."""
    if revision == head:
        return False
    if revision in known:
        return True
    raise BackupError(
        f"This backup is of schema version {revision}, which this MinQing (schema {head}) does not know: "
        "it was made by a newer version. Restore it with the version that made it. "
        f"备份的数据结构版本为 {revision}，本版本（{head}）无法识别，请用生成该备份的版本恢复。"
    )


def restore(engine, path):
    """Replace the database with the backup at `path` (its revision already checked)."""
    if not os.path.exists(path):
        raise BackupError(f"{path} does not exist")
    url = _url(engine)
    if url.get_backend_name() == "sqlite":
        engine.dispose()  # no pooled connection may hold the old database
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
        prelude = _pg_drop_everything(engine)
        engine.dispose()
        _pg_replace(path, prelude, libpq_env(url))
        return
    raise BackupError(f"restoring {url.get_backend_name()} is not supported")


FUNCTIONS = text(
    "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
    "WHERE n.nspname = 'public' AND p.prokind = 'f' "
    "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')"
)


def _pg_drop_everything(engine):
    """SQL dropping what the schema holds now (tables with their sequences, then our functions)."""
    tables = inspect(engine).get_table_names()
    with engine.connect() as conn:
        functions = conn.execute(FUNCTIONS).scalars().all()
    statements = []
    if tables:
        names = ", ".join('public."' + name.replace('"', '""') + '"' for name in tables)
        statements.append(f"DROP TABLE IF EXISTS {names} CASCADE;")
    statements += [f"DROP FUNCTION IF EXISTS {signature} CASCADE;" for signature in functions]
    return "\n".join(statements) + "\n"


def _pg_replace(path, prelude, env):
    """pg_restore's SQL piped into one psql transaction that drops everything present first."""
    for tool in ("pg_restore", "psql"):
        if shutil.which(tool) is None:
            raise BackupError(f"{tool} is not installed (apt-get install postgresql-client)")
    dump = subprocess.Popen(
        ["pg_restore", "--no-owner", "--no-privileges", "--file=-", path],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    replay = subprocess.Popen(
        ["psql", "--no-psqlrc", "--quiet", "--single-transaction", "--set=ON_ERROR_STOP=1", "--file=-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        replay.stdin.write(prelude.encode())
        shutil.copyfileobj(dump.stdout, replay.stdin)
    except BrokenPipeError:
        pass  # psql stopped on an error: reported below
    finally:
        replay.stdin.close()
    dump_err = dump.stderr.read().decode(errors="replace")
    dump.wait()
    replay_err = replay.stderr.read().decode(errors="replace")
    replay.wait()
    if dump.returncode != 0:
        raise BackupError(f"pg_restore failed (nothing was changed): {dump_err.strip()[:500]}")
    if replay.returncode != 0:
        raise BackupError(f"psql failed (nothing was changed): {replay_err.strip()[:500]}")


def _run(argv, env, what=None):
    if shutil.which(argv[0]) is None:
        raise BackupError(f"{argv[0]} is not installed (apt-get install postgresql-client)")
    done = subprocess.run(argv, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise BackupError(f"{what or argv[0] + ' failed'}: {done.stderr.strip()[:500]}")
    return done.stdout
