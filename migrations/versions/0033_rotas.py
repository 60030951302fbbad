"""rotas with public notice (rota kinds, rotas, their members and slots with links), the
走访率's per-grid visit tally, and quota periods of a week and a quarter with 平均每月

Revision ID: 0033_rotas
Revises: 0030_petition_flags
"""

import pathlib
from runpy import run_path
from types import SimpleNamespace

import sqlalchemy as sa
from alembic import op

revision = "0033_rotas"
down_revision = "0031_appeal_rollups"
branch_labels = None
depends_on = None

NEW_TABLES = ("rota_kind", "rota", "rota_member", "rota_slot", "rota_slot_appeal", "rota_slot_visit",
              "rota_slot_contact", "visit_grid_tally")  # fmt: skip

# the first day of the week (Monday), quarter, month and year of a visit, per dialect
STARTS = {
    "sqlite": {
        "week": "date(v.visit_date, '-' || ((CAST(strftime('%w', v.visit_date) AS INTEGER) + 6) % 7) || ' days')",
        "quarter": "date(strftime('%Y', v.visit_date) || '-' || printf('%02d', "
        "((CAST(strftime('%m', v.visit_date) AS INTEGER) - 1) / 3) * 3 + 1) || '-01')",
        "month": "date(v.visit_date, 'start of month')",
        "year": "date(v.visit_date, 'start of year')",
    },
    "postgresql": {
        "week": "CAST(date_trunc('week', v.visit_date) AS DATE)",
        "quarter": "CAST(date_trunc('quarter', v.visit_date) AS DATE)",
        "month": "CAST(date_trunc('month', v.visit_date) AS DATE)",
        "year": "CAST(date_trunc('year', v.visit_date) AS DATE)",
    },
}

PERSON_TALLY = """
INSERT INTO visit_tally (period, start, person_id, visits, households)
SELECT '{period}', {start}, vv.person_id, count(v.id), count(DISTINCT v.household_key)
FROM visit v JOIN visit_visitor vv ON vv.visit_id = v.id
WHERE v.deleted_at IS NULL
GROUP BY {start}, vv.person_id
"""

GRID_TALLY = """
INSERT INTO visit_grid_tally (period, start, grid_id, visits, households)
SELECT '{period}', {start}, v.grid_id, count(v.id), count(DISTINCT v.household_key)
FROM visit v
WHERE v.deleted_at IS NULL
GROUP BY {start}, v.grid_id
"""

CITY_RULE = {
    "name": "市级领导民情家访",
    "position_contains": "市委、市长、市人大、市政协",
    "period": "quarter",
    "unit": "visits",
    "minimum": 1,
    "average_per_month": True,
    "note": "设区市市级领导干部平均每月至少一次深入群众进行“民情家访”（按季考核）。",
}


def _text_limits():
    """0026's helpers: SQLite keeps text lengths by triggers, made again for a changed table."""
    return SimpleNamespace(**run_path(str(pathlib.Path(__file__).with_name("0026_text_limits.py"))))


def _stamps():
    return (
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("created_at", sa.DateTime(), nullable=False, server_default=sa.func.current_timestamp()),
        sa.Column("updated_at", sa.DateTime(), nullable=False, server_default=sa.func.current_timestamp()),
    )


def _link(name, column, target):
    op.create_table(
        name,
        sa.Column("slot_id", sa.Integer(), sa.ForeignKey("rota_slot.id", ondelete="CASCADE"), primary_key=True),
        sa.Column(column, sa.Integer(), sa.ForeignKey(f"{target}.id", ondelete="CASCADE"), primary_key=True),
    )
    op.create_index(f"ix_{name}_{column}", name, [column])


