"""Reminders: open appeals overdue or due soon, grouped by handler, as text and mail
(`flask minqing remind`, meant for cron)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from flask import current_app
from flask_appbuilder.security.sqla.models import User
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.core.clock import today
from app.core.mail import send_mails
from app.models.appeals import (
    Appeal,
)
from app.models.personnel import Person
from app.services.appeals.deadlines import due_state, open_clause, soon_days
from app.services.appeals.steps import _handler_text


@dataclass
class ReminderGroup:
    """The overdue and due-soon appeals of one handler (or of a grid, while unassigned)."""

    title: str
    email: str | None
    items: list = field(default_factory=list)  # (appeal, "overdue" | "due_soon", days)


def reminders(session, on=None):
    """Open appeals that are overdue or due within APPEAL_DUE_SOON_DAYS, grouped by
    handler: the person (with the email of their login), else the unit, else
    "unassigned in <grid>". One query."""

    on = on or today()
    rows = session.execute(
        select(Appeal, User.email)
        .outerjoin(Person, Appeal.handler_person_id == Person.id)
        .outerjoin(User, Person.user_id == User.id)
        .where(open_clause(), Appeal.due_date <= on + dt.timedelta(days=soon_days()))
        .order_by(Appeal.due_date, Appeal.number_month, Appeal.number_seq)
    ).all()
    groups = {}
    for appeal, email in rows:
        if appeal.handler_person is not None:
            key = ("person", appeal.handler_person_id)
            title = _handler_text(appeal.handler_person, appeal.handler_unit)
        elif appeal.handler_unit:
            key, title, email = ("unit", appeal.handler_unit), appeal.handler_unit, None
        else:
            key = ("grid", appeal.grid_id)
            title = str(_l("Not yet assigned: %(grid)s", grid=appeal.grid.name))
            email = None
        group = groups.setdefault(key, ReminderGroup(title=title, email=email or None))
        state = due_state(appeal, on)
        group.items.append((appeal, state, (appeal.due_date - on).days))
    return sorted(groups.values(), key=lambda g: (-sum(1 for i in g.items if i[1] == "overdue"), g.title))


def _reminder_line(appeal, state, days):
    if state == "overdue":
        when = str(_l("overdue by %(n)s day(s)", n=-days))
    elif days == 0:
        when = str(_l("due today"))
    else:
        when = str(_l("due in %(n)s day(s)", n=days))
    summary = " ".join(appeal.content.split())[:40]
    return f"  {appeal.number}  {when}  {_l('Deadline')} {appeal.due_date.isoformat()}  {appeal.grid.name}  {appeal.reporter_name}：{summary}"


def reminder_texts(groups, on=None):
    """(the whole report, {group index: that group's text}) as plain text, for print and mail."""
    on = on or today()
    overdue = sum(1 for g in groups for item in g.items if item[1] == "overdue")
    soon = sum(1 for g in groups for item in g.items if item[1] != "overdue")
    head = str(_l("Appeal deadlines on %(date)s: %(overdue)s overdue, %(soon)s due soon.", date=on.isoformat(),
                  overdue=overdue, soon=soon))  # fmt: skip
    parts = [head]
    per_group = {}
    for index, group in enumerate(groups):
        title = group.title + (f" <{group.email}>" if group.email else "")
        lines = [f"== {title} =="] + [_reminder_line(*item) for item in group.items]
        per_group[index] = "\n".join(lines)
        parts.append(per_group[index])
    return "\n".join(parts), per_group


def send_reminders(groups, on=None):
    """Mail each handler with a login e-mail their own list, and the whole report to
    APPEAL_REMIND_SUMMARY_TO. Returns the number of mails sent (0 without MAIL_SERVER)."""

    on = on or today()
    report, per_group = reminder_texts(groups, on)
    messages = []
    for index, group in enumerate(groups):
        if group.email:
            overdue = sum(1 for item in group.items if item[1] == "overdue")
            subject = str(_l("Appeals to handle: %(overdue)s overdue, %(total)s in all", overdue=overdue,
                             total=len(group.items)))  # fmt: skip
            messages.append((group.email, subject, per_group[index]))
    for address in current_app.config.get("APPEAL_REMIND_SUMMARY_TO") or []:
        messages.append((address, str(_l("Appeal deadlines on %(date)s", date=on.isoformat())), report))
    return send_mails(messages)
