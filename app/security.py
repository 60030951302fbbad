"""Security: the roles MinQing ships, their permissions, and the user ↔ person link.

Permissions are `can_read` / `can_write` (and a few named extras) on one
resource per domain noun, shared by the HTML views and the REST API. The five
built-in roles are synced to ROLE_GRANTS by `flask minqing init`; IT staff who
want a different mix create a new role in 安全 › 角色列表 rather than editing
these, since init restores them.
"""

from __future__ import annotations

import logging
import secrets as _secrets

from flask import current_app, g, has_request_context, request, session
from flask_appbuilder.api import safe
from flask_appbuilder.fields import QuerySelectMultipleField
from flask_appbuilder.fieldwidgets import BS3TextFieldWidget, Select2ManyWidget
from flask_appbuilder.security.api import SecurityApi
from flask_appbuilder.security.decorators import limit
from flask_appbuilder.security.forms import UserInfoEdit
from flask_appbuilder.security.sqla.models import (
    Group,
    Permission,
    PermissionView,
    Role,
    ViewMenu,
    assoc_permissionview_role,
)
from flask_appbuilder.security.views import RoleModelView, UserDBModelView, UserInfoEditView
from flask_appbuilder.views import expose
from flask_appbuilder.widgets import ListWidget, ShowWidget
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from flask_limiter.util import get_remote_address
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from wtforms import StringField
from wtforms.validators import DataRequired, Email, Optional

from app.extensions import db
from app.models.personnel import Person
from app.roles import (  # noqa: F401 (the role names are imported from here across the app)
    ADMIN,
    CLERK,
    EMAIL_DOMAIN,
    GRID_WORKER,
    LEADER,
    REPRESENTATIVE,
    ROLE_DESCRIPTIONS,
    ROLE_TITLES,
    permission_title,
    role_title,
    roles_help,
    roles_text,
)
from app.services import ratelimit  # noqa: F401 (registers the minqing+db:// login counter storage)
from app.services.audit import log_event
from app.services.registers.runtime import REGISTER_MENU_PREFIX, REGISTER_RESOURCE_PREFIX, register_menu_resources
from app.views.fab_compat import CompatSecurityManager
from app.views.pickers import AjaxSelectField
from app.views.scoped import yes_no

log = logging.getLogger(__name__)

R, W = "read", "write"

# role -> {resource: permissions}. Admin holds every permission (FAB's admin role).
ROLE_GRANTS = {
    CLERK: {
        "MyWork": {R},  # 我的工作
        "SensitiveData": {R},  # reporters' and visited people's phones and ID numbers in full
        "Import": {R},
        "Grid": {R, W},
        "Person": {R, W},
        "Post": {R},
        "Assignment": {R, W},
        "Lookup": {R},
        "Visit": {R, W},
        "QuotaRule": {R},  # the rules and the progress report; only Admin edits rules
        "Rota": {R, W},  # rotas and their slots (the kinds' minimums are the Admin's lookup lists)
        "Representative": {R, W},  # representatives and constituencies
        "ContactRecord": {R, W},  # clerks type the paper record books in their jurisdiction
        # appeals: register and correct, assign, handle, record evaluations, archive
        "Appeal": {R, W, "assign", "handle", "evaluate", "archive"},
        "Assessment": {R, W},  # the assessor's entries (review meeting votes, manual points)
        "AssessmentScheme": {R},
    },
    GRID_WORKER: {
        "MyWork": {R},
        "SensitiveData": {R},  # they call people back
        "Grid": {R},
        "Person": {R},
        "Post": {R},
        "Assignment": {R},
        "Lookup": {R},
        "Visit": {R, W},
        "QuotaRule": {R},
        "Rota": {R},
        # appeals in their own grids: register, handle, give feedback, record evaluations
        "Appeal": {R, W, "handle", "evaluate"},
    },
    LEADER: {
        "MyWork": {R},
        "Dashboard": {R},  # the dashboard and the accountability table of their jurisdiction
        "AuditLog": {R},
        "Grid": {R},
        "Person": {R},
        "Post": {R},
        "Assignment": {R},
        "Lookup": {R},
        "Visit": {R},
        "QuotaRule": {R},
        "Rota": {R},
        "Representative": {R},
        "ContactRecord": {R},
        # appeals: read, supervise (督办), decide on extensions; no editing
        "Appeal": {R, "supervise", "approve"},
        # 百分制考核 of their jurisdiction: entries, 计算 and 发布; only Admin edits the scheme
        "Assessment": {R, W, "compute", "publish"},
        "AssessmentScheme": {R},
    },
    REPRESENTATIVE: {
        "MyWork": {R},
        "Grid": {R},
        "Lookup": {R},
        # only their own mandate and records (REPRESENTATIVE_OWN_ONLY_ROLES)
        "Representative": {R},
        "ContactRecord": {R, W},
    },
}


