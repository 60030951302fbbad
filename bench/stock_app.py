"""Stock Flask-AppBuilder over the same tables, in two configurations.

* stock: plain ModelView + SQLAInterface with FAB's defaults — what FAB gives without any of
  MinQing's work (every column searchable and on the forms, so relation drop-downs load whole
  tables; no pickers, no count or eager-load tuning).
* stock-lite (`lite=True`): the fair configuration an expert would give stock FAB — the same
  list columns, but search and add/edit columns cut to plain columns and small lookup tables
  (no drop-down of 10,000 grids or 200,000 people), the list's relations still shown.

The bench logs in as the admin and measures the same pages in both.
Run alone for a look: `DATABASE_URL=... [STOCK_LITE=1] flask --app bench/stock_app.py run`.
"""

import os

from flask import Flask
from flask_appbuilder import AppBuilder, ModelView
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.security.sqla.manager import SecurityManager  # noqa: F401 (the default)

from app.extensions import db
from app.models import Appeal, Grid, Person, Visit


class StockAppealView(ModelView):
    datamodel = SQLAInterface(Appeal)
    list_columns = ["number", "reporter_name", "category", "importance", "status", "grid", "due_date"]


class StockVisitView(ModelView):
    datamodel = SQLAInterface(Visit)
    list_columns = ["visit_date", "visited_name", "form", "grid", "target", "visitors"]


class StockPersonView(ModelView):
    datamodel = SQLAInterface(Person)
    list_columns = ["name", "gender", "unit", "position", "kind", "grid"]


class StockGridView(ModelView):
    datamodel = SQLAInterface(Grid)
    list_columns = ["code", "name", "level", "parent"]


VIEWS = {"appeal": StockAppealView, "visit": StockVisitView, "person": StockPersonView, "grid": StockGridView}

# stock-lite: plain columns and small lookups only, where stock FAB would build drop-downs of
# big tables (grids, people, appeals, users); the class names (so the URLs) stay the same
LITE = {
    "appeal": {
        "search_columns": ["number", "reporter_name", "reporter_phone", "content", "category", "importance", "status",
                           "due_date", "registered_at"],
        "add_columns": ["reporter_name", "reporter_phone", "reporter_address", "content", "category", "channel",
                        "importance"],
        "edit_columns": ["reporter_name", "reporter_phone", "reporter_address", "content", "category", "channel",
                         "importance"],
    },
    "visit": {
        "search_columns": ["visit_date", "visited_name", "address", "form", "target"],
        "add_columns": ["visit_date", "visited_name", "visited_phone", "address", "family_size", "form", "target",
                        "situation", "problems"],
        "edit_columns": ["visit_date", "visited_name", "visited_phone", "address", "family_size", "form", "target",
                         "situation", "problems"],
    },
    "person": {
        "search_columns": ["name", "gender", "unit", "position", "kind"],
        "add_columns": ["name", "gender", "unit", "position", "phone"],
        "edit_columns": ["name", "gender", "unit", "position", "phone"],
    },
    "grid": {
        "search_columns": ["code", "name", "path"],
        "add_columns": ["code", "name", "level"],
        "edit_columns": ["code", "name", "level"],
    },
}  # fmt: skip


def lite_views():
    return {name: type(view.__name__, (view,), LITE[name]) for name, view in VIEWS.items()}


def create_stock_app(url, lite=False):
    app = Flask(__name__)
    app.config.update(
        SQLALCHEMY_DATABASE_URI=url,
        SECRET_KEY="stock-fab-bench-secret-key-0123456789abcdef",
        WTF_CSRF_ENABLED=False,
        FAB_UPDATE_PERMS=True,  # the Admin role gets the permissions of the views below
        FAB_CREATE_DB=False,
        AUTH_TYPE=1,
        AUTH_ROLE_ADMIN="Admin",
        RATELIMIT_ENABLED=False,
        FAB_ADD_SECURITY_API=False,
    )
    db.init_app(app)
    with app.app_context():
        appbuilder = AppBuilder()
        appbuilder.init_app(app, db.session)
        for name, view in (lite_views() if lite else VIEWS).items():
            appbuilder.add_view(view, name.title(), category="Stock")
    return app


def create_app():
    """For `flask --app bench/stock_app.py run` against DATABASE_URL."""
    return create_stock_app(
        os.environ.get("DATABASE_URL", "sqlite:///instance/bench/medium.db"), lite=os.environ.get("STOCK_LITE") == "1"
    )
