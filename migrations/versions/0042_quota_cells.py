"""quota cells: the visit quotas' figures per grid on each person's path, rule, period and
capped count (what the dashboard and accountability read); an index to ask "any change of
kind after a day?"

Kept on every write by app/services/quotas/cells.py; filled here from the people and the visit
tally with the same rule (`_counted_selects` there; `flask minqing rollups check` compares them).

Revision ID: 0042_quota_cells
Revises: 0041_appeal_summary
"""

import re

import sqlalchemy as sa
from alembic import op

revision = "0042_quota_cells"
down_revision = "0041_appeal_summary"
branch_labels = None
depends_on = None

PAIRS = """
WITH RECURSIVE pairs(grid_id, anchor_id, child_id) AS (
    SELECT id, id, 0 FROM grid
    UNION ALL
    SELECT p.grid_id, g.parent_id, p.anchor_id FROM pairs p JOIN grid g ON g.id = p.anchor_id
    WHERE g.parent_id IS NOT NULL
)
"""
MONTHS = {"week": 0, "month": 1, "quarter": 3, "year": 12}
INTO = "INSERT INTO quota_cell (anchor_grid_id, rule_id, start, child_grid_id, done, people)"


def _fill(bind):
    rules = bind.execute(
        sa.text(
            "SELECT id, kind_id, position_contains, period, unit, minimum, average_per_month FROM quota_rule "
            "WHERE active = :active"
        ),
        {"active": True},
    ).all()
    for rule in rules:
        where, params = ["x.active = :active"], {"active": True, "period": rule.period, "assessed": "1970-01-01"}
        if rule.kind_id is not None:
            where.append(f"x.kind_id = {int(rule.kind_id)}")
        words = [w for w in re.split(r"[\s,，、;；/|]+", rule.position_contains or "") if w]
        if words:
            likes = []
            for n, word in enumerate(words):
                likes.append(f"COALESCE(x.position, '') LIKE :w{n} ESCAPE '/'")
                params[f"w{n}"] = "%" + word.replace("/", "//").replace("%", "/%").replace("_", "/_") + "%"
            where.append("(" + " OR ".join(likes) + ")")
        condition = " AND ".join(where)
        months = MONTHS[rule.period]
        cap = int(rule.minimum) * (months if rule.average_per_month and months >= 3 else 1)
        count = "t.households" if rule.unit == "households" else "t.visits"
        capped = f"CASE WHEN {count} >= {cap} THEN {cap} ELSE {count} END"
        head = f"{INTO} {PAIRS} SELECT p.anchor_id, {int(rule.id)}, "
        assessed = "CAST(:assessed AS DATE)" if bind.dialect.name == "postgresql" else ":assessed"
        bind.execute(
            sa.text(
                f"{head}{assessed}, p.child_id, 0, count(*) FROM person x JOIN pairs p ON p.grid_id = x.grid_id "
                f"WHERE {condition} GROUP BY p.anchor_id, p.child_id"
            ),
            params,
        )
        bind.execute(
            sa.text(
                f"{head}t.start, p.child_id, {capped}, count(*) FROM person x JOIN pairs p ON p.grid_id = x.grid_id "
                f"JOIN visit_tally t ON t.person_id = x.id AND t.period = :period "
                f"WHERE {condition} AND {count} > 0 GROUP BY p.anchor_id, t.start, p.child_id, {capped}"
            ),
            params,
        )


def upgrade():
    op.create_table(
        "quota_cell",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("anchor_grid_id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("child_grid_id", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("people", sa.Integer(), nullable=False),
        sa.UniqueConstraint("anchor_grid_id", "rule_id", "start", "child_grid_id", "done", name="uq_quota_cell"),
    )
    op.create_index("ix_quota_cell_rule_id", "quota_cell", ["rule_id"])
    op.create_index("ix_person_kind_change_changed_on", "person_kind_change", ["changed_on"])
    bind = op.get_bind()
    _fill(bind)
    if bind.dialect.name == "postgresql":
        op.execute("ANALYZE quota_cell")


def downgrade():
    op.drop_index("ix_person_kind_change_changed_on", table_name="person_kind_change")
    op.drop_index("ix_quota_cell_rule_id", table_name="quota_cell")
    op.drop_table("quota_cell")
