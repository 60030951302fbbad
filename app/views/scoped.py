"""The base of every domain ModelView: scope, pickers, one unit of work, export.

* row scope — one `ScopeFilter` in `base_filters`, applied to list, show, edit,
  delete, single and mass actions and the export, with the admin bypass inside
  `app.services.scope`;
* writes — `validate()` (a service call) and `scope.check_writable()` before
  every save, in one unit of work (`app.core.uow`): a broken rule is a message on
  the form, and nothing is half-written;
* pickers — a relation to a grid-bound model (grid, person ...) becomes a
  search-as-you-type select (`app.views.pickers`), filtered by the same scope;
* permissions — one resource per domain noun with `can_read` / `can_write`
  (and named extras such as `can_print`), shared by the HTML view and the API.

FAB's private flows are rewired in `app.views.fab_compat`; this module only fills
in the hooks it defines.
"""

from __future__ import annotations

import logging

from flask import abort, current_app, flash, redirect, request
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.security.decorators import has_access
from flask_appbuilder.validators import Unique
from flask_appbuilder.views import expose
from flask_appbuilder.widgets import ListWidget
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, HiddenField
from wtforms.validators import DataRequired, InputRequired

from app.core.errors import Collector, DomainError
from app.core.sensitive import declared
from app.core.uow import discard_new, unit_of_work
from app.extensions import db
from app.services import attachments as attachment_service
from app.services import scope
from app.services.attachments import FIELD as FIELD_OF_FILES
from app.services.privacy import Reader, can_see_personal_numbers
from app.services.records import check_version, delete_record, is_versioned
from app.services.registers import extensions
from app.services.registers import files as register_files
from app.views import few_rows
from app.views.attachment_field import attachments_field, chosen_files, report_file_problems
from app.views.edge import parse_id
from app.views.export import ExportMixin
from app.views.fab_compat import CompatInterface, CompatModelView, filters_without, get_in_scope
from app.views.lean_widgets import LeanSearchWidget
from app.views.pickers import AjaxSelectField, AjaxSelectMultipleField, list_field, picker_field, picker_kind_for
from app.views.search import use_indexed_search

log = logging.getLogger(__name__)

READ, WRITE = "read", "write"
VIEW_PERMISSIONS = {
    "list": READ,
    "export": READ,
    "show": READ,
    "download": READ,
    "add": WRITE,
    "edit": WRITE,
    "delete": WRITE,
}
YES, NO = _l("Yes"), _l("No")
SENSITIVE_SEARCH_REFUSED = _l(
    "Searching by phone or ID number needs the permission to read them in full; that condition was ignored."
)
DELETED_ONLY = "deleted-only"


class ScopeFilter(BaseFilter):
    """Restricts any grid-bound model to the current user's scope (see services.scope)."""

    name = "scope"
    arg_name = None

    def apply(self, query, value):
        if value == DELETED_ONLY:  # the recycle bin: what was deleted, within the scope
            return query.filter(scope.clause_for(self.model, include_deleted=True), self.model.deleted_at.is_not(None))
        # a dense text search's page on SQLite walks the list's order (few_rows): not the grid index
        return query.filter(scope.clause_for(self.model, walk=few_rows.dense(self.datamodel)))


def scope_filters(model, deleted_only=False):
    if not scope.is_scoped(model):
        return []
    return [["id", ScopeFilter, DELETED_ONLY if deleted_only else None]]


class CappedCount(int):
    """A list's row count that stopped counting at LIST_COUNT_CAP: shown as "10000+"."""

    def __str__(self):
        return f"{int(self) - 1}+"


