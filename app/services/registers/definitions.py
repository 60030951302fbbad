"""Designing registers: checking a definition and its fields, and making a saved definition
live — its table, its permissions, and a new generation token — in the saving transaction.

Changing a live register is safe: adding a field adds a column; removing one hides it and
keeps its data (restorable); renaming a label changes nothing stored; a type change is
refused while existing values do not fit (with their count), else the converted values go
into a new column. Every definition change is audited (the audit trail's listener).
"""

from __future__ import annotations

import datetime as dt
import decimal
import re

from flask import current_app
from flask_appbuilder.security.sqla.models import Permission, PermissionView, Role, ViewMenu
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, text

from app.core.clock import now
from app.core.errors import Collector, DomainError
from app.extensions import db
from app.models.lookups import LOOKUP_MODELS
from app.models.registers import (
    CODE_PATTERN,
    NUMBER_TYPES,
    RESERVED_CODES,
    TIME_TYPES,
    ChoiceList,
    ChoiceValue,
    FieldType,
    RegisterDef,
    RegisterField,
    UniqueWithin,
    build_entry_class,
    build_extension_class,
)
from app.services.registers import files, runtime
from app.services.registers.extensions import TARGETS, builtin_attribute
from app.services.registers.schema import sync_schema
from app.services.registers.values import clean_value, length_bound, parse_value, text_limit

LOOKUPS = {m.__tablename__: m for m in LOOKUP_MODELS}
GRID_FIELD = "grid"
UNIQUE_TYPES = (
    FieldType.TEXT, FieldType.INTEGER, FieldType.DECIMAL, FieldType.DATE, FieldType.DATETIME, FieldType.PHONE,
    FieldType.ID_NUMBER, FieldType.CHOICE, FieldType.PERSON,
)  # fmt: skip
# what existing values may become: (from, to) pairs; everything else is refused
CONVERTIBLE = {
    (FieldType.TEXT, FieldType.TEXTAREA), (FieldType.TEXTAREA, FieldType.TEXT), (FieldType.TEXT, FieldType.INTEGER),
    (FieldType.TEXT, FieldType.DECIMAL), (FieldType.TEXT, FieldType.DATE), (FieldType.TEXT, FieldType.PHONE),
    (FieldType.TEXT, FieldType.ID_NUMBER), (FieldType.PHONE, FieldType.TEXT), (FieldType.ID_NUMBER, FieldType.TEXT),
    (FieldType.INTEGER, FieldType.DECIMAL), (FieldType.INTEGER, FieldType.TEXT), (FieldType.DECIMAL, FieldType.TEXT),
    (FieldType.DECIMAL, FieldType.INTEGER), (FieldType.DATE, FieldType.DATETIME), (FieldType.DATE, FieldType.TEXT),
    (FieldType.DATETIME, FieldType.DATE), (FieldType.BOOLEAN, FieldType.TEXT),
}  # fmt: skip

DEFAULT_GRANTS = {"Clerk": ("read", "write"), "GridWorker": ("read", "write"), "Leader": ("read",)}


# --------------------------------------------------------------------------
# Checking a definition
# --------------------------------------------------------------------------


