"""照片/附件 fields of registers: designed in 台账设计, filled on the entry forms with every other
field's errors at once, shown, listed, exported and printed, scoped like the entry, taken to the
recycle bin with it, hidden with their field, and refused on the extra fields of built-in records."""

import datetime as dt
import io
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from app.core.clock import frozen
from app.core.errors import DomainError
from app.extensions import db
from app.models.attachments import Attachment
from app.models.audit import AuditLog
from app.models.registers import RegisterDef, RegisterField
from app.services import attachments as attachment_service
from app.services.registers import definitions, packages, runtime
from app.services.registers import extensions as extension_service
from tests.conftest import api_token, login
from tests.factories import make_user
from tests.registers_kit import entry_class, make_entry, make_register
from tests.test_attachments import EXE, PDF, files, jpeg, stored_files

TODAY = "2026-11-20 10:00"


def _patrol(**photo):
    """巡查记录: a required text, a date, and a required photos field (at most 3, images only)."""
    field = {"code": "photos", "label": "现场照片", "type": "attachment", "required": True, "max_value": "3",
             "file_kinds": "jpeg,png", "help_text": "拍下现场"}  # fmt: skip
    field.update(photo)
    return make_register(
        code="patrol", name="巡查记录",
        fields=[
            {"code": "place", "label": "巡查地点", "type": "text", "required": True},
            {"code": "day", "label": "巡查日期", "type": "date"},
            field,
        ],
    )  # fmt: skip


def _form(world, **over):
    data = {"grid": str(world["a1"].id), "place": "村东桥", "day": "2026-11-19"}
    data.update(over)
    return data


def _rows(code="patrol"):
    return db.session.scalars(select(Attachment).where(Attachment.owner_type == f"reg_{code}").order_by(Attachment.id))


def test_the_designer_takes_a_photos_field_with_its_own_count_and_kinds(app):
    register = _patrol()
    field = register.field("photos")
    assert field.file_kinds == "jpeg,png" and field.max_value == "3"
    cls = runtime.entry_class("patrol")
    columns = {c.name for c in cls.__table__.columns}
    assert "f_photos" not in columns and "photos" not in columns  # no column: the files are attachments
    bad = RegisterField(code="scan", label="扫描件", type="attachment", max_value="99", min_value="1",
                        file_kinds="jpeg,exe", filterable=True, default_value="x")  # fmt: skip
    register.fields.append(bad)
    with pytest.raises(DomainError) as refused:
        definitions.check_field(db.session, bad)
    messages = " ".join(str(e) for e in refused.value.errors)
    assert "1 到 10" in messages  # the most files: within ATTACHMENT_MAX_FILES
    assert "exe" in messages and "不能按照片/附件" in messages and "没有最小值" in messages and "没有默认值" in messages
    db.session.rollback()


def test_an_entry_is_saved_with_two_photos_and_shown_listed_printed_and_exported(app, client, world):
    _patrol()
    clerk = make_user("Clerk", world["ta"])
    login(client, clerk)
    form = client.get("/registers/patrol/add").get_data(as_text=True)
    assert 'name="photos"' in form and 'capture="environment"' in form and "multiple" in form
    assert 'accept="image/jpeg,image/png"' in form and "最多 3 个文件" in form
    one, two = jpeg(640, 480), jpeg(32, 32, "blue")
    with frozen(TODAY):
        data = _form(world, photos=files(("桥头.jpg", one), ("桥面.jpg", two)))
        response = client.post("/registers/patrol/add", data=data, content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)
    entry = db.session.scalars(select(entry_class("patrol"))).one()
    rows = _rows().all()
    assert [(r.owner_id, r.field_code, r.original_name, r.grid_id) for r in rows] == [
        (entry.id, "photos", "桥头.jpg", world["a1"].id), (entry.id, "photos", "桥面.jpg", world["a1"].id),
    ]  # fmt: skip
    assert all(r.has_thumbnail and r.uploaded_by_id == clerk.id for r in rows)
    assert attachment_service.storage().read(rows[0].stored_name) == one
    page = client.get(f"/registers/patrol/show/{entry.id}").get_data(as_text=True)
    assert all(f"/attachments/thumb/{r.id}" in page for r in rows) and "现场照片" in page
    assert client.get(f"/attachments/file/{rows[0].id}").data == one
    listing = client.get("/registers/patrol/list/").get_data(as_text=True)
    assert "现场照片" in listing and "<td>2</td>" in listing.replace(" ", "").replace("\n", "")
    printed = client.get(f"/registers/patrol/print/{entry.id}").get_data(as_text=True)
    assert f"/attachments/thumb/{rows[0].id}" in printed and "max-width: 30mm" in printed
    sheet = load_workbook(io.BytesIO(client.get("/registers/patrol/export/").data)).active
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    column = values[0].index("现场照片")
    assert values[1][column] == "桥头.jpg、桥面.jpg"
    trail = db.session.scalars(select(AuditLog).where(AuditLog.table_name == "attachment")).all()
    assert {r.record_id for r in trail if r.action == "insert"} == {r.id for r in rows}


