"""Monthly partitions of audit_log and appeal_event on PostgreSQL (issue 15).

The two append-only tables that grow fastest and that nothing references by foreign key become
range-partitioned by month on `at`: a partition for every month from the oldest row to
PARTITION_MONTHS_AHEAD months ahead, and a DEFAULT partition so no insert ever fails; every row,
index, default, sequence, foreign key and trigger is kept; the primary key becomes (id, at)
(PostgreSQL wants the partition key in it). The scheduler's `create-partitions` job keeps the
months coming (app/core/partitions.py). `visit` stays plain: photos, contact records and the
visit tally reference it by foreign key.

SQLite: nothing to do (one file, one county). The downgrade goes back to plain tables.
"""

from alembic import op
from flask import current_app, has_app_context

from app.core.clock import now
from app.core.partitions import PARTITIONED, is_partitioned, partition_table, unpartition_table

revision = "0039_partitions"
down_revision = "0037_register_attachments"
branch_labels = None
depends_on = None

MONTHS_AHEAD = 3  # without an app (a bare alembic run): config.py's PARTITION_MONTHS_AHEAD


def _ahead():
    return int(current_app.config.get("PARTITION_MONTHS_AHEAD", MONTHS_AHEAD)) if has_app_context() else MONTHS_AHEAD


def upgrade():
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    for table in PARTITIONED:
        if not is_partitioned(conn, table):
            partition_table(conn, table, now(), _ahead())


def downgrade():
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    for table in PARTITIONED:
        if is_partitioned(conn, table):
            unpartition_table(conn, table)
