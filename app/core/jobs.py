"""The job queue: long work (big Excel exports, imports, reminders, rebuilds) out of the request.

    job_id = jobs.enqueue("remind")                     # a kind registered with @job_kind
    job_id = jobs.enqueue_request(title)                # run this GET again as a job (an export)

A job's state is a small JSON file under JOBS_DIR (`<id>.json`, its result beside it as
`<id>.result`): the status page and its JSON read it on any worker, and on any server when
JOBS_DIR is a shared directory. Inside the job, `job.progress(done, total)` updates it and
`job.save_result(data, filename)` keeps the file the user downloads.

Where a job runs:

* with JOBS_REDIS_URL (redis://…), on an RQ queue: `flask minqing worker` runs it, in another
  process (or server). A web worker restarting loses nothing: the job waits in Redis. A worker
  killed in the middle of a job (SIGKILL, a server lost) stops renewing the job's entry in RQ's
  StartedJobRegistry (every progress report renews it for 2 × JOBS_HEARTBEAT_SECONDS); RQ's own
  cleanup of abandoned jobs, run by any worker every JOBS_HEARTBEAT_SECONDS, then starts it again
  (JOBS_RETRY_ABANDONED times: a job writes in one transaction, so a killed run left nothing) or
  fails it with a Chinese reason and a button that starts it again. Never "running" for ever.
* without it (the embedded default, `make run`), in the same web worker once the response that
  started it has been sent (the WSGI server closes it; no thread), or at once outside a request
  (CLI, scheduler).

A job carries the user who asked. It runs in a request of its own, made from the original
one (path, arguments, language) with that user logged in and the request's usual hooks run, so
scope, masking and permissions apply as they did (or as they do now, if the user lost them).
Jobs of the system (the scheduler's) run without a request: they see everything, like the CLI.
A failed job keeps why, in the user's language: a domain error's own message, else a general one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import secrets
import time

import redis
from flask import after_this_request, current_app, g, has_request_context, request, session
from flask_babel import force_locale, gettext
from flask_babel import lazy_gettext as _l
from flask_login import login_user
from rq import Callback, Queue, Retry, SimpleWorker, get_current_job
from sqlalchemy import event

from app.core import metrics
from app.core.errors import DomainError
from app.extensions import db

log = logging.getLogger(__name__)

KINDS: dict = {}  # kind -> fn(job, **args), registered with @job_kind
SYSTEM_KINDS: set = set()  # the kinds the scheduler or `flask minqing enqueue KIND` may start
# run before a system job (no request, so no before_request hooks): the factory adds the settings' refresh,
# so a long-lived worker or scheduler sees the 系统参数 saved since it started
BEFORE_SYSTEM_JOB: list = []
QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
ID_PATTERN = re.compile(r"^[0-9a-f]{32}$")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
REQUEST_KIND = "request"
NO_ACCESS = _l("You may no longer do this: your permissions or your jurisdiction have changed.")
PROGRESS_SECONDS = 0.5  # a job's progress is written at most this often (and always at its end)
ABANDONED = _l(
    "The background worker stopped while this job ran (a server was restarted or lost); nothing of it was "
    "kept. Start it again with the button below."
)
RESTARTED = _l("The background worker stopped while this job ran; it was started again.")
_pending: list = []  # jobs waiting for their response to be closed (in-process mode)
_clients: dict = {}
_beat = {"worker": None, "at": 0.0}  # this process's RQ worker (`flask minqing worker`) and its last heartbeat


class Refused(DomainError):
    """A job that cannot do what was asked (its message is shown on the progress page)."""


def job_kind(name, system=True):
    """Register `fn(job, **args)` as the job kind `name` (decorator); `system=False`: only a user's
    request starts it (it needs that request's arguments: an upload), never `flask minqing enqueue`."""

    def register(fn):
        KINDS[name] = fn
        if system:
            SYSTEM_KINDS.add(name)
        return fn

    return register


class Job:
    """One job's state (a dict kept as JSON) and what a running job reports through it."""

    def __init__(self, state):
        self.state = state
        self._written = 0.0

    def __getattr__(self, name):
        try:
            return self.state[name]
        except KeyError:
            raise AttributeError(name) from None

    def progress(self, done, total=None, message=None):
        """`done` of `total` steps so far (written at most every PROGRESS_SECONDS, and at the end)."""
        self.state["done"] = int(done)
        if total is not None:
            self.state["total"] = int(total)
        if message is not None:
            self.state["message"] = str(message)
        finished = self.state.get("total") and self.state["done"] >= self.state["total"]
        if finished or time.monotonic() - self._written >= PROGRESS_SECONDS:
            self.save()

    def note(self, message):
        """What the user reads when the job is done (a summary, the import's outcome)."""
        self.state["message"] = str(message)

    def save_result(self, data, filename, mimetype=XLSX):
        """Keep `data` (bytes or a file object) as the file the user downloads as `filename`."""
        if hasattr(data, "read"):
            data = data.read()
        path = result_path(self.id)
        with open(path + ".part", "wb") as fh:
            fh.write(data)
        os.replace(path + ".part", path)
        self.state.update(result_name=filename, result_type=mimetype, result_size=len(data))

    def save(self):
        self.state["updated_at"] = time.time()
        _write(self.state)
        self._written = time.monotonic()
        _heartbeat()

    def public(self):
        """What the status JSON shows (never the arguments)."""
        s = self.state
        total = s.get("total") or 0
        percent = 100 if s["status"] == DONE else (min(99, int(100 * s.get("done", 0) / total)) if total else 0)
        stale = s["status"] in (QUEUED, RUNNING) and time.time() - s.get("updated_at", 0) > float(
            current_app.config["JOBS_STALE_SECONDS"]
        )
        return {
            "id": s["id"],
            "title": s.get("title") or "",
            "status": s["status"],
            "done": s.get("done", 0),
            "total": total,
            "percent": percent,
            "message": s.get("message") or "",
            "error": s.get("error") or "",
            "result": bool(s.get("result_name")) and s["status"] == DONE,
            "result_name": s.get("result_name") or "",
            "stale": stale,
            "errors": s.get("errors") or [],  # (row, column, message) of a refused import
            "retryable": s["status"] == FAILED and bool(s.get("retryable")),
        }


# -- where states and results are kept --------------------------------------------------------


def directory():
    path = current_app.config.get("JOBS_DIR") or os.path.join(current_app.instance_path, "jobs")
    os.makedirs(path, exist_ok=True)
    return path


def _state_path(job_id):
    return os.path.join(directory(), f"{job_id}.json")


def result_path(job_id):
    return os.path.join(directory(), f"{job_id}.result")


def _write(state):
    path = _state_path(state["id"])
    temporary = f"{path}.{os.getpid()}.tmp"
    with open(temporary, "w", encoding="utf-8") as fh:
        json.dump(state, fh, ensure_ascii=False)
    os.replace(temporary, path)  # readers see the old state or the new one, never half


def load(job_id):
    """The job `job_id`, or None (no such job, or not an id at all)."""
    if not isinstance(job_id, str) or not ID_PATTERN.match(job_id):
        return None
    try:
        with open(_state_path(job_id), encoding="utf-8") as fh:
            return Job(json.load(fh))
    except (OSError, ValueError):
        return None


def load_for(job_id, user_id):
    """The job, only for the user who asked for it (None for anyone else: 404)."""
    job = load(job_id)
    if job is None or user_id is None or job.user_id != user_id:
        return None
    return job


def prune(hours):
    """Delete the states and results of jobs last touched more than `hours` ago. Returns how many."""
    limit = time.time() - float(hours) * 3600
    removed = 0
    folder = directory()
    for name in os.listdir(folder):
        stem, _, extension = name.partition(".")
        if extension not in ("json", "upload") or not ID_PATTERN.match(stem):
            continue
        path = os.path.join(folder, name)
        with contextlib.suppress(OSError):
            if os.path.getmtime(path) < limit:
                with contextlib.suppress(FileNotFoundError):
                    os.remove(os.path.join(folder, stem + ".result"))
                os.remove(path)
                removed += extension == "json"
    return removed


# -- asking for a job ---------------------------------------------------------------------------


def _requesting_user():
    if not has_request_context():
        return None
    user = current_app.appbuilder.sm.current_user
    return user.id if user is not None and getattr(user, "is_authenticated", False) else None


def enqueue(kind, /, title="", user_id=None, **args):
    """Start job `kind` with `args` (JSON values) for the current user (or `user_id`; none
    outside a request: a system job). Returns the job's id."""
    if kind not in KINDS:
        raise KeyError(kind)
    if user_id is None:
        user_id = _requesting_user()
    job_id = secrets.token_hex(16)
    origin = {}
    if has_request_context() and user_id is not None:
        origin = {
            "path": request.path,
            "query": request.query_string.decode("latin-1"),
            "base_url": request.host_url,
            "locale": session.get("locale"),
        }
    state = {"id": job_id, "kind": kind, "title": str(title), "user_id": user_id, "args": args, "origin": origin,
             "status": QUEUED, "done": 0, "total": 0, "message": "", "error": "", "created_at": time.time()}  # fmt: skip
    return _submit(state)


def _submit(state):
    job_id = state["id"]
    Job(state).save()
    metrics.job(state["kind"], QUEUED)
    queue = _queue()
    if queue is not None:
        retries = int(current_app.config["JOBS_RETRY_ABANDONED"])
        try:
            queue.enqueue("app.core.jobs.run_queued", job_id, job_id=f"minqing-{job_id}",
                          job_timeout=int(current_app.config["JOBS_TIMEOUT"]), result_ttl=3600, failure_ttl=86400,
                          retry=Retry(max=retries) if retries > 0 else None,
                          on_failure=Callback("app.core.jobs.on_rq_failure"))  # fmt: skip
            return job_id
        except redis.RedisError as err:
            log.warning("JOBS_REDIS_URL unreachable, job %s runs in this process: %s", job_id, err)
    _run_here(job_id)
    return job_id


def resubmit(job):
    """Start a job that failed because its worker died again, as a new job of the same user, kind,
    arguments and origin (the job page's button). Returns the new job's id, or None (not retryable)."""
    if not job.public()["retryable"]:
        return None
    state = {key: job.state.get(key) for key in ("kind", "title", "user_id", "args", "origin")}
    state.update(id=secrets.token_hex(16), status=QUEUED, done=0, total=0, message="", error="",
                 created_at=time.time(), retry_of=job.id)  # fmt: skip
    job.state["retryable"] = False  # once
    job.save()
    return _submit(state)


def enqueue_request(title):
    """Run the current GET request again as a job, for the same user (a big export)."""
    return enqueue(REQUEST_KIND, title=title)


def _queue():
    url = current_app.config.get("JOBS_REDIS_URL")
    if not url:
        return None
    return Queue(current_app.config["JOBS_QUEUE"], connection=connection(url))


def connection(url=None):
    url = url or current_app.config["JOBS_REDIS_URL"]
    if url not in _clients:
        _clients[url] = redis.Redis.from_url(url, socket_connect_timeout=2)
    return _clients[url]


def _run_here(job_id):
    """In-process mode: after this request's response is sent (no thread), or now."""
    app = current_app._get_current_object()
    if not has_request_context():
        run(job_id, app)
        return

    def later():
        if job_id in _pending:
            _pending.remove(job_id)
            run(job_id, app)

    _pending.append(job_id)

    @after_this_request
    def _when_sent(response):
        response.call_on_close(later)
        return response


def run_pending():
    """Run the jobs whose responses were not closed yet (a test client keeps them open)."""
    app = current_app._get_current_object()
    while _pending:
        run(_pending.pop(0), app)


# -- running a job ------------------------------------------------------------------------------


def current():
    """The job this request runs as, or None (an ordinary request)."""
    return g.get("minqing_job") if has_request_context() else None


def run_queued(job_id):
    """What RQ runs (`flask minqing worker`)."""
    run(job_id, current_app._get_current_object())


def run(job_id, app):
    with app.app_context():
        job = load(job_id)
        if job is None or job.status != QUEUED:
            return  # gone (pruned), or already run (RQ retried a job whose worker died late)
        job.state.update(status=RUNNING, started_at=time.time())
        job.save()
        metrics.job(job.kind, RUNNING)
        try:
            if job.user_id is None:
                for hook in BEFORE_SYSTEM_JOB:
                    hook()
                KINDS[job.kind](job, **job.args)
            else:
                _run_as_user(app, job)
            db.session.commit()
        except DomainError as err:
            db.session.rollback()
            _finish(job, FAILED, error=str(err.message))
        except Exception:  # noqa: BLE001 - any failure is the job's, reported on its page
            db.session.rollback()
            log.exception("job %s (%s) failed", job.id, job.kind)
            _finish(job, FAILED, error=_failed_message(job))
        else:
            _finish(job, DONE)
        finally:
            db.session.remove()


def _failed_message(job):
    with force_locale((job.origin or {}).get("locale") or current_app.config["BABEL_DEFAULT_LOCALE"]):
        return gettext(
            "The job failed because of an internal error (job %(id)s). Please try again or tell the IT staff.",
            id=job.id[:8],
        )


def _finish(job, status, error=""):
    job.state.update(status=status, error=error, finished_at=time.time())
    if status == DONE and job.state.get("total"):
        job.state["done"] = job.state["total"]
    job.save()
    metrics.job(job.kind, status)


def _run_as_user(app, job):
    origin = job.origin
    with app.test_request_context(
        origin.get("path") or "/", query_string=origin.get("query") or "", base_url=origin.get("base_url")
    ):
        user = app.appbuilder.sm.get_user_by_id(job.user_id)
        if user is None or not user.is_active:
            raise Refused(NO_ACCESS)
        if origin.get("locale"):
            session["locale"] = origin["locale"]
        login_user(user)
        g.minqing_job = job
        try:
            answer = app.preprocess_request()  # the request's own hooks: settings, edge checks, user
            if answer is not None:
                raise Refused(NO_ACCESS)
            g.minqing_job = job  # a hook may have cleared `g`'s per-request state
            KINDS[job.kind](job, **job.args)
        except DomainError as err:
            err.message = str(err.message)  # rendered in the user's language, while the request lasts
            raise


@job_kind(REQUEST_KIND, system=False)
def _replay(job):
    """The original GET's view, run again: it sees `current()` and saves its result there."""
    view = current_app.view_functions[request.url_rule.endpoint]
    answer = view(**(request.view_args or {}))
    if job.state.get("result_name"):
        return
    status = current_app.make_response(answer).status_code if answer is not None else 500
    if status in (301, 302, 303, 401, 403, 404):
        raise Refused(NO_ACCESS)
    raise RuntimeError(f"the view answered {status} without a result")


# -- the RQ worker, and what happens to a job whose worker died ----------------------------------


class Worker(SimpleWorker):
    """RQ's SimpleWorker (the job runs in the worker's process, with the app's pool), whose running job
    is declared alive for 2 × JOBS_HEARTBEAT_SECONDS at a time (renewed by its progress reports), not
    for the whole JOBS_TIMEOUT: a killed worker's job is found abandoned within minutes."""

    heartbeat_seconds = 60

    def get_heartbeat_ttl(self, job):
        return 2 * int(self.heartbeat_seconds)


def _heartbeat():
    """Renew the running RQ job's entry in the StartedJobRegistry (at most every third of the beat)."""
    worker = _beat["worker"]
    if worker is None or getattr(worker, "execution", None) is None:
        return
    if time.monotonic() - _beat["at"] < worker.heartbeat_seconds / 3:
        return
    rq_job = get_current_job()
    if rq_job is None:
        return
    try:
        worker.maintain_heartbeats(rq_job)
        _beat["at"] = time.monotonic()
    except redis.RedisError as err:  # the job goes on; Redis may be back for the next beat
        log.warning("job heartbeat not sent: %s", err)


def on_rq_failure(rq_job, connection, exc_type, exc_value, traceback):
    """RQ's failure callback: above all its cleanup of abandoned jobs (AbandonedJobError: the worker
    died). The job's state says what happens next: started again (RQ retries it when retries are
    left) or failed with why, and a button to start it again."""
    job = load(rq_job.args[0] if rq_job.args else None)
    if job is None or job.status not in (QUEUED, RUNNING):
        return  # it finished (and wrote why) before its worker went away
    locale = (job.origin or {}).get("locale") or current_app.config["BABEL_DEFAULT_LOCALE"]
    log.warning("job %s (%s): its worker stopped (%s)", job.id, job.kind, getattr(exc_type, "__name__", exc_type))
    with force_locale(locale):
        if rq_job.retries_left and rq_job.retries_left > 0:
            job.state.update(status=QUEUED, done=0, message=str(RESTARTED), restarts=job.state.get("restarts", 0) + 1)
            job.save()
            metrics.job(job.kind, QUEUED)
            return
        job.state["retryable"] = True
        _finish(job, FAILED, error=str(ABANDONED))


def work(burst=False):
    """`flask minqing worker`: run queued jobs until stopped (or, with burst, until none is left)."""
    url = current_app.config.get("JOBS_REDIS_URL")
    if not url:
        raise RuntimeError("JOBS_REDIS_URL is not set: jobs run inside the web server, no worker is needed")
    conn = connection(url)
    beat = max(1, int(current_app.config["JOBS_HEARTBEAT_SECONDS"]))
    worker = Worker([Queue(current_app.config["JOBS_QUEUE"], connection=conn)], connection=conn,
                    maintenance_interval=beat, worker_ttl=beat + 15)  # fmt: skip
    worker.heartbeat_seconds = beat
    _beat.update(worker=worker, at=0.0)
    # besides its progress reports, every SQL statement of a job says it is alive: a long phase with no
    # progress (a big write, a rebuild) is not taken for abandoned by another worker and run twice
    event.listen(db.engine, "before_cursor_execute", _statement_heartbeat)
    try:
        return worker.work(burst=burst, with_scheduler=False)
    finally:
        event.remove(db.engine, "before_cursor_execute", _statement_heartbeat)
        _beat["worker"] = None


def _statement_heartbeat(*_args):
    _heartbeat()


def result_file(job):
    """(an open file, download name, type) of a finished job's result."""
    return open(result_path(job.id), "rb"), job.result_name, job.state.get("result_type") or XLSX  # noqa: SIM115
