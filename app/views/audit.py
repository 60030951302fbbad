"""The audit trail, read-only: Admin sees all, Leaders the records of their grids."""

from flask_babel import lazy_gettext as _l

from app.core.sensitive import MARKS
from app.models.audit import AuditLog
from app.services.privacy import model_of_table
from app.views.scoped import ScopedInterface, ScopedModelView

ACTION_TITLES = {
    "insert": _l("Created"),
    "update": _l("Changed"),
    "delete": _l("Deleted"),
    "restore": _l("Restored"),
    "login": _l("Logged in"),
    "login_failed": _l("Login failed"),
    "export": _l("Exported"),
    "import": _l("Imported"),
}


def action_title(value):
    return str(ACTION_TITLES.get(value, value or ""))


def changes_text(value):
    if not value:
        return ""
    return "\n".join(
        f"{field}: {old if old is not None else '∅'} → {new if new is not None else '∅'}"
        for field, (old, new) in value.items()
        if field != MARKS
    )


class AuditInterface(ScopedInterface):
    """The trail's changes are masked as the changed record's own fields would be."""

    def _revealed(self, reader, item, column, value):
        if column == "changes" and isinstance(value, dict):
            return reader.mask_changes(model_of_table(item.table_name), value)
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
    formatters_columns = {"action": action_title, "changes": changes_text}
    base_order = ("at", "desc")
    base_permissions = ["can_read"]
    include_route_methods = {"list", "show", "export"}
