"""Rotas with public notice (seeds 000, 001, 003): the kinds, the rule that generates a
rota's slots, the month's minimum check, the calendar, the 公示 and the attendance 考核 reads.

* A rota is a grid's rule: on which ISO weekdays (1 = Monday), who in turn (the rotation
  order), from when to when, at what time, where and for what duty.
* `generate_slots` makes the rule's slots. Run again it changes nothing; after the rule
  changed it updates or removes only the slots it made that nobody touched since: a slot
  edited by hand, recorded (held or not) or linked to a record stays as it is.
* A kind carries what a month must show (minimums an administrator edits on the kind):
  openings held a month (说事日 ≥ 4), collective receptions (两代表工作室 ≥ 1), openings in
  every week (下沉人员 ≥ 1), or every scheduled day held (领导带班接访 each working day).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass, field

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, func, select

from app.core.clock import today
from app.core.errors import Collector, DomainError
from app.models.grids import Grid, subtree_bounds
from app.models.rotas import Rota, RotaKind, RotaSlot
from app.services.validators import clean_text, normalize_phone, require

WEEKDAY_TITLES = {
    1: _l("Monday"),
    2: _l("Tuesday"),
    3: _l("Wednesday"),
    4: _l("Thursday"),
    5: _l("Friday"),
    6: _l("Saturday"),
    7: _l("Sunday"),
}
_CHINESE_DAYS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "日": 7, "天": 7}

# Stored values are Chinese: data an administrator edits (seeds 000, 001, 003).
# code, name, description, weekdays, hours, per month, collective per month, per week, every slot
SEED_KINDS = [
    ("reception", "领导带班接访", "每个工作日明确一名领导在接访中心带班接访，面对面解决群众的具体问题。",
     "1,2,3,4,5", "8:30-12:00", None, None, None, True),
    ("speakup", "村民说事日", "每星期三为村民说事日，由村两委干部轮流值班在说事室接待群众说事；说事点每月至少开放4次。",
     "3", "全天", 4, None, None, False),
    ("studio", "两代表工作室", "党代表和人大代表轮流驻室接待党员群众，每次开放时间半天；每月接待、走访群众不少于2次，"
     "每月至少集体接待1次。", "5", "半天", 2, 1, None, False),
    ("homevisit", "家访公告", "今天谁来家访、负责什么工作、什么时候来，群众一看便知。", "2,4", "下午", None, None, None, False),
    ("patrol", "下沉人员巡查", "下沉人员每周至少巡查一次责任社区（网格），与网格员沟通联系。", "1", None, None, None, 1, False),
]  # fmt: skip


def seed_rota_kinds(session):
    """Add the seeded kinds that are missing (by code or name); never overwrite an edit."""
    codes = set(session.scalars(select(RotaKind.code)))
    names = set(session.scalars(select(RotaKind.name)))
    for order, row in enumerate(SEED_KINDS):
        code, name, description, weekdays, hours, per_month, collective, per_week, every = row
        if code in codes or name in names:
            continue
        session.add(
            RotaKind(
                code=code, name=name, description=description, weekdays=weekdays, hours=hours,
                minimum_per_month=per_month, collective_per_month=collective, minimum_per_week=per_week,
                every_slot=every, sort_order=order, active=True,
            )
        )  # fmt: skip
    session.flush()


def parse_weekdays(text, field="weekdays"):
    """ "1,3" / "一、三" / "周三" → [1, 3] (ISO weekdays); an error for anything else."""
    text = clean_text(text) or ""
    days = set()
    for part in re.split(r"[\s,，、;；/]+", text):
        part = part.replace("周", "").replace("星期", "")
        if not part:
            continue
        if part.isdigit() and 1 <= int(part) <= 7:
            days.add(int(part))
        elif part in _CHINESE_DAYS:
            days.add(_CHINESE_DAYS[part])
        else:
            raise DomainError(
                _l("Weekdays are numbers 1 (Monday) to 7 (Sunday) separated by commas, e.g. 1,3,5."), field=field
            )
    return sorted(days)


def weekday_names(text):
    try:
        return "、".join(str(WEEKDAY_TITLES[d]) for d in parse_weekdays(text))
    except DomainError:
        return text or ""


# --------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------


def validate_kind(session, kind):
    errors = Collector()
    with errors.check():
        kind.name = require(kind.name, _l("Enter a name."), "name")
    with errors.check():
        if kind.weekdays:
            kind.weekdays = ",".join(str(d) for d in parse_weekdays(kind.weekdays))
    for column in ("minimum_per_month", "collective_per_month", "minimum_per_week"):
        value = getattr(kind, column)
        if value is not None and value < 0:
            errors.add(DomainError(_l("A minimum cannot be negative."), field=column))
    kind.description = clean_text(kind.description)
    kind.hours = clean_text(kind.hours)
    errors.raise_if_any()


def validate_rota(session, rota):
    """Every rule of a rota at once (Collector): the form shows all its errors together."""
    errors = Collector()
    with errors.check():
        require(rota.grid or rota.grid_id, _l("Choose the grid."), "grid")
    with errors.check():
        require(rota.kind or rota.kind_id, _l("Choose the kind of rota."), "kind")
    if not clean_text(rota.name) and rota.kind is not None:
        rota.name = rota.kind.name
    with errors.check():
        rota.name = require(rota.name, _l("Enter a name."), "name")
    with errors.check():
        if not clean_text(rota.weekdays) and rota.kind is not None:
            rota.weekdays = rota.kind.weekdays
        days = parse_weekdays(rota.weekdays)
        if not days:
            raise DomainError(_l("Name at least one weekday."), field="weekdays")
        rota.weekdays = ",".join(str(d) for d in days)
    with errors.check():
        require(rota.start_date, _l("Enter the first day."), "start_date")
        require(rota.end_date, _l("Enter the last day."), "end_date")
        if rota.end_date < rota.start_date:
            raise DomainError(_l("The last day is before the first day."), field="end_date")
        longest = int(current_app.config["ROTA_MAX_DAYS"])
        if (rota.end_date - rota.start_date).days + 1 > longest:
            raise DomainError(_l("A rota covers at most %(n)s days.", n=longest), field="end_date")
    if not clean_text(rota.hours) and rota.kind is not None:
        rota.hours = rota.kind.hours
    rota.hours, rota.place, rota.duty = clean_text(rota.hours), clean_text(rota.place), clean_text(rota.duty)
    errors.raise_if_any()
    keep_rotation(rota)
    if rota.id is not None:  # a rota moved to another grid takes its slots along (their scope follows)
        with session.no_autoflush:
            for slot in rota.slots:
                if slot.grid_id != (rota.grid.id if rota.grid is not None else rota.grid_id):
                    slot.grid = rota.grid


def keep_rotation(rota):
    """The turn order: the members kept stay in their turn, new members join at the end."""
    ids = [p.id for p in rota.members if p.id is not None]
    order = [i for i in rota.rotation_ids if i in ids]
    rota.rotation = ",".join(str(i) for i in order + [i for i in ids if i not in order])


def set_rotation(rota, person_ids):
    """Put the members in the order of `person_ids` (those it omits keep their turn after)."""
    ids = {p.id for p in rota.members}
    first = [i for i in person_ids if i in ids]
    rota.rotation = ",".join(str(i) for i in first + [i for i in rota.rotation_ids if i not in first])
    keep_rotation(rota)


def validate_slot(session, slot, on=None):
    on = on or today()
    errors = Collector()
    with errors.check():
        require(slot.rota or slot.rota_id, _l("Choose the rota."), "rota")
    with errors.check():
        require(slot.slot_date, _l("Enter the day."), "slot_date")
    with errors.check():
        slot.phone = normalize_phone(slot.phone)
    if slot.held is True and slot.slot_date is not None and slot.slot_date > on:
        errors.add(DomainError(_l("A day still to come cannot be recorded as held."), field="held"))
    with session.no_autoflush:
        rota = slot.rota or (session.get(Rota, slot.rota_id) if slot.rota_id else None)
        if rota is not None and slot.slot_date is not None:
            clash = session.scalar(
                select(RotaSlot.id).where(
                    RotaSlot.rota_id == rota.id, RotaSlot.slot_date == slot.slot_date, RotaSlot.id != (slot.id or 0)
                )
            )
            if clash:
                errors.add(DomainError(_l("This rota already has a duty on that day."), field="slot_date"))
    errors.raise_if_any()
    slot.grid = rota.grid  # the rota's grid places the slot in scope
    slot.duty, slot.hours, slot.outcome = clean_text(slot.duty), clean_text(slot.hours), clean_text(slot.outcome)
    slot.edited = True  # saved by a person: generation leaves it alone from now on


# --------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------


@dataclass
class Generated:
    created: int = 0
    updated: int = 0
    removed: int = 0
    kept: int = 0


def rule_days(rota):
    days = set(parse_weekdays(rota.weekdays))
    day, out = rota.start_date, []
    while day <= rota.end_date:
        if day.isoweekday() in days:
            out.append(day)
        day += dt.timedelta(days=1)
    return out


def _untouched(slot):
    return (
        slot.generated and not slot.edited and slot.held is None and not (slot.appeals or slot.visits or slot.contacts)
    )


def generate_slots(session, rota):
    """Make the rule's slots (see the module's docstring); returns the counts of what it did."""
    result = Generated()
    turn = rota.in_turn
    existing = {s.slot_date: s for s in session.scalars(select(RotaSlot).where(RotaSlot.rota_id == rota.id))}
    for index, day in enumerate(rule_days(rota)):
        person = turn[index % len(turn)] if turn else None
        slot = existing.pop(day, None)
        if slot is None:
            session.add(
                RotaSlot(
                    rota=rota, grid=rota.grid, slot_date=day, person=person, hours=rota.hours, duty=rota.duty,
                    generated=True, edited=False,
                )
            )  # fmt: skip
            result.created += 1
        elif _untouched(slot) and (slot.person, slot.hours, slot.duty) != (person, rota.hours, rota.duty):
            slot.person, slot.hours, slot.duty = person, rota.hours, rota.duty
            result.updated += 1
        else:
            result.kept += 1
    for slot in existing.values():  # days the rule no longer names
        if _untouched(slot):
            session.delete(slot)
            result.removed += 1
        else:
            result.kept += 1
    session.flush()
    return result


# --------------------------------------------------------------------------
# A month: the minimum check and the calendar
# --------------------------------------------------------------------------


def month_bounds(year, month):
    return dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1])


@dataclass
class Criterion:
    label: str
    needed: int
    done: int
    # whether the rest of the month can still make up the difference
    possible: bool = True

    @property
    def met(self):
        return self.done >= self.needed


@dataclass
class MonthCheck:
    rota: Rota
    start: dt.date
    end: dt.date
    scheduled: int = 0
    held: int = 0
    missed: int = 0  # recorded as not held, or past and never recorded
    pending: int = 0  # today or later, not recorded yet
    collective: int = 0
    criteria: list = field(default_factory=list)
    over: bool = False  # the month has ended

    @property
    def state(self):
        """ "met", "missed" (the month ended short, or can no longer make it) or "open"."""
        if all(c.met for c in self.criteria):
            return "met"
        if self.over or any(not c.possible for c in self.criteria):
            return "missed"
        return "open"


def month_check(session, rota, year, month, on=None):
    """What the month of `rota` shows against its kind's minimums (counted from its slots)."""
    on = on or today()
    start, end = month_bounds(year, month)
    slots = session.scalars(
        select(RotaSlot).where(RotaSlot.rota_id == rota.id, RotaSlot.slot_date >= start, RotaSlot.slot_date <= end)
    ).all()
    check = MonthCheck(rota, start, end, over=on > end)
    for slot in slots:
        check.scheduled += 1
        if slot.held:
            check.held += 1
            check.collective += 1 if slot.collective else 0
        elif slot.held is False or slot.slot_date < on:
            check.missed += 1
        else:
            check.pending += 1
    kind = rota.kind
    if kind.minimum_per_month:
        check.criteria.append(
            Criterion(_l("Openings held this month"), kind.minimum_per_month, check.held,
                      check.held + check.pending >= kind.minimum_per_month)
        )  # fmt: skip
    if kind.collective_per_month:
        check.criteria.append(
            Criterion(_l("Collective receptions this month"), kind.collective_per_month, check.collective,
                      check.collective + check.pending >= kind.collective_per_month)
        )  # fmt: skip
    if kind.every_slot:
        check.criteria.append(
            Criterion(_l("Scheduled days held"), check.scheduled, check.held, check.missed == 0)
        )  # fmt: skip
    if kind.minimum_per_week:
        by_day = {s.slot_date: s for s in slots}
        monday = start - dt.timedelta(days=start.weekday())
        weeks_met = weeks = 0
        possible = True
        while monday <= end:
            days = [monday + dt.timedelta(days=i) for i in range(7)]
            held = sum(1 for d in days if by_day.get(d) is not None and by_day[d].held)
            open_ = sum(1 for d in days if by_day.get(d) is not None and by_day[d].held is None and d >= on)
            weeks += 1
            weeks_met += 1 if held >= kind.minimum_per_week else 0
            possible = possible and held + open_ >= kind.minimum_per_week
            monday += dt.timedelta(days=7)
        check.criteria.append(Criterion(_l("Weeks with enough openings"), weeks, weeks_met, possible))
    return check


