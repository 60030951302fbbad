"""Alembic environment: the schema is FAB's Model.metadata (FAB's ab_* tables and ours)."""

import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app
from flask_appbuilder import Model

import app.models  # noqa: F401  (every table on the metadata)
from app.core.nodes import migrate_lock
from app.models.registers import include_in_schema

config = context.config
if config.config_file_name and not logging.getLogger().handlers:
    fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")

target_metadata = Model.metadata


def _engine():
    return current_app.extensions["migrate"].db.engine


def run_migrations_offline():
    url = _engine().url.render_as_string(hide_password=False)
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=url.startswith("sqlite"),
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    def process_revision_directives(context, revision, directives):
        if getattr(config.cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
            directives[:] = []
            logger.info("No changes in schema detected.")

    def run(connection):
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            process_revision_directives=process_revision_directives,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            include_object=include_in_schema,  # register tables (reg_*) are data, made by the app
        )
        with context.begin_transaction():
            context.run_migrations()

    given = config.attributes.get("connection")  # tests pass their own connection
    if given is not None:
        run(given)
        return
    # servers starting together: one migrates, the others wait and find the schema at head
    with migrate_lock(_engine()), _engine().connect() as connection:
        run(connection)
        if connection.in_transaction():
            connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
