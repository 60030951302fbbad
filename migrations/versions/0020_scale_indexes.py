"""scale: partial indices on mostly-empty links (follow-up of, raised from, duplicate of)

At a county's volume almost every visit follows nothing up and almost every appeal
was raised from no visit: a full index on such a column tells SQLite's planner that
`follow_up_of_id = ?` matches millions of rows, and it scans by date instead (4 s for
one visit's page). Indexing only the filled rows keeps the lookup selective.

Revision ID: 0020_scale_indexes
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0020_scale_indexes"
down_revision = "0011"
branch_labels = None
depends_on = None

PARTIAL = [
    ("visit", "follow_up_of_id"),
    ("appeal", "visit_id"),
    ("appeal", "contact_record_id"),
    ("appeal", "duplicate_of_id"),
]


def upgrade():
    for table, column in PARTIAL:
        name = f"ix_{table}_{column}"
        condition = sa.text(f"{column} IS NOT NULL")
        op.drop_index(name, table_name=table)
        op.create_index(name, table, [column], sqlite_where=condition, postgresql_where=condition)


def downgrade():
    for table, column in PARTIAL:
        name = f"ix_{table}_{column}"
        op.drop_index(name, table_name=table)
        op.create_index(name, table, [column])
