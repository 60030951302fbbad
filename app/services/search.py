"""Substring search ("contains", "starts with") on text columns, served by an index.

One mechanism for the appeal list and its API, the pickers and the register entries: a
condition is the plain, case-insensitive LIKE a table scan would run (with `%`, `_` and `\\`
taken literally, so a clerk's "100%" finds "100%"), and where an index can answer it, the
index narrows the rows first:

* PostgreSQL: a GIN trigram index (`pg_trgm`, `gin_trgm_ops`) serves the ILIKE itself for terms
  of three characters or more (migrations 0024 and 0040). A term of two characters (a surname
  and a given name, the common case) has no trigram: for the reporter's name a GIN index of
  the name's character pairs, each alone and with the block of grid ids the appeal lies in
  (`minqing_name_keys`, migration 0048, no extension needed), narrows it to the matches in and
  near the blocks of the user's grids (`grids`: the scope's choice, `name_keys`), and the ILIKE
  rechecks. Without `pg_trgm` (a database user that may not create the extension) the ILIKE
  scans, with the same results.
* SQLite: an FTS5 table with the trigram tokenizer beside the column (external content: no copy
  of the text, kept by triggers, `fts_statements`) gives the rows holding the term's trigrams;
  the LIKE rechecks them, so the rows are those of the scan, one for one. A term of two
  characters in the reporter's name reads a table of the name's character pairs beside it
  (`appeal__pairs_reporter_name`, migration 0049, kept by triggers, `pairs_statements`).

Shorter terms, and databases without the index, scan: slower, never different.
"""

from __future__ import annotations

import sqlite3

from flask import current_app, has_app_context
from sqlalchemy import Integer, and_, column, func, literal, literal_column, select, table, text
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.dialects import postgresql

from app.core.cache import memo
from app.extensions import db

SHORTEST = 3  # a trigram index answers terms of three characters or more
PAIRS = 2  # ...and the name's pair index terms of exactly two (PostgreSQL)
ESCAPE = "\\"

# columns whose two-character terms the pair index serves on PostgreSQL: (table, column) -> the
# grid column its keys are blocked by (migration 0048's `minqing_name_keys(column, grid column)`)
PAIR_INDEXED = {("appeal", "reporter_name"): "grid_id"}
# the grid-id blocks of the keys (2**6 and 2**11 grids), as migration 0048's function writes them
BLOCK_SHIFTS = (6, 11)
MOST_KEYS = 64  # more blocks than this at every size: the pair alone (the scope clause still filters)
LONGEST_KEYED = 6  # a name searched by its pairs' keys within a jurisdiction (longer: the trigram index)


def escape_like(term):
    """`term` as a LIKE pattern matching itself only (`%`, `_` and the escape are literal)."""
    return term.replace(ESCAPE, ESCAPE * 2).replace("%", ESCAPE + "%").replace("_", ESCAPE + "_")


def plain(col, term, starts=False):
    """The scan's condition: `col` contains (or starts with) `term`, ignoring case."""
    pattern = escape_like(term) + "%"
    return col.ilike(pattern if starts else "%" + pattern, escape=ESCAPE)


def contains(col, term, starts=False, session=None, grids=None, indexed=True, scan_common=False):
    """`col` (a model's text column) contains `term` — or starts with it — ignoring case; an
    index narrows the rows where the database has one for the column and the term is long
    enough. The model needs an integer `id` (the FTS table's rowid). `grids`: the grids the
    query is restricted to anyway (`scope.grid_choice`), which lets the pair index read only the
    matches near them; without it, the pair index reads every match (never fewer rows: the
    keys only narrow what the query's own scope condition then filters). `indexed=False`: the
    plain scan's condition alone (app.views.few_rows `dense`); `scan_common`: so too when the term
    is too common for the index (`_too_common`; a list's count, app.views.few_rows `counting`)."""
    term = str(term or "")
    condition = plain(col, term, starts)
    if not indexed:
        return condition
    session = session or db.session
    dialect = session.get_bind().dialect.name
    prop = col.property.columns[0]
    table_name = prop.table.name
    grid_column = PAIR_INDEXED.get((table_name, prop.name))
    if scan_common and dialect == "postgresql" and len(term) >= SHORTEST and _too_common(session, col, term, starts):
        return plain(col.concat(literal("")), term, starts)  # (an expression: no index serves it)
    if dialect == "sqlite" and len(term) >= SHORTEST:
        fts = fts_table_name(table_name, prop.name)
        if _fts_exists(session, fts):
            return and_(col.class_.id.in_(fts_rowids(fts, term)), condition)
    if dialect == "sqlite" and len(term) == PAIRS and grid_column:
        pairs = pairs_table_name(table_name, prop.name)
        if _fts_exists(session, pairs):
            pairs_table = table(pairs, column("pair"), column("row_id", Integer))
            found = select(pairs_table.c.row_id).where(pairs_table.c.pair == func.lower(term))
            return and_(col.class_.id.in_(found), condition)
    if dialect == "postgresql" and grid_column and PAIRS <= len(term) <= LONGEST_KEYED:
        suffixes = name_keys(grids)
        if len(term) == PAIRS or suffixes != [""]:
            # each pair of the term in the blocks of the user's grids (a longer name too: the trigram
            # index's matches across the city would meet the county's whole grid range in a bitmap)
            keyed = func.minqing_name_keys(col, getattr(col.class_, grid_column))
            pairs = sorted({term[i : i + PAIRS] for i in range(len(term) - 1)})
            found = [keyed.op("&&")(postgresql.array([func.lower(p + s) for s in suffixes])) for p in pairs]
            return and_(*found, condition)
    return condition


