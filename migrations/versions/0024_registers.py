"""registers (台账) defined in the browser, their choice lists and roll-ups; settings edited in the UI

The entries of each register live in a table of their own (`reg_<code>`), created and
altered by app.services.registers.schema when IT staff save a definition: those tables
are data, not part of this schema (env.py leaves them out of comparisons).

Revision ID: 0024_registers
Revises: 0023_report_indexes
"""

import sqlalchemy as sa
from alembic import op

revision = "0024_registers"
down_revision = "0023_report_indexes"
branch_labels = None
depends_on = None


def _stamps():
    return [sa.Column("created_at", sa.DateTime(), nullable=False), sa.Column("updated_at", sa.DateTime(), nullable=False)]


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        # trigram indexes serve "contains" searches on a register's text fields (a trusted extension);
        # a database user that may not create it does not stop the upgrade (0040 says what to do)
        try:
            with bind.begin_nested():
                bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except sa.exc.DBAPIError:
            pass
    op.create_table(
        "choice_list",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("code", sa.String(30), nullable=False, unique=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("description", sa.String(200), nullable=True),
        *_stamps(),
    )
    op.create_table(
        "choice_value",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("list_id", sa.Integer(), sa.ForeignKey("choice_list.id"), nullable=False, index=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("sort_order", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.UniqueConstraint("list_id", "name", name="uq_choice_value_name"),
    )
    op.create_table(
        "register_def",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("code", sa.String(30), nullable=False, unique=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("menu_group", sa.String(64), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("sort_order", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("date_field", sa.String(30), nullable=True),
        sa.Column("dashboard_card", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
        *_stamps(),
    )
    op.create_table(
        "register_field",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("register_id", sa.Integer(), sa.ForeignKey("register_def.id"), nullable=False, index=True),
        sa.Column("code", sa.String(30), nullable=False),
        sa.Column("label", sa.String(64), nullable=False),
        sa.Column("help_text", sa.String(200), nullable=True),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("required", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("unique_within", sa.String(10), nullable=False, server_default=""),
        sa.Column("min_value", sa.String(30), nullable=True),
        sa.Column("max_value", sa.String(30), nullable=True),
        sa.Column("pattern", sa.String(200), nullable=True),
        sa.Column("pattern_message", sa.String(200), nullable=True),
        sa.Column("default_value", sa.String(200), nullable=True),
        sa.Column("in_list", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("filterable", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("sortable", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("sensitive", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("choice_list_id", sa.Integer(), sa.ForeignKey("choice_list.id"), nullable=True),
        sa.Column("lookup", sa.String(30), nullable=True),
        sa.Column("column", sa.String(40), nullable=False),
        sa.Column("removed_at", sa.DateTime(), nullable=True),
        *_stamps(),
        sa.UniqueConstraint("register_id", "code", name="uq_register_field_code"),
    )
    op.create_table(
        "runtime_generation",
        sa.Column("name", sa.String(30), primary_key=True),
        sa.Column("token", sa.String(32), nullable=False),
    )
    op.create_table(
        "register_rollup",
        sa.Column("register_id", sa.Integer(), primary_key=True),
        sa.Column("grid_id", sa.Integer(), primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("field_id", sa.Integer(), primary_key=True),
        sa.Column("value_id", sa.Integer(), primary_key=True),
        sa.Column("count", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_index("ix_register_rollup_day", "register_rollup", ["register_id", "field_id", "day", "grid_id"])
    # the same counts by calendar month (day = the 1st): a year's summary reads 12 rows a grid, not 365
    op.create_table(
        "register_rollup_month",
        sa.Column("register_id", sa.Integer(), primary_key=True),
        sa.Column("grid_id", sa.Integer(), primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("field_id", sa.Integer(), primary_key=True),
        sa.Column("value_id", sa.Integer(), primary_key=True),
        sa.Column("count", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_index(
        "ix_register_rollup_month", "register_rollup_month", ["register_id", "field_id", "day", "grid_id"]
    )
    op.create_table(
        "setting",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.JSON(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
        *_stamps(),
    )


def downgrade():
    op.drop_table("setting")
    op.drop_index("ix_register_rollup_month", table_name="register_rollup_month")
    op.drop_table("register_rollup_month")
    op.drop_index("ix_register_rollup_day", table_name="register_rollup")
    op.drop_table("register_rollup")
    op.drop_table("runtime_generation")
    op.drop_table("register_field")
    op.drop_table("register_def")
    op.drop_table("choice_value")
    op.drop_table("choice_list")
