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

    def __str__(self):
        return self.key
