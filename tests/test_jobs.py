"""The job queue (app/core/jobs.py): big exports as jobs with progress, run as the user who asked
(scope and masking), results only for that user, failures explained in Chinese, RQ and the
scheduler."""

import io
import os
import uuid

import pytest
import redis
from openpyxl import load_workbook

from app.core import jobs, schedule
from app.core.clock import frozen
from app.core.errors import DomainError
from app.extensions import db
from tests.conftest import login
from tests.factories import make_appeal, make_user, tree


@pytest.fixture
def small_jobs(app, monkeypatch, tmp_path):
    """Exports of more than 2 rows become jobs; each test has its own job directory."""
    monkeypatch.setitem(app.config, "EXPORT_JOB_ROWS", 2)
    monkeypatch.setitem(app.config, "JOBS_DIR", str(tmp_path / "jobs"))
    monkeypatch.setitem(app.config, "JOBS_REDIS_URL", "")
    yield app
    jobs._pending.clear()


def _three_appeals(t):
    make_appeal(t["a1"], reporter_name="甲一群众", reporter_phone="13811112222", at="2026-03-02 09:00")
    make_appeal(t["a2"], reporter_name="甲二群众", at="2026-03-03 09:00")
    make_appeal(t["a1"], reporter_name="甲三群众", at="2026-03-04 09:00")
    make_appeal(t["b1"], reporter_name="乙镇群众", at="2026-03-04 09:00")


def _start_export(client, query=""):
    response = client.get(f"/appealview/export/{query}")
    assert response.status_code == 302, response.status_code
    job_id = response.headers["Location"].rstrip("/").split("/")[-1]
    assert jobs.ID_PATTERN.match(job_id)
    return job_id


def _sheet(data):
    ws = load_workbook(io.BytesIO(data)).active
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    return [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]


def test_a_big_export_is_a_job_with_progress_and_the_users_own_view(client, small_jobs):
    t = tree()
    _three_appeals(t)
    leader = make_user("Leader", t["ta"])
    login(client, leader)
    job_id = _start_export(client)
    state = client.get(f"/jobs/{job_id}/status").json
    assert state["status"] == "queued" and state["status_label"] == "等待开始" and not state["result"]
    page = client.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert 'id="mq-job-bar"' in page and "jobs.js" in page and "Excel导出" in page

    jobs.run_pending()  # what the WSGI server does once the response is sent

    state = client.get(f"/jobs/{job_id}/status").json
    assert state["status"] == "done" and state["percent"] == 100 and state["done"] == state["total"] == 3
    assert state["message"] == "已导出 3 行。" and state["download_url"].endswith(f"/jobs/{job_id}/download")
    download = client.get(state["download_url"])
    assert download.status_code == 200 and download.mimetype.endswith("spreadsheetml.sheet")
    rows = _sheet(download.data)
    # the job ran as the leader: their township only, phones masked (no sensitive-data permission)
    assert {r["反映人"] for r in rows} == {"甲一群众", "甲二群众", "甲三群众"}
    assert next(r for r in rows if r["反映人"] == "甲一群众")["电话"] == "138****2222"


def test_the_job_keeps_the_lists_filters(client, small_jobs):
    t = tree()
    _three_appeals(t)
    make_appeal(t["a1"], reporter_name="甲四群众", at="2026-03-05 09:00")
    login(client, make_user("Clerk", t["ta"]))
    job_id = _start_export(client, f"?_flt_0_grid={t['a1'].id}")
    jobs.run_pending()
    rows = _sheet(client.get(f"/jobs/{job_id}/download").data)
    assert {r["反映人"] for r in rows} == {"甲一群众", "甲三群众", "甲四群众"}
    assert rows[0]["电话"] == "13811112222" or "13811112222" in {r["电话"] for r in rows}  # a clerk reads phones


def test_small_exports_stay_in_the_request(client, small_jobs):
    t = tree()
    make_appeal(t["a1"], reporter_name="甲一群众")
    login(client, make_user("Clerk", t["ta"]))
    response = client.get("/appealview/export/")
    assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")
    assert not jobs._pending