def _pk(obj):
    return obj.id


def _assignable_roles():
    """Every role but Public (the anonymous visitor's, never a login's)."""
    return db.session.query(Role).filter(Role.name != current_app.config["AUTH_ROLE_PUBLIC"]).order_by(Role.id)


def _all_permissions():
    return db.session.query(PermissionView).order_by(PermissionView.view_menu_id, PermissionView.permission_id)


# permissions no view declares: the code asks for them (privacy.can_see_personal_numbers)
VIRTUAL_PERMISSIONS = [("can_read", "SensitiveData")]

# resources whose menu entries only those who may change them get: the lookup tables are read by
# everyone through the forms' choices, but a menu of eight lists nobody but IT staff edits is noise
MENU_FOR_WRITERS = {"Lookup"}

# what every signed-in user may do with their own account
SELF_SERVICE = [
    # the user view registered is MinqingUserView: its permissions carry its own name
    ("can_userinfo", "MinqingUserView"),
    ("resetmypassword", "MinqingUserView"),
    ("userinfoedit", "MinqingUserView"),
    ("can_this_form_get", "ResetMyPasswordView"),
    ("can_this_form_post", "ResetMyPasswordView"),
    ("can_this_form_get", "MinqingUserInfoEditView"),
    ("can_this_form_post", "MinqingUserInfoEditView"),
    ("can_get", "OpenApi"),  # the API description (it holds no data)
    ("can_show", "SwaggerView"),
    ("can_read", "RegisterApi"),  # the list of registers (each register's own permission decides the rest)
]


class MinqingUserView(UserDBModelView):
    """FAB's user list, plus the person (人员) each login belongs to.

    The person's current grid assignments give the user's data scope. One 姓名 (FAB's
    first_name; last_name kept empty), roles by their Chinese titles (Public left out), the
    e-mail optional, no groups, no LDAP/OID hints.
    """

    list_title = _l("List Users")
    show_title = _l("Show user")
    add_title = _l("Add user")
    edit_title = _l("Edit user")
    user_info_title = _l("Your user information")
    label_columns = {
        "first_name": _l("Full name"),
        "username": _l("User name"),
        "password": _l("Password"),
        "conf_password": _l("Confirm password"),
        "active": _l("Active"),
        "email": _l("Email"),
        "roles": _l("Role"),
        "last_login": _l("Last login"),
        "login_count": _l("Login count"),
        "fail_login_count": _l("Failed logins"),
        "created_on": _l("Created on"),
        "changed_on": _l("Changed on"),
        "created_by": _l("Created by"),
        "changed_by": _l("Changed by"),
    }
    description_columns = {
        "first_name": _l("The person's full name, as the menu bar greets them."),
        "username": _l("The name used to log in."),
        "active": _l("A user who left is made inactive rather than deleted."),
        "email": _l("Optional. Left empty, <user name>@minqing.local is stored (the system needs a unique address)."),
        "roles": LazyString(roles_help),
    }
    list_columns = ["first_name", "username", "email", "active", "roles"]
    search_columns = ["first_name", "username", "email", "active", "roles", "last_login"]
    add_columns = ["first_name", "username", "active", "email", "roles", "password", "conf_password"]
    edit_columns = ["first_name", "username", "active", "email", "roles"]
    show_fieldsets = [
        (_l("User info"), {"fields": ["first_name", "username", "active", "roles", "email", "login_count"]}),
        (
            _l("Audit info"),
            {"fields": ["last_login", "fail_login_count", "created_on", "changed_on"], "expanded": False},
        ),
    ]
    user_show_fieldsets = [(_l("User info"), {"fields": ["first_name", "username", "roles", "email"]})]
    validators_columns = {}  # FAB's asks for roles or groups; groups are not used
    formatters_columns = {"roles": roles_text, "active": yes_no}

    def _roles_field(self):
        return QuerySelectMultipleField(
            _l("Role"),
            query_func=_assignable_roles,
            get_pk_func=_pk,
            get_label=role_title,
            widget=Select2ManyWidget(),
            validators=[DataRequired()],
            description=LazyString(roles_help),
        )

    def _email_field(self):
        return StringField(
            _l("Email"),
            validators=[Optional(), Email()],
            widget=BS3TextFieldWidget(),
            description=self.description_columns["email"],
        )

    def _person_field(self):

        return AjaxSelectField(
            _l("Person"),
            kind="person",
            description=_l("The person this login belongs to: their grid assignments give the data scope."),
        )

    def __init__(self, **kwargs):
        self.add_form_extra_fields = dict(self.add_form_extra_fields or {})
        self.edit_form_extra_fields = dict(self.edit_form_extra_fields or {})
        for extra in (self.add_form_extra_fields, self.edit_form_extra_fields):
            extra["person"] = self._person_field()
            extra["roles"] = self._roles_field()
            extra["email"] = self._email_field()
        self.add_columns = list(self.add_columns) + ["person"]
        self.edit_columns = list(self.edit_columns) + ["person"]
        super().__init__(**kwargs)

    def prefill_form(self, form, pk):

        form.person.data = db.session.scalar(select(Person).where(Person.user_id == int(pk)))

    def process_form(self, form, is_created):
        g._minqing_person = form.person.data
        del form.person

    def pre_add(self, item):
        complete_user(item)
        super().pre_add(item)  # FAB hashes the password here

    def pre_update(self, item):
        complete_user(item)
        super().pre_update(item)

    def post_add(self, item):
        link_person(db.session, item, g.pop("_minqing_person", None))

    def post_update(self, item):
        link_person(db.session, item, g.pop("_minqing_person", None))