class ScopedInterface(CompatInterface):
    """The data interface with a hook to load, in one query per page, what a list shows,
    and a bounded count (FAB counts every matching row on each page render)."""

    def __init__(self, obj, session=None, prefetch=None, page_options=None, record_options=None):
        super().__init__(obj, session)
        self.prefetch = prefetch
        # () -> loader options for one record fetched by id (show, edit, actions): the same idea
        self.record_options = record_options
        # () -> loader options for the rows of a list page: what the list shows and no more (the
        # models' joined relations chain on: an appeal's handler's grid's level ... and PostgreSQL
        # spends more time planning nine joins than running them)
        self.page_options = page_options

    def query_count(self, query, filters=None, select_columns=None):
        """Count at most LIST_COUNT_CAP + 1 rows: past a few hundred pages nobody pages by
        number, and counting a county's million appeals costs more than the page itself."""
        cap = current_app.config.get("LIST_COUNT_CAP") or 0
        # the API selects related columns (grid.name ...): their joins do not change a count
        # unless a filter needs one, and they cost a county's list a join per related table
        if filters is None or not any("." in f.column_name for f in filters.filters):
            select_columns = None
        inner = self.filtered_ids(query, filters, select_columns)  # ids only: an index can answer
        counted = few_rows.count(self, inner, filters, cap)  # a text search: the ids, kept when few
        if counted is not None:
            found, shown_cap = counted
            return CappedCount(shown_cap + 1) if 0 < shown_cap < found else found
        if cap <= 0:
            return inner.count()
        count = inner.limit(cap + 1).count()
        return CappedCount(count) if count > cap else count

    def get(self, id, filters=None, select_columns=None, outer_default_load=False):
        """FAB's `get` (the record `id` through `filters`), loading its relations as `record_options` say."""
        if self.record_options is None or select_columns or self.is_pk_composite():
            return super().get(id, filters, select_columns, outer_default_load)
        conditions = filters.copy() if filters else self.blank_filters()
        conditions.add_filter(self.get_pk_name(), self.FilterEqual, id)
        query = self.session.query(self.obj).options(*self.record_options())
        return self.apply_all(query, conditions, outer_default_load=outer_default_load).one_or_none()

    def apply_pagination(self, query, page, page_size):
        """Find the page's ids first (filters, scope and order on ids only: an index-only scan
        even at page 500), then load just those rows with what the list shows. OFFSET on the
        full query makes the database fetch and join every skipped row."""
        if not page_size or page_size > current_app.config.get("LIST_MAX_PAGE_SIZE", 200):
            return super().apply_pagination(query, page, page_size)  # exports stream in one query
        matches = few_rows.taken(self)
        page_ids = query if matches is None else query.filter(few_rows.among(self.obj.id, matches))
        ids = page_ids.with_entities(self.obj.id).offset((page or 0) * page_size).limit(page_size).all()
        # literal ids: with a sub-select PostgreSQL re-plans the whole filtered, ordered list
        query = query.filter(self.obj.id.in_([row[0] for row in ids]))
        return query.options(*self.page_options()) if self.page_options else query

    def query(self, *args, **kwargs):
        with few_rows.window(self):
            count, items = super().query(*args, **kwargs)
        if self.prefetch and items:
            self.prefetch(self.session, items)
        return count, items

    # -- every value a list, a page or an export shows passes through privacy --

    def _reader(self, items):
        return Reader().prepare(db.session, self.obj, [getattr(i, "id", None) for i in items])

    def _revealed(self, reader, item, column, value):
        if "." in column:  # a related record's column: judged on that record
            *path, last = column.split(".")
            owner = item
            for part in path:
                owner = getattr(owner, part, None)
                if owner is None:
                    return value
            return reader.show(type(owner), last, value, item=owner)
        return reader.show(self.obj, column, value, item=item)

    def get_values_item(self, item, show_columns):
        values = super().get_values_item(item, show_columns)
        reader = self._reader([item])
        return [self._revealed(reader, item, c, v) for c, v in zip(show_columns, values, strict=True)]

    def get_values(self, lst, list_columns):
        lst = list(lst)
        if extensions.table_of(self.obj) and lst:  # extra fields: one query for the page, not one per row
            extensions.prefetch(db.session, self.obj, lst)
        register_files.prefetch(db.session, self.obj, lst)  # a register's photos and files: one query too
        reader = self._reader(lst)
        for item, row in zip(lst, super().get_values(lst, list_columns), strict=True):
            yield {c: self._revealed(reader, item, c, v) for c, v in row.items()}


def uploader():
    """(user id, name) of who adds files now: the person's name, else the login's."""
    user = scope.current_user()
    if user is None:
        return None, ""
    return user.id, f"{user.first_name or ''}{user.last_name or ''}".strip() or user.username


def yes_no(value):
    if value is None:
        return ""
    return str(YES) if value else str(NO)


def blank_none(value):
    return "" if value is None else value


def _fix_form_validators(form_class):
    """Two FAB defaults that hurt clerks: a bare "Already exists" check on unique
    columns (the services say which record holds the value instead), and a
    "required" check on NOT NULL flags, which makes an unticked box an error."""
    for name in dir(form_class):
        unbound = getattr(form_class, name, None)
        if not hasattr(unbound, "field_class") or "validators" not in unbound.kwargs:
            continue
        validators = unbound.kwargs.get("validators") or []
        keep = [v for v in validators if not isinstance(v, Unique)]
        if issubclass(unbound.field_class, BooleanField):
            keep = [v for v in keep if not isinstance(v, (DataRequired, InputRequired))]
        unbound.kwargs["validators"] = keep