def test_only_the_user_who_asked_sees_the_job(client, small_jobs):
    t = tree()
    _three_appeals(t)
    login(client, make_user("Clerk", t["ta"]))
    job_id = _start_export(client)
    jobs.run_pending()
    assert client.get(f"/jobs/{job_id}/download").status_code == 200
    login(client, make_user("Clerk", t["ta"]))  # a colleague with the same rights
    for path in (f"/jobs/{job_id}", f"/jobs/{job_id}/status", f"/jobs/{job_id}/download"):
        assert client.get(path).status_code == 404, path
    assert client.get("/jobs/../../etc/passwd/status").status_code == 404
    assert client.get("/jobs/" + "0" * 32 + "/status").status_code == 404
    client.get("/logout/")
    assert client.get(f"/jobs/{job_id}").status_code == 302  # to the login page
    assert client.get(f"/jobs/{job_id}/status").status_code == 404


def test_a_user_who_lost_the_right_meanwhile_gets_no_file(client, small_jobs, sm):
    t = tree()
    _three_appeals(t)
    clerk = make_user("Clerk", t["ta"])
    login(client, clerk)
    job_id = _start_export(client)
    clerk.active = False
    db.session.commit()
    jobs.run_pending()
    state = jobs.load(job_id).public()
    assert state["status"] == "failed" and not state["result"]
    assert state["error"] == "您已无权进行此操作：您的权限或管辖范围已变更。"
    assert not os.path.exists(jobs.result_path(job_id))


@jobs.job_kind("test-progress")
def _counting(job, steps, fail=None):
    for n in range(1, steps + 1):
        job.progress(n, steps, message=f"第{n}步")
        _seen.append(jobs.load(job.id).public())
    if fail == "domain":
        raise DomainError("文件第3行的网格编码不存在。")
    if fail == "bug":
        raise ZeroDivisionError("1/0")
    job.save_result(b"hello", "result.txt", "text/plain")


_seen = []


def test_progress_is_reported_while_the_job_runs(app, small_jobs, monkeypatch):
    monkeypatch.setattr(jobs, "PROGRESS_SECONDS", 0)
    _seen.clear()
    with frozen("2026-03-02 09:00"):
        job_id = jobs.enqueue("test-progress", title="测试", steps=3)  # no request: runs now
    assert [s["status"] for s in _seen] == ["running"] * 3
    assert _seen[0]["done"] == 1 and _seen[0]["percent"] == 33 and _seen[0]["message"] == "第1步"
    assert _seen[-1]["done"] == 3
    state = jobs.load(job_id).public()
    assert state["status"] == "done" and state["percent"] == 100 and state["result_name"] == "result.txt"
    assert jobs.load(job_id).user_id is None  # a system job


def test_a_failed_job_says_why_in_chinese(app, small_jobs, client):
    job_id = jobs.enqueue("test-progress", steps=1, fail="domain")
    state = jobs.load(job_id).public()
    assert state["status"] == "failed" and state["error"] == "文件第3行的网格编码不存在。"
    job_id = jobs.enqueue("test-progress", steps=1, fail="bug")
    state = jobs.load(job_id).public()
    assert state["status"] == "failed" and not state["result"]
    assert state["error"] == f"任务因系统内部错误失败（任务号 {job_id[:8]}），请重试或联系信息管理员。"


def test_the_page_shows_a_failure_to_its_user(client, small_jobs):
    t = tree()
    clerk = make_user("Clerk", t["ta"])
    login(client, clerk)
    with client.application.test_request_context("/"):
        job_id = jobs.enqueue("test-progress", user_id=clerk.id, steps=2, fail="domain")
    jobs.run_pending()
    page = client.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert "文件第3行的网格编码不存在。" in page and "失败" in page


def test_a_job_stuck_for_long_is_flagged(app, small_jobs, monkeypatch):
    job = jobs.Job({"id": "a" * 32, "kind": "remind", "status": "queued", "user_id": None})
    job.save()
    monkeypatch.setitem(app.config, "JOBS_STALE_SECONDS", 0)
    assert jobs.load("a" * 32).public()["stale"] is True
    assert jobs.prune(0) == 1 and jobs.load("a" * 32) is None


def _redis_url(app):
    url = "redis://127.0.0.1:6379/14"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
    except redis.RedisError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    return url


