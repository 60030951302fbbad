"""基础数据 › 台账设计 (Admin): registers, their fields and the choice lists they draw on.

Views declare; app.services.registers.definitions decides and makes each saved change
live (table, permissions, generation token) in the same transaction.
"""

from __future__ import annotations

from flask import flash, g, redirect, request, url_for
from flask_appbuilder.actions import action
from flask_appbuilder.fields import QuerySelectField
from flask_appbuilder.fieldwidgets import BS3TextFieldWidget, Select2ManyWidget, Select2Widget
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.security.decorators import has_access
from flask_appbuilder.views import expose
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import attributes
from wtforms import IntegerField, SelectField, SelectMultipleField, TextAreaField
from wtforms.validators import Optional

from app.core.errors import DomainError
from app.core.uow import unit_of_work
from app.extensions import db
from app.models.lookups import LOOKUP_MODELS
from app.models.registers import ChoiceList, ChoiceValue, FieldType, RegisterDef, RegisterField, UniqueWithin
from app.services.attachments import KINDS
from app.services.registers import definitions, extensions
from app.services.registers import packages as package_service
from app.views.scoped import ScopedInterface, ScopedModelView

RESOURCE = "RegisterDesign"

FIELD_LABELS = {
    "register": _l("Register"),
    "code": _l("Code"),
    "label": _l("Label"),
    "help_text": _l("Help text"),
    "type": _l("Type"),
    "type_label": _l("Type"),
    "position": _l("Order in the form"),
    "required": _l("Required"),
    "unique_within": _l("Unique"),
    "min_value": _l("Least value or length"),
    "max_value": _l("Largest value or length"),
    "pattern": _l("Pattern"),
    "pattern_message": _l("Message when the pattern does not match"),
    "default_value": _l("Default"),
    "in_list": _l("Shown in the list"),
    "filterable": _l("Filterable"),
    "sortable": _l("Sortable"),
    "sensitive": _l("Sensitive"),
    "choice_list": _l("Choice list"),
    "lookup": _l("Or a built-in list"),
    "file_kinds": _l("Allowed kinds of file"),
    "new_values": _l("Or a new list: its values"),
    "removed_at": _l("Removed at"),
    "column": _l("Column"),
}


def choice_list_field():
    return QuerySelectField(
        _l("Choice list"),
        validators=[Optional()],
        query_func=lambda: db.session.scalars(select(ChoiceList).order_by(ChoiceList.name)).all(),
        get_pk_func=lambda obj: obj.id,
        allow_blank=True,
        blank_text="—",
        widget=Select2Widget(),
        description=_l("For a choice field: the list its values come from."),
    )


def lookup_field():
    return SelectField(
        _l("Or a built-in list"),
        choices=[("", "—")] + [(m.__tablename__, str(m.lookup_title)) for m in LOOKUP_MODELS],
        validators=[Optional()],
        description=_l("A list the system already keeps (appeal categories, visit forms …)."),
    )


class KindsField(SelectMultipleField):
    """The kinds of file a 照片/附件 field takes, kept as "jpeg,png,pdf"."""

    def process_data(self, value):
        self.data = [v for v in (value or "").split(",") if v] if isinstance(value, str) else list(value or [])

    def pre_validate(self, form):
        pass  # the service names any kind the system does not allow

    def populate_obj(self, obj, name):
        setattr(obj, name, ",".join(self.data or []) or None)


