"""照片/附件 fields of registers: an attachment names the field it belongs to (`field_code`),
a register entry is an owner like a visit (`owner_type` = its table, reg_<code>, up to 34
characters), and a register field keeps the kinds of file it takes (`file_kinds`)

Revision ID: 0037_register_attachments
Revises: 0036_attachments
"""

import pathlib
from runpy import run_path
from types import SimpleNamespace

import sqlalchemy as sa
from alembic import op

revision = "0037_register_attachments"
down_revision = "0036_attachments"
branch_labels = None
depends_on = None


def _text_limits():
    """0026's helpers: SQLite keeps text lengths by triggers, made again for the changed tables."""
    return SimpleNamespace(**run_path(str(pathlib.Path(__file__).with_name("0026_text_limits.py"))))


def upgrade():
    with op.batch_alter_table("attachment") as batch:
        batch.alter_column("owner_type", existing_type=sa.String(30), type_=sa.String(40), existing_nullable=False)
        batch.add_column(sa.Column("field_code", sa.String(30), nullable=True))
    op.create_index("ix_attachment_owner_field", "attachment", ["owner_type", "owner_id", "field_code"])
    op.add_column("register_field", sa.Column("file_kinds", sa.String(100), nullable=True))
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        limits = _text_limits()
        limits.sqlite_length_triggers(bind, "attachment")
        limits.sqlite_length_triggers(bind, "register_field")


def downgrade():
    op.drop_index("ix_attachment_owner_field", table_name="attachment")
    with op.batch_alter_table("register_field") as batch:
        batch.drop_column("file_kinds")
    with op.batch_alter_table("attachment") as batch:
        batch.drop_column("field_code")
        batch.alter_column("owner_type", existing_type=sa.String(40), type_=sa.String(30), existing_nullable=False)
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        limits = _text_limits()
        limits.sqlite_length_triggers(bind, "attachment")
        limits.sqlite_length_triggers(bind, "register_field")
