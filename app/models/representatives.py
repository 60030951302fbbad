"""People's congress representatives (人大代表), their constituencies (选区) and
their contact records with voters (联系选民记录)."""

from datetime import timedelta

from flask import current_app, has_app_context
from flask_appbuilder import Model
from flask_babel import lazy_gettext as _l
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
    select,
    text,
)
from sqlalchemy.orm import column_property, relationship

from app.core.choices import Choice, labelled
from app.core.clock import today
from app.models.mixins import LONG_TEXT_LENGTH, NOTE_LENGTH, LongText, SoftDeleteMixin, TimestampMixin, VersionMixin
from app.models.personnel import Person

constituency_grids = Table(
    "constituency_grid",
    Model.metadata,
    Column("constituency_id", Integer, ForeignKey("constituency.id", ondelete="CASCADE"), primary_key=True),
    Column("grid_id", Integer, ForeignKey("grid.id"), primary_key=True, index=True),
)


class Constituency(VersionMixin, TimestampMixin, Model):
    """An electoral district: a name and the grids (villages, communities ...) it covers.

    `grid_id` is derived, never typed: the lowest grid containing every covered
    grid. It places the constituency, its representatives and their records in
    the data scope (a township's users see the constituencies inside it).
    """

    __tablename__ = "constituency"

    id = Column(Integer, primary_key=True)
    name = Column(String(100), nullable=False, index=True)
    grid_id = Column(Integer, ForeignKey("grid.id"), nullable=False, index=True)
    note = Column(LongText(NOTE_LENGTH), nullable=True)

    grid = relationship("Grid", lazy="joined", innerjoin=True)
    grids = relationship("Grid", secondary=constituency_grids, lazy="selectin", order_by="Grid.code")

    def __str__(self):
        return self.name

    @property
    def grid_names(self):
        return "、".join(g.name for g in self.grids)

    @property
    def grid_ids(self):
        return [g.id for g in self.grids]


LEVELS = ("township", "county", "city")


class Representative(VersionMixin, TimestampMixin, Model):
    """A person's mandate as a representative at one level, for one term."""

    __tablename__ = "representative"

    id = Column(Integer, primary_key=True)
    person_id = Column(Integer, ForeignKey("person.id"), nullable=False, index=True)
    level = Column(String(10), nullable=False, default="township")
    constituency_id = Column(Integer, ForeignKey("constituency.id"), nullable=False, index=True)
    term_start = Column(Integer, nullable=False)  # first year of the term (届期)
    term_end = Column(Integer, nullable=False)
    active = Column(Boolean, nullable=False, default=True, index=True)
    note = Column(LongText(NOTE_LENGTH), nullable=True)

    person = relationship("Person", lazy="joined", innerjoin=True)
    constituency = relationship("Constituency", lazy="joined", innerjoin=True)
    records = relationship("ContactRecord", back_populates="representative", order_by="ContactRecord.contact_date")

    # the person's name as a column: pickers search it and sort on it
    person_name = column_property(
        select(Person.name).where(Person.id == person_id).correlate_except(Person).scalar_subquery()
    )

    __table_args__ = (
        CheckConstraint("level IN ('township', 'county', 'city')", name="ck_representative_level"),
        CheckConstraint("term_end >= term_start", name="ck_representative_term"),
        UniqueConstraint("person_id", "level", "term_start", name="uq_representative_mandate"),
    )

    def __str__(self):
        return self.display_name

    @property
    def display_name(self):
        return self.person.name if self.person is not None else str(self.person_name or "")

    @property
    def term(self):
        return f"{self.term_start}–{self.term_end}"


@labelled(
    {
        "reported": _l("Reported"),
        "late": _l("Reported late"),
        "pending": _l("To report"),
        "overdue": _l("Not reported in time"),
    }
)
class ReportState(Choice):
    """Where an important opinion stands with its report to the 人大主席/副主席."""

    REPORTED = "reported"
    LATE = "late"
    PENDING = "pending"
    OVERDUE = "overdue"


