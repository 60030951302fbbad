"""Audit trail and concurrent edits: every change on record, nobody overwrites silently."""

from sqlalchemy import select

from app.extensions import db
from app.models.audit import AuditLog
from app.models.grids import Grid
from app.models.personnel import Person
from tests.conftest import TEST_PASSWORD, api_token, login
from tests.factories import level, make_person, make_user, tree


def _trail(**where):
    query = select(AuditLog).order_by(AuditLog.id)
    for key, value in where.items():
        query = query.where(getattr(AuditLog, key) == value)
    return db.session.scalars(query).all()


def test_insert_update_delete_are_recorded_with_who_where_and_old_new(client):
    t = tree()
    user = make_user("Clerk", t["ta"])
    login(client, user)
    client.post(
        "/personview/add",
        data={"name": "审计甲", "grid": str(t["a1"].id), "phone": "13800001111", "active": "y", "gender": ""},
    )
    person = db.session.scalar(select(Person).where(Person.name == "审计甲"))
    insert = _trail(table_name="person", record_id=person.id, action="insert")
    assert len(insert) == 1
    row = insert[0]
    assert row.username == user.username and row.user_id == user.id and row.ip == "127.0.0.1"
    assert row.grid_id == t["a1"].id and row.changes["name"] == [None, "审计甲"]
    client.post(
        f"/personview/edit/{person.id}",
        data={"name": "审计乙", "grid": str(t["a1"].id), "phone": "13800002222", "active": "y", "gender": "",
              "row_version": str(person.version)},
    )  # fmt: skip
    update = _trail(table_name="person", record_id=person.id, action="update")
    assert len(update) == 1
    assert update[0].changes == {"name": ["审计甲", "审计乙"], "phone": ["13800001111", "13800002222"]}
    client.post(f"/personview/delete/{person.id}")
    deleted = _trail(table_name="person", record_id=person.id, action="delete")
    assert len(deleted) == 1 and deleted[0].changes["name"] == ["审计乙", None]


def test_logins_and_failed_logins_are_recorded(client):
    user = make_user("Admin")
    login(client, user)
    client.get("/logout/")
    client.post("/login/", data={"username": user.username, "password": "wrong-password"})
    client.post("/login/", data={"username": "nobody", "password": "x"})
    api_token(client, user)
    actions = [(r.action, r.username) for r in _trail() if r.action.startswith("login")]
    assert ("login", user.username) in actions
    assert ("login_failed", user.username) in actions
    assert ("login_failed", "nobody") in actions
    assert actions.count(("login", user.username)) == 2  # web form and API
    assert all("password" not in (r.changes or {}) for r in _trail())


def test_trail_is_read_only_and_scoped(client):
    t = tree()
    admin = make_user("Admin")
    login(client, admin)
    client.post(f"/gridview/edit/{t['a1'].id}", data={"code": "TA1", "name": "甲一村（改）", "level": str(level(2).id),
                                                       "parent": str(t["ta"].id), "sort_order": "0", "active": "y",
                                                       "row_version": str(t["a1"].version)})  # fmt: skip
    client.post(f"/gridview/edit/{t['b1'].id}", data={"code": "TB1", "name": "乙一村（改）", "level": str(level(2).id),
                                                       "parent": str(t["tb"].id), "sort_order": "0", "active": "y",
                                                       "row_version": str(t["b1"].version)})  # fmt: skip
    body = client.get("/audit/list/").get_data(as_text=True)
    assert "甲一村（改）" in body and "乙一村（改）" in body
    rid = _trail(table_name="grid", record_id=t["b1"].id)[0].id
    assert client.post(f"/audit/delete/{rid}").status_code in (403, 404, 405)
    assert client.get(f"/audit/edit/{rid}").status_code in (403, 404, 405)
    login(client, make_user("Leader", t["ta"]))
    body = client.get("/audit/list/").get_data(as_text=True)
    assert "甲一村（改）" in body and "乙一村（改）" not in body
    assert client.get(f"/audit/show/{rid}").status_code == 404
    login(client, make_user("Clerk", t["ta"]))
    assert client.get("/audit/list/").status_code in (302, 403)
    entry = db.session.get(AuditLog, rid)
    entry.summary = "tampered"
    try:
        db.session.commit()
        raise AssertionError("the trail was changed")
    except Exception as err:  # noqa: BLE001
        db.session.rollback()
        assert "操作日志不能修改" in str(err) or "cannot be changed" in str(err)


