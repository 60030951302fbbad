"""Removed photos and files in the recycle bin: listed in the jurisdiction with visit photo names
hidden from who may not read the visit, put back on a live record (refused with the reason when
the record is in the bin too), deleted for good with their files and thumbnails, audited; and
`flask minqing attachments check` finds files without rows and rows without files."""

import io
import os

import pytest
from PIL import Image
from sqlalchemy import func, select

from app.core.clock import frozen
from app.core.storage import storage
from app.extensions import db
from app.models.attachments import Attachment
from app.models.audit import AuditLog
from app.services import attachments as attachment_service
from app.services.records import delete_record
from tests.conftest import login
from tests.factories import make_appeal, make_user, make_visit

TODAY = "2026-03-15 10:00"
BIN = "/trash/attachments"


def jpeg(color="red"):
    out = io.BytesIO()
    Image.new("RGB", (40, 30), color).save(out, "JPEG")
    return out.getvalue()


@pytest.fixture
def own_store(app, tmp_path, monkeypatch):
    """An attachment directory of the test's own: other tests' rolled-back rows leave files behind."""
    monkeypatch.setitem(app.config, "ATTACHMENT_DIR", str(tmp_path / "attachments"))
    return storage(app)


def attach(record, name, color="red"):
    (row,) = attachment_service.add_attachments(
        db.session, record, attachment_service.check_uploads([(name, jpeg(color))])
    )
    db.session.commit()
    return row


def remove(row, user=None):
    attachment_service.remove_attachment(db.session, row, user.id if user else None)
    db.session.commit()


def bin_keeper(app, grid, also=()):
    """A role IT staff made for a township's recycle bin (list, restore, purge), not a content role."""
    sm = app.appbuilder.sm
    role = sm.find_role("BinKeeper") or sm.add_role("BinKeeper")
    for perm in ("can_read", "can_restore", "can_purge"):
        sm.add_permission_role(role, sm.find_permission_view_menu(perm, "Trash"))
    db.session.commit()
    return make_user("BinKeeper", grid, roles=["BinKeeper", *also])


def bin_page(client):
    response = client.get(f"{BIN}/list/")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def audit_actions(row_id):
    return db.session.scalars(
        select(AuditLog.action)
        .where(AuditLog.table_name == "attachment", AuditLog.record_id == row_id)
        .order_by(AuditLog.id)
    ).all()


def test_a_removed_photo_is_in_the_bin_and_goes_back_on_its_record(app, client, world, own_store):
    with frozen(TODAY):
        clerk = make_user("Clerk", world["ta"])
        appeal = make_appeal(world["a1"], status="in_progress", reporter_name="张三")
        photo = attach(appeal, "路灯现场.jpg")
        remove(photo, clerk)
        login(client, make_user("Admin"))
        page = bin_page(client)
        assert "路灯现场.jpg" in page and appeal.number in page and clerk.username in page
        response = client.post(f"{BIN}/action_post", data={"action": "restore", "rowid": [str(photo.id)]})
        assert response.status_code == 302 and response.location.endswith(f"{BIN}/list/")  # stays in the bin
        page = client.get(response.location).get_data(as_text=True)
        assert "1 个照片或附件已放回所属记录" in page
    db.session.expire_all()
    assert db.session.get(Attachment, photo.id).deleted_at is None
    assert audit_actions(photo.id) == ["insert", "delete", "restore"]
    assert own_store.read(photo.stored_name) is not None


def test_restoring_onto_a_record_in_the_bin_is_refused_with_the_reason_and_nothing_changes(
    app, client, world, own_store
):
    with frozen(TODAY):
        visit = make_visit(world["a1"], [world["pa"]], visited_name="待删户")
        appeal = make_appeal(world["a1"], status="in_progress")
        first = attach(visit, "先删的.jpg")
        fine = attach(appeal, "可恢复.jpg")
        remove(first)
        remove(fine)
    with frozen("2026-03-15 11:00"):
        delete_record(db.session, visit)  # later the visit itself goes to the bin
        db.session.commit()
        login(client, make_user("Clerk", world["ta"], roles=["Clerk", "Admin"]))  # reads visit content
        assert "先删的.jpg" in bin_page(client) and "待删户（在回收站中）" in bin_page(client)
        response = client.post(
            f"{BIN}/action_post", data={"action": "restore", "rowid": [str(first.id), str(fine.id)]},
            follow_redirects=True,
        )  # fmt: skip
        page = response.get_data(as_text=True)
        assert response.status_code == 200
        assert "先删的.jpg 不能恢复：它所属的记录（走访记录 2026-" in page and "在回收站中。请先恢复该记录。" in page
    db.session.expire_all()
    assert db.session.get(Attachment, first.id).deleted_at is not None
    assert db.session.get(Attachment, fine.id).deleted_at is not None  # all or none


def test_purge_deletes_the_row_its_file_and_thumbnail_and_is_audited(app, client, world, own_store):
    with frozen(TODAY):
        appeal = make_appeal(world["a1"], status="in_progress")
        gone, kept = attach(appeal, "删掉.jpg"), attach(appeal, "留着.jpg", "blue")
        remove(gone)
        names = [gone.stored_name, attachment_service.thumbnail_name(gone.stored_name)]
        assert all(own_store.read(n) is not None for n in names)
        login(client, make_user("Clerk", world["ta"]))  # the bin is not a clerk's: refused, nothing gone
        client.post(f"{BIN}/action_post", data={"action": "purge", "rowid": [str(gone.id)]})
        assert db.session.get(Attachment, gone.id) is not None
        login(client, make_user("Admin"))
        client.post(f"{BIN}/action_post", data={"action": "purge", "rowid": [str(gone.id)]})
        # a live file is not in the bin: purging it by id finds nothing to purge
        client.post(f"{BIN}/action_post", data={"action": "purge", "rowid": [str(kept.id)]})
    db.session.expire_all()
    assert db.session.get(Attachment, gone.id) is None
    assert all(own_store.read(n) is None for n in names)
    assert db.session.get(Attachment, kept.id).deleted_at is None and own_store.read(kept.stored_name) is not None
    assert audit_actions(gone.id) == ["insert", "delete", "purge"]
    assert "永久删除" in client.get("/audit/list/?_flt_0_table_name=attachment").get_data(as_text=True)


