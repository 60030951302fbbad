"""contact_tally: per representative and year, person-times met and records; the summary
cells' reading index

Kept on every write of a contact record by app/services/representatives/tally.py; filled
here from the live records with the same rule (one GROUP BY). ix_appeal_summary_read holds
every column the dashboard and accountability read of appeal_summary, in the order they
group by: an index-only scan, no sort.

Revision ID: 0047_contact_tally
Revises: 0046_appeal_state
"""

import sqlalchemy as sa
from alembic import op

revision = "0047_contact_tally"
down_revision = "0046_appeal_state"
branch_labels = None
depends_on = None

# frozen here (the model's SUMMARY_MEASURES may change in a later revision)
SUMMARY_MEASURES = (
    "n", "closed", "pending", "escalated", "closed_on_time", "evaluated", "satisfied", "basic", "unsatisfied",
    "reported", "handled_locally", "petition_collective", "petition_bypass", "petition_repeat", "petition_warning",
    "found",
)  # fmt: skip


def upgrade():
    op.create_table(
        "contact_tally",
        sa.Column("representative_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["representative_id"], ["representative.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("representative_id", "year"),
    )
    if op.get_bind().dialect.name == "postgresql":
        year = "CAST(EXTRACT(YEAR FROM contact_date) AS INTEGER)"
    else:
        year = "CAST(strftime('%Y', contact_date) AS INTEGER)"
    op.execute(
        f"INSERT INTO contact_tally (representative_id, year, done, records) "
        f"SELECT representative_id, {year}, sum(voter_count), count(*) FROM contact_record "
        f"WHERE deleted_at IS NULL GROUP BY representative_id, {year}"
    )
    op.create_index(
        "ix_appeal_summary_read",
        "appeal_summary",
        ["anchor_grid_id", "month", "category_id", "child_grid_id", "due_date", *SUMMARY_MEASURES],
    )


def downgrade():
    op.drop_index("ix_appeal_summary_read", table_name="appeal_summary")
    op.drop_table("contact_tally")
