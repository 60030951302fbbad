"""Test fixtures: one migrated database per run (SQLite, or PostgreSQL when
MINQING_TEST_DATABASE_URL is set), emptied of everything but the seed after each
test; a client per test; login helpers for the web form and the JWT API."""

import os
import tempfile

import pytest
from flask_migrate import upgrade
from sqlalchemy import MetaData, func, select, text

from app import create_app
from app.extensions import db
from app.security import sync_roles
from app.services import settings
from app.services.lookups import seed_lookups
from app.services.registers import runtime

PG_URL = os.environ.get("MINQING_TEST_DATABASE_URL")
TEST_PASSWORD = "TeSt@Pass99xyz"

# seed rows (made by init) stay between tests; anything a test adds is removed
SEED_TABLES = (
    "alembic_version",
    "ab_permission_view",  # before what it points at (a register's permissions are made in tests)
    "ab_permission",
    "ab_view_menu",
    "ab_role",
    "ab_permission_view_role",
    "quota_rule",  # before person_kind: a test's rule may point at a test's kind
    "grid_level",
    "person_kind",
    "appeal_category",
    "appeal_channel",
    "visit_form",
    "visit_target",
    "contact_form",
    "post",
)


def _reset_postgres(url):
    """Start from an empty public schema: every run migrates from nothing."""
    from sqlalchemy import create_engine

    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def app():
    workdir = tempfile.mkdtemp(prefix="minqing-test-")
    url = PG_URL or f"sqlite:///{workdir}/test.db"
    if PG_URL:
        _reset_postgres(PG_URL)
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": url,
            "INSTANCE_DIR": workdir,
            "SECRET_KEY": "test-secret-key-that-is-long-enough-for-jwt-0123456789",
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
            "FAB_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
            "SERVER_NAME": None,
            # figures count afresh after each write (test_cache turns the background recount on)
            "COUNTS_STALE_SECONDS": 0,
            # one process: its own definition changes rebuild at once (runtime.bump); no polling
            "REGISTERS_CHECK_SECONDS": 3600,
            "SETTINGS_CHECK_SECONDS": 3600,  # the same for settings (系统参数)
        }
    )
    with app.app_context():
        upgrade()
        seed_lookups(db.session)
        db.session.commit()
        sync_roles(app.appbuilder)
        app.config["_SEED_MAX_IDS"] = _max_ids()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _max_ids():
    meta = MetaData()
    meta.reflect(bind=db.engine)
    out = {}
    for name in SEED_TABLES:
        table = meta.tables.get(name)
        if table is not None and "id" in table.c:
            out[name] = db.session.scalar(select(func.coalesce(func.max(table.c.id), 0)))
    return out


@pytest.fixture(autouse=True)
def _clean(app):
    """Each test starts from the seed (roles, permissions, lookups) and nothing else."""
    with app.app_context():
        yield
        db.session.rollback()
        db.session.remove()
        _wipe(app)


def _wipe(app):
    from app.core import cache

    cache.forget()  # memoized counts must not outlive the data they counted
    runtime.forget()  # nor entry classes the definitions they were built from
    settings.restore_defaults(app)  # nor settings the emptied `setting` table overrode
    cache.wait_for_recounts()
    cache.forget_last()
    meta = MetaData()
    meta.reflect(bind=db.engine)
    seed_max = app.config["_SEED_MAX_IDS"]
    with db.engine.begin() as conn:
        data_tables = [t for t in reversed(meta.sorted_tables) if t.name not in SEED_TABLES]
        if conn.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in data_tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in data_tables:
                conn.execute(table.delete())
        assoc = meta.tables["ab_permission_view_role"]
        conn.execute(assoc.delete().where(assoc.c.role_id > seed_max["ab_role"]))
        for name, max_id in seed_max.items():
            if name != "ab_permission_view_role":
                table = meta.tables[name]
                conn.execute(table.delete().where(table.c.id > max_id))


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def session(app):
    return db.session


@pytest.fixture
def sm(app):
    return app.appbuilder.sm


def login(client, user_or_name, password=TEST_PASSWORD):
    username = getattr(user_or_name, "username", user_or_name)
    client.get("/logout/")
    response = client.post("/login/", data={"username": username, "password": password})
    assert response.status_code == 302, f"login of {username} failed"
    return client


def api_token(client, user_or_name, password=TEST_PASSWORD):
    username = getattr(user_or_name, "username", user_or_name)
    response = client.post(
        "/api/v1/security/login",
        json={"username": username, "password": password, "provider": "db", "refresh": False},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return {"Authorization": f"Bearer {response.json['access_token']}"}