def test_second_save_from_a_stale_form_is_refused(client):
    t = tree()
    person = make_person(t["a1"], name="并发甲")
    opened = person.version
    login(client, make_user("Clerk", t["ta"]))
    form = {"grid": str(t["a1"].id), "active": "y", "gender": "", "phone": "", "row_version": str(opened)}
    first = client.post(f"/personview/edit/{person.id}", data={**form, "name": "第一次保存"}, follow_redirects=True)
    assert "记录已更新" in first.get_data(as_text=True)
    second = client.post(f"/personview/edit/{person.id}", data={**form, "name": "第二次保存"})
    assert "已有其他人保存了修改。请刷新页面后重新修改" in second.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Person, person.id).name == "第一次保存"


def test_api_put_with_an_old_version_is_a_conflict(client):
    t = tree()
    headers = api_token(client, make_user("Clerk", t["ta"]))
    grid = db.session.get(Grid, t["a2"].id)
    old = grid.version
    assert (
        client.put(f"/api/v1/grid/{grid.id}", json={"name": "新名", "version": old}, headers=headers).status_code == 200
    )
    conflict = client.put(f"/api/v1/grid/{grid.id}", json={"name": "旧名", "version": old}, headers=headers)
    assert conflict.status_code == 409 and "刷新" in conflict.json["message"]
    db.session.expire_all()
    assert db.session.get(Grid, grid.id).name == "新名"
    assert TEST_PASSWORD


def test_confidential_visit_content_is_redacted_in_the_trail(client):
    from tests.factories import make_visit

    t = tree()
    visitor = make_person(t["a1"], name="走访人")
    visit = make_visit(t["a1"], [visitor], visited_name="王大娘", situation="家中困难情况", problems="低保问题")
    row = _trail(table_name="visit", record_id=visit.id, action="insert")[0]
    assert row.changes["situation"] == [None, "***"] and row.changes["problems"] == [None, "***"]
    assert "家中困难情况" not in str(row.changes) and "低保问题" not in str(row.changes)
    assert row.changes["visited_name"] == [None, "王大娘"]


def _read_by(user):
    """What `user` reads of the trail: (table, record, the new values) of each row."""
    from app.services.audit import audit_scope_clause
    from app.services.scope import for_user

    scope = for_user(db.session, user)
    rows = db.session.scalars(select(AuditLog).where(audit_scope_clause(scope)).order_by(AuditLog.id)).all()
    return [(row.table_name, row.record_id, {k: v[1] for k, v in (row.changes or {}).items() if k != "_marks"})
            for row in rows]  # fmt: skip


def _notes(rows, table, record_id, field):
    return [changes.get(field) for t, r, changes in rows if t == table and r == record_id and field in changes]


def test_history_stays_with_the_jurisdiction_that_owned_the_record(client):
    """Issue 18, item 7: each audit row belongs to the jurisdiction that owned the record when
    it was written (a move to both); a person or grid moving away takes none of its history
    along and leaves none of its later history behind."""
    t = tree()
    leader_a, leader_b = make_user("Leader", t["ta"]), make_user("Leader", t["tb"])
    person = make_person(t["a1"], name="迁出人")
    person.note = "在甲镇时"
    db.session.commit()
    person.grid = db.session.get(Grid, t["b1"].id)  # the person moves to township B
    db.session.commit()
    person.note = "到乙镇后"
    db.session.commit()
    grid = db.session.get(Grid, t["a2"].id)
    grid.description = "在甲镇时"
    db.session.commit()
    grid.parent = db.session.get(Grid, t["tb"].id)  # the village moves to township B
    db.session.commit()
    grid.description = "到乙镇后"
    db.session.commit()

    seen_a, seen_b = _read_by(leader_a), _read_by(leader_b)
    assert _notes(seen_a, "person", person.id, "note") == ["在甲镇时"]
    assert _notes(seen_b, "person", person.id, "note") == ["到乙镇后"]
    assert _notes(seen_a, "person", person.id, "grid_id") == [t["a1"].id, t["b1"].id]  # created, moved away
    assert _notes(seen_b, "person", person.id, "grid_id") == [t["b1"].id]  # moved in
    assert _notes(seen_a, "grid", grid.id, "description") == ["在甲镇时"]
    assert _notes(seen_b, "grid", grid.id, "description") == ["到乙镇后"]
    assert _notes(seen_a, "grid", grid.id, "parent_id") == [t["ta"].id, t["tb"].id]
    assert _notes(seen_b, "grid", grid.id, "parent_id") == [t["tb"].id]
    # the audit page applies the same rule
    login(client, leader_a)
    page = client.get("/audit/list/?psize_AuditLogView=100").get_data(as_text=True)
    assert page.count("迁出人") >= 3
    login(client, leader_b)
    shown = client.get(f"/audit/list/?_flt_0_table_name=person&_flt_0_record_id={person.id}").get_data(as_text=True)
    assert shown.count("迁出人") == 2
