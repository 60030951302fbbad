"""后台任务: a job's progress page, its status (JSON, polled by the page) and its result.

Only the user who asked for a job sees it: anyone else (another user, someone logged out) gets a
404, as for a record outside their jurisdiction. No FAB permission: the job was allowed when it
was asked for, and it ran with the user's permissions then.
"""

from flask import abort, flash, jsonify, redirect, send_file, url_for
from flask_appbuilder import BaseView
from flask_appbuilder.views import expose
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from app.core import jobs
from app.services import rollups, scope

STATUS_LABELS = {
    jobs.QUEUED: _l("Waiting to start"),
    jobs.RUNNING: _l("Running"),
    jobs.DONE: _l("Done"),
    jobs.FAILED: _l("Failed"),
}


FOUND_PENDING = _l(
    "The grids' own discoveries (发现) are being counted again for the channels now named, in the background; "
    "until that is done the dashboard and the accountability table show the old figures."
)


def flash_found_job():
    """After a change of the channels counted as 发现 (the setting, a channel's name): the flash
    that says the figures follow once a job is done, with a link to its progress (if this
    request started one: `rollups.found_changed`)."""
    job_id = rollups.found_job()
    if job_id:
        link = Markup('<a href="%s">%s</a>') % (url_for("JobView.page", job_id=job_id), str(_l("See its progress")))
        flash(Markup("%s %s") % (str(FOUND_PENDING), link), "info")


def _own_job(job_id):
    user = scope.current_user()
    job = jobs.load_for(job_id, user.id if user is not None else None)
    if job is None:
        abort(404)
    return job


def _status(job):
    body = job.public()
    body["status_label"] = str(STATUS_LABELS[body["status"]])
    if body["result"]:
        body["download_url"] = url_for("JobView.download", job_id=job.id)
    return body


class JobView(BaseView):
    route_base = "/jobs"
    default_view = "page"

    @expose("/<job_id>")
    def page(self, job_id):
        if scope.current_user() is None:
            return redirect(url_for(self.appbuilder.sm.auth_view.__class__.__name__ + ".login"))
        job = _own_job(job_id)
        return self.render_template(
            "minqing/job.html",
            title=job.title or _l("Background job"),
            job=_status(job),
            status_url=url_for("JobView.status", job_id=job.id),
            retry_url=url_for("JobView.retry", job_id=job.id),
        )

    @expose("/<job_id>/status")
    def status(self, job_id):
        return jsonify(_status(_own_job(job_id)))

    @expose("/<job_id>/retry", methods=["POST"])
    def retry(self, job_id):
        """Start again a job whose background worker stopped under it (the page's button; CSRF-checked)."""
        job = _own_job(job_id)
        new_id = jobs.resubmit(job)
        if new_id is None:
            flash(str(_l("This job cannot be started again.")), "warning")
            return redirect(url_for("JobView.page", job_id=job.id))
        return redirect(url_for("JobView.page", job_id=new_id))

    @expose("/<job_id>/download")
    def download(self, job_id):
        job = _own_job(job_id)
        if not job.public()["result"]:
            abort(404)
        try:
            fh, name, mimetype = jobs.result_file(job)
        except OSError:
            abort(404)  # pruned, or JOBS_DIR is not shared between the servers
        return send_file(fh, as_attachment=True, download_name=name, mimetype=mimetype)
