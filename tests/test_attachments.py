"""Photos and files (照片/附件) on visits, appeals and contact records: uploaded with the form or
on the record's page, checked by content, stored outside the database, shown as thumbnails,
served only in scope, audited, and taken to the recycle bin and back with their record."""

import io
import os

import pytest
from PIL import Image
from sqlalchemy import func, select

from app.core.clock import frozen
from app.core.errors import DomainError
from app.core.storage import attachment_dir, storage
from app.core.uow import unit_of_work
from app.extensions import db
from app.models.appeals import Appeal
from app.models.attachments import Attachment
from app.models.audit import AuditLog
from app.models.lookups import AppealCategory, AppealChannel, VisitForm, VisitTarget
from app.models.visits import Visit
from app.services import attachments as attachment_service
from tests.conftest import login
from tests.factories import lookup, make_appeal, make_contact, make_person, make_representative, make_user, make_visit

TODAY = "2026-03-15 10:00"


def jpeg(width=64, height=48, color="red"):
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "JPEG")
    return out.getvalue()


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
EXE = b"MZ\x90\x00" + b"\x00" * 200


def files(*pairs):
    return [(io.BytesIO(data), name) for name, data in pairs]


def stored_files(app):
    root = attachment_dir(app)
    if not os.path.isdir(root):
        return set()
    return {os.path.join(d, f) for d, _, names in os.walk(root) for f in names}


def attachment_count():
    return db.session.scalar(select(func.count()).select_from(Attachment))


def visit_form(world, person, **overrides):
    data = {
        "visit_date": "2026-03-10",
        "form": str(lookup(VisitForm, "登门上户").id),
        "visitors": [str(person.id)],
        "grid": str(world["a1"].id),
        "target": str(lookup(VisitTarget, "困难群体").id),
        "visited_name": "王大娘",
        "address": "甲一村一组 12 号",
        "family_size": "4",
    }
    data.update(overrides)
    return data


def test_a_photo_taken_on_the_visit_form_is_stored_shown_and_served(app, client, world):
    with frozen(TODAY):
        worker = make_user("GridWorker", world["a1"])
        login(client, worker)
        form = client.get("/visitview/add").get_data(as_text=True)
        assert 'name="attachments"' in form and 'accept="image/*' in form and "multiple" in form
        photo = jpeg(1200, 900)
        data = visit_form(world, world["pa"], attachments=files(("IMG_0001.JPG", photo), ("申请表.pdf", PDF)))
        response = client.post("/visitview/add", data=data, content_type="multipart/form-data")
        assert response.status_code == 302, response.get_data(as_text=True)
    visit = db.session.scalar(select(Visit).where(Visit.visited_name == "王大娘"))
    rows = db.session.scalars(select(Attachment).order_by(Attachment.id)).all()
    assert [(r.owner_type, r.owner_id, r.original_name, r.content_type) for r in rows] == [
        ("visit", visit.id, "IMG_0001.JPG", "image/jpeg"),
        ("visit", visit.id, "申请表.pdf", "application/pdf"),
    ]
    image, pdf = rows
    assert image.size == len(photo) and image.grid_id == world["a1"].id and image.uploaded_by_id == worker.id
    assert image.has_thumbnail and not pdf.has_thumbnail
    store = storage(app)
    assert store.read(image.stored_name) == photo and store.read(pdf.stored_name) == PDF
    thumb = Image.open(io.BytesIO(store.read(attachment_service.thumbnail_name(image.stored_name))))
    assert thumb.format == "JPEG" and max(thumb.size) <= 320
    page = client.get(f"/visitview/show/{visit.id}").get_data(as_text=True)
    assert f"/attachments/thumb/{image.id}" in page and "申请表.pdf" in page and 'capture="environment"' in page
    served = client.get(f"/attachments/file/{image.id}")
    assert served.status_code == 200 and served.data == photo and served.mimetype == "image/jpeg"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get(f"/attachments/thumb/{image.id}").mimetype == "image/jpeg"
    assert client.get(f"/attachments/file/{pdf.id}").mimetype == "application/pdf"
    trail = db.session.scalars(select(AuditLog).where(AuditLog.table_name == "attachment")).all()
    assert {(row.action, row.record_id) for row in trail} == {("insert", image.id), ("insert", pdf.id)}
    assert all(row.grid_path == world["a1"].path for row in trail)


