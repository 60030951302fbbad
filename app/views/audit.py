"""The audit trail, read-only: Admin sees all, Leaders the records of their grids."""

from flask import current_app, g
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from sqlalchemy import select

from app.core.sensitive import MARKS
from app.extensions import db
from app.models.audit import AuditLog
from app.models.mixins import LookupMixin
from app.models.registers import RegisterDef
from app.services.privacy import model_of_table
from app.views.scoped import ScopedInterface, ScopedModelView

# what the trail calls each table (a lookup list by its own title, a register by its name)
TABLE_TITLES = {
    "grid": _l("Grid"),
    "person": _l("Person"),
    "post": _l("Post"),
    "assignment": _l("Assignment"),
    "visit": _l("Visit"),
    "quota_rule": _l("Visit quota rule"),
    "appeal": _l("Appeal"),
    "appeal_event": _l("Appeal step"),
    "constituency": _l("Constituency"),
    "representative": _l("Representative"),
    "contact_record": _l("Contacts with voters"),
    "setting": _l("System settings"),
    "ab_user": _l("User"),
    "ab_role": _l("Role"),
    "register_def": _l("Register design"),
    "register_field": _l("Register field"),
    "choice_list": _l("Choice list"),
    "choice_value": _l("Choice value"),
    "person_kind_change": _l("Person kind change"),
    "attachment": _l("Photos and files"),
}

# fields no form labels (or labelled alike everywhere)
COMMON_FIELDS = {
    "name": _l("Name"),
    "active": _l("Active"),
    "sort_order": _l("Sort order"),
    "rank": _l("Rank"),
    "code": _l("Code"),
    "note": _l("Note"),
    "deleted_at": _l("Deleted at"),
    "created_at": _l("Created on"),
    "grid_id": _l("Grid"),
    "username": _l("User name"),
    "first_name": _l("Full name"),
    "email": _l("Email"),
    "action": _l("Step"),
    "at": _l("Time"),
}

ACTION_TITLES = {
    "insert": _l("Created"),
    "update": _l("Changed"),
    "delete": _l("Deleted"),
    "restore": _l("Restored"),
    "purge": _l("Permanently deleted"),
    "login": _l("Logged in"),
    "login_failed": _l("Login failed"),
    "export": _l("Exported"),
    "import": _l("Imported"),
    "prune": _l("Old entries deleted"),
}


def action_title(value):
    return str(ACTION_TITLES.get(value, value or ""))


def table_title(value):
    """诉求, 走访记录, 人员 ... for a table name; a register's entries by the register's name."""
    if not value:
        return ""
    if value in TABLE_TITLES:
        return str(TABLE_TITLES[value])
    model = model_of_table(value)
    if model is not None and issubclass(model, LookupMixin):
        return str(model.lookup_title)
    if value.startswith("reg_"):
        names = g.setdefault("_minqing_register_names", {})
        if value not in names:
            names[value] = db.session.scalar(select(RegisterDef.name).where(RegisterDef.code == value[4:]))
        return names[value] or value
    return value


def field_labels(table_name):
    """{column: label} as the forms of the table's model label them (the views' own
    translated labels, not FAB's English guesses), a relation's label for its `<x>_id`."""
    cache = current_app.extensions.setdefault("minqing_audit_labels", {})
    if table_name in cache:
        return cache[table_name]
    labels = dict(COMMON_FIELDS)  # lazy: each request reads them in its own language
    model = model_of_table(table_name)
    for view in current_app.appbuilder.baseviews:
        datamodel = getattr(view, "datamodel", None)
        if model is None or getattr(datamodel, "obj", None) is not model:
            continue
        for column, label in (getattr(view, "label_columns", None) or {}).items():
            if isinstance(label, LazyString) and "." not in column:
                labels[column] = label
    for column, label in list(labels.items()):
        labels.setdefault(f"{column}_id", label)
    cache[table_name] = labels
    return labels


def labelled_changes(table_name, changes):
    """The changes with each field as the form labels it (MARKS kept for masking)."""
    labels = field_labels(table_name)
    return {key if key == MARKS else str(labels.get(key, key)): value for key, value in changes.items()}


def _value_text(value):
    if value is None:
        return "∅"
    if isinstance(value, bool):
        return str(_l("Yes") if value else _l("No"))
    return value


def changes_text(value):
    if not value:
        return ""
    return "\n".join(
        f"{field}: {_value_text(old)} → {_value_text(new)}" for field, (old, new) in value.items() if field != MARKS
    )


class AuditInterface(ScopedInterface):
    """The trail's changes are masked as the changed record's own fields would be."""

    def _revealed(self, reader, item, column, value):
        if column == "changes" and isinstance(value, dict):
            return labelled_changes(item.table_name, reader.mask_changes(model_of_table(item.table_name), value))
        return super()._revealed(reader, item, column, value)


class AuditLogView(ScopedModelView):
    datamodel = AuditInterface(AuditLog)
    resource = "AuditLog"
    route_base = "/audit"
    list_title = show_title = _l("Audit trail")
    label_columns = {
        "at": _l("Time"),
        "username": _l("User"),
        "ip": _l("Address"),
        "action": _l("Action"),
        "table_name": _l("Table"),
        "record_id": _l("Record"),
        "summary": _l("Summary"),
        "changes": _l("Changes"),
        "grid_id": _l("Grid"),
    }
    list_columns = ["at", "username", "ip", "action", "table_name", "record_id", "summary"]
    show_columns = ["at", "username", "ip", "action", "table_name", "record_id", "grid_id", "summary", "changes"]
    search_columns = ["at", "username", "ip", "action", "table_name", "record_id"]
    formatters_columns = {"action": action_title, "changes": changes_text, "table_name": table_title}
    base_order = ("at", "desc")
    base_permissions = ["can_read"]
    include_route_methods = {"list", "show", "export"}
