"""MinQing (民情通): a Flask-AppBuilder admin for grassroots mass work.

Layers, bottom up: core (time, errors, unit of work, cache, Excel, mail) → models →
services (the rules) → views (declare; FAB's private names only in views/fab_compat).
See docs/architecture.md.
"""

from app.factory import create_app  # noqa: F401
