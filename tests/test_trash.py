"""Nothing lost: deleting hides a record; an Admin restores it from the recycle bin."""

from datetime import date

from sqlalchemy import select

from app.core.clock import frozen
from app.extensions import db
from app.models.audit import AuditLog
from app.models.visits import Visit
from tests.conftest import login
from tests.factories import make_person, make_user, make_visit, tree


def test_delete_hides_and_admin_restores(client):
    t = tree()
    with frozen("2026-05-10 09:00"):
        visit = make_visit(
            t["a1"], [make_person(t["a1"], name="走访员")], visited_name="待删户", visit_date=date(2026, 5, 9)
        )
        clerk = make_user("Clerk", t["ta"])
        login(client, clerk)
        client.post(f"/visitview/delete/{visit.id}")
        db.session.expire_all()
        stored = db.session.get(Visit, visit.id)
        assert stored is not None and stored.deleted_at is not None and stored.deleted_by_id == clerk.id
        assert "待删户" not in client.get("/visitview/list/").get_data(as_text=True)
        assert client.get("/trash/visits/list/").status_code in (302, 403)  # clerks cannot restore
        login(client, make_user("Admin"))
        trash = client.get("/trash/visits/list/").get_data(as_text=True)
        assert "待删户" in trash and clerk.username in trash
        client.post("/trash/visits/action_post", data={"action": "restore", "rowid": [str(visit.id)]})
        db.session.expire_all()
        assert db.session.get(Visit, visit.id).deleted_at is None
        assert "待删户" not in client.get("/trash/visits/list/").get_data(as_text=True)
        assert "待删户" in client.get("/visitview/list/").get_data(as_text=True)
    actions = db.session.scalars(
        select(AuditLog.action)
        .where(AuditLog.table_name == "visit", AuditLog.record_id == visit.id)
        .order_by(AuditLog.id)
    ).all()
    assert actions == ["insert", "delete", "restore"]


def test_api_delete_is_soft_too(client):
    from tests.conftest import api_token
    from tests.factories import make_appeal

    t = tree()
    appeal = make_appeal(t["a1"])
    headers = api_token(client, make_user("Admin"))
    # appeals are never deleted through the API (only an Admin hides a mistaken registration in the app)
    assert client.delete(f"/api/v1/appeal/{appeal.id}", headers=headers).status_code in (404, 405)
    visit = make_visit(t["a1"], [make_person(t["a1"])], visited_name="接口删户")
    clerk = api_token(client, make_user("Clerk", t["ta"]))  # (an Admin may not touch visit content)
    assert client.delete(f"/api/v1/visit/{visit.id}", headers=clerk).status_code == 200
    db.session.expire_all()
    assert db.session.get(Visit, visit.id).deleted_at is not None
