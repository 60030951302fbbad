"""The pages of every register's entries, live as soon as a definition is saved.

Flask cannot add routes once it serves requests, so one view is registered at start-up:
`RegisterEntryView` answers `/registers/<code>/...` and hands each request to the page
object of register `<code>` — a ScopedModelView subclass built from the definition (and
rebuilt when the definition changes, see services.registers.runtime). Those page objects
carry the same class name, so FAB's links (`RegisterEntryView.show` ...) resolve to the
routes below, the register's code filled in from the current request.

Everything a built-in list has, a register has: scope, masking, versions, soft delete,
audit, Excel export, pickers, all errors of a form at once.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets

from flask import abort, current_app, flash, g, redirect, request, url_for
from flask_appbuilder.fields import QuerySelectField, QuerySelectMultipleField
from flask_appbuilder.fieldwidgets import Select2ManyWidget, Select2Widget
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.security.decorators import has_access
from flask_appbuilder.views import expose
from flask_appbuilder.widgets import FormWidget
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import false, select
from wtforms.validators import Optional

from app.core import jobs
from app.core.clock import now
from app.core.errors import DomainError
from app.core.uow import unit_of_work
from app.extensions import db
from app.models.grids import Grid, subtree_bounds
from app.models.registers import ChoiceValue, FieldType
from app.services import scope
from app.services.audit import log_event
from app.services.importer import import_file, template_bytes
from app.services.records import restore_records
from app.services.registers import entries as entry_service
from app.services.registers import files as file_service
from app.services.registers import runtime
from app.services.registers.imports import choice_lists, importer_for
from app.services.registers.summary import summarize
from app.services.registers.values import parse_value
from app.views.appeals.common import CsrfForm, current_actor
from app.views.delegating import DelegatingView
from app.views.edge import id_arg, parse_id
from app.views.export import export_value, xlsx_response
from app.views.fab_compat import filters_plus, serve_unregistered
from app.views.imports import run_import_job, upload_size
from app.views.pickers import AjaxSelectField
from app.views.registers import files as file_views
from app.views.registers.search import use_indexed_search
from app.views.scoped import ScopedInterface, ScopedModelView, uploader

PAGE_METHODS = ("list", "add", "edit", "show", "delete", "export", "action", "action_post")


def choice_field(field, multiple=False):
    """A select over the field's own list: active values first, deactivated ones kept for old entries."""
    list_id = field.choice_list_id

    def query():
        return db.session.scalars(
            select(ChoiceValue)
            .where(ChoiceValue.list_id == list_id)
            .order_by(ChoiceValue.active.desc(), ChoiceValue.sort_order, ChoiceValue.id)
        ).all()

    def label(value):
        return value.name if value.active else f"{value.name}（{_l('inactive')}）"

    cls = QuerySelectMultipleField if multiple else QuerySelectField
    options = (
        {"widget": Select2ManyWidget()}
        if multiple
        else {"widget": Select2Widget(), "allow_blank": True, "blank_text": "—"}
    )
    return cls(
        field.label, validators=[Optional()], description=field.help_text or "", query_func=query,
        get_pk_func=lambda v: v.id, get_label=label, **options,
    )  # fmt: skip


class RequiredMark:
    """Marks a required field (the form's red asterisk) and checks nothing: the service checks
    every rule of an entry at once (entries.check_entry), so no field stops the others."""

    field_flags = {"required": True}

    def __call__(self, form, field):
        pass


class EntryFormWidget(FormWidget):
    """The entry form, sent as it is (novalidate): the browser would stop at the first empty
    required field; the server answers with every problem at once, each at its field."""

    def __call__(self, **kwargs):
        return Markup(str(super().__call__(**kwargs)).replace("<form ", "<form novalidate ", 1))


def mark_required(form_class, codes):
    """Add RequiredMark to the fields `codes` of a built form class."""
    for code in codes:
        unbound = getattr(form_class, code, None)
        if unbound is None or not hasattr(unbound, "field_class"):
            continue
        if "validators" not in unbound.kwargs and len(unbound.args) > 1:
            args = list(unbound.args)
            args[1] = [*(args[1] or []), RequiredMark()]
            unbound.args = tuple(args)
        else:
            unbound.kwargs["validators"] = [*(unbound.kwargs.get("validators") or []), RequiredMark()]


