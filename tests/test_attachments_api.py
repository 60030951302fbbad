"""`/api/v1/attachments/`: list, upload, download, thumbnail and delete the photos and files of
visits and register entries with the same login, permissions, scope, checks and audit as the pages."""

import datetime as dt

from sqlalchemy import select

from app.core.storage import storage
from app.extensions import db
from app.models.attachments import Attachment
from app.models.audit import AuditLog
from tests.conftest import api_token
from tests.factories import make_user, make_visit
from tests.registers_kit import make_entry, make_register
from tests.test_attachments import EXE, PDF, files, jpeg, stored_files


def _upload(client, url, headers, *pairs, **form):
    return client.post(url, headers=headers, data={**form, "files": files(*pairs)}, content_type="multipart/form-data")


def test_a_visits_files_are_uploaded_listed_fetched_and_deleted_by_the_api(app, client, world):
    visit = make_visit(world["a1"], [world["pa"]], visited_name="接口户")
    clerk = make_user("Clerk", world["ta"])
    headers = api_token(client, clerk)
    photo = jpeg(400, 300)
    response = _upload(client, f"/api/v1/attachments/visit/{visit.id}", headers, ("门口.jpg", photo), ("表.pdf", PDF))
    assert response.status_code == 201, response.json
    added = response.json["result"]
    assert [(a["name"], a["owner"], a["owner_id"], a["is_image"]) for a in added] == [
        ("门口.jpg", "visit", visit.id, True), ("表.pdf", "visit", visit.id, False),
    ]  # fmt: skip
    rows = db.session.scalars(select(Attachment).order_by(Attachment.id)).all()
    assert [r.uploaded_by_id for r in rows] == [clerk.id, clerk.id] and storage(app).read(rows[0].stored_name) == photo
    listing = client.get(f"/api/v1/attachments/?owner=visit&owner_id={visit.id}", headers=headers).json
    assert listing["count"] == 2 and listing["result"][0]["file_url"] == f"/api/v1/attachments/{rows[0].id}/file"
    assert listing["result"][0]["thumbnail_url"] and listing["result"][1]["thumbnail_url"] is None
    one = client.get(f"/api/v1/attachments/{rows[0].id}", headers=headers)
    assert one.status_code == 200 and one.json["result"]["sha256"] == rows[0].sha256
    served = client.get(f"/api/v1/attachments/{rows[0].id}/file?download=1", headers=headers)
    assert served.data == photo and served.mimetype == "image/jpeg"
    assert served.headers["Content-Disposition"].startswith("attachment;")
    assert client.get(f"/api/v1/attachments/{rows[0].id}/thumbnail", headers=headers).mimetype == "image/jpeg"
    assert client.get(f"/api/v1/attachments/{rows[1].id}/thumbnail", headers=headers).status_code == 404
    assert client.delete(f"/api/v1/attachments/{rows[1].id}", headers=headers).status_code == 200
    db.session.expire_all()
    assert db.session.get(Attachment, rows[1].id).deleted_at is not None  # soft: to the recycle bin
    assert client.get(f"/api/v1/attachments/?owner=visit&owner_id={visit.id}", headers=headers).json["count"] == 1
    assert client.get(f"/api/v1/attachments/{rows[1].id}/file", headers=headers).status_code == 404
    trail = db.session.scalars(select(AuditLog.action).where(AuditLog.table_name == "attachment",
                                                             AuditLog.record_id == rows[1].id)).all()  # fmt: skip
    assert trail == ["insert", "delete"]


def test_every_bad_file_is_a_400_at_once_and_nothing_is_stored(app, client, world, monkeypatch):
    monkeypatch.setitem(app.config, "ATTACHMENT_MAX_FILES", 2)
    visit = make_visit(world["a1"], [world["pa"]])
    headers = api_token(client, make_user("Clerk", world["ta"]))
    before = stored_files(app)
    response = _upload(client, f"/api/v1/attachments/visit/{visit.id}", headers,
                       ("a.jpg", EXE), ("b.png", PDF), ("c.jpg", jpeg()))  # fmt: skip
    assert response.status_code == 400
    problems = response.json["errors"]["attachments"]
    assert len(problems) == 3 and any("a.jpg" in p for p in problems) and any("b.png" in p for p in problems)
    assert any("一次最多添加 2 个文件" in p for p in problems)
    assert db.session.scalars(select(Attachment)).all() == [] and stored_files(app) == before
    empty = client.post(f"/api/v1/attachments/visit/{visit.id}", headers=headers, data={},
                        content_type="multipart/form-data")  # fmt: skip
    assert empty.status_code == 400 and "files" in empty.json["message"]
    assert client.get("/api/v1/attachments/?owner=visit", headers=headers).status_code == 400


