"""The base classes every domain view and API inherits.

They hold what FAB leaves to each view (see shared/FAB-NOTES.md):

* row scope — one `ScopeFilter` in `base_filters`, applied to list, show, edit,
  delete, single and mass actions and every API call, with the admin bypass
  inside `app.services.scope`;
* writes — `validate()` (a service call) and `scope.check_writable()` before
  every save, domain errors turned into a form error or an HTTP 4xx with a
  translated message, the session rolled back so nothing is half-written;
* pickers — a relation to a grid-bound model (grid, person ...) becomes a
  search-as-you-type select whose options come from `/picker/<kind>`, filtered
  by the same scope, and whose submitted id is checked again on the server;
* permissions — one resource per domain noun with `can_read` / `can_write`
  (and named extras such as `can_print`), shared by the HTML view and the API.
"""

from __future__ import annotations

import logging

from flask import abort, current_app, flash, jsonify, request, send_file, url_for
from flask_appbuilder import ModelView
from flask_appbuilder.api import ModelRestApi
from flask_appbuilder.const import API_RESULT_RES_KEY
from flask_appbuilder.exceptions import DatabaseException
from flask_appbuilder.fields import QuerySelectField
from flask_appbuilder.fieldwidgets import Select2Widget
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.security.decorators import has_access
from flask_appbuilder.urltools import get_filter_args, get_order_args, get_page_args, get_page_size_args
from flask_appbuilder.validators import Unique
from flask_appbuilder.views import expose
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm.exc import StaleDataError
from wtforms import BooleanField, Field, HiddenField
from wtforms.validators import DataRequired, InputRequired
from wtforms.validators import ValidationError as FormValidationError

from app.core.clock import now
from app.core.errors import DomainError, NotFound
from app.extensions import db
from app.services import scope

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
API_PERMISSIONS = {
    "get": READ,
    "get_list": READ,
    "info": READ,
    "post": WRITE,
    "put": WRITE,
    "delete": WRITE,
}
YES, NO = _l("Yes"), _l("No")
SAVE_FAILED = _l("The record could not be saved: it conflicts with existing data.")


STALE = _l("Someone else saved this record after you opened it. Reload the page and make your change again.")


def is_versioned(model):
    return hasattr(model, "version") and "version_id_col" in (getattr(model, "__mapper_args__", None) or {})


def check_version(item, submitted):
    """Refuse a save based on an older copy of the record than the one stored."""
    if submitted in (None, ""):
        return
    try:
        submitted = int(submitted)
    except (TypeError, ValueError):
        raise DomainError(STALE) from None
    if submitted != item.version:
        raise DomainError(STALE)


def delete_record(session, item):
    """Soft-deletable records are hidden (restorable by an Admin); others are removed."""
    if hasattr(type(item), "deleted_at"):
        user = scope.current_user()
        item.deleted_at = now()
        item.deleted_by_id = user.id if user is not None else None
    else:
        session.delete(item)


MAX_ID = 2**31 - 1  # ids are 32-bit integers on every database we run on


MAX_ID = 2**31 - 1  # ids are 32-bit integers: a larger number names no record


def id_arg(name):
    """An id from the query string, or None when absent or not a plausible id (never
    handed to the database: SQLite cannot even compare a number beyond 64 bits)."""
    value = request.args.get(name, type=int)
    return value if value is not None and 0 < value <= MAX_ID else None


def valid_pk_or_404():
    """A record id in a URL that no row can have (not a number, or beyond an integer
    column) is a 404, not a database error."""
    pk = (request.view_args or {}).get("pk")
    if pk is None:
        return None
    text = str(pk)
    if not text.isdigit() or int(text) > MAX_ID:
        abort(404)
    return None


