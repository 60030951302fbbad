"""audit rows stay with the jurisdiction that owned the record when they were written

Each row keeps the path of its record's grid at the time (and, for a move, the path the
record left); Leaders read rows by those paths, not by where the grid stands today.
Existing rows get their grid's present path (the best the old rows tell).

Revision ID: 0028_audit_paths
Revises: 0027_login_limit
"""

import pathlib
from runpy import run_path

import sqlalchemy as sa
from alembic import op

revision = "0028_audit_paths"
down_revision = "0027_login_limit"
branch_labels = None
depends_on = None

PATH_TYPE = sa.String(255).with_variant(sa.String(255, collation="C"), "postgresql")


def upgrade():
    op.add_column("audit_log", sa.Column("grid_path", PATH_TYPE, nullable=True))
    op.add_column("audit_log", sa.Column("from_grid_path", PATH_TYPE, nullable=True))
    op.create_index("ix_audit_log_grid_path", "audit_log", ["grid_path"])
    op.create_index("ix_audit_log_from_grid_path", "audit_log", ["from_grid_path"])
    op.execute(
        "UPDATE audit_log SET grid_path = (SELECT grid.path FROM grid WHERE grid.id = audit_log.grid_id) "
        "WHERE grid_id IS NOT NULL"
    )
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_length_triggers(op.get_bind(), "audit_log")


def downgrade():
    op.drop_index("ix_audit_log_from_grid_path", table_name="audit_log")
    op.drop_index("ix_audit_log_grid_path", table_name="audit_log")
    with op.batch_alter_table("audit_log") as batch_op:  # SQLite: the table is rebuilt, its triggers gone
        batch_op.drop_column("from_grid_path")
        batch_op.drop_column("grid_path")
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_length_triggers(op.get_bind(), "audit_log")


def _sqlite_length_triggers(bind, table):
    """0026's length triggers, made again for a table SQLite rebuilt (its triggers went with it)."""
    run_path(str(pathlib.Path(__file__).with_name("0026_text_limits.py")))["sqlite_length_triggers"](bind, table)
