"""Backup → wipe → restore gives back every table, row for row."""

import hashlib

import pytest
from sqlalchemy import MetaData, select, text

from app.extensions import db
from tests.factories import make_assignment, make_person, make_user, tree


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