def test_every_bad_file_and_field_is_reported_at_once_and_nothing_is_written(app, client, world, monkeypatch):
    monkeypatch.setitem(app.config, "ATTACHMENT_MAX_MB", 1)
    with frozen(TODAY):
        login(client, make_user("Clerk", world["ta"]))
        before = stored_files(app)
        big = jpeg(3000, 3000, "blue") + os.urandom(1024 * 1024)  # a JPEG header, over 1 MB
        data = visit_form(world, world["pa"], family_size="0", attachments=files(
            ("big.jpg", big), ("virus.jpg", EXE), ("scan.png", PDF), ("notes.exe", jpeg()), ("ok.jpg", jpeg()),
        ))  # fmt: skip
        body = client.post("/visitview/add", data=data, content_type="multipart/form-data").get_data(as_text=True)
    assert "家庭人数至少为1" in body
    assert "big.jpg" in body and "每个文件最大 1 MB" in body
    assert "virus.jpg" in body and "scan.png" in body and "notes.exe" in body
    assert "内容是 无法识别的文件" in body and "内容是 PDF" in body  # disguised: named one kind, another inside
    assert "5 处问题" in body
    assert db.session.scalar(select(func.count()).select_from(Visit)) == 0
    assert attachment_count() == 0 and stored_files(app) == before


def test_a_refused_save_leaves_no_file_behind(app, world):
    visit = make_visit(world["a1"], [world["pa"]])
    before = stored_files(app)
    uploads = attachment_service.check_uploads([("a.jpg", jpeg()), ("b.pdf", PDF)])
    with unit_of_work(flash_errors=False) as work:
        attachment_service.add_attachments(db.session, visit, uploads)
        assert len(stored_files(app) - before) == 3  # two files and a thumbnail, while the transaction lasts
        raise DomainError("refused later in the same save")
    assert work.failed
    assert stored_files(app) == before and attachment_count() == 0


def test_the_allowed_kinds_and_the_size_are_settings(app, monkeypatch):
    monkeypatch.setitem(app.config, "ATTACHMENT_TYPES", ["jpeg"])
    with pytest.raises(DomainError) as refused:
        attachment_service.check_uploads([("a.pdf", PDF)])
    assert "a.pdf" in str(refused.value) and "JPEG" in str(refused.value)
    monkeypatch.setitem(app.config, "ATTACHMENT_TYPES", ["jpeg", "pdf"])
    assert [u.kind.code for u in attachment_service.check_uploads([("a.pdf", PDF)])] == ["pdf"]
    monkeypatch.setitem(app.config, "ATTACHMENT_MAX_FILES", 1)
    with pytest.raises(DomainError) as refused:
        attachment_service.check_uploads([("a.pdf", PDF), ("b.pdf", PDF)])
    assert "2" in str(refused.value)
    with pytest.raises(DomainError) as broken:
        attachment_service.check_uploads([("cut.jpg", jpeg()[:60])])
    assert "cut.jpg" in str(broken.value)


def test_another_grids_files_are_404_and_cannot_be_added_or_removed(app, client, world):
    theirs = make_visit(world["b1"], [world["pb"]], visited_name="乙村户")
    mine = make_visit(world["a1"], [world["pa"]], visited_name="甲村户")
    uploads = attachment_service.check_uploads([("b.jpg", jpeg())])
    (photo,) = attachment_service.add_attachments(db.session, theirs, uploads)
    db.session.commit()
    login(client, make_user("Clerk", world["ta"]))
    assert client.get(f"/attachments/file/{photo.id}").status_code == 404
    assert client.get(f"/attachments/thumb/{photo.id}").status_code == 404
    assert client.post(f"/attachments/remove/{photo.id}").status_code == 404
    response = client.post(f"/attachments/upload/visit/{theirs.id}", data={"attachments": files(("x.jpg", jpeg()))},
                           content_type="multipart/form-data")  # fmt: skip
    assert response.status_code == 404
    db.session.expire_all()
    assert db.session.get(Attachment, photo.id).deleted_at is None
    assert attachment_count() == 1
    # on the own grid's visit the same upload works, from the page
    response = client.post(f"/attachments/upload/visit/{mine.id}", data={"attachments": files(("x.jpg", jpeg()))},
                           content_type="multipart/form-data")  # fmt: skip
    assert response.status_code == 302
    assert db.session.scalar(select(func.count()).where(Attachment.owner_id == mine.id)) == 1


