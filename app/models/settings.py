"""系统参数: the rule numbers a county changes (deadlines, quotas, report days ...), edited by the
Admin in the browser. `config.py` keeps the defaults; a row here overrides one for every
server, effective without a restart (app.services.settings)."""

from flask_appbuilder import Model
from sqlalchemy import JSON, Column, String

from app.models.mixins import TimestampMixin, VersionMixin


class Setting(TimestampMixin, VersionMixin, Model):
    __tablename__ = "setting"

    key = Column(String(64), primary_key=True)  # a config.py name, e.g. APPEAL_DAYS_GENERAL
    value = Column(JSON, nullable=True)

    # not stored: set by app.services.settings before a write, for the audit trail
    title = None  # the setting's name in the user's language
    default = None  # the value in force when there is no row (config.py's)

    def audit_changes(self, kind, changes):
        """The trail records the value in force before and after: where there is no row (before
        an insert, after a delete) that is the default, so it reads "value: 7 → 5"."""
        changes.pop("key", None)  # the summary names the setting
        changes.pop("created_at", None)
        if kind in ("insert", "delete") and "value" in changes:
            old, new = changes["value"]
            changes["value"] = [self.default, new] if kind == "insert" else [old, self.default]
        return changes

    def __str__(self):
        return f"{self.title}（{self.key}）" if self.title else self.key
