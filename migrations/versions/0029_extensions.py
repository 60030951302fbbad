"""extra fields on built-in records: a definition may extend appeals, visits, people, grids
or contact records instead of being a register of its own (its fields live in ext_<table>)

Revision ID: 0029_extensions
Revises: 0028_audit_paths
"""

import pathlib
from runpy import run_path
from types import SimpleNamespace

import sqlalchemy as sa
from alembic import op

revision = "0029_extensions"
down_revision = "0028_audit_paths"
branch_labels = None
depends_on = None


def _text_limits():
    """0026's helpers: SQLite keeps text lengths by triggers, made again for a changed table."""
    return SimpleNamespace(**run_path(str(pathlib.Path(__file__).with_name("0026_text_limits.py"))))


def upgrade():
    op.add_column("register_def", sa.Column("extends", sa.String(30), nullable=True))
    op.create_index("uq_register_def_extends", "register_def", ["extends"], unique=True)
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        _text_limits().sqlite_length_triggers(bind, "register_def")


def downgrade():
    op.drop_index("uq_register_def_extends", table_name="register_def")
    with op.batch_alter_table("register_def") as batch:
        batch.drop_column("extends")
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        _text_limits().sqlite_length_triggers(bind, "register_def")