def check_register(session, register):
    """Every problem of a register definition at once (DomainErrors)."""
    errors = Collector()
    with errors.check():
        code = (register.code or "").strip().lower()
        register.code = code
        if not re.match(CODE_PATTERN, code):
            raise DomainError(
                _l("The code is 2 to 30 lower-case latin letters, digits or _, starting with a letter."), field="code"
            )
        if code in RESERVED_CODES:
            raise DomainError(_l("“%(code)s” is reserved: choose another code.", code=code), field="code")
        with session.no_autoflush:
            others = session.scalars(select(RegisterDef.id).where(RegisterDef.code == code)).all()
        if any(other != register.id for other in others):
            raise DomainError(_l("Another register already has the code %(code)s.", code=code), field="code")
        if register.id is not None:
            stored = session.execute(
                select(RegisterDef.code).where(RegisterDef.id == register.id).execution_options(populate_existing=False)
            ).scalar()
            if stored is not None and stored != code:
                raise DomainError(
                    _l("The code of a register never changes (its table and addresses use it)."), field="code"
                )
    with errors.check():
        if register.extends and register.extends not in TARGETS:
            raise DomainError(_l("Extra fields can be added to appeals, visits, people, grids and contact records."),
                              field="extends")  # fmt: skip
    with errors.check():
        register.name = (register.name or "").strip()
        if not register.name:
            raise DomainError(_l("Enter the register's name."), field="name")
    with errors.check():
        register.menu_group = (register.menu_group or "").strip() or str(_l("Registers"))
    with errors.check():
        if register.date_field:
            field = register.field(register.date_field)
            if field is None or field.type not in TIME_TYPES or field.removed_at is not None:
                raise DomainError(_l("Choose a date field of this register (or leave empty)."), field="date_field")
    errors.raise_if_any()


def check_field(session, field):
    """Every problem of one field definition at once (DomainErrors)."""
    errors = Collector()
    register = field.register
    with errors.check():
        code = (field.code or "").strip().lower()
        field.code = code
        if not re.match(CODE_PATTERN, code):
            raise DomainError(
                _l("The code is 2 to 30 lower-case latin letters, digits or _, starting with a letter."), field="code"
            )
        if code in RESERVED_CODES and not (code == GRID_FIELD and field.type == FieldType.GRID):
            raise DomainError(_l("“%(code)s” is reserved: choose another code.", code=code), field="code")
        same = [f for f in register.fields if f is not field and f.code == code]
        if same:
            raise DomainError(_l("This register already has a field with the code %(code)s.", code=code), field="code")
        if register.extends and builtin_attribute(register.extends, code):
            raise DomainError(
                _l("The record already has something called “%(code)s”: choose another code.", code=code), field="code"
            )
    with errors.check():
        field.label = (field.label or "").strip()
        if not field.label:
            raise DomainError(_l("Enter the field's label."), field="label")
    with errors.check():
        if field.type not in FieldType.codes():
            raise DomainError(_l("Choose the field's type."), field="type")
        if field.type == FieldType.GRID and (field.code != GRID_FIELD or register.extends):
            raise DomainError(_l("Every register has exactly one grid field (code grid)."), field="type")
    with errors.check():
        field.unique_within = field.unique_within or ""
        if field.unique_within not in UniqueWithin.codes():
            raise DomainError(_l("Choose where the value must be unique."), field="unique_within")
        if field.unique_within and field.type not in UNIQUE_TYPES:
            raise DomainError(_l("Values of this type cannot be required unique."), field="unique_within")
        if field.unique_within == UniqueWithin.GRID and register.extends:
            field.unique_within = UniqueWithin.REGISTER  # an extra field is unique among all the records
    with errors.check():
        if field.type in (FieldType.CHOICE, FieldType.MULTICHOICE):
            if field.lookup and field.lookup not in LOOKUPS:
                raise DomainError(_l("Choose an existing list."), field="lookup")
            if not field.lookup and field.choice_list_id is None and field.__dict__.get("choice_list") is None:
                raise DomainError(_l("Choose the list the values come from, or create one."), field="choice_list")
            if field.type == FieldType.MULTICHOICE and field.lookup:
                raise DomainError(_l("Several choices draw on a list of this system's own."), field="lookup")
        else:
            field.choice_list_id, field.lookup = None, None
            field.__dict__.pop("choice_list", None)
    with errors.check():
        field.pattern = (field.pattern or "").strip() or None
        if field.pattern:
            if field.type not in (FieldType.TEXT, FieldType.TEXTAREA):
                raise DomainError(_l("A pattern applies to text fields only."), field="pattern")
            try:
                re.compile(field.pattern)
            except re.error:
                raise DomainError(_l("The pattern is not a valid regular expression."), field="pattern") from None
    with errors.check():
        files.check_file_field(field, register.extends)  # 照片/附件: most files, kinds
    for bound in ("min_value", "max_value"):
        if field.type == FieldType.ATTACHMENT:
            break
        with errors.check():
            value = getattr(field, bound)
            if field.type in NUMBER_TYPES or field.type in TIME_TYPES:
                parse_value(field.type, value, bound)
            elif field.type in (FieldType.TEXT, FieldType.TEXTAREA):
                length_bound(value, bound)
            elif value not in (None, ""):
                raise DomainError(_l("A minimum or maximum applies to numbers, dates and text."), field=bound)
    with errors.check():
        low, high = _bounds(field)
        if low is not None and high is not None and low > high:
            raise DomainError(_l("The minimum is larger than the maximum."), field="max_value")
    with errors.check():
        if field.type not in (FieldType.CHOICE, FieldType.MULTICHOICE, FieldType.PERSON, FieldType.APPEAL,
                              FieldType.GRID, FieldType.ATTACHMENT):  # fmt: skip
            parse_value(field.type, field.default_value, "default_value")
        elif field.default_value not in (None, "") and field.type not in (FieldType.CHOICE, FieldType.ATTACHMENT):
            raise DomainError(_l("This type of field has no default value."), field="default_value")
    with errors.check():
        if field.sortable and field.type in (FieldType.MULTICHOICE, FieldType.TEXTAREA):
            raise DomainError(_l("Lists cannot be sorted by this type of field."), field="sortable")
    errors.raise_if_any()
    if field.type == FieldType.GRID:
        field.required = True
    if not field.column:
        field.column = GRID_FIELD if field.type == FieldType.GRID else f"f_{field.code}"


