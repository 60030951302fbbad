"""Rotas with public notice (轮值/值班/接访安排): who is on duty when, and whether it happened.

Kinds (领导带班接访, 说事日, 两代表工作室, 家访公告, 下沉人员巡查) carry the minimums a county
may change; a rota is a grid's rule (weekdays, rotation order, period, hours) that
generates slots; a slot is one day's duty, edited by hand and recorded as held or not.
"""

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
    Table,
    UniqueConstraint,
)
from sqlalchemy.orm import relationship

from app.core.sensitive import PHONE
from app.models.mixins import TimestampMixin, VersionMixin

NOTE = 1000  # String(n): VARCHAR on PostgreSQL, a length trigger on SQLite (migration 0026's helper)

rota_members = Table(
    "rota_member",
    Model.metadata,
    Column("rota_id", Integer, ForeignKey("rota.id", ondelete="CASCADE"), primary_key=True),
    Column("person_id", Integer, ForeignKey("person.id"), primary_key=True, index=True),
)


def _link_table(name, column, target):
    return Table(
        name,
        Model.metadata,
        Column("slot_id", Integer, ForeignKey("rota_slot.id", ondelete="CASCADE"), primary_key=True),
        Column(column, Integer, ForeignKey(f"{target}.id", ondelete="CASCADE"), primary_key=True, index=True),
    )


slot_appeals = _link_table("rota_slot_appeal", "appeal_id", "appeal")
slot_visits = _link_table("rota_slot_visit", "visit_id", "visit")
slot_contacts = _link_table("rota_slot_contact", "contact_id", "contact_record")


class RotaKind(VersionMixin, TimestampMixin, Model):
    """A kind of rota and what a month of it must show (seeds 000, 001, 003)."""

    __tablename__ = "rota_kind"

    id = Column(Integer, primary_key=True)
    code = Column(String(20), nullable=True, unique=True)  # the seeded kinds' stable code
    name = Column(String(64), nullable=False, unique=True)
    description = Column(String(200), nullable=True)
    weekdays = Column(String(20), nullable=True)  # default for new rotas: ISO weekdays "1,2,3,4,5"
    hours = Column(String(50), nullable=True)  # default time, e.g. "上午 8:30-12:00"
    minimum_per_month = Column(Integer, nullable=True)  # openings held a month
    collective_per_month = Column(Integer, nullable=True)  # collective receptions a month
    minimum_per_week = Column(Integer, nullable=True)  # openings held in every week
    every_slot = Column(Boolean, nullable=False, default=False)  # each scheduled day must be held
    sort_order = Column(Integer, nullable=False, default=0)
    active = Column(Boolean, nullable=False, default=True)

    __table_args__ = (
        CheckConstraint("minimum_per_month IS NULL OR minimum_per_month >= 0", name="ck_rota_kind_month"),
        CheckConstraint("collective_per_month IS NULL OR collective_per_month >= 0", name="ck_rota_kind_collective"),
        CheckConstraint("minimum_per_week IS NULL OR minimum_per_week >= 0", name="ck_rota_kind_week"),
    )

    def __str__(self):
        return self.name


class Rota(VersionMixin, TimestampMixin, Model):
    """A grid's rule of duty: on which weekdays, who in turn, from when to when."""

    __tablename__ = "rota"

    id = Column(Integer, primary_key=True)
    grid_id = Column(Integer, ForeignKey("grid.id"), nullable=False, index=True)
    kind_id = Column(Integer, ForeignKey("rota_kind.id"), nullable=False, index=True)
    name = Column(String(100), nullable=False)
    weekdays = Column(String(20), nullable=False)  # ISO weekdays, "3" = every Wednesday
    start_date = Column(Date, nullable=False)
    end_date = Column(Date, nullable=False)
    hours = Column(String(50), nullable=True)  # 时间, e.g. 上午 / 8:30-12:00
    place = Column(String(100), nullable=True)  # 地点
    duty = Column(String(200), nullable=True)  # 负责什么
    rotation = Column(String(500), nullable=False, default="")  # person ids in turn order
    active = Column(Boolean, nullable=False, default=True)

    grid = relationship("Grid", lazy="joined")
    kind = relationship("RotaKind", lazy="joined")
    members = relationship("Person", secondary=rota_members, lazy="selectin", order_by="Person.name")
    slots = relationship("RotaSlot", back_populates="rota", order_by="RotaSlot.slot_date", lazy="select")

    __table_args__ = (CheckConstraint("end_date >= start_date", name="ck_rota_period"),)

    def __str__(self):
        return self.name

    @property
    def rotation_ids(self):
        return [int(part) for part in (self.rotation or "").split(",") if part.strip().isdigit()]

    @property
    def in_turn(self):
        """The members in rotation order (those the order does not name last, by name)."""
        by_id = {p.id: p for p in self.members}
        ordered = [by_id[i] for i in self.rotation_ids if i in by_id]
        return ordered + [p for p in self.members if p not in ordered]

    @property
    def member_names(self):
        return "、".join(p.name for p in self.in_turn)


class RotaSlot(VersionMixin, TimestampMixin, Model):
    """One day's duty of a rota: who, when, what; then whether it was held and what came of it."""

    __tablename__ = "rota_slot"
    # a contact number given on the notice (the duty phone of a studio, a volunteer's mobile):
    # masked like the public's numbers; a cadre's own phone is public by design (公示牌)
    __sensitive__ = {"phone": PHONE}

    id = Column(Integer, primary_key=True)
    rota_id = Column(Integer, ForeignKey("rota.id", ondelete="CASCADE"), nullable=False, index=True)
    grid_id = Column(Integer, ForeignKey("grid.id"), nullable=False, index=True)  # the rota's, for scope
    slot_date = Column(Date, nullable=False)
    hours = Column(String(50), nullable=True)
    person_id = Column(Integer, ForeignKey("person.id"), nullable=True, index=True)
    phone = Column(String(20), nullable=True)
    duty = Column(String(200), nullable=True)
    collective = Column(Boolean, nullable=False, default=False)  # 集体接待
    held = Column(Boolean, nullable=True)  # None: not recorded yet
    outcome = Column(String(NOTE), nullable=True)  # what came of it
    generated = Column(Boolean, nullable=False, default=False)
    edited = Column(Boolean, nullable=False, default=False)  # changed by hand: generation leaves it

    rota = relationship("Rota", back_populates="slots", lazy="joined", innerjoin=True)
    grid = relationship("Grid", lazy="select")
    person = relationship("Person", lazy="joined")
    appeals = relationship("Appeal", secondary=slot_appeals, lazy="selectin")
    visits = relationship("Visit", secondary=slot_visits, lazy="selectin")
    contacts = relationship("ContactRecord", secondary=slot_contacts, lazy="selectin")

    __table_args__ = (
        UniqueConstraint("rota_id", "slot_date", name="uq_rota_slot_day"),
        Index("ix_rota_slot_grid_date", "grid_id", "slot_date"),
    )

    def __str__(self):
        return f"{self.slot_date} {self.person.name if self.person else ''}".strip()

    @property
    def recorded(self):
        return self.held is not None

    @property
    def person_name(self):
        return self.person.name if self.person is not None else ""