def complete_user(user):
    """One 姓名 (last_name kept empty, FAB requires it) and a placeholder e-mail when none is given."""
    user.first_name = (user.first_name or "").strip()
    user.last_name = ""
    if not (user.email or "").strip():
        user.email = f"{user.username}@{EMAIL_DOMAIN}"


class MinqingUserInfoEdit(UserInfoEdit):
    """The self-service form: one 姓名."""

    first_name = StringField(_l("Full name"), validators=[DataRequired()], widget=BS3TextFieldWidget())
    last_name = None


class MinqingUserInfoEditView(UserInfoEditView):
    form = MinqingUserInfoEdit
    form_title = _l("Edit your information")
    message = _l("Your information was saved.")


class MinqingRoleView(RoleModelView):
    """Roles by their Chinese titles, permissions as 诉求 · 督办 rather than can_supervise on Appeal."""

    list_title = _l("List Roles")
    show_title = _l("Show role")
    add_title = _l("Add role")
    edit_title = _l("Edit role")
    list_widget = ListWidget  # FAB's role widgets print the raw names
    show_widget = ShowWidget
    label_columns = {"name": _l("Role"), "permissions": _l("Permissions")}
    list_columns = ["name"]
    search_columns = ["name"]
    formatters_columns = {
        "name": role_title,
        "permissions": lambda pvs: "、".join(permission_title(pv) for pv in pvs or []),
    }
    edit_form_extra_fields = add_form_extra_fields = {
        "permissions": QuerySelectMultipleField(
            _l("Permissions"),
            query_func=_all_permissions,
            get_pk_func=_pk,
            get_label=permission_title,
            widget=Select2ManyWidget(),
        )
    }


def link_person(session, user, person):
    """Make `person` the one person of `user` (or unlink when person is None)."""

    for other in session.scalars(select(Person).where(Person.user_id == user.id)):
        if person is None or other.id != person.id:
            other.user_id = None
    if person is not None:
        person.user_id = user.id
    session.commit()


def _login_limit():
    return current_app.config["AUTH_RATE_LIMIT"]