def test_login_role_and_visit_content_are_checked(app, client, world):
    visit = make_visit(world["a1"], [world["pa"]])
    assert client.get(f"/api/v1/attachments/?owner=visit&owner_id={visit.id}").status_code == 401
    leader = api_token(client, make_user("Leader", world["ta"]))  # reads visits, may not change them
    response = _upload(client, f"/api/v1/attachments/visit/{visit.id}", leader, ("x.jpg", jpeg()))
    assert response.status_code == 403
    clerk = api_token(client, make_user("Clerk", world["ta"]))
    (row,) = _upload(client, f"/api/v1/attachments/visit/{visit.id}", clerk, ("x.jpg", jpeg())).json["result"]
    assert client.delete(f"/api/v1/attachments/{row['id']}", headers=leader).status_code == 403
    other_worker = api_token(client, make_user("GridWorker", world["a1"]))  # not the visitor: content hidden
    assert client.get(f"/api/v1/attachments/{row['id']}/file", headers=other_worker).status_code == 403
    assert client.get(f"/api/v1/attachments/?owner=visit&owner_id={visit.id}", headers=other_worker).json["count"] == 0
    assert client.get("/api/v1/attachments/?owner=nothing&owner_id=1", headers=clerk).status_code == 404


def test_a_register_entrys_files_go_to_the_field_named(app, client, world):
    make_register(code="patrol", name="巡查记录", fields=[
        {"code": "place", "label": "巡查地点", "type": "text", "required": True},
        {"code": "photos", "label": "现场照片", "type": "attachment", "max_value": "2", "file_kinds": "jpeg"},
    ])  # fmt: skip
    entry = make_entry(world["a1"], code="patrol", place="村口", created_at=dt.datetime(2026, 11, 2))
    headers = api_token(client, make_user("Clerk", world["ta"]))
    url = f"/api/v1/attachments/reg_patrol/{entry.id}"
    refused = _upload(client, url, headers, ("a.jpg", jpeg()))
    assert refused.status_code == 400 and "photos（现场照片）" in refused.json["message"]
    refused = _upload(client, url, headers, ("a.jpg", jpeg()), ("b.pdf", PDF), ("c.jpg", jpeg()), field="photos")
    assert refused.status_code == 400 and len(refused.json["errors"]["photos"]) == 2  # too many, and a PDF
    ok = _upload(client, url, headers, ("a.jpg", jpeg()), field="photos")
    assert ok.status_code == 201 and ok.json["result"][0]["field"] == "photos"
    (row,) = db.session.scalars(select(Attachment)).all()
    assert (row.owner_type, row.owner_id, row.field_code) == ("reg_patrol", entry.id, "photos")
    listing = client.get(f"/api/v1/attachments/?owner=reg_patrol&owner_id={entry.id}&field=photos", headers=headers)
    assert listing.json["count"] == 1
    # the entry's page shows it; the register API's definitions name the field's type
    fields = {f["code"]: f for r in client.get("/api/v1/registers/", headers=headers).json["result"]
              for f in r["fields"] if r["code"] == "patrol"}  # fmt: skip
    assert fields["photos"]["type"] == "attachment" and fields["photos"]["max_files"] == 2
    assert fields["photos"]["file_kinds"] == ["jpeg"] and "place" in fields
    assert client.delete(f"/api/v1/attachments/{row.id}", headers=headers).status_code == 200


def test_the_attachment_api_is_in_the_openapi_spec(client, world):
    headers = api_token(client, make_user("Admin"))
    spec = client.get("/api/v1/_openapi", headers=headers).json
    paths = spec["paths"]
    assert set(paths["/api/v1/attachments/"]) == {"get"}
    assert "post" in paths["/api/v1/attachments/{owner}/{owner_id}"]
    assert {"get", "delete"} <= set(paths["/api/v1/attachments/{pk}"])
    assert "get" in paths["/api/v1/attachments/{pk}/file"] and "get" in paths["/api/v1/attachments/{pk}/thumbnail"]
    body = paths["/api/v1/attachments/{owner}/{owner_id}"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert body["schema"]["properties"]["files"]["items"]["format"] == "binary"
    assert "Attachment" in spec["components"]["schemas"]
