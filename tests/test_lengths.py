"""Bounded text (issue 18, item 5): every text field has a maximum length, kept by the forms,
the API, the Excel import and the database (SQLite triggers, PostgreSQL VARCHAR and CHECK)."""

import pytest
from flask_appbuilder import Model
from sqlalchemy import JSON, String, TypeDecorator, func, inspect, select, text, update
from sqlalchemy.exc import DBAPIError

from app.extensions import db
from app.models.appeals import Appeal
from app.models.lookups import AppealCategory, AppealChannel
from app.models.personnel import Person
from app.services.records import column_bounds
from tests.conftest import api_token, login
from tests.factories import lookup, make_appeal, make_person, make_user, make_visit, tree
from tests.test_import import _upload

TOO_LONG = "最多 2000 个字"


def _text_columns():
    for mapper in Model.registry.mappers:
        table = mapper.local_table
        if table is None or table.name.startswith(("ab_", "reg_", "ext_")):  # FAB's; made by the app
            continue
        for column in table.columns:
            base = column.type.impl if isinstance(column.type, TypeDecorator) else column.type
            if isinstance(base, String) and not isinstance(base, JSON):
                yield table.name, column


def test_every_text_column_declares_a_maximum_length():
    unbounded = [f"{t}.{c.name}" for t, c in _text_columns() if column_bounds(c) is None]
    assert unbounded == []


def test_the_database_keeps_every_maximum(app):
    """A later migration that adds a text column (or rebuilds a SQLite table) keeps this true."""
    engine = db.engine
    missing = []
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            triggers = conn.execute(text("SELECT tbl_name, sql FROM sqlite_master WHERE type = 'trigger'")).all()
            for table, column in _text_columns():
                if not any(t == table and f'NEW."{column.name}"' in sql for t, sql in triggers):
                    missing.append(f"{table}.{column.name}")
        else:
            inspector = inspect(conn)
            triggers = conn.execute(text("SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal")).all()
            for table, column in _text_columns():
                reflected = next(c for c in inspector.get_columns(table) if c["name"] == column.name)
                if getattr(reflected["type"], "length", None) == column_bounds(column)[1]:
                    continue
                wanted = f"minqing_check_length('{column.name}', '{column_bounds(column)[1]}')"
                if not any(f" ON public.{table} " in sql and wanted in sql for (sql,) in triggers):
                    missing.append(f"{table}.{column.name}")
    assert missing == []


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE appeal SET content = :long",
        "UPDATE person SET name = :long",
        "UPDATE visit SET situation = :long",
    ],
)
def test_the_database_refuses_an_over_long_text_written_around_the_app(statement):
    t = tree()
    make_appeal(t["a1"])
    make_visit(t["a1"], [make_person(t["a1"])])
    with pytest.raises(DBAPIError):
        with db.session.begin_nested():  # raw SQL, around every check of the app
            db.session.execute(text(statement), {"long": "长" * 2001})
    assert db.session.scalar(select(func.max(func.length(Appeal.content)))) < 2001


def test_a_3_mb_appeal_content_is_refused_by_the_api(client):
    t = tree()
    headers = api_token(client, make_user("Clerk", t["ta"]))
    body = {
        "reporter_name": "王大姐",
        "content": "长" * (1024 * 1024),
        "channel": lookup(AppealChannel).id,
        "category": lookup(AppealCategory).id,
        "importance": "general",
        "grid": t["a1"].id,
    }
    response = client.post("/api/v1/appeal/", json=body, headers=headers)
    assert response.status_code == 422, response.get_data(as_text=True)[:300]
    assert "content" in str(response.json["message"])
    assert db.session.scalar(select(func.count()).select_from(Appeal)) == 0


def test_the_spec_documents_the_maximum(client):
    tree()
    headers = api_token(client, make_user("Admin"))
    schemas = client.get("/api/v1/_openapi", headers=headers).json["components"]["schemas"]
    assert schemas["AppealApi.post"]["properties"]["content"]["maxLength"] == 2000
    assert schemas["PersonApi.put"]["properties"]["note"]["maxLength"] == 1000


