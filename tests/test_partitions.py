"""Monthly partitions of audit_log and appeal_event on PostgreSQL (migration 0039, app/core/partitions.py):
the migration keeps every row in its month's partition, the app's inserts land in theirs, a row beyond the
made months waits in DEFAULT until the daily create-partitions job moves it, retention drops whole months,
and the downgrade gives back plain tables with every row."""

import datetime as dt
import os
import uuid

import pytest
from alembic import command
from sqlalchemy import create_engine, select, text

from app.core import jobs, partitions
from app.core.clock import frozen
from app.extensions import db
from app.models.appeals import AppealEvent
from app.models.audit import AuditLog
from tests.factories import make_appeal, tree
from tests.test_migrations import _alembic

PG = os.environ.get("MINQING_TEST_DATABASE_URL")
pytestmark = pytest.mark.skipif(not PG, reason="partitions are PostgreSQL's (SQLite: the migration does nothing)")

AUDIT_AT = ["2025-11-03 08:00", "2025-11-30 23:59:59", "2026-01-15 12:00", "2026-03-01 00:00", "2026-12-02 09:00"]
EVENT_AT = ["2025-12-24 10:00", "2026-02-01 00:00", "2026-02-28 18:30"]


def _where(conn, table):
    """{id: partition} of every row of `table`."""
    rows = conn.execute(text(f"SELECT id, tableoid::regclass::text FROM {table}")).all()
    return dict(rows)


def _rows(conn, table):
    return conn.execute(text(f"SELECT * FROM {table} ORDER BY id")).all()


def _indexes(conn, table):
    return set(conn.scalars(text("SELECT indexname FROM pg_indexes WHERE tablename = :t"), {"t": table}))


def _primary_key(conn, table):
    return conn.scalar(
        text("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = to_regclass(:t) AND contype = 'p'"),
        {"t": table},
    )


def _seed(conn):
    """Rows in several months, as an install holds them before 0039."""
    conn.execute(text("SET session_replication_role = replica"))  # an appeal without its grid and lookups
    conn.execute(
        text(
            "INSERT INTO appeal (id, number, number_month, number_seq, reporter_name, content, channel_id, "
            "category_id, importance, grid_id, origin_grid_id, filed_by_name, registered_at, status, due_date, "
            "extension_count, supervised, escalation_count, version, created_at, updated_at) VALUES (1, '202512001', "
            "'202512', 1, '甲', '修渠', 1, 1, 'general', 1, 1, '录入员', '2025-12-24', 'registered', '2026-01-08', "
            "0, false, 0, 1, '2025-12-24', '2025-12-24')"
        )
    )
    conn.execute(text("SET session_replication_role = DEFAULT"))
    for n, at in enumerate(AUDIT_AT):
        conn.execute(
            text("INSERT INTO audit_log (at, action, summary, changes) VALUES (:at, 'update', :s, :c)"),
            {"at": at, "s": f"分区测试{n}", "c": '{"name": ["甲", "乙"]}'},
        )
    for at in EVENT_AT:
        conn.execute(
            text(
                "INSERT INTO appeal_event (appeal_id, action, at, actor_name, note) VALUES (1, 'note', :at, '甲', '记')"
            ),
            {"at": at},
        )


def test_the_migration_partitions_by_month_keeping_every_row_and_the_downgrade_gives_them_back(app):
    name = f"minqing_part_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = create_engine(PG.rsplit("/", 1)[0] + "/" + name)
    try:
        with app.app_context(), frozen("2026-12-03 10:00"), engine.connect() as conn:
            cfg = _alembic(app, engine)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0036_attachments")
            _seed(conn)
            before = {t: _rows(conn, t) for t in partitions.PARTITIONED}
            indexes = {t: _indexes(conn, t) for t in partitions.PARTITIONED}
            assert _primary_key(conn, "audit_log") == "PRIMARY KEY (id)"

            command.upgrade(cfg, "head")
            for table in partitions.PARTITIONED:
                assert partitions.is_partitioned(conn, table)
                assert _rows(conn, table) == before[table]  # the same rows, ids and values
                assert indexes[table] - {f"{table}_pkey"} <= _indexes(conn, table)  # every index, same name
                assert _primary_key(conn, table) == "PRIMARY KEY (id, at)"
            where = _where(conn, "audit_log")
            assert [where[i + 1] for i in range(len(AUDIT_AT))] == [
                "audit_log_p202511", "audit_log_p202511", "audit_log_p202601", "audit_log_p202603", "audit_log_p202612"
            ]  # fmt: skip
            assert sorted(_where(conn, "appeal_event").values()) == [
                "appeal_event_p202512", "appeal_event_p202602", "appeal_event_p202602"
            ]  # fmt: skip
            # from the oldest month to PARTITION_MONTHS_AHEAD (3) after this one, and a DEFAULT
            made = partitions.months(conn, "audit_log")
            assert min(made) == dt.datetime(2025, 11, 1) and max(made) == dt.datetime(2027, 3, 1)
            assert len(made) == 17
            assert conn.scalar(text("SELECT to_regclass('audit_log_default')")) is not None
            # the sequence and the defaults still number new rows; a foreign key still holds
            new_id = conn.scalar(text("INSERT INTO audit_log (at, action) VALUES ('2031-01-01', 'login') RETURNING id"))
            assert new_id == len(AUDIT_AT) + 1
            assert _where(conn, "audit_log")[new_id] == "audit_log_default"  # no month yet: DEFAULT takes it
            with pytest.raises(Exception, match="foreign key"), conn.begin_nested():
                conn.execute(
                    text("INSERT INTO appeal_event (appeal_id, action, at, actor_name) VALUES (99, 'x', now(), 'x')")
                )
            # the length trigger of 0026 still guards the note
            with pytest.raises(Exception), conn.begin_nested():  # noqa: B017 - the database's own error
                conn.execute(
                    text(
                        "INSERT INTO appeal_event (appeal_id, action, at, actor_name, note) VALUES (1, 'x', now(), 'x', :n)"
                    ),
                    {"n": "长" * 5000},
                )
            conn.execute(text("DELETE FROM audit_log WHERE id = :i"), {"i": new_id})
            conn.execute(text("SELECT setval('audit_log_id_seq', :v)"), {"v": len(AUDIT_AT)})

            command.downgrade(cfg, "0036_attachments")
            for table in partitions.PARTITIONED:
                assert not partitions.is_partitioned(conn, table)
                assert _rows(conn, table) == before[table]
                assert _indexes(conn, table) == indexes[table]
                assert _primary_key(conn, table) == "PRIMARY KEY (id)"
            assert conn.scalar(text("SELECT to_regclass('audit_log_p202511')")) is None
            next_id = conn.scalar(text("INSERT INTO audit_log (at, action) VALUES (now(), 'login') RETURNING id"))
            assert next_id == len(AUDIT_AT) + 1  # the sequence went along (set back after the test row above)
            conn.rollback()
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _partition_of(model, row_id):
    table = model.__table__.name
    return db.session.scalar(text(f"SELECT tableoid::regclass::text FROM {table} WHERE id = :i"), {"i": row_id})