def _create_rotas():
    op.create_table(
        "rota_kind",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("code", sa.String(20), nullable=True, unique=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("description", sa.String(200), nullable=True),
        sa.Column("weekdays", sa.String(20), nullable=True),
        sa.Column("hours", sa.String(50), nullable=True),
        sa.Column("minimum_per_month", sa.Integer(), nullable=True),
        sa.Column("collective_per_month", sa.Integer(), nullable=True),
        sa.Column("minimum_per_week", sa.Integer(), nullable=True),
        sa.Column("every_slot", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("sort_order", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
        *_stamps(),
        sa.CheckConstraint("minimum_per_month IS NULL OR minimum_per_month >= 0", name="ck_rota_kind_month"),
        sa.CheckConstraint("collective_per_month IS NULL OR collective_per_month >= 0", name="ck_rota_kind_collective"),
        sa.CheckConstraint("minimum_per_week IS NULL OR minimum_per_week >= 0", name="ck_rota_kind_week"),
    )
    op.create_table(
        "rota",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("grid_id", sa.Integer(), sa.ForeignKey("grid.id"), nullable=False, index=True),
        sa.Column("kind_id", sa.Integer(), sa.ForeignKey("rota_kind.id"), nullable=False, index=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("weekdays", sa.String(20), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("hours", sa.String(50), nullable=True),
        sa.Column("place", sa.String(100), nullable=True),
        sa.Column("duty", sa.String(200), nullable=True),
        sa.Column("rotation", sa.String(500), nullable=False, server_default=""),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
        *_stamps(),
        sa.CheckConstraint("end_date >= start_date", name="ck_rota_period"),
    )
    op.create_table(
        "rota_member",
        sa.Column("rota_id", sa.Integer(), sa.ForeignKey("rota.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("person_id", sa.Integer(), sa.ForeignKey("person.id"), primary_key=True, index=True),
    )
    op.create_table(
        "rota_slot",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("rota_id", sa.Integer(), sa.ForeignKey("rota.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("grid_id", sa.Integer(), sa.ForeignKey("grid.id"), nullable=False, index=True),
        sa.Column("slot_date", sa.Date(), nullable=False),
        sa.Column("hours", sa.String(50), nullable=True),
        sa.Column("person_id", sa.Integer(), sa.ForeignKey("person.id"), nullable=True, index=True),
        sa.Column("phone", sa.String(20), nullable=True),
        sa.Column("duty", sa.String(200), nullable=True),
        sa.Column("collective", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("held", sa.Boolean(), nullable=True),
        sa.Column("outcome", sa.String(1000), nullable=True),
        sa.Column("generated", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("edited", sa.Boolean(), nullable=False, server_default=sa.false()),
        *_stamps(),
        sa.UniqueConstraint("rota_id", "slot_date", name="uq_rota_slot_day"),
    )
    op.create_index("ix_rota_slot_grid_date", "rota_slot", ["grid_id", "slot_date"])
    _link("rota_slot_appeal", "appeal_id", "appeal")
    _link("rota_slot_visit", "visit_id", "visit")
    _link("rota_slot_contact", "contact_id", "contact_record")


def _quota_periods(bind):
    with op.batch_alter_table("quota_rule") as batch:
        batch.add_column(sa.Column("average_per_month", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.drop_constraint("ck_quota_rule_period", type_="check")
        batch.create_check_constraint("ck_quota_rule_period", "period IN ('week', 'month', 'quarter', 'year')")
    with op.batch_alter_table("visit_tally") as batch:
        batch.alter_column("period", type_=sa.String(10), existing_type=sa.String(5), existing_nullable=False)
    op.create_table(
        "visit_grid_tally",
        sa.Column("period", sa.String(10), primary_key=True),
        sa.Column("start", sa.Date(), primary_key=True),
        sa.Column("grid_id", sa.Integer(), sa.ForeignKey("grid.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("visits", sa.Integer(), nullable=False),
        sa.Column("households", sa.Integer(), nullable=False),
    )
    op.create_index("ix_visit_grid_tally_grid_id", "visit_grid_tally", ["grid_id"])
    starts = STARTS.get(bind.dialect.name)
    if starts is None:
        return
    for period in ("week", "quarter"):
        op.execute(PERSON_TALLY.format(period=period, start=starts[period]))
    for period in ("week", "month", "quarter", "year"):
        op.execute(GRID_TALLY.format(period=period, start=starts[period]))
    rules = sa.table(
        "quota_rule",
        *(sa.column(c) for c in ("name", "position_contains", "period", "unit", "minimum", "average_per_month")),
        sa.column("note"), sa.column("sort_order"), sa.column("active"), sa.column("version"),
        sa.column("created_at"), sa.column("updated_at"),
    )  # fmt: skip
    # an existing deployment gets the seed 001 rule once; a new one has it from `init`'s seed
    existing = bind.execute(sa.text("SELECT name FROM quota_rule")).scalars().all()
    if existing and CITY_RULE["name"] not in existing:
        moment = bind.execute(sa.select(sa.func.current_timestamp())).scalar()
        op.bulk_insert(
            rules,
            [{**CITY_RULE, "sort_order": -1, "active": True, "version": 1, "created_at": moment, "updated_at": moment}],
        )


def upgrade():
    bind = op.get_bind()
    _create_rotas()
    _quota_periods(bind)
    if bind.dialect.name == "sqlite":
        helpers = _text_limits()
        for table in ("rota_kind", "rota", "rota_slot", "quota_rule", "visit_tally", "visit_grid_tally"):
            helpers.sqlite_length_triggers(bind, table)


def downgrade():
    bind = op.get_bind()
    op.execute("DELETE FROM visit_tally WHERE period IN ('week', 'quarter')")
    op.execute("DELETE FROM quota_rule WHERE period IN ('week', 'quarter')")
    with op.batch_alter_table("visit_tally") as batch:
        batch.alter_column("period", type_=sa.String(5), existing_type=sa.String(10), existing_nullable=False)
    with op.batch_alter_table("quota_rule") as batch:
        batch.drop_constraint("ck_quota_rule_period", type_="check")
        batch.create_check_constraint("ck_quota_rule_period", "period IN ('month', 'year')")
        batch.drop_column("average_per_month")
    for table in reversed(NEW_TABLES):
        op.drop_table(table)
    if bind.dialect.name == "sqlite":
        helpers = _text_limits()
        for table in ("quota_rule", "visit_tally"):
            helpers.sqlite_length_triggers(bind, table)
