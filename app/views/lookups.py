"""One list view per lookup table, all under the "Lookup" permission resource."""

from flask_babel import lazy_gettext as _l

from app.extensions import db
from app.models.lookups import LOOKUP_MODELS, GridLevel
from app.services import lookups as lookup_service
from app.views.jobs import flash_found_job
from app.views.scoped import ScopedInterface, ScopedModelView

LOOKUP_LABELS = {
    "name": _l("Entry"),
    "rank": _l("Rank"),
    "sort_order": _l("Sort order"),
    "active": _l("Active"),
}


class LookupView(ScopedModelView):
    resource = "Lookup"
    label_columns = LOOKUP_LABELS
    list_columns = ["name", "sort_order", "active"]
    add_columns = ["name", "sort_order", "active"]
    edit_columns = add_columns
    show_columns = add_columns
    search_columns = ["name", "active"]
    base_order = ("sort_order", "asc")

    def validate(self, item):
        lookup_service.validate_lookup(db.session, item)

    def validate_delete(self, item):
        lookup_service.check_lookup_deletable(db.session, item)

    # a channel added, renamed or removed: 发现 is counted again by a job (app.services.rollups)
    def post_add(self, item):
        flash_found_job()

    def post_update(self, item):
        flash_found_job()

    def post_delete(self, item):
        flash_found_job()


def lookup_views():
    views = []
    for model in LOOKUP_MODELS:
        attrs = {
            "datamodel": ScopedInterface(model),
            "list_title": model.lookup_title,
            "show_title": model.lookup_title,
            "add_title": model.lookup_title,
            "edit_title": model.lookup_title,
        }
        if model is GridLevel:
            attrs.update(
                list_columns=["name", "rank", "sort_order", "active"],
                add_columns=["name", "rank", "sort_order", "active"],
                edit_columns=["name", "rank", "sort_order", "active"],
                show_columns=["name", "rank", "sort_order", "active"],
                base_order=("rank", "asc"),
                description_columns={
                    "rank": _l(
                        "0 for the county; each lower level one more; a level above the county (市) -1, "
                        "so nothing below is renumbered."
                    )
                },  # fmt: skip
            )
        views.append(type(f"{model.__name__}View", (LookupView,), attrs))
    return views
