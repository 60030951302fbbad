"""Appeals (民情诉求/信访事项): the registration, its timeline of events, and the
per-month counter that hands out registration numbers (登记编号)."""

import datetime as dt
from typing import NamedTuple

from flask import current_app, has_app_context
from flask_appbuilder import Model
from flask_appbuilder.models.decorators import renders
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import relationship

from app.core.choices import Choice, labelled
from app.core.clock import today
from app.core.sensitive import ID_NUMBER, PHONE
from app.models.mixins import LONG_TEXT_LENGTH, NOTE_LENGTH, LongText, SoftDeleteMixin, TimestampMixin


@labelled(
    {
        "registered": _l("Registered"),
        "escalated": _l("Escalated"),
        "assigned": _l("Assigned"),
        "in_progress": _l("In progress"),
        "answered": _l("Answered"),
        "evaluated": _l("Evaluated"),
        "archived": _l("Archived"),
    }
)
class Status(Choice):
    """The states of an appeal, in workflow order. The allowed moves between them live in
    app.services.appeals.workflow.TRANSITIONS."""

    REGISTERED = "registered"  # 已登记, waiting to be assigned
    ESCALATED = "escalated"  # 已上报, waiting for the higher level to assign it
    ASSIGNED = "assigned"  # 已交办
    IN_PROGRESS = "in_progress"  # 办理中
    ANSWERED = "answered"  # 已反馈 (办结)
    EVALUATED = "evaluated"  # 已评议
    ARCHIVED = "archived"  # 已归档


OPEN_STATUSES = (Status.REGISTERED, Status.ESCALATED, Status.ASSIGNED, Status.IN_PROGRESS)  # the deadline runs
CLOSED_STATUSES = (Status.ANSWERED, Status.EVALUATED, Status.ARCHIVED)  # a reply was given: 办结


@labelled({"general": _l("General"), "important": _l("Important")})
class Importance(Choice):
    GENERAL = "general"  # 一般
    IMPORTANT = "important"  # 重要


@labelled({"satisfied": _l("Satisfied"), "basic": _l("Basically satisfied"), "unsatisfied": _l("Unsatisfied")})
class Satisfaction(Choice):
    SATISFIED = "satisfied"  # 满意
    BASIC = "basic"  # 基本满意
    UNSATISFIED = "unsatisfied"  # 不满意


@labelled({"reporter": _l("By the reporter"), "review": _l("At a review meeting")})
class EvaluationSource(Choice):
    REPORTER = "reporter"  # the reporter judged the reply
    REVIEW = "review"  # a representatives' / villagers' review meeting (评议)


def _only_set(column):
    """Index only the rows where `column` is filled (both databases)."""

    condition = text(f"{column} IS NOT NULL")
    return {"sqlite_where": condition, "postgresql_where": condition}


def _live():
    """Index only the rows that are not soft-deleted (what every list shows)."""

    condition = text("deleted_at IS NULL")
    return {"sqlite_where": condition, "postgresql_where": condition}


def _in(column, values):
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class AppealRef(NamedTuple):
    """An appeal's id and number: what a list shows (pages make it a link)."""

    id: int
    number: str

    def __str__(self):
        return self.number or ""


class Deadline(NamedTuple):
    """A due date and its state ("overdue", "due_soon" or None) on the day it was read."""

    date: dt.date
    state: str | None

    def __str__(self):
        return self.date.isoformat()


def due_soon_days():
    """APPEAL_DUE_SOON_DAYS: an open appeal due within this many days is "due soon"."""
    if not has_app_context():
        return 2
    return int(current_app.config["APPEAL_DUE_SOON_DAYS"])


class AppealCounter(Model):
    """The last sequence number handed out in a month ('YYYYMM').

    Incremented inside the registration's transaction, so a registration that
    rolls back gives its number back and two registrations never share one.
    """

    __tablename__ = "appeal_counter"

    month = Column(String(6), primary_key=True)
    last_seq = Column(Integer, nullable=False, default=0)


