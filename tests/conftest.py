"""Test fixtures: one migrated database per run and per xdist worker (SQLite, or
PostgreSQL when MINQING_TEST_DATABASE_URL is set); a client per test; login helpers
for the web form and the JWT API; the shared `world` of grids and people.

Isolation: each test runs inside one outer transaction on one connection, which
db.session joins with SAVEPOINTs (join_transaction_mode="create_savepoint"), so the
tests' and the app's session.commit() calls release a savepoint and the rollback at
the end leaves the seed (roles, permissions, lookups) as it was. Tests that need real
commits seen by other connections or threads (parallel
registrations, backup, CLI bulk loads, a second engine...) are marked
@pytest.mark.commits: they run against the engine as the app does, and the database
is emptied of everything but the seed afterwards.
"""

import contextlib
import os
import shutil
import tempfile
import threading
from runpy import run_path
from types import SimpleNamespace

import pytest
from flask_migrate import upgrade
from sqlalchemy import MetaData, create_engine, event, func, literal, select, text, union_all
from sqlalchemy.engine import make_url

from app import create_app
from app.core.partitions import is_partition
from app.extensions import db
from app.models.registers import is_search_index
from app.security import sync_roles
from app.services import settings
from app.services.lookups import seed_lookups
from app.services.registers import runtime

PG_URL = os.environ.get("MINQING_TEST_DATABASE_URL")
# under pytest-xdist each worker ("gw0", "gw1", ...) has a database of its own
WORKER = os.environ.get("PYTEST_XDIST_WORKER")
TEST_PASSWORD = "TeSt@Pass99xyz"

# seed rows (made by init) stay between tests; anything a test adds is removed
SEED_TABLES = (
    "alembic_version",
    "ab_permission_view",  # before what it points at (a register's permissions are made in tests)
    "ab_permission",
    "ab_view_menu",
    "ab_role",
    "ab_permission_view_role",
    "rota_kind",
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


# --------------------------------------------------------------------------
# pytest-xdist: which tests must share a worker
# --------------------------------------------------------------------------

# each of these runs whole on one worker, in order: the browser tests (one server, one
# Chromium) and the module that loads the demo once for its tests; other tests go one by one
XDIST_TOGETHER = ("tests/e2e/", "tests/test_demo.py")


@pytest.hookimpl(tryfirst=True, optionalhook=True)  # optional: pytest runs without xdist too
def pytest_xdist_make_scheduler(config, log):
    """`-n N` (--dist load) with XDIST_TOGETHER kept together. xdist's own `--dist loadgroup`
    cannot do it here: it renames grouped tests through an attribute pytest 9 no longer reads."""
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class TogetherScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            return next((prefix for prefix in XDIST_TOGETHER if nodeid.startswith(prefix)), nodeid)

    return TogetherScheduling(config, log)


# --------------------------------------------------------------------------
# The database: one per run (and per xdist worker)
# --------------------------------------------------------------------------


def _postgres_url():
    """The configured database, or under xdist "<its name>_<worker>" on the same server."""
    url = make_url(PG_URL)
    if WORKER:
        url = url.set(database=f"{url.database}_{WORKER}")
    return url


def _admin_engine():
    return create_engine(PG_URL, isolation_level="AUTOCOMMIT")


def _prepare_postgres(url):
    """Start from nothing: every run migrates from an empty database."""
    if url.database != make_url(PG_URL).database:  # a worker's own database: made afresh
        admin = _admin_engine()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{url.database}"'))
        admin.dispose()
        return
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def _drop_worker_database(url):
    if url.database == make_url(PG_URL).database:
        return  # the configured one stays (emptied again by the next run)
    admin = _admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def app():
    workdir = tempfile.mkdtemp(prefix="minqing-test-")
    url = f"sqlite:///{workdir}/test.db"
    if PG_URL:
        pg_url = _postgres_url()
        _prepare_postgres(pg_url)
        url = pg_url.render_as_string(hide_password=False)
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
        _read_schema(app)
        _wipe(app)  # what setting up wrote beside the seed (the audit trail of sync_roles...)
    _let_sessions_join_a_connection()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    if PG_URL:
        _drop_worker_database(pg_url)
    shutil.rmtree(workdir, ignore_errors=True)


def _read_schema(app):
    """Once per run: the tables the wipe empties, and how far the seed's ids go."""
    meta = MetaData()
    meta.reflect(bind=db.engine)
    for name in [name for name in meta.tables if is_partition(name)]:
        # PostgreSQL's monthly partitions: the parent's DELETE empties them, and tests make and drop them
        meta.remove(meta.tables[name])
    seed_max = {}
    for name in SEED_TABLES:
        table = meta.tables.get(name)
        if table is not None and "id" in table.c:
            seed_max[name] = db.session.scalar(select(func.coalesce(func.max(table.c.id), 0)))
    app.config["_SEED_MAX_IDS"] = seed_max
    app.config["_TEST_SCHEMA"] = meta
    # one query naming each table that holds more than the seed (none, between tests)
    probes = [
        select(literal(t.name)).select_from(t).limit(1).subquery().select()
        for t in meta.sorted_tables
        if t.name not in SEED_TABLES and not is_search_index(t.name)
    ]
    probes += [
        select(literal(name)).select_from(meta.tables[name]).where(meta.tables[name].c.id > max_id).limit(1)
        .subquery().select()
        for name, max_id in seed_max.items()
    ]  # fmt: skip
    app.config["_LEFTOVERS"] = union_all(*probes)
    db.session.rollback()


def _leftovers(app):
    with db.engine.connect() as conn:
        return sorted(conn.scalars(app.config["_LEFTOVERS"]))


# --------------------------------------------------------------------------
# Isolation: a transaction rolled back after each test
# --------------------------------------------------------------------------


def _let_sessions_join_a_connection():
    """Flask-SQLAlchemy's Session.get_bind() answers the app's engine and ignores a
    `bind` given to the session factory; a subclass that honours it lets db.session
    (and FAB's security manager, which uses the same scoped session) join the test's
    connection. Only used while a test's transaction is open."""
    factory = db.session.session_factory
    base = factory.class_

    class JoinedSession(base):
        def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
            if bind is None and self.bind is not None:
                if threading.get_ident() != _Outer.thread:
                    # one connection must not serve two threads; the thread may swallow
                    # this, so the test fails at its end too
                    _Outer.misuse.append(threading.current_thread().name)
                    raise RuntimeError(MISUSE)
                return self.bind
            return super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)

    factory.class_ = JoinedSession