def test_a_bad_file_and_a_missing_field_are_reported_together_and_nothing_is_written(app, client, world):
    _patrol()
    login(client, make_user("Clerk", world["ta"]))
    before = stored_files(app)
    data = _form(world, place="", photos=files(("照片.jpg", EXE), ("ok.jpg", jpeg()), ("扫描.pdf", PDF)))
    response = client.post("/registers/patrol/add", data=data, content_type="multipart/form-data")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "请填写巡查地点。" in body  # the text field ...
    assert "照片.jpg" in body and "无法识别" in body  # ... a disguised file ...
    assert "扫描.pdf" in body and "JPEG、PNG" in body  # ... a kind this field does not take
    assert "3 处问题" in body
    assert db.session.scalar(select(func.count()).select_from(entry_class("patrol"))) == 0
    assert _rows().all() == [] and stored_files(app) == before
    # required: at least one file; more than the field's own count is refused
    body = client.post("/registers/patrol/add", data=_form(world), content_type="multipart/form-data").get_data(
        as_text=True
    )
    assert "请填写现场照片。" in body
    four = files(*[(f"{n}.jpg", jpeg()) for n in range(4)])
    body = client.post("/registers/patrol/add", data=_form(world, photos=four),
                       content_type="multipart/form-data").get_data(as_text=True)  # fmt: skip
    assert "一次最多添加 3 个文件" in body
    assert db.session.scalar(select(func.count()).select_from(entry_class("patrol"))) == 0


def test_the_edit_form_lists_the_files_and_removes_the_ticked_ones(app, client, world):
    _patrol()
    login(client, make_user("Clerk", world["ta"]))
    data = _form(world, photos=files(("a.jpg", jpeg()), ("b.png", _png())))
    assert client.post("/registers/patrol/add", data=data, content_type="multipart/form-data").status_code == 302
    entry = db.session.scalars(select(entry_class("patrol"))).one()
    a, b = _rows().all()
    form = client.get(f"/registers/patrol/edit/{entry.id}").get_data(as_text=True)
    assert f'name="photos__remove" value="{a.id}"' in form and "b.png" in form
    # removing both would leave the required field empty: refused, nothing removed
    both = {**_form(world), "photos__remove": [str(a.id), str(b.id)], "row_version": str(entry.version)}
    body = client.post(f"/registers/patrol/edit/{entry.id}", data=both, content_type="multipart/form-data")
    assert "请填写现场照片。" in body.get_data(as_text=True)
    db.session.expire_all()
    assert [r.deleted_at for r in _rows()] == [None, None]
    one = {**_form(world), "photos__remove": [str(a.id)], "row_version": str(entry.version),
           "photos": files(("c.jpg", jpeg()))}  # fmt: skip
    assert client.post(f"/registers/patrol/edit/{entry.id}", data=one,
                       content_type="multipart/form-data").status_code == 302  # fmt: skip
    db.session.expire_all()
    live = [r.original_name for r in _rows() if r.deleted_at is None]
    assert live == ["b.png", "c.jpg"]


def _png():
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (10, 10), "white").save(out, "PNG")
    return out.getvalue()


def _entry_with_photo(world, grid="a1", name="现场.jpg"):
    entry = make_entry(world[grid], code="patrol", place=f"{grid}地点", day=dt.date(2026, 11, 3))
    uploads = attachment_service.check_uploads([(name, jpeg())])
    (row,) = attachment_service.add_attachments(db.session, entry, uploads, field_code="photos")
    db.session.commit()
    return entry, row