class MinqingSecurityApi(SecurityApi):
    """FAB's /api/v1/security/login, rate-limited like the web form (FAB leaves it open)."""

    @expose("/login", methods=["POST"])
    @limit(_login_limit, key_func=get_remote_address, methods=["POST"])
    @safe
    def login(self):
        """Log in: a JWT access token (and a refresh token when asked).
        ---
        post:
          description: Authenticate and get a JWT access token (and a refresh token with refresh true).
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  required: [username, password, provider]
                  properties:
                    username: {type: string, example: clerk}
                    password: {type: string, example: complex-password}
                    provider: {type: string, enum: [db]}
                    refresh: {type: boolean}
          responses:
            200:
              description: Logged in
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      access_token: {type: string}
                      refresh_token: {type: string}
            400:
              $ref: '#/components/responses/400'
            401:
              $ref: '#/components/responses/401'
            429:
              description: Too many login attempts from this address (AUTH_RATE_LIMIT)
        """
        return super().login()


ACCESS_ANSWERS = "minqing.access"  # the WSGI environ's {(user id, permission, view): answer} of a page request


class MinqingSecurityManager(CompatSecurityManager):
    userdbmodelview = MinqingUserView
    rolemodelview = MinqingRoleView
    userinfoeditview = MinqingUserInfoEditView
    security_api = MinqingSecurityApi
    # FAB's "User's Statistics" chart loads Google Charts from the internet (an intranet has none)
    # and shows nothing IT staff need: not registered
    userstatschartview = None

    def add_permissions_view(self, base_permissions, view_menu):
        """Several views guard one resource (an assessment's rounds with compute and publish, its
        entries, its API; the recycle bin's pages), and a menu may bear a resource's name: FAB
        syncs each view's permissions on its own and takes away what that view does not declare —
        the other views' permissions and the menu's menu_access (refused with a warning on every
        `init` while a role holds them; deleted once none does). Each view is synced with what
        every registered view of the resource declares, and menu_access where a menu has the name."""
        declared = set(base_permissions or ())
        for view in self.appbuilder.baseviews:
            if getattr(view, "class_permission_name", None) == view_menu:
                declared.update(view.base_permissions or ())
        if view_menu in {name for name, _ in _menu_resources(self.appbuilder)}:
            declared.add("menu_access")
        return super().add_permissions_view(sorted(declared), view_menu)

    def get_user_by_id(self, pk):
        """The user with their roles and groups (and the groups' roles) in one statement: every
        request loads its user (Flask-Login) and then asks for the roles (three statements in FAB)."""
        return self.session.get(
            self.user_model,
            pk,
            options=[joinedload(self.user_model.roles), joinedload(self.user_model.groups).joinedload(Group.roles)],
        )

    def permission_pairs(self, role_ids):
        """(permission, view menu) names granted to any of the roles, in one query."""

        return self.session.execute(
            select(Permission.name, ViewMenu.name)
            .join(PermissionView, PermissionView.permission_id == Permission.id)
            .join(ViewMenu, PermissionView.view_menu_id == ViewMenu.id)
            .join(assoc_permissionview_role, assoc_permissionview_role.c.permission_view_id == PermissionView.id)
            .where(assoc_permissionview_role.c.role_id.in_(role_ids))
        ).all()

    def has_access(self, permission_name, view_name):
        """Within a page request each question is answered once for its user (a list page asks
        about 13, seven of them whether the user may read personal numbers); nothing is kept
        beyond the request. The API (tokens, API keys) asks FAB each time."""
        user = g.get("_login_user") if has_request_context() else None
        if user is None or not user.is_authenticated or request.path.startswith("/api/"):
            return self.access_now(permission_name, view_name)
        answers = request.environ.setdefault(ACCESS_ANSWERS, {})
        key = (user.id, permission_name, view_name)
        found = answers.get(key)
        if found is None:
            found = answers[key] = self.access_now(permission_name, view_name)
        return found

    def access_now(self, permission_name, view_name):
        """A register's menu entry (and its group) opens for whoever may read the register:
        their grants are edited once, as can_read, not twice."""
        if permission_name == "menu_access" and view_name.startswith(REGISTER_RESOURCE_PREFIX):
            return super().has_access("can_read", view_name)
        if permission_name == "menu_access" and view_name.startswith(REGISTER_MENU_PREFIX):
            return any(super(MinqingSecurityManager, self).has_access("can_read", resource)
                       for resource in register_menu_resources(view_name))  # fmt: skip
        return super().has_access(permission_name, view_name)

    def auth_user_db(self, username, password):
        """FAB's password check, with every success and failure on the audit trail."""

        user = super().auth_user_db(username, password)
        try:
            if user is None:
                log_event(self.session, "login_failed", username=(username or "")[:128])
            else:
                log_event(self.session, "login", user=user)
        except Exception:  # the trail must never block a login
            log.exception("could not write the login to the audit trail")
            self.session.rollback()
        return user


