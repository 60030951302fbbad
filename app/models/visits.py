"""Visits (民情家访 / 民情日记), the visit quotas, and the history of person kinds they need."""

import re
import unicodedata
from datetime import date

from flask_appbuilder import Model
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
    event,
    insert,
    select,
    text,
)
from sqlalchemy.orm import attributes, relationship

from app.core.clock import now
from app.core.sensitive import CONTENT, PHONE
from app.models.mixins import LONG_TEXT_LENGTH, NOTE_LENGTH, LongText, SoftDeleteMixin, TimestampMixin, VersionMixin
from app.models.personnel import Person

# A visit counts once for each of its visitors (two cadres at one door: one visit each).
visit_visitors = Table(
    "visit_visitor",
    Model.metadata,
    Column("visit_id", Integer, ForeignKey("visit.id", ondelete="CASCADE"), primary_key=True),
    Column("person_id", Integer, ForeignKey("person.id"), primary_key=True, index=True),
)

# Characters that do not make two addresses different: "幸福路 3 号" == "幸福路3号".
_NOISE = re.compile(r"[\s,，.。、·•\-—_/\\|()（）\[\]【】:：;；'\"“”‘’#＃]+")


def normalize_household(text):
    """Fold width (ＡＢ１ → ab1), case, blanks and punctuation out of an address or name."""
    if not text:
        return ""
    return _NOISE.sub("", unicodedata.normalize("NFKC", str(text)).lower())


def household_key(grid_id, address, name):
    """The identity of a household for the "households visited" quotas.

    A household is its grid plus its normalized address; without an address, its
    grid plus the normalized name of the person visited. Two visits to
    "幸福路3号" and "幸福路 3 号" in the same grid are one household; the same
    address in two grids is two.
    """
    address = normalize_household(address)
    body = f"@{address}" if address else f"#{normalize_household(name)}"
    return f"{grid_id or 0}:{body}"[:220]


def _only_set(column):
    """Index only the rows where `column` is filled (both databases)."""

    condition = text(f"{column} IS NOT NULL")
    return {"sqlite_where": condition, "postgresql_where": condition}


def _live():
    """Index only the rows that are not soft-deleted (what every list shows)."""

    condition = text("deleted_at IS NULL")
    return {"sqlite_where": condition, "postgresql_where": condition}


class Visit(SoftDeleteMixin, VersionMixin, TimestampMixin, Model):
    """One entry of a visit log (民情家访日志): who went where, what was said and done."""

    __tablename__ = "visit"

    # confidential: the audit trail records that these changed, not what they say
    # what a household told the visitor (民情日记 rules): masked for who may not read it, and
    # never written into the audit trail (recorded as changed, without the values)
    __sensitive__ = {"visited_phone": (PHONE, CONTENT), "situation": CONTENT, "problems": CONTENT}
    __audit_redact__ = ("situation", "problems", "visited_phone")

    id = Column(Integer, primary_key=True)
    visit_date = Column(Date, nullable=False, index=True)
    form_id = Column(Integer, ForeignKey("visit_form.id"), nullable=False, index=True)
    grid_id = Column(Integer, ForeignKey("grid.id"), nullable=False, index=True)
    target_id = Column(Integer, ForeignKey("visit_target.id"), nullable=False, index=True)
    visited_name = Column(String(50), nullable=False, index=True)  # 户主或被访人
    visited_phone = Column(String(20), nullable=True)
    address = Column(String(200), nullable=True)
    family_size = Column(Integer, nullable=True)  # 家庭人数
    situation = Column(LongText(LONG_TEXT_LENGTH), nullable=True)  # 家庭情况 (confidential)
    problems = Column(LongText(LONG_TEXT_LENGTH), nullable=True)  # 反映的问题 (confidential)
    actions = Column(LongText(LONG_TEXT_LENGTH), nullable=True)  # 采取的措施
    result = Column(LongText(LONG_TEXT_LENGTH), nullable=True)  # 办理结果
    follow_up_date = Column(Date, nullable=True, index=True)  # 计划回访日期
    # a 定期回访 points at the visit it follows up; that visit's follow-up is then done
    follow_up_of_id = Column(Integer, ForeignKey("visit.id"), nullable=True)  # partial index below
    # follow_up_date while the follow-up is still to make, else empty (app.services.follow_ups)
    follow_up_open = Column(Date, nullable=True)  # partial index below
    household_key = Column(String(220), nullable=False, default="", index=True)
    recorded_by_id = Column(Integer, ForeignKey("ab_user.id"), nullable=True, index=True)

    # outer joins: the API also loads these through the optional follow_up_of, where an
    # inner join would drop every visit that follows nothing up
    form = relationship("VisitForm", lazy="joined")
    grid = relationship("Grid", lazy="joined")
    target = relationship("VisitTarget", lazy="joined")
    visitors = relationship("Person", secondary=visit_visitors, lazy="selectin", order_by="Person.name")
    follow_up_of = relationship("Visit", remote_side=[id], back_populates="follow_ups")
    follow_ups = relationship("Visit", back_populates="follow_up_of", order_by="Visit.visit_date")
    recorded_by = relationship("User", foreign_keys=[recorded_by_id], lazy="select")

    __table_args__ = (
        CheckConstraint("family_size IS NULL OR family_size >= 1", name="ck_visit_family_size"),
        CheckConstraint("follow_up_date IS NULL OR follow_up_date > visit_date", name="ck_visit_follow_up"),
        Index("ix_visit_grid_date", "grid_id", "visit_date"),
        # mostly empty: a partial index, so planners see how selective `follow_up_of_id = ?` is
        Index("ix_visit_follow_up_of_id", "follow_up_of_id", **_only_set("follow_up_of_id")),
        # the follow-ups still to make: a few among a county's millions of visits
        Index("ix_visit_follow_up_open", "grid_id", "follow_up_open", "deleted_at", **_only_set("follow_up_open")),
        # the list's page of ids, latest first, in a jurisdiction or everywhere: index-only scans
        # (deleted_at, always empty here, makes them covering for SQLite's planner)
        Index("ix_visit_live_grid_date", "grid_id", "visit_date", "id", "deleted_at", **_live()),
        Index("ix_visit_live_date", "visit_date", "id", "grid_id", "deleted_at", **_live()),
        Index("ix_visit_live_form_grid", "form_id", "grid_id", "visit_date", "id", "deleted_at", **_live()),
    )

    def __str__(self):
        return f"{self.visit_date} {self.visited_name}"

    @property
    def visitor_names(self):
        return "、".join(p.name for p in self.visitors)

    @property
    def visitor_ids(self):
        return [p.id for p in self.visitors]