def valid_rison_or_400():
    """FAB parses ?q= (rison) and lets some malformed values crash: answer 400."""
    if not request.path.startswith("/api/") or "q" not in request.args:
        return None
    import prison

    try:
        prison.loads(request.args["q"])
    except Exception:  # noqa: BLE001 (any parse failure is the client's)
        return jsonify(message=str(_l("The q parameter is not valid rison."))), 400
    return None


class ScopeFilter(BaseFilter):
    """Restricts any grid-bound model to the current user's scope (see services.scope)."""

    name = "scope"
    arg_name = None

    def apply(self, query, value):
        if value == DELETED_ONLY:  # the recycle bin: what was deleted, within the scope
            return query.filter(scope.clause_for(self.model, include_deleted=True), self.model.deleted_at.is_not(None))
        return query.filter(scope.clause_for(self.model))


DELETED_ONLY = "deleted-only"


def scope_filters(model, deleted_only=False):
    if not scope.is_scoped(model):
        return []
    return [["id", ScopeFilter, DELETED_ONLY if deleted_only else None]]


class CappedCount(int):
    """A list's row count that stopped counting at LIST_COUNT_CAP: shown as "10000+"."""

    def __str__(self):
        return f"{int(self) - 1}+"


class ScopedInterface(SQLAInterface):
    """SQLAInterface with a hook to load, in one query per page, what a list shows,
    and a bounded count (FAB counts every matching row on each page render)."""

    def __init__(self, obj, session=None, prefetch=None):
        super().__init__(obj, session)
        self.prefetch = prefetch

    def query_count(self, query, filters=None, select_columns=None):
        """Count at most LIST_COUNT_CAP + 1 rows: past a few hundred pages nobody pages by
        number, and counting a county's million appeals costs more than the page itself."""
        cap = current_app.config.get("LIST_COUNT_CAP") or 0
        inner = self._apply_inner_all(query, filters, select_columns=select_columns, aliases_mapping={})
        inner = inner.with_entities(self.obj.id)  # ids only: an index can answer, no row is read
        if cap <= 0:
            return inner.count()
        count = inner.limit(cap + 1).count()
        return CappedCount(count) if count > cap else count

    def apply_pagination(self, query, page, page_size):
        """Find the page's ids first (filters, scope and order on ids only: an index-only scan
        even at page 500), then load just those rows with what the list shows. OFFSET on the
        full query makes the database fetch and join every skipped row."""
        if not page_size or page_size > current_app.config.get("LIST_MAX_PAGE_SIZE", 200):
            return super().apply_pagination(query, page, page_size)  # exports stream in one query
        ids = query.with_entities(self.obj.id).offset((page or 0) * page_size).limit(page_size).all()
        # literal ids: with a sub-select PostgreSQL re-plans the whole filtered, ordered list
        return query.filter(self.obj.id.in_([row[0] for row in ids]))

    def query(self, *args, **kwargs):
        count, items = super().query(*args, **kwargs)
        if self.prefetch and items:
            self.prefetch(self.session, items)
        return count, items


# --------------------------------------------------------------------------
# Pickers
# --------------------------------------------------------------------------

PICKERS = {}


def register_picker(kind, model, resource, search, label, order=None, base=None):
    """Declare a picker kind: /picker/<kind>?q= searches `search` columns of `model`.

    `resource` is the permission resource whose can_read the user needs;
    `label(session, items)` returns {id: text} for a page of results.
    """
    PICKERS[kind] = {
        "model": model,
        "resource": resource,
        "search": search,
        "label": label,
        "order": order or [model.id],
        "base": base,
    }


def picker_label(kind, session, obj):
    return PICKERS[kind]["label"](session, [obj]).get(obj.id, str(obj))