MISUSE = (
    "db.session was used from another thread inside a test's rolled-back transaction "
    "(one connection cannot serve two threads): mark the test @pytest.mark.commits"
)


class _Outer:
    """The connection, in its outer transaction, that db.session joins. When one is
    open already (data a module's tests share), a test nests in it with a SAVEPOINT."""

    conn = None
    thread = None
    misuse: list = []


@contextlib.contextmanager
def joined_transaction():
    """Run the block in a transaction that is rolled back at its end; db.session (in
    any app context of this thread) joins it and turns its commits into SAVEPOINTs."""
    factory = db.session.session_factory
    db.session.remove()
    outermost = _Outer.conn is None
    sqlite = raw = legacy_level = None
    if outermost:
        conn = db.engine.connect()
        raw = conn.connection.dbapi_connection
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            # pysqlite neither BEGINs before a SAVEPOINT nor keeps a released one in the
            # enclosing transaction: take transaction control from it and BEGIN ourselves
            # (the SQLAlchemy SQLite docs' recipe). The app's connect-time pragmas (WAL,
            # foreign keys) ran already, outside any transaction, as they must.
            legacy_level = raw.isolation_level
            raw.isolation_level = None
        trans = conn.begin()
        if sqlite:
            conn.exec_driver_sql("BEGIN")
        _Outer.conn, _Outer.thread = conn, threading.get_ident()
    else:
        conn = _Outer.conn
        trans = conn.begin_nested()
    factory.configure(bind=conn, join_transaction_mode="create_savepoint")
    try:
        yield conn
    finally:
        db.session.remove()
        if trans.is_active:
            trans.rollback()
        if outermost:
            if sqlite:
                raw.isolation_level = legacy_level
            conn.close()
            _Outer.conn = _Outer.thread = None
            factory.configure(bind=None)
            factory.kw.pop("join_transaction_mode", None)