@event.listens_for(Visit, "before_insert")
@event.listens_for(Visit, "before_update")
def _visit_household(mapper, connection, target):
    grid_id = target.grid.id if target.grid is not None else target.grid_id
    target.household_key = household_key(grid_id, target.address, target.visited_name)


class VisitTally(Model):
    """Per visitor and calendar period: visits made and distinct households visited.

    What the quotas count (`app.services.quotas`), kept up to date on every write of a
    visit by `app.services.tally` (in the same transaction), so a county's quota
    figures read one row per person instead of a year of visits. Rebuilt from the
    visits by `flask minqing rebuild-tallies` (and after a bulk load).
    """

    __tablename__ = "visit_tally"

    period = Column(String(10), primary_key=True)  # "week" | "month" | "quarter" | "year"
    start = Column(Date, primary_key=True)  # the first day of the week (Monday), month, quarter or year
    person_id = Column(Integer, ForeignKey("person.id", ondelete="CASCADE"), primary_key=True, index=True)
    visits = Column(Integer, nullable=False)
    households = Column(Integer, nullable=False)


class VisitGridTally(Model):
    """Per grid (the visit's own) and calendar period: distinct households visited and visits.

    What the 走访率 (三个百分百, seed 001) reads: households are grid + address, so the
    households of a subtree are the sum of its grids' rows. Kept with the person tally.
    """

    __tablename__ = "visit_grid_tally"

    period = Column(String(10), primary_key=True)
    start = Column(Date, primary_key=True)
    grid_id = Column(Integer, ForeignKey("grid.id", ondelete="CASCADE"), primary_key=True, index=True)
    visits = Column(Integer, nullable=False)
    households = Column(Integer, nullable=False)


PERIODS = ("week", "month", "quarter", "year")
UNITS = ("visits", "households")


