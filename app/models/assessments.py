"""百分制考核 (seed 003): a scheme of scored items, the rounds assessed with it (a jurisdiction,
a period), what the assessor enters (manual points, 群众评价 votes) and the stored results.

Results are a snapshot: `计算` writes AssessmentScore / AssessmentEntry rows from the figures of
that moment; pages read the rows, never recount. A published round is locked.
"""

from flask_appbuilder import Model
from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import relationship

from app.models.mixins import TimestampMixin, VersionMixin

REASON_LENGTH = 500


class AssessmentScheme(VersionMixin, TimestampMixin, Model):
    """考核方案: the items and their points (the Admin edits it; the items total 100)."""

    __tablename__ = "assessment_scheme"

    id = Column(Integer, primary_key=True)
    name = Column(String(100), nullable=False, unique=True)
    note = Column(String(REASON_LENGTH), nullable=True)
    sort_order = Column(Integer, nullable=False, default=0)

    items = relationship(
        "AssessmentItem", back_populates="scheme", order_by="AssessmentItem.sort_order, AssessmentItem.id"
    )

    def __str__(self):
        return self.name


class AssessmentItem(VersionMixin, TimestampMixin, Model):
    """考核项目: points, and how they are earned — from a figure of the product (auto), by the
    assessor (manual) or by the vote of a review meeting (votes, 满意/一般满意/不满意)."""

    __tablename__ = "assessment_item"

    id = Column(Integer, primary_key=True)
    scheme_id = Column(Integer, ForeignKey("assessment_scheme.id"), nullable=False, index=True)
    section = Column(String(50), nullable=True)  # 思想作风表现 / 工作业绩
    name = Column(String(100), nullable=False)
    points = Column(Numeric(6, 2), nullable=False)
    kind = Column(String(10), nullable=False, default="manual")  # auto | manual | votes
    subject = Column(String(10), nullable=False, default="team")  # team | member
    source = Column(String(30), nullable=True)  # the figure of an automatic item
    full_at = Column(Numeric(6, 2), nullable=True)  # % at or above which the full points are earned
    zero_at = Column(Numeric(6, 2), nullable=True)  # % at or below which nothing is earned
    score_satisfied = Column(Numeric(5, 2), nullable=True)  # 满意 5
    score_basic = Column(Numeric(5, 2), nullable=True)  # 一般满意 4
    score_unsatisfied = Column(Numeric(5, 2), nullable=True)  # 不满意 3
    description = Column(String(REASON_LENGTH), nullable=True)
    sort_order = Column(Integer, nullable=False, default=0)

    scheme = relationship("AssessmentScheme", back_populates="items", lazy="joined", innerjoin=True)

    __table_args__ = (
        CheckConstraint("kind IN ('auto', 'manual', 'votes')", name="ck_assessment_item_kind"),
        CheckConstraint("subject IN ('team', 'member')", name="ck_assessment_item_subject"),
    )

    def __str__(self):
        return self.name


class AssessmentRound(VersionMixin, TimestampMixin, Model):
    """One 考核: a jurisdiction (its teams are its grids of `team_level`), a period, a scheme."""

    __tablename__ = "assessment_round"

    id = Column(Integer, primary_key=True)
    scheme_id = Column(Integer, ForeignKey("assessment_scheme.id"), nullable=False, index=True)
    grid_id = Column(Integer, ForeignKey("grid.id"), nullable=False, index=True)
    team_level_id = Column(Integer, ForeignKey("grid_level.id"), nullable=False)
    year = Column(Integer, nullable=False)
    period = Column(String(4), nullable=False)  # q1..q4 | h1 h2 | year
    status = Column(String(10), nullable=False, default="draft")  # draft | computed | published
    computed_at = Column(DateTime, nullable=True)
    published_at = Column(DateTime, nullable=True)
    published_by_id = Column(Integer, ForeignKey("ab_user.id"), nullable=True)
    note = Column(String(REASON_LENGTH), nullable=True)

    scheme = relationship("AssessmentScheme", lazy="joined", innerjoin=True)
    grid = relationship("Grid", lazy="joined", innerjoin=True)
    team_level = relationship("GridLevel", lazy="joined", innerjoin=True)

    __table_args__ = (
        CheckConstraint("status IN ('draft', 'computed', 'published')", name="ck_assessment_round_status"),
        Index("ix_assessment_round_period", "year", "period"),
    )

    def __str__(self):
        return f"{self.grid.name} {self.year} {self.period}"