class RegisterEntryPages(ScopedModelView):
    """What every register's pages share; `page_class()` fills in one register's columns."""

    spec = None
    list_template = "minqing/registers/list.html"
    show_template = "minqing/registers/show.html"
    extra_permissions = {
        "print_entry": "read", "print_list": "read", "summary": "read", "import_page": "write", "import_template": "read",
        "trash": "read", "restore": "read",
    }  # fmt: skip

    add_widget = edit_widget = EntryFormWidget

    def forms_built(self):
        super().forms_built()
        live = self.spec.live_fields if self.spec is not None else []
        required = [f.code for f in live if f.required and f.type != FieldType.GRID]
        for form in (self.add_form, self.edit_form):
            mark_required(form, required)

    def validate(self, item):
        entry_service.check_entry(db.session, item, scope.current_user())

    # -- 照片/附件 fields: checked with the other fields, stored beside the entry -----

    def check_files(self, form, item):
        chosen, removed = file_views.chosen(form, self.spec)
        return file_service.check_files(item, self.spec, chosen, removed)

    def store_files(self, item, checked):
        file_service.apply_files(db.session, item, checked, *uploader())

    def save_form(self, form, item, is_new):
        saved = super().save_form(form, item, is_new)
        if not saved and not is_new:
            file_views.show_existing(form, item, self.spec)
        return saved

    def prefill_edit_form(self, form, item):
        super().prefill_edit_form(form, item)
        file_views.show_existing(form, item, self.spec)

    def form_refused(self, form):
        """A form refused for its own fields also says what is wrong with its files."""
        chosen, removed = file_views.chosen(form, self.spec)
        try:
            file_service.check_files(self.datamodel.obj(), self.spec, chosen, removed, required=False)
        except DomainError as err:
            for error in getattr(err, "errors", None) or [err]:
                formfield = getattr(form, error.field or "", None)
                if formfield is not None:
                    formfield.errors = [*(formfield.errors or []), str(error)]

    def prefill_add_form(self, form):
        """Defaults, and the user's own lowest grid (a village clerk files in the village)."""
        for field in self.spec.live_fields:
            formfield = getattr(form, field.code, None)
            if formfield is None or formfield.data not in (None, "", []):
                continue
            if field.type == FieldType.GRID:
                formfield.data = scope.own_grid(db.session, scope.current())
            elif field.default_value not in (None, "") and field.type == FieldType.CHOICE and field.choice_list_id:
                formfield.data = db.session.scalar(
                    select(ChoiceValue).where(
                        ChoiceValue.list_id == field.choice_list_id, ChoiceValue.name == field.default_value
                    )
                )
            elif field.default_value not in (None, "") and field.type not in (
                FieldType.MULTICHOICE, FieldType.PERSON, FieldType.APPEAL, FieldType.CHOICE,
            ):  # fmt: skip
                formfield.data = parse_value(field.type, field.default_value)

    # -- the paper ledger: one entry, or the filtered list, on A4 ----------------

    @expose("/print/<pk>")
    @has_access
    def print_entry(self, pk):
        item = self.get_in_scope(pk)
        columns = list(self.show_columns)
        values = self.datamodel.get_values_item(item, columns)
        rows = [(self.label_columns.get(c, c), export_value(self.formatters_columns.get(c), v))
                for c, v in zip(columns, values, strict=True)]  # fmt: skip
        return self.render_template(
            "minqing/registers/print_entry.html", item=item, rows=rows, printed_at=now(),
            file_sections=file_views.sections(item, self.spec),
        )  # fmt: skip

    @expose("/print_list/")
    @has_access
    def print_list(self):
        limit = int(current_app.config.get("REGISTER_PRINT_MAX_ROWS", 2000))
        columns = list(self.list_columns)
        headers = [self.label_columns.get(c, c) for c in columns]
        rows = [
            [export_value(self.export_formatter(c), values[c]) for c in columns]
            for values in self.datamodel.get_values(self.filtered_query(limit).all(), columns)
        ]
        return self.render_template(
            "minqing/registers/print_list.html", headers=headers, rows=rows, printed_at=now(), limit=limit,
            truncated=len(rows) >= limit,
        )  # fmt: skip

    # -- statistics, and the list behind each figure -------------------------

    @expose("/summary/")
    @has_access
    def summary(self):
        today = now().date()
        try:
            start = (
                dt.date.fromisoformat(request.args["from"]) if request.args.get("from") else dt.date(today.year, 1, 1)
            )
            end = dt.date.fromisoformat(request.args["to"]) if request.args.get("to") else today
        except ValueError:
            abort(400)
        root = None
        grid_id = id_arg("in")
        if grid_id is not None:
            root = db.session.get(Grid, grid_id)
            if root is None or not scope.current().contains_path(root.path):
                abort(404)
        figures = summarize(db.session, self.spec, scope.current(), start, end, root)
        return self.render_template(
            "minqing/registers/summary.html", title=self.spec.name, figures=figures, start=start, end=end,
            root=root, date_label=self._date_label(),
        )  # fmt: skip

    def _date_label(self):
        field = self.spec.field(self.spec.date_field) if self.spec.date_field else None
        return field.label if field is not None else str(_l("Recorded at"))

    def list_filters(self, filters):
        """?in=<grid>&from=&to=&<choice field>=<value id>: what a summary figure links to."""
        extra = []
        grid_id = id_arg("in")
        if grid_id is not None:
            extra.append((DrillFilter("id", self.datamodel), f"in:{grid_id}"))
        for arg in ("from", "to"):
            if request.args.get(arg):
                extra.append((DrillFilter("id", self.datamodel), f"{arg}:{request.args[arg]}"))
        for field in self.spec.live_fields:
            if field.type in (FieldType.CHOICE, FieldType.MULTICHOICE) and id_arg(f"v_{field.code}") is not None:
                extra.append((DrillFilter("id", self.datamodel), f"value:{field.code}:{id_arg(f'v_{field.code}')}"))
        return filters_plus(filters, extra) if extra else filters

    # -- the recycle bin: deleted entries, restored by who may restore (Trash) ---

    @expose("/trash/", methods=["GET"])
    @has_access
    def trash(self):
        if not self.appbuilder.sm.has_access("can_restore", "Trash"):
            abort(403)
        cls = self.datamodel.obj
        items = db.session.scalars(
            select(cls).where(scope.clause_for(cls, include_deleted=True), cls.deleted_at.is_not(None))
            .order_by(cls.deleted_at.desc()).limit(500)
        ).unique().all()  # fmt: skip
        columns = list(self.list_columns)
        rows = [(item, [export_value(self.formatters_columns.get(c), values[c]) for c in columns])
                for item, values in zip(items, self.datamodel.get_values(items, columns), strict=True)]  # fmt: skip
        return self.render_template(
            "minqing/registers/trash.html", title=str(_l("Deleted entries: %(name)s", name=self.spec.name)),
            headers=[self.label_columns.get(c, c) for c in columns], rows=rows, csrf_form=CsrfForm(),
        )  # fmt: skip

    @expose("/trash/restore/<pk>", methods=["POST"])
    @has_access
    def restore(self, pk):
        if not self.appbuilder.sm.has_access("can_restore", "Trash") or not CsrfForm().validate():
            abort(403)
        cls = self.datamodel.obj
        item = db.session.scalar(
            select(cls).where(cls.id == parse_id(pk), cls.deleted_at.is_not(None),
                              scope.clause_for(cls, include_deleted=True))
        )  # fmt: skip
        if item is None:
            abort(404)
        with unit_of_work() as work:
            restore_records(db.session, [item])
        if not work.failed:
            flash(str(_l("%(count)s record(s) restored.", count=1)), "success")
        return redirect(url_for("RegisterEntryView.trash", code=self.spec.code))

    # -- Excel in ----------------------------------------------------------------

    @expose("/import/", methods=["GET", "POST"])
    @has_access
    def import_page(self):
        importer = importer_for(self.spec, self.datamodel.obj)
        result = None
        if request.method == "POST":
            if not CsrfForm().validate():
                flash(str(_l("The form has expired. Please try again.")), "danger")
                return redirect(request.url)
            upload = request.files.get("file")
            if upload is None or not upload.filename:
                flash(str(_l("Choose a file to upload.")), "danger")
            elif upload_size(upload.stream) > int(current_app.config["IMPORT_JOB_KB"]) * 1024 > 0:
                # a big file: imported by a job as this user, with a progress bar and every error on its page
                name = f"{secrets.token_hex(16)}.upload"
                upload.save(os.path.join(jobs.directory(), name))
                title = _l("Import: %(name)s", name=self.spec.name)
                job_id = jobs.enqueue("register-import", title=title, code=self.spec.code, upload=name)
                return redirect(url_for("JobView.page", job_id=job_id))
            else:
                result = import_file(
                    db.session, importer.kind, upload.stream, current_app.config["IMPORT_MAX_ROWS"],
                    actor=current_actor(), importer_class=importer,
                )  # fmt: skip
                if result.ok:
                    log_event(db.session, "import", summary=f"{importer.kind}: {result.created}")
                    flash(str(_l("%(count)s rows imported.", count=result.created)), "success")
                    return redirect(url_for("RegisterEntryView.list", code=self.spec.code))
        status = 422 if result is not None and not result.ok else 200
        page = self.render_template(
            "minqing/registers/import.html", title=str(_l("Import: %(name)s", name=self.spec.name)),
            importer=importer, result=result, csrf_form=CsrfForm(),
        )  # fmt: skip
        return page, status

    @expose("/template/")
    @has_access
    def import_template(self):
        importer = importer_for(self.spec, self.datamodel.obj)
        buffer = template_bytes(importer.kind, importer=importer, dropdowns=choice_lists(db.session, self.spec))
        return xlsx_response(buffer, str(_l("%(name)s import template", name=self.spec.name)))

    def render_template(self, template, **kwargs):
        if template == self.show_template and kwargs.get("pk") is not None:
            item = self.get_in_scope(kwargs["pk"])  # the page's own entry, found in scope once more
            kwargs.setdefault("file_sections", file_views.sections(item, self.spec))
        kwargs.setdefault("register", self.spec)
        kwargs.setdefault("can_write", self.appbuilder.sm.has_access("can_write", self.class_permission_name))
        kwargs.setdefault("can_restore", self.appbuilder.sm.has_access("can_restore", "Trash"))
        return super().render_template(template, **kwargs)


