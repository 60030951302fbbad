"""系统参数: the Admin changes the rule numbers of app.services.settings in the browser, a group at
a time, and puts a value back to its default. Every problem of a group is shown at its field."""

from __future__ import annotations

import functools

from flask import abort, flash, redirect, request, url_for
from flask_appbuilder import BaseView
from flask_appbuilder.forms import DynamicForm
from flask_appbuilder.security.decorators import has_access
from flask_appbuilder.views import expose
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import BooleanField, SelectField, StringField, TextAreaField

from app.core.uow import unit_of_work
from app.extensions import db
from app.services import settings as settings_service
from app.services.settings import BOOL, CHOICE, LIST
from app.views.jobs import flash_found_job

RESOURCE = "Setting"
EXPIRED = _l("The form has expired. Please try again.")


def _field(spec):
    if spec.kind == BOOL:
        return BooleanField(spec.label, description=spec.help)
    if spec.kind == CHOICE:
        return SelectField(spec.label, choices=list(spec.choices), description=spec.help, validate_choice=False)
    if spec.kind == LIST:
        return TextAreaField(spec.label, description=spec.help, render_kw={"rows": 3})
    return StringField(spec.label, description=spec.help)


def group_form(group, items, formdata=None):
    """The form of one group: a field per setting named by its key (the service's errors land
    there), filled with the values in force unless `formdata` (a POST) is given."""
    form_class = type(f"SettingsForm_{group}", (DynamicForm,), {i.spec.key: _field(i.spec) for i in items})
    data = {item.spec.key: item.spec.text(item.value) for item in items}
    return form_class(formdata=formdata, data=data)


def _posted(form, items):
    """{key: value} of the fields the request carried (a box left unticked carries nothing)."""
    return {i.spec.key: form[i.spec.key].data for i in items if i.spec.key in request.form or i.spec.kind == BOOL}


def refused_with_403(method):
    """A signed-in user without the permission gets 403 (FAB would send them to the login page)."""

    @functools.wraps(method)
    def guarded(self, *args, **kwargs):
        permission = f"can_{self.method_permission_name[method.__name__]}"
        if current_user.is_authenticated and not self.appbuilder.sm.has_access(permission, RESOURCE):
            abort(403)
        return method(self, *args, **kwargs)

    return guarded


class SettingsView(BaseView):
    route_base = "/settings"
    default_view = "index"
    class_permission_name = RESOURCE
    method_permission_name = {"index": "read", "save": "write", "reset": "write"}

    def _page(self, bound=None):
        """The page; `bound` is (group, form) of a group posted with errors."""
        groups = []
        for group, title, items in settings_service.listing(db.session):
            if bound is not None and bound[0] == group:
                form = bound[1]
            else:
                form = group_form(group, items)
            groups.append({"code": group, "title": title, "items": items, "form": form})
        return self.render_template("minqing/settings.html", title=_l("System settings"), groups=groups)

    @expose("/")
    @refused_with_403
    @has_access
    def index(self):
        return self._page()

    @expose("/save/<group>", methods=["POST"])
    @refused_with_403
    @has_access
    def save(self, group):
        items = next((items for code, _title, items in settings_service.listing(db.session) if code == group), None)
        if items is None:
            abort(404)
        form = group_form(group, items, formdata=request.form)
        if not form.validate():
            flash(str(EXPIRED), "danger")
            return redirect(url_for(".index"))
        changed = []
        with unit_of_work(form=form) as work:
            changed = settings_service.save(db.session, _posted(form, items))
        if work.failed:
            return self._page(bound=(group, form))  # the group as typed, each error at its field
        if changed:
            labels = "、".join(str(settings_service.SPECS[key].label) for key in changed)
            flash(str(_l("Saved, in force on every server at once: %(names)s", names=labels)), "success")
            flash_found_job()
        else:
            flash(str(_l("Nothing was changed.")), "info")
        return redirect(url_for(".index", _anchor=f"group-{group}"))

    @expose("/reset/<key>", methods=["POST"])
    @refused_with_403
    @has_access
    def reset(self, key):
        spec = settings_service.SPECS.get(key)
        if spec is None:
            abort(404)
        if not DynamicForm(formdata=request.form).validate():
            flash(str(EXPIRED), "danger")
            return redirect(url_for(".index"))
        done = False
        with unit_of_work() as work:
            done = settings_service.reset(db.session, key)
        if not work.failed:
            if done:
                flash(str(_l("%(name)s: the default is in force again.", name=spec.label)), "success")
                flash_found_job()
            else:
                flash(str(_l("%(name)s already has its default value.", name=spec.label)), "info")
        return redirect(url_for(".index", _anchor=f"group-{spec.group}"))
