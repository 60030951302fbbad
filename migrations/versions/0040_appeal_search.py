"""appeal search served by indexes: the reporter's name, the content and the number

PostgreSQL: GIN trigram indexes (pg_trgm) answer ILIKE '%x%' for terms of 3+ characters; a GIN
index of the name's character pairs (`minqing_bigrams`, plain SQL, no extension) answers the
2-character names. A database user that may not create pg_trgm does not stop the upgrade: the
attempt runs in a SAVEPOINT, the log says what the DBA runs (README), searches scan meanwhile and
`flask minqing init` adds the trigram indexes once the extension is there.
SQLite: an FTS5 table with the trigram tokenizer per column (external content, kept by
triggers), as app.services.search reads them (the same DDL as its `fts_statements`).

Revision ID: 0040_appeal_search
Revises: 0036_attachments
"""

import logging
import sqlite3

import sqlalchemy as sa
from alembic import op

revision = "0040_appeal_search"
down_revision = "0039_partitions"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

COLUMNS = ("reporter_name", "content", "number")
PG_TRGM_MISSING = (
    "pg_trgm could not be created by this database user: appeal search scans the table until a "
    "superuser runs  CREATE EXTENSION IF NOT EXISTS pg_trgm;  in this database, then  flask minqing init"
)
BIGRAMS = """
CREATE OR REPLACE FUNCTION minqing_bigrams(value text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT coalesce(array_agg(DISTINCT lower(substr(value, i, 2))), '{}'::text[])
  FROM generate_series(1, char_length(value) - 1) AS i
$$
"""


def _fts_statements(table, column):
    name = f"{table}__fts_{column}"
    fts, tbl, col = f'"{name}"', f'"{table}"', f'"{column}"'
    return [
        f"CREATE VIRTUAL TABLE {fts} USING fts5({col}, content={tbl}, content_rowid='id', tokenize='trigram')",
        f"INSERT INTO {fts}({fts}) VALUES ('rebuild')",
        f'CREATE TRIGGER "{name}_ai" AFTER INSERT ON {tbl} BEGIN '
        f"INSERT INTO {fts}(rowid, {col}) VALUES (new.id, new.{col}); END",
        f'CREATE TRIGGER "{name}_ad" AFTER DELETE ON {tbl} BEGIN '
        f"INSERT INTO {fts}({fts}, rowid, {col}) VALUES ('delete', old.id, old.{col}); END",
        f'CREATE TRIGGER "{name}_au" AFTER UPDATE OF {col} ON {tbl} BEGIN '
        f"INSERT INTO {fts}({fts}, rowid, {col}) VALUES ('delete', old.id, old.{col}); "
        f"INSERT INTO {fts}(rowid, {col}) VALUES (new.id, new.{col}); END",
    ]


def _sqlite_has_trigram(bind):
    options = {row[0] for row in bind.exec_driver_sql("PRAGMA compile_options")}
    return "ENABLE_FTS5" in options and sqlite3.sqlite_version_info >= (3, 34)


def _create_pg_trgm(bind):
    """True when pg_trgm is (now) there; a refusal rolls back to the savepoint only."""
    if bind.exec_driver_sql("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'").scalar():
        return True
    try:
        with bind.begin_nested():
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        return True
    except sa.exc.DBAPIError as err:
        log.warning("%s (%s)", PG_TRGM_MISSING, str(err.orig).strip().splitlines()[0])
        return False


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(BIGRAMS)
        op.execute("CREATE INDEX ix_appeal_reporter_name_pairs ON appeal USING gin (minqing_bigrams(reporter_name))")
        if _create_pg_trgm(bind):
            for column in COLUMNS:
                op.execute(f"CREATE INDEX ix_appeal_{column}_trgm ON appeal USING gin ({column} gin_trgm_ops)")
    elif bind.dialect.name == "sqlite" and _sqlite_has_trigram(bind):
        for column in COLUMNS:
            for statement in _fts_statements("appeal", column):
                op.execute(statement)


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for column in COLUMNS:
            op.execute(f"DROP INDEX IF EXISTS ix_appeal_{column}_trgm")
        op.execute("DROP INDEX IF EXISTS ix_appeal_reporter_name_pairs")
        op.execute("DROP FUNCTION IF EXISTS minqing_bigrams(text)")
    elif bind.dialect.name == "sqlite":
        for column in COLUMNS:
            name = f"appeal__fts_{column}"
            for suffix in ("ai", "ad", "au"):
                op.execute(f'DROP TRIGGER IF EXISTS "{name}_{suffix}"')
            op.execute(f'DROP TABLE IF EXISTS "{name}"')