def test_with_redis_a_worker_runs_the_job(client, small_jobs, monkeypatch):
    """JOBS_REDIS_URL: the request only queues the export; `flask minqing worker` runs it."""
    url = _redis_url(small_jobs)
    monkeypatch.setitem(small_jobs.config, "JOBS_REDIS_URL", url)
    monkeypatch.setitem(small_jobs.config, "JOBS_QUEUE", f"test-{uuid.uuid4().hex}")
    t = tree()
    _three_appeals(t)
    login(client, make_user("Leader", t["ta"]))
    job_id = _start_export(client)
    assert not jobs._pending and jobs.load(job_id).status == "queued"
    assert jobs.work(burst=True)  # the worker, here in this process (the cluster test runs a real one)
    state = client.get(f"/jobs/{job_id}/status").json
    assert state["status"] == "done", state
    rows = _sheet(client.get(f"/jobs/{job_id}/download").data)
    assert len(rows) == 3 and next(r for r in rows if r["反映人"] == "甲一群众")["电话"] == "138****2222"


def test_the_scheduler_starts_each_kind_once_a_day(app, small_jobs, monkeypatch):
    monkeypatch.setitem(app.config, "SCHEDULE", {"prune-jobs": "03:30", "rebuild-tallies": "23:00"})
    monkeypatch.setitem(app.config, "SCHEDULER_CHECK_SECONDS", 0)
    with frozen("2026-03-02 03:00"):
        assert schedule.tick() == []
    with frozen("2026-03-02 04:00"):
        started = schedule.tick()
        assert [kind for kind, _ in started] == ["prune-jobs"]
        assert jobs.load(started[0][1]).status == "done"  # without Redis the scheduler runs it itself
        assert schedule.tick() == []  # once a day
        assert schedule.serve(once=True) is True  # SQLite: one node, always the scheduler
    with frozen("2026-03-03 04:00"):
        assert [kind for kind, _ in schedule.tick()] == ["prune-jobs"]
    assert schedule.due({"remind": "08:00"}, __import__("datetime").datetime(2026, 3, 3, 8, 0), {}) == ["remind"]


@pytest.mark.commits
def test_one_scheduler_per_deployment_on_postgresql(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the advisory lock is PostgreSQL's")
    first, second = schedule.Leadership(db.engine), schedule.Leadership(db.engine)
    try:
        assert first.held() is True
        assert second.held() is False  # a standby
        assert first.held() is True
        first.release()
        assert second.held() is True  # takes over
    finally:
        first.release()
        second.release()


def _people_file(rows):
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.append(["姓名", "性别", "电话", "网格编码", "人员类别"])
    for row in rows:
        wb.active.append(row)
    buffer = io.BytesIO()
    wb.save(buffer)
    buffer.seek(0)
    return buffer


def _upload_people(client, rows):
    return client.post("/import/upload", data={"kind": "people", "file": (_people_file(rows), "people.xlsx")},
                       content_type="multipart/form-data")  # fmt: skip


def test_a_big_import_is_a_job_all_or_nothing(client, small_jobs, monkeypatch):
    from sqlalchemy import func, select

    from app.models.personnel import Person

    monkeypatch.setitem(small_jobs.config, "IMPORT_JOB_KB", 1)  # every file (an .xlsx is ~5 KB)
    t = tree()
    login(client, make_user("Clerk", t["ta"]))
    before = db.session.scalar(select(func.count()).select_from(Person))
    bad = _upload_people(client, [["好人甲", "男", "13800000001", "TA1", "网格员"], ["外镇人", "男", "", "TB1", ""]])
    assert bad.status_code == 302
    job_id = bad.headers["Location"].rstrip("/").split("/")[-1]
    jobs.run_pending()
    state = client.get(f"/jobs/{job_id}/status").json
    assert state["status"] == "failed" and state["error"] == "未导入任何数据：文件中有 1 处错误。"
    assert state["errors"] == [[3, "网格编码", "没有编码为 TB1 的网格。"]] or state["errors"][0][0] == 3
    page = client.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert 'id="mq-job-errors"' in page and "TB1" in page
    assert db.session.scalar(select(func.count()).select_from(Person)) == before  # nothing written
    assert not [n for n in os.listdir(jobs.directory()) if n.endswith(".upload")]  # the upload is gone

    good = _upload_people(client, [["好人甲", "男", "13800000001", "TA1", "网格员"], ["好人乙", "女", "", "TA2", ""]])
    job_id = good.headers["Location"].rstrip("/").split("/")[-1]
    jobs.run_pending()
    state = client.get(f"/jobs/{job_id}/status").json
    assert state["status"] == "done" and state["message"] == "已导入 2 行。" and state["percent"] == 100
    assert db.session.scalar(select(func.count()).select_from(Person)) == before + 2


def test_the_audit_trail_is_pruned_after_its_retention(app, small_jobs, monkeypatch):
    import datetime

    from sqlalchemy import select

    from app.models.audit import AuditLog

    def trail():
        return db.session.scalars(select(AuditLog.summary).where(AuditLog.summary.like("保留测试%"))).all()

    for day in ("2026-01-01", "2026-02-20", "2026-03-01"):
        db.session.add(AuditLog(at=datetime.datetime.fromisoformat(f"{day} 09:00"), action="update",
                                summary=f"保留测试{day}"))  # fmt: skip
    db.session.commit()
    with frozen("2026-03-02 04:00"):
        monkeypatch.setitem(app.config, "AUDIT_RETENTION_DAYS", 0)
        kept = jobs.load(jobs.enqueue("prune-audit"))
        assert kept.status == "done" and "永久保留" in kept.message and len(trail()) == 3
        monkeypatch.setitem(app.config, "AUDIT_RETENTION_DAYS", 30)
        pruned = jobs.load(jobs.enqueue("prune-audit"))
    assert pruned.status == "done" and pruned.message == "已删除 30 天以前的操作日志 1 条。"
    assert sorted(trail()) == ["保留测试2026-02-20", "保留测试2026-03-01"]
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "prune")) is not None  # the prune is on record


