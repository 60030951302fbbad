"""The tables of register entries, kept in step with their definitions.

Every register's entries live in `reg_<code>` (and one `reg_<code>__<field>` table per
multiple-choice field). `sync_schema()` compares what a definition needs with what the
database has and adds what is missing — tables, columns, indexes — inside the caller's
transaction (PostgreSQL and SQLite both roll DDL back with it). It never drops: a removed
field keeps its column and data (restorable), and a type change writes the converted
values into a new column, leaving the old one as it was.

This is the one place the application writes DDL itself; the migrations own every other
table (the register tables are left out of their comparisons, see migrations/env.py).
"""

from __future__ import annotations

from sqlalchemy import inspect as sa_inspect

from app.models.mixins import LongText
from app.models.registers import FieldType, index_name, multi_table, multi_table_name, physical_column
from app.services import search


def _existing(connection):
    inspector = sa_inspect(connection)
    tables = set(inspector.get_table_names())
    return inspector, tables


def sync_schema(connection, spec, entry_class):
    """Create or extend the tables of register `spec` (its built `entry_class`)."""
    inspector, tables = _existing(connection)
    table = entry_class.__table__
    if spec.table_name not in tables:
        table.create(connection)
    else:
        have = {c["name"] for c in inspector.get_columns(spec.table_name)}
        for field in spec.fields:
            column = physical_column(field)
            if column is not None and column.name not in have:
                _add_column(connection, spec.table_name, column)
        have_indexes = {i["name"] for i in inspector.get_indexes(spec.table_name)}
        for index in table.indexes:
            if index.name not in have_indexes:
                index.create(connection)
    for field in spec.fields:
        if field.type == FieldType.MULTICHOICE and multi_table_name(spec, field) not in tables:
            entry_class.metadata.tables[multi_table_name(spec, field)].create(connection)
    if connection.dialect.name == "postgresql":
        _trigram_indexes(connection, spec)
    elif connection.dialect.name == "sqlite":
        _fts_indexes(connection, spec)
    _length_triggers(connection, table)


def _length_limits(table):
    """{column: most characters} of a register table's texts (String(n), LongText(n))."""
    return {c.name: c.type.length for c in table.columns if getattr(c.type, "length", None)}


def _length_triggers(connection, table):
    """The database keeps a register's text lengths as it does the built-in tables' (migration
    0026): SQLite does not enforce VARCHAR(n), so triggers do; PostgreSQL's VARCHAR(n) does,
    and its long texts get 0026's `minqing_check_length` trigger. Made again at every sync
    (same names as 0026's), so a field added later is covered too."""
    limits = _length_limits(table)
    name, quoted = table.name, connection.dialect.identifier_preparer.quote(table.name)
    message = f"minqing: a text is too long for {name}"
    if connection.dialect.name == "sqlite":
        old = connection.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ? AND name LIKE 'ck_len_%'", (name,)
        ).scalars()
        for trigger in list(old):
            connection.exec_driver_sql(f'DROP TRIGGER IF EXISTS "{trigger}"')
        if not limits:
            return
        over = " OR ".join(f'length(NEW."{c}") > {n}' for c, n in sorted(limits.items()))
        connection.exec_driver_sql(
            f'CREATE TRIGGER "ck_len_{name}_insert" BEFORE INSERT ON {quoted} WHEN {over} '
            f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
        )
        for column, length in sorted(limits.items()):
            connection.exec_driver_sql(
                f'CREATE TRIGGER "ck_len_{name}_{column}" BEFORE UPDATE OF "{column}" ON {quoted} '
                f"WHEN length(NEW.\"{column}\") > {length} BEGIN SELECT RAISE(ABORT, '{message}'); END"
            )
    elif connection.dialect.name == "postgresql":
        for column in table.columns:
            if isinstance(column.type, LongText):
                connection.exec_driver_sql(
                    f'CREATE OR REPLACE TRIGGER "ck_len_{name}_{column.name}" BEFORE INSERT OR UPDATE OF '
                    f'"{column.name}" ON {quoted} FOR EACH ROW EXECUTE FUNCTION '
                    f"minqing_check_length('{column.name}', '{column.type.length}')"
                )


def _fts_indexes(connection, spec):
    """SQLite: a "contains" search on a filterable text field reads an FTS5 trigram index of
    the column (app.services.search keeps the one mechanism), not every row."""
    for field in spec.fields:
        if field.filterable and field.type in (FieldType.TEXT, FieldType.TEXTAREA) and field.removed_at is None:
            search.ensure_fts(connection, spec.table_name, field.column)


def _trigram_indexes(connection, spec):
    """PostgreSQL: a "contains" search on a filterable text field uses a trigram index, not a scan."""
    if not search.has_pg_trgm(connection):
        return
    have = {i["name"] for i in sa_inspect(connection).get_indexes(spec.table_name)}
    preparer = connection.dialect.identifier_preparer
    for field in spec.fields:
        if field.filterable and field.type in (FieldType.TEXT, FieldType.TEXTAREA) and field.removed_at is None:
            name = f"ix_{spec.code}_{field.code}_trgm"[:60]
            if name not in have:
                connection.exec_driver_sql(
                    f"CREATE INDEX {preparer.quote(name)} ON {preparer.quote(spec.table_name)} "
                    f"USING gin ({preparer.quote(field.column)} gin_trgm_ops)"
                )


def _add_column(connection, table_name, column):
    """ALTER TABLE … ADD COLUMN, nullable, with its foreign key where the database can say it."""
    preparer = connection.dialect.identifier_preparer
    type_sql = column.type.compile(dialect=connection.dialect)
    sql = f"ALTER TABLE {preparer.quote(table_name)} ADD COLUMN {preparer.quote(column.name)} {type_sql}"
    for fk in column.foreign_keys:
        target = fk.target_fullname.split(".")
        sql += f" REFERENCES {preparer.quote(target[0])} ({preparer.quote(target[1])})"
    connection.exec_driver_sql(sql)


def multi_table_for(metadata, spec, field):
    """The association table of a multiple-choice field (built on demand)."""
    name = multi_table_name(spec, field)
    return metadata.tables.get(name) or multi_table(metadata, spec, field)


def column_exists(connection, table_name, column_name):
    inspector = sa_inspect(connection)
    return any(c["name"] == column_name for c in inspector.get_columns(table_name))


def index_exists(connection, spec, field):
    return index_name(spec, field) in {i["name"] for i in sa_inspect(connection).get_indexes(spec.table_name)}