def test_the_apps_inserts_land_in_their_month_and_the_job_moves_what_waits_in_default(app, monkeypatch, tmp_path):
    monkeypatch.setitem(app.config, "JOBS_DIR", str(tmp_path / "jobs"))
    monkeypatch.setitem(app.config, "JOBS_REDIS_URL", "")
    monkeypatch.setitem(app.config, "PARTITION_MONTHS_AHEAD", 2)
    with frozen("2031-05-20 09:00"):
        t = tree()
        appeal = make_appeal(t["a1"], at="2031-05-20 09:00")  # its steps are written through the ORM
        db.session.add(AuditLog(at=dt.datetime(2031, 5, 20, 9), action="update", summary="远月"))
        db.session.add(AuditLog(at=dt.datetime(2031, 7, 2, 9), action="update", summary="远月后"))
        db.session.flush()
        far = db.session.scalar(select(AuditLog.id).where(AuditLog.summary == "远月"))
        later = db.session.scalar(select(AuditLog.id).where(AuditLog.summary == "远月后"))
        step = db.session.scalar(select(AppealEvent.id).where(AppealEvent.appeal_id == appeal.id))
        assert _partition_of(AuditLog, far) == "audit_log_default"  # beyond the months made: DEFAULT, no error
        assert _partition_of(AppealEvent, step) == "appeal_event_default"
        done = jobs.load(jobs.enqueue("create-partitions"))
        assert done.status == "done", done.error
        # 2031-05..07 of the two tables; moved: these rows and the trail of making the appeal
        assert done.message.startswith("已新建 6 个月度分区，从默认分区移出 ") and done.message.endswith(" 行。")
        assert _partition_of(AuditLog, far) == "audit_log_p203105"
        assert _partition_of(AuditLog, later) == "audit_log_p203107"
        assert _partition_of(AppealEvent, step) == "appeal_event_p203105"
        # an insert now goes straight to its month; the ORM reads it by id as before
        db.session.add(AuditLog(at=dt.datetime(2031, 6, 1), action="update", summary="六月"))
        db.session.flush()
        june = db.session.scalar(select(AuditLog).where(AuditLog.summary == "六月"))
        assert _partition_of(AuditLog, june.id) == "audit_log_p203106"
        db.session.expire_all()
        assert db.session.get(AuditLog, june.id).summary == "六月"
        again = jobs.load(jobs.enqueue("create-partitions"))  # daily: nothing left to do
        assert again.message == "已新建 0 个月度分区，从默认分区移出 0 行。"


def test_retention_drops_whole_expired_months_and_deletes_the_rest_by_row(app, monkeypatch, tmp_path):
    monkeypatch.setitem(app.config, "JOBS_DIR", str(tmp_path / "jobs"))
    monkeypatch.setitem(app.config, "JOBS_REDIS_URL", "")
    monkeypatch.setitem(app.config, "PARTITION_MONTHS_AHEAD", 1)
    for at, summary in (
        ("2032-01-15", "一月"),
        ("2032-02-10", "二月上"),
        ("2032-02-25", "二月下"),
        ("2032-03-10", "三月"),
    ):
        db.session.add(AuditLog(at=dt.datetime.fromisoformat(at), action="update", summary=summary))
    db.session.commit()
    with frozen("2032-03-20 04:00"):
        assert jobs.load(jobs.enqueue("create-partitions")).status == "done"
        assert (
            partitions.months(db.session.connection(), "audit_log").get(dt.datetime(2032, 1, 1)) == "audit_log_p203201"
        )
        monkeypatch.setitem(app.config, "AUDIT_RETENTION_DAYS", 30)  # before 2032-02-19 04:00
        pruned = jobs.load(jobs.enqueue("prune-audit"))
    assert pruned.status == "done" and pruned.message == "已删除 30 天以前的操作日志 2 条。"
    conn = db.session.connection()
    assert conn.scalar(text("SELECT to_regclass('audit_log_p203201')")) is None  # the whole month dropped
    assert conn.scalar(text("SELECT to_regclass('audit_log_p203202')")) is not None  # kept, its old row deleted
    left = db.session.scalars(
        select(AuditLog.summary).where(AuditLog.summary.in_(["一月", "二月上", "二月下", "三月"]))
    )
    assert sorted(left) == ["三月", "二月下"]
