"""visit tally: visits and households per visitor and calendar period

The quotas read one row per person and period instead of counting a county's
year of visits on every view (app/services/tally.py keeps it on every write).
The table is filled here from the visits already recorded.

Revision ID: 0022_visit_tally
Revises: 0021_accountability_index
"""

import sqlalchemy as sa
from alembic import op

revision = "0022_visit_tally"
down_revision = "0021_accountability_index"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "visit_tally",
        sa.Column("period", sa.String(5), primary_key=True),
        sa.Column("start", sa.Date(), primary_key=True),
        sa.Column("person_id", sa.Integer(), sa.ForeignKey("person.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("visits", sa.Integer(), nullable=False),
        sa.Column("households", sa.Integer(), nullable=False),
    )
    op.create_index("ix_visit_tally_person_id", "visit_tally", ["person_id"])
    if op.get_bind().dialect.name == "postgresql":
        month, year = "date_trunc('month', v.visit_date)::date", "date_trunc('year', v.visit_date)::date"
    else:
        month, year = "date(v.visit_date, 'start of month')", "date(v.visit_date, 'start of year')"
    for period, start in (("month", month), ("year", year)):
        op.execute(
            "INSERT INTO visit_tally (period, start, person_id, visits, households) "
            f"SELECT '{period}', {start}, vv.person_id, count(vv.visit_id), count(DISTINCT v.household_key) "
            "FROM visit_visitor vv JOIN visit v ON v.id = vv.visit_id WHERE v.deleted_at IS NULL "
            f"GROUP BY {start}, vv.person_id"
        )


def downgrade():
    op.drop_index("ix_visit_tally_person_id", table_name="visit_tally")
    op.drop_table("visit_tally")