def _rollups_agree():
    """After every test that left appeals or visits: the figures' roll-ups equal a count of the
    appeals (app.services.rollups.check), the visit tally a count of the visits
    (app.services.tally.check) and the visit quota cells a count of the people and the tally
    (app.services.quotas.cells.differences), whatever the test did to them."""
    from app.models.appeals import Appeal, AppealRollup
    from app.models.visits import Visit, VisitGridTally
    from app.services import rollups, tally

    db.session.rollback()  # what the test left unfinished was never written
    if db.session.scalar(select(func.count()).select_from(Appeal)) or db.session.scalar(
        select(func.count()).select_from(AppealRollup)
    ):
        differences = rollups.check(db.session)
        db.session.rollback()
        assert differences == [], "roll-ups differ from the appeals:\n" + "\n".join(
            rollups.describe(d) for d in differences[:20]
        )
    if db.session.scalar(select(func.count()).select_from(Visit)) or db.session.scalar(
        select(func.count()).select_from(VisitGridTally)
    ):  # the visit tally too (visits made, 走访率, quotas read it)
        differences = tally.check(db.session, limit=20)
        db.session.rollback()
        assert differences == [], f"the visit tally differs from the visits: {differences}"
        from app.services import follow_ups

        wrong = follow_ups.check(db.session, limit=20)
        db.session.rollback()
        assert wrong == [], f"visit.follow_up_open differs from the visits: {wrong}"

    from app.models.representatives import ContactRecord, ContactTally
    from app.services.representatives import contact_tally

    if db.session.scalar(select(func.count()).select_from(ContactRecord)) or db.session.scalar(
        select(func.count()).select_from(ContactTally)
    ):  # the representatives' contact tally (the progress figures read it)
        differences = contact_tally.check(db.session, limit=20)
        db.session.rollback()
        assert differences == [], f"the contact tally differs from the contact records: {differences}"

    from app.models.visits import QuotaCell, QuotaRule
    from app.services.quotas import cells

    if db.session.scalar(select(func.count()).select_from(QuotaRule)) or db.session.scalar(
        select(func.count()).select_from(QuotaCell)
    ):
        differences = cells.differences(db.session)
        db.session.rollback()
        assert differences == [], "quota cells differ from a count:\n" + "\n".join(
            cells.describe(d) for d in differences[:20]
        )


def _forget_memos(app):
    runtime.forget()  # nor entry classes the definitions they were built from
    settings.restore_defaults(app)  # nor settings a rolled-back or emptied `setting` table overrode


@pytest.fixture(autouse=True)
def _clean(request, app):
    """Each test starts from the seed (roles, permissions, lookups) and nothing else."""
    with app.app_context():
        if request.node.get_closest_marker("commits"):
            try:
                yield
                db.session.remove()
                _rollups_agree()
            finally:
                db.session.rollback()
                db.session.remove()
                _forget_memos(app)
                _wipe(app)
        else:
            _Outer.misuse.clear()
            try:
                with joined_transaction():
                    yield
                    _rollups_agree()
            finally:
                _forget_memos(app)
            assert not _Outer.misuse, f"{MISUSE} (threads: {_Outer.misuse})"
            # what a test committed past its transaction (another connection) would leak into the next ones
            left = _leftovers(app)
            if left:
                _wipe(app)
                pytest.fail(
                    f"rows left in {left} after the rolled-back transaction: mark the test @pytest.mark.commits"
                )


def _wipe(app):
    """Delete what a committing test left: every non-seed row (schema read once per run)."""
    meta = app.config["_TEST_SCHEMA"]
    seed_max = app.config["_SEED_MAX_IDS"]
    # the FTS indexes and their shadow tables follow their tables' rows by triggers: never by hand
    data_tables = [t for t in reversed(meta.sorted_tables) if t.name not in SEED_TABLES and not is_search_index(t.name)]
    with db.engine.begin() as conn:
        # DELETE, children first: on the few rows tests leave, much quicker than PostgreSQL's
        # TRUNCATE (ids are not restarted: the rolled-back tests do not restart them either)
        for table in data_tables:
            conn.execute(table.delete())
        assoc = meta.tables["ab_permission_view_role"]
        conn.execute(assoc.delete().where(assoc.c.role_id > seed_max["ab_role"]))
        for name, max_id in seed_max.items():
            if name != "ab_permission_view_role":
                table = meta.tables[name]
                conn.execute(table.delete().where(table.c.id > max_id))


# --------------------------------------------------------------------------
# Shared fixtures and helpers
# --------------------------------------------------------------------------


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def session(app):
    return db.session


@pytest.fixture
def sm(app):
    return app.appbuilder.sm


@pytest.fixture
def world(app):
    """The grid tree of tests.factories.tree() and one person in each township's first
    village: pa in a1 (甲村干部), pb in b1 (乙村干部). A test file adds its own parts on
    top by overriding it: `def world(world): world["x"] = ...; return world`."""
    from tests.factories import world as build

    return build()


@contextlib.contextmanager
def statements_seen():
    """The SQL statements sent to the database inside the block (a list, filled as they go)."""
    seen = []

    def remember(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", remember)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", remember)


MIGRATIONS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "migrations", "versions")


def run_migration_fill(filename):
    """Run the `_fill(conn)` of migration `filename` on the test's connection, its `op.execute`
    sent there too: what an upgrade writes into a table, compared with the service's own rebuild."""
    fill = run_path(os.path.join(MIGRATIONS, filename))["_fill"]
    conn = db.session.connection()
    fill.__globals__["op"] = SimpleNamespace(execute=lambda sql: conn.exec_driver_sql(sql))
    fill(conn)


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
