"""every editable record is versioned: representatives, constituencies, quota rules, lookup
lists and the register designer's lists, values and fields get the `version` the others have

Revision ID: 0025_versions
Revises: 0024_registers
"""

import sqlalchemy as sa
from alembic import op

revision = "0025_versions"
down_revision = "0024_registers"
branch_labels = None
depends_on = None

TABLES = (
    "representative",
    "constituency",
    "quota_rule",
    "grid_level",
    "person_kind",
    "appeal_category",
    "appeal_channel",
    "visit_form",
    "visit_target",
    "contact_form",
    "choice_list",
    "choice_value",
    "register_field",
)


def upgrade():
    for table in TABLES:
        op.add_column(table, sa.Column("version", sa.Integer(), nullable=False, server_default="1"))


def downgrade():
    for table in reversed(TABLES):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("version")