@jobs.job_kind("register-import", system=False)
def import_job(job, code, upload):
    """A register's upload, imported all or nothing as the user who sent it (their scope, their rights):
    every row's and column's problem on the job's page when it is refused, nothing written."""

    def choose():
        spec, entry_class = runtime.spec(code), runtime.entry_class(code)
        if spec is None or not spec.active or entry_class is None:
            raise jobs.Refused(_l("This register no longer exists."))
        if not current_app.appbuilder.sm.has_access("can_write", spec.resource):
            raise jobs.Refused(jobs.NO_ACCESS)
        importer = importer_for(spec, entry_class)
        return importer.kind, importer

    run_import_job(job, upload, choose)


def page_class(spec, entry_class):
    """The ScopedModelView subclass of register `spec` (named RegisterEntryView: see above)."""
    live = spec.live_fields
    codes = [f.code for f in live]
    labels = {f.code: f.label for f in live}
    labels.update(
        created_at=str(_l("Recorded at")), created_by=str(_l("Recorded by")), updated_at=str(_l("Updated at"))
    )
    extra_add, extra_search, formatters, export_formatters = {}, {}, {}, {}
    files = [f.code for f in live if f.type == FieldType.ATTACHMENT]
    for field in live:
        if field.type == FieldType.ATTACHMENT:  # no column: the entry's files (app.services.registers.files)
            extra_add[field.code] = file_views.RegisterFilesField(field)
            formatters[field.code] = file_views.count_text
            export_formatters[field.code] = file_views.names_formatter(field)
        elif field.type == FieldType.CHOICE and not field.lookup:
            extra_add[field.code] = choice_field(field)
            extra_search[field.code] = choice_field(field)
        elif field.type == FieldType.MULTICHOICE:
            extra_add[field.code] = choice_field(field, multiple=True)
            extra_search[field.code] = choice_field(field)
        elif field.type == FieldType.APPEAL:
            extra_add[field.code] = AjaxSelectField(
                field.label, [Optional()], kind="appeal", description=field.help_text or ""
            )
    order = spec.date_field if spec.date_field and spec.field(spec.date_field) else "created_at"
    attrs = {
        "spec": spec,
        "datamodel": ScopedInterface(entry_class),
        "resource": spec.resource,
        "route_base": f"/registers/{spec.code}",
        "list_title": spec.name,
        "show_title": spec.name,
        "add_title": str(_l("New entry: %(name)s", name=spec.name)),
        "edit_title": str(_l("Edit entry: %(name)s", name=spec.name)),
        "label_columns": labels,
        "description_columns": {f.code: f.help_text for f in live if f.help_text},
        "list_columns": [f.code for f in live if f.in_list] or codes[:6],
        "show_columns": [c for c in codes if c not in files] + ["created_by", "created_at"],  # files: below
        "add_columns": codes,
        "edit_columns": codes,
        "search_columns": [f.code for f in live if f.filterable],
        "order_columns": [f.code for f in live if f.sortable and f.type != FieldType.MULTICHOICE] + ["created_at"],
        "base_order": (order, "desc"),
        "add_form_extra_fields": extra_add,
        "edit_form_extra_fields": dict(extra_add),
        "search_form_extra_fields": extra_search,
        "export_columns": codes + ["created_at"],
        "formatters_columns": formatters,
        "export_formatters": export_formatters,
    }
    return type("RegisterEntryView", (RegisterEntryPages,), attrs)


