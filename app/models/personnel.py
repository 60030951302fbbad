"""Personnel (定人定岗定责): people, posts with duties, and assignments to grids."""

from flask_appbuilder import Model
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import relationship

from app.models.mixins import LONG_TEXT_LENGTH, NOTE_LENGTH, LongText, TimestampMixin, VersionMixin

GENDERS = ("M", "F")


class Person(VersionMixin, TimestampMixin, Model):
    """A cadre, staff member, grid worker or volunteer (干部/工作人员)."""

    __tablename__ = "person"

    id = Column(Integer, primary_key=True)
    name = Column(String(50), nullable=False, index=True)
    gender = Column(String(1), nullable=True)
    unit = Column(String(100), nullable=True)  # 单位
    position = Column(String(100), nullable=True)  # 职务
    kind_id = Column(Integer, ForeignKey("person_kind.id"), nullable=True, index=True)
    phone = Column(String(20), nullable=True)
    grid_id = Column(Integer, ForeignKey("grid.id"), nullable=False, index=True)  # 所属网格
    active = Column(Boolean, nullable=False, default=True, index=True)
    user_id = Column(Integer, ForeignKey("ab_user.id"), nullable=True, unique=True)
    note = Column(LongText(NOTE_LENGTH), nullable=True)

    kind = relationship("PersonKind", lazy="joined")
    grid = relationship("Grid", lazy="joined")  # outer: people are outer-joined as handlers
    user = relationship("User", lazy="select")
    assignments = relationship("Assignment", back_populates="person", order_by="Assignment.start_date.desc()")

    __table_args__ = (CheckConstraint("gender IN ('M', 'F')", name="ck_person_gender"),)

    def __str__(self):
        return self.name


class Post(VersionMixin, TimestampMixin, Model):
    """A post (岗位) with its duty (职责) and reward/penalty rule (奖惩)."""

    __tablename__ = "post"

    id = Column(Integer, primary_key=True)
    name = Column(String(100), nullable=False, unique=True)
    level_id = Column(Integer, ForeignKey("grid_level.id"), nullable=True)  # where it applies
    duty = Column(LongText(LONG_TEXT_LENGTH), nullable=True)
    reward_penalty = Column(LongText(LONG_TEXT_LENGTH), nullable=True)
    # a holder of this post is a responsible person of the grid (公示, coverage)
    is_responsible = Column(Boolean, nullable=False, default=True)
    # a leader's 包村/分包 post: shown on contact cards of the grid's subtree
    is_packaging = Column(Boolean, nullable=False, default=False)
    sort_order = Column(Integer, nullable=False, default=0)
    active = Column(Boolean, nullable=False, default=True)

    level = relationship("GridLevel", lazy="joined")

    def __str__(self):
        return self.name


class Assignment(VersionMixin, TimestampMixin, Model):
    """Person ↔ grid ↔ post for a period; history is kept (end_date set, never deleted)."""

    __tablename__ = "assignment"

    id = Column(Integer, primary_key=True)
    person_id = Column(Integer, ForeignKey("person.id"), nullable=False, index=True)
    grid_id = Column(Integer, ForeignKey("grid.id"), nullable=False, index=True)
    post_id = Column(Integer, ForeignKey("post.id"), nullable=False, index=True)
    start_date = Column(Date, nullable=False)
    end_date = Column(Date, nullable=True)  # empty: still in post
    duty_note = Column(LongText(NOTE_LENGTH), nullable=True)  # this person's own duty in this grid

    person = relationship("Person", back_populates="assignments", lazy="joined", innerjoin=True)
    grid = relationship("Grid", lazy="joined", innerjoin=True)
    post = relationship("Post", lazy="joined", innerjoin=True)

    __table_args__ = (
        CheckConstraint("end_date IS NULL OR end_date >= start_date", name="ck_assignment_period"),
        Index("ix_assignment_grid_current", "grid_id", "end_date"),
    )

    def __str__(self):
        return f"{self.person} · {self.post} · {self.grid}"

    def is_current(self, on):
        return self.start_date <= on and (self.end_date is None or self.end_date >= on)
