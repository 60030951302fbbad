"""appeal roll-ups: the cells the report pages add up instead of counting appeals

One row per combination of what the figures ask about (app/models/appeals.py AppealRollup,
kept on every write by app/services/rollups.py), filled here from the appeals already
recorded with the same rule as `app.services.rollups.cell_of` (the test suite compares them).

Revision ID: 0031_appeal_rollups
Revises: 0030_petition_flags
"""

import pathlib
from runpy import run_path
from types import SimpleNamespace

import sqlalchemy as sa
from alembic import op

revision = "0031_appeal_rollups"
down_revision = "0030_petition_flags"
branch_labels = None
depends_on = None

DIMENSIONS = (
    "origin_grid_id", "grid_id", "day", "category_id", "channel_id", "importance", "status", "duplicate",
    "due_date", "escalated", "closed_on_time", "satisfaction", "reported_by_grid", "supervised", "extension",
    "handler_person_id", "filed_by_id", "petition_collective", "petition_bypass", "petition_repeat",
    "petition_warning",
)  # fmt: skip
RUNNING = (
    "(status IN ('registered', 'escalated', 'assigned', 'in_progress') AND duplicate_of_id IS NULL)"
)


def _text_limits():
    """0026's helpers: SQLite keeps text lengths by triggers, made for a new table too."""
    return SimpleNamespace(**run_path(str(pathlib.Path(__file__).with_name("0026_text_limits.py"))))


def _fill(bind):
    day = "CAST(registered_at AS DATE)" if bind.dialect.name == "postgresql" else "date(registered_at)"
    false = "FALSE" if bind.dialect.name == "postgresql" else "0"
    values = (
        "origin_grid_id", "grid_id", day, "category_id", "channel_id", "importance", "status",
        "(duplicate_of_id IS NOT NULL)",
        f"CASE WHEN {RUNNING} THEN due_date ELSE DATE '1970-01-01' END"
        if bind.dialect.name == "postgresql" else f"CASE WHEN {RUNNING} THEN due_date ELSE '1970-01-01' END",
        "(escalation_count > 0)", f"COALESCE(closed_on_time, {false})", "COALESCE(satisfaction, '')",
        "reported_by_grid", f"(supervised AND {RUNNING})", f"(extension_until IS NOT NULL AND {RUNNING})",
        "COALESCE(handler_person_id, 0)", "COALESCE(filed_by_id, 0)", "petition_collective", "petition_bypass",
        "petition_repeat", "petition_warning",
    )  # fmt: skip
    listed = ", ".join(values)
    op.execute(
        f"INSERT INTO appeal_rollup ({', '.join(DIMENSIONS)}, n) "
        f"SELECT {listed}, count(*) FROM appeal WHERE deleted_at IS NULL GROUP BY {listed}"
    )


def upgrade():
    op.create_table(
        "appeal_rollup",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("origin_grid_id", sa.Integer(), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("importance", sa.String(10), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("duplicate", sa.Boolean(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("escalated", sa.Boolean(), nullable=False),
        sa.Column("closed_on_time", sa.Boolean(), nullable=False),
        sa.Column("satisfaction", sa.String(20), nullable=False),
        sa.Column("reported_by_grid", sa.Boolean(), nullable=False),
        sa.Column("supervised", sa.Boolean(), nullable=False),
        sa.Column("extension", sa.Boolean(), nullable=False),
        sa.Column("handler_person_id", sa.Integer(), nullable=False),
        sa.Column("filed_by_id", sa.Integer(), nullable=False),
        sa.Column("petition_collective", sa.Boolean(), nullable=False),
        sa.Column("petition_bypass", sa.Boolean(), nullable=False),
        sa.Column("petition_repeat", sa.Boolean(), nullable=False),
        sa.Column("petition_warning", sa.Boolean(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.UniqueConstraint(*DIMENSIONS, name="uq_appeal_rollup_cell"),
    )
    op.create_index("ix_appeal_rollup_origin_day", "appeal_rollup", ["origin_grid_id", "day"])
    op.create_index("ix_appeal_rollup_grid_status", "appeal_rollup", ["grid_id", "status"])
    op.create_index("ix_appeal_rollup_handler_day", "appeal_rollup", ["handler_person_id", "day"])
    op.create_index("ix_appeal_rollup_filed_day", "appeal_rollup", ["filed_by_id", "day"])
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        _text_limits().sqlite_length_triggers(bind, "appeal_rollup")
    _fill(bind)


def downgrade():
    for name in ("ix_appeal_rollup_filed_day", "ix_appeal_rollup_handler_day", "ix_appeal_rollup_grid_status",
                 "ix_appeal_rollup_origin_day"):  # fmt: skip
        op.drop_index(name, table_name="appeal_rollup")
    op.drop_table("appeal_rollup")
