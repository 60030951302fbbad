"""Extra fields on built-in records (扩展字段): appeals, visits, people, grids and contact records
carry fields the county's IT staff define in the designer, as a register's fields are defined.

A definition with `extends = "<table>"` holds them; their values live in `ext_<table>`, one row
per record that has any, sharing the record's id. On the record they read and write like
columns: each live field is an `ExtraValue` attribute of the model (installed and removed with
the definitions, on every server, by the registers' runtime generation), so forms, show pages,
lists, exports and the API see `appeal.<code>` without knowing where it is kept.

Writing: on a record already stored, setting an extra value puts its row in the session (it is
flushed and committed with the record, in the same transaction); on a new record the row waits
on the record and is added once the record's insert gave it an id. Every rule of every extra
field is checked at once with the record's own rules (`check`), as a register entry's are.
"""

from __future__ import annotations

import logging

from flask_babel import lazy_gettext as _l
from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session, object_session

from app.models.appeals import Appeal
from app.models.grids import Grid
from app.models.personnel import Person
from app.models.registers import FieldType, RegisterDef
from app.models.representatives import ContactRecord
from app.models.visits import Visit
from app.services import scope
from app.services.registers import runtime
from app.services.registers.entries import check_entry

log = logging.getLogger(__name__)

# the built-in records IT staff may extend: table -> (model, what the designer calls it)
TARGETS = {
    "appeal": (Appeal, _l("Appeals")),
    "visit": (Visit, _l("Visits")),
    "person": (Person, _l("People")),
    "grid": (Grid, _l("Grids")),
    "contact_record": (ContactRecord, _l("Contact records")),
}
ROW = "_minqing_extra_row"  # (mapped class, row or None) of the record, as loaded or made
NEW_ROWS = "minqing_extra_new_rows"  # session.info: rows of records inserted by this flush
_base_sensitive = {table: dict(getattr(model, "__sensitive__", {}) or {}) for table, (model, _) in TARGETS.items()}
_installed: dict[str, list[str]] = {}


def model_of(table):
    return TARGETS[table][0]


def table_of(model):
    """The extensible table of `model` (None: not extensible)."""
    table = getattr(model, "__tablename__", None)
    return table if table in TARGETS else None


def builtin_attribute(table, code):
    """Whether `code` already means something on the built-in record (a column, a relation, a method)."""
    if table not in TARGETS:
        return False
    for klass in model_of(table).__mro__:
        attr = klass.__dict__.get(code)
        if attr is not None and not isinstance(attr, ExtraValue):
            return True
    return code in ("ext", "extra", "metadata", "query", "registry")


def live(table):
    """(definition, mapped class, live fields) of `table`'s extra fields, or None when it has none."""
    built = runtime.extension(table)
    if built is None:
        return None
    spec, cls = built
    fields = tuple(f for f in spec.live_fields if f.type != FieldType.GRID)
    return (spec, cls, fields) if fields else None


def field_codes(model):
    """The codes of `model`'s live extra fields, in the designer's order."""
    table = table_of(model)
    built = live(table) if table else None
    return [f.code for f in built[2]] if built else []


# --------------------------------------------------------------------------
# The attribute on the record
# --------------------------------------------------------------------------


class ExtraValue:
    """One extra field on a built-in record, read and set like a column."""

    def __init__(self, table, field):
        self.table = table
        self.code = field.code
        self.multiple = field.type == FieldType.MULTICHOICE

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        row = row_of(instance, self.table)
        value = getattr(row, self.code, None) if row is not None else None
        return [] if value is None and self.multiple else value

    def __set__(self, instance, value):
        row = row_of(instance, self.table, create=True)
        if row is None:  # the field went away meanwhile: nothing to keep it in
            return
        setattr(row, self.code, value)


def _ident(instance):
    """The record's id without loading anything (None while it is new)."""
    identity = inspect(instance).identity
    return identity[0] if identity else instance.__dict__.get("id")


def _grid_id(instance):
    if getattr(instance, "__tablename__", "") == "grid":
        return _ident(instance)
    grid = instance.__dict__.get("grid")
    return grid.id if grid is not None else getattr(instance, "grid_id", None)


