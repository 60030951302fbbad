"""Error pages in Chinese inside the application's layout (with the menu when logged in) and a
way back; under /api/ the same errors stay JSON ({"message": ...})."""

from __future__ import annotations

import logging
import math
import time
from urllib.parse import urlsplit

from flask import current_app, jsonify, render_template, request
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from markupsafe import escape

from app.extensions import db

log = logging.getLogger(__name__)

# status: (title, what happened)
PAGES = {
    403: (_l("No permission"), _l("Your account may not open this page. Ask your IT staff if your work needs it.")),
    404: (
        _l("Page not found"),
        _l("The page or record does not exist, was deleted, or is outside your jurisdiction."),
    ),
    429: (_l("Too many attempts"), _l("Too many login attempts from this address.")),
    500: (
        _l("Something went wrong"),
        _l("The server could not complete the request. It has been logged; please try again later."),
    ),
}


def register_error_pages(app):
    for status in PAGES:
        app.register_error_handler(status, error_page)


def retry_after_seconds(error):
    """Seconds until the login limit lets this address try again (the window when unknown)."""
    limiter = getattr(current_app.appbuilder.sm, "limiter", None)
    current = getattr(limiter, "current_limit", None) if limiter is not None else None
    if current is not None and getattr(current, "reset_at", None):
        return max(1, int(current.reset_at - time.time()))
    limit = getattr(getattr(error, "limit", None), "limit", None)
    return limit.get_expiry() if limit is not None else 60


def _way_back(home):
    """The previous page when it is one of ours (never another site's address), else home;
    minqing.js makes the link go back in the browser's history when there is one."""
    referrer = request.referrer or ""
    parts = urlsplit(referrer)
    if referrer and parts.netloc == request.host and parts.path != request.path:
        return referrer
    return home


def error_page(error):
    status = getattr(error, "code", None) or 500
    if status == 500:
        db.session.rollback()  # the failed request's transaction must not break the page
    title, detail = PAGES.get(status, PAGES[500])
    retry = None
    if status == 429:
        seconds = retry_after_seconds(error)
        retry = gettext("Please try again in %(n)s minute(s).", n=max(1, math.ceil(seconds / 60)))
    if request.path.startswith("/api/"):
        message = f"{detail} {retry}" if retry else str(detail)
        response = jsonify(message=message)
    else:
        try:
            appbuilder = current_app.appbuilder
            body = render_template(
                "minqing/error.html",
                base_template=appbuilder.base_template,
                appbuilder=appbuilder,
                status=status,
                title=title,
                detail=detail,
                retry=retry,
                back=_way_back(appbuilder.get_url_for_index),
                home=appbuilder.get_url_for_index,
            )
        except Exception:  # the layout itself failed (the database is down...): the bare message
            log.exception("the error page could not be drawn")
            db.session.rollback()
            home = escape(gettext("Back to the home page"))
            body = (
                f"<!DOCTYPE html><meta charset='utf-8'><h1>{escape(title)}</h1><p>{escape(detail)}</p>"
                f"<p><a href='/'>{home}</a></p>"
            )
        response = current_app.response_class(body, mimetype="text/html")
    response.status_code = status
    if status == 429 and retry:
        response.headers["Retry-After"] = str(retry_after_seconds(error))
    return response