class AjaxSelectWidget:
    """A <select> that select2 (shipped with FAB) fills from the picker endpoint."""

    def __init__(self, kind):
        self.kind = kind

    def __call__(self, field, **kwargs):
        url = url_for("PickerView.search", kind=self.kind)
        option = ""
        obj = field.data
        if obj is not None:
            text = picker_label(self.kind, db.session, obj)
            option = Markup('<option value="{}" selected>{}</option>').format(obj.id, text)
        blank = "" if field.flags.required else '<option value=""></option>'
        return Markup(
            '<select class="form-control mq-picker" id="{id}" name="{name}" data-url="{url}" '
            'data-placeholder="{ph}"{req}>{blank}{option}</select>'
        ).format(
            id=field.id,
            name=field.name,
            url=url,
            ph=_l("Type to search"),
            req=Markup(" required") if field.flags.required else "",
            blank=Markup(blank),
            option=option,
        )


class AjaxSelectField(Field):
    """A relation field whose options are searched on the server.

    The submitted id is loaded within the user's scope: an id from another grid
    is an error on the form, not a silent link.
    """

    def __init__(self, label=None, validators=None, kind=None, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.kind = kind
        self.widget = AjaxSelectWidget(kind)
        self._bad_id = False

    def process_formdata(self, valuelist):
        self._bad_id = False
        raw = valuelist[0].strip() if valuelist and valuelist[0] else ""
        if not raw:
            self.data = None
            return
        spec = PICKERS[self.kind]
        model = spec["model"]
        try:
            pk = int(raw)
        except ValueError:
            self.data, self._bad_id = None, True
            return
        obj = db.session.get(model, pk)
        if obj is None or (scope.is_scoped(model) and not scope.visible(db.session, model, pk)):
            self.data, self._bad_id = None, True
        else:
            self.data = obj

    def pre_validate(self, form):
        if self._bad_id:
            raise FormValidationError(str(scope.RECORD_OUT_OF_SCOPE))

    def _value(self):
        return str(self.data.id) if self.data is not None else ""


class AjaxSelectMultipleWidget(AjaxSelectWidget):
    """The same search-as-you-type select, choosing several (visitors, covered grids)."""

    def __call__(self, field, **kwargs):
        url = url_for("PickerView.search", kind=self.kind)
        objs = list(field.data or [])
        labels = PICKERS[self.kind]["label"](db.session, objs) if objs else {}
        options = Markup("").join(
            Markup('<option value="{}" selected>{}</option>').format(obj.id, labels.get(obj.id, str(obj)))
            for obj in objs
        )
        return Markup(
            '<select class="form-control mq-picker" id="{id}" name="{name}" data-url="{url}" '
            'data-placeholder="{ph}" multiple{req}>{options}</select>'
        ).format(
            id=field.id,
            name=field.name,
            url=url,
            ph=_l("Type to search"),
            req=Markup(" required") if field.flags.required else "",
            options=options,
        )


class AjaxSelectMultipleField(Field):
    """Several related records chosen on the server; every id is loaded within the scope."""

    def __init__(self, label=None, validators=None, kind=None, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.kind = kind
        self.widget = AjaxSelectMultipleWidget(kind)
        self._bad_id = False

    def process_formdata(self, valuelist):
        self._bad_id = False
        raw = [v.strip() for v in valuelist or [] if v and v.strip()]
        if not raw:
            self.data = []
            return
        if not all(v.isdigit() for v in raw):
            self.data, self._bad_id = [], True
            return
        model = PICKERS[self.kind]["model"]
        ids = list(dict.fromkeys(int(v) for v in raw))
        query = select(model).where(model.id.in_(ids))
        if scope.is_scoped(model):
            query = query.where(scope.clause_for(model))
        found = {obj.id: obj for obj in db.session.scalars(query)}
        if len(found) != len(ids):
            self._bad_id = True
        self.data = [found[i] for i in ids if i in found]

    def pre_validate(self, form):
        if self._bad_id:
            raise FormValidationError(str(scope.RECORD_OUT_OF_SCOPE))

    def _value(self):
        return ",".join(str(obj.id) for obj in self.data or [])


def picker_field(datamodel, column, label, required, description=""):
    from wtforms.validators import InputRequired, Optional

    kind = picker_kind_for(datamodel.get_related_model(column))
    validators = [InputRequired()] if required else [Optional()]
    return AjaxSelectField(label, validators, kind=kind, description=description)


INACTIVE = _l("inactive")


def list_field(model, label, required, description=""):
    """A select over a short admin-edited list (lookups, posts): active values first,
    deactivated ones marked, so an old record keeps its value when edited."""
    from wtforms.validators import InputRequired, Optional

    def query():
        return db.session.scalars(select(model).order_by(model.active.desc(), model.sort_order, model.id)).all()

    def label_of(obj):
        return str(obj) if obj.active else f"{obj}（{INACTIVE}）"

    return QuerySelectField(
        label,
        validators=[InputRequired()] if required else [Optional()],
        description=description,
        query_func=query,
        get_pk_func=lambda obj: obj.id,
        get_label=label_of,
        allow_blank=not required,
        blank_text="—",
        widget=Select2Widget(),
    )


def picker_kind_for(model):
    for kind, spec in PICKERS.items():
        if spec["model"] is model and spec["base"] is None:
            return kind
    return None


# --------------------------------------------------------------------------
# Views
# --------------------------------------------------------------------------


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


def _export_value(formatter, value):
    if formatter is not None:
        value = formatter(value)
    if value is None:
        return ""
    if hasattr(value, "__html__"):  # a list's label (Markup is a str): the text, without its tags
        return Markup(value.__html__()).striptags()
    if isinstance(value, (str, int, float, bool)) or hasattr(value, "isoformat"):
        return value
    return str(value)


SENSITIVE_SEARCH_REFUSED = _l(
    "Searching by phone or ID number needs the permission to read them in full; that condition was ignored."
)


def without_sensitive(filters, columns, warn=False):
    """`filters` minus the conditions on `columns` when the user may not read those numbers in full."""
    from app.services.privacy import can_see_personal_numbers

    if not columns or not any(f.column_name in columns for f in filters.filters) or can_see_personal_numbers():
        return filters
    kept = filters.copy()
    kept.clear_filters()
    for flt, value in zip(filters.filters, filters.values, strict=True):
        if flt.column_name not in columns:
            kept._add_filter(flt, value)
    if warn:
        flash(str(SENSITIVE_SEARCH_REFUSED), "warning")
    return kept


class _ShownFilters:
    """What FAB's search form reads of the filters: the choices of `every` (FAB's copies
    lose them), the active conditions of `kept`."""

    def __init__(self, every, kept):
        self.every, self.kept = every, kept

    def get_search_filters(self):
        return self.every.get_search_filters()

    def get_filters_values_tojson(self):
        return self.kept.get_filters_values_tojson()


class ScopedModelView(ModelView):
    """The base of every domain ModelView. Subclasses declare; services decide."""

    export_columns = None  # defaults to list_columns
    # searchable columns holding phone or ID numbers: a search on them is a way to learn a
    # masked number digit by digit, so it is dropped for users who may not read them in full
    sensitive_search_columns = ()

    resource = None  # permission resource, e.g. "Grid" (defaults to the model name)
    extra_permissions = {}  # method or action name -> permission (e.g. {"notice": "print"})
    list_template = "minqing/list.html"
    exclude_route_methods = {"download"}

    def __init__(self, **kwargs):
        model = self.datamodel.obj
        self.class_permission_name = self.resource or model.__name__
        self.method_permission_name = {**VIEW_PERMISSIONS, **self.extra_permissions}
        self.base_filters = scope_filters(model) + list(self.base_filters or [])
        self.page_size = current_app.config.get("LIST_PAGE_SIZE", self.page_size)
        super().__init__(**kwargs)
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
        kwargs.setdefault("export_url", self._export_url())
        return super().render_template(template, **kwargs)

    def _export_url(self):
        if self.include_route_methods is not None and "export" not in self.include_route_methods:
            return None
        if not self.appbuilder.sm.has_access("can_read", self.class_permission_name):
            return None
        return url_for(f"{self.endpoint}.export")

    def _get_search_widget(self, form=None, exclude_cols=None, widgets=None):
        """FAB's search form, without the phone/ID columns for users who may not search
        them (offered, the condition would only be dropped with a message)."""
        from app.services.privacy import can_see_personal_numbers

        hidden = [c for c in self.sensitive_search_columns if c in self.search_columns]
        if not hidden or can_see_personal_numbers():
            return super()._get_search_widget(form=form, exclude_cols=exclude_cols, widgets=widgets)
        widgets = widgets or {}
        widgets["search"] = self.search_widget(
            route_base=self.route_base,
            form=form,
            include_cols=[c for c in self.search_columns if c not in hidden],
            exclude_cols=exclude_cols or [],
            filters=_ShownFilters(self._filters, without_sensitive(self._filters, hidden)),
        )
        return widgets

    # -- forms: relations to big tables become server-side pickers ---------

    def _init_forms(self):
        self.add_form_extra_fields = self._with_pickers(self.add_columns, self.add_form_extra_fields)
        self.edit_form_extra_fields = self._with_pickers(self.edit_columns, self.edit_form_extra_fields)
        self.search_form_extra_fields = self._with_pickers(
            self.search_columns, self.search_form_extra_fields, search=True
        )
        super()._init_forms()
        for form in (self.add_form, self.edit_form):
            _fix_form_validators(form)
        if is_versioned(self.datamodel.obj):
            # the version the user started editing from travels with the form
            self.edit_form.row_version = HiddenField()

    def _with_pickers(self, columns, extra, search=False):
        extra = dict(extra or {})
        for column in columns or []:
            if column in extra:
                continue
            if self.datamodel.is_relation_many_to_many(column):
                kind = picker_kind_for(self.datamodel.get_related_model(column))
                if kind is not None:
                    label = self.label_columns.get(column, column)
                    description = self.description_columns.get(column, "")
                    if search:  # a filter matches one related record
                        extra[column] = AjaxSelectField(label, kind=kind, description=description)
                    else:
                        extra[column] = AjaxSelectMultipleField(label, kind=kind, description=description)
                continue
            if not self.datamodel.is_relation_many_to_one(column):
                continue
            required = not search and not self.datamodel.is_nullable(self.datamodel.get_relation_fk(column).name)
            related = self.datamodel.get_related_model(column)
            if picker_kind_for(related) is None:
                if hasattr(related, "sort_order") and hasattr(related, "active"):
                    label = self.label_columns.get(column, column)
                    description = self.description_columns.get(column, "")
                    extra[column] = list_field(related, label, required, description)
                continue
            extra[column] = picker_field(
                self.datamodel,
                column,
                self.label_columns.get(column, column),
                required,
                self.description_columns.get(column, ""),
            )
        return extra

    # -- validation hooks (override in domain views: call the service) ------

    def validate(self, item):
        """Check the item before save; raise DomainError. Call the domain service."""

    def validate_delete(self, item):
        """Check the item may be deleted; raise DomainError."""

    def prefill_add_form(self, form):
        """Fill a new record's form from the request (e.g. ?follow_up_of=12). Default: nothing."""

    def pre_add(self, item):
        with db.session.no_autoflush:
            # scope first: validation messages must not reveal other grids' data
            scope.check_writable(db.session, item)
            self.validate(item)

    def pre_update(self, item):
        self.pre_add(item)

    def pre_delete(self, item):
        with db.session.no_autoflush:
            self.validate_delete(item)
            scope.check_writable(db.session, item)

    # -- add / edit / delete with errors on the form and nothing half-written --

    def _add(self):
        get_filter_args(self._filters, disallow_if_not_in_search=False)
        exclude_cols = self._filters.get_relation_cols()
        form = self.add_form.refresh()
        if request.method == "POST":
            self._fill_form_exclude_cols(exclude_cols, form)
            if form.validate():
                self.process_form(form, True)
                item = self.datamodel.obj()
                if self._save(form, item, is_new=True):
                    return None
        else:
            self.prefill_add_form(form)
            self.update_redirect()
        return self._get_add_widget(form=form, exclude_cols=exclude_cols)

    def _edit(self, pk):
        get_filter_args(self._filters, disallow_if_not_in_search=False)
        exclude_cols = self._filters.get_relation_cols()
        item = self.datamodel.get(pk, self._base_filters)
        if not item:
            abort(404)
        pk = self.datamodel.get_pk_value(item)
        if request.method == "POST":
            form = self.edit_form.refresh(request.form)
            self._fill_form_exclude_cols(exclude_cols, form)
            form._id = pk
            if form.validate():
                self.process_form(form, False)
                if self._save(form, item, is_new=False):
                    return None
        else:
            form = self.edit_form.refresh(obj=item)
            if hasattr(form, "row_version"):
                form.row_version.data = item.version
            self.prefill_form(form, pk)
            self.update_redirect()
        widgets = self._get_edit_widget(form=form, exclude_cols=exclude_cols)
        return self._get_related_views_widgets(
            item,
            filters={},
            orders=get_order_args(),
            pages=get_page_args(),
            page_sizes=get_page_size_args(),
            widgets=widgets,
        )

    def _save(self, form, item, is_new):
        session = db.session
        try:
            if not is_new and hasattr(form, "row_version"):
                check_version(item, form.row_version.data)
            form.populate_obj(item)
            if is_new:
                self.pre_add(item)
                session.add(item)
            else:
                self.pre_update(item)
            session.commit()
        except DomainError as err:
            session.rollback()
            self._form_error(form, err)
            return False
        except StaleDataError:
            session.rollback()
            flash(str(STALE), "danger")
            return False
        except IntegrityError:
            session.rollback()
            log.exception("integrity error saving %s", type(item).__name__)
            flash(str(SAVE_FAILED), "danger")
            return False
        if is_new:
            self.post_add(item)
            flash(str(self.add_row_message), "success")
        else:
            self.post_update(item)
            flash(str(self.edit_row_message), "success")
        return True

    @staticmethod
    def _form_error(form, err):
        field = getattr(form, err.field, None) if err.field else None
        if field is not None:
            field.errors = list(field.errors or []) + [str(err)]
        flash(str(err), "danger")

    def _delete(self, pk):
        item = self.datamodel.get(pk, self._base_filters)
        if not item:
            abort(404)
        session = db.session
        try:
            self.pre_delete(item)
            delete_record(session, item)
            session.commit()
        except DomainError as err:
            session.rollback()
            flash(str(err), "danger")
            return
        except SQLAlchemyError:
            session.rollback()
            log.exception("delete failed")
            flash(str(SAVE_FAILED), "danger")
            return
        self.post_delete(item)
        flash(str(self.delete_row_message), "success")
        self.update_redirect()

    # -- lists: bounded page sizes, bad URL arguments are a 400, not a 500 ---

    @expose("/list/")
    @has_access
    def list(self):
        return self._guarded(ModelView.list.__wrapped__, self)

    def _guarded(self, fn, *args):
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

    def _get_list_widget(self, filters, **kwargs):
        filters = self.list_filters(without_sensitive(filters, self.sensitive_search_columns, warn=True))
        limit = current_app.config.get("LIST_MAX_PAGE_SIZE", 200)
        page_size = kwargs.get("page_size") or self.page_size
        kwargs["page_size"] = max(1, min(int(page_size), limit))
        if kwargs.get("page") is not None:
            kwargs["page"] = max(0, int(kwargs["page"]))
        return super()._get_list_widget(filters, **kwargs)

    # -- export: what the user sees, as .xlsx -------------------------------

    @expose("/export/")
    @has_access
    def export(self):
        """The list as the user sees it (filters, order, scope, masking) in Excel."""
        from app.core.excel import workbook_bytes
        from app.services.audit import log_event

        limit = current_app.config.get("EXPORT_MAX_ROWS", 100000)
        try:
            get_filter_args(self._filters)
            orders = get_order_args().get(self.__class__.__name__)
        except (ValueError, TypeError):
            abort(400)
        order_column, order_direction = orders or (self.base_order or ("", ""))
        shown = without_sensitive(self._filters, self.sensitive_search_columns)
        joined = self.list_filters(shown).get_joined_filters(self._base_filters)
        query = self.datamodel.apply_all(
            db.session.query(self.datamodel.obj), joined, order_column, order_direction, page=0, page_size=limit
        )
        columns = self.export_columns or self.list_columns
        headers = [self.label_columns.get(c, c) for c in columns]

        def rows():
            for item in query.yield_per(1000):
                values = self.datamodel.get_values_item(item, columns)
                yield [_export_value(self.formatters_columns.get(c), v) for c, v in zip(columns, values, strict=True)]

        buffer, count = workbook_bytes(str(self.list_title), headers, rows())
        log_event(db.session, "export", summary=f"{self.__class__.__name__}: {count}")
        stamp = now().strftime("%Y%m%d-%H%M")
        return send_file(
            buffer,
            as_attachment=True,
            download_name=f"{self.list_title}-{stamp}.xlsx",
            mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )

    # -- actions: fetch rows through the scope (FAB's own do not) ------------

    @expose("/action/<string:name>/<pk>", methods=["GET", "POST"])
    def action(self, name, pk):
        if request.method == "GET" and not self.is_get_mutation_allowed():
            abort(405)
        if name not in self.actions:
            abort(404)
        if not self.appbuilder.sm.has_access(self.get_action_permission_name(name), self.class_permission_name):
            abort(403)
        item = self.datamodel.get(self._deserialize_pk_if_composite(pk), self._base_filters)
        if item is None:
            abort(404)
        return self.actions[name].func(item)

    @expose("/action_post", methods=["POST"])
    def action_post(self):
        name = request.form.get("action", "")
        if name not in self.actions:
            abort(404)
        if not self.appbuilder.sm.has_access(self.get_action_permission_name(name), self.class_permission_name):
            abort(403)
        items = []
        for pk in request.form.getlist("rowid"):
            item = self.datamodel.get(self._deserialize_pk_if_composite(pk), self._base_filters)
            if item is None:
                abort(404)
            items.append(item)
        return self.actions[name].func(items)


# --------------------------------------------------------------------------
# REST API
# --------------------------------------------------------------------------


class ScopedModelApi(ModelRestApi):
    """The base of every domain REST API: same resource, scope and rules as the view."""

    resource = None
    extra_permissions = {}
    allow_browser_login = True
    max_page_size = None
    sensitive_search_columns = ()  # as ScopedModelView's

    def _handle_filters_args(self, rison_args):
        return without_sensitive(super()._handle_filters_args(rison_args), self.sensitive_search_columns)

    def __init__(self):
        model = self.datamodel.obj
        self.class_permission_name = self.resource or model.__name__
        self.method_permission_name = {**API_PERMISSIONS, **self.extra_permissions}
        self.base_filters = scope_filters(model) + list(self.base_filters or [])
        rel_filters = self._scoped_rel_filters(model)
        self.add_query_rel_fields = {**rel_filters, **(self.add_query_rel_fields or {})}
        self.edit_query_rel_fields = {**rel_filters, **(self.edit_query_rel_fields or {})}
        super().__init__()

    def _scoped_rel_filters(self, model):
        out = {}
        for rel in model.__mapper__.relationships:
            if scope.is_scoped(rel.mapper.class_):
                out[rel.key] = [["id", ScopeFilter, None]]
        return out

    def validate(self, item):
        """Check the item before save; raise DomainError. Call the domain service."""

    def validate_delete(self, item):
        """Check the item may be deleted; raise DomainError."""

    def _get_field_info(self, field, filter_rel_field, page=None, page_size=None):
        info = super()._get_field_info(field, filter_rel_field, page=page, page_size=page_size)
        if not self.description_columns.get(field.name):
            info["description"] = ""  # FAB translates "" into the catalogue header
        return info

    def _error(self, err):
        if isinstance(err, NotFound):
            return self.response_404()
        body = {"message": str(err)}
        if err.field:
            body["field"] = err.field
        return self.response(err.status, **body)

    def _bad_relations(self, body):
        """Relations are given by id. marshmallow-sqlalchemy would build a NEW related
        row from a JSON object (a new grid, a new lookup value): refuse anything else."""
        errors = {}
        for key, value in body.items():
            if key in self.datamodel.list_properties and self.datamodel.is_relation(key):
                if value is None:
                    continue
                # a many-to-many link (visitors, covered grids) is a list of ids
                values = value if self.datamodel.is_relation_many_to_many(key) and isinstance(value, list) else [value]
                if any(isinstance(v, bool) or not isinstance(v, int) or not 0 < v <= MAX_ID for v in values):
                    errors[key] = [str(_l("Give the id (a whole number) of an existing record."))]
        return errors

    def post_headless(self):
        if not request.is_json or not isinstance(request.json, dict):
            return self.response_400(message=str(_l("Send a JSON object.")))
        bad = self._bad_relations(request.json)
        if bad:
            return self.response_422(message=bad)
        try:
            item = self.add_model_schema.load(request.json)
        except ValidationError as err:
            db.session.rollback()
            return self.response_422(message=err.messages)
        return self._write(item, is_new=True)

    def put_headless(self, pk):
        item = self.datamodel.get(pk, self._base_filters)
        if not item:
            return self.response_404()
        if not request.is_json or not isinstance(request.json, dict):
            return self.response_400(message=str(_l("Send a JSON object.")))
        body = dict(request.json)
        bad = self._bad_relations(body)
        if bad:
            return self.response_422(message=bad)
        if is_versioned(type(item)) and "version" in body:
            try:
                check_version(item, body.pop("version"))
            except DomainError as err:
                return self.response(409, message=str(err))
        try:
            data = self._merge_update_item(item, body)
            item = self.edit_model_schema.load(data, instance=item)
        except ValidationError as err:
            db.session.rollback()
            return self.response_422(message=err.messages)
        return self._write(item, is_new=False)

    def _write(self, item, is_new):
        session = db.session
        try:
            with session.no_autoflush:
                scope.check_writable(session, item)
                self.validate(item)
            if is_new:
                session.add(item)
            session.commit()
        except DomainError as err:
            session.rollback()
            return self._error(err)
        except StaleDataError:
            session.rollback()
            return self.response(409, message=str(STALE))
        except (IntegrityError, DatabaseException):
            session.rollback()
            return self.response_422(message=str(SAVE_FAILED))
        schema = self.add_model_schema if is_new else self.edit_model_schema
        body = {API_RESULT_RES_KEY: schema.dump(item, many=False)}
        if is_new:
            self.post_add(item)
            return self.response(201, id=item.id, **body)
        self.post_update(item)
        return self.response(200, **body)

    def delete_headless(self, pk):
        item = self.datamodel.get(pk, self._base_filters)
        if not item:
            return self.response_404()
        session = db.session
        try:
            with session.no_autoflush:
                self.validate_delete(item)
                scope.check_writable(session, item)
            delete_record(session, item)
            session.commit()
        except DomainError as err:
            session.rollback()
            return self._error(err)
        except SQLAlchemyError:
            session.rollback()
            return self.response_422(message=str(SAVE_FAILED))
        self.post_delete(item)
        return self.response(200, message="OK")
