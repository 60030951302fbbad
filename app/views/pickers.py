"""/picker/<kind>?q=...&page=N: search-as-you-type options for relation fields.

Answers select2's JSON ({"results": [{"id", "text"}], "pagination": {"more"}}),
at most PICKER_PAGE_SIZE options a page, inside the user's scope. `?id=N`
returns the one option (to show the current value of a filter).
"""

from flask import abort, current_app, jsonify, request
from flask_appbuilder import BaseView
from flask_appbuilder.views import expose
from flask_login import current_user
from sqlalchemy import or_, select

from app.extensions import db
from app.services import scope
from app.views.base import PICKERS


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
            if not wanted_id.isdigit():
                abort(400)
            query = query.where(model.id == int(wanted_id))
            page = 0
        else:
            term = request.args.get("q", "").strip()[:50]
            try:
                page = max(0, int(request.args.get("page", "1")) - 1)
            except ValueError:
                abort(400)
            if term:
                like = f"%{term}%"
                query = query.where(or_(*[col.ilike(like) for col in spec["search"]]))
        items = db.session.scalars(query.order_by(*spec["order"]).offset(page * page_size).limit(page_size + 1)).all()
        more = len(items) > page_size
        items = items[:page_size]
        labels = spec["label"](db.session, items)
        return jsonify(
            results=[{"id": item.id, "text": labels.get(item.id, str(item))} for item in items],
            pagination={"more": more},
        )
