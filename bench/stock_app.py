"""Stock Flask-AppBuilder over the same tables: plain ModelView + SQLAInterface, default settings.

What FAB gives without any of MinQing's work (no search_columns, no pickers, no count
or eager-load tuning). The bench logs in as the admin and measures the same pages.
Run alone for a look: `DATABASE_URL=... flask --app bench/stock_app.py run`.
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


def create_stock_app(url):
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
        for name, view in VIEWS.items():
            appbuilder.add_view(view, name.title(), category="Stock")
    return app


def create_app():
    """For `flask --app bench/stock_app.py run` against DATABASE_URL."""
    return create_stock_app(os.environ.get("DATABASE_URL", "sqlite:///instance/bench/medium.db"))
