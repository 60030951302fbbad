"""every text field has a maximum length, kept by the database too

The long texts (TEXT columns) get the lengths the models declare (LongText(n)), checked
by triggers on insert and on an update of that column: rows written before the limit
existed keep their text, and their other fields can still change (a CHECK constraint would
refuse any update of such a row). PostgreSQL already keeps VARCHAR(n) lengths; SQLite keeps
none, so there every VARCHAR(n) of the application's tables gets such triggers too. A later migration that adds a text column, or rebuilds a SQLite table (batch mode
drops its triggers), calls `sqlite_length_triggers(bind, table)` again;
tests/test_lengths.py fails when a bounded column is left unchecked.

Revision ID: 0026_text_limits
Revises: 0025_versions
"""

import sqlalchemy as sa
from alembic import op

revision = "0026_text_limits"
down_revision = "0025_versions"
branch_labels = None
depends_on = None

NOTE, LONG = 1000, 2000
LIMITS = {
    ("appeal", "content"): LONG,
    ("appeal", "extension_reason"): NOTE,
    ("appeal", "extension_progress"): NOTE,
    ("appeal", "supervision_note"): NOTE,
    ("appeal", "feedback"): LONG,
    ("appeal", "evaluation_comment"): NOTE,
    ("appeal_event", "note"): LONG,
    ("grid", "description"): NOTE,
    ("person", "note"): NOTE,
    ("post", "duty"): LONG,
    ("post", "reward_penalty"): LONG,
    ("assignment", "duty_note"): NOTE,
    ("register_def", "description"): NOTE,
    ("constituency", "note"): NOTE,
    ("representative", "note"): NOTE,
    ("contact_record", "voter_names"): LONG,
    ("contact_record", "opinions"): LONG,
    ("contact_record", "replies"): LONG,
    ("visit", "situation"): LONG,
    ("visit", "problems"): LONG,
    ("visit", "actions"): LONG,
    ("visit", "result"): LONG,
    ("quota_rule", "note"): NOTE,
}


def _app_tables(bind):
    names = sa.inspect(bind).get_table_names()
    return [n for n in names if n != "alembic_version" and not n.startswith(("ab_", "reg_", "sqlite_"))]


def _limits_of(bind, table):
    """{column: max characters} of `table`: its VARCHAR(n) columns and its long texts."""
    out = {}
    for column in sa.inspect(bind).get_columns(table):
        length = getattr(column["type"], "length", None)
        if isinstance(column["type"], sa.String) and length:
            out[column["name"]] = length
    for (name, column), length in LIMITS.items():
        if name == table:
            out[column] = length
    return out


def sqlite_length_triggers(bind, table):
    """(Re)create the length triggers of one SQLite table."""
    _drop_sqlite_triggers(bind, table)
    limits = _limits_of(bind, table)
    if not limits:
        return
    message = f"minqing: a text is too long for {table}"
    over = " OR ".join(f'length(NEW."{c}") > {n}' for c, n in sorted(limits.items()))
    op.execute(
        f'CREATE TRIGGER "ck_len_{table}_insert" BEFORE INSERT ON "{table}" WHEN {over} '
        f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
    )
    for column, length in sorted(limits.items()):
        op.execute(
            f'CREATE TRIGGER "ck_len_{table}_{column}" BEFORE UPDATE OF "{column}" ON "{table}" '
            f'WHEN length(NEW."{column}") > {length} BEGIN SELECT RAISE(ABORT, \'{message}\'); END'
        )


def _drop_sqlite_triggers(bind, table):
    names = bind.execute(
        sa.text("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :t AND name LIKE 'ck_len_%'"),
        {"t": table},
    ).scalars()
    for name in list(names):
        op.execute(f'DROP TRIGGER IF EXISTS "{name}"')


PG_FUNCTION = """
CREATE OR REPLACE FUNCTION minqing_check_length() RETURNS trigger AS $$
BEGIN
    IF char_length(to_jsonb(NEW) ->> TG_ARGV[0]) > TG_ARGV[1]::integer THEN
        RAISE EXCEPTION 'minqing: a text is too long for %.%', TG_TABLE_NAME, TG_ARGV[0]
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql
"""


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        for (table, column), length in LIMITS.items():
            op.execute(
                f'CREATE TRIGGER "ck_len_{table}_{column}" BEFORE INSERT OR UPDATE OF "{column}" ON "{table}" '
                f"FOR EACH ROW EXECUTE FUNCTION minqing_check_length('{column}', '{length}')"
            )
    elif bind.dialect.name == "sqlite":
        for table in _app_tables(bind):
            sqlite_length_triggers(bind, table)


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for table, column in LIMITS:
            op.execute(f'DROP TRIGGER IF EXISTS "ck_len_{table}_{column}" ON "{table}"')
        op.execute("DROP FUNCTION IF EXISTS minqing_check_length()")
    elif bind.dialect.name == "sqlite":
        for table in _app_tables(bind):
            _drop_sqlite_triggers(bind, table)
