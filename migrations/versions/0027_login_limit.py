"""the login limit's counters, in the database every worker shares

Revision ID: 0027_login_limit
Revises: 0026_text_limits
"""

import sqlalchemy as sa
from alembic import op

revision = "0027_login_limit"
down_revision = "0026_text_limits"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "rate_limit_counter",
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_rate_limit_counter_expires_at", "rate_limit_counter", ["expires_at"])
    if op.get_bind().dialect.name == "sqlite":  # the length rule every text column keeps (0026)
        op.execute(
            'CREATE TRIGGER "ck_len_rate_limit_counter_insert" BEFORE INSERT ON "rate_limit_counter" '
            "WHEN length(NEW.\"key\") > 255 BEGIN SELECT RAISE(ABORT, 'minqing: a text is too long for "
            "rate_limit_counter'); END"
        )


def downgrade():
    op.drop_index("ix_rate_limit_counter_expires_at", table_name="rate_limit_counter")
    op.drop_table("rate_limit_counter")
