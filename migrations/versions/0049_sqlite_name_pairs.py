"""SQLite: the reporter's name's character pairs beside the appeal table, so a 2-character name
search (a surname and a given name, the common case) reads an index instead of every appeal

`appeal__pairs_reporter_name` (pair, row_id), WITHOUT ROWID, primary key (pair, row_id): each distinct
pair of the name in lower case (as LIKE folds it) with the appeal's id, filled from the rows here and
kept by three triggers (the same DDL as app.services.search `pairs_statements`; a test compares them).
Skipped where this SQLite has no JSON functions (the triggers need json_each): searches scan, as before.
PostgreSQL has its own (migration 0048). About 8 s per million appeals on a busy 2-core machine.

Revision ID: 0049_sqlite_name_pairs
Revises: 0048_name_keys
"""

import sqlalchemy as sa
from alembic import op

revision = "0049_sqlite_name_pairs"
down_revision = "0048_name_keys"
branch_labels = None
depends_on = None

NAME = "appeal__pairs_reporter_name"
LONGEST = 50  # appeal.reporter_name is a String(50)
POSITIONS = "'[" + ",".join(str(i) for i in range(1, LONGEST)) + "]'"


def _pairs_of(row):
    return (
        f'SELECT DISTINCT lower(substr({row}."reporter_name", value, 2)), {row}.id FROM json_each({POSITIONS}) '
        f'WHERE value < length({row}."reporter_name")'
    )


def _statements():
    pairs = f'"{NAME}"'
    return [
        f"CREATE TABLE {pairs} (pair TEXT NOT NULL, row_id INTEGER NOT NULL, PRIMARY KEY (pair, row_id)) WITHOUT ROWID",
        f"INSERT OR IGNORE INTO {pairs}(pair, row_id) "
        f"WITH RECURSIVE n(value) AS (SELECT 1 UNION ALL SELECT value + 1 FROM n WHERE value < {LONGEST - 1}) "
        f'SELECT lower(substr(t."reporter_name", n.value, 2)), t.id FROM "appeal" AS t '
        f'JOIN n ON n.value < length(t."reporter_name")',
        f'CREATE TRIGGER "{NAME}_ai" AFTER INSERT ON "appeal" BEGIN '
        f"INSERT OR IGNORE INTO {pairs}(pair, row_id) {_pairs_of('new')}; END",
        f'CREATE TRIGGER "{NAME}_ad" AFTER DELETE ON "appeal" BEGIN '
        f"DELETE FROM {pairs} WHERE (pair, row_id) IN ({_pairs_of('old')}); END",
        f'CREATE TRIGGER "{NAME}_au" AFTER UPDATE OF "reporter_name" ON "appeal" BEGIN '
        f"DELETE FROM {pairs} WHERE (pair, row_id) IN ({_pairs_of('old')}); "
        f"INSERT OR IGNORE INTO {pairs}(pair, row_id) {_pairs_of('new')}; END",
    ]


def _has_json(bind):
    try:
        bind.exec_driver_sql("SELECT count(*) FROM json_each('[1]')").scalar()
    except sa.exc.DBAPIError:
        return False
    return True


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name != "sqlite" or not _has_json(bind):
        return
    for statement in _statements():
        op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name != "sqlite":
        return
    for suffix in ("ai", "ad", "au"):
        op.execute(f'DROP TRIGGER IF EXISTS "{NAME}_{suffix}"')
    op.execute(f'DROP TABLE IF EXISTS "{NAME}"')
