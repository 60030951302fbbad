"""photos and files (照片/附件) on visits, appeals and contact records: one row per file, the
bytes in the attachment store (ATTACHMENT_DIR)

Revision ID: 0036_attachments
Revises: 0030_petition_flags
"""

import pathlib
from runpy import run_path
from types import SimpleNamespace

import sqlalchemy as sa
from alembic import op

revision = "0036_attachments"
down_revision = "0034_assessment"
branch_labels = None
depends_on = None


def _text_limits():
    """0026's helpers: SQLite keeps text lengths by triggers, made for the new table too."""
    return SimpleNamespace(**run_path(str(pathlib.Path(__file__).with_name("0026_text_limits.py"))))


def upgrade():
    op.create_table(
        "attachment",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("owner_type", sa.String(30), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("grid_id", sa.Integer(), sa.ForeignKey("grid.id"), nullable=True),
        sa.Column("original_name", sa.String(200), nullable=False),
        sa.Column("stored_name", sa.String(100), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("has_thumbnail", sa.Boolean(), nullable=False, server_default=sa.text("false")),
        sa.Column("uploaded_by_id", sa.Integer(), sa.ForeignKey("ab_user.id", ondelete="SET NULL"), nullable=True),
        sa.Column("uploaded_by_name", sa.String(100), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(), nullable=True),
        sa.Column("deleted_by_id", sa.Integer(), sa.ForeignKey("ab_user.id", ondelete="SET NULL"), nullable=True),
        sa.UniqueConstraint("stored_name"),
    )
    op.create_index("ix_attachment_owner", "attachment", ["owner_type", "owner_id"])
    op.create_index("ix_attachment_grid_id", "attachment", ["grid_id"])
    op.create_index("ix_attachment_deleted_at", "attachment", ["deleted_at"])
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        _text_limits().sqlite_length_triggers(bind, "attachment")


def downgrade():
    op.drop_table("attachment")