def _bounds(field):
    if field.type in NUMBER_TYPES or field.type in TIME_TYPES:
        return (
            parse_value(field.type, field.min_value, "min_value"),
            parse_value(field.type, field.max_value, "max_value"),
        )
    if field.type in (FieldType.TEXT, FieldType.TEXTAREA):
        return (length_bound(field.min_value, "min_value"), length_bound(field.max_value, "max_value"))
    return None, None


# --------------------------------------------------------------------------
# Making a definition live
# --------------------------------------------------------------------------


def ensure_grid_field(register):
    """Every register has a grid (its scope): added with the definition."""
    if register.field(GRID_FIELD) is None:
        register.fields.append(
            RegisterField(
                code=GRID_FIELD,
                label=str(_l("Grid")),
                type=FieldType.GRID,
                position=0,
                required=True,
                in_list=True,
                filterable=True,
                column=GRID_FIELD,
            )  # fmt: skip
        )


def apply(session, register):
    """The definition as saved, live: its table in step, its permissions, a new token.

    Runs in the caller's transaction (the definition rows are flushed first), so a failure
    anywhere leaves neither the definition nor the table half-changed."""
    if register not in session:
        session.add(register)
    session.flush()
    spec = register.spec()
    token = runtime.bump(session)
    if spec.extends:  # extra fields of a built-in record: its own permissions apply
        sync_schema(session.connection(), spec, build_extension_class(spec, token))
    else:
        sync_schema(session.connection(), spec, build_entry_class(spec, token))
        ensure_permissions(register)
    session.flush()
    return spec


def save_register(session, register):
    """Check and apply a register definition (new or edited)."""
    if not register.extends:
        ensure_grid_field(register)
    for field in register.fields:
        if field.column is None:
            check_field(session, field)
    check_register(session, register)
    return apply(session, register)


def save_field(session, field, previous_type=None):
    """Check and apply one field (new or edited); a changed type converts the stored values."""
    check_field(session, field)
    if field not in session:  # a new field: flushed with its register below
        session.add(field)
    if previous_type and previous_type != field.type and field.id is not None:
        _convert(session, field, previous_type)
    return apply(session, field.register)


def remove_field(session, field):
    if field.type == FieldType.GRID:
        raise DomainError(_l("The grid field gives a register its scope: it cannot be removed."))
    if field.register.date_field == field.code:
        field.register.date_field = None
    field.removed_at = now()
    return apply(session, field.register)


def restore_field(session, field):
    field.removed_at = None
    return apply(session, field.register)


