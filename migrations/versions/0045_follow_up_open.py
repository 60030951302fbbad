"""visit.follow_up_open: the planned follow-up date while no live visit has made it

Kept on every write of a visit by app/services/follow_ups.py; filled here from the rows with
the same rule, indexed only where set (the home page's and the follow-up list's counts).

Revision ID: 0045_follow_up_open
Revises: 0044_summary_found
"""

import sqlalchemy as sa
from alembic import op

revision = "0045_follow_up_open"
down_revision = "0044_summary_found"
branch_labels = None
depends_on = None

FILL = """
UPDATE visit SET follow_up_open = follow_up_date
WHERE follow_up_date IS NOT NULL AND deleted_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM visit later WHERE later.follow_up_of_id = visit.id AND later.deleted_at IS NULL)
"""


def upgrade():
    op.add_column("visit", sa.Column("follow_up_open", sa.Date(), nullable=True))
    op.execute(FILL)
    op.create_index(
        "ix_visit_follow_up_open",
        "visit",
        ["grid_id", "follow_up_open", "deleted_at"],  # index-only: the scope filters all three
        postgresql_where=sa.text("follow_up_open IS NOT NULL"),
        sqlite_where=sa.text("follow_up_open IS NOT NULL"),
    )


def downgrade():
    op.drop_index("ix_visit_follow_up_open", table_name="visit")
    with op.batch_alter_table("visit") as batch_op:
        batch_op.drop_column("follow_up_open")
