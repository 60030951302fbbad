"""Photos and files (照片/附件) on visits, appeals and contact records.

An attachment points at its record by kind and id (`owner_type`, `owner_id`): one table for
every kind of record. The bytes live outside the database, in the attachment store
(app.core.storage), under `stored_name`; the row keeps what the user uploaded (its original
name), what it really is (the type sniffed from its content, never from the name), its size
and SHA-256, who uploaded it and when. It is seen by whoever sees its record (the scope rule
in app.services.attachments) and goes to the recycle bin and back with it.
"""

from flask_appbuilder import Model
from sqlalchemy import BigInteger, Boolean, Column, DateTime, ForeignKey, Index, Integer, String, select, text
from sqlalchemy.orm import object_session

from app.models.mixins import SoftDeleteMixin


class Attachment(SoftDeleteMixin, Model):
    __tablename__ = "attachment"

    id = Column(Integer, primary_key=True)
    # visit, appeal, contact (app.services.attachments.OWNERS), or a register entry's table (reg_<code>)
    owner_type = Column(String(40), nullable=False)
    owner_id = Column(Integer, nullable=False)
    # a register entry's files: the code of the 照片/附件 field they were added to (None: the record's own)
    field_code = Column(String(30), nullable=True)
    # the record's grid when the file was added: the audit trail files the row under it
    grid_id = Column(Integer, ForeignKey("grid.id"), nullable=True, index=True)
    original_name = Column(String(200), nullable=False)
    stored_name = Column(String(100), nullable=False, unique=True)
    content_type = Column(String(100), nullable=False)
    size = Column(BigInteger, nullable=False)
    sha256 = Column(String(64), nullable=False)
    has_thumbnail = Column(Boolean, nullable=False, default=False, server_default=text("false"))
    uploaded_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"), nullable=True)
    uploaded_by_name = Column(String(100), nullable=False, default="")
    uploaded_at = Column(DateTime, nullable=False)

    __table_args__ = (
        Index("ix_attachment_owner", "owner_type", "owner_id"),
        Index("ix_attachment_owner_field", "owner_type", "owner_id", "field_code"),
    )

    # what the recycle bin shows, filled per page by app.services.attachment_bin.prepare_page
    # (until then the name stays hidden: a visit's photo names are visit content)
    shown_name = "******"
    record_text = ""

    def __str__(self):
        return self.original_name or ""

    def __repr__(self):
        return f"<Attachment {self.owner_type}#{self.owner_id} {self.original_name}>"

    @property
    def is_image(self):
        return (self.content_type or "").startswith("image/")

    @property
    def size_text(self):
        """1.2 MB, 340 KB: the size as a person reads it."""
        size = self.size or 0
        if size >= 1024 * 1024:
            return f"{size / (1024 * 1024):.1f} MB"
        return f"{max(1, round(size / 1024))} KB"


FILES_HELD = "_mq_files"  # an entry's files by field, read for a page at once (app.services.registers.files)


def files_by_field(session, owner_type, owner_ids):
    """{owner id: {field code: [live Attachment]}} of `owner_ids`, in one query."""
    out = {owner_id: {} for owner_id in owner_ids}
    if not owner_ids:
        return out
    rows = session.scalars(
        select(Attachment)
        .where(Attachment.owner_type == owner_type, Attachment.owner_id.in_(owner_ids), Attachment.deleted_at.is_(None))
        .order_by(Attachment.uploaded_at, Attachment.id)
    ).all()
    for row in rows:
        out[row.owner_id].setdefault(row.field_code, []).append(row)
    return out


def field_files(code):
    """The attribute of a register entry holding the live files of its 照片/附件 field `code` (a
    list of Attachment): no column, the files are rows of `attachment` (owner = the entry)."""

    def files(entry):
        session = object_session(entry)
        if session is None or entry.id is None:
            return []
        held = entry.__dict__.get(FILES_HELD)
        transaction = session.get_transaction()
        if held is None or transaction is None or held[0] is not transaction:  # none, or of an earlier one
            by_field = files_by_field(session, entry.__tablename__, [entry.id])[entry.id]
            held = (session.get_transaction(), by_field)
            entry.__dict__[FILES_HELD] = held
        return list(held[1].get(code, []))

    return property(files)
