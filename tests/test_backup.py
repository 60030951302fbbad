"""Backup → wipe → restore gives back every table, row for row."""

import hashlib
import os
import subprocess

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData, create_engine, inspect, select, text
from sqlalchemy.engine import make_url

from app.extensions import db
from app.services import backup as backup_service
from tests.factories import make_assignment, make_person, make_user, tree

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _fingerprint():
    meta = MetaData()
    meta.reflect(bind=db.engine)
    out = {}
    with db.engine.connect() as conn:
        for table in meta.sorted_tables:
            pk = list(table.primary_key.columns) or list(table.columns)
            rows = conn.execute(select(table).order_by(*pk)).all()
            out[table.name] = (len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
    return out


@pytest.mark.commits  # the backup reads the database file / a dump, the restore replaces it
def test_backup_wipe_restore_round_trip(app, tmp_path):
    t = tree()
    for key in ("a1", "b1", "a1a"):
        make_assignment(make_person(t[key], name=f"备份{key}"), t[key], "网格员")
    make_user("Clerk", t["ta"])
    before = _fingerprint()
    assert before["grid"][0] == 8 and before["person"][0] >= 4
    path = str(tmp_path / "minqing.backup")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["minqing", "backup", path])
    assert result.exit_code == 0, result.output
    db.session.remove()
    with db.engine.begin() as conn:  # disaster: the data is gone
        for name in ("assignment", "person"):
            conn.execute(text(f"DELETE FROM {name}"))
    assert _fingerprint()["person"][0] == 0
    result = runner.invoke(args=["minqing", "restore", path, "--yes"])
    assert result.exit_code == 0, result.output
    assert _fingerprint() == before


def test_restore_of_a_missing_file_fails_cleanly(app, tmp_path):
    result = app.test_cli_runner().invoke(args=["minqing", "restore", str(tmp_path / "nope"), "--yes"])
    assert result.exit_code != 0 and "does not exist" in result.output


def _restore(app, path):
    return app.test_cli_runner().invoke(args=["minqing", "restore", str(path), "--yes"])


def test_restoring_a_file_that_is_no_backup_fails_cleanly_and_keeps_the_data(app, tmp_path):
    """Issue 18, item 6: a garbage file is refused with a message, not a traceback."""
    t = tree()
    before = _fingerprint()
    garbage = tmp_path / "garbage.backup"
    garbage.write_bytes(b"this is not a database \x00\x01\x02" * 100)
    result = _restore(app, garbage)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert "not a MinQing backup" in result.output
    db.session.remove()
    assert _fingerprint() == before and t


@pytest.mark.commits  # the backup and restore use connections of their own
def test_a_backup_of_an_unknown_schema_version_is_refused(app, tmp_path):
    tree()
    path = tmp_path / "future.backup"
    with db.engine.begin() as conn:
        current = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    try:
        assert app.test_cli_runner().invoke(args=["minqing", "backup", str(path)]).exit_code == 0
    finally:
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": current})
    before = _fingerprint()
    result = _restore(app, path)
    assert result.exit_code == 1 and "9999_future" in result.output and "newer version" in result.output
    db.session.remove()
    assert _fingerprint() == before


@pytest.mark.commits  # the backup and restore use connections of their own
def test_restoring_replaces_the_schema_exactly(app, tmp_path):
    """A table the backup does not hold (added after it was made) does not survive the restore."""
    tree()
    path = tmp_path / "plain.backup"
    assert app.test_cli_runner().invoke(args=["minqing", "backup", str(path)]).exit_code == 0
    with db.engine.begin() as conn:
        conn.execute(text("CREATE TABLE zz_added_later (id INTEGER PRIMARY KEY)"))
    result = _restore(app, path)
    assert result.exit_code == 0, result.output
    db.session.remove()
    assert "zz_added_later" not in inspect(db.engine).get_table_names()


def test_an_older_sqlite_backup_is_restored_and_migrated(app, tmp_path):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("made here with a SQLite file; PostgreSQL takes the same path (revision, restore, upgrade)")
    old = tmp_path / "old.db"
    engine = create_engine(f"sqlite:///{old}")
    with engine.connect() as connection:
        cfg = Config(os.path.join(ROOT, "migrations", "alembic.ini"))
        cfg.set_main_option("script_location", os.path.join(ROOT, "migrations"))
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "0024_registers")
        connection.commit()
    engine.dispose()
    saved = tmp_path / "current.backup"
    assert app.test_cli_runner().invoke(args=["minqing", "backup", str(saved)]).exit_code == 0
    try:
        result = _restore(app, old)
        assert result.exit_code == 0 and "0024_registers" in result.output, result.output
        db.session.remove()
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() != "0024_registers"
        assert "rate_limit_counter" in inspect(db.engine).get_table_names()
    finally:
        assert _restore(app, saved).exit_code == 0
        db.session.remove()