# The planner must know that a common name's keys in one county are few: with the default statistics
# it takes them for seven times as many and ANDs the county's whole grid-id range into the bitmap (a
# city's county leader: 135 ms for what the keys alone find in 5). A larger sample of the keys
# (ANALYZE of the city's appeals: ~18 s, autovacuum's too) records the common ones.
NAME_KEYS_INDEX = "ix_appeal_reporter_name_keys"
NAME_KEYS_STATISTICS = f"ALTER INDEX {NAME_KEYS_INDEX} ALTER COLUMN 1 SET STATISTICS 1000"


def _too_common(session, col, term, starts):
    """PostgreSQL: the planner's own estimate (pg_trgm's statistics: a common phrase's 2 million of
    a city's 10 million appeals, exactly) of the rows the term's trigrams would hand over reaches
    TEXT_INDEX_MOST_ROWS. Its cost model takes a GIN bitmap of 2 million entries for cheap (280 ms)
    and ANDs it with a township's 50,000 rows, where reading those rows and checking the text
    meets the matches in 58 ms; so such a term is searched without the index. One EXPLAIN (~1 ms)
    per column and term, once a request."""
    most = int(current_app.config.get("TEXT_INDEX_MOST_ROWS") or 0) if has_app_context() else 0
    if most <= 0:
        return False
    prop = col.property.columns[0]
    pattern = escape_like(term) + "%"
    pattern = pattern if starts else "%" + pattern
    sql = f'EXPLAIN (FORMAT JSON) SELECT 1 FROM "{prop.table.name}" WHERE "{prop.name}" ILIKE :p ESCAPE :e'

    def estimate():
        plan = session.execute(text(sql), {"p": pattern, "e": ESCAPE}).scalar()
        return float(plan[0]["Plan"]["Plan Rows"])

    return memo(("text_index_estimate", prop.table.name, prop.name, pattern), estimate) >= most


def name_keys(grids):
    """The key suffixes a pair is looked up with: the blocks covering `grids` (("ids", [id, ...]) or
    ("runs", [(lowest, highest), ...]), as `scope.grid_choice` gives them) at the smallest block
    size needing at most MOST_KEYS keys; [""] (the pair alone: every match) for any other scope."""
    how, value = grids or (None, None)
    spans = [(i, i) for i in value] if how == "ids" else value if how == "runs" else None
    if not spans:
        return [""]
    for shift in BLOCK_SHIFTS:
        blocks = set()
        for low, high in spans:
            first, last = low >> shift, high >> shift
            if last - first >= MOST_KEYS:
                break
            blocks.update(range(first, last + 1))
            if len(blocks) > MOST_KEYS:
                break
        else:
            return [f"|{shift}|{block}" for block in sorted(blocks)]
    return [""]


def fts_rowids(fts, term):
    """SELECT the rowids of the FTS5 trigram table `fts` whose text holds `term` (case folded):
    a phrase of the term's trigrams, quoted so nothing in it is query syntax."""
    phrase = '"' + term.replace('"', '""') + '"'
    fts_table = table(fts, column("rowid", Integer))
    quoted = db.engine.dialect.identifier_preparer.quote(fts)
    return select(fts_table.c.rowid).where(literal_column(quoted).op("MATCH")(phrase))