def test_a_visits_photos_are_its_content(app, client, world):
    """民情日记 rules: who may not read a visit's content sees neither its photos nor the file."""
    visit = make_visit(world["a1"], [world["pa"]], visited_name="保密户")
    (photo,) = attachment_service.add_attachments(
        db.session, visit, attachment_service.check_uploads([("home.jpg", jpeg())])
    )
    db.session.commit()
    other_worker = make_user("GridWorker", world["a1"])  # same grid, not a visitor
    login(client, other_worker)
    page = client.get(f"/visitview/show/{visit.id}").get_data(as_text=True)
    assert "mq-attachments-confidential" in page and f"/attachments/thumb/{photo.id}" not in page
    assert client.get(f"/attachments/file/{photo.id}").status_code == 403
    response = client.post(f"/attachments/upload/visit/{visit.id}", data={"attachments": files(("y.jpg", jpeg()))},
                           content_type="multipart/form-data")  # fmt: skip
    assert response.status_code == 403 and attachment_count() == 1
    login(client, make_user("Leader", world["ta"]))  # a content role reads it (and may not change it)
    page = client.get(f"/visitview/show/{visit.id}").get_data(as_text=True)
    assert f"/attachments/thumb/{photo.id}" in page and "mq-attachment-upload" not in page
    assert client.get(f"/attachments/file/{photo.id}").status_code == 200


def test_files_go_to_the_recycle_bin_with_their_record_and_come_back_with_it(app, client, world):
    with frozen(TODAY):
        clerk = make_user("Clerk", world["ta"])
        visit = make_visit(world["a1"], [world["pa"]], visited_name="待删户")
        login(client, clerk)
        for name in ("one.jpg", "two.jpg"):
            client.post(f"/attachments/upload/visit/{visit.id}", data={"attachments": files((name, jpeg()))},
                        content_type="multipart/form-data")  # fmt: skip
        one, two = db.session.scalars(select(Attachment).order_by(Attachment.id)).all()
        assert client.post(f"/attachments/remove/{one.id}").status_code == 302  # removed on its own first
    with frozen("2026-03-15 11:00"):  # later: the visit and the file it still holds go together
        client.post(f"/visitview/delete/{visit.id}")
        db.session.expire_all()
        assert db.session.get(Visit, visit.id).deleted_at is not None
        assert db.session.get(Attachment, two.id).deleted_at == db.session.get(Visit, visit.id).deleted_at
        assert client.get(f"/attachments/file/{two.id}").status_code == 404
        login(client, make_user("Admin"))
        client.post("/trash/visits/action_post", data={"action": "restore", "rowid": [str(visit.id)]})
    db.session.expire_all()
    assert db.session.get(Attachment, two.id).deleted_at is None  # back with the visit
    assert db.session.get(Attachment, one.id).deleted_at is not None  # removed before: stays removed
    actions = db.session.scalars(
        select(AuditLog.action).where(AuditLog.table_name == "attachment", AuditLog.record_id == two.id)
        .order_by(AuditLog.id)
    ).all()  # fmt: skip
    assert actions == ["insert", "delete", "restore"]


