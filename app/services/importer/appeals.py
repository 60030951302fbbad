"""Import kind: historical appeals typed in from a clerk's paper or Excel ledger."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.core.errors import DomainError
from app.models.appeals import Appeal
from app.models.lookups import AppealCategory, AppealChannel
from app.services import appeals as appeal_service
from app.services.appeals import HISTORY_PERMISSIONS
from app.services.importer.base import (
    Col,
    Importer,
    RowError,
    cell_choice,
    cell_date,
    cell_datetime,
    cell_text,
    grid_by_code,
    names_of,
)


class AppealImporter(Importer):
    """Historical appeals from a ledger (民情台账): registered before the system,
    some still open, some answered, evaluated or archived."""

    kind = "appeals"
    model_name = "appeal"  # its extra fields (扩展字段) become columns too
    title = _l("Historical appeals")
    resource = "Appeal"
    columns = [
        Col(
            "number",
            _l("Registration number"),
            False,
            "202301005",
            _l("Empty: numbered in the registration month. Given: year+month+sequence, unused, month of the date"),
        ),
        Col("registered_at", _l("Registration date"), True, "2023-01-16", _l("Not in the future"), ("登记时间",)),
        Col("reporter_name", _l("Reporter"), True, "李四", aliases=("姓名", "反映人姓名")),
        Col("reporter_address", _l("Home address"), False, "东关村三组12号"),
        Col("reporter_unit", _l("Work unit"), False, ""),
        Col("reporter_phone", _l("Phone"), False, "13712345678", _l("Mobile 13812345678 or landline 0371-12345678")),
        Col("reporter_id_number", _l("ID number"), False, "", _l("18 characters, check digit verified"), ("身份证号",)),
        Col("content", _l("Content"), True, "村东路灯损坏，夜间出行不便。", aliases=("反映内容", "诉求内容")),
        Col("channel", _l("Channel"), True, "来电", _l("A value of the channel list"), ("渠道",)),
        Col("category", _l("Category"), True, "基础设施", _l("A value of the category list")),
        Col(
            "importance", _l("Importance"), False, "一般", _l("一般 or 重要; empty means 一般 (deadline 7 or 30 days)")
        ),
        Col("grid", _l("Grid code"), True, "410100001001"),
        Col("filed_by_name", _l("Filled in by"), False, "", _l("Empty: the importing user")),
        Col(
            "status",
            _l("Status"),
            False,
            "已归档",
            _l("已登记, 已交办, 办理中, 已反馈 (已办结), 已评议 or 已归档; empty means 已登记"),
            ("办理状态",),
        ),
        Col("handler_unit", _l("Handling unit"), False, "城关镇城建所", _l("Required for 已交办 and 办理中")),
        Col(
            "closed_on",
            _l("Replied at"),
            False,
            "2023-01-20",
            _l("Required once answered; decides 按期办结"),
            ("反馈日期", "办结日期"),
        ),
        Col("feedback", _l("Reply"), False, "已更换路灯3盏。", _l("Required once answered"), ("办理结果", "反馈内容")),
        Col(
            "satisfaction",
            _l("Satisfaction"),
            False,
            "满意",
            _l("满意, 基本满意 or 不满意; required for 已评议 and 已归档; an answered appeal with it is 已评议"),
        ),
        Col("evaluation_comment", _l("Review comments"), False, "", _l("Required when 不满意")),
    ]
    field_map = {"grid": "grid", "channel": "channel", "category": "category", "importance": "importance",
                 "reporter_phone": "reporter_phone", "reporter_id_number": "reporter_id_number",
                 "reporter_name": "reporter_name", "content": "content", "status": "status", "number": "number",
                 "handler_unit": "handler_unit", "closed_on": "closed_on", "feedback": "feedback",
                 "satisfaction": "satisfaction", "evaluation_comment": "evaluation_comment",
                 "registered_at": "registered_at"}  # fmt: skip
    STATUSES = {"已登记": "registered", "登记": "registered", "待交办": "registered",
                "已交办": "assigned", "交办": "assigned", "办理中": "in_progress", "正在办理": "in_progress",
                "已反馈": "answered", "已办结": "answered", "办结": "answered", "已答复": "answered",
                "已评议": "evaluated", "已归档": "archived", "归档": "archived"}  # fmt: skip
    IMPORTANCE = {"一般": "general", "重要": "important", "general": "general", "important": "important"}
    SATISFACTION = {"满意": "satisfied", "基本满意": "basic", "不满意": "unsatisfied",
                    "satisfied": "satisfied", "basic": "basic", "unsatisfied": "unsatisfied"}  # fmt: skip

    @classmethod
    def choice_values(cls, session):
        return {
            "channel": names_of(session, AppealChannel),
            "category": names_of(session, AppealCategory),
            "importance": ["一般", "重要"],
            "status": ["已登记", "已交办", "办理中", "已反馈", "已评议", "已归档"],
            "satisfaction": ["满意", "基本满意", "不满意"],
        }

    def __init__(self, session, actor=None):
        super().__init__(session, actor)

        self.channels = {c.name: c for c in session.scalars(select(AppealChannel))}
        self.categories = {c.name: c for c in session.scalars(select(AppealCategory))}
        self.statuses = {**self.STATUSES, **{code: code for code in HISTORY_PERMISSIONS}}
        self.numbers = set()

    def build(self, row, row_no):

        actor = self.actor or appeal_service.system_actor()
        number = cell_text(row.get("number"))
        registered_at = cell_datetime(row.get("registered_at"), self.column("registered_at"))
        month = seq = None
        if number:
            try:
                month, seq = appeal_service.parse_number(number)
            except DomainError as err:
                raise RowError(self.column("number"), err.message) from None
            if registered_at is not None and registered_at.strftime("%Y%m") != month:
                raise RowError(self.column("number"),
                               _l("The number %(number)s is not of the registration month %(month)s.",
                                  number=number, month=registered_at.strftime("%Y-%m")))  # fmt: skip
            if (month, seq) in self.numbers:
                raise RowError(
                    self.column("number"), _l("The number %(number)s appears twice in the file.", number=number)
                )
            if appeal_service.number_in_use(self.session, month, seq):
                raise RowError(
                    self.column("number"), _l("The registration number %(number)s is already used.", number=number)
                )
            self.numbers.add((month, seq))
        channel_name = cell_text(row.get("channel"))
        if channel_name not in self.channels:
            raise RowError(self.column("channel"), _l("%(value)s is not in the channel list.", value=channel_name))
        category_name = cell_text(row.get("category"))
        if category_name not in self.categories:
            raise RowError(self.column("category"), _l("%(value)s is not in the category list.", value=category_name))
        importance = cell_choice(row.get("importance"), self.column("importance"), self.IMPORTANCE, "一般、重要")
        status = cell_choice(row.get("status"), self.column("status"), self.statuses,
                         "已登记、已交办、办理中、已反馈、已评议、已归档") or "registered"  # fmt: skip
        satisfaction = cell_choice(row.get("satisfaction"), self.column("satisfaction"), self.SATISFACTION,
                               "满意、基本满意、不满意")  # fmt: skip
        appeal = Appeal(
            number=number,
            number_month=month,
            number_seq=seq,
            reporter_name=cell_text(row.get("reporter_name")),
            reporter_address=cell_text(row.get("reporter_address")),
            reporter_unit=cell_text(row.get("reporter_unit")),
            reporter_phone=cell_text(row.get("reporter_phone")),
            reporter_id_number=cell_text(row.get("reporter_id_number")),
            content=cell_text(row.get("content")),
            channel=self.channels[channel_name],
            category=self.categories[category_name],
            importance=importance or "general",
            grid=grid_by_code(self.session, cell_text(row.get("grid")), self.column("grid")),
            filed_by_name=cell_text(row.get("filed_by_name")),
            handler_unit=cell_text(row.get("handler_unit")),
            feedback=cell_text(row.get("feedback")),
            satisfaction=satisfaction,
            evaluation_comment=cell_text(row.get("evaluation_comment")),
        )
        closed_on = cell_date(row.get("closed_on"), self.column("closed_on"))
        appeal_service.prepare_historical_appeal(self.session, actor, appeal, registered_at, status, closed_on)
        return appeal

    def finish(self, made):

        actor = self.actor or appeal_service.system_actor()
        rows = {id(obj): row_no for row_no, obj in made}
        errors = appeal_service.number_historical_appeals(self.session, actor, [obj for _row, obj in made])
        return [(rows[id(appeal)], str(self.column("number").header), str(err.message)) for appeal, err in errors]
