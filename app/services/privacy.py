"""Who may read what a household told a visitor.

The 民情日记 rules (seed 001) say: do not pry, do not disclose what was said in a
visit, keep household information confidential. So the situation, the problems
raised and the phone of the person visited are shown in full only to

* users holding one of the roles in VISIT_CONTENT_ROLES (by default clerks, who
  type the paper logs, and leaders, who supervise what was raised), and
* the visitors themselves and whoever recorded the visit.

Everyone else who may read the visit (a grid worker reading a colleague's log,
the IT administrator) sees "******" and a phone like 138****5678. Lists, pages,
the print and the API all go through `shown()` / `mask_api_rows()`; a user who
cannot see a visit's content cannot edit it either (the form would show it).
"""

from flask import current_app, has_app_context
from sqlalchemy import select

from app.services import scope as scope_mod

CONFIDENTIAL = ("situation", "problems", "visited_phone")
MASK = "******"


def content_roles():
    if not has_app_context():
        return ()
    return tuple(current_app.config.get("VISIT_CONTENT_ROLES", ()))


def sees_all_content(scope):
    """Whether the user reads every visit's content in their scope."""
    if scope.all and scope.user_id is None:
        return True  # no user at all: the CLI, a migration, a cron job
    return scope.has_role(*content_roles())


def is_own(scope, visit):
    if scope.user_id is not None and visit.recorded_by_id == scope.user_id:
        return True
    return scope.person_id is not None and any(p.id == scope.person_id for p in visit.visitors)


def can_see_visit_content(scope, visit=None):
    if sees_all_content(scope):
        return True
    return visit is not None and is_own(scope, visit)


def mask_text(value):
    return MASK if value else value


def mask_phone(value):
    """13812345678 -> 138****5678; 0371-66668888 -> 037******8888."""
    if not value:
        return value
    value = str(value)
    if len(value) < 8:
        return "*" * (len(value) - 2) + value[-2:]
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask(field, value):
    return mask_phone(value) if field == "visited_phone" else mask_text(value)


def shown(visit, field, scope=None):
    """The value of a confidential field of `visit` as the current user may see it."""
    value = getattr(visit, field)
    if not value:
        return value
    scope = scope if scope is not None else scope_mod.current()
    if field == "visited_phone" and not can_see_personal_numbers():
        return mask_phone(value)
    return value if can_see_visit_content(scope, visit) else mask(field, value)


# --------------------------------------------------------------------------
# Personal numbers: the phones and ID numbers of reporters and people visited
# are shown in full only to roles holding the sensitive-data permission
# ("can_read on SensitiveData": clerks and grid workers, who call people back,
# and the administrator). Others (leaders, representatives) see 138****5678
# and 4101**********1234, in lists, pages, prints, exports and the API.
# Cadres' own phones are public by design (公示牌, 联系卡) and not masked.
# --------------------------------------------------------------------------

SENSITIVE_RESOURCE = "SensitiveData"


def can_see_personal_numbers():
    from flask import has_request_context

    if not has_request_context():
        return True  # the CLI, cron, a migration: no user to protect from
    if scope_mod.current_user() is None:
        return False
    return current_app.appbuilder.sm.has_access("can_read", SENSITIVE_RESOURCE)


def mask_id_number(value):
    """410101198001011234 -> 4101**********1234."""
    if not value:
        return value
    value = str(value)
    if len(value) < 10:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def personal_phone(value):
    return value if not value or can_see_personal_numbers() else mask_phone(value)


def personal_id(value):
    return value if not value or can_see_personal_numbers() else mask_id_number(value)


def mask_personal_rows(rows, phones=(), ids=()):
    """Mask personal numbers in serialized rows (REST API results) in place."""
    if can_see_personal_numbers():
        return
    for row in rows:
        for key in phones:
            if row.get(key):
                row[key] = mask_phone(row[key])
        for key in ids:
            if row.get(key):
                row[key] = mask_id_number(row[key])


def own_visit_ids(session, visit_ids, scope):
    """Of `visit_ids`, those the user made or recorded (two queries, whatever the page size)."""
    from app.models.visits import Visit, visit_visitors

    ids = [i for i in visit_ids if i is not None]
    if not ids:
        return set()
    own = set()
    if scope.user_id is not None:
        own |= set(session.scalars(select(Visit.id).where(Visit.id.in_(ids), Visit.recorded_by_id == scope.user_id)))
    if scope.person_id is not None:
        own |= set(
            session.scalars(
                select(visit_visitors.c.visit_id).where(
                    visit_visitors.c.visit_id.in_(ids), visit_visitors.c.person_id == scope.person_id
                )
            )
        )
    return own


def mask_api_rows(session, rows, ids, scope=None):
    """Mask the confidential fields of serialized visits (REST API results) in place."""
    scope = scope if scope is not None else scope_mod.current()
    mask_personal_rows(rows, phones=("visited_phone",))
    if sees_all_content(scope):
        return
    own = own_visit_ids(session, ids, scope)
    for pk, row in zip(ids, rows, strict=False):
        if pk in own:
            continue
        for field in CONFIDENTIAL:
            if row.get(field):
                row[field] = mask(field, row[field])
