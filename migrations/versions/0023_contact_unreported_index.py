"""representatives: index the important opinions not yet reported

The representatives' progress page lists them; without this partial index a
county's database reads every contact record before the cutoff to find a handful.

Revision ID: 0023_contact_unreported_index
Revises: 0022_visit_tally
"""

import sqlalchemy as sa
from alembic import op

revision = "0023_contact_unreported_index"
down_revision = "0022_visit_tally"
branch_labels = None
depends_on = None

# word for word what the query says, so both planners see the index applies
UNREPORTED = "important IS {true} AND reported_at IS NULL AND deleted_at IS NULL"


def upgrade():
    op.create_index(
        "ix_contact_record_unreported",
        "contact_record",
        ["contact_date"],
        sqlite_where=sa.text(UNREPORTED.format(true="1")),
        postgresql_where=sa.text(UNREPORTED.format(true="true")),
    )


def downgrade():
    op.drop_index("ix_contact_record_unreported", table_name="contact_record")