def test_without_redis_the_job_runs_once_the_response_is_closed(client, small_jobs):
    """What a WSGI server does after sending the redirect: close the response, which runs the job (no thread)."""
    t = tree()
    _three_appeals(t)
    login(client, make_user("Clerk", t["ta"]))
    response = client.get("/appealview/export/")
    job_id = response.headers["Location"].rstrip("/").split("/")[-1]
    assert jobs.load(job_id).status == "queued"
    response.close()
    assert jobs.load(job_id).status == "done" and not jobs._pending
    jobs.run_pending()  # nothing left: it ran once
    assert jobs.load(job_id).public()["done"] == 3


def _die_while_running(app, job_id, return_worker=False):
    """A worker takes the job, starts it, and is killed (SIGKILL) before it ends: what is left in Redis
    (the job in RQ's StartedJobRegistry, its heartbeat no longer renewed) and in the job's state."""
    from rq import Queue

    conn = jobs.connection()
    queue = Queue(app.config["JOBS_QUEUE"], connection=conn)
    dying = jobs.Worker([queue], connection=conn)
    dying.heartbeat_seconds = 1
    rq_job, _ = Queue.dequeue_any([queue], None, connection=conn)
    dying.prepare_execution(rq_job)
    dying.prepare_job_execution(rq_job)
    job = jobs.load(job_id)
    job.state.update(status=jobs.RUNNING, done=1, total=3)
    job.save()
    return (queue, dying) if return_worker else queue


def _abandoned_found(queue):
    """The next worker's maintenance (RQ's StartedJobRegistry.cleanup), once the beat has expired."""
    import time

    from rq.registry import StartedJobRegistry

    StartedJobRegistry(queue=queue).cleanup(timestamp=time.time() + 5)


def test_a_job_whose_worker_was_killed_is_run_again_by_the_next_worker(client, small_jobs, monkeypatch):
    monkeypatch.setitem(small_jobs.config, "JOBS_REDIS_URL", _redis_url(small_jobs))
    monkeypatch.setitem(small_jobs.config, "JOBS_QUEUE", f"test-{uuid.uuid4().hex}")
    monkeypatch.setitem(small_jobs.config, "JOBS_RETRY_ABANDONED", 1)
    t = tree()
    _three_appeals(t)
    login(client, make_user("Leader", t["ta"]))
    job_id = _start_export(client)
    queue = _die_while_running(small_jobs, job_id)
    assert client.get(f"/jobs/{job_id}/status").json["status"] == "running"
    _abandoned_found(queue)
    state = client.get(f"/jobs/{job_id}/status").json
    assert state["status"] == "queued" and state["message"] == "后台进程在运行此任务时停止，任务已重新开始。"
    assert jobs.work(burst=True)  # the new worker
    state = client.get(f"/jobs/{job_id}/status").json
    assert state["status"] == "done" and state["result"], state
    assert len(_sheet(client.get(f"/jobs/{job_id}/download").data)) == 3


