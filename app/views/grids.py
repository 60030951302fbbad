"""Grid pages: the tree list, a grid's page, its public notice and contact card, coverage."""

from flask_appbuilder.security.decorators import has_access
from flask_appbuilder.views import expose
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.core.clock import now
from app.extensions import db
from app.models.grids import Grid, chains, prefetch_tree_info
from app.models.personnel import Post
from app.services import grids as grid_service
from app.services import personnel as personnel_service
from app.services import scope
from app.views import ledgers
from app.views.api import ScopedModelApi
from app.views.pickers import register_picker
from app.views.scoped import ScopedInterface, ScopedModelView

GRID_LABELS = {
    "code": _l("Grid code"),
    "name": _l("Grid name"),
    "level": _l("Level"),
    "parent": _l("Parent grid"),
    "parent_chain": _l("Belongs to"),
    "child_count": _l("Sub-grids"),
    "households": _l("Households"),
    "address": _l("Address"),
    "description": _l("Description"),
    "sort_order": _l("Sort order"),
    "active": _l("Active"),
    "path": _l("Path"),
    "created_at": _l("Created at"),
    "updated_at": _l("Updated at"),
    "level.id": _l("Level"),
    "level.name": _l("Level"),
    "parent.id": _l("Parent grid"),
    "parent.name": _l("Parent grid"),
    "depth": _l("Depth"),
    "id": "ID",
}


def grid_labels(session, grids):
    chain_of = chains(session, grids)
    out = {}
    for grid in grids:
        chain = chain_of.get(grid.id)
        out[grid.id] = f"{grid.name}（{grid.code}）" + (f" · {chain}" if chain else "")
    return out


register_picker(
    "grid",
    Grid,
    resource="Grid",
    search=[Grid.name, Grid.code],
    label=grid_labels,
    order=[Grid.code],
)


class GridView(ScopedModelView):
    datamodel = ScopedInterface(Grid, prefetch=prefetch_tree_info)
    resource = "Grid"
    list_title = _l("Grids")
    show_title = _l("Grid")
    add_title = _l("Add grid")
    edit_title = _l("Edit grid")
    label_columns = GRID_LABELS
    list_columns = ["code", "name", "level", "parent_chain", "child_count", "households", "active"]
    order_columns = ["code", "name", "households"]
    search_columns = ["code", "name", "level", "parent", "active"]
    add_columns = ["code", "name", "level", "parent", "households", "address", "description", "sort_order", "active"]
    edit_columns = add_columns
    show_columns = [
        "code", "name", "level", "parent_chain", "child_count", "households", "address",
        "description", "active", "created_at", "updated_at",
    ]  # fmt: skip
    description_columns = {
        "code": _l("Unique, e.g. 410101001. Letters, digits, '.', '-' and '_'."),
        "parent": _l("Leave empty only for the top of the tree (city, county or township)."),
        "households": _l("Number of households, for the visit coverage rate."),
    }
    base_order = ("code", "asc")
    show_template = "minqing/grid_show.html"
    extra_permissions = {
        "notice": "read", "card": "read", "coverage": "read", "village_book": "read", "half_year": "read",
    }  # fmt: skip

    def validate(self, item):
        grid_service.validate_grid(db.session, item)

    def validate_delete(self, item):
        grid_service.check_grid_deletable(db.session, item)

    def _get_grid(self, pk):
        return self.get_in_scope(pk)

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        grid = self._get_grid(pk)
        widgets = self.show_widgets(pk, grid)
        session = db.session
        children = session.scalars(
            select(Grid).where(Grid.parent_id == grid.id).order_by(Grid.sort_order, Grid.code).limit(500)
        ).all()
        prefetch_tree_info(session, children)
        holders = personnel_service.holders(session, [grid.id], responsible_only=False)
        posts = {a.post for a in holders}
        return self.render_template(
            self.show_template,
            pk=pk,
            grid=grid,
            title=self.show_title,
            widgets=widgets,
            children=children,
            holders=holders,
            posts=sorted(posts, key=lambda p: (p.sort_order, p.id)),
            ancestors=grid_service.ancestors(session, grid),
            related_views=self._related_views,
        )

    @expose("/notice/<int:pk>")
    @has_access
    def notice(self, pk):
        grid = self._get_grid(pk)
        sections = personnel_service.public_notice(db.session, grid)
        return self.render_template("minqing/print/notice.html", grid=grid, sections=sections, printed_at=now())

    @expose("/card/<int:pk>")
    @has_access
    def card(self, pk):
        grid = self._get_grid(pk)
        sections = personnel_service.contact_card(db.session, grid)
        return self.render_template("minqing/print/card.html", grid=grid, sections=sections, printed_at=now())

    @expose("/village_book/<int:pk>")
    @has_access
    def village_book(self, pk):
        """一村一册: the grid's cases, visits and register entries in a period (?from=&to=), printed."""
        return ledgers.village_book(self, self._get_grid(pk))

    @expose("/half_year/<int:pk>")
    @has_access
    def half_year(self, pk):
        """半年小结: the grid's figures of a half-year (?year=&half=1|2), printed."""
        return ledgers.half_year(self, self._get_grid(pk))

    @expose("/coverage/")
    @has_access
    def coverage(self):
        report = grid_service.coverage_report(db.session, scope.clause_for(Grid))
        responsible_posts = db.session.scalars(
            select(Post.name).where(Post.is_responsible.is_(True)).order_by(Post.sort_order)
        ).all()
        return self.render_template(
            "minqing/coverage.html",
            title=_l("Coverage check"),
            report=report,
            responsible_posts=responsible_posts,
        )


class GridApi(ScopedModelApi):
    list_title = _l("Grids")
    show_title = _l("Grid")
    add_title = _l("Grid")
    edit_title = _l("Grid")
    resource_name = "grid"
    resource = "Grid"
    label_columns = GRID_LABELS
    datamodel = ScopedInterface(Grid)
    list_columns = [
        "id",
        "code",
        "name",
        "level.id",
        "level.name",
        "parent.id",
        "parent.name",
        "depth",
        "households",
        "active",
    ]
    show_columns = list_columns + ["address", "description", "path", "sort_order"]
    add_columns = ["code", "name", "level", "parent", "households", "address", "description", "sort_order", "active"]
    edit_columns = add_columns
    search_columns = ["code", "name", "level", "parent", "active"]
    order_columns = ["code", "name", "depth"]

    def validate(self, item):
        grid_service.validate_grid(db.session, item)

    def validate_delete(self, item):
        grid_service.check_grid_deletable(db.session, item)