def _convert(session, field, previous_type):
    """Move the stored values of `field` to a new column of its new type, or refuse with the
    number of entries whose value does not fit."""
    register = field.register
    serial = session.scalar(
        select(func.count()).select_from(RegisterField).where(RegisterField.register_id == register.id)
    )
    if files.change_type(session, field, previous_type, f"f_{field.code}_{serial}_{now():%H%M%S}"[:40]):
        return  # to or from 照片/附件: nothing to convert (refused while the field holds anything)
    if (previous_type, field.type) not in CONVERTIBLE:
        raise DomainError(
            _l("A %(old)s field cannot become a %(new)s field: add a new field instead.",
               old=FieldType.label_of(previous_type), new=FieldType.label_of(field.type)),
            field="type",
        )  # fmt: skip
    table = register.table_name
    old_column = field.column
    rows = session.execute(text(f'SELECT id, "{old_column}" FROM "{table}" WHERE "{old_column}" IS NOT NULL')).all()  # noqa: S608 (names are checked codes)
    converted, bad = {}, 0
    for entry_id, value in rows:
        try:
            converted[entry_id] = convert_value(field, previous_type, value)
        except (DomainError, ValueError, decimal.InvalidOperation):
            bad += 1
    if bad:
        raise DomainError(
            _l("%(count)s entries hold values that are not a %(type)s: correct them first, or add a new field.",
               count=bad, type=FieldType.label_of(field.type)),
            field="type",
        )  # fmt: skip
    field.column = f"f_{field.code}_{serial}_{now():%H%M%S}"[:40]
    spec = register.spec()
    session.flush()
    sync_schema(session.connection(), spec, build_entry_class(spec, runtime.bump(session)))
    for entry_id, value in converted.items():
        session.execute(
            text(f'UPDATE "{table}" SET "{field.column}" = :value WHERE id = :id'), {"value": value, "id": entry_id}
        )


def convert_value(field, previous_type, value):
    """One stored value as the field's new type (ValueError / DomainError when it does not fit)."""
    if field.type in (FieldType.TEXT, FieldType.TEXTAREA):
        if isinstance(value, (dt.date, dt.datetime)):
            value = value.isoformat()
        elif isinstance(value, bool) or previous_type == FieldType.BOOLEAN:
            value = "是" if value in (True, 1, "1") else "否"
        value = str(value)
        if len(value) > text_limit(field):
            raise ValueError("too long")
        return value
    if field.type == FieldType.DATETIME and previous_type == FieldType.DATE:
        return (
            dt.datetime.fromisoformat(str(value))
            if not isinstance(value, dt.date)
            else dt.datetime(value.year, value.month, value.day)
        )
    if field.type == FieldType.DATE and previous_type == FieldType.DATETIME:
        moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
        return moment.date()
    if field.type == FieldType.INTEGER and previous_type == FieldType.DECIMAL:
        number = decimal.Decimal(str(value))
        if number != number.to_integral_value():
            raise ValueError("not whole")
        return int(number)
    return clean_value(field, str(value))


# --------------------------------------------------------------------------
# Permissions: one resource per register, seeded once
# --------------------------------------------------------------------------


def ensure_permissions(register):
    """can_read / can_write on the register's resource; on first creation the Admin gets both,
    and the built-in roles their sensible default (Clerk and GridWorker write, Leader reads).
    Later changes are the IT staff's, in the role screen: never overwritten here.

    Written through the session (FAB's own helpers commit halfway through the change)."""
    session = db.session
    resource = register.resource
    view_menu = session.scalar(select(ViewMenu).where(ViewMenu.name == resource))
    new = view_menu is None
    if new:
        view_menu = ViewMenu(name=resource)
        session.add(view_menu)
    for name in ("can_read", "can_write"):
        permission = session.scalar(select(Permission).where(Permission.name == name))
        if permission is None:
            permission = Permission(name=name)
            session.add(permission)
        pv = None
        if not new:
            pv = session.scalar(
                select(PermissionView).where(
                    PermissionView.permission_id == permission.id, PermissionView.view_menu_id == view_menu.id
                )
            )
        if pv is None:
            pv = PermissionView(permission=permission, view_menu=view_menu)
            session.add(pv)
        grantees = [current_app.config["AUTH_ROLE_ADMIN"]]
        if new:
            grantees += [role for role, grants in DEFAULT_GRANTS.items() if name[4:] in grants]
        for role_name in grantees:
            role = session.scalar(select(Role).where(Role.name == role_name))
            if role is not None and pv not in role.permissions:
                role.permissions.append(pv)


