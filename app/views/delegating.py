"""A view registered once whose requests are served by page objects built later (registers)."""

from __future__ import annotations

from flask import g, has_request_context
from flask_appbuilder import BaseView


class DelegatingView(BaseView):
    """A view registered once whose requests are served by page objects built later (a
    register's pages exist only once IT staff define it, when Flask no longer takes routes).

    FAB's templates ask the *registered* view (found by class name) which buttons the user
    may see; while a page object serves the request, those questions go to it.
    """

    DELEGATED = frozenset({"class_permission_name", "method_permission_name", "base_permissions", "actions",
                           "get_method_permission", "get_action_permission_name"})  # fmt: skip

    def current_page(self):
        return g.get("delegated_page") if has_request_context() else None

    def __getattribute__(self, name):
        if name in DelegatingView.DELEGATED:
            page = object.__getattribute__(self, "current_page")()
            if page is not None:
                return getattr(page, name)
        return object.__getattribute__(self, name)
