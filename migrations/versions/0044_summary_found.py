"""summary cells without the channel in their key: 发现 (appeals of the channels
APPEAL_DISCOVERY_CHANNELS names) kept as a count column instead (about a ninth of the rows)

The channel was a key only for the discovery rate. The column is counted here with the
setting in force (the stored override, else config's value); a change of the setting or of a
channel's name recounts it in the same transaction (app/services/rollups.py `recount_found`).
Filled with the same rule as app/services/rollup_sql.py `summary_select` (`rollups check`
compares them); the downgrade gives back 0041's table.

Revision ID: 0044_summary_found
Revises: 0043_open_cells
"""

import json

import sqlalchemy as sa
from alembic import op
from flask import current_app, has_app_context

revision = "0044_summary_found"
down_revision = "0043_open_cells"
branch_labels = None
depends_on = None

KEYS = ("anchor_grid_id", "child_grid_id", "month", "category_id", "due_date")
OLD_KEYS = ("anchor_grid_id", "child_grid_id", "month", "category_id", "channel_id", "due_date")
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


def _found_names(bind):
    """APPEAL_DISCOVERY_CHANNELS in force: the stored override, else the app's (config.py's) value."""
    stored = bind.execute(sa.text("SELECT value FROM setting WHERE key = 'APPEAL_DISCOVERY_CHANNELS'")).scalar()
    if stored is not None:
        return json.loads(stored) if isinstance(stored, str) else stored
    return (current_app.config.get("APPEAL_DISCOVERY_CHANNELS") if has_app_context() else None) or []


def _found(bind):
    names = _found_names(bind)
    ids = (
        bind.execute(sa.text("SELECT id FROM appeal_channel WHERE name IN :names").bindparams(
            sa.bindparam("names", expanding=True)), {"names": list(names)}).scalars().all()
        if names
        else []
    )  # fmt: skip
    return "a.channel_id IN (" + ", ".join(str(int(i)) for i in sorted(ids)) + ")" if ids else "1 = 0"


def _fill(bind, with_channel=False):
    postgresql = bind.dialect.name == "postgresql"
    month = (
        "CAST(date_trunc('month', a.registered_at) AS DATE)"
        if postgresql
        else "date(a.registered_at, 'start of month')"
    )
    no_due = "DATE '1970-01-01'" if postgresql else "'1970-01-01'"
    closed = f"a.status IN {CLOSED}"
    escalated = "COALESCE(a.escalation_count, 0) > 0"
    keys = ("p.anchor_id", "p.child_id", month, "a.category_id", *(("a.channel_id",) if with_channel else ()),
            f"CASE WHEN a.status IN {OPEN} THEN COALESCE(a.due_date, {no_due}) ELSE {no_due} END")  # fmt: skip
    measures = (
        "count(*)", _flag(closed), _flag(f"a.status IN {OPEN}"), _flag(escalated),
        _flag(f"{closed} AND a.closed_on_time"), _flag("COALESCE(a.satisfaction, '') <> ''"),
        _flag("a.satisfaction = 'satisfied'"), _flag("a.satisfaction = 'basic'"), _flag("a.satisfaction = 'unsatisfied'"),
        _flag("a.reported_by_grid"), _flag(f"{closed} AND NOT ({escalated})"), _flag("a.petition_collective"),
        _flag("a.petition_bypass"), _flag("a.petition_repeat"), _flag("a.petition_warning"),
    )  # fmt: skip
    columns = (OLD_KEYS + MEASURES) if with_channel else (KEYS + MEASURES + ("found",))
    if not with_channel:
        measures += (_flag(_found(bind)),)
    listed = ", ".join(keys)
    op.execute(
        f"{PAIRS} INSERT INTO appeal_summary ({', '.join(columns)}) "
        f"SELECT {listed}, {', '.join(measures)} FROM appeal a JOIN pairs p ON p.grid_id = a.origin_grid_id "
        f"WHERE a.deleted_at IS NULL AND a.duplicate_of_id IS NULL GROUP BY {listed}"
    )


def _create(with_channel):
    op.create_table(
        "appeal_summary",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("anchor_grid_id", sa.Integer(), nullable=False),
        sa.Column("child_grid_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        *((sa.Column("channel_id", sa.Integer(), nullable=False),) if with_channel else ()),
        sa.Column("due_date", sa.Date(), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in MEASURES),
        *(() if with_channel else (sa.Column("found", sa.Integer(), nullable=False),)),
        sa.UniqueConstraint(*(OLD_KEYS if with_channel else KEYS), name="uq_appeal_summary_cell"),
    )
    bind = op.get_bind()
    _fill(bind, with_channel)
    if bind.dialect.name == "postgresql":  # without statistics a county's year was summed through an on-disk sort
        op.execute("ANALYZE appeal_summary")


def upgrade():
    op.drop_table("appeal_summary")  # counted again from the appeals: faster than folding the old rows
    _create(with_channel=False)


def downgrade():
    op.drop_table("appeal_summary")
    _create(with_channel=True)
