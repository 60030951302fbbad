"""petition flags on appeals (集体访 with its number of people, 越级访, 重复访, 苗头性) and
whether the grid's own people put an appeal on the platform (上报, the reporting rate)

Revision ID: 0030_petition_flags
Revises: 0029_extensions
"""

import sqlalchemy as sa
from alembic import op

revision = "0030_petition_flags"
down_revision = "0029_extensions"
branch_labels = None
depends_on = None

FLAGS = ("petition_collective", "petition_bypass", "petition_repeat", "petition_warning", "reported_by_grid")

# an appeal registered before this migration was put on the platform by its grid when its
# 填表人's person belongs to the grid where it was registered or below it (paths are prefixes)
BACKFILL = """
UPDATE appeal SET reported_by_grid = TRUE WHERE EXISTS (
    SELECT 1 FROM person p
    JOIN grid fg ON fg.id = p.grid_id
    JOIN grid og ON og.id = appeal.origin_grid_id
    WHERE p.user_id = appeal.filed_by_id AND substr(fg.path, 1, length(og.path)) = og.path
)
"""


def upgrade():
    for name in FLAGS:
        op.add_column("appeal", sa.Column(name, sa.Boolean(), nullable=False, server_default=sa.text("false")))
    op.add_column("appeal", sa.Column("petition_people", sa.Integer(), nullable=True))
    op.execute(BACKFILL)


def downgrade():
    with op.batch_alter_table("appeal") as batch:
        batch.drop_column("petition_people")
        for name in reversed(FLAGS):
            batch.drop_column(name)
