"""Excel export of any list: what the user sees (filters, order, scope, masking) as .xlsx.

An export of more than EXPORT_JOB_ROWS rows becomes a job (app/core/jobs.py): the user is sent to
its progress page, and the job runs this same view again as that user, saving the file there.
"""

from __future__ import annotations

from flask import abort, current_app, redirect, send_file, url_for
from flask_appbuilder.security.decorators import has_access
from flask_appbuilder.urltools import get_order_args
from flask_appbuilder.views import expose
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from app.core import jobs
from app.core.clock import now
from app.core.excel import workbook_bytes
from app.extensions import db
from app.services.audit import log_event
from app.views.fab_compat import active_filters, joined_with_base

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def export_value(formatter, value):
    """A cell's value: the column's formatter applied, labels without their HTML."""
    if formatter is not None:
        value = formatter(value)
    if value is None:
        return ""
    if hasattr(value, "__html__"):  # a list's label (Markup is a str): the text, without its tags
        return Markup(value.__html__()).striptags()
    if isinstance(value, (str, int, float, bool)) or hasattr(value, "isoformat"):
        return value
    return str(value)


def chunks(iterable, size):
    chunk = []
    for item in iterable:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def xlsx_name(title):
    return f"{title}-{now().strftime('%Y%m%d-%H%M')}.xlsx"


def xlsx_response(buffer, title):
    return send_file(buffer, as_attachment=True, download_name=xlsx_name(title), mimetype=XLSX)


class ExportMixin:
    """`/export/` on a ScopedModelView: the list as the user sees it, in Excel."""

    export_columns = None  # defaults to list_columns
    export_formatters = {}  # column -> formatter of its cells where the list's does not fit a sheet

    def export_formatter(self, column):
        return self.export_formatters.get(column) or self.formatters_columns.get(column)

    def export_url(self):
        if self.include_route_methods is not None and "export" not in self.include_route_methods:
            return None
        if not self.appbuilder.sm.has_access("can_read", self.class_permission_name):
            return None
        return url_for(f"{self.endpoint}.export")

    def filtered_query(self, limit):
        """The list's rows as the user sees them (URL filters, quick buttons, scope, order), at most `limit`."""
        try:
            filters = active_filters(self)
            orders = get_order_args().get(self.__class__.__name__)
        except (ValueError, TypeError):
            abort(400)
        order_column, order_direction = orders or (self.base_order or ("", ""))
        joined = joined_with_base(self, self.list_filters(self.filters_for_user(filters)))
        return self.datamodel.apply_all(
            db.session.query(self.datamodel.obj), joined, order_column, order_direction, page=0, page_size=limit
        )

    @expose("/export/")
    @has_access
    def export(self):
        limit = current_app.config.get("EXPORT_MAX_ROWS", 100000)
        job = jobs.current()
        threshold = int(current_app.config.get("EXPORT_JOB_ROWS") or 0)
        if job is None and threshold and self.filtered_query(threshold + 1).count() > threshold:
            job_id = jobs.enqueue_request(title=_l("Excel export: %(list)s", list=self.list_title))
            return redirect(url_for("JobView.page", job_id=job_id))
        query = self.filtered_query(limit)
        columns = self.export_columns or self.list_columns
        headers = [self.label_columns.get(c, c) for c in columns]
        total = query.count() if job is not None else 0

        def rows():
            done = 0
            for chunk in chunks(query.yield_per(1000), 1000):  # values (and masks) a thousand at a time
                for values in self.datamodel.get_values(chunk, columns):
                    yield [export_value(self.export_formatter(c), values[c]) for c in columns]
                done += len(chunk)
                if job is not None:
                    job.progress(done, total)

        buffer, count = workbook_bytes(str(self.list_title), headers, rows())
        log_event(db.session, "export", summary=f"{self.__class__.__name__}: {count}")
        if job is not None:
            job.save_result(buffer, xlsx_name(self.list_title))
            job.note(_l("%(count)s rows exported.", count=count))
            return None
        return xlsx_response(buffer, self.list_title)