class Appeal(SoftDeleteMixin, TimestampMixin, Model):
    """One appeal, from the paper 民情民意收集登记表 to its archive."""

    __tablename__ = "appeal"
    # the reporter's numbers: masked for roles without the sensitive-data permission
    __sensitive__ = {"reporter_phone": PHONE, "reporter_id_number": ID_NUMBER}

    id = Column(Integer, primary_key=True)
    # 登记编号: year + month + sequence ("202611001"); month and seq kept apart for ordering
    number = Column(String(16), nullable=False, unique=True)
    number_month = Column(String(6), nullable=False)
    number_seq = Column(Integer, nullable=False)

    # the paper form: who reports what
    reporter_name = Column(String(50), nullable=False, index=True)
    reporter_address = Column(String(200), nullable=True)
    reporter_unit = Column(String(100), nullable=True)
    reporter_phone = Column(String(20), nullable=True, index=True)
    reporter_id_number = Column(String(18), nullable=True)
    content = Column(LongText(LONG_TEXT_LENGTH), nullable=False)
    channel_id = Column(Integer, ForeignKey("appeal_channel.id"), nullable=False, index=True)
    category_id = Column(Integer, ForeignKey("appeal_category.id"), nullable=False, index=True)
    importance = Column(String(10), nullable=False, default=Importance.GENERAL, index=True)

    # where the case lives now (scope), and where it was registered (statistics)
    grid_id = Column(Integer, ForeignKey("grid.id"), nullable=False, index=True)
    origin_grid_id = Column(Integer, ForeignKey("grid.id"), nullable=False, index=True)
    filed_by_id = Column(Integer, ForeignKey("ab_user.id"), nullable=True)  # 填表人 (login)
    filed_by_name = Column(String(100), nullable=False)  # 填表人 as printed
    registered_at = Column(DateTime, nullable=False, index=True)
    # the visit or the representative's contact with voters this appeal was raised from
    visit_id = Column(Integer, ForeignKey("visit.id"), nullable=True)  # partial index
    contact_record_id = Column(Integer, ForeignKey("contact_record.id"), nullable=True)  # partial index

    status = Column(String(20), nullable=False, default=Status.REGISTERED, index=True)
    due_date = Column(Date, nullable=False, index=True)

    # 交办: a person and/or a unit
    handler_person_id = Column(Integer, ForeignKey("person.id"), nullable=True, index=True)
    handler_unit = Column(String(100), nullable=True)
    assigned_at = Column(DateTime, nullable=True)

    # 延期: a pending request waits for a leader's approval
    extension_until = Column(Date, nullable=True)
    extension_reason = Column(LongText(NOTE_LENGTH), nullable=True)
    extension_progress = Column(LongText(NOTE_LENGTH), nullable=True)
    extension_count = Column(Integer, nullable=False, default=0)

    # 督办
    supervised = Column(Boolean, nullable=False, default=False, index=True)
    supervision_note = Column(LongText(NOTE_LENGTH), nullable=True)
    supervised_at = Column(DateTime, nullable=True)

    # 反馈 (办结)
    feedback = Column(LongText(LONG_TEXT_LENGTH), nullable=True)
    feedback_by_name = Column(String(100), nullable=True)  # 经办人 as printed
    closed_at = Column(DateTime, nullable=True)
    closed_on_time = Column(Boolean, nullable=True)  # fixed when the reply is given

    # 评议
    satisfaction = Column(String(20), nullable=True)
    evaluation_source = Column(String(20), nullable=True)
    evaluators = Column(String(200), nullable=True)  # 评议人 / 参加人员
    evaluation_comment = Column(LongText(NOTE_LENGTH), nullable=True)
    evaluated_at = Column(DateTime, nullable=True)

    archived_at = Column(DateTime, nullable=True)
    # 信访 flags of the registration (counted on the dashboard): 集体访 (with its number of
    # people), 越级访 (skipped a level), 重复访 (the same matter again), 苗头性 (an early sign)
    petition_collective = Column(Boolean, nullable=False, default=False, server_default=text("false"))
    petition_people = Column(Integer, nullable=True)
    petition_bypass = Column(Boolean, nullable=False, default=False, server_default=text("false"))
    petition_repeat = Column(Boolean, nullable=False, default=False, server_default=text("false"))
    petition_warning = Column(Boolean, nullable=False, default=False, server_default=text("false"))
    # 上报: put on the platform by the grid's own people (the 填表人 belongs to the grid where the
    # appeal was registered, or below it), fixed at registration; see app.services.stats
    reported_by_grid = Column(Boolean, nullable=False, default=False, server_default=text("false"))
    escalation_count = Column(Integer, nullable=False, default=0)
    duplicate_of_id = Column(Integer, ForeignKey("appeal.id"), nullable=True)  # partial index
    # optimistic locking: two people acting on the same appeal at once cannot both
    # pass the state check; the second UPDATE finds another version and is refused
    version = Column(Integer, nullable=False, default=1)
    __mapper_args__ = {"version_id_col": version}

    channel = relationship("AppealChannel", lazy="joined", innerjoin=True)
    category = relationship("AppealCategory", lazy="joined", innerjoin=True)
    grid = relationship("Grid", foreign_keys=[grid_id], lazy="joined", innerjoin=True)
    origin_grid = relationship("Grid", foreign_keys=[origin_grid_id], lazy="select")
    handler_person = relationship("Person", lazy="joined")
    filed_by = relationship("User", foreign_keys=[filed_by_id], lazy="select")
    duplicate_of = relationship("Appeal", remote_side=[id], lazy="select")
    visit = relationship("Visit", lazy="select")
    contact_record = relationship("ContactRecord", lazy="select")
    events = relationship(
        "AppealEvent",
        back_populates="appeal",
        foreign_keys="AppealEvent.appeal_id",
        order_by="(AppealEvent.at, AppealEvent.id)",
        lazy="select",
        cascade="all, delete-orphan",
    )

    __table_args__ = (
        UniqueConstraint("number_month", "number_seq", name="uq_appeal_month_seq"),
        CheckConstraint(_in("status", Status.codes()), name="ck_appeal_status"),
        CheckConstraint(_in("importance", Importance.codes()), name="ck_appeal_importance"),
        CheckConstraint(
            "satisfaction IS NULL OR " + _in("satisfaction", Satisfaction.codes()), name="ck_appeal_satisfaction"
        ),
        CheckConstraint(
            "evaluation_source IS NULL OR " + _in("evaluation_source", EvaluationSource.codes()),
            name="ck_appeal_evaluation_source",
        ),
        # the overdue / due-soon lists and counts: open appeals by deadline
        Index("ix_appeal_status_due", "status", "due_date"),
        # links that are mostly empty: partial indices keep `x = ?` lookups selective for the planners
        Index("ix_appeal_visit_id", "visit_id", **_only_set("visit_id")),
        Index("ix_appeal_contact_record_id", "contact_record_id", **_only_set("contact_record_id")),
        Index("ix_appeal_duplicate_of_id", "duplicate_of_id", **_only_set("duplicate_of_id")),
        # the list's page of ids, newest first, in a jurisdiction or everywhere: index-only scans
        # (deleted_at, always empty here, makes them covering for SQLite's planner)
        Index("ix_appeal_live_grid_registered", "grid_id", "registered_at", "id", "deleted_at", **_live()),
        Index("ix_appeal_live_registered", "registered_at", "id", "grid_id", "deleted_at", **_live()),
        # counts of a filtered list in a jurisdiction (category, state): index-only
        Index("ix_appeal_live_category_grid", "category_id", "grid_id", "registered_at", "id", "deleted_at", **_live()),
        Index("ix_appeal_live_status_grid", "status", "grid_id", "registered_at", "id", "deleted_at", **_live()),
        # the accountability table: appeals each responsible person filed (填表人) in a period
        Index("ix_appeal_filed_by_registered", "filed_by_id", "registered_at"),
        # ...and the appeals handed to each of them in the period
        Index("ix_appeal_handler_registered", "handler_person_id", "registered_at"),
    )

    def __str__(self):
        return self.number or ""

    def __repr__(self):
        return f"<Appeal {self.number} {self.status}>"

    # -- what lists and pages show ---------------------------------------

    @property
    def raised_from_visit(self):
        """Id of the visit this appeal was raised from (API)."""
        return self.visit_id

    @property
    def raised_from_contact(self):
        """Id of the representative's contact record this appeal was raised from (API)."""
        return self.contact_record_id

    @renders("registered_at")
    def number_label(self):
        """The number (a link on pages: see app.views.appeals); sorts by registration time."""
        return AppealRef(self.id, self.number)

    @property
    def status_title(self):
        return Status.label_of(self.status)

    @renders("status")
    def status_label(self):
        return Status(self.status) if self.status in Status.codes() else self.status

    @renders("importance")
    def importance_label(self):
        return Importance(self.importance) if self.importance in Importance.codes() else self.importance

    @renders("due_date")
    def deadline(self):
        """The due date with its state (overdue, due soon), for lists."""
        return Deadline(self.due_date, self.due_state) if self.due_date is not None else None

    @property
    def is_duplicate(self):
        """Marked as a duplicate (also before the link is flushed)."""
        return self.duplicate_of_id is not None or self.__dict__.get("duplicate_of") is not None

    def due_state_on(self, on, soon_days):
        """ "overdue", "due_soon" or None on the day `on`. Only open appeals (no reply yet, not
        a duplicate) run against their deadline; the deadline day itself is in time."""
        if self.status not in OPEN_STATUSES or self.is_duplicate or self.due_date is None:
            return None
        if self.due_date < on:
            return "overdue"
        if self.due_date <= on + dt.timedelta(days=soon_days):
            return "due_soon"
        return None

    @property
    def due_state(self):
        """ "overdue", "due_soon" or None today (APPEAL_DUE_SOON_DAYS)."""
        return self.due_state_on(today(), due_soon_days())

    @property
    def handler(self):
        """The handler for the API: {"person_id", "person", "unit"} or None."""
        if self.handler_person is None and not self.handler_unit:
            return None
        person = self.handler_person
        return {
            "person_id": person.id if person is not None else None,
            "person": person.name if person is not None else None,
            "unit": self.handler_unit,
        }

    @property
    def registered_in(self):
        """The grid where the appeal was registered, for the API: {"id", "name"}."""
        grid = self.origin_grid
        return {"id": grid.id, "name": grid.name} if grid is not None else None

    @property
    def duplicate_of_number(self):
        return self.duplicate_of.number if self.duplicate_of_id is not None else None

    @property
    def petition_flags(self):
        """The 信访 flags set on this appeal, as titles (集体访 with its number of people)."""
        out = []
        if self.petition_collective:
            out.append(str(_l("Collective petition (%(n)s people)", n=self.petition_people or "?")))
        for name, title in (
            ("petition_bypass", _l("Bypassing a level")),
            ("petition_repeat", _l("Repeated petition")),
            ("petition_warning", _l("Early warning sign")),
        ):
            if getattr(self, name):
                out.append(str(title))
        return out

    @property
    def handler_title(self):
        parts = [self.handler_person.name if self.handler_person is not None else None, self.handler_unit]
        return " · ".join(p for p in parts if p)

    @renders("supervised")
    def supervised_label(self):
        return bool(self.supervised)