def test_another_townships_clerk_gets_404_for_the_entrys_files_by_page_and_api(app, client, world):
    _patrol()
    entry, row = _entry_with_photo(world)
    other = make_user("Clerk", world["tb"])
    login(client, other)
    for url in (f"/attachments/file/{row.id}", f"/attachments/thumb/{row.id}", f"/registers/patrol/show/{entry.id}"):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/attachments/remove/{row.id}").status_code == 404
    headers = api_token(client, other)
    for url in (f"/api/v1/attachments/{row.id}", f"/api/v1/attachments/{row.id}/file",
                f"/api/v1/attachments/{row.id}/thumbnail", f"/api/v1/attachments/?owner=reg_patrol&owner_id={entry.id}"):  # fmt: skip
        assert client.get(url, headers=headers).status_code == 404, url
    assert client.delete(f"/api/v1/attachments/{row.id}", headers=headers).status_code == 404
    response = client.post(f"/api/v1/attachments/reg_patrol/{entry.id}", headers=headers,
                           data={"field": "photos", "files": files(("x.jpg", jpeg()))},
                           content_type="multipart/form-data")  # fmt: skip
    assert response.status_code == 404
    db.session.expire_all()
    assert [(r.id, r.deleted_at) for r in _rows()] == [(row.id, None)]
    login(client, make_user("Clerk", world["ta"]))  # the entry's own township reads it
    assert client.get(f"/attachments/file/{row.id}").status_code == 200


def test_a_sensitive_photos_field_is_read_only_with_the_personal_data_permission(app, client, world):
    _patrol(sensitive=True)
    entry, row = _entry_with_photo(world)
    login(client, make_user("Leader", world["ta"]))  # a leader reads the entry, not personal data
    page = client.get(f"/registers/patrol/show/{entry.id}").get_data(as_text=True)
    assert "mq-files-confidential" in page and f"/attachments/thumb/{row.id}" not in page
    assert client.get(f"/attachments/file/{row.id}").status_code == 403
    login(client, make_user("Clerk", world["ta"]))
    assert client.get(f"/attachments/file/{row.id}").status_code == 200


def test_deleting_an_entry_takes_its_files_to_the_recycle_bin_and_restoring_brings_them_back(app, client, world):
    _patrol()
    with frozen(TODAY):
        entry, row = _entry_with_photo(world)
        login(client, make_user("Clerk", world["ta"]))
        assert client.post(f"/registers/patrol/delete/{entry.id}").status_code == 302
    db.session.expire_all()
    deleted = db.session.get(entry_class("patrol"), entry.id).deleted_at
    assert deleted is not None and db.session.get(Attachment, row.id).deleted_at == deleted
    assert client.get(f"/attachments/file/{row.id}").status_code == 404
    login(client, make_user("Admin"))
    assert client.post(f"/registers/patrol/trash/restore/{entry.id}").status_code == 302
    db.session.expire_all()
    assert db.session.get(Attachment, row.id).deleted_at is None
    assert client.get(f"/attachments/file/{row.id}").status_code == 200


def test_removing_the_field_hides_its_files_and_restoring_it_brings_them_back(app, client, world):
    register = _patrol()
    entry, row = _entry_with_photo(world)
    login(client, make_user("Clerk", world["ta"]))
    assert client.get(f"/attachments/file/{row.id}").status_code == 200
    definitions.remove_field(db.session, register.field("photos"))
    db.session.commit()
    assert client.get(f"/attachments/file/{row.id}").status_code == 404
    assert "现场照片" not in client.get(f"/registers/patrol/show/{entry.id}").get_data(as_text=True)
    definitions.restore_field(db.session, register.field("photos"))
    db.session.commit()
    assert client.get(f"/attachments/file/{row.id}").status_code == 200


def test_a_type_change_to_or_from_photos_is_refused_while_the_field_holds_anything(app, world):
    register = _patrol()
    entry, _row = _entry_with_photo(world)
    entry.day = None  # the date field holds nothing: it may become a photos field
    db.session.commit()
    field = register.field("photos")
    field.type = "text"
    with pytest.raises(DomainError) as refused:
        definitions.save_field(db.session, field, "attachment")
    assert "1 条记录" in str(refused.value) and "照片/附件" in str(refused.value)
    db.session.rollback()
    place = db.session.get(RegisterDef, register.id).field("place")
    place.type = "attachment"
    with pytest.raises(DomainError) as refused:
        definitions.save_field(db.session, place, "text")
    assert "1 条记录" in str(refused.value)
    db.session.rollback()
    # an empty field changes freely (nothing to convert)
    day = db.session.get(RegisterDef, register.id).field("day")
    day.type = "attachment"
    definitions.save_field(db.session, day, "date")
    db.session.commit()
    assert runtime.spec("patrol").field("day").type == "attachment"