class QuotaRule(VersionMixin, TimestampMixin, Model):
    """A visit quota an administrator edits: who (person kind and/or words of the
    position), per month or year, at least how many visits or distinct households."""

    __tablename__ = "quota_rule"

    id = Column(Integer, primary_key=True)
    name = Column(String(100), nullable=False, unique=True)
    kind_id = Column(Integer, ForeignKey("person_kind.id"), nullable=True, index=True)
    # any of these words in the position matches, e.g. "书记、镇长、乡长"
    position_contains = Column(String(100), nullable=True)
    period = Column(String(10), nullable=False, default="month")
    unit = Column(String(12), nullable=False, default="visits")
    minimum = Column(Integer, nullable=False)
    # 平均每月 (seed 001): the minimum is per month, assessed over the whole (longer) period
    average_per_month = Column(Boolean, nullable=False, default=False)
    sort_order = Column(Integer, nullable=False, default=0)
    active = Column(Boolean, nullable=False, default=True)
    note = Column(LongText(NOTE_LENGTH), nullable=True)

    kind = relationship("PersonKind", lazy="joined")

    __table_args__ = (
        CheckConstraint("period IN ('week', 'month', 'quarter', 'year')", name="ck_quota_rule_period"),
        CheckConstraint("unit IN ('visits', 'households')", name="ck_quota_rule_unit"),
        CheckConstraint("minimum >= 1", name="ck_quota_rule_minimum"),
    )

    def __str__(self):
        return self.name

    @property
    def position_words(self):
        return split_words(self.position_contains)


ASSESSED = date(1970, 1, 1)  # QuotaCell.start of the rows counting who a rule assesses


class QuotaCell(Model):
    """The visit quotas' figures kept per grid (app/services/quotas/cells.py): for each grid on a
    person's grid path (`anchor_grid_id`, with the child grid the person lies under, 0 for the
    grid itself) and each active rule that assesses the person now, one count in the row with
    `start` ASSESSED and `done` 0 (people assessed), and, per period of the rule's kind in which
    the person has a visit or household, one in the row of that period's first day and the
    person's count capped at the rule's target (`done` ≥ 1). People with nothing done in a period
    are the assessed people less those counted in its rows: a new month needs no row."""

    __tablename__ = "quota_cell"

    id = Column(Integer, primary_key=True)
    anchor_grid_id = Column(Integer, nullable=False)
    rule_id = Column(Integer, nullable=False, index=True)
    start = Column(Date, nullable=False)
    child_grid_id = Column(Integer, nullable=False)
    done = Column(Integer, nullable=False)
    people = Column(Integer, nullable=False)

    __table_args__ = (
        UniqueConstraint("anchor_grid_id", "rule_id", "start", "child_grid_id", "done", name="uq_quota_cell"),
    )


def split_words(text):
    return [w for w in re.split(r"[\s,，、;；/|]+", text or "") if w]


class PersonKindChange(Model):
    """A change of a person's kind or position, with the values it replaced.

    Quotas are assessed on the kind and position a person held at the end of the
    period; this table is how a report on a past period knows them. The person's
    state on day D is the *old* values of the first change after D, or else the
    current values — so people who never changed need no rows at all.
    """

    __tablename__ = "person_kind_change"

    id = Column(Integer, primary_key=True)
    person_id = Column(Integer, ForeignKey("person.id", ondelete="CASCADE"), nullable=False)
    changed_on = Column(Date, nullable=False)
    old_kind_id = Column(Integer, ForeignKey("person_kind.id"), nullable=True)
    new_kind_id = Column(Integer, ForeignKey("person_kind.id"), nullable=True)
    old_position = Column(String(100), nullable=True)
    new_position = Column(String(100), nullable=True)
    created_at = Column(DateTime, nullable=False)

    person = relationship("Person", lazy="select")

    __table_args__ = (
        Index("ix_person_kind_change_person_date", "person_id", "changed_on"),
        Index("ix_person_kind_change_changed_on", "changed_on"),  # "any change after a day?" (quota cells)
    )


def _kind_touched(target):
    return any(attributes.get_history(target, key).has_changes() for key in ("kind", "kind_id", "position"))


@event.listens_for(Person, "before_update")
def _person_before_update(mapper, connection, target):
    if not _kind_touched(target):
        return
    table = Person.__table__
    row = connection.execute(select(table.c.kind_id, table.c.position).where(table.c.id == target.id)).one_or_none()
    if row is not None:
        target.__dict__["_kind_before"] = (row.kind_id, row.position)


@event.listens_for(Person, "after_update")
def _person_after_update(mapper, connection, target):
    before = target.__dict__.pop("_kind_before", None)
    if before is None:
        return
    after = (target.kind_id, target.position)  # the foreign key is synced by now
    if after == before:
        return

    moment = now()
    connection.execute(
        insert(PersonKindChange.__table__).values(
            person_id=target.id,
            changed_on=moment.date(),
            old_kind_id=before[0],
            new_kind_id=after[0],
            old_position=before[1],
            new_position=after[1],
            created_at=moment,
        )
    )