def test_the_postgresql_password_stays_off_the_command_line(monkeypatch, tmp_path):
    calls = []

    def fake_run(argv, **kwargs):
        calls.append((argv, kwargs.get("env") or {}))
        return subprocess.CompletedProcess(argv, 0, "", "")

    monkeypatch.setattr(backup_service.subprocess, "run", fake_run)
    monkeypatch.setattr(backup_service.shutil, "which", lambda name: f"/usr/bin/{name}")
    url = make_url("postgresql+psycopg://minqing:s3cr3t-Pass@db.example:5433/county")
    backup_service.backup(url, str(tmp_path / "x.backup"))
    argv, env = calls[0]
    assert argv[0] == "pg_dump" and not any("s3cr3t" in part for part in argv)
    assert (env["PGPASSWORD"], env["PGHOST"], env["PGPORT"], env["PGUSER"], env["PGDATABASE"]) == (
        "s3cr3t-Pass", "db.example", "5433", "minqing", "county"
    )  # fmt: skip


# --- the attachment files (照片/附件) travel with the database ----------------------------


def _photo(color):
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (30, 20), color).save(out, "JPEG")
    return out.getvalue()


def _attach(record, name, color):
    from app.services import attachments

    (row,) = attachments.add_attachments(db.session, record, attachments.check_uploads([(name, _photo(color))]))
    db.session.commit()
    return row


def _store_state(app):
    from app.core.storage import storage

    store = storage(app)
    return {name: hashlib.sha256(store.read(name)).hexdigest() for name in store.names()}


def _attachment_rows():
    from app.models.attachments import Attachment

    db.session.remove()
    return sorted(db.session.execute(select(Attachment.id, Attachment.stored_name, Attachment.deleted_at)).all())


@pytest.fixture
def own_store(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "ATTACHMENT_DIR", str(tmp_path / "attachments"))


@pytest.mark.commits  # the backup reads the database file / a dump, the restore replaces it
def test_a_restore_brings_back_the_rows_and_files_as_they_were_at_backup_time(app, tmp_path, own_store):
    from app.services.attachment_bin import purge_attachments
    from app.services.attachments import remove_attachment
    from tests.factories import make_appeal

    t = tree()
    appeal = make_appeal(t["a1"], status="in_progress")
    kept, purged = _attach(appeal, "留.jpg", "red"), _attach(appeal, "将永久删除.jpg", "blue")
    Appeal, Attachment, appeal_id, purged_id = type(appeal), type(kept), appeal.id, purged.id
    rows, files = _attachment_rows(), _store_state(app)
    assert len(files) == 4  # two photos, two thumbnails
    path = tmp_path / "with-files.backup"
    result = app.test_cli_runner().invoke(args=["minqing", "backup", str(path)])
    assert result.exit_code == 0 and "附件 4 个已写入" in result.output, result.output
    # afterwards: one more photo, one purged for good
    _attach(db.session.get(Appeal, appeal_id), "后来的.jpg", "green")
    row = db.session.get(Attachment, purged_id)
    remove_attachment(db.session, row)
    purge_attachments(db.session, [row])
    db.session.commit()
    assert _store_state(app) != files and _attachment_rows() != rows
    result = _restore(app, path)
    assert result.exit_code == 0 and "附件已恢复为备份时的状态" in result.output, result.output
    assert _attachment_rows() == rows and _store_state(app) == files
    check = app.test_cli_runner().invoke(args=["minqing", "attachments", "check"])
    assert check.exit_code == 0, check.output


@pytest.mark.commits
def test_a_damaged_or_foreign_file_archive_is_refused_and_nothing_changes(app, tmp_path, own_store):
    import tarfile

    from tests.factories import make_appeal

    t = tree()
    appeal = make_appeal(t["a1"], status="in_progress")
    _attach(appeal, "一.jpg", "red")
    Appeal, appeal_id = type(appeal), appeal.id
    path = tmp_path / "a.backup"
    assert app.test_cli_runner().invoke(args=["minqing", "backup", str(path)]).exit_code == 0
    archive = tmp_path / "a.backup.files.tar"
    good = archive.read_bytes()
    _attach(db.session.get(Appeal, appeal_id), "二.jpg", "blue")  # the state a bad restore must keep
    before, rows, files = _fingerprint(), _attachment_rows(), _store_state(app)

    def refused(why):
        result = _restore(app, path)
        assert result.exit_code == 1 and "附件归档" in result.output and "均未改动" in result.output, result.output
        assert why in result.output, result.output
        db.session.remove()
        assert _fingerprint() == before and _attachment_rows() == rows and _store_state(app) == files
        assert not [n for n in os.listdir(tmp_path) if ".restore-" in n]  # no staging directory left behind

    archive.write_bytes(good[:1500])  # cut short (inside the first photo)
    refused("损坏")
    archive.write_bytes(good.replace(b"\xff\xd8\xff", b"\xff\xd8\x00", 1))  # a photo's bytes changed
    refused("校验值不符")
    with tarfile.open(archive, "w") as tar:  # a tar of someone else's
        tar.add(__file__, arcname="notes.txt")
    refused("不是本系统的附件归档")
    other = tmp_path / "b.backup"  # the archive of another backup beside this database
    assert app.test_cli_runner().invoke(args=["minqing", "backup", str(other)]).exit_code == 0
    archive.write_bytes((tmp_path / "b.backup.files.tar").read_bytes())
    refused("不是同一次备份")
