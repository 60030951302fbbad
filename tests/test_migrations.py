"""Migrations own the schema: upgrade from empty and downgrade to empty, on SQLite and PostgreSQL."""

import os
import uuid

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, inspect, text

from app.extensions import db

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _alembic(app, engine):
    cfg = Config(os.path.join(ROOT, "migrations", "alembic.ini"))
    cfg.set_main_option("script_location", os.path.join(ROOT, "migrations"))
    return cfg


def _round_trip(app, url):
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            cfg = _alembic(app, engine)
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, "head")
            tables = set(inspect(connection).get_table_names())
            assert {"grid", "person", "post", "assignment", "ab_user", "grid_level"} <= tables
            # what the migrations built is what the models describe
            from alembic.autogenerate import compare_metadata
            from alembic.migration import MigrationContext
            from flask_appbuilder import Model

            from app.models.registers import include_in_schema

            context = MigrationContext.configure(connection, opts={"include_object": include_in_schema})
            diff = compare_metadata(context, Model.metadata)
            assert diff == [], diff
            command.downgrade(cfg, "base")
            left = set(inspect(connection).get_table_names()) - {"alembic_version"}
            assert left == set()
            connection.commit()
    finally:
        engine.dispose()


def test_sqlite_upgrade_and_downgrade(app, tmp_path):
    with app.app_context():
        _round_trip(app, f"sqlite:///{tmp_path}/migrate.db")


@pytest.mark.skipif(not os.environ.get("MINQING_TEST_DATABASE_URL"), reason="PostgreSQL not configured")
def test_postgresql_upgrade_and_downgrade(app):
    base = os.environ["MINQING_TEST_DATABASE_URL"]
    name = f"minqing_migr_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = base.rsplit("/", 1)[0] + "/" + name
        with app.app_context():
            _round_trip(app, url)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()
    assert db is not None
