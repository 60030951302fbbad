"""Appeal search served by an index (app.services.search): the reporter's name, the content and
the number, on the list page, the API and the picker, give exactly the rows a plain scan gives
(case-insensitive for latin, `%`, `_` and `\\` literal), never another grid's, and the database
reads the index to find them (SQLite: the FTS5 trigram tables; PostgreSQL: pg_trgm and the
name's pair index, EXPLAINed at 50,000 appeals)."""

import pathlib
import re
import threading
from runpy import run_path
from urllib.parse import quote

import prison
import pytest
from sqlalchemy import event, select, text

from app.extensions import db
from app.models.appeals import Appeal
from app.services import scope, search
from tests.conftest import login, statements_seen
from tests.factories import make_appeal, make_user

NAMES = [
    "张三", "张三丰", "李张三", "王五", "Alice Wang", "ALICE", "li_ming", "liXming", "100%满意", "100满意",
    "50_50", "a\\b", "张_三", "张%三", "13800001111", "欧阳娜娜",
]  # fmt: skip
TERMS = [
    "张三", "张三丰", "三", "alice", "ALI", "ce w", "%", "_", "0%", "i_m", "\\", "1111", "0%满意", "张_三",
    "张%", "ming", "欧阳", "阳娜娜", "不存在", "路灯",
]  # fmt: skip


@pytest.fixture
def appeals(world):
    mine = []
    for i, name in enumerate(NAMES):
        grid = world["a1"] if i % 2 else world["a2"]
        mine.append(make_appeal(grid, reporter_name=name, content=f"反映{name}家门前路灯损坏（{i}）"))
    # another township's appeal that every term would find
    other = make_appeal(world["b1"], reporter_name="张三丰", content="张三丰 Alice 100%满意 i_m \\ 1111 欧阳娜娜 张_三")
    return mine, other


def expected(appeals, column, term):
    return sorted(a.number for a in appeals if term.lower() in getattr(a, column).lower())