def test_an_over_long_form_field_is_an_error_at_the_field(client):
    t = tree()
    login(client, make_user("Clerk", t["ta"]))
    response = client.post(
        "/personview/add", data={"name": "长备注", "grid": str(t["a1"].id), "active": "y", "note": "注" * 1001}
    )
    assert response.status_code == 200 and "1000" in response.get_data(as_text=True)
    assert db.session.scalar(select(Person).where(Person.name == "长备注")) is None


def test_an_over_long_step_note_is_refused(client):
    t = tree()
    appeal = make_appeal(t["a1"])
    headers = api_token(client, make_user("Clerk", t["ta"]))
    response = client.post(
        f"/api/v1/appeal/{appeal.id}/assign", json={"handler_unit": "城管", "note": "注" * 2001}, headers=headers
    )
    assert response.status_code == 422 and "note" in str(response.json["message"])
    db.session.expire_all()
    assert db.session.get(Appeal, appeal.id).status == "registered"


def test_an_over_long_cell_is_a_row_error_in_an_import(client):
    t = tree()
    login(client, make_user("Clerk", t["ta"]))
    rows = [["姓名", "性别", "电话", "网格编码", "备注"], ["长备注", "男", "", "TA1", "注" * 1001]]
    body = _upload(client, "people", rows).get_data(as_text=True)
    assert "未导入任何数据" in body and "最多 1000 个字" in body
    assert db.session.scalar(select(Person).where(Person.name == "长备注")) is None


@pytest.mark.commits  # a trigger dropped and rows written through a connection of its own
def test_old_over_long_rows_do_not_block_other_changes():
    """Rows stored before the limits existed keep their text; other fields still change."""
    t = tree()
    appeal = make_appeal(t["a1"])
    engine = db.engine
    sqlite = engine.dialect.name == "sqlite"
    with engine.begin() as conn:  # as a database from before 0026 would hold it
        conn.execute(text('DROP TRIGGER "ck_len_appeal_content"' + ("" if sqlite else " ON appeal")))
        conn.execute(update(Appeal.__table__).values(content="长" * 3000))
        if not sqlite:
            conn.execute(
                text('CREATE TRIGGER "ck_len_appeal_content" BEFORE INSERT OR UPDATE OF "content" ON "appeal" '
                     "FOR EACH ROW EXECUTE FUNCTION minqing_check_length('content', '2000')")
            )  # fmt: skip
    try:
        db.session.expire_all()
        stored = db.session.get(Appeal, appeal.id)
        stored.reporter_unit = "县一中"
        db.session.commit()
        assert len(db.session.get(Appeal, appeal.id).content) == 3000
    finally:
        if sqlite:
            with engine.begin() as conn:
                conn.execute(
                    text(
                        'CREATE TRIGGER IF NOT EXISTS "ck_len_appeal_content" BEFORE UPDATE OF "content" ON "appeal" '
                        'WHEN length(NEW."content") > 2000 BEGIN SELECT RAISE(ABORT, \'minqing: a text is too '
                        "long for appeal'); END"
                    )
                )


def test_a_register_s_texts_are_kept_by_the_database_too():
    """A register made in the browser gets the same guard as the built-in tables: raw SQL
    around the app cannot store a text longer than its field allows (SQLite triggers; on
    PostgreSQL VARCHAR(n) and 0026's length trigger on long texts)."""
    from tests.registers_kit import make_entry, speakup

    register = speakup()
    t = tree()
    entry = make_entry(t["a1"], speaker="张三", matter="路灯")
    table = register.table_name
    for code, long in (("speaker", "长" * 201), ("matter", "长" * 4001), ("phone", "1" * 21)):
        column = register.field(code).column
        for statement in (f'UPDATE "{table}" SET "{column}" = :long WHERE id = :id',
                          f'INSERT INTO "{table}" (grid_id, "{column}") VALUES (:g, :long)'):  # fmt: skip
            with pytest.raises(DBAPIError) as refused:
                with db.session.begin_nested():
                    db.session.execute(text(statement), {"long": long, "id": entry.id, "g": t["a1"].id})
            assert "too long" in str(refused.value) or "value too long" in str(refused.value), refused.value
    matter = register.field("matter").column
    with db.session.begin_nested():  # at the limit is fine
        db.session.execute(
            text(f'UPDATE "{table}" SET "{matter}" = :ok WHERE id = :id'), {"ok": "长" * 4000, "id": entry.id}
        )
