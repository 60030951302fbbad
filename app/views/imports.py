"""数据导入: download a template, upload a filled one, get all-or-nothing results."""

from flask import abort, current_app, flash, redirect, request, send_file, url_for
from flask_appbuilder import BaseView
from flask_appbuilder.security.decorators import has_access
from flask_appbuilder.views import expose
from flask_babel import lazy_gettext as _l

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
