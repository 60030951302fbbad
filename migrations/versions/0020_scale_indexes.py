"""scale: partial indices on mostly-empty links; covering indices for list pages

At a county's volume almost every visit follows nothing up and almost every appeal
was raised from no visit: a full index on such a column tells SQLite's planner that
`follow_up_of_id = ?` matches millions of rows, and it scans by date instead (4 s for
one visit's page). Indexing only the filled rows keeps the lookup selective.

Lists find a page of ids first (app.views.base.ScopedInterface.apply_pagination): with
(grid_id, date, id, deleted_at) over the live rows that is an index-only scan, also at page 500
(deleted_at is always empty there; listing it lets SQLite's planner see the index as covering).

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

LIVE = [
    ("ix_appeal_live_grid_registered", "appeal", ["grid_id", "registered_at", "id", "deleted_at"]),
    ("ix_appeal_live_registered", "appeal", ["registered_at", "id", "grid_id", "deleted_at"]),
    ("ix_visit_live_grid_date", "visit", ["grid_id", "visit_date", "id", "deleted_at"]),
    ("ix_visit_live_date", "visit", ["visit_date", "id", "grid_id", "deleted_at"]),
    # the capped count of a filtered list in a jurisdiction, index-only
    ("ix_appeal_live_category_grid", "appeal", ["category_id", "grid_id", "registered_at", "id", "deleted_at"]),
    ("ix_appeal_live_status_grid", "appeal", ["status", "grid_id", "registered_at", "id", "deleted_at"]),
    ("ix_visit_live_form_grid", "visit", ["form_id", "grid_id", "visit_date", "id", "deleted_at"]),
]


def upgrade():
    for table, column in PARTIAL:
        name = f"ix_{table}_{column}"
        condition = sa.text(f"{column} IS NOT NULL")
        op.drop_index(name, table_name=table)
        op.create_index(name, table, [column], sqlite_where=condition, postgresql_where=condition)
    live = sa.text("deleted_at IS NULL")
    for name, table, columns in LIVE:
        op.create_index(name, table, columns, sqlite_where=live, postgresql_where=live)


def downgrade():
    for name, table, _ in LIVE:
        op.drop_index(name, table_name=table)
    for table, column in PARTIAL:
        name = f"ix_{table}_{column}"
        op.drop_index(name, table_name=table)
        op.create_index(name, table, [column])
