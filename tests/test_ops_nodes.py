"""Several servers (issue 15): start-up refusals with MULTI_NODE, the pool settings, one `init` at a time."""

import pathlib
import subprocess
import sys
import threading
import time

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

import config
from app import cli, create_app
from app.core import nodes
from app.extensions import db
from tests.conftest import PG_URL, WORKER

PG = "postgresql+psycopg://u@127.0.0.1:5432/minqing"
GOOD_KEY = "k" * 64


def _config(**overrides):
    config = {
        "SQLALCHEMY_DATABASE_URI": PG,
        "ENV_PRODUCTION": True,
        "MULTI_NODE": None,
        "SECRET_KEY": GOOD_KEY,
        "RATELIMIT_STORAGE_URI": "minqing+db://",
        "JOBS_REDIS_URL": "redis://h:6379/3",
        "JOBS_DIR_SHARED": True,
        "ATTACHMENT_STORAGE": "local",
        "ATTACHMENT_DIR_SHARED": True,
    }
    config.update(overrides)
    return config


def test_on_by_itself_with_postgresql_in_production_only():
    assert nodes.multi_node(_config())
    assert not nodes.multi_node(_config(ENV_PRODUCTION=False))
    assert not nodes.multi_node(_config(SQLALCHEMY_DATABASE_URI="sqlite:////tmp/x.db"))
    assert nodes.multi_node(_config(ENV_PRODUCTION=False, MULTI_NODE=True))
    assert not nodes.multi_node(_config(MULTI_NODE=False))


def test_shared_settings_start():
    nodes.check_multi_node(_config())  # nothing raised
    nodes.check_multi_node(_config(RATELIMIT_STORAGE_URI="redis://h:6379/0"))
    # an object store is shared by nature: no local directory to mark
    nodes.check_multi_node(_config(ATTACHMENT_STORAGE="acme.s3:Store", ATTACHMENT_DIR_SHARED=False))
    # one server alone keeps everything local
    nodes.check_multi_node(_config(MULTI_NODE=False, JOBS_REDIS_URL="", JOBS_DIR_SHARED=False,
                                   ATTACHMENT_DIR_SHARED=False))  # fmt: skip


@pytest.mark.parametrize(
    "overrides, setting",
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY"),
        ({"_SECRET_KEY_GENERATED": True}, "SECRET_KEY"),
        ({"RATELIMIT_STORAGE_URI": "memory://"}, "RATELIMIT_STORAGE_URI"),
        ({"MULTI_NODE": True, "ENV_PRODUCTION": False, "SQLALCHEMY_DATABASE_URI": "sqlite:////tmp/x.db"},
         "RATELIMIT_STORAGE_URI"),  # the database's login counts are one machine's
        ({"JOBS_REDIS_URL": ""}, "JOBS_REDIS_URL"),  # jobs would die with a web worker, on its server
        ({"ATTACHMENT_DIR_SHARED": False}, "ATTACHMENT_DIR_SHARED"),  # photos on one server's disk
        ({"ATTACHMENT_DIR_SHARED": None}, "ATTACHMENT_DIR_SHARED"),
        ({"JOBS_DIR_SHARED": False}, "JOBS_DIR_SHARED"),  # job results downloaded from one server only
    ],
)  # fmt: skip
def test_anything_per_process_is_refused(overrides, setting):
    with pytest.raises(nodes.StartupRefused) as refused:
        nodes.check_multi_node(_config(**overrides))
    message = str(refused.value)
    assert setting in message and "MULTI_NODE" in message
    assert "多服务器" in message and "refusing to start" in message  # Chinese and English


def test_every_refusal_is_said_at_once():
    """An operator fixes the settings in one go: every missing one is named, with what to set."""
    with pytest.raises(nodes.StartupRefused) as refused:
        nodes.check_multi_node(_config(JOBS_REDIS_URL="", JOBS_DIR_SHARED=False, ATTACHMENT_DIR_SHARED=False))
    message = str(refused.value)
    for setting in ("JOBS_REDIS_URL=redis://", "JOBS_DIR_SHARED=true", "ATTACHMENT_DIR_SHARED=true"):
        assert setting in message
    assert "后台任务" in message and "照片和附件" in message


def test_create_app_refuses_a_generated_secret(tmp_path):
    """The real start: no SECRET_KEY, so one is generated into instance/, and MULTI_NODE says no."""
    with pytest.raises(nodes.StartupRefused, match="SECRET_KEY"):
        create_app(
            {
                "INSTANCE_DIR": str(tmp_path),
                "SECRET_KEY": "",
                "MULTI_NODE": True,
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db",
            }
        )
    assert (tmp_path / "secret_key").exists()