WEAK_SECRETS = {"", "changeme", "secret", "dev", "development", "test"}


def check_production_settings(app):
    """Refuse to start in production with a secret anyone could guess."""
    if not app.config.get("ENV_PRODUCTION"):
        return
    key = app.config.get("SECRET_KEY") or ""
    if app.config.get("_SECRET_KEY_GENERATED") or key.lower() in WEAK_SECRETS or len(key) < 32:
        raise RuntimeError(
            "ENV_PRODUCTION is on but SECRET_KEY is missing, a default or shorter than 32 characters: "
            "set SECRET_KEY to a long random value (python -c 'import secrets; print(secrets.token_hex(32))'). "
            "生产模式下必须设置至少32位的随机 SECRET_KEY。"
        )


def init_web_security(app):
    """CSP with per-request nonces (FAB's templates carry them), framing and sniffing off."""

    @app.before_request
    def _nonce():
        g.csp_nonce = _secrets.token_urlsafe(16)
        # the login cookie expires after PERMANENT_SESSION_LIFETIME without activity
        # (refreshed on each request); FAB leaves it a browser-session cookie
        session.permanent = True

    app.jinja_env.globals["csp_nonce"] = lambda: g.get("csp_nonce", "")

    @app.after_request
    def _headers(response):
        nonce = g.get("csp_nonce", "")
        csp = app.config.get("CONTENT_SECURITY_POLICY")
        if csp:
            response.headers.setdefault("Content-Security-Policy", csp.format(nonce=nonce))
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response


def sync_roles(appbuilder):
    """Create the permissions of every registered view, then set each built-in role
    to exactly ROLE_GRANTS (plus self-service and the menus it can open)."""
    sm = appbuilder.sm
    admin = sm.add_role(current_app.config["AUTH_ROLE_ADMIN"])
    sm.add_role(current_app.config["AUTH_ROLE_PUBLIC"])
    appbuilder.add_permissions(update_perms=True)
    for perm, resource in VIRTUAL_PERMISSIONS:  # checked in code, not by any view
        pv = sm.add_permission_view_menu(perm, resource)
        sm.add_permission_role(admin, pv)
    session = sm.session
    readable_menus = _menu_resources(appbuilder)
    for role_name, grants in ROLE_GRANTS.items():
        role = sm.find_role(role_name) or sm.add_role(role_name)
        wanted = []
        for resource, perms in grants.items():
            for perm in sorted(perms):
                pv = sm.find_permission_view_menu(f"can_{perm}", resource)
                if pv is None:
                    log.warning("permission can_%s on %s does not exist", perm, resource)
                    continue
                wanted.append(pv)
        for perm, view in SELF_SERVICE:
            pv = sm.find_permission_view_menu(perm, view)
            if pv is not None:
                wanted.append(pv)
        for menu_name, resource in readable_menus:
            needed = W if resource in MENU_FOR_WRITERS else R
            if resource is None or needed in grants.get(resource, set()):
                pv = sm.find_permission_view_menu("menu_access", menu_name)
                if pv is not None:
                    wanted.append(pv)
        kept = [pv for pv in role.permissions if pv.view_menu.name.startswith(REGISTER_RESOURCE_PREFIX)]
        role.permissions = list(dict.fromkeys(wanted + kept))
    admin = sm.find_role(current_app.config["AUTH_ROLE_ADMIN"])
    session.commit()
    return admin


def _menu_resources(appbuilder):
    """(menu item name, resource it opens) for items and (category, None-if-any-open)."""
    out = []
    for category in appbuilder.menu.get_list():
        child_resources = []
        for item in category.childs:
            if item.name == "-":
                continue
            resource = getattr(item.baseview, "class_permission_name", None) if item.baseview else None
            if resource is None and getattr(item, "resource", None):
                resource = item.resource
            out.append((item.name, resource))
            child_resources.append(resource)
        if category.childs:
            for resource in set(child_resources):
                out.append((category.name, resource))
        else:
            resource = getattr(category.baseview, "class_permission_name", None) if category.baseview else None
            out.append((category.name, resource))
    return out
