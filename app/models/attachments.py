"""Photos and files (照片/附件) on visits, appeals and contact records.

An attachment points at its record by kind and id (`owner_type`, `owner_id`): one table for
every kind of record. The bytes live outside the database, in the attachment store
(app.core.storage), under `stored_name`; the row keeps what the user uploaded (its original
name), what it really is (the type sniffed from its content, never from the name), its size
and SHA-256, who uploaded it and when. It is seen by whoever sees its record (the scope rule
in app.services.attachments) and goes to the recycle bin and back with it.
"""

from flask_appbuilder import Model
from sqlalchemy import BigInteger, Boolean, Column, DateTime, ForeignKey, Index, Integer, String, text

from app.models.mixins import SoftDeleteMixin


class Attachment(SoftDeleteMixin, Model):
    __tablename__ = "attachment"

    id = Column(Integer, primary_key=True)
    owner_type = Column(String(30), nullable=False)  # visit, appeal, contact (app.services.attachments.OWNERS)
    owner_id = Column(Integer, nullable=False)
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

    __table_args__ = (Index("ix_attachment_owner", "owner_type", "owner_id"),)

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
