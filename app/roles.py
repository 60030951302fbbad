"""The built-in roles' names and what IT staff read for roles and permissions (录入员, 诉求 · 督办)."""

from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l

ADMIN, CLERK, GRID_WORKER, LEADER, REPRESENTATIVE = (
    "Admin",
    "Clerk",
    "GridWorker",
    "Leader",
    "Representative",
)
ROLE_TITLES = {
    ADMIN: _l("IT administrator"),
    CLERK: _l("Clerk"),
    GRID_WORKER: _l("Grid worker"),
    LEADER: _l("Leader"),
    REPRESENTATIVE: _l("People's congress representative"),
}

# what each role may do, in the user form's help text
ROLE_DESCRIPTIONS = {
    ADMIN: _l("everything, users, roles, lookup lists and settings included"),
    CLERK: _l("registers and assigns appeals; keeps people, visits and representatives' records"),
    GRID_WORKER: _l("handles the appeals of their grids and records visits"),
    LEADER: _l("reads the jurisdiction, supervises appeals, decides on extensions, dashboard and audit trail"),
    REPRESENTATIVE: _l("their own mandate and records of contacts with voters"),
}

# the permission and resource names of the role screens, as IT staff read them
PERMISSION_TITLES = {
    "can_read": _l("read"),
    "can_write": _l("edit"),
    "can_assign": _l("assign"),
    "can_handle": _l("handle"),
    "can_evaluate": _l("evaluate"),
    "can_archive": _l("archive"),
    "can_supervise": _l("supervise"),
    "can_approve": _l("approve extensions"),
    "menu_access": _l("menu"),
    "can_list": _l("list"),
    "can_show": _l("show"),
    "can_add": _l("add"),
    "can_edit": _l("edit"),
    "can_delete": _l("delete"),
    "can_userinfo": _l("own user information"),
    "resetmypassword": _l("change own password"),
    "resetpasswords": _l("reset passwords"),
    "userinfoedit": _l("edit own information"),
    "can_this_form_get": _l("open"),
    "can_this_form_post": _l("save"),
    "can_compute": _l("compute"),
    "can_publish": _l("publish"),
    "can_restore": _l("restore"),
    "can_purge": _l("delete permanently"),
}
RESOURCE_TITLES = {
    "SensitiveData": _l("Full phone and ID numbers"),
    "Import": _l("Import from Excel"),
    "Grid": _l("Grid"),
    "Person": _l("Person"),
    "Post": _l("Post"),
    "Assignment": _l("Assignment"),
    "Lookup": _l("Lookup lists"),
    "Visit": _l("Visit"),
    "QuotaRule": _l("Visit quota rule"),
    "Rota": _l("Rota"),
    "Representative": _l("Representative"),
    "ContactRecord": _l("Contacts with voters"),
    "Appeal": _l("Appeal"),
    "Dashboard": _l("Dashboard"),
    "AuditLog": _l("Audit trail"),
    "MinqingUserView": _l("Users"),
    "MinqingRoleView": _l("Roles"),
    "ResetMyPasswordView": _l("Change own password"),
    "UserInfoEditView": _l("Edit own information"),
    "MinqingUserInfoEditView": _l("Edit own information"),
    "RegisterApi": _l("Register"),
    "MyWork": _l("My work"),
    "Assessment": _l("Assessment"),
    "AssessmentScheme": _l("Assessment scheme"),
    "Trash": _l("Recycle bin"),
}

EMAIL_DOMAIN = "minqing.local"  # FAB needs a unique e-mail: who leaves it empty gets <username>@minqing.local


def role_title(role):
    """录入员 for the role Clerk; a role IT staff created keeps its own name."""
    name = getattr(role, "name", role)
    if name == current_app.config["AUTH_ROLE_PUBLIC"]:
        return str(_l("Visitors not logged in"))
    return str(ROLE_TITLES.get(name, name))


def roles_text(roles):
    return "、".join(role_title(r) for r in roles or [])


def roles_help():
    return "；".join(f"{ROLE_TITLES[name]}：{ROLE_DESCRIPTIONS[name]}" for name in ROLE_TITLES)


def permission_title(pv):
    """诉求 · 督办 for can_supervise on Appeal (a menu entry by its menu label)."""
    perm, resource = pv.permission.name, pv.view_menu.name
    if perm == "menu_access":
        item = current_app.appbuilder.menu.find(resource)
        title = str(item.label) if item is not None and item.label else RESOURCE_TITLES.get(resource, resource)
    else:
        title = RESOURCE_TITLES.get(resource, resource)
    return f"{title} · {PERMISSION_TITLES.get(perm, perm)}"
