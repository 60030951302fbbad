"""report pages: the important opinions not yet reported; appeals handled by a person in a period

The representatives' progress page lists the unreported opinions; without the
partial index a county's database reads every contact record before the cutoff to
find a handful. The accountability table counts, for each responsible person, the
appeals handed to them in the period (as 0021 does for the appeals they filed).

Revision ID: 0023_report_indexes
Revises: 0022_visit_tally
"""

import sqlalchemy as sa
from alembic import op

revision = "0023_report_indexes"
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
    op.create_index("ix_appeal_handler_registered", "appeal", ["handler_person_id", "registered_at"])


def downgrade():
    op.drop_index("ix_appeal_handler_registered", table_name="appeal")
    op.drop_index("ix_contact_record_unreported", table_name="contact_record")