class AppealEvent(Model):
    """One step on an appeal's timeline: who did what, when, with which note.

    Names and grids are kept as they were at the time (snapshots), so the record
    stays true when a person is renamed or a grid is moved.
    """

    __tablename__ = "appeal_event"

    id = Column(Integer, primary_key=True)
    appeal_id = Column(Integer, ForeignKey("appeal.id"), nullable=False, index=True)
    action = Column(String(30), nullable=False)
    from_status = Column(String(20), nullable=True)
    to_status = Column(String(20), nullable=True)
    at = Column(DateTime, nullable=False, index=True)
    actor_id = Column(Integer, ForeignKey("ab_user.id"), nullable=True, index=True)
    actor_name = Column(String(100), nullable=False)
    note = Column(LongText(LONG_TEXT_LENGTH), nullable=True)
    # escalation: from and to which grid (plain ids: the target is outside the
    # escalating user's scope by design, see services.appeals.escalate_appeal)
    from_grid_id = Column(Integer, ForeignKey("grid.id"), nullable=True)
    to_grid_id = Column(Integer, ForeignKey("grid.id"), nullable=True)
    handler_text = Column(String(200), nullable=True)  # who it was assigned to
    due_date = Column(Date, nullable=True)  # the deadline this step set or asked for
    result = Column(String(20), nullable=True)  # satisfaction, or approved/rejected
    related_appeal_id = Column(Integer, ForeignKey("appeal.id"), nullable=True)
    data = Column(JSON, nullable=True)  # corrections {field: [old, new]}, extension progress ...

    appeal = relationship("Appeal", foreign_keys=[appeal_id], back_populates="events")
    actor = relationship("User", lazy="select")

    # what each kind of step is called (the workflow's titles: app/services/appeals/workflow.py
    # fills this in, a model imports no service)
    step_titles: dict = {}

    def __str__(self):
        """诉求 202612011 督办：请本周内办结 (the audit trail's summary of the step)."""
        number = self.appeal.number if self.appeal is not None else ""
        step = self.step_titles.get(self.action, self.action)
        if self.note:
            return str(_l("Appeal %(number)s %(step)s: %(note)s", number=number, step=step, note=self.note))
        return str(_l("Appeal %(number)s %(step)s", number=number, step=step))

    def __repr__(self):
        return f"<AppealEvent {self.action} {self.at}>"


