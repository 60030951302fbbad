"""Register statistics kept on write: entries per register, grid, day and choice value.

An `after_flush` listener adds +1 / −1 to `register_rollup` rows in the same transaction
as every insert, edit, soft delete, restore and hard delete of an entry, so a summary adds
up a few roll-up rows and never counts entries. `rebuild()` recomputes them from the
entries and `check()` proves they agree (run by the tests after every scenario and by
`flask minqing registers rollups check`).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

from sqlalchemy import Date, cast, delete, event, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, attributes

from app.models.registers import EntryBase, FieldType, RegisterRollup, RegisterRollupMonth

TOTAL = 0  # field_id / value_id of the register's total


def _day(value):
    if isinstance(value, dt.datetime):
        return value.date()
    return value


def _old(obj, attr):
    """The value of `attr` before this flush's change."""
    hist = attributes.get_history(obj, attr)
    if hist.deleted:
        return hist.deleted[0]
    if hist.unchanged:
        return hist.unchanged[0]
    return getattr(obj, attr)


def _ids(values):
    return [v.id if hasattr(v, "id") else v for v in values if v is not None]


def _keys(obj, old=False):
    """The roll-up keys one entry counts under (its state before the change when `old`)."""
    cls = type(obj)
    spec = cls.__register__
    read = (lambda attr: _old(obj, attr)) if old else (lambda attr: getattr(obj, attr))
    if read("deleted_at") is not None:
        return []
    day = None
    if spec.date_field and spec.field(spec.date_field) is not None:
        day = _day(read(spec.date_field))
    day = day or _day(read("created_at"))
    grid_id = read("grid_id")
    if grid_id is None and obj.__dict__.get("grid") is not None:
        grid_id = obj.grid.id
    keys = [(spec.id, grid_id, day, TOTAL, TOTAL)]
    for field in cls.__fields__:
        if field.type == FieldType.CHOICE:
            value = read(field.column)
            if value is None and not old and obj.__dict__.get(field.code) is not None:
                value = obj.__dict__[field.code].id
            keys.append((spec.id, grid_id, day, field.id, value or TOTAL))
        elif field.type == FieldType.MULTICHOICE:
            if old:
                hist = attributes.get_history(obj, field.code)
                values = list(hist.unchanged or ()) + list(hist.deleted or ())
            else:
                values = list(getattr(obj, field.code) or ())
            keys.extend((spec.id, grid_id, day, field.id, value_id) for value_id in _ids(values))
    return keys


def _changed(obj):
    cls = type(obj)
    names = ["grid_id", "deleted_at", "created_at"]
    if cls.__register__.date_field:
        names.append(cls.__register__.date_field)
    for field in cls.__fields__:
        if field.type == FieldType.CHOICE:
            names += [field.code, field.column]
        elif field.type == FieldType.MULTICHOICE:
            names.append(field.code)
    return any(attributes.get_history(obj, name).has_changes() for name in names)


@event.listens_for(Session, "after_flush")
def _keep_rollups(session, flush_context):
    deltas = Counter()
    for obj in session.new:
        if isinstance(obj, EntryBase):
            deltas.update(_keys(obj))
    for obj in session.dirty:
        if isinstance(obj, EntryBase) and _changed(obj):
            deltas.subtract(_keys(obj, old=True))
            deltas.update(_keys(obj))
    for obj in session.deleted:
        if isinstance(obj, EntryBase):
            deltas.subtract(_keys(obj, old=True))
    rows = [
        {"register_id": k[0], "grid_id": k[1], "day": k[2], "field_id": k[3], "value_id": k[4], "count": n}
        for k, n in deltas.items()
        if n and k[1] is not None and k[2] is not None
    ]
    if rows:
        add(session.connection(), rows)


def month_of(day):
    return day.replace(day=1)


def by_month(rows):
    """Day rows added up into month rows (day = the month's first day)."""
    months = Counter()
    for row in rows:
        months[(row["register_id"], row["grid_id"], month_of(row["day"]), row["field_id"], row["value_id"])] += row[
            "count"
        ]
    return [
        {"register_id": k[0], "grid_id": k[1], "day": k[2], "field_id": k[3], "value_id": k[4], "count": n}
        for k, n in months.items()
        if n
    ]