class RegisterFieldView(ScopedModelView):
    datamodel = ScopedInterface(RegisterField)
    resource = RESOURCE
    route_base = "/registerfields"
    list_title = _l("Fields")
    show_title = add_title = edit_title = _l("Field")
    label_columns = FIELD_LABELS
    list_columns = ["position", "code", "label", "type_label", "required", "in_list", "filterable", "removed_at"]
    show_columns = [
        "register", "code", "label", "type_label", "help_text", "position", "required", "unique_within", "min_value",
        "max_value", "pattern", "pattern_message", "default_value", "in_list", "filterable", "sortable", "sensitive",
        "choice_list", "lookup", "file_kinds", "column", "removed_at",
    ]  # fmt: skip
    add_columns = [
        "register", "code", "label", "type", "help_text", "position", "required", "unique_within", "min_value",
        "max_value", "pattern", "pattern_message", "default_value", "in_list", "filterable", "sortable", "sensitive",
        "choice_list", "lookup", "new_values", "file_kinds",
    ]  # fmt: skip
    edit_columns = [c for c in add_columns if c != "register"]
    search_columns = ["register", "code", "label"]
    base_order = ("position", "asc")
    extra_permissions = {"remove_fields": "write", "restore_fields": "write"}
    add_form_extra_fields = {
        "position": IntegerField(
            _l("Order in the form"),
            default=10,
            validators=[Optional()],
            widget=BS3TextFieldWidget(),
            description=_l("Fields are shown in this order (smaller first)."),
        ),  # fmt: skip
        "type": SelectField(_l("Type"), choices=FieldType.choices(), default=FieldType.TEXT),
        "unique_within": SelectField(_l("Unique"), choices=UniqueWithin.choices(), default=""),
        "choice_list": choice_list_field(),
        "lookup": lookup_field(),
        "file_kinds": KindsField(
            _l("Allowed kinds of file"),
            choices=[(kind.code, kind.title) for kind in KINDS.values()],
            validators=[Optional()],
            widget=Select2ManyWidget(),
            description=_l("Photos and files: the kinds this field takes (empty: every kind the system allows)."),
        ),  # fmt: skip
        "new_values": TextAreaField(
            _l("Or a new list: its values"),
            validators=[Optional()],
            description=_l("One value per line: a new list named after the field is created."),
        ),  # fmt: skip
    }
    edit_form_extra_fields = add_form_extra_fields
    description_columns = {
        "code": _l("Latin letters, digits and _: stays the same for good (columns, Excel, API)."),
        "min_value": _l("Numbers and dates: the least value; text: the fewest characters."),
        "max_value": _l(
            "Numbers and dates: the largest value; text: the most characters; photos and files: the most files."
        ),
        "pattern": _l("Optional: a regular expression the text must match."),
        "default_value": _l("Filled in on a new entry (a choice: the value's name)."),
        "sensitive": _l("Shown masked to roles without the permission to read personal data."),
        "filterable": _l("Offered as a search condition on the list (and indexed)."),
    }

    def process_form(self, form, is_created):
        # read here; the box stays on the form, so a refused field comes back with what was typed
        g.register_new_values = [v.strip() for v in (form.new_values.data or "").splitlines() if v.strip()]

    def validate(self, item):
        if item.position is None:
            item.position = 10
        values = g.pop("register_new_values", [])
        if values:
            item.choice_list = definitions.new_choice_list(db.session, item, values)
        previous = attributes.get_history(item, "type").deleted
        definitions.save_field(db.session, item, previous[0] if previous else None)

    def validate_delete(self, item):
        raise DomainError(_l("A field is removed with the action “Remove”: its data is kept and it can be restored."))

    def _each(self, items, change, done):
        """`change` every selected field in one unit of work, then say `done` (a lazy text with count)."""
        items = items if isinstance(items, list) else [items]
        with unit_of_work() as work:
            for item in items:
                change(db.session, item)
        if not work.failed:
            flash(str(done % {"count": len(items)}), "success")
        return self.back_to_list()

    @action("remove_fields", _l("Remove"), _l("Remove the selected fields? Their data is kept."), "fa-eye-slash")
    def remove_fields(self, items):
        return self._each(items, definitions.remove_field, _l("%(count)s field(s) removed; their data is kept."))

    @action("restore_fields", _l("Restore"), _l("Restore the selected fields?"), "fa-undo")
    def restore_fields(self, items):
        return self._each(items, definitions.restore_field, _l("%(count)s field(s) restored."))


class ExtendsFilter(BaseFilter):
    """Registers (value "no") or the extra fields of built-in records ("yes")."""

    name = "extends"
    arg_name = "ext"

    def apply(self, query, value):
        column = self.model.extends
        return query.filter(column.is_not(None) if value == "yes" else column.is_(None))