def row_of(instance, table, create=False):
    """The row holding `instance`'s extra values (made, when `create`, if it has none yet)."""
    built = runtime.extension(table)
    if built is None:
        return None
    cls = built[1]
    cached = instance.__dict__.get(ROW)
    row = cached[1] if cached is not None and cached[0] is cls else None
    if cached is None or cached[0] is not cls:
        ident, session = _ident(instance), object_session(instance)
        row = session.get(cls, ident) if ident is not None and session is not None and live(table) else None
    if row is None and create:
        row = cls()
        ident, session = _ident(instance), object_session(instance)
        if ident is not None and session is not None:
            row.id = ident
            session.add(row)
    if row is not None:
        row.grid_id = _grid_id(instance)  # the audit trail files a change where the record is
    instance.__dict__[ROW] = (cls, row)
    return row


def prefetch(session, model, items):
    """Load the extra values of a page of records in one query (lists and exports)."""
    table = table_of(model)
    built = live(table) if table else None
    if built is None:
        return
    cls = built[1]
    items = [(i, _ident(i)) for i in items]
    items = [(i, ident) for i, ident in items if ident is not None]
    for start in range(0, len(items), 500):
        chunk = items[start : start + 500]
        rows = {r.id: r for r in session.scalars(select(cls).where(cls.id.in_([ident for _, ident in chunk])))}
        for item, ident in chunk:
            item.__dict__[ROW] = (cls, rows.get(ident))


def check(session, instance):
    """Every broken rule of the record's extra values (DomainErrors, field = the field's code)."""
    table = table_of(type(instance))
    if table is None or live(table) is None:
        return
    check_entry(session, row_of(instance, table, create=True))  # none yet: the required ones fail


# --------------------------------------------------------------------------
# Rows of new records: added once the record's insert gave it an id
# --------------------------------------------------------------------------


@event.listens_for(Session, "before_flush")
def _remember_new_rows(session, flush_context, instances):
    waiting = []
    for obj in session.new:
        cached = obj.__dict__.get(ROW)
        if cached is not None and cached[1] is not None and cached[1] not in session and table_of(type(obj)):
            waiting.append((obj, cached[1]))
    if waiting:
        session.info.setdefault(NEW_ROWS, []).extend(waiting)


@event.listens_for(Session, "after_flush_postexec")
def _add_new_rows(session, flush_context):
    for obj, row in session.info.pop(NEW_ROWS, None) or ():
        if _ident(obj) is None or row in session:
            continue
        row.id = obj.id
        row.grid_id = _grid_id(obj)
        session.add(row)  # flushed by the commit's next round, in the same transaction


@event.listens_for(Session, "after_rollback")
def _forget_new_rows(session):
    session.info.pop(NEW_ROWS, None)


# --------------------------------------------------------------------------
# Installing the attributes when the definitions change
# --------------------------------------------------------------------------


@runtime.on_rebuild
def install(_specs=None):
    """Put each live extra field on its model as an attribute (and take removed ones off)."""
    built = runtime.built_extensions()
    for table, (model, _label) in TARGETS.items():
        for code in _installed.pop(table, []):
            if isinstance(model.__dict__.get(code), ExtraValue):
                delattr(model, code)
        sensitive = dict(_base_sensitive[table])
        codes = []
        spec_cls = built.get(table)
        if spec_cls is not None:
            spec, cls = spec_cls
            for field in spec.live_fields:
                if field.type == FieldType.GRID:
                    continue
                if builtin_attribute(table, field.code):
                    log.warning("extra field %s.%s hides nothing: the record already has it", table, field.code)
                    continue
                setattr(model, field.code, ExtraValue(table, field))
                codes.append(field.code)
                if field.code in cls.__sensitive__:
                    sensitive[field.code] = cls.__sensitive__[field.code]
        model.__sensitive__ = sensitive
        _installed[table] = codes
        if spec_cls is not None:
            scope.scope_rule(spec_cls[1])(_owner_rule(model, spec_cls[1]))


def _owner_rule(model, cls):
    """Extra values are in a scope when their record is (the write backstop checks them too)."""

    def rule(user_scope):
        return cls.id.in_(select(model.id).where(scope.clause_for(model, user_scope, include_deleted=True)))

    return rule


def ensure_definitions(session):
    """One (empty) extra-field definition per extensible record, made once; returns how many were new."""
    have = set(session.scalars(select(RegisterDef.extends).where(RegisterDef.extends.is_not(None))))
    made = 0
    for position, (table, (_model, label)) in enumerate(TARGETS.items()):
        if table in have:
            continue
        session.add(
            RegisterDef(
                code=f"x_{table}"[:30], name=str(label), menu_group=str(_l("Extra fields")), extends=table,
                sort_order=900 + position, active=True,
            )
        )  # fmt: skip
        made += 1
    if made:
        session.flush()
    return made