def _fts_exists(session, name):
    found = session.execute(
        select(literal_column("1")).select_from(table("sqlite_master", column("type"), column("name")))
        .where(literal_column("type") == "table", literal_column("name") == name)
    ).first()  # fmt: skip
    return found is not None


# --------------------------------------------------------------------------
# The indexes (registers' tables: app.services.registers.schema; built-in ones: migrations)
# --------------------------------------------------------------------------


def fts_table_name(table_name, column_name):
    """SQLite: the full-text (trigram) index of one text column, kept by triggers."""
    return f"{table_name}__fts_{column_name}"


def is_fts_table(name):
    """An FTS index or one of its shadow tables (`…__fts_col_data`, `_idx`, `_docsize`, `_config`):
    the database keeps them; nothing deletes their rows by hand."""
    return "__fts_" in name


def fts_statements(table_name, column_name):
    """SQLite DDL of the FTS5 trigram index of `table_name.column_name`: the table (external
    content, rowid = the row's id), filled from the rows, and the triggers that keep it."""
    name = fts_table_name(table_name, column_name)
    fts, tbl, col = f'"{name}"', f'"{table_name}"', f'"{column_name}"'
    return [
        f"CREATE VIRTUAL TABLE {fts} USING fts5({col}, content={tbl}, content_rowid='id', tokenize='trigram')",
        f"INSERT INTO {fts}({fts}) VALUES ('rebuild')",
        f'CREATE TRIGGER "{name}_ai" AFTER INSERT ON {tbl} BEGIN '
        f"INSERT INTO {fts}(rowid, {col}) VALUES (new.id, new.{col}); END",
        f'CREATE TRIGGER "{name}_ad" AFTER DELETE ON {tbl} BEGIN '
        f"INSERT INTO {fts}({fts}, rowid, {col}) VALUES ('delete', old.id, old.{col}); END",
        f'CREATE TRIGGER "{name}_au" AFTER UPDATE OF {col} ON {tbl} BEGIN '
        f"INSERT INTO {fts}({fts}, rowid, {col}) VALUES ('delete', old.id, old.{col}); "
        f"INSERT INTO {fts}(rowid, {col}) VALUES (new.id, new.{col}); END",
    ]


def pairs_table_name(table_name, column_name):
    """SQLite: the character pairs of one text column (two-character terms), kept by triggers."""
    return f"{table_name}__pairs_{column_name}"


# the longest text a pairs table indexes (appeal.reporter_name is a String(50), length-checked), and
# the positions a pair may start at (json_each: a trigger may not hold a WITH)
LONGEST_PAIRED = 50
PAIR_POSITIONS = "'[" + ",".join(str(i) for i in range(1, LONGEST_PAIRED)) + "]'"


def _pairs_of(row, col, row_id):
    """SELECT (pair, id) of each distinct character pair of `row`.`col` (in a trigger: new, old)."""
    return (
        f"SELECT DISTINCT lower(substr({row}.{col}, value, 2)), {row_id} FROM json_each({PAIR_POSITIONS}) "
        f"WHERE value < length({row}.{col})"
    )


def pairs_fill_statement(table_name, column_name):
    """SQLite: fill the pairs table of `table_name.column_name` from the rows (the migration, a bulk
    load): the positions as a WITH (three times quicker than json_each per row: 8 s a million)."""
    name, col = pairs_table_name(table_name, column_name), f'"{column_name}"'
    return (
        f'INSERT OR IGNORE INTO "{name}"(pair, row_id) '
        f"WITH RECURSIVE n(value) AS (SELECT 1 UNION ALL SELECT value + 1 FROM n WHERE value < {LONGEST_PAIRED - 1}) "
        f'SELECT lower(substr(t.{col}, n.value, 2)), t.id FROM "{table_name}" AS t JOIN n ON n.value < length(t.{col})'
    )


