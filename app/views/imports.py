"""数据导入: download a template, upload a filled one, get all-or-nothing results.

A file larger than IMPORT_JOB_KB is imported by a job (app/core/jobs.py) as the same user: the page
shows its progress, then how many rows were imported or every error of the file (nothing written).
"""

import os
import secrets

from flask import abort, current_app, flash, redirect, request, send_file, url_for
from flask_appbuilder import BaseView
from flask_appbuilder.security.decorators import has_access
from flask_appbuilder.views import expose
from flask_babel import lazy_gettext as _l

from app.core import jobs
from app.extensions import db
from app.services.audit import log_event
from app.services.importer import IMPORTERS, import_file, template_bytes
from app.views.appeals.common import current_actor


class ImportView(BaseView):
    route_base = "/import"
    default_view = "index"
    class_permission_name = "Import"
    method_permission_name = {"index": "read", "template": "read", "upload": "read"}

    def _kinds(self):
        sm = self.appbuilder.sm
        return [imp for imp in IMPORTERS.values() if sm.has_access("can_write", imp.resource)]

    def _importer(self, kind):
        importer = IMPORTERS.get(kind)
        if importer is None:
            abort(404)
        if not self.appbuilder.sm.has_access("can_write", importer.resource):
            abort(403)
        return importer

    @expose("/")
    @has_access
    def index(self):
        return self.render_template(
            "minqing/import.html",
            title=_l("Import from Excel"),
            kinds=self._kinds(),
            result=None,
            max_mb=current_app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024),
        )

    @expose("/template/<kind>")
    @has_access
    def template(self, kind):
        importer = self._importer(kind)
        return send_file(
            template_bytes(kind),
            as_attachment=True,
            download_name=f"{importer.title}-{_l('template')}.xlsx",
            mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )

    @expose("/upload", methods=["POST"])
    @has_access
    def upload(self):
        kind = request.form.get("kind", "")
        importer = self._importer(kind)
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            flash(str(_l("Choose a file to upload.")), "danger")
            return redirect(url_for("ImportView.index"))
        if upload_size(upload.stream) > int(current_app.config["IMPORT_JOB_KB"]) * 1024 > 0:
            name = f"{secrets.token_hex(16)}.upload"
            upload.save(os.path.join(jobs.directory(), name))
            job_id = jobs.enqueue("import", title=_l("Import: %(kind)s", kind=importer.title), kind=kind, upload=name)
            return redirect(url_for("JobView.page", job_id=job_id))
        result = import_file(
            db.session, kind, upload.stream, current_app.config["IMPORT_MAX_ROWS"], actor=current_actor()
        )
        if result.ok:
            log_event(db.session, "import", summary=f"{kind}: {result.created}")
            flash(str(_l("%(count)s rows imported.", count=result.created)), "success")
        else:
            flash(str(_l("Nothing was imported: the file has %(count)s errors.", count=len(result.errors))), "danger")
        page = self.render_template(
            "minqing/import.html",
            title=_l("Import from Excel"),
            kinds=self._kinds(),
            result=result,
            importer=importer,
            max_mb=current_app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024),
        )
        return page, 200 if result.ok else 422


def upload_size(stream):
    """The bytes of an upload (its stream is left at its start)."""
    stream.seek(0, os.SEEK_END)
    size = stream.tell()
    stream.seek(0)
    return size


def run_import_job(job, upload, choose):
    """The body of every import job (built-in records, registers): `choose()` names (kind, importer
    class) or refuses; the upload is imported all or nothing as the user who sent it, every row's and
    column's problem kept on the job's page when refused; the uploaded file is removed either way."""
    path = os.path.join(jobs.directory(), os.path.basename(upload))
    try:
        kind, importer_class = choose()
        with open(path, "rb") as fh:
            result = import_file(db.session, kind, fh, current_app.config["IMPORT_MAX_ROWS"], actor=current_actor(),
                                 importer_class=importer_class, progress=job.progress)  # fmt: skip
    finally:
        if os.path.exists(path):
            os.remove(path)
    if not result.ok:
        job.state["errors"] = [list(error) for error in result.errors[:500]]
        raise jobs.Refused(_l("Nothing was imported: the file has %(count)s errors.", count=len(result.errors)))
    log_event(db.session, "import", summary=f"{kind}: {result.created}")
    job.note(_l("%(count)s rows imported.", count=result.created))


@jobs.job_kind("import", system=False)
def import_job(job, kind, upload):
    """The upload, imported all or nothing as the user who sent it (their scope, their rights)."""

    def choose():
        importer = IMPORTERS.get(kind)
        if importer is None or not current_app.appbuilder.sm.has_access("can_write", importer.resource):
            raise jobs.Refused(jobs.NO_ACCESS)
        return kind, None

    run_import_job(job, upload, choose)
