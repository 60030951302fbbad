"""Extension singletons, kept apart so models and services import them without cycles.

AppBuilder is created per application in create_app() (reachable as
current_app.appbuilder): FAB keeps its registered views on the instance, so a
module-level AppBuilder would accumulate views when tests build several apps.
"""

from flask_appbuilder.models.sqla.base import SQLA
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect

db = SQLA()
migrate = Migrate()
# FAB does not register CSRF protection itself: without this, its delete and
# action forms (and ours) would post unprotected. Its JSON APIs exempt themselves.
csrf = CSRFProtect()