def pairs_statements(table_name, column_name):
    """SQLite DDL of the character-pair index of `table_name.column_name` (each distinct pair of a
    row's text, lower case as LIKE folds it, with the row's id; the primary key answers a pair),
    filled from the rows, and the triggers that keep it."""
    name = pairs_table_name(table_name, column_name)
    pairs, tbl, col = f'"{name}"', f'"{table_name}"', f'"{column_name}"'
    return [
        f"CREATE TABLE {pairs} (pair TEXT NOT NULL, row_id INTEGER NOT NULL, PRIMARY KEY (pair, row_id)) WITHOUT ROWID",
        pairs_fill_statement(table_name, column_name),
        f'CREATE TRIGGER "{name}_ai" AFTER INSERT ON {tbl} BEGIN '
        f"INSERT OR IGNORE INTO {pairs}(pair, row_id) {_pairs_of('new', col, 'new.id')}; END",
        f'CREATE TRIGGER "{name}_ad" AFTER DELETE ON {tbl} BEGIN '
        f"DELETE FROM {pairs} WHERE (pair, row_id) IN ({_pairs_of('old', col, 'old.id')}); END",
        f'CREATE TRIGGER "{name}_au" AFTER UPDATE OF {col} ON {tbl} BEGIN '
        f"DELETE FROM {pairs} WHERE (pair, row_id) IN ({_pairs_of('old', col, 'old.id')}); "
        f"INSERT OR IGNORE INTO {pairs}(pair, row_id) {_pairs_of('new', col, 'new.id')}; END",
    ]


def sqlite_has_json(connection):
    """json_each (SQLite's JSON functions, built in since 3.38 and in most builds before)."""
    try:
        connection.exec_driver_sql("SELECT count(*) FROM json_each('[1]')").scalar()
    except Exception:  # noqa: BLE001 - any failure: no JSON functions in this build
        return False
    return True


def ensure_pairs(connection, table_name, column_name):
    """Create the character-pair index of a column when SQLite can and it is missing."""
    if pairs_table_name(table_name, column_name) in set(sa_inspect(connection).get_table_names()):
        return
    if not sqlite_has_json(connection):
        return
    for statement in pairs_statements(table_name, column_name):
        connection.exec_driver_sql(statement)


def sqlite_has_trigram(connection):
    """FTS5 with the trigram tokenizer (SQLite 3.34 and later, when compiled with FTS5)."""
    options = {row[0] for row in connection.exec_driver_sql("PRAGMA compile_options")}
    return "ENABLE_FTS5" in options and sqlite3.sqlite_version_info >= (3, 34)


def ensure_fts(connection, table_name, column_name):
    """Create the FTS5 trigram index of a column when SQLite can and it is missing."""
    if not sqlite_has_trigram(connection):
        return
    if fts_table_name(table_name, column_name) in set(sa_inspect(connection).get_table_names()):
        return
    for statement in fts_statements(table_name, column_name):
        connection.exec_driver_sql(statement)


def has_pg_trgm(connection):
    return bool(connection.exec_driver_sql("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'").scalar())


# the appeal columns migration 0040 indexes (the list's search box, the API, the picker)
APPEAL_COLUMNS = ("reporter_name", "content", "number")
PG_TRGM_MISSING = (
    "本数据库未安装 pg_trgm：诉求检索逐行扫描。请数据库管理员在本库执行 CREATE EXTENSION IF NOT EXISTS pg_trgm; "
    "再运行 flask minqing init 建立索引。pg_trgm is not installed in this database: appeal search scans the "
    "table. A superuser runs CREATE EXTENSION IF NOT EXISTS pg_trgm; in this database, then flask minqing init "
    "adds the indexes."
)


def trigram_index_name(table_name, column_name):
    return f"ix_{table_name}_{column_name}_trgm"


def ensure_indexes(connection):
    """Add the built-in search indexes (migration 0040's) that are missing: the trigram indexes
    of a PostgreSQL where pg_trgm was installed after the upgrade, an FTS table lost on SQLite.
    False when PostgreSQL has no pg_trgm (searches scan; `PG_TRGM_MISSING` says what to do)."""
    if connection.dialect.name == "sqlite":
        for name in APPEAL_COLUMNS:
            ensure_fts(connection, "appeal", name)
        for table_name, column_name in PAIR_INDEXED:
            ensure_pairs(connection, table_name, column_name)
        return True
    if connection.dialect.name != "postgresql":
        return True
    if not has_pg_trgm(connection):
        return False
    have = {i["name"] for i in sa_inspect(connection).get_indexes("appeal")}
    for name in APPEAL_COLUMNS:
        index = trigram_index_name("appeal", name)
        if index not in have:
            connection.exec_driver_sql(f"CREATE INDEX {index} ON appeal USING gin ({name} gin_trgm_ops)")
    return True