def api_numbers(client, column, term, operation="ct"):
    q = prison.dumps({"filters": [{"col": column, "opr": operation, "value": term}], "page_size": 100})
    response = client.get(f"/api/v1/appeal/?q={quote(q)}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return sorted(row["number"] for row in response.json["result"])


def page_numbers(client, column, term, index=2):
    html = client.get(f"/appealview/list/?_flt_{index}_{column}={quote(term)}&psize_AppealView=100").get_data(
        as_text=True
    )
    return sorted(set(re.findall(r">(\d{9})</a>", html)))


@pytest.mark.parametrize("column", ["reporter_name", "content"])
def test_search_gives_the_scans_rows_and_never_another_grids(client, world, appeals, column):
    mine, other = appeals
    login(client, make_user("Leader", world["ta"]))
    for term in TERMS:
        want = expected(mine, column, term)
        assert api_numbers(client, column, term) == want, term
        assert page_numbers(client, column, term) == want, term
        assert other.number not in want
    # the number: starts with (the month's first digits), through the same mechanism
    prefix = mine[0].number[:7]
    assert api_numbers(client, "number", prefix, "sw") == sorted(a.number for a in mine)
    assert page_numbers(client, "number", prefix, index=0) == sorted(a.number for a in mine)


@pytest.mark.commits  # two threads, each with its own client, session and connection
def test_two_searches_of_one_list_at_once_each_get_their_own_rows(app, world, appeals):
    """A worker serves requests in threads and FAB keeps a list's search conditions on the
    view: two users searching the same list at the same moment each see their own term's rows."""
    mine, _ = appeals
    terms = ("张三", "alice", "欧阳", "ming")
    want = {term: expected(mine, "reporter_name", term) for term in terms}
    assert len({tuple(v) for v in want.values()}) == len(terms)
    leader = make_user("Leader", world["ta"])
    clients = [login(app.test_client(), leader) for _ in terms]
    barrier = threading.Barrier(len(terms))
    got, errors = {term: [] for term in terms}, []

    def search(client, term):
        try:
            barrier.wait(timeout=30)
            for _ in range(15):
                got[term].append(page_numbers(client, "reporter_name", term))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(repr(exc))

    threads = [threading.Thread(target=search, args=pair) for pair in zip(clients, terms, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    for term in terms:
        assert len(got[term]) == 15 and all(numbers == want[term] for numbers in got[term]), term


def test_the_picker_searches_the_same_way(client, world, appeals):
    mine, other = appeals
    login(client, make_user("Leader", world["ta"]))
    for term in ("张三", "张三丰", "0%满意", "_"):
        found = client.get(f"/picker/appeal?q={quote(term)}").json["results"]
        numbers = sorted(r["text"].split(" · ")[0] for r in found)
        assert numbers == expected(mine, "reporter_name", term), term


def test_three_characters_or_more_read_the_index(client, world, appeals):
    """SQLite: the FTS5 trigram table; PostgreSQL: the name's pair index for two characters
    (the trigram index serves the ILIKE itself: see the EXPLAIN test)."""
    login(client, make_user("Leader", world["ta"]))
    sqlite = db.engine.dialect.name == "sqlite"
    with statements_seen() as seen:
        client.get(f"/appealview/list/?_flt_2_reporter_name={quote('张三丰')}")
    assert any("appeal__fts_reporter_name" in s for s in seen) == sqlite
    with statements_seen() as seen:
        client.get(f"/appealview/list/?_flt_2_content={quote('路灯损坏')}")
    assert any("appeal__fts_content" in s for s in seen) == sqlite
    with statements_seen() as seen:
        client.get(f"/appealview/list/?_flt_2_reporter_name={quote('张三')}")
    assert not any("__fts_" in s for s in seen)
    assert any("minqing_name_keys" in s for s in seen) == (not sqlite)
    assert any("appeal__pairs_reporter_name" in s for s in seen) == sqlite


def test_the_fts_index_follows_edits_and_deletes(world):
    """The triggers keep the index: a corrected name is found by its new text, not its old."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's FTS tables")
    appeal = make_appeal(world["a1"], reporter_name="赵钱孙", content="反映排水沟堵塞问题")
    appeal.reporter_name = "周吴郑"
    db.session.commit()

    def found(term):
        return db.session.scalars(select(Appeal.id).where(search.contains(Appeal.reporter_name, term))).all()

    assert found("赵钱孙") == [] and found("周吴郑") == [appeal.id]
    db.session.delete(appeal)
    db.session.flush()
    assert db.session.execute(text("SELECT count(*) FROM appeal__fts_reporter_name")).scalar() == 0
    db.session.rollback()


# --------------------------------------------------------------------------
# The name's keys: the pair alone, and the pair with its grid's block (PostgreSQL, migration 0048)
# --------------------------------------------------------------------------


def test_name_keys_cover_the_grids_with_the_smallest_blocks_that_fit():
    assert search.name_keys(None) == search.name_keys(("all", None)) == search.name_keys(("subquery", None)) == [""]
    assert search.name_keys(("ids", [])) == [""]  # (the scope's own condition is false anyway)
    assert search.name_keys(("ids", [5, 63, 64, 700])) == ["|6|0", "|6|1", "|6|10"]
    assert search.name_keys(("runs", [(10, 200)])) == ["|6|0", "|6|1", "|6|2", "|6|3"]
    # a county's range: too many blocks of 64 grids, a few of 2,048
    assert search.name_keys(("runs", [(30000, 41000)])) == [f"|11|{b}" for b in range(14, 21)]
    # ids scattered over more than MOST_KEYS blocks of 64 but few of 2,048
    assert search.name_keys(("ids", list(range(0, 64 * 100, 64)))) == ["|11|0", "|11|1", "|11|2", "|11|3"]
    # a whole city: the pair alone
    assert search.name_keys(("runs", [(0, 10_000_000)])) == [""]


def test_the_databases_keys_and_the_searchs_agree(world):
    """Every appeal in a grid of the scope has a key the search asks for (PostgreSQL's function
    against the Python that names the blocks); a grid far outside has none."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's name keys")

    def found(name, grid, grids, term="张三"):
        keys = [term + suffix for suffix in search.name_keys(grids)]
        # lowered by the database, as `contains` has it lower each key
        sql = "SELECT minqing_name_keys(:name, :grid) && ARRAY(SELECT lower(k) FROM unnest(CAST(:keys AS text[])) k)"
        return db.session.execute(text(sql), {"name": name, "grid": grid, "keys": keys}).scalar()

    for grid in (1, 63, 64, 2047, 2048, 70000, 123456):
        for grids in (("ids", [grid]), ("ids", [grid, grid + 5000]), ("runs", [(max(0, grid - 90), grid + 3)]),
                      ("runs", [(max(0, grid - 9000), grid + 9000)]), ("runs", [(0, 10**7)]), ("all", None)):  # fmt: skip
            assert found("李张三丰", grid, grids), (grid, grids)
            assert not found("李张四", grid, grids), (grid, grids)  # no such pair
        assert not found("张三", grid, ("ids", [grid + 200_000])), grid  # another block at every size
    assert found("ALICE", 7, ("ids", [7]), term="Al")  # case folded as the ILIKE folds it


def test_the_name_keys_are_sampled_widely_for_the_planner(app):
    """The keys' statistics target (migration 0048, the generator's rebuilt index): without it the
    planner ANDs a county's whole grid range into a 2-character search (135 ms, not 5, at a city)."""
    module = run_path(str(pathlib.Path(search.__file__).parents[2] / "migrations/versions/0048_name_keys.py"))
    assert module["STATISTICS"] == search.NAME_KEYS_STATISTICS
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's statistics")
    target = db.session.execute(
        text("SELECT attstattarget FROM pg_attribute WHERE attrelid = CAST(:index AS regclass) AND attnum = 1"),
        {"index": search.NAME_KEYS_INDEX},
    ).scalar()
    assert target == 1000


def test_a_leaders_two_character_search_asks_for_their_blocks(client, world, appeals):
    """The list's statement narrows the name keys by the leader's grids (PostgreSQL), and the rows
    are the scan's (the test above: the keys only narrow what the scope then filters)."""
    mine, other = appeals
    login(client, make_user("Leader", world["ta"]))
    sent = []

    def remember(conn, cursor, statement, parameters, context, executemany):
        if "minqing_name_keys" in statement:
            sent.append(str(parameters))

    event.listen(db.engine, "before_cursor_execute", remember)
    try:
        numbers = page_numbers(client, "reporter_name", "张三")
    finally:
        event.remove(db.engine, "before_cursor_execute", remember)
    assert numbers == expected(mine, "reporter_name", "张三") and other.number not in numbers
    if db.engine.dialect.name == "postgresql":
        assert sent and all("张三|6|" in s for s in sent), sent
    else:
        assert sent == []


def test_the_pairs_table_follows_inserts_edits_and_deletes(world):
    """SQLite's pairs of the name, kept by triggers: a corrected name is found by its new pairs,
    not its old, and a deleted appeal leaves none behind."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's pairs table")
    pairs = "SELECT pair FROM appeal__pairs_reporter_name WHERE row_id = :id ORDER BY pair"
    appeal = make_appeal(world["a1"], reporter_name="赵钱Qa钱")
    assert db.session.execute(text(pairs), {"id": appeal.id}).scalars().all() == ["a钱", "qa", "赵钱", "钱q"]

    def found(term):
        return db.session.scalars(select(Appeal.id).where(search.contains(Appeal.reporter_name, term))).all()

    assert found("赵钱") == [appeal.id] and found("QA") == [appeal.id]
    appeal.reporter_name = "周吴"
    db.session.flush()
    assert found("赵钱") == [] and found("周吴") == [appeal.id]
    assert db.session.execute(text(pairs), {"id": appeal.id}).scalars().all() == ["周吴"]
    db.session.delete(appeal)
    db.session.flush()
    assert db.session.execute(text(pairs), {"id": appeal.id}).scalars().all() == []
    db.session.rollback()


def test_migration_builds_the_pairs_table_as_the_service_does():
    module = run_path(str(pathlib.Path(search.__file__).parents[2] / "migrations/versions/0049_sqlite_name_pairs.py"))
    assert module["_statements"]() == search.pairs_statements("appeal", "reporter_name")
    assert module["LONGEST"] == search.LONGEST_PAIRED >= Appeal.reporter_name.type.length
    assert set(search.PAIR_INDEXED) == {("appeal", "reporter_name")}  # (the migration builds this one)


def test_migration_builds_the_fts_tables_as_the_service_does():
    module = run_path(str(pathlib.Path(search.__file__).parents[2] / "migrations/versions/0040_appeal_search.py"))
    for column in search.APPEAL_COLUMNS:
        assert module["_fts_statements"]("appeal", column) == search.fts_statements("appeal", column)
    assert tuple(module["COLUMNS"]) == search.APPEAL_COLUMNS


# --------------------------------------------------------------------------
# PostgreSQL: the plan at a realistic size, and a database user that may not create pg_trgm
# --------------------------------------------------------------------------

BULK = """
INSERT INTO appeal (number, number_month, number_seq, reporter_name, content, channel_id, category_id,
    importance, grid_id, origin_grid_id, filed_by_name, registered_at, status, due_date, extension_count,
    supervised, escalation_count, version, created_at, updated_at, petition_collective, petition_bypass,
    petition_repeat, petition_warning, reported_by_grid)
SELECT 'B' || i, '209912', i,
    (ARRAY['张','王','李','赵','刘','陈','杨','黄'])[1 + i % 8] || (ARRAY['伟','芳','娜','敏','静','强','磊','洋','艳','勇'])[1 + (i / 8) % 10]
        || CASE WHEN i % 3 = 0 THEN '' ELSE (ARRAY['华','明','军','平','红','霞'])[1 + (i / 80) % 6] END,
    '反映第' || i || '号问题：' || (ARRAY['路灯损坏','排水沟堵塞','噪音扰民','土地纠纷'])[1 + i % 4],
    :channel, :category, 'general', :grid, :grid, '测试', now(), 'registered', current_date, 0, false, 0, 1,
    now(), now(), false, false, false, false, false
FROM generate_series(1, 50000) AS i
"""


def test_postgresql_plans_read_the_indexes_at_50000_appeals(world):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's plans")
    sample = make_appeal(world["a1"])
    ids = {"channel": sample.channel_id, "category": sample.category_id, "grid": world["a1"].id}
    db.session.execute(text(BULK), ids)
    db.session.execute(text("ANALYZE appeal"))
    me = scope.Scope(paths=(world["ta"].path,))
    try:
        plans = {}
        # a selective term each (a term in a quarter of the rows is rightly found by walking the date index)
        for term in ("张伟华", "张伟", "第4999号", "B4999"):
            column = Appeal.number if term.startswith("B") else Appeal.content if "号" in term else Appeal.reporter_name
            query = (
                select(Appeal.id)
                .where(search.contains(column, term), scope.clause_for(Appeal, me))
                .order_by(Appeal.registered_at.desc())
                .limit(20)
            )
            sql = str(query.compile(db.engine, compile_kwargs={"literal_binds": True}))  # %% as the driver wants
            plans[term] = "\n".join(r[0] for r in db.session.connection().exec_driver_sql(f"EXPLAIN {sql}"))
        assert "ix_appeal_reporter_name_trgm" in plans["张伟华"], plans["张伟华"]
        assert "ix_appeal_reporter_name_keys" in plans["张伟"], plans["张伟"]
        assert "ix_appeal_content_trgm" in plans["第4999号"], plans["第4999号"]
        assert "ix_appeal_number_trgm" in plans["B4999"], plans["B4999"]
    finally:
        db.session.execute(text("DELETE FROM appeal WHERE number_month = '209912'"))


def test_a_user_who_may_not_create_pg_trgm_does_not_stop_the_upgrade(app):
    """The migration's attempt runs in a SAVEPOINT: refused, the transaction goes on and the
    log says what the DBA runs."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's extensions")
    module = run_path(str(pathlib.Path(search.__file__).parents[2] / "migrations/versions/0040_appeal_search.py"))
    with db.engine.connect() as conn:
        conn.begin()
        try:
            conn.exec_driver_sql("DROP EXTENSION pg_trgm CASCADE")
            conn.exec_driver_sql("CREATE ROLE minqing_no_ext NOLOGIN")
            conn.exec_driver_sql("SET ROLE minqing_no_ext")
            assert module["_create_pg_trgm"](conn) is False
            assert conn.exec_driver_sql("SELECT 1").scalar() == 1  # the transaction survived
            assert search.has_pg_trgm(conn) is False
            assert search.ensure_indexes(conn) is False  # `init` says so; searches scan meanwhile
        finally:
            conn.rollback()


def test_jit_is_off_for_the_database(app):
    """Migration 0050: PostgreSQL compiles no statement to machine code in this database (a
    common phrase's scan at city scale spent 366 ms compiling for 80 ms of work)."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's JIT")
    settings = db.session.execute(
        text("SELECT setconfig FROM pg_db_role_setting WHERE setrole = 0 AND setdatabase = "
             "(SELECT oid FROM pg_database WHERE datname = current_database())")
    ).scalar()  # fmt: skip
    assert "jit=off" in (settings or []), settings  # (each new session takes the database's default)


def test_a_leaders_longer_name_and_a_common_term_on_postgresql(app, client, world, appeals, monkeypatch):
    """A leader's 3-character name reads each of its pairs' keys in their blocks (not the trigram
    index's matches across the city); a term the planner estimates in more rows than
    TEXT_INDEX_MOST_ROWS is counted without the text index. The rows are the scan's either way."""
    mine, other = appeals
    login(client, make_user("Leader", world["ta"]))
    sent = []

    def remember(conn, cursor, statement, parameters, context, executemany):
        if "FROM appeal" in statement and "ILIKE" in statement.upper():
            sent.append((statement, str(parameters)))

    event.listen(db.engine, "before_cursor_execute", remember)
    try:
        assert page_numbers(client, "reporter_name", "张三丰") == expected(mine, "reporter_name", "张三丰")
        named = list(sent)
        sent.clear()
        monkeypatch.setitem(app.config, "TEXT_INDEX_MOST_ROWS", 1)  # every term is "common" now
        assert page_numbers(client, "content", "路灯损坏") == expected(mine, "content", "路灯损坏")
    finally:
        event.remove(db.engine, "before_cursor_execute", remember)
    if db.engine.dialect.name != "postgresql":
        return
    assert all("张三|6|" in params and "三丰|6|" in params for _, params in named), named
    counted = [s for s, _ in sent if "ORDER BY" not in s]
    assert counted and all("appeal.content ||" in s for s in counted), counted
    assert other.number not in page_numbers(client, "content", "路灯损坏")