_pages = runtime.PerRegister()  # one page object per register, rebuilt with the definitions


def _build_page(spec, cls):
    page = serve_unregistered(page_class(spec, cls)(), current_app.appbuilder, "RegisterEntryView")
    use_indexed_search(page, spec)
    return page


def pages_for(code):
    """The page object of register `code` (404 when there is no such live register)."""
    view = _pages.get(code, _build_page)
    if view is None:
        abort(404)
    g.register_code = code
    g.delegated_page = view
    return view


def page_objects():
    """The page objects of every live register (the scope and masking probes walk them)."""
    out = []
    for code, spec in runtime.specs().items():
        if spec.active:
            out.append(pages_for(code))
    return out


def fill_register_code(endpoint, values):
    """FAB builds links as url_for("RegisterEntryView.show", pk=…): add the register's code."""
    if endpoint.startswith("RegisterEntryView.") and "code" not in values and g.get("register_code"):
        values["code"] = g.register_code


class RegisterEntryView(DelegatingView):
    """`/registers/<code>/…`: every register's list, forms, page, export and prints."""

    route_base = "/registers"
    default_view = "list"
    base_permissions = []  # each page object checks its register's own can_read / can_write

    @expose("/<code>/list/")
    def list(self, code):
        return pages_for(code).list()

    @expose("/<code>/add", methods=["GET", "POST"])
    def add(self, code):
        return pages_for(code).add()

    @expose("/<code>/edit/<pk>", methods=["GET", "POST"])
    def edit(self, code, pk):
        return pages_for(code).edit(pk)

    @expose("/<code>/show/<pk>", methods=["GET"])
    def show(self, code, pk):
        return pages_for(code).show(pk)

    @expose("/<code>/delete/<pk>", methods=["GET", "POST"])
    def delete(self, code, pk):
        return pages_for(code).delete(pk)

    @expose("/<code>/export/")
    def export(self, code):
        return pages_for(code).export()

    @expose("/<code>/action/<string:name>/<pk>", methods=["GET", "POST"])
    def action(self, code, name, pk):
        return pages_for(code).action(name, pk)

    @expose("/<code>/action_post", methods=["POST"])
    def action_post(self, code):
        return pages_for(code).action_post()

    @expose("/<code>/print/<pk>")
    def print_entry(self, code, pk):
        return pages_for(code).print_entry(pk)

    @expose("/<code>/print_list/")
    def print_list(self, code):
        return pages_for(code).print_list()

    @expose("/<code>/summary/")
    def summary(self, code):
        return pages_for(code).summary()

    @expose("/<code>/import/", methods=["GET", "POST"])
    def import_page(self, code):
        return pages_for(code).import_page()

    @expose("/<code>/template/")
    def import_template(self, code):
        return pages_for(code).import_template()

    @expose("/<code>/trash/")
    def trash(self, code):
        return pages_for(code).trash()

    @expose("/<code>/trash/restore/<pk>", methods=["POST"])
    def restore(self, code, pk):
        return pages_for(code).restore(pk)