# a due date that no figure reads: the cell of an appeal whose deadline no longer runs
NO_DUE = dt.date(1970, 1, 1)
# what a roll-up cell holds besides its count, in the order of its unique key
ROLLUP_DIMENSIONS = (
    "origin_grid_id", "grid_id", "day", "category_id", "channel_id", "importance", "status", "duplicate",
    "due_date", "escalated", "closed_on_time", "satisfaction", "reported_by_grid", "supervised", "extension",
    "handler_person_id", "filed_by_id", "petition_collective", "petition_bypass", "petition_repeat",
    "petition_warning",
)  # fmt: skip


class AppealRollup(Model):
    """How many live appeals share one combination of what the figures ask about (a cell).

    Kept in the writing transaction by `app.services.rollups` (every flush of an appeal, and
    every UPDATE/DELETE statement on appeals run through the session); the dashboard, the
    accountability table, the counts above the appeal lists and the home page sum cells over
    a jurisdiction (grid paths) instead of counting appeals. Soft-deleted appeals are in no
    cell. Fields the figures do not read are folded (0, '', NO_DUE) so cells stay few: the due
    date, the supervision and the extension only while the deadline runs (open, not a duplicate).
    """

    __tablename__ = "appeal_rollup"

    id = Column(Integer, primary_key=True)
    origin_grid_id = Column(Integer, nullable=False)  # where it was registered (figures)
    grid_id = Column(Integer, nullable=False)  # where the case lives now (scope, attention)
    day = Column(Date, nullable=False)  # the registration day
    category_id = Column(Integer, nullable=False)
    channel_id = Column(Integer, nullable=False)
    importance = Column(String(10), nullable=False)
    status = Column(String(20), nullable=False)
    duplicate = Column(Boolean, nullable=False)
    due_date = Column(Date, nullable=False)  # NO_DUE once the deadline no longer runs
    escalated = Column(Boolean, nullable=False)  # escalated at least once
    closed_on_time = Column(Boolean, nullable=False)
    satisfaction = Column(String(20), nullable=False)  # '' before an evaluation
    reported_by_grid = Column(Boolean, nullable=False)
    supervised = Column(Boolean, nullable=False)  # while open
    extension = Column(Boolean, nullable=False)  # an extension awaits approval, while open
    handler_person_id = Column(Integer, nullable=False)  # 0: none
    filed_by_id = Column(Integer, nullable=False)  # 0: none
    petition_collective = Column(Boolean, nullable=False)
    petition_bypass = Column(Boolean, nullable=False)
    petition_repeat = Column(Boolean, nullable=False)
    petition_warning = Column(Boolean, nullable=False)
    n = Column(Integer, nullable=False)

    __table_args__ = (
        UniqueConstraint(*ROLLUP_DIMENSIONS, name="uq_appeal_rollup_cell"),
        Index("ix_appeal_rollup_origin_day", "origin_grid_id", "day"),
        Index("ix_appeal_rollup_grid_status", "grid_id", "status"),
        Index("ix_appeal_rollup_handler_day", "handler_person_id", "day"),
        Index("ix_appeal_rollup_filed_day", "filed_by_id", "day"),
    )


