"""The audit trail (操作日志): who changed what, when, from where. Append-only."""

from flask_appbuilder import Model
from sqlalchemy import JSON, Column, DateTime, ForeignKey, Index, Integer, String

from app.core.clock import now


class AuditLog(Model):
    __tablename__ = "audit_log"
    __audit__ = False  # the trail does not audit itself

    id = Column(Integer, primary_key=True)
    at = Column(DateTime, nullable=False, default=now, index=True)
    user_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"), nullable=True, index=True)
    username = Column(String(128), nullable=True)  # kept as typed, also for failed logins
    ip = Column(String(45), nullable=True)
    action = Column(String(20), nullable=False, index=True)  # insert update delete restore login login_failed
    table_name = Column(String(64), nullable=True)
    record_id = Column(Integer, nullable=True)
    grid_id = Column(Integer, nullable=True, index=True)  # the record's grid, for scoped reading
    summary = Column(String(200), nullable=True)
    changes = Column(JSON, nullable=True)  # {"field": [old, new], ...}

    __table_args__ = (Index("ix_audit_log_record", "table_name", "record_id"),)

    def __str__(self):
        return f"{self.at} {self.username} {self.action} {self.table_name}#{self.record_id}"
