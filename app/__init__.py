"""MinQing (民情通): a Flask-AppBuilder admin for grassroots mass work.

Layers, bottom up: core (time, errors, unit of work, cache, Excel, mail) → models →
services (the rules) → views (declare; FAB's private names only in views/fab_compat).
See docs/architecture.md.
"""

# The release, raised with every deployment that changes code: shared cache keys carry it,
# so servers of two releases side by side (a rolling deploy) never read each other's values.
__version__ = "2026.12.1"

from app.factory import create_app  # noqa: E402,F401