def report_days():
    """REPRESENTATIVE_REPORT_DAYS: an important opinion is reported within this many days."""
    if not has_app_context():
        return 3
    return int(current_app.config["REPRESENTATIVE_REPORT_DAYS"])


# word for word what the query says, so both planners see the index applies
UNREPORTED = "important IS {true} AND reported_at IS NULL AND deleted_at IS NULL"


class ContactRecord(SoftDeleteMixin, VersionMixin, TimestampMixin, Model):
    """One contact with voters: a visit, a forum, a reception, a call.

    `voter_count` is person-times (人次): a forum of 12 voters counts 12 toward
    the representative's yearly target.
    """

    __tablename__ = "contact_record"

    id = Column(Integer, primary_key=True)
    representative_id = Column(Integer, ForeignKey("representative.id"), nullable=False)
    contact_date = Column(Date, nullable=False, index=True)
    place = Column(String(200), nullable=False)
    form_id = Column(Integer, ForeignKey("contact_form.id"), nullable=False, index=True)
    voter_count = Column(Integer, nullable=False, default=1)
    voter_names = Column(LongText(LONG_TEXT_LENGTH), nullable=True)
    opinions = Column(LongText(LONG_TEXT_LENGTH), nullable=True)  # 意见建议
    replies = Column(LongText(LONG_TEXT_LENGTH), nullable=True)  # 答复情况
    important = Column(Boolean, nullable=False, default=False, index=True)
    reported_to = Column(String(50), nullable=True)  # 人大主席 / 副主席
    reported_at = Column(Date, nullable=True)
    recorded_by_id = Column(Integer, ForeignKey("ab_user.id"), nullable=True)

    representative = relationship("Representative", back_populates="records", lazy="joined", innerjoin=True)
    form = relationship("ContactForm", lazy="joined", innerjoin=True)
    recorded_by = relationship("User", foreign_keys=[recorded_by_id], lazy="select")

    __table_args__ = (
        CheckConstraint("voter_count >= 1", name="ck_contact_record_voters"),
        Index("ix_contact_record_rep_date", "representative_id", "contact_date"),
        # the important opinions still to report: a handful among a county's 100,000 records
        Index(
            "ix_contact_record_unreported",
            "contact_date",
            sqlite_where=text(UNREPORTED.format(true="1")),
            postgresql_where=text(UNREPORTED.format(true="true")),
        ),
    )

    def __str__(self):
        return f"{self.contact_date} {self.place}"

    @property
    def representative_name(self):
        return self.representative.display_name

    def report_state_on(self, on, days):
        """For an important opinion: reported / late / pending / overdue on the day `on`,
        when it is due within `days` days of the contact; None for other records."""
        if not self.important:
            return None
        limit = self.contact_date + timedelta(days=days)
        if self.reported_at is not None:
            return "reported" if self.reported_at <= limit else "late"
        return "pending" if on <= limit else "overdue"

    @property
    def report_status(self):
        """The report state today (REPRESENTATIVE_REPORT_DAYS), titled."""
        state = self.report_state_on(today(), report_days())
        return str(ReportState.label_of(state)) if state else ""


class ContactTally(Model):
    """Per representative and calendar year of the contact: person-times met (人次) and records.

    What the progress figures read (the dashboard's 代表联系选民, the progress page), kept on every
    write of a contact record made through the ORM by `app.services.representatives.tally` (in
    the same transaction), so a county's year is one row per representative instead of a
    GROUP BY over its contact records. Counted again by `flask minqing rollups rebuild`.
    """

    __tablename__ = "contact_tally"

    representative_id = Column(Integer, ForeignKey("representative.id", ondelete="CASCADE"), primary_key=True)
    year = Column(Integer, primary_key=True)
    done = Column(Integer, nullable=False)  # person-times (sum of voter_count)
    records = Column(Integer, nullable=False)