def test_a_job_whose_worker_was_killed_fails_in_chinese_and_can_be_started_again(client, small_jobs, monkeypatch):
    monkeypatch.setitem(small_jobs.config, "JOBS_REDIS_URL", _redis_url(small_jobs))
    monkeypatch.setitem(small_jobs.config, "JOBS_QUEUE", f"test-{uuid.uuid4().hex}")
    monkeypatch.setitem(small_jobs.config, "JOBS_RETRY_ABANDONED", 0)
    t = tree()
    _three_appeals(t)
    leader = make_user("Leader", t["ta"])
    login(client, leader)
    job_id = _start_export(client)
    queue = _die_while_running(small_jobs, job_id)
    _abandoned_found(queue)
    state = client.get(f"/jobs/{job_id}/status").json
    assert state["status"] == "failed" and state["retryable"]
    assert state["error"].startswith("后台进程在运行此任务时停止（服务器重启或故障）")
    page = client.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert 'id="mq-job-retry"' in page and "重新开始" in page
    # another user cannot start it again; its owner can, once
    other = client.application.test_client()
    login(other, make_user("Leader", t["ta"]))
    assert other.post(f"/jobs/{job_id}/retry").status_code == 404
    again = client.post(f"/jobs/{job_id}/retry")
    assert again.status_code == 302
    new_id = again.headers["Location"].rstrip("/").split("/")[-1]
    assert new_id != job_id and jobs.load(new_id).user_id == leader.id
    assert jobs.work(burst=True)
    assert client.get(f"/jobs/{new_id}/status").json["status"] == "done"
    assert client.post(f"/jobs/{job_id}/retry").headers["Location"].endswith(job_id)  # not twice
    assert not client.get(f"/jobs/{job_id}/status").json["retryable"]


def test_a_running_jobs_progress_keeps_it_alive_in_redis(client, small_jobs, monkeypatch):
    """While a job reports progress (or, in `flask minqing worker`, runs SQL), its StartedJobRegistry entry is
    renewed for 2 beats: RQ's cleanup never takes a working job for abandoned; a killed one expires after them."""
    import time

    from rq.job import _job_stack
    from rq.registry import StartedJobRegistry

    monkeypatch.setitem(small_jobs.config, "JOBS_REDIS_URL", _redis_url(small_jobs))
    monkeypatch.setitem(small_jobs.config, "JOBS_QUEUE", f"test-{uuid.uuid4().hex}")
    t = tree()
    _three_appeals(t)
    login(client, make_user("Leader", t["ta"]))
    job_id = _start_export(client)
    queue, worker = _die_while_running(small_jobs, job_id, return_worker=True)
    registry = StartedJobRegistry(queue=queue)
    redis_db = queue.connection
    (member,) = redis_db.zrange(registry.key, 0, -1)
    assert redis_db.zscore(registry.key, member) <= time.time() + 2.5  # 2 beats of 1 s, not JOBS_TIMEOUT
    worker.heartbeat_seconds = 30
    monkeypatch.setitem(jobs._beat, "worker", worker)
    monkeypatch.setitem(jobs._beat, "at", 0.0)
    _job_stack.push(queue.fetch_job(f"minqing-{job_id}"))
    try:
        jobs.load(job_id).progress(2, 3)
    finally:
        _job_stack.pop()
    assert redis_db.zscore(registry.key, member) > time.time() + 50  # renewed: 2 × 30 s from now


def test_the_cli_starts_system_kinds_only(app, small_jobs):
    """`flask minqing enqueue create-partitions` runs (nothing to do on SQLite, said so); a user's kind
    (an import needs its upload) is refused with the list of what may be started."""
    from click.testing import CliRunner

    from app.cli import minqing

    runner = CliRunner()
    done = runner.invoke(minqing, ["enqueue", "create-partitions"], obj=None)
    assert done.exit_code == 0, done.output
    if db.engine.dialect.name == "sqlite":
        assert "此数据库（SQLite）不分区" in done.output
    refused = runner.invoke(minqing, ["enqueue", "import"])
    assert refused.exit_code != 0 and "create-partitions" in refused.output and "register-import" not in refused.output
    assert {"create-partitions", "prune-audit", "remind"} <= jobs.SYSTEM_KINDS
    assert not {"import", "register-import", jobs.REQUEST_KIND} & jobs.SYSTEM_KINDS