# the summary cells' key, and the counts each keeps (app.services.rollups: `summary_of`)
SUMMARY_KEYS = ("anchor_grid_id", "child_grid_id", "month", "category_id", "due_date")
SUMMARY_MEASURES = (
    "n", "closed", "pending", "escalated", "closed_on_time", "evaluated", "satisfied", "basic", "unsatisfied",
    "reported", "handled_locally", "petition_collective", "petition_bypass", "petition_repeat", "petition_warning",
    "found",
)  # fmt: skip


class AppealSummary(Model):
    """The dashboard's and the accountability table's cells: per grid, the appeals registered
    in its subtree, split by the child subtree they came from, month and category, with the
    figures' counts as columns (not as dimensions, so a county's year is a few
    thousand rows for its top grid, not a row per leaf grid and day).

    Every live, non-duplicate appeal counts once in the cell of each grid on its origin
    grid's path (`anchor_grid_id`, the county, the township, the village, the group itself):
    `child_grid_id` is the child of the anchor the appeal came through (0: registered at the
    anchor itself, "本级"). The due date is kept while the deadline runs (open), so "overdue
    today" is read against the date (NO_DUE otherwise). Kept in the same flush as the day cells
    (`app.services.rollups`); a grid move moves its own rows between the anchors it leaves and joins. `found`
    (发现) counts the appeals of the channels APPEAL_DISCOVERY_CHANNELS names: the channel is
    not a key (a ninth of the rows), so a change of that setting or of a channel's name
    recounts this column (`rollups.found_changed`: by a job once a user's change commits).
    """

    __tablename__ = "appeal_summary"

    id = Column(Integer, primary_key=True)
    anchor_grid_id = Column(Integer, nullable=False)
    child_grid_id = Column(Integer, nullable=False)  # 0: registered at the anchor itself
    month = Column(Date, nullable=False)  # the first day of the registration month
    category_id = Column(Integer, nullable=False)
    due_date = Column(Date, nullable=False)  # NO_DUE unless open
    n = Column(Integer, nullable=False)  # collected
    closed = Column(Integer, nullable=False)
    pending = Column(Integer, nullable=False)
    escalated = Column(Integer, nullable=False)
    closed_on_time = Column(Integer, nullable=False)
    evaluated = Column(Integer, nullable=False)
    satisfied = Column(Integer, nullable=False)
    basic = Column(Integer, nullable=False)
    unsatisfied = Column(Integer, nullable=False)
    reported = Column(Integer, nullable=False)
    handled_locally = Column(Integer, nullable=False)
    petition_collective = Column(Integer, nullable=False)
    petition_bypass = Column(Integer, nullable=False)
    petition_repeat = Column(Integer, nullable=False)
    petition_warning = Column(Integer, nullable=False)
    found = Column(Integer, nullable=False)  # 发现: of a channel where the grid found the problem itself

    __table_args__ = (
        UniqueConstraint(*SUMMARY_KEYS, name="uq_appeal_summary_cell"),
        # what the dashboard and accountability read: an anchor's months, grouped by month, category and
        # child, every column in the index (an index-only scan in the order of the groups: a county's year
        # is ~34k cells, read from a few hundred index pages instead of ~10k table pages, and no sort)
        Index("ix_appeal_summary_read", "anchor_grid_id", "month", "category_id", "child_grid_id", "due_date",
              *SUMMARY_MEASURES),
    )  # fmt: skip


