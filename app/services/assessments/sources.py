"""The figures automatic items read, each computed from the product's own records for a team
(a grid subtree) or for each member of a team, over a period.

* the grid platform's four (seed 003): 上报率, 发现率, 处置率 and 满意率 — the definitions of
  `app.services.stats` (one place, not repeated here), for the appeals registered in the team's grid;
* 走访任务完成率: visits or households done against the visit quota rules of each month of the
  period (and the year's rules for a whole year), counted up to each rule's minimum;
* 重要意见及时报告率: the share of a representative's important opinions reported to the 人大主席/副主席
  within REPRESENTATIVE_REPORT_DAYS;
* 值班出勤率 (rotas): the member's rota slots held over the slots due so far (app.services.rotas);
  a member with no slot in the period has no data (the item is not scored and shows 暂无数据).

A figure is a fraction (0.85) or None (no data: nothing to divide by).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.core.clock import today
from app.models.personnel import Person
from app.models.representatives import ContactRecord, Representative, report_days
from app.services import quotas, rotas, stats

TEAM, MEMBER = "team", "member"


@dataclass(frozen=True)
class Source:
    key: str
    title: object
    subject: str  # TEAM: one figure per team; MEMBER: one per member
    compute: object  # TEAM: fn(session, grid, start, end) -> (figure, detail); MEMBER: fn(session, ids, start, end) -> {id: (figure, detail)}


def _fraction(numerator, denominator, num_title, den_title):
    detail = f"{num_title} {numerator} / {den_title} {denominator}"
    return (numerator / denominator if denominator else None), detail


def _appeal_rate(rate_key):
    rate = next(r for r in stats.RATES if r.key == rate_key)
    titles = {c.key: c.title for c in stats.COUNTS}

    def compute(session, grid, start, end):
        figures = stats.appeal_figures_in(session, (grid.path,), start, end, on=min(end, today()))
        return _fraction(
            figures[rate.numerator], figures[rate.denominator], titles[rate.numerator], titles[rate.denominator]
        )

    return compute


def _months(start, end):
    day = date(start.year, start.month, 1)
    while day <= end:
        yield day.year, day.month
        day = date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def quota_completion(session, person_ids, start, end):
    """Per member: the quota's done (each rule counted up to its minimum) over its target."""
    if not person_ids:
        return {}
    periods = [quotas.period_of(y, m) for y, m in _months(start, end)]
    if start.month == 1 and start.day == 1 and end == date(start.year, 12, 31):
        periods.append(quotas.period_of(start.year))
    done, target = {}, {}
    on = min(end, today())
    for period in periods:
        for row in quotas.quota_progress(session, period, Person.id.in_(list(person_ids)), on=on):
            pid = row.person.id
            done[pid] = done.get(pid, 0) + min(row.done, row.target)
            target[pid] = target.get(pid, 0) + row.target
    return {pid: _fraction(done[pid], target[pid], _l("Done"), _l("Target")) for pid in target}


def report_timeliness(session, person_ids, start, end):
    """Per member who is a representative: important opinions reported in time over all of them."""
    if not person_ids:
        return {}
    rows = session.execute(
        select(Representative.person_id, ContactRecord)
        .join(ContactRecord, ContactRecord.representative_id == Representative.id)
        .where(
            Representative.person_id.in_(list(person_ids)),
            ContactRecord.important.is_(True),
            ContactRecord.deleted_at.is_(None),
            ContactRecord.contact_date >= start,
            ContactRecord.contact_date <= end,
        )
    ).all()
    days = report_days()
    on_time, important = {}, {}
    for pid, record in rows:
        important[pid] = important.get(pid, 0) + 1
        if record.reported_at is not None and record.reported_at <= record.contact_date + timedelta(days=days):
            on_time[pid] = on_time.get(pid, 0) + 1
    return {
        pid: _fraction(on_time.get(pid, 0), n, _l("Reported in time"), _l("Important opinions"))
        for pid, n in important.items()
    }


def rota_attendance(session, person_ids, start, end):
    """值班出勤率: each member's rota slots held over the slots they were on duty for, up to today
    (app.services.rotas); a member with no slot due in the period has no data."""
    out = {}
    for pid in person_ids:
        attendance = rotas.rota_attendance(session, start, end, person_id=pid)
        if attendance.due:
            out[pid] = _fraction(attendance.held, attendance.due, _l("Slots held"), _l("Slots due"))
    return out


SOURCES = {
    s.key: s
    for s in (
        Source("reporting_rate", _l("Reporting rate"), TEAM, _appeal_rate("reporting_rate")),
        Source("discovery_rate", _l("Discovery rate"), TEAM, _appeal_rate("discovery_rate")),
        Source("handling_rate", _l("Handling rate"), TEAM, _appeal_rate("handling_rate")),
        Source("satisfaction_rate", _l("Satisfaction rate"), TEAM, _appeal_rate("satisfaction_rate")),
        Source("visit_quota", _l("Visit quota completion"), MEMBER, quota_completion),
        Source("report_timeliness", _l("Important opinions reported in time"), MEMBER, report_timeliness),
        Source("rota_attendance", _l("Rota attendance"), MEMBER, rota_attendance),
    )
}


def source_choices():
    return [(s.key, s.title) for s in SOURCES.values()]