class AssessmentInput(VersionMixin, TimestampMixin, Model):
    """What the assessor enters for a team (or a member of it): points of a manual item with the
    reason, or the vote counts of a 群众评价 item."""

    __tablename__ = "assessment_input"

    id = Column(Integer, primary_key=True)
    round_id = Column(Integer, ForeignKey("assessment_round.id"), nullable=False, index=True)
    item_id = Column(Integer, ForeignKey("assessment_item.id"), nullable=False, index=True)
    grid_id = Column(Integer, ForeignKey("grid.id"), nullable=False, index=True)  # the team
    person_id = Column(Integer, ForeignKey("person.id"), nullable=True, index=True)  # a member item's member
    points = Column(Numeric(6, 2), nullable=True)
    reason = Column(String(REASON_LENGTH), nullable=True)
    votes_satisfied = Column(Integer, nullable=True)
    votes_basic = Column(Integer, nullable=True)
    votes_unsatisfied = Column(Integer, nullable=True)

    assessment = relationship("AssessmentRound", lazy="joined", innerjoin=True)
    item = relationship("AssessmentItem", lazy="joined", innerjoin=True)
    grid = relationship("Grid", lazy="joined", innerjoin=True)
    person = relationship("Person", lazy="joined")

    __table_args__ = (UniqueConstraint("round_id", "item_id", "grid_id", "person_id", name="uq_assessment_input"),)


class AssessmentScore(Model):
    """A stored result: the score of a person, a team or a unit in a round, and its rank."""

    __tablename__ = "assessment_score"
    __audit__ = False  # a snapshot 计算 rewrites; the round's own changes (计算, 发布) are audited

    id = Column(Integer, primary_key=True)
    round_id = Column(Integer, ForeignKey("assessment_round.id", ondelete="CASCADE"), nullable=False, index=True)
    subject = Column(String(10), nullable=False)  # person | team | unit
    grid_id = Column(Integer, ForeignKey("grid.id"), nullable=False, index=True)  # the team, or the unit
    person_id = Column(Integer, ForeignKey("person.id"), nullable=True, index=True)
    unit_id = Column(Integer, ForeignKey("grid.id"), nullable=True)  # a team's unit (its parent grid)
    name = Column(String(100), nullable=False)  # as it was at 计算
    score = Column(Float, nullable=True)  # None: nothing could be scored
    rank = Column(Integer, nullable=True)
    unscored = Column(Integer, nullable=False, default=0)  # items without data (暂无数据)

    assessment = relationship("AssessmentRound", lazy="joined", innerjoin=True)
    grid = relationship("Grid", foreign_keys=[grid_id], lazy="joined", innerjoin=True)
    entries = relationship(
        "AssessmentEntry", back_populates="score_row", order_by="AssessmentEntry.sort_order, AssessmentEntry.id"
    )

    __table_args__ = (
        CheckConstraint("subject IN ('person', 'team', 'unit')", name="ck_assessment_score_subject"),
        Index("ix_assessment_score_rank", "round_id", "subject", "rank"),
    )


class AssessmentEntry(Model):
    """The points behind a score: one row per item (figure, points, how they were reached)."""

    __tablename__ = "assessment_entry"
    __audit__ = False

    id = Column(Integer, primary_key=True)
    score_id = Column(Integer, ForeignKey("assessment_score.id", ondelete="CASCADE"), nullable=False, index=True)
    item_id = Column(Integer, ForeignKey("assessment_item.id"), nullable=True)
    name = Column(String(100), nullable=False)
    max_points = Column(Float, nullable=False)
    figure = Column(Float, nullable=True)  # the rate (0..1) or the vote score (5..3)
    points = Column(Float, nullable=True)  # None: 暂无数据
    detail = Column(String(REASON_LENGTH), nullable=True)
    sort_order = Column(Integer, nullable=False, default=0)

    score_row = relationship("AssessmentScore", back_populates="entries")
