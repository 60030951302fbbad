"""state cells: per grid on the path of the grid each live appeal lives in now, by state
(duplicates included): what the per-state counts above the appeal lists read

Kept on every write by app/services/rollups.py (`state_of`, app/models/appeals.py AppealState);
filled here from the appeals already recorded with the same rule (app/services/rollup_sql.py
`state_select`; `flask minqing rollups check` compares them).

Revision ID: 0046_appeal_state
Revises: 0045_follow_up_open
"""

import pathlib
from runpy import run_path
from types import SimpleNamespace

import sqlalchemy as sa
from alembic import op

revision = "0046_appeal_state"
down_revision = "0045_follow_up_open"
branch_labels = None
depends_on = None

KEYS = ("anchor_grid_id", "status")
PAIRS = """
WITH RECURSIVE pairs(grid_id, anchor_id) AS (
    SELECT id, id FROM grid
    UNION ALL
    SELECT p.grid_id, g.parent_id FROM pairs p JOIN grid g ON g.id = p.anchor_id
    WHERE g.parent_id IS NOT NULL
)
"""


def _text_limits():
    """0026's helpers: SQLite keeps text lengths by triggers, made for a new table too."""
    return SimpleNamespace(**run_path(str(pathlib.Path(__file__).with_name("0026_text_limits.py"))))


def _fill(bind):
    op.execute(
        f"{PAIRS} INSERT INTO appeal_state ({', '.join(KEYS)}, n) "
        "SELECT p.anchor_id, a.status, count(*) FROM appeal a JOIN pairs p ON p.grid_id = a.grid_id "
        "WHERE a.deleted_at IS NULL GROUP BY p.anchor_id, a.status"
    )


def upgrade():
    op.create_table(
        "appeal_state",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("anchor_grid_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.UniqueConstraint(*KEYS, name="uq_appeal_state_cell"),
    )
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        _text_limits().sqlite_length_triggers(bind, "appeal_state")
    _fill(bind)
    if bind.dialect.name == "postgresql":  # without statistics the planner guesses the rows of a county's roots
        op.execute("ANALYZE appeal_state")


def downgrade():
    op.drop_table("appeal_state")