def test_a_refused_purge_keeps_the_files(app, world, own_store):
    appeal = make_appeal(world["a1"], status="in_progress")
    row = attach(appeal, "留.jpg")
    remove(row)
    from app.services.attachment_bin import purge_attachments

    purge_attachments(db.session, [row])
    db.session.rollback()
    assert own_store.read(row.stored_name) is not None
    assert db.session.get(Attachment, row.id) is not None


def test_the_bin_is_scoped_and_hides_visit_photo_names_from_who_may_not_read_the_visit(app, client, world, own_store):
    with frozen(TODAY):
        mine = make_visit(world["a1"], [world["pa"]], visited_name="甲村户")
        theirs = make_appeal(world["b1"], status="in_progress")
        my_photo, their_photo = attach(mine, "甲户家中.jpg"), attach(theirs, "乙村现场.jpg")
        remove(my_photo)
        remove(their_photo)
        keeper = bin_keeper(app, world["ta"])
        login(client, keeper)
        page = bin_page(client)
        assert "乙村现场.jpg" not in page  # another township's removal
        assert "甲户家中.jpg" not in page and "******" in page and "甲村户" in page  # listed, name hidden
        client.post(f"{BIN}/action_post", data={"action": "purge", "rowid": [str(their_photo.id)]})
        assert db.session.get(Attachment, their_photo.id) is not None
        login(client, make_user("Admin"))  # the administrator does not read visit content either
        page = bin_page(client)
        assert "乙村现场.jpg" in page and "甲户家中.jpg" not in page
        login(client, make_user("Clerk", world["ta"], roles=["Clerk", "BinKeeper"]))  # a content role
        assert "甲户家中.jpg" in bin_page(client)


def test_a_file_removed_from_a_register_entry_is_in_its_townships_bin_and_goes_back(app, client, world, own_store):
    """Registers' entries are owners like the built-in records: their removed files are in the bin
    of the entry's jurisdiction only, named with the register, and go back on the entry."""
    from tests.registers_kit import make_entry, make_register

    with frozen(TODAY):
        make_register(code="patrol", name="巡查记录", fields=[
            {"code": "place", "label": "巡查地点", "type": "text", "required": True},
            {"code": "photos", "label": "现场照片", "type": "attachment"},
        ])  # fmt: skip
        mine, theirs = (
            make_entry(world["a1"], "patrol", place="村东桥"),
            make_entry(world["b1"], "patrol", place="乙桥"),
        )
        for row in (attach(mine, "村东桥头.jpg"), attach(theirs, "乙村桥.jpg")):
            row.field_code = "photos"
        db.session.commit()
        mine_row, theirs_row = db.session.scalars(select(Attachment).order_by(Attachment.id)).all()[-2:]
        remove(mine_row)
        remove(theirs_row)
        login(client, bin_keeper(app, world["ta"], also=["Clerk"]))  # who keeps the bin and reads the register
        page = bin_page(client)
        assert "村东桥头.jpg" in page and "巡查记录" in page and "乙村桥.jpg" not in page
        response = client.post(f"{BIN}/action_post", data={"action": "restore", "rowid": [str(theirs_row.id)]})
        db.session.expire_all()
        assert db.session.get(Attachment, theirs_row.id).deleted_at is not None  # not in this keeper's bin
        client.post(f"{BIN}/action_post", data={"action": "restore", "rowid": [str(mine_row.id)]})
        db.session.expire_all()
        assert db.session.get(Attachment, mine_row.id).deleted_at is None
        assert response.status_code in (302, 404)


def test_the_check_lists_files_without_rows_and_rows_without_files_and_fixes_the_first(app, world, own_store):
    appeal = make_appeal(world["a1"], status="in_progress")
    good, lost = attach(appeal, "好.jpg"), attach(appeal, "丢.jpg")
    own_store.delete(lost.stored_name)  # a disk restored without it
    own_store.save("0123456789abcdef0123456789abcdef.jpg", jpeg())  # left by a crash
    runner = app.test_cli_runner()
    result = runner.invoke(args=["minqing", "attachments", "check"])
    assert result.exit_code == 1
    assert "0123456789abcdef0123456789abcdef.jpg" in result.output and lost.stored_name in result.output
    assert "丢.jpg" in result.output and good.stored_name not in result.output
    result = runner.invoke(args=["minqing", "attachments", "check", "--fix"])
    assert own_store.read("0123456789abcdef0123456789abcdef.jpg") is None
    assert own_store.read(good.stored_name) is not None
    assert db.session.scalar(select(func.count()).select_from(Attachment)) == 2  # rows are never removed
    assert "已删除 1 个" in result.output
    own_store.save(lost.stored_name, jpeg())
    result = runner.invoke(args=["minqing", "attachments", "check"])
    assert result.exit_code == 0, result.output
    assert os.path.isdir(app.config["ATTACHMENT_DIR"])
