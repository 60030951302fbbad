"""appeal summary cells: per grid on the origin's path, child, month, category and channel,
with the figures' counts as columns (what the dashboard and accountability read)

Kept on every write by app/services/rollups.py (`summary_of`, app/models/appeals.py
AppealSummary); filled here from the appeals already recorded with the same rule
(app/services/rollup_sql.py `summary_select`; `flask minqing rollups check` compares them).

Revision ID: 0041_appeal_summary
Revises: 0036_attachments
"""

import sqlalchemy as sa
from alembic import op

revision = "0041_appeal_summary"
down_revision = "0040_appeal_search"
branch_labels = None
depends_on = None

KEYS = ("anchor_grid_id", "child_grid_id", "month", "category_id", "channel_id", "due_date")
MEASURES = (
    "n", "closed", "pending", "escalated", "closed_on_time", "evaluated", "satisfied", "basic", "unsatisfied",
    "reported", "handled_locally", "petition_collective", "petition_bypass", "petition_repeat", "petition_warning",
)  # fmt: skip
OPEN = "('registered', 'escalated', 'assigned', 'in_progress')"
CLOSED = "('answered', 'evaluated', 'archived')"
PAIRS = """
WITH RECURSIVE pairs(grid_id, anchor_id, child_id) AS (
    SELECT id, id, 0 FROM grid
    UNION ALL
    SELECT p.grid_id, g.parent_id, p.anchor_id FROM pairs p JOIN grid g ON g.id = p.anchor_id
    WHERE g.parent_id IS NOT NULL
)
"""


def _flag(condition):
    return f"sum(CASE WHEN {condition} THEN 1 ELSE 0 END)"


def _fill(bind):
    postgresql = bind.dialect.name == "postgresql"
    month = (
        "CAST(date_trunc('month', a.registered_at) AS DATE)"
        if postgresql
        else "date(a.registered_at, 'start of month')"
    )
    no_due = "DATE '1970-01-01'" if postgresql else "'1970-01-01'"
    closed = f"a.status IN {CLOSED}"
    escalated = "COALESCE(a.escalation_count, 0) > 0"
    keys = ("p.anchor_id", "p.child_id", month, "a.category_id", "a.channel_id",
            f"CASE WHEN a.status IN {OPEN} THEN COALESCE(a.due_date, {no_due}) ELSE {no_due} END")  # fmt: skip
    measures = (
        "count(*)", _flag(closed), _flag(f"a.status IN {OPEN}"), _flag(escalated),
        _flag(f"{closed} AND a.closed_on_time"), _flag("COALESCE(a.satisfaction, '') <> ''"),
        _flag("a.satisfaction = 'satisfied'"), _flag("a.satisfaction = 'basic'"), _flag("a.satisfaction = 'unsatisfied'"),
        _flag("a.reported_by_grid"), _flag(f"{closed} AND NOT ({escalated})"), _flag("a.petition_collective"),
        _flag("a.petition_bypass"), _flag("a.petition_repeat"), _flag("a.petition_warning"),
    )  # fmt: skip
    listed = ", ".join(keys)
    op.execute(
        f"{PAIRS} INSERT INTO appeal_summary ({', '.join(KEYS + MEASURES)}) "
        f"SELECT {listed}, {', '.join(measures)} FROM appeal a JOIN pairs p ON p.grid_id = a.origin_grid_id "
        f"WHERE a.deleted_at IS NULL AND a.duplicate_of_id IS NULL GROUP BY {listed}"
    )


def upgrade():
    op.create_table(
        "appeal_summary",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("anchor_grid_id", sa.Integer(), nullable=False),
        sa.Column("child_grid_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in MEASURES),
        sa.UniqueConstraint(*KEYS, name="uq_appeal_summary_cell"),
    )
    bind = op.get_bind()
    _fill(bind)
    if bind.dialect.name == "postgresql":  # without statistics a county's year was summed through an on-disk sort
        op.execute("ANALYZE appeal_summary")


def downgrade():
    op.drop_table("appeal_summary")
