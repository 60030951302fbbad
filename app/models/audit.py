"""The audit trail (操作日志): who changed what, when, from where. Append-only."""

from flask_appbuilder import Model
from sqlalchemy import JSON, Column, DateTime, ForeignKey, Index, Integer, String

from app.core.clock import now
from app.models.grids import PATH_TYPE


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
    grid_id = Column(Integer, nullable=True, index=True)  # the record's grid when the row was written
    # where that grid stood in the tree then: the row belongs to that jurisdiction for good
    # (a grid or person that moves later takes none of its history along, leaves none behind)
    grid_path = Column(PATH_TYPE, nullable=True, index=True)
    # a change that moved the record (its grid, or a grid's parent): where it was before, so the
    # jurisdiction it left reads the move too
    from_grid_path = Column(PATH_TYPE, nullable=True, index=True)
    summary = Column(String(200), nullable=True)
    changes = Column(JSON, nullable=True)  # {"field": [old, new], ...}

    __table_args__ = (Index("ix_audit_log_record", "table_name", "record_id"),)

    def __str__(self):
        return f"{self.at} {self.username} {self.action} {self.table_name}#{self.record_id}"