class RegisterDefView(ScopedModelView):
    datamodel = ScopedInterface(RegisterDef)
    base_filters = [["id", ExtendsFilter, "no"]]
    resource = RESOURCE
    route_base = "/registerdesign"
    list_title = _l("Register design")
    show_title = add_title = edit_title = _l("Register")
    related_views = [RegisterFieldView]
    show_template = "minqing/registers/design_show.html"
    list_template = "minqing/registers/design_list.html"
    label_columns = {
        "code": _l("Code"),
        "name": _l("Register name"),
        "menu_group": _l("Menu group"),
        "description": _l("Description"),
        "sort_order": _l("Order in the menu"),
        "active": _l("Active"),
        "date_field": _l("Date field"),
        "dashboard_card": _l("Card on the dashboard"),
        "updated_at": _l("Updated at"),
    }
    list_columns = ["code", "name", "menu_group", "active", "dashboard_card", "updated_at"]
    show_columns = ["code", "name", "menu_group", "description", "date_field", "sort_order", "active", "dashboard_card"]
    add_columns = ["code", "name", "menu_group", "description", "sort_order", "active", "dashboard_card"]
    edit_columns = ["name", "menu_group", "description", "date_field", "sort_order", "active", "dashboard_card"]
    search_columns = ["code", "name", "menu_group", "active"]
    base_order = ("sort_order", "asc")
    extra_permissions = {"export_package": "read", "import_package": "write"}
    description_columns = {
        "code": _l("Latin letters, digits and _ (e.g. speakup): its address and table; never changes."),
        "menu_group": _l("The menu the register appears under (e.g. 台账)."),
        "date_field": _l(
            "The code of the date field that places an entry in a period; empty: the day it was recorded."
        ),
        "dashboard_card": _l("Show this register's count on the leaders' dashboard."),
    }

    add_form_extra_fields = {
        "sort_order": IntegerField(
            _l("Order in the menu"), default=0, validators=[Optional()], widget=BS3TextFieldWidget()
        ),
    }
    edit_form_extra_fields = add_form_extra_fields

    def validate(self, item):
        if item.sort_order is None:
            item.sort_order = 0
        definitions.save_register(db.session, item)

    def render_template(self, template, **kwargs):
        if kwargs.get("pk") is not None:
            item = db.session.get(RegisterDef, int(kwargs["pk"]))
            kwargs.setdefault("item_code", item.code if item is not None else "")
            if item is not None and item.extends:
                kwargs.setdefault("extends_url", EXTENDED_LISTS.get(item.extends))
        return super().render_template(template, **kwargs)

    def validate_delete(self, item):
        raise DomainError(_l("A register is switched off (Active), never deleted: its entries stay."))

    def post_add_redirect(self):
        """The new register's page (kept for this request only: the view object serves every thread)."""
        pk = g.pop("mq_new_register", None)
        return redirect(url_for(".show", pk=pk)) if pk is not None else super().post_add_redirect()

    def post_add(self, item):
        g.mq_new_register = item.id

    # -- configuration packages --------------------------------------------------

    @expose("/package/export/")
    @has_access
    def export_package(self):
        return package_service.json_response(package_service.export_package(db.session))

    @expose("/package/import/", methods=["POST"])
    @has_access
    def import_package(self):
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            flash(str(_l("Choose a file to upload.")), "danger")
            return redirect(url_for(".list"))
        with unit_of_work() as work:
            report = package_service.import_package(db.session, upload.read())
        if not work.failed:
            flash(str(_l("Package imported: %(summary)s", summary=report.summary())), "success")
        return redirect(url_for(".list"))


EXTENDED_LISTS = {
    "appeal": "/appealview/list/", "visit": "/visitview/list/", "person": "/personview/list/",
    "grid": "/gridview/list/", "contact_record": "/contactrecordview/list/",
}  # fmt: skip


class ExtraFieldsDefView(RegisterDefView):
    """扩展字段: the extra fields of appeals, visits, people, grids and contact records, defined
    as a register's fields are (one definition per record, made when this page is first opened)."""

    route_base = "/extradesign"
    base_filters = [["id", ExtendsFilter, "yes"]]
    list_title = _l("Extra fields")
    show_title = edit_title = _l("Extra fields")
    list_template = "minqing/list.html"
    label_columns = {**RegisterDefView.label_columns, "name": _l("Record"), "extends": _l("Table")}
    list_columns = ["name", "extends", "updated_at"]
    show_columns = ["name", "extends", "description"]
    formatters_columns = {
        "extends": lambda table: str(extensions.TARGETS[table][1]) if table in extensions.TARGETS else table
    }
    edit_columns = ["description"]
    search_columns = ["name"]
    exclude_route_methods = {"download", "add", "delete", "export_package", "import_package"}

    def list_page(self):
        if extensions.ensure_definitions(db.session):
            db.session.commit()
        return super().list_page()

    def validate(self, item):
        definitions.save_register(db.session, item)


class ChoiceValueView(ScopedModelView):
    datamodel = ScopedInterface(ChoiceValue)
    resource = RESOURCE
    route_base = "/choicevalues"
    list_title = _l("Values")
    show_title = add_title = edit_title = _l("Value")
    label_columns = {"list": _l("List"), "name": _l("Value"), "sort_order": _l("Sort order"), "active": _l("Active")}
    list_columns = ["name", "sort_order", "active"]
    add_columns = ["list", "name", "sort_order", "active"]
    edit_columns = ["name", "sort_order", "active"]
    show_columns = add_columns
    base_order = ("sort_order", "asc")

    def validate(self, item):
        definitions.check_choice_value(db.session, item)

    def validate_delete(self, item):
        definitions.check_choice_value_deletable(db.session, item)


class ChoiceListView(ScopedModelView):
    datamodel = ScopedInterface(ChoiceList)
    resource = RESOURCE
    route_base = "/choicelists"
    list_title = _l("Choice lists")
    show_title = add_title = edit_title = _l("Choice list")
    related_views = [ChoiceValueView]
    label_columns = {"code": _l("Code"), "name": _l("List name"), "description": _l("Description")}
    list_columns = ["code", "name", "description"]
    add_columns = ["code", "name", "description"]
    edit_columns = ["name", "description"]
    show_columns = add_columns
    search_columns = ["code", "name"]

    def validate(self, item):
        definitions.check_choice_list(db.session, item)

    def validate_delete(self, item):
        raise DomainError(_l("A list in use keeps its values: deactivate the values you no longer want."))
