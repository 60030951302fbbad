"""Who may read which sensitive value (the declarations live on the models, see
app.core.sensitive), and the one function every rendering path calls: `reveal`.

* Personal numbers (PHONE, ID_NUMBER): the phones and ID numbers of reporters and
  people visited are shown in full only to roles holding the sensitive-data
  permission ("can_read on SensitiveData": clerks and grid workers, who call people
  back, and the administrator). Others (leaders, representatives) see 138****5678
  and 4101**********1234. Cadres' own phones are public by design (公示牌, 联系卡).
* Visit content (CONTENT): the 民情日记 rules (seed 001) say do not pry, do not
  disclose what was said in a visit, keep household information confidential. The
  situation, the problems raised and the phone of the person visited are shown in
  full only to users holding one of VISIT_CONTENT_ROLES (clerks, who type the paper
  logs, and leaders, who supervise what was raised) and to the visitors themselves
  and whoever recorded the visit. Everyone else sees "******".

Outside a request (the CLI, cron, a migration) there is no user to protect from.
"""

from __future__ import annotations

from flask import current_app, has_app_context, has_request_context
from flask_appbuilder import Model
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select

from app.core.sensitive import CONTENT, MARKS, MASK, NUMBER_KINDS, declared, mask, mask_id_number, mask_phone
from app.models.visits import Visit, visit_visitors
from app.services import scope as scope_mod

__all__ = ["MASK", "mask_id_number", "mask_phone"]

SENSITIVE_RESOURCE = "SensitiveData"
CONFIDENTIAL = tuple(c for c, kinds in declared(Visit).items() if CONTENT in kinds)


def content_roles():
    if not has_app_context():
        return ()
    return tuple(current_app.config.get("VISIT_CONTENT_ROLES", ()))


def can_see_personal_numbers():
    if not has_request_context():
        return True
    if scope_mod.current_user() is None:
        return False
    return current_app.appbuilder.sm.has_access("can_read", SENSITIVE_RESOURCE)


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


def own_visit_ids(session, visit_ids, scope):
    """Of `visit_ids`, those the user made or recorded (two queries, whatever the page size)."""
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


# --------------------------------------------------------------------------
# The one decision: may this user read this value of this record?
# --------------------------------------------------------------------------


class Reader:
    """What the current user may read, decided once per request (or per page of rows).

    `own` is the set of record ids whose CONTENT the user reads as theirs (their
    own visits); None means "look it up per record".
    """

    def __init__(self, scope=None):
        self.scope = scope if scope is not None else scope_mod.current()
        self.numbers = can_see_personal_numbers()
        self.all_content = sees_all_content(self.scope)
        self.own = None

    def prepare(self, session, model, ids):
        """Look up, in one or two queries, which of `ids` are the user's own (for CONTENT)."""
        if self.all_content or not any(CONTENT in k for k in declared(model).values()):
            return self
        if model is Visit:
            self.own = own_visit_ids(session, ids, self.scope)
        else:
            self.own = set()
        return self

    def may_read(self, kinds, item=None, item_id=None):
        if any(k in NUMBER_KINDS for k in kinds) and not self.numbers:
            return False
        if CONTENT in kinds and not self.all_content:
            if self.own is not None:
                return (item_id if item_id is not None else getattr(item, "id", None)) in self.own
            return isinstance(item, Visit) and is_own(self.scope, item)
        return True

    def show(self, model, column, value, item=None, item_id=None):
        """`value` of `model.column` as this user may see it."""
        kinds = declared(model).get(column)
        if not kinds or value in (None, "") or self.may_read(kinds, item, item_id):
            return value
        return mask(kinds, value)

    def hidden_columns(self, model):
        """Columns of `model` this user never reads in full (whatever the record): not searchable."""
        out = []
        for column, kinds in declared(model).items():
            if any(k in NUMBER_KINDS for k in kinds) and not self.numbers:
                out.append(column)
            elif CONTENT in kinds:
                out.append(column)  # content is never a search condition (it would reveal it)
        return out

    def mask_row(self, model, row, item_id=None):
        """Mask the sensitive keys of a serialized record (an API row) in place, related
        records included ({"grid": {"name": ...}} is judged on Grid's declarations)."""
        for column in declared(model):
            if column in row:
                row[column] = self.show(model, column, row[column], item_id=item_id)
        relationships = sa_inspect(model).relationships
        for key, value in row.items():
            if key in relationships and isinstance(value, dict):
                self.mask_row(relationships[key].mapper.class_, value, item_id=value.get("id", -1))
        return row

    def mask_changes(self, model, changes):
        """{field: [old, new]} with the sensitive fields masked (timeline, audit): those `model`
        declares, and those the trail marked sensitive when it wrote the row (MARKS)."""
        if not changes:
            return changes
        marked = {f: tuple(k) for f, k in (changes.get(MARKS) or {}).items()}
        known = {**marked, **(declared(model) if model is not None else {})}
        out = {}
        for field, pair in changes.items():
            if field == MARKS:
                continue
            kinds = known.get(field)
            if kinds and not self.may_read(kinds):
                pair = [mask(kinds, v) if v not in (None, "") else v for v in pair]
            out[field] = pair
        return out


def reveal(item, column, value=None):
    """The value of `item.column` as the current user may see it."""
    if value is None:
        value = getattr(item, column)
    return Reader().show(type(item), column, value, item=item)


def model_of_table(table_name):
    """The mapped class of a table name (the audit trail stores names), or None."""
    for mapper in Model.registry.mappers:
        if getattr(mapper.class_, "__tablename__", None) == table_name:
            return mapper.class_
    return None


def sensitive_models():
    """Every mapped model that declares sensitive columns (for tests and checks)."""
    return [m.class_ for m in Model.registry.mappers if declared(m.class_)]
