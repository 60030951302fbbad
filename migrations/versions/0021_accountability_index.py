"""accountability: appeals filed by a person in a period

The accountability table (定责到人) counts, for each responsible person, the appeals
they registered in the period; without this index a county's database reads a whole
year of appeals to find one clerk's.

Revision ID: 0021_accountability_index
Revises: 0020_scale_indexes
"""

from alembic import op

revision = "0021_accountability_index"
down_revision = "0020_scale_indexes"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_appeal_filed_by_registered", "appeal", ["filed_by_id", "registered_at"])


def downgrade():
    op.drop_index("ix_appeal_filed_by_registered", table_name="appeal")