def add(connection, rows):
    """count += n for each roll-up row, by day and by month (created at n when new)."""
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    for table, batch in ((RegisterRollup.__table__, rows), (RegisterRollupMonth.__table__, by_month(rows))):
        if not batch:
            continue
        statement = insert(table)
        statement = statement.on_conflict_do_update(
            index_elements=[table.c.register_id, table.c.grid_id, table.c.day, table.c.field_id, table.c.value_id],
            set_={"count": table.c.count + statement.excluded.count},
        )
        for start in range(0, len(batch), 5000):
            connection.execute(statement, batch[start : start + 5000])


def _day_expr(session, cls):
    """SQL: the day an entry counts on (its date field, else the day it was recorded)."""
    spec = cls.__register__
    column = cls.created_at
    if spec.date_field and spec.field(spec.date_field) is not None:
        column = func.coalesce(getattr(cls, spec.date_field), cls.created_at)
    if session.get_bind().dialect.name == "postgresql":
        return cast(column, Date)
    return func.date(column)


def recount(session, cls):
    """{key: count} computed from the entries themselves, with a few GROUP BYs."""
    spec = cls.__register__
    day = _day_expr(session, cls).label("day")
    live = cls.deleted_at.is_(None)
    counts = Counter()

    for grid_id, on, n in session.execute(
        select(cls.grid_id, day, func.count()).where(live).group_by(cls.grid_id, day)
    ):
        counts[(spec.id, grid_id, _as_date(on), TOTAL, TOTAL)] += n
    for field in cls.__fields__:
        if field.type == FieldType.CHOICE:
            column = getattr(cls, field.column)
            rows = session.execute(
                select(cls.grid_id, day, column, func.count()).where(live).group_by(cls.grid_id, day, column)
            )
            for grid_id, on, value, n in rows:
                counts[(spec.id, grid_id, _as_date(on), field.id, value or TOTAL)] += n
        elif field.type == FieldType.MULTICHOICE:
            secondary = getattr(cls, field.code).property.secondary
            rows = session.execute(
                select(cls.grid_id, day, secondary.c.value_id, func.count())
                .join(secondary, secondary.c.entry_id == cls.id)
                .where(live)
                .group_by(cls.grid_id, day, secondary.c.value_id)
            )
            for grid_id, on, value, n in rows:
                counts[(spec.id, grid_id, _as_date(on), field.id, value)] += n
    return counts


def _as_date(value):
    if isinstance(value, str):
        return dt.date.fromisoformat(value[:10])
    return _day(value)


def stored(session, register_id, model=RegisterRollup):
    rows = session.execute(
        select(model.register_id, model.grid_id, model.day, model.field_id, model.value_id, model.count).where(
            model.register_id == register_id, model.count != 0
        )
    ).all()
    return Counter({(r[0], r[1], _as_date(r[2]), r[3], r[4]): r[5] for r in rows})


def check(session, cls):
    """The differences between the roll-ups (by day and by month) and a recount ({} when they agree)."""
    expected = +recount(session, cls)
    rows = [{"register_id": k[0], "grid_id": k[1], "day": k[2], "field_id": k[3], "value_id": k[4], "count": n}
            for k, n in expected.items()]  # fmt: skip
    expected_months = Counter({(r["register_id"], r["grid_id"], r["day"], r["field_id"], r["value_id"]): r["count"]
                               for r in by_month(rows)})  # fmt: skip
    out = {}
    for model, want in ((RegisterRollup, expected), (RegisterRollupMonth, expected_months)):
        have = +stored(session, cls.__register__.id, model)
        for k in set(want) | set(have):
            if have.get(k, 0) != want.get(k, 0):
                out[(model.__tablename__, *k)] = (have.get(k, 0), want.get(k, 0))
    return out


def rebuild(session, cls):
    """Replace a register's roll-ups by a recount. The caller commits."""
    register_id = cls.__register__.id
    session.execute(delete(RegisterRollup).where(RegisterRollup.register_id == register_id))
    session.execute(delete(RegisterRollupMonth).where(RegisterRollupMonth.register_id == register_id))
    counts = recount(session, cls)
    rows = [
        {"register_id": k[0], "grid_id": k[1], "day": k[2], "field_id": k[3], "value_id": k[4], "count": n}
        for k, n in counts.items()
        if n
    ]
    if rows:
        add(session.connection(), rows)
    return len(rows)


def total_rows(session):
    return session.scalar(select(func.count()).select_from(RegisterRollup))
