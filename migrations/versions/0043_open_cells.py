"""open cells: per grid on the path of the grid each open appeal lives in now, by state, due
date, supervision and an extension awaiting approval (what "needs attention" and the counts
above the appeal lists read)

Kept on every write by app/services/rollups.py (`open_of`, app/models/appeals.py AppealOpen);
filled here from the appeals already recorded with the same rule (app/services/rollup_sql.py
`open_select`; `flask minqing rollups check` compares them).

Revision ID: 0043_open_cells
Revises: 0042_quota_cells
"""

import pathlib
from runpy import run_path
from types import SimpleNamespace

import sqlalchemy as sa
from alembic import op

revision = "0043_open_cells"
down_revision = "0042_quota_cells"
branch_labels = None
depends_on = None

KEYS = ("anchor_grid_id", "status", "due_date", "supervised", "extension")
OPEN = "('registered', 'escalated', 'assigned', 'in_progress')"
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
    postgresql = bind.dialect.name == "postgresql"
    no_due = "DATE '1970-01-01'" if postgresql else "'1970-01-01'"
    false = "FALSE" if postgresql else "0"
    keys = ("p.anchor_id", "a.status", f"COALESCE(a.due_date, {no_due})", f"COALESCE(a.supervised, {false})",
            "(a.extension_until IS NOT NULL)")  # fmt: skip
    listed = ", ".join(keys)
    op.execute(
        f"{PAIRS} INSERT INTO appeal_open ({', '.join(KEYS)}, n) "
        f"SELECT {listed}, count(*) FROM appeal a JOIN pairs p ON p.grid_id = a.grid_id "
        f"WHERE a.deleted_at IS NULL AND a.duplicate_of_id IS NULL AND a.status IN {OPEN} GROUP BY {listed}"
    )


def upgrade():
    op.create_table(
        "appeal_open",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("anchor_grid_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("supervised", sa.Boolean(), nullable=False),
        sa.Column("extension", sa.Boolean(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.UniqueConstraint(*KEYS, name="uq_appeal_open_cell"),
    )
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        _text_limits().sqlite_length_triggers(bind, "appeal_open")
    _fill(bind)
    if bind.dialect.name == "postgresql":  # without statistics the planner guesses the rows of a county's roots
        op.execute("ANALYZE appeal_open")


def downgrade():
    op.drop_table("appeal_open")
