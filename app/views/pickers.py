"""Search-as-you-type pickers for relation fields, and the endpoint that feeds them.

* `register_picker(kind, ...)` declares what `/picker/<kind>?q=...&page=N` searches;
* `AjaxSelectField` / `AjaxSelectMultipleField` are the form fields: a select2
  (shipped with FAB) filled from that endpoint; the submitted id is loaded again
  within the user's scope, so an id from another grid is a form error;
* `list_field` is the plain select for short admin-edited lists (lookups, posts).

The endpoint answers select2's JSON ({"results": [{"id", "text"}], "pagination":
{"more"}}), at most PICKER_PAGE_SIZE options a page, inside the user's scope;
`?id=N` returns the one option (to show the current value of a filter).
"""

from flask import abort, current_app, jsonify, request, url_for
from flask_appbuilder import BaseView
from flask_appbuilder.fields import QuerySelectField
from flask_appbuilder.fieldwidgets import Select2Widget
from flask_appbuilder.views import expose
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import or_, select
from wtforms import Field
from wtforms.validators import DataRequired, InputRequired, Optional
from wtforms.validators import ValidationError as FormValidationError

from app.core.inputs import parse_id, parse_page
from app.extensions import db
from app.services import scope, search

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
        pk = parse_id(raw)
        if pk is None:
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
        if any(parse_id(v) is None for v in raw):
            self.data, self._bad_id = [], True
            return
        model = PICKERS[self.kind]["model"]
        ids = list(dict.fromkeys(parse_id(v) for v in raw))
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
    kind = picker_kind_for(datamodel.get_related_model(column))
    validators = [InputRequired()] if required else [Optional()]
    return AjaxSelectField(label, validators, kind=kind, description=description)


INACTIVE = _l("inactive")


def list_field(model, label, required, description=""):
    """A select over a short admin-edited list (lookups, posts): active values first,
    deactivated ones marked, so an old record keeps its value when edited."""

    def query():
        return db.session.scalars(select(model).order_by(model.active.desc(), model.sort_order, model.id)).all()

    def label_of(obj):
        return str(obj) if obj.active else f"{obj}（{INACTIVE}）"

    return QuerySelectField(
        label,
        validators=[DataRequired()] if required else [Optional()],  # data: a related view fills it from its filter
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


class PickerView(BaseView):
    route_base = "/picker"
    default_view = "search"
    # reaching a picker needs can_read on the picked model's resource (checked below)
    base_permissions = []

    @expose("/<kind>")
    def search(self, kind):
        spec = PICKERS.get(kind)
        if spec is None:
            abort(404)
        if not current_user.is_authenticated:
            abort(401)
        if not self.appbuilder.sm.has_access("can_read", spec["resource"]):
            abort(403)
        model = spec["model"]
        query = select(model)
        if scope.is_scoped(model):
            query = query.where(scope.clause_for(model))
        if spec["base"] is not None:
            query = query.where(spec["base"]())
        page_size = current_app.config.get("PICKER_PAGE_SIZE", 20)
        wanted_id = request.args.get("id", "").strip()
        if wanted_id:
            if parse_id(wanted_id) is None:
                abort(400)
            query = query.where(model.id == parse_id(wanted_id))
            page = 0
        else:
            term = request.args.get("q", "").strip()[:50]
            page = parse_page(request.args.get("page", "1"))
            if page is None:
                abort(400)
            page = max(0, page - 1)
            if term:
                # the scope the query has (the model's own): the name index narrows by it too
                conditions = [
                    search.contains(col, term, grids=scope.grid_choice(model) if col.class_ is model else None)
                    for col in spec["search"]
                ]
                query = query.where(or_(*conditions))
        items = db.session.scalars(query.order_by(*spec["order"]).offset(page * page_size).limit(page_size + 1)).all()
        more = len(items) > page_size
        items = items[:page_size]
        labels = spec["label"](db.session, items)
        return jsonify(
            results=[{"id": item.id, "text": labels.get(item.id, str(item))} for item in items],
            pagination={"more": more},
        )