def month_calendar(session, rota, year, month):
    """[[(day, slot or None, in the month)]] week by week, Monday first."""
    start, end = month_bounds(year, month)
    slots = {
        s.slot_date: s
        for s in session.scalars(
            select(RotaSlot).where(RotaSlot.rota_id == rota.id, RotaSlot.slot_date >= start, RotaSlot.slot_date <= end)
        )
    }
    weeks = calendar.Calendar(0).monthdatescalendar(year, month)
    return [[(day, slots.get(day), day.month == month) for day in week] for week in weeks]


def notice(session, grid, start, end, grid_clause):
    """The 公示 of a grid: its active rotas and their slots from `start` to `end`, in order."""
    rotas = session.scalars(
        select(Rota)
        .join(RotaKind, RotaKind.id == Rota.kind_id)
        .where(Rota.grid_id == grid.id, Rota.active.is_(True), grid_clause)
        .order_by(RotaKind.sort_order, Rota.name, Rota.id)
    ).all()
    out = []
    for rota in rotas:
        slots = session.scalars(
            select(RotaSlot)
            .where(RotaSlot.rota_id == rota.id, RotaSlot.slot_date >= start, RotaSlot.slot_date <= end)
            .order_by(RotaSlot.slot_date)
        ).all()
        out.append((rota, slots))
    return out


# --------------------------------------------------------------------------
# Attendance, for the assessment (考核)
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Attendance:
    due: int  # slots scheduled from start to the earlier of end and today
    held: int  # of those, recorded as held

    @property
    def rate(self):
        return self.held / self.due if self.due else None


def rota_attendance(session, start, end, *, person_id=None, grid_id=None, on=None):
    """A person's (the slots they were on duty for) or a grid subtree's rota attendance
    between `start` and `end` (inclusive): slots due so far and slots held."""
    last = min(end, on or today())
    conditions = [RotaSlot.slot_date >= start, RotaSlot.slot_date <= last]
    if person_id is not None:
        conditions.append(RotaSlot.person_id == person_id)
    query = select(func.count(RotaSlot.id), func.coalesce(func.sum(case((RotaSlot.held.is_(True), 1), else_=0)), 0))
    if grid_id is not None:
        path = session.scalar(select(Grid.path).where(Grid.id == grid_id))
        if path is None:
            return Attendance(0, 0)
        low, high = subtree_bounds(path)
        query = query.join(Grid, Grid.id == RotaSlot.grid_id)
        conditions += [Grid.path >= low, Grid.path < high]
    due, held = session.execute(query.where(and_(*conditions))).one()
    return Attendance(int(due), int(held))
