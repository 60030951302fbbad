"""PostgreSQL: JIT compilation off for this database (`ALTER DATABASE … SET jit = off`)

MinQing's statements are short (a page of 20 rows, sums of roll-up cells); PostgreSQL compiles a
statement to machine code when its estimated cost passes jit_above_cost, and the estimate of a
text search checked on each row (a common phrase, app.services.search `_too_common`) passes it:
366 ms of compiling for an 80 ms scan at city scale. Off as the database's default, so every
connection gets it, PgBouncer's included (a startup option would not pass a transaction pool).
A database user who does not own the database cannot: the log says what the DBA runs, and the
upgrade goes on (SAVEPOINT).

Revision ID: 0050_no_jit
Revises: 0049_sqlite_name_pairs
"""

import logging

import sqlalchemy as sa
from alembic import op

revision = "0050_no_jit"
down_revision = "0049_sqlite_name_pairs"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

SET = "DO $$ BEGIN EXECUTE 'ALTER DATABASE ' || quote_ident(current_database()) || ' SET jit = {}'; END $$"


def _set(value):
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    try:
        with bind.begin_nested():
            bind.exec_driver_sql(SET.format(value))
    except sa.exc.DBAPIError as err:
        log.warning(
            "JIT could not be turned %s for this database (%s): a superuser or the database's owner runs "
            "ALTER DATABASE <name> SET jit = %s;", value, str(err.orig).strip().splitlines()[0], value,
        )  # fmt: skip


def upgrade():
    _set("off")


def downgrade():
    _set("on")