def test_import_leaves_photos_out_and_says_so_and_packages_carry_the_field(app, client, world):
    _patrol()
    login(client, make_user("Clerk", world["ta"]))
    book = load_workbook(io.BytesIO(client.get("/registers/patrol/template/").data))
    headers = [c.value for c in book.worksheets[0][1]]
    assert "现场照片" not in " ".join(str(h) for h in headers) and any("巡查地点" in str(h) for h in headers)
    notes = " ".join(str(c.value) for row in book.worksheets[1].iter_rows() for c in row if c.value)
    assert "照片/附件（现场照片）不能从Excel导入" in notes
    package = packages.export_package(db.session)
    (field,) = [f for r in package["registers"] if r["code"] == "patrol" for f in r["fields"] if f["code"] == "photos"]
    assert field["type"] == "attachment" and field["file_kinds"] == "jpeg,png" and field["max_value"] == "3"
    assert packages.import_package(db.session, __import__("json").dumps(package).encode()).created == 0


def test_extra_fields_of_built_in_records_refuse_photos_with_the_reason(app):
    extension_service.ensure_definitions(db.session)
    definition = db.session.scalar(select(RegisterDef).where(RegisterDef.extends == "person"))
    field = RegisterField(code="photo", label="照片", type="attachment")
    definition.fields.append(field)
    with pytest.raises(DomainError) as refused:
        definitions.check_field(db.session, field)
    assert "自带" in str(refused.value)
    db.session.rollback()


def test_the_admin_adds_a_photos_field_in_the_designer_and_the_form_takes_photos_at_once(app, client, world):
    login(client, make_user("Admin"))
    assert client.post("/registerdesign/add", data={"code": "patrol", "name": "巡查记录", "menu_group": "台账",
                                                    "active": "y", "sort_order": "1"}).status_code == 302  # fmt: skip
    register = db.session.scalar(select(RegisterDef).where(RegisterDef.code == "patrol"))
    add = f"/registerfields/add?_flt_0_register={register.id}"
    form = client.get(add).get_data(as_text=True)
    assert "允许的文件类型" in form and 'value="attachment"' in form and "照片/附件" in form
    bad = client.post(add, data={"code": "photos", "label": "现场照片", "type": "attachment", "max_value": "50",
                                 "position": "1", "sortable": "y"})  # fmt: skip
    assert "1 到 10" in bad.get_data(as_text=True) and "不能按照片/附件" in bad.get_data(as_text=True)
    ok = client.post(add, data={"code": "photos", "label": "现场照片", "type": "attachment", "max_value": "2",
                                "file_kinds": ["jpeg", "pdf"], "required": "y", "in_list": "y", "position": "1"})  # fmt: skip
    assert ok.status_code == 302
    db.session.expire_all()
    field = db.session.get(RegisterDef, register.id).field("photos")
    assert (field.type, field.file_kinds, field.max_value, field.required) == ("attachment", "jpeg,pdf", "2", True)
    edit = client.get(f"/registerfields/edit/{field.id}").get_data(as_text=True)
    chosen = re.findall(r'<option ([^>]*)value="(\w+)"([^>]*)>', edit)
    assert {v for before, v, after in chosen if "selected" in before + after} >= {"jpeg", "pdf"}
    login(client, make_user("Clerk", world["ta"]))
    form = client.get("/registers/patrol/add").get_data(as_text=True)
    assert 'accept="image/jpeg,application/pdf"' in form and "最多 2 个文件" in form
    response = client.post("/registers/patrol/add", data={"grid": str(world["a1"].id), "photos": files(("a.jpg", jpeg()))},
                           content_type="multipart/form-data")  # fmt: skip
    assert response.status_code == 302
    assert [(r.field_code, r.original_name) for r in _rows()] == [("photos", "a.jpg")]
