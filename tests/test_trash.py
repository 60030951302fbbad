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


def test_every_recycle_bin_view_is_scoped(app, client, world):
    """Each bin view, enumerated: a township's bin keeper neither sees nor restores nor purges another
    township's deleted record (the actions answer 403/404 or change nothing), and sees its own."""
    from app.services.records import delete_record
    from app.views.trash import TRASH_VIEWS
    from tests import scope_probe
    from tests.test_attachment_bin import bin_keeper

    keeper = bin_keeper(app, world["ta"], also=["Clerk"])  # a township clerk given the bin
    checked = []
    for view_class in TRASH_VIEWS:
        model = view_class.datamodel.obj
        mine, theirs = (scope_probe.FACTORIES[model](world, side) for side in ("a", "b"))
        for record in (mine, theirs):
            if model.__name__ == "Attachment":
                from app.services.attachments import remove_attachment

                remove_attachment(db.session, record)
            else:
                delete_record(db.session, record)
        db.session.commit()
        login(client, keeper)
        base = view_class.route_base
        page = client.get(f"{base}/list/?psize_{view_class.__name__}=100").get_data(as_text=True)
        assert f'value="{mine.id}"' in page and f'value="{theirs.id}"' not in page, base
        view = next(v for v in app.appbuilder.baseviews if type(v) is view_class)
        assert view.actions, base
        for action in view.actions:
            client.post(f"{base}/action_post", data={"action": action, "rowid": [str(theirs.id)]})
            db.session.expire_all()
            stored = db.session.get(model, theirs.id)
            assert stored is not None and stored.deleted_at is not None, f"{base} {action} reached grid B"
        checked.append(base)
    assert "/trash/attachments" in checked and len(checked) == len(TRASH_VIEWS)