# the open cells' key (app.services.rollups: `open_of`)
OPEN_KEYS = ("anchor_grid_id", "status", "due_date", "supervised", "extension")


class AppealOpen(Model):
    """The "needs attention" cells: per grid, the appeals whose deadline runs (open, not a
    duplicate, not deleted) that live NOW in its subtree (the grid the case is in, which scope
    follows, not where it was registered), by state, due date, supervision and an extension
    awaiting approval. Every such appeal counts once for each grid on its current grid's path,
    so a jurisdiction of whole subtrees is the sum over its roots' cells: a county's open
    appeals are a few hundred rows of its top grid, not a join over every leaf grid's day cells.
    Overdue is read against the due date. Kept in the same flush as the other cells
    (`app.services.rollups`); a grid move recounts the grids above it.
    """

    __tablename__ = "appeal_open"

    id = Column(Integer, primary_key=True)
    anchor_grid_id = Column(Integer, nullable=False)
    status = Column(String(20), nullable=False)  # one of OPEN_STATUSES
    due_date = Column(Date, nullable=False)  # NO_DUE when the appeal has none
    supervised = Column(Boolean, nullable=False)
    extension = Column(Boolean, nullable=False)  # an extension awaits approval
    n = Column(Integer, nullable=False)

    __table_args__ = (UniqueConstraint(*OPEN_KEYS, name="uq_appeal_open_cell"),)


# the state cells' key (app.services.rollups: `state_of`)
STATE_KEYS = ("anchor_grid_id", "status")


class AppealState(Model):
    """The per-state cells: per grid, the live appeals (not deleted; duplicates included, as
    the counts above the lists have them) that live NOW in its subtree, by state. Every appeal
    counts once for each grid on its current grid's path, so the per-state counts of a
    jurisdiction of whole subtrees are the sum over its roots' cells (a handful of rows).
    Kept in the same flush as the other cells (`app.services.rollups`); a grid move recounts
    the grids above it.
    """

    __tablename__ = "appeal_state"

    id = Column(Integer, primary_key=True)
    anchor_grid_id = Column(Integer, nullable=False)
    status = Column(String(20), nullable=False)
    n = Column(Integer, nullable=False)

    __table_args__ = (UniqueConstraint(*STATE_KEYS, name="uq_appeal_state_cell"),)