def test_an_appeal_registered_with_a_photo_keeps_it(app, client, world):
    with frozen(TODAY):
        login(client, make_user("Clerk", world["ta"]))
        photo = jpeg()
        data = {
            "reporter_name": "李四", "content": "村东路灯损坏。", "importance": "general",
            "channel": str(lookup(AppealChannel).id), "category": str(lookup(AppealCategory).id),
            "grid": str(world["a1"].id), "attachments": files(("现场.jpg", photo)),
        }  # fmt: skip
        response = client.post("/appealview/add", data=data, content_type="multipart/form-data")
        assert response.status_code == 302, response.get_data(as_text=True)
    appeal = db.session.scalar(select(Appeal).where(Appeal.reporter_name == "李四"))
    (row,) = db.session.scalars(select(Attachment)).all()
    assert (row.owner_type, row.owner_id, row.original_name) == ("appeal", appeal.id, "现场.jpg")
    page = client.get(f"/appealview/show/{appeal.id}").get_data(as_text=True)
    assert f"/attachments/thumb/{row.id}" in page
    # a bad file with a bad registration: both reported, no number used, nothing stored
    before = stored_files(app)
    data.update(reporter_name="", attachments=files(("假.jpg", EXE)))
    body = client.post("/appealview/add", data=data, content_type="multipart/form-data").get_data(as_text=True)
    assert "假.jpg" in body and "该字段是必填字段" in body
    assert db.session.scalar(select(func.count()).select_from(Appeal)) == 1 and stored_files(app) == before


def test_an_archived_appeal_takes_no_more_files(app, client, world):
    appeal = make_appeal(world["a1"], status="archived")
    login(client, make_user("Clerk", world["ta"]))
    client.post(f"/attachments/upload/appeal/{appeal.id}", data={"attachments": files(("x.jpg", jpeg()))},
                content_type="multipart/form-data")  # fmt: skip
    assert attachment_count() == 0
    page = client.get(f"/appealview/show/{appeal.id}").get_data(as_text=True)
    assert "mq-attachment-upload" not in page


def test_a_representative_adds_a_photo_to_his_own_contact_record(app, client, world):
    person = make_person(world["a1"], name="代表王")
    rep = make_representative(person=person, grid=world["a1"])
    record = make_contact(rep)
    user = make_user("Representative", username="rep_wang")
    person.user_id = user.id
    db.session.commit()
    login(client, user)
    response = client.post(f"/attachments/upload/contact/{record.id}",
                           data={"attachments": files(("座谈会.jpg", jpeg()))}, content_type="multipart/form-data")  # fmt: skip
    assert response.status_code == 302
    (row,) = db.session.scalars(select(Attachment)).all()
    assert (row.owner_type, row.owner_id) == ("contact", record.id)
    assert client.get(f"/attachments/file/{row.id}").status_code == 200
    other = make_contact(make_representative(grid=world["b1"], name="乙代表"))
    assert client.post(f"/attachments/upload/contact/{other.id}", data={"attachments": files(("x.jpg", jpeg()))},
                       content_type="multipart/form-data").status_code == 404  # fmt: skip


def test_the_photo_forms_may_carry_more_than_other_requests(app, client, world, monkeypatch):
    """MAX_CONTENT_LENGTH bounds every request; the forms that carry photos may carry
    ATTACHMENT_MAX_FILES files of ATTACHMENT_MAX_MB each."""
    visit = make_visit(world["a1"], [world["pa"]])
    login(client, make_user("Clerk", world["ta"]))
    for key, value in {"MAX_CONTENT_LENGTH": 1024 * 1024, "ATTACHMENT_MAX_MB": 2, "ATTACHMENT_MAX_FILES": 2}.items():
        monkeypatch.setitem(app.config, key, value)
    photo = jpeg(800, 600) + b"\x00" * (1536 * 1024)  # 1.5 MB: a JPEG with trailing bytes
    response = client.post(f"/attachments/upload/visit/{visit.id}", data={"attachments": files(("big.jpg", photo))},
                           content_type="multipart/form-data")  # fmt: skip
    assert response.status_code == 302 and attachment_count() == 1
    response = client.post("/gridview/add", data={"name": "x" * (1536 * 1024)})
    assert response.status_code == 413
