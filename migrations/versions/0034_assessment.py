"""百分制考核: schemes of scored items, rounds (a jurisdiction and a period), the assessor's
inputs (manual points, 群众评价 votes) and the stored results with the points behind them

Revision ID: 0034_assessment
Revises: 0030_petition_flags
"""

import pathlib
from runpy import run_path
from types import SimpleNamespace

import sqlalchemy as sa
from alembic import op

revision = "0034_assessment"
down_revision = "0033_rotas"
branch_labels = None
depends_on = None

TABLES = (
    "assessment_scheme",
    "assessment_item",
    "assessment_round",
    "assessment_input",
    "assessment_score",
    "assessment_entry",
)


def _text_limits():
    """0026's helpers: SQLite keeps text lengths by triggers, made for each new table."""
    return SimpleNamespace(**run_path(str(pathlib.Path(__file__).with_name("0026_text_limits.py"))))


def _stamps():
    return [
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    ]


def upgrade():
    op.create_table(
        "assessment_scheme",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("note", sa.String(500), nullable=True),
        sa.Column("sort_order", sa.Integer(), nullable=False, server_default="0"),
        *_stamps(),
    )
    op.create_table(
        "assessment_item",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("scheme_id", sa.Integer(), sa.ForeignKey("assessment_scheme.id"), nullable=False, index=True),
        sa.Column("section", sa.String(50), nullable=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("points", sa.Numeric(6, 2), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False, server_default="manual"),
        sa.Column("subject", sa.String(10), nullable=False, server_default="team"),
        sa.Column("source", sa.String(30), nullable=True),
        sa.Column("full_at", sa.Numeric(6, 2), nullable=True),
        sa.Column("zero_at", sa.Numeric(6, 2), nullable=True),
        sa.Column("score_satisfied", sa.Numeric(5, 2), nullable=True),
        sa.Column("score_basic", sa.Numeric(5, 2), nullable=True),
        sa.Column("score_unsatisfied", sa.Numeric(5, 2), nullable=True),
        sa.Column("description", sa.String(500), nullable=True),
        sa.Column("sort_order", sa.Integer(), nullable=False, server_default="0"),
        *_stamps(),
        sa.CheckConstraint("kind IN ('auto', 'manual', 'votes')", name="ck_assessment_item_kind"),
        sa.CheckConstraint("subject IN ('team', 'member')", name="ck_assessment_item_subject"),
    )
    op.create_table(
        "assessment_round",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("scheme_id", sa.Integer(), sa.ForeignKey("assessment_scheme.id"), nullable=False, index=True),
        sa.Column("grid_id", sa.Integer(), sa.ForeignKey("grid.id"), nullable=False, index=True),
        sa.Column("team_level_id", sa.Integer(), sa.ForeignKey("grid_level.id"), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(4), nullable=False),
        sa.Column("status", sa.String(10), nullable=False, server_default="draft"),
        sa.Column("computed_at", sa.DateTime(), nullable=True),
        sa.Column("published_at", sa.DateTime(), nullable=True),
        sa.Column("published_by_id", sa.Integer(), sa.ForeignKey("ab_user.id"), nullable=True),
        sa.Column("note", sa.String(500), nullable=True),
        *_stamps(),
        sa.CheckConstraint("status IN ('draft', 'computed', 'published')", name="ck_assessment_round_status"),
    )
    op.create_index("ix_assessment_round_period", "assessment_round", ["year", "period"])
    op.create_table(
        "assessment_input",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("round_id", sa.Integer(), sa.ForeignKey("assessment_round.id"), nullable=False, index=True),
        sa.Column("item_id", sa.Integer(), sa.ForeignKey("assessment_item.id"), nullable=False, index=True),
        sa.Column("grid_id", sa.Integer(), sa.ForeignKey("grid.id"), nullable=False, index=True),
        sa.Column("person_id", sa.Integer(), sa.ForeignKey("person.id"), nullable=True, index=True),
        sa.Column("points", sa.Numeric(6, 2), nullable=True),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("votes_satisfied", sa.Integer(), nullable=True),
        sa.Column("votes_basic", sa.Integer(), nullable=True),
        sa.Column("votes_unsatisfied", sa.Integer(), nullable=True),
        *_stamps(),
        sa.UniqueConstraint("round_id", "item_id", "grid_id", "person_id", name="uq_assessment_input"),
    )
    op.create_table(
        "assessment_score",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "round_id",
            sa.Integer(),
            sa.ForeignKey("assessment_round.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("subject", sa.String(10), nullable=False),
        sa.Column("grid_id", sa.Integer(), sa.ForeignKey("grid.id"), nullable=False, index=True),
        sa.Column("person_id", sa.Integer(), sa.ForeignKey("person.id"), nullable=True, index=True),
        sa.Column("unit_id", sa.Integer(), sa.ForeignKey("grid.id"), nullable=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("rank", sa.Integer(), nullable=True),
        sa.Column("unscored", sa.Integer(), nullable=False, server_default="0"),
        sa.CheckConstraint("subject IN ('person', 'team', 'unit')", name="ck_assessment_score_subject"),
    )
    op.create_index("ix_assessment_score_rank", "assessment_score", ["round_id", "subject", "rank"])
    op.create_table(
        "assessment_entry",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "score_id",
            sa.Integer(),
            sa.ForeignKey("assessment_score.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("item_id", sa.Integer(), sa.ForeignKey("assessment_item.id"), nullable=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("max_points", sa.Float(), nullable=False),
        sa.Column("figure", sa.Float(), nullable=True),
        sa.Column("points", sa.Float(), nullable=True),
        sa.Column("detail", sa.String(500), nullable=True),
        sa.Column("sort_order", sa.Integer(), nullable=False, server_default="0"),
    )
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        helpers = _text_limits()
        for table in TABLES:
            helpers.sqlite_length_triggers(bind, table)


def downgrade():
    for table in reversed(TABLES):
        op.drop_table(table)
