"""Structure changes and cell writers take turns on PostgreSQL (app/services/cell_locks.py).

Every flush that changes kept cells by a difference (appeals, visits, people) holds the shared
transaction lock; a grid move, a quota rule change or a channel change holds it exclusively.
Seen from a second connection: while a writer is in flight a move cannot start, and while a
move is in flight no writer can."""

import pytest
from sqlalchemy import create_engine, text

from app.extensions import db
from app.models.lookups import AppealChannel
from app.models.visits import QuotaRule
from app.services import cell_locks
from tests.factories import make_appeal, make_person, make_visit, tree


def _other_may(mode):
    """Whether another connection could take the lock in `mode` now (it lets go at once)."""
    engine = create_engine(db.engine.url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            function = "pg_try_advisory_xact_lock" if mode == "exclusive" else "pg_try_advisory_xact_lock_shared"
            return conn.execute(text(f"SELECT {function}(:k)"), {"k": cell_locks.KEY}).scalar()
    finally:
        engine.dispose()


def test_a_flush_is_structural_only_for_moves_rules_and_channels(app):
    grids = tree()
    make_appeal(grids["a1"])
    grids["a1"].name = "甲一村（改名）"
    assert not cell_locks.structural(db.session)
    db.session.flush()
    grids["a1"].parent = grids["tb"]
    assert cell_locks.structural(db.session)
    db.session.rollback()
    db.session.add(QuotaRule(name="每月1次", period="month", unit="visits", minimum=1, sort_order=90, active=True))
    assert cell_locks.structural(db.session)
    db.session.rollback()
    channel = db.session.query(AppealChannel).first()
    channel.name = channel.name + "（新）"
    assert cell_locks.structural(db.session)
    db.session.rollback()


@pytest.fixture
def postgres(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite writes one transaction at a time: no lock to take")


@pytest.mark.commits
def test_writers_share_and_a_move_waits_for_them(postgres):
    grids = tree()
    person = make_person(grids["a1"])
    db.session.commit()
    assert _other_may("exclusive")  # nothing in flight

    make_visit(grids["a1"], [person])  # commits: the lock went with the transaction
    assert _other_may("exclusive")

    appeal = make_appeal(grids["a1"])
    appeal.content = "改了内容，格子不变。"
    appeal.grid = grids["a2"]
    db.session.flush()  # a cell writer in flight
    assert _other_may("shared")  # other writers go on
    assert not _other_may("exclusive")  # a move would wait for it
    db.session.commit()
    assert _other_may("exclusive")

    grids["a1"].parent = grids["tb"]
    db.session.flush()  # a move in flight
    assert not _other_may("shared")  # every writer waits for it
    db.session.rollback()
    assert _other_may("shared")


@pytest.mark.commits
def test_a_rule_change_and_a_statement_on_appeals_take_their_locks(postgres):
    grids = tree()
    db.session.commit()
    rule = QuotaRule(name="每月1次", period="month", unit="visits", minimum=1, sort_order=90, active=True)
    db.session.add(rule)
    db.session.flush()
    assert not _other_may("shared")
    db.session.commit()

    appeal = make_appeal(grids["a1"])
    db.session.execute(
        db.update(type(appeal)).where(type(appeal).id == appeal.id).values(grid_id=grids["b1"].id),
        execution_options={"synchronize_session": False},
    )
    assert not _other_may("exclusive")  # the escalation's kind of statement is a cell writer too
    db.session.commit()
    assert _other_may("exclusive")