# --------------------------------------------------------------------------
# Choice lists
# --------------------------------------------------------------------------


def new_choice_list(session, field, names):
    """A new list named after `field` holding `names` (the designer's "new list" box)."""
    register = field.register
    base = f"{register.code}_{field.code}"[:26] if register is not None else (field.code or "list")[:26]
    code, n = base, 1
    while session.scalar(select(ChoiceList.id).where(ChoiceList.code == code)) is not None:
        n += 1
        code = f"{base}_{n}"
    seen = list(dict.fromkeys(names))
    too_long = [v for v in seen if len(v) > 64]
    if too_long:
        raise DomainError(
            _l("A value has at most 64 characters: %(value)s", value=too_long[0][:70]), field="new_values"
        )
    lst = ChoiceList(
        code=code, name=field.label or code, values=[ChoiceValue(name=v, sort_order=i) for i, v in enumerate(seen)]
    )
    session.add(lst)
    return lst


def check_choice_list(session, lst):
    errors = Collector()
    with errors.check():
        lst.code = (lst.code or "").strip().lower()
        if not re.match(CODE_PATTERN, lst.code):
            raise DomainError(
                _l("The code is 2 to 30 lower-case latin letters, digits or _, starting with a letter."), field="code"
            )
        with session.no_autoflush:
            others = session.scalars(select(ChoiceList.id).where(ChoiceList.code == lst.code)).all()
        if any(other != lst.id for other in others):
            raise DomainError(_l("Another list already has the code %(code)s.", code=lst.code), field="code")
    with errors.check():
        lst.name = (lst.name or "").strip()
        if not lst.name:
            raise DomainError(_l("Enter the list's name."), field="name")
    errors.raise_if_any()


def check_choice_value(session, value):
    value.name = (value.name or "").strip()
    if not value.name:
        raise DomainError(_l("Enter the value."), field="name")
    list_id = value.list.id if value.list is not None else value.list_id
    with session.no_autoflush:
        others = session.scalars(
            select(ChoiceValue.id).where(ChoiceValue.list_id == list_id, ChoiceValue.name == value.name)
        ).all()
    if any(other != value.id for other in others):
        raise DomainError(_l("The list already has the value %(name)s.", name=value.name), field="name")
    runtime.bump(session)  # forms and templates list the values: rebuild them everywhere


def check_choice_value_deletable(session, value):
    """A value some entry holds is deactivated, not deleted."""
    for spec in runtime.specs().values():
        cls = runtime.entry_class(spec.code)
        for field in spec.fields:
            if field.choice_list_id != value.list_id:
                continue
            if field.type == FieldType.CHOICE:
                used = session.scalar(
                    select(func.count()).select_from(cls).where(getattr(cls, field.column) == value.id)
                )
            else:
                used = session.scalar(
                    select(func.count()).select_from(cls).where(getattr(cls, field.code).any(id=value.id))
                )
            if used:
                raise DomainError(_l("The value %(name)s is in use: untick Active instead.", name=value.name))


def sync_all_schemas(session):
    """Every register's and extension's tables and indexes as their definitions want them (an
    upgrade that adds a kind of index, e.g. SQLite's text index, builds it for existing data)."""
    connection = session.connection()
    for code, spec in runtime.specs().items():
        sync_schema(connection, spec, runtime.entry_class(code))
    for spec, cls in runtime.extensions().values():
        if spec.live_fields:
            sync_schema(connection, spec, cls)
