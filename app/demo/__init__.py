"""Demo data: the small demo every `make run` shows, and bulk data at a county's volume.

Not part of the product's rules: it drives the real services (small demo) or writes
what they would have written (bulk), so screens and benchmarks have something to show.
"""

from app.demo.base import DEMO_USERNAMES, create_demo_logins, demo_logins, load_demo  # noqa: F401
