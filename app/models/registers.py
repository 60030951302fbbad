"""Registers (台账) defined by IT staff in the browser: the definitions, the choice lists they
draw on, the roll-up of their entries, and the factory that turns a definition into a
mapped class over its own table (`reg_<code>`).

A register is data, not code: `RegisterDef` + ordered `RegisterField` rows. Its entries
live in a real table with one typed column per field (created and altered by
app.services.registers.schema), so lists filter and sort on indexed columns, and the
entry class inherits what every record has: a grid (scope), soft delete, a version,
timestamps, the audit trail, and the sensitive-column declarations (masking).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_appbuilder import Model
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import declared_attr, relationship

from app.core.choices import Choice, labelled
from app.core.partitions import is_partition
from app.core.sensitive import ID_NUMBER, PERSONAL, PHONE
from app.models.attachments import field_files
from app.models.lookups import LOOKUP_MODELS
from app.models.mixins import NOTE_LENGTH, LongText, SoftDeleteMixin, TimestampMixin, VersionMixin

CODE_PATTERN = r"^[a-z][a-z0-9_]{1,29}$"  # register and field codes: latin, stable, used in URLs and columns
TEXT_MAX = 200  # the longest single-line text
TEXTAREA_MAX = 4000  # the longest long text
# attribute names every entry has: no field may take them
RESERVED_CODES = frozenset(
    {"id", "grid", "grid_id", "version", "created_at", "updated_at", "deleted_at", "deleted_by_id", "deleted_by",
     "created_by", "created_by_id", "register", "metadata", "query", "registry"}
)  # fmt: skip


@labelled(
    {
        "text": _l("Single-line text"),
        "textarea": _l("Long text"),
        "integer": _l("Whole number"),
        "decimal": _l("Decimal number"),
        "date": _l("Date"),
        "datetime": _l("Date and time"),
        "boolean": _l("Yes / no"),
        "choice": _l("Choice from a list"),
        "multichoice": _l("Several choices from a list"),
        "person": _l("Person"),
        "grid": _l("Grid"),
        "phone": _l("Phone number"),
        "id_number": _l("ID number"),
        "appeal": _l("Linked appeal"),
        "attachment": _l("Photos and files"),
    }
)
class FieldType(Choice):
    TEXT = "text"
    TEXTAREA = "textarea"
    INTEGER = "integer"
    DECIMAL = "decimal"
    DATE = "date"
    DATETIME = "datetime"
    BOOLEAN = "boolean"
    CHOICE = "choice"
    MULTICHOICE = "multichoice"
    PERSON = "person"
    GRID = "grid"
    PHONE = "phone"
    ID_NUMBER = "id_number"
    APPEAL = "appeal"
    ATTACHMENT = "attachment"  # files in the attachment store (app.services.attachments), no column


# fields whose value is the id of another row (the column holds it; the relationship shows it)
LINK_TYPES = (FieldType.CHOICE, FieldType.PERSON, FieldType.APPEAL)
NUMBER_TYPES = (FieldType.INTEGER, FieldType.DECIMAL)
TIME_TYPES = (FieldType.DATE, FieldType.DATETIME)
TEXT_TYPES = (FieldType.TEXT, FieldType.TEXTAREA, FieldType.PHONE, FieldType.ID_NUMBER)


@labelled({"": _l("Not unique"), "grid": _l("Unique within the grid"), "register": _l("Unique in the register")})
class UniqueWithin(Choice):
    NONE = ""
    GRID = "grid"
    REGISTER = "register"


class ChoiceList(TimestampMixin, VersionMixin, Model):
    """A list of values a choice field draws on (处理方式: 当场解决 / 两委讨论 / ...), shared by
    any register that wants it; values in use are deactivated, not deleted."""

    __tablename__ = "choice_list"

    id = Column(Integer, primary_key=True)
    code = Column(String(30), nullable=False, unique=True)
    name = Column(String(64), nullable=False)
    description = Column(String(200), nullable=True)

    values = relationship(
        "ChoiceValue", back_populates="list", order_by="(ChoiceValue.sort_order, ChoiceValue.id)", lazy="selectin"
    )

    def __str__(self):
        return self.name


class ChoiceValue(VersionMixin, Model):
    __tablename__ = "choice_value"

    id = Column(Integer, primary_key=True)
    list_id = Column(Integer, ForeignKey("choice_list.id"), nullable=False, index=True)
    name = Column(String(64), nullable=False)
    sort_order = Column(Integer, nullable=False, default=0)
    active = Column(Boolean, nullable=False, default=True)

    list = relationship("ChoiceList", back_populates="values")

    __table_args__ = (UniqueConstraint("list_id", "name", name="uq_choice_value_name"),)

    def __str__(self):
        return self.name


class RegisterDef(TimestampMixin, VersionMixin, Model):
    """A register (台账): what it is called, where its menu entry sits, and its fields."""

    __tablename__ = "register_def"

    id = Column(Integer, primary_key=True)
    code = Column(String(30), nullable=False, unique=True)  # latin, stable: URLs, the table, permissions
    name = Column(String(64), nullable=False)
    menu_group = Column(String(64), nullable=False, default="台账")
    description = Column(LongText(NOTE_LENGTH), nullable=True)
    sort_order = Column(Integer, nullable=False, default=0)
    active = Column(Boolean, nullable=False, default=True)
    # the date field that places an entry in a period (statistics, the list's default order);
    # empty: the day the entry was recorded
    date_field = Column(String(30), nullable=True)
    dashboard_card = Column(Boolean, nullable=False, default=False)  # a card on the leader dashboard
    # set: not a register but the extra fields of a built-in record (its table: appeal, visit ...)
    extends = Column(String(30), nullable=True)

    fields = relationship(
        "RegisterField",
        back_populates="register",
        order_by="(RegisterField.position, RegisterField.id)",
        lazy="selectin",
        cascade="all, delete-orphan",
    )

    __table_args__ = (Index("uq_register_def_extends", "extends", unique=True),)

    @property
    def table_name(self):
        return table_name_of(self)

    @property
    def resource(self):
        """The permission resource of its entries (can_read / can_write per role)."""
        return f"Register:{self.code}"

    @property
    def live_fields(self):
        return [f for f in self.fields if f.removed_at is None]

    def field(self, code):
        return next((f for f in self.fields if f.code == code), None)

    def spec(self):
        """A plain copy of the definition (what entry classes and views are built from)."""
        return RegisterSpec(
            id=self.id, code=self.code, name=self.name, menu_group=self.menu_group, description=self.description,
            date_field=self.date_field, dashboard_card=self.dashboard_card, active=self.active,
            sort_order=self.sort_order, extends=self.extends,
            fields=tuple(f.spec() for f in sorted(self.fields, key=lambda f: (f.position or 0, f.id or 0))),
        )  # fmt: skip

    def __str__(self):
        return self.name


class RegisterField(TimestampMixin, VersionMixin, Model):
    """One field of a register. `column` is the physical column holding its values: it stays
    when the label changes, and a type change moves the values to a new column."""

    __tablename__ = "register_field"

    id = Column(Integer, primary_key=True)
    register_id = Column(Integer, ForeignKey("register_def.id"), nullable=False, index=True)
    code = Column(String(30), nullable=False)
    label = Column(String(64), nullable=False)
    help_text = Column(String(200), nullable=True)
    type = Column(String(20), nullable=False)
    position = Column(Integer, nullable=False, default=0)
    required = Column(Boolean, nullable=False, default=False)
    unique_within = Column(String(10), nullable=False, default="")
    min_value = Column(String(30), nullable=True)  # numbers, dates, or the least number of characters
    max_value = Column(String(30), nullable=True)
    pattern = Column(String(200), nullable=True)  # a regular expression the text must match
    pattern_message = Column(String(200), nullable=True)
    default_value = Column(String(200), nullable=True)
    in_list = Column(Boolean, nullable=False, default=True)
    filterable = Column(Boolean, nullable=False, default=False)
    sortable = Column(Boolean, nullable=False, default=False)
    sensitive = Column(Boolean, nullable=False, default=False)
    choice_list_id = Column(Integer, ForeignKey("choice_list.id"), nullable=True)
    lookup = Column(String(30), nullable=True)  # or a built-in lookup table (appeal_category ...)
    file_kinds = Column(String(100), nullable=True)  # 照片/附件: allowed kinds (jpeg,png,pdf); empty: all allowed
    column = Column(String(40), nullable=False)
    removed_at = Column(DateTime, nullable=True)  # hidden, data kept: restorable

    register = relationship("RegisterDef", back_populates="fields")
    choice_list = relationship("ChoiceList", lazy="joined")

    __table_args__ = (UniqueConstraint("register_id", "code", name="uq_register_field_code"),)

    @property
    def type_label(self):
        return FieldType.label_of(self.type)

    def spec(self):
        return FieldSpec(**{name: getattr(self, name) for name in FieldSpec.__dataclass_fields__})

    def __str__(self):
        return f"{self.label}（{self.code}）"


@dataclass(frozen=True)
class FieldSpec:
    id: int
    code: str
    label: str
    help_text: str | None
    type: str
    position: int
    required: bool
    unique_within: str
    min_value: str | None
    max_value: str | None
    pattern: str | None
    pattern_message: str | None
    default_value: str | None
    in_list: bool
    filterable: bool
    sortable: bool
    sensitive: bool
    choice_list_id: int | None
    lookup: str | None
    column: str
    removed_at: object
    file_kinds: str | None = None


@dataclass(frozen=True)
class RegisterSpec:
    id: int
    code: str
    name: str
    menu_group: str
    description: str | None
    date_field: str | None
    dashboard_card: bool
    active: bool
    sort_order: int
    fields: tuple
    extends: str | None = None

    @property
    def table_name(self):
        return table_name_of(self)

    @property
    def resource(self):
        return f"Register:{self.code}"

    @property
    def live_fields(self):
        return tuple(f for f in self.fields if f.removed_at is None)

    def field(self, code):
        return next((f for f in self.fields if f.code == code), None)


class RuntimeGeneration(Model):
    """A token changed in the same transaction as a definition or a setting: every process
    compares it with the one it built from and rebuilds (no restart, several servers)."""

    __tablename__ = "runtime_generation"
    __audit__ = False

    name = Column(String(30), primary_key=True)
    token = Column(String(32), nullable=False)


class RegisterRollup(Model):
    """Entries per register, grid, day and choice value, kept in the writing transaction
    (field_id 0 / value_id 0: the total). Summaries add these up; they never count entries."""

    __tablename__ = "register_rollup"
    __audit__ = False

    register_id = Column(Integer, primary_key=True)
    grid_id = Column(Integer, primary_key=True)
    day = Column(Date, primary_key=True)
    field_id = Column(Integer, primary_key=True, default=0)
    value_id = Column(Integer, primary_key=True, default=0)
    count = Column(Integer, nullable=False, default=0)

    __table_args__ = (Index("ix_register_rollup_day", "register_id", "field_id", "day", "grid_id"),)


class RegisterRollupMonth(Model):
    """The same counts by calendar month (`day` is the month's first day): a summary over full
    months reads these, and the day rows only for the partial months at a period's edges."""

    __tablename__ = "register_rollup_month"
    __audit__ = False

    register_id = Column(Integer, primary_key=True)
    grid_id = Column(Integer, primary_key=True)
    day = Column(Date, primary_key=True)
    field_id = Column(Integer, primary_key=True, default=0)
    value_id = Column(Integer, primary_key=True, default=0)
    count = Column(Integer, nullable=False, default=0)

    __table_args__ = (Index("ix_register_rollup_month", "register_id", "field_id", "day", "grid_id"),)


# --------------------------------------------------------------------------
# Entry classes
# --------------------------------------------------------------------------


class EntryBase(SoftDeleteMixin, VersionMixin, TimestampMixin):
    """What every register entry has, whatever its fields."""

    __register__ = None  # the RegisterDef snapshot the class was built from
    __fields__ = ()

    id = Column(Integer, primary_key=True)

    @declared_attr
    def grid_id(cls):
        return Column(Integer, ForeignKey("grid.id"), nullable=False, index=True)

    @declared_attr
    def grid(cls):
        return relationship("Grid", lazy="joined", innerjoin=True)

    @declared_attr
    def created_by_id(cls):
        return Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"), nullable=True)

    @declared_attr
    def created_by(cls):
        return relationship("User", foreign_keys=[cls.created_by_id], lazy="select")

    @classmethod
    def field_defs(cls):
        return cls.__fields__

    def __str__(self):
        for field in self.__fields__:
            if field.type in (FieldType.TEXT, FieldType.TEXTAREA):
                value = getattr(self, field.code, None)
                if value:
                    return str(value)[:40]
        return f"{self.__register__.name} #{self.id}"


SQL_TYPES = {
    FieldType.TEXT: lambda: String(TEXT_MAX),
    FieldType.TEXTAREA: lambda: LongText(TEXTAREA_MAX),
    FieldType.INTEGER: lambda: Integer(),
    FieldType.DECIMAL: lambda: Numeric(18, 4),
    FieldType.DATE: lambda: Date(),
    FieldType.DATETIME: lambda: DateTime(),
    FieldType.BOOLEAN: lambda: Boolean(),
    FieldType.PHONE: lambda: String(20),
    FieldType.ID_NUMBER: lambda: String(18),
}


def link_target(field):
    """The table a link field's id points at."""
    if field.type == FieldType.PERSON:
        return "person"
    if field.type == FieldType.APPEAL:
        return "appeal"
    if field.lookup:
        return field.lookup
    return "choice_value"


def link_model_name(field):
    if field.type == FieldType.PERSON:
        return "Person"
    if field.type == FieldType.APPEAL:
        return "Appeal"
    if field.lookup:
        return next(m.__name__ for m in LOOKUP_MODELS if m.__tablename__ == field.lookup)
    return "ChoiceValue"


def physical_column(field):
    """The Column a field's values live in (None for a multiple choice: it has its own table)."""
    if field.type in (FieldType.MULTICHOICE, FieldType.GRID, FieldType.ATTACHMENT):
        return None
    if field.type in LINK_TYPES:
        return Column(field.column, Integer, ForeignKey(f"{link_target(field)}.id"), nullable=True)
    return Column(field.column, SQL_TYPES[field.type](), nullable=True)


def multi_table_name(definition, field):
    return f"{definition.table_name}__{field.code}"


def multi_table(metadata, definition, field):
    target = link_target(field)
    return Table(
        multi_table_name(definition, field),
        metadata,
        Column("entry_id", Integer, ForeignKey(f"{definition.table_name}.id", ondelete="CASCADE"), primary_key=True),
        Column("value_id", Integer, ForeignKey(f"{target}.id"), primary_key=True, index=True),
    )


def table_name_of(definition):
    """reg_<code> for a register's entries, ext_<table> for the extra fields of a built-in record."""
    return f"ext_{definition.extends}" if definition.extends else f"reg_{definition.code}"


def is_register_table(name):
    """Tables of register entries and extra fields are data created by the app, not part of the
    migrations' schema."""
    return bool(name) and (name.startswith("reg_") or name.startswith("ext_"))


def include_in_schema(obj, name, type_, reflected, compare_to):
    """Alembic's include_object: leave register tables (and their indexes) out of comparisons, and the
    monthly partitions of partitioned tables (PostgreSQL; app/core/partitions.py)."""
    table = getattr(obj, "table", None)
    table_name = name if type_ == "table" else getattr(table, "name", None)
    return not is_register_table(table_name) and not is_partition(table_name) and not is_search_index(name)


def is_search_index(name):
    """The search indexes the database keeps beside a table (app.services.search): SQLite's FTS5
    tables (`<table>__fts_<column>` and their shadow tables) and character-pair tables
    (`<table>__pairs_<column>`), and PostgreSQL's trigram, pair and
    name-key indexes (`ix_<table>_<column>_trgm`, `_pairs`, `_keys`). The models do not declare them."""
    return bool(name) and ("__fts_" in name or "__pairs_" in name or name.endswith(("_trgm", "_pairs", "_keys")))


def forget_register_tables():
    """Take every register table off the metadata (their classes are rebuilt from the definitions;
    a table of a register gone, or of a rolled-back change, must not linger in the schema)."""
    metadata = Model.metadata
    for name in [t for t in metadata.tables if is_register_table(t)]:
        metadata.remove(metadata.tables[name])


def index_name(definition, field):
    return f"ix_{definition.code}_{field.code}"[:60]


def sensitivity(field):
    """What kind of secret a field holds (None: none)."""
    if field.type == FieldType.PHONE:
        return PHONE
    if field.type == FieldType.ID_NUMBER:
        return ID_NUMBER
    if field.sensitive:
        return PERSONAL
    return None


_serial = [0]  # class names stay distinct across rebuilds (the declarative registry keys by name)


def _class_attributes(definition, live_fields):
    """What a built class of `definition` starts with; its table (and its multiple-choice
    tables) taken off the metadata first: the class about to be built declares them anew."""
    table = definition.table_name
    metadata = Model.metadata
    for name in [t for t in metadata.tables if t == table or t.startswith(f"{table}__")]:
        metadata.remove(metadata.tables[name])
    return {"__tablename__": table, "__register__": definition, "__fields__": live_fields, "__module__": __name__}


def build_entry_class(definition, token):
    """A mapped class for `definition`'s entries (a RegisterSpec), with one attribute per live or
    removed field (removed ones keep their data, hidden by the views)."""
    fields = definition.fields
    attrs = _class_attributes(definition, tuple(f for f in fields if f.removed_at is None))
    sensitive = {}
    # the list's page of ids in a jurisdiction, newest first by the register's date: covering,
    # partial indexes (as the appeal list's), so both planners answer from the index alone
    order = definition.field(definition.date_field) if definition.date_field else None
    order_column = order.column if order is not None and order.removed_at is None else "created_at"
    live = {"sqlite_where": text("deleted_at IS NULL"), "postgresql_where": text("deleted_at IS NULL")}
    indexes = [
        Index(f"ix_{definition.code}_grid_live", "grid_id", "id"),
        Index(
            f"ix_{definition.code}_live_grid_{order_column}"[:60], "grid_id", order_column, "id", "deleted_at", **live
        ),
        Index(f"ix_{definition.code}_live_{order_column}"[:60], order_column, "id", "grid_id", "deleted_at", **live),
    ]
    for field in fields:
        if field.type == FieldType.ATTACHMENT:  # no column: the entry's attachments of this field
            attrs[field.code] = field_files(field.code)
            continue
        if field.type == FieldType.GRID:
            continue
        _field_attributes(definition, field, attrs, indexes, sensitive)
        if field.filterable and field.type == FieldType.CHOICE:  # a filtered list's page, in a jurisdiction
            name = f"ix_{definition.code}_live_{field.code}_grid"[:60]
            indexes.append(Index(name, field.column, "grid_id", order_column, "id", "deleted_at", **live))
    attrs["__sensitive__"] = sensitive
    attrs["__table_args__"] = tuple(indexes)
    _serial[0] += 1
    return type(f"Entry_{definition.code}_{_serial[0]}", (EntryBase, Model), attrs)


def _field_attributes(definition, field, attrs, indexes, sensitive):
    """The mapped attribute(s), index and secrecy of one field of a register or an extension."""
    kind = sensitivity(field)
    if kind is not None:
        sensitive[field.code] = kind
    if field.type == FieldType.MULTICHOICE:
        secondary = multi_table(Model.metadata, definition, field)
        attrs[field.code] = relationship(link_model_name(field), secondary=secondary, lazy="selectin")
        return
    column = physical_column(field)
    if field.type in LINK_TYPES:
        attrs[field.column] = column  # FAB reads a foreign key by its column name
        attrs[field.code] = relationship(link_model_name(field), foreign_keys=[column], lazy="joined")
    else:
        attrs[field.code] = column
    if field.filterable or field.sortable or field.unique_within:
        indexes.append(Index(index_name(definition, field), field.column, "id"))


NO_EXTENSION_TYPES = (FieldType.GRID, FieldType.ATTACHMENT)  # a built-in record has its own grid and files


class ExtensionBase(TimestampMixin):
    """The extra fields of one built-in record: a row in ext_<table> whose id is the record's."""

    __register__ = None
    __fields__ = ()
    created_by_id = None  # the record itself says who made it
    grid_id = None  # the record's grid (set when written: the audit trail files the change there)

    @classmethod
    def field_defs(cls):
        return cls.__fields__


def build_extension_class(definition, token):
    """A mapped class for the extra fields of built-in table `definition.extends`: one row per
    record that has any, sharing the record's id (deleted with it)."""
    live = tuple(f for f in definition.fields if f.removed_at is None and f.type not in NO_EXTENSION_TYPES)
    attrs = {
        **_class_attributes(definition, live),
        "__audit_table__": definition.extends,  # audited as a change of the record it belongs to
        "id": Column(Integer, ForeignKey(f"{definition.extends}.id", ondelete="CASCADE"), primary_key=True,
                     autoincrement=False),
    }  # fmt: skip
    sensitive, indexes = {}, []
    for field in definition.fields:
        if field.type not in NO_EXTENSION_TYPES:
            _field_attributes(definition, field, attrs, indexes, sensitive)
    attrs["__sensitive__"] = sensitive
    attrs["__table_args__"] = tuple(indexes)
    _serial[0] += 1
    return type(f"Extension_{definition.extends}_{_serial[0]}", (ExtensionBase, Model), attrs)