def test_create_app_refuses_jobs_and_files_on_one_server_and_starts_when_shared(tmp_path):
    shared = {
        "INSTANCE_DIR": str(tmp_path),
        "SECRET_KEY": GOOD_KEY,
        "MULTI_NODE": True,
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db",
        "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0",
        "JOBS_REDIS_URL": "redis://127.0.0.1:6379/3",
        "JOBS_DIR": str(tmp_path / "nfs" / "jobs"),
        "JOBS_DIR_SHARED": True,
        "ATTACHMENT_DIR": str(tmp_path / "nfs" / "files"),
        "ATTACHMENT_DIR_SHARED": True,
    }
    with pytest.raises(nodes.StartupRefused, match="JOBS_REDIS_URL") as refused:
        create_app({**shared, "JOBS_REDIS_URL": ""})
    assert "ATTACHMENT_DIR_SHARED" not in str(refused.value)
    with pytest.raises(nodes.StartupRefused, match="ATTACHMENT_DIR_SHARED"):
        create_app({**shared, "ATTACHMENT_DIR_SHARED": False})
    with pytest.raises(nodes.StartupRefused, match="JOBS_DIR_SHARED"):
        create_app({**shared, "JOBS_DIR_SHARED": False})
    started = create_app(shared)  # every shared setting in place: it starts
    assert started.config["MULTI_NODE"] is True
    with started.app_context():
        db.engine.dispose()


def test_pool_settings_reach_the_engine_options():
    config = {
        "SQLALCHEMY_DATABASE_URI": PG,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "max_overflow": 2},
        "DB_POOL_SIZE": 7,
        "DB_MAX_OVERFLOW": 9,
        "DB_POOL_TIMEOUT": 4,
        "DB_POOL_RECYCLE": 600,
    }
    options = nodes.engine_options(config)
    assert options == {
        "pool_pre_ping": True,
        "pool_size": 7,
        "max_overflow": 2,
        "pool_timeout": 4.0,
        "pool_recycle": 600,
    }
    sqlite = nodes.engine_options({**config, "SQLALCHEMY_DATABASE_URI": "sqlite:///x.db"})
    assert "pool_size" not in sqlite and sqlite["pool_pre_ping"]


def test_the_defaults_keep_four_servers_under_postgresqls_100(app):
    per_worker = config.DB_POOL_SIZE + config.DB_MAX_OVERFLOW
    assert 4 * 2 * per_worker < 100  # 4 servers x 2 workers (README's recipe)
    if db.engine.dialect.name == "postgresql":
        pool = db.engine.pool
        assert pool.size() == config.DB_POOL_SIZE and pool._max_overflow == config.DB_MAX_OVERFLOW
        assert pool._recycle == config.DB_POOL_RECYCLE and pool._pre_ping


def test_init_runs_under_its_lock(app, monkeypatch):
    held = []

    class Lock:
        def __init__(self, engine):
            assert engine is db.engine

        def __enter__(self):
            held.append("in")

        def __exit__(self, *exc):
            held.append("out")

    monkeypatch.setattr(cli, "init_lock", Lock)
    monkeypatch.setattr(cli, "_init", lambda demo: held.append("init"))
    result = CliRunner().invoke(cli.init_command, [], obj=None, catch_exceptions=False, standalone_mode=False)
    assert held == ["in", "init", "out"], result.output


def test_nothing_to_lock_on_sqlite():
    engine = create_engine("sqlite://")
    with nodes.init_lock(engine), nodes.migrate_lock(engine):
        pass


@pytest.mark.commits  # the lock is held on connections of their own
def test_a_second_init_waits_for_the_first(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("advisory locks are PostgreSQL's")
    order, engine = [], db.engine

    def second():  # another server's init
        with nodes.init_lock(engine):
            order.append("second")

    with nodes.init_lock(db.engine):
        with db.engine.connect() as other:  # another server cannot take it
            assert other.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": nodes.INIT_LOCK_KEY}) is False
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.5)
        order.append("first done")
    thread.join(10)
    assert order == ["first done", "second"]
    with db.engine.connect() as other:  # and let go again
        assert other.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": nodes.INIT_LOCK_KEY}) is True
        other.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": nodes.INIT_LOCK_KEY})


@pytest.mark.commits  # two processes on a database of their own
def test_two_inits_at_once_on_postgresql(app, tmp_path):
    """Two servers starting together: both `flask minqing init` succeed, one migrates, one admin."""
    if not PG_URL:
        pytest.skip("advisory locks are PostgreSQL's (MINQING_TEST_DATABASE_URL)")
    url = make_url(PG_URL)
    url = url.set(database=f"{url.database}_{WORKER or 'main'}_init")
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{url.database}"'))
    env = {
        "PATH": "/usr/bin:/bin",
        "DATABASE_URL": url.render_as_string(hide_password=False),
        "SECRET_KEY": GOOD_KEY,
        "MINQING_INSTANCE_DIR": str(tmp_path),
        "MINQING_ADMIN_PASSWORD": "Admin@Pass2026x",
    }
    flask = pathlib.Path(sys.executable).with_name("flask")
    root = pathlib.Path(__file__).resolve().parent.parent
    try:
        runs = [
            subprocess.Popen([str(flask), "--app", "run.py", "minqing", "init"], env=env, cwd=str(root),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for _ in range(2)
        ]  # fmt: skip
        outputs = [run.communicate(timeout=300)[0] for run in runs]
        assert [run.returncode for run in runs] == [0, 0], outputs
        check = create_engine(url)
        with check.connect() as conn:
            assert conn.scalar(text("SELECT count(*) FROM alembic_version")) == 1
            assert conn.scalar(text("SELECT count(*) FROM ab_user WHERE username = 'admin'")) == 1
        check.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        admin.dispose()