def unsearchable(model, extra=()):
    """Columns of `model` the current user may not search or sort by: a search on a masked
    number is a way to learn it digit by digit (declared on the model, app.core.sensitive)."""
    return set(Reader().hidden_columns(model)) | ({c for c in extra} if not can_see_personal_numbers() else set())


def without_sensitive(filters, columns, warn=False):
    """`filters` minus the conditions on `columns` (the user may not read those values in full)."""
    if not columns or not any(f.column_name in columns for f in filters.filters):
        return filters
    if warn:
        flash(str(SENSITIVE_SEARCH_REFUSED), "warning")
    return filters_without(filters, columns)


class LeanListWidget(ListWidget):
    """FAB's list table, same markup, with each row's buttons made from links and titles built
    once per page (FAB builds three URLs and looks up six translations for every row)."""

    template = "minqing/widgets/list.html"


class ScopedModelView(ExportMixin, CompatModelView):
    """The base of every domain ModelView. Subclasses declare; services decide."""

    list_widget = LeanListWidget
    search_widget = LeanSearchWidget

    # more columns than the model declares sensitive that must not be searched by who may not
    # read personal numbers in full (the model's own declarations apply anyway)
    sensitive_search_columns = ()

    resource = None  # permission resource, e.g. "Grid" (defaults to the model name)
    extra_permissions = {}  # method or action name -> permission (e.g. {"notice": "print"})
    list_template = "minqing/list.html"
    exclude_route_methods = {"download"}
    stale_message = None  # what a concurrent save is called (None: the generic reload message)
    extra_codes = ()  # the live extra fields of the record (app.views.extras keeps them)
    with_attachments = False  # the add and edit forms take photos and files (app.services.attachments)

    @property
    def page_size(self):
        """LIST_PAGE_SIZE, read on each request: the Admin changes it in 系统参数 (no restart)."""
        return current_app.config.get("LIST_PAGE_SIZE", 25)

    def __init__(self, **kwargs):
        model = self.datamodel.obj
        self.class_permission_name = self.resource or model.__name__
        self.method_permission_name = {**VIEW_PERMISSIONS, **self.extra_permissions}
        self.base_filters = scope_filters(model) + list(self.base_filters or [])
        if self.with_attachments:
            self.add_columns = [*self.add_columns, attachment_service.FIELD]
            self.edit_columns = [*self.edit_columns, attachment_service.FIELD]
            self.label_columns = {**self.label_columns, attachment_service.FIELD: _l("Photos and files")}
        super().__init__(**kwargs)
        use_indexed_search(self, self.search_columns)  # "contains" reads an index where there is one
        self._default_formatters()

    def _default_formatters(self):
        """Show yes/no for flags and nothing for empty values (FAB prints True/None)."""
        formatters = dict(self.formatters_columns or {})
        for column in set(self.list_columns) | set(self.show_columns) | set(self.export_columns or ()):
            if column in formatters:
                continue
            if self.datamodel.is_boolean(column):
                formatters[column] = yes_no
            else:
                formatters[column] = blank_none
        self.formatters_columns = formatters

    def render_template(self, template, **kwargs):
        kwargs.setdefault("view", self)
        kwargs.setdefault("export_url", self.export_url())
        return super().render_template(template, **kwargs)

    def get_in_scope(self, pk):
        """The record `pk` if the user's scope holds it, else a 404."""
        item = get_in_scope(self, pk) if parse_id(pk) is not None else None
        if item is None:
            abort(404)
        return item

    # -- search: no phone/ID conditions for who may not read them -----------

    def filters_for_user(self, filters, warn=False):
        return without_sensitive(filters, unsearchable(self.datamodel.obj, self.sensitive_search_columns), warn=warn)

    def search_columns_shown(self):
        hidden = unsearchable(self.datamodel.obj, self.sensitive_search_columns) & set(self.search_columns)
        if not hidden:
            return None
        return [c for c in self.search_columns if c not in hidden]

    # -- forms: relations to big tables become server-side pickers ---------

    def build_form_fields(self):
        self.add_form_extra_fields = self._with_pickers(self.add_columns, self.add_form_extra_fields)
        self.edit_form_extra_fields = self._with_pickers(self.edit_columns, self.edit_form_extra_fields)
        if self.with_attachments:
            for extra in (self.add_form_extra_fields, self.edit_form_extra_fields):
                extra[attachment_service.FIELD] = attachments_field()
        self.search_form_extra_fields = self._with_pickers(
            self.search_columns, self.search_form_extra_fields, search=True
        )

    def forms_built(self):
        for form in (self.add_form, self.edit_form):
            _fix_form_validators(form)
        if is_versioned(self.datamodel.obj):
            # the version the user started editing from travels with the form
            self.edit_form.row_version = HiddenField()

    def prefill_edit_form(self, form, item):
        if hasattr(form, "row_version"):
            form.row_version.data = item.version
        # a form is a page too: what the user may not read arrives masked ...
        reader = Reader().prepare(db.session, self.datamodel.obj, [item.id])
        for column in declared(self.datamodel.obj):
            field = getattr(form, column, None)
            if field is not None and field.data not in (None, ""):
                field.data = reader.show(self.datamodel.obj, column, field.data, item=item)

    def _keep_masked(self, form, item):
        """... and comes back unchanged as the mask: then the stored value stays."""
        reader = Reader().prepare(db.session, self.datamodel.obj, [item.id])
        for column in declared(self.datamodel.obj):
            field = getattr(form, column, None)
            stored = getattr(item, column, None)
            if field is None or stored in (None, ""):
                continue
            masked = reader.show(self.datamodel.obj, column, stored, item=item)
            if masked != stored and field.data == masked:
                field.data = stored

    def _with_pickers(self, columns, extra, search=False):
        extra = dict(extra or {})
        for column in columns or []:
            if column in extra:
                continue
            label = self.label_columns.get(column, column)
            description = self.description_columns.get(column, "")
            if self.datamodel.is_relation_many_to_many(column):
                kind = picker_kind_for(self.datamodel.get_related_model(column))
                if kind is not None:
                    field_class = AjaxSelectField if search else AjaxSelectMultipleField  # a filter matches one
                    extra[column] = field_class(label, kind=kind, description=description)
                continue
            if not self.datamodel.is_relation_many_to_one(column):
                continue
            required = not search and not self.datamodel.is_nullable(self.datamodel.get_relation_fk(column).name)
            related = self.datamodel.get_related_model(column)
            if picker_kind_for(related) is None:
                if hasattr(related, "sort_order") and hasattr(related, "active"):
                    extra[column] = list_field(related, label, required, description)
                continue
            extra[column] = picker_field(self.datamodel, column, label, required, description)
        return extra

    # -- validation hooks (override in domain views: call the service) ------

    def validate(self, item):
        """Check the item before save; raise DomainError. Call the domain service."""

    def validate_delete(self, item):
        """Check the item may be deleted; raise DomainError."""

    def pre_add(self, item):
        with db.session.no_autoflush:
            # scope first: validation messages must not reveal other grids' data
            scope.check_writable(db.session, item)
            errors = Collector()  # the record's rules and its extra fields' rules: all at once
            with errors.check():
                self.validate(item)
            with errors.check():
                self.check_extra(item)
            errors.raise_if_any()

    def check_extra(self, item):
        """The rules of the extra fields the form offered (DomainErrors)."""
        if self.extra_codes:
            extensions.check(db.session, item)

    def extra_rows(self, item):
        """[(label, value)] of the record's extra fields, masked and formatted (custom show pages)."""
        if not self.extra_codes:
            return []
        codes = list(self.extra_codes)
        values = self.datamodel.get_values_item(item, codes)
        out = []
        for code, value in zip(codes, values, strict=True):
            formatter = self.formatters_columns.get(code)
            out.append((self.label_columns.get(code, code), formatter(value) if formatter else value))
        return out

    def pre_update(self, item):
        self.pre_add(item)

    def form_refused(self, form, item=None):
        report_file_problems(form)
        self.check_beside_fields(form, item)

    def check_beside_fields(self, form, item=None):
        """The form failed its own field checks (a required field left empty, a bad date): the
        record's rules are checked too, on what did pass, so every problem shows at once and
        the user need not come back for a second round. Nothing is written: the scratch record
        is dropped and the session rolled back. A rule about a field that already has an error,
        or about no field, is left out (it may only follow from the first error)."""
        if not form.errors:
            return
        scratch = item if item is not None else self.datamodel.obj()
        errors = Collector()
        try:
            with db.session.no_autoflush:
                if item is not None:
                    self._keep_masked(form, item)
                for field in form:
                    if not field.errors and field.name not in ("csrf_token", "row_version", FIELD_OF_FILES):
                        field.populate_obj(scratch, field.name)
                scope.check_writable(db.session, scratch)  # out of scope: say nothing more
                with errors.check():
                    self.validate(scratch)
                with errors.check():
                    self.check_extra(scratch)
        except (DomainError, ValueError, TypeError, AttributeError) as exc:
            log.debug("no second round of checks beside the form's own: %s", exc)
        finally:
            db.session.rollback()
            if item is None:
                discard_new(db.session, scratch)
        for error in errors.errors:
            field = getattr(form, error.field, None) if error.field else None
            if field is not None and not field.errors:
                field.errors = [str(error)]

    def pre_delete(self, item):
        with db.session.no_autoflush:
            self.validate_delete(item)
            scope.check_writable(db.session, item)

    # -- add / edit / delete: one unit of work, errors on the form ----------

    def check_files(self, form, item):
        """The form's files, checked (DomainErrors: every problem at once); [] when none."""
        files = chosen_files(form)
        return attachment_service.check_uploads(files) if files else []

    def store_files(self, item, checked):
        """Store what `check_files` passed (the record is flushed: it has an id)."""
        attachment_service.add_attachments(db.session, item, checked, *uploader())

    def save_form(self, form, item, is_new):
        with unit_of_work(form=form, stale_message=self.stale_message) as work:
            if not is_new:
                if hasattr(form, "row_version"):
                    check_version(item, form.row_version.data)
                self._keep_masked(form, item)
            form.populate_obj(item)
            errors = Collector()  # the record's problems and its files' problems: all at once
            with errors.check():
                if is_new:
                    self.pre_add(item)
                else:
                    self.pre_update(item)
            checked = []
            with errors.check(), db.session.no_autoflush:
                checked = self.check_files(form, item)
            errors.raise_if_any()
            if is_new:
                db.session.add(item)
            if checked:
                db.session.flush()  # the record's id, for its files
                self.store_files(item, checked)
        if work.failed:
            if is_new:
                discard_new(db.session, item)
            return False
        if is_new:
            self.post_add(item)
            flash(str(self.add_row_message), "success")
        else:
            self.post_update(item)
            flash(str(self.edit_row_message), "success")
        return True

    def back_to_list(self):
        """After an action: back to the page it was chosen on (FAB's history holds the list
        under the action's own URL, so the action's URL goes on first)."""
        self.update_redirect()
        return redirect(self.get_redirect())

    def delete_item(self, item):
        with unit_of_work() as work:
            self.pre_delete(item)
            delete_record(db.session, item)
        if work.failed:
            return
        self.post_delete(item)
        flash(str(self.delete_row_message), "success")
        self.update_redirect()

    # -- lists: bounded page sizes, bad URL arguments are a 400, not a 500 ---

    @expose("/list/")
    @has_access
    def list(self):
        return self.guarded(self.list_page)

    def guarded(self, fn, *args):
        try:
            return fn(*args)
        except (ValueError, TypeError) as exc:
            log.info("bad list arguments: %s", exc)
            abort(400)

    def list_filters(self, filters):
        """The list's filters as shown: the URL's, plus what a subclass adds (quick buttons).

        The list page and its Excel export both go through here, so the export
        holds exactly the rows the user is looking at.
        """
        return filters

    def clamp_list_args(self, filters, kwargs):
        limit = current_app.config.get("LIST_MAX_PAGE_SIZE", 200)
        page_size = kwargs.get("page_size") or self.page_size
        kwargs["page_size"] = max(1, min(int(page_size), limit))
        if kwargs.get("page") is not None:
            kwargs["page"] = max(0, int(kwargs["page"]))
        if kwargs.get("order_column") in unsearchable(self.datamodel.obj, self.sensitive_search_columns):
            kwargs["order_column"] = ""  # the order of masked values would tell about them
        return self.list_filters(self.filters_for_user(filters, warn=True))

    # -- actions: fetch rows through the scope (FAB's own do not) ------------

    @expose("/action/<string:name>/<pk>", methods=["GET", "POST"])
    def action(self, name, pk):
        if request.method == "GET" and not self.is_get_mutation_allowed():
            abort(405)
        if name not in self.actions:
            abort(404)
        if not self.appbuilder.sm.has_access(self.get_action_permission_name(name), self.class_permission_name):
            abort(403)
        return self.actions[name].func(self.get_in_scope(pk))

    @expose("/action_post", methods=["POST"])
    def action_post(self):
        name = request.form.get("action", "")
        if name not in self.actions:
            abort(404)
        if not self.appbuilder.sm.has_access(self.get_action_permission_name(name), self.class_permission_name):
            abort(403)
        items = [self.get_in_scope(pk) for pk in request.form.getlist("rowid")]
        return self.actions[name].func(items)