class DrillFilter(BaseFilter):
    """The conditions behind a summary figure: a grid's subtree, a period, a choice value."""

    name = "drill"
    arg_name = None

    def apply(self, query, value):
        model = self.model
        kind, _, arg = value.partition(":")
        if kind == "in":
            path = db.session.scalar(select(Grid.path).where(Grid.id == int(arg)))
            if not path:
                return query.filter(false())
            low, high = subtree_bounds(path)
            return query.filter(model.grid_id.in_(select(Grid.id).where(Grid.path >= low, Grid.path < high)))
        spec = model.__register__
        if kind in ("from", "to"):
            day = dt.date.fromisoformat(arg)  # ValueError: a 400 (ScopedModelView.guarded)
            column = (
                getattr(model, spec.date_field) if spec.date_field and spec.field(spec.date_field) else model.created_at
            )
            if column.type.python_type is dt.datetime:
                bound = (
                    dt.datetime.combine(day, dt.time())
                    if kind == "from"
                    else dt.datetime.combine(day + dt.timedelta(days=1), dt.time())
                )
                return query.filter(column >= bound if kind == "from" else column < bound)
            return query.filter(column >= day if kind == "from" else column <= day)
        if kind == "value":
            code, _, value_id = arg.partition(":")
            field = spec.field(code)
            if field.type == FieldType.MULTICHOICE:
                return query.filter(getattr(model, code).any(id=int(value_id)))
            return query.filter(getattr(model, field.column) == int(value_id))
        raise ValueError(value)
