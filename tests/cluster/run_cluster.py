"""`make test-cluster`: several servers behind nginx, on loopback, as a city would run them.

nginx (Debian's) in front of 3 gunicorn app servers and 1 RQ worker (`flask minqing worker`), on
the local PostgreSQL (database CLUSTER_DB, default minqing_cluster: made afresh, never `test`)
and Redis (db CLUSTER_REDIS_DB, default 9: flushed first). MULTI_NODE is on, so each server
also proves it starts only with shared settings. What it checks:

1. a login through server 1 is valid on servers 2 and 3 (one SECRET_KEY), a form's CSRF token too;
2. the login limit holds across servers (attempts spread over the three, counted once);
3. an appeal registered through server 2 shows in a county leader's dashboard on server 3;
4. an export job started on server 1 is run by the worker, followed on server 2, fetched on 3;
5. a bounded write load through nginx while server 2 is killed (SIGKILL): every acknowledged write
   is in the database, nginx sends the rest of the load to the others, errors seen by the clients
   are counted and reported;
6. the worker is killed (SIGKILL) in the middle of a big import job started on server 1, a new
   worker is started: RQ's abandoned-job cleanup hands the job to it, it imports the whole file
   once (nothing of the killed run, nothing twice), and server 3's job page tells each step.

Exit status 0 when every check holds; the report is printed either way.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import requests
from openpyxl import Workbook
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
PG_ADMIN = os.environ.get("CLUSTER_PG_ADMIN", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
DB_NAME = os.environ.get("CLUSTER_DB", "minqing_cluster")
REDIS_DB = int(os.environ.get("CLUSTER_REDIS_DB", "9"))
LOAD_SECONDS = float(os.environ.get("CLUSTER_LOAD_SECONDS", "12"))
LOAD_CLIENTS = int(os.environ.get("CLUSTER_LOAD_CLIENTS", "4"))
PASSWORD = "MinQing@2026"  # the demo logins' (config.DEMO_PASSWORD)
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
FIGURE = re.compile(r'data-mq-figure="collected">\s*<div class="panel-body"><div class="mq-num">(\d+)<')
REFUSED = (requests.ConnectionError, requests.Timeout)

results: list = []  # (check, ok, detail)


def check(name, ok, detail=""):
    results.append((name, bool(ok), detail))
    print(f"[{'OK' if ok else 'FAIL'}] {name}{': ' + detail if detail else ''}", flush=True)
    return ok


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    def __init__(self, workdir):
        self.workdir = Path(workdir)
        self.db_url = make_url(PG_ADMIN).set(database=DB_NAME).render_as_string(hide_password=False)
        self.ports = [free_port() for _ in range(3)]
        self.nginx_port = free_port()
        self.servers: list = []
        self.worker = None
        self.nginx = None
        redis_url = f"redis://127.0.0.1:6379/{REDIS_DB}"
        self.env = {
            **os.environ,
            "DATABASE_URL": self.db_url,
            "SECRET_KEY": "cluster-" + "5f" * 30,
            "MINQING_MULTI_NODE": "true",
            "RATELIMIT_STORAGE_URI": "minqing+db://",  # the login limit in PostgreSQL, shared
            "JOBS_REDIS_URL": redis_url,
            "MINQING_JOBS_QUEUE": "cluster",
            "MINQING_JOBS_DIR": str(self.workdir / "jobs"),  # one machine: a shared directory
            "MINQING_JOBS_DIR_SHARED": "true",
            "MINQING_ATTACHMENT_DIR": str(self.workdir / "files"),
            "MINQING_ATTACHMENT_DIR_SHARED": "true",
            "MINQING_INSTANCE_DIR": str(self.workdir / "instance"),
            "MINQING_EXPORT_JOB_ROWS": "1",  # every export of 2 rows or more is a job
            "MINQING_IMPORT_JOB_KB": "1",  # every import is a job
            "MINQING_JOBS_HEARTBEAT_SECONDS": "2",  # a killed worker's job is found within seconds
            "MINQING_JOBS_RETRY_ABANDONED": "1",
            "MINQING_PROXY_FIX": "true",
            "MINQING_LOG_FORMAT": "json",
            "MINQING_ADMIN_PASSWORD": "Cluster@Admin2026",
            "MINQING_DB_POOL_SIZE": "3",
            "MINQING_DB_MAX_OVERFLOW": "2",
            "GUNICORN_WORKERS": "1",
            "GUNICORN_THREADS": "4",
            "GUNICORN_MAX_REQUESTS": "0",
            "FLASK_APP": "run.py",
        }
        self.env.pop("PROMETHEUS_MULTIPROC_DIR", None)

    # -- setting up ---------------------------------------------------------------------------

    def prepare(self):
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{DB_NAME}"'))
        admin.dispose()
        subprocess.run([str(VENV_BIN / "python"), "-c",
                        f"import redis; redis.Redis(db={REDIS_DB}).flushdb()"], check=True)  # fmt: skip
        started = time.monotonic()
        self.flask("minqing", "init")
        self.flask("minqing", "demo", "--scale", "tiny")
        print(f"database ready in {time.monotonic() - started:.0f} s", flush=True)

    def flask(self, *args):
        result = subprocess.run([str(VENV_BIN / "flask"), *args], cwd=ROOT, env=self.env, capture_output=True,
                                text=True)  # fmt: skip
        if result.returncode != 0:
            raise SystemExit(f"flask {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def start(self):
        for n, port in enumerate(self.ports, start=1):
            env = {**self.env, "GUNICORN_BIND": f"127.0.0.1:{port}",
                   "PROMETHEUS_MULTIPROC_DIR": str(self.workdir / f"metrics{n}")}  # fmt: skip
            log = open(self.workdir / f"server{n}.log", "w")  # noqa: SIM115 - kept open while it runs
            self.servers.append(subprocess.Popen(
                [str(VENV_BIN / "gunicorn"), "-c", str(ROOT / "contrib" / "gunicorn.conf.py"), "run:app"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))  # fmt: skip
        self.start_worker()
        conf = self.workdir / "nginx.conf"
        upstreams = "\n".join(f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=30s;" for p in self.ports)
        conf.write_text(
            (Path(__file__).parent / "nginx.conf.in").read_text()
            .replace("@WORKDIR@", str(self.workdir)).replace("@UPSTREAMS@", upstreams)
            .replace("@PORT@", str(self.nginx_port)).replace("@USER@", "user root;" if os.geteuid() == 0 else "")
        )  # fmt: skip
        self.nginx = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(self.workdir), "-g", "daemon off;"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        for port in self.ports:
            self.wait_ready(f"http://127.0.0.1:{port}")
        self.wait_ready(self.front)

    @property
    def front(self):
        return f"http://127.0.0.1:{self.nginx_port}"

    def server(self, n):
        return f"http://127.0.0.1:{self.ports[n - 1]}"

    def wait_ready(self, base, seconds=90):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                if requests.get(base + "/readyz", timeout=2).status_code == 200:
                    return
            except REFUSED:
                pass
            time.sleep(0.5)
        raise SystemExit(f"{base} not ready after {seconds} s (see {self.workdir}/server*.log)")

    def start_worker(self):
        log = open(self.workdir / "worker.log", "a")  # noqa: SIM115
        self.worker = subprocess.Popen([str(VENV_BIN / "flask"), "minqing", "worker"], cwd=ROOT, env=self.env,
                                       stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip

    def kill_worker(self):
        os.killpg(self.worker.pid, signal.SIGKILL)  # mid-job, no goodbye: the job stays "started" in Redis
        self.worker.wait()

    def kill_server(self, n):
        os.killpg(self.servers[n - 1].pid, signal.SIGKILL)  # the master and its workers, no goodbye
        self.servers[n - 1].wait()

    def stop(self):
        for proc in [*self.servers, self.worker, self.nginx]:
            if proc is not None and proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                    proc.wait(timeout=15)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    os.killpg(proc.pid, signal.SIGKILL)

    def sql(self, query, **params):
        engine = create_engine(self.db_url)
        try:
            with engine.connect() as conn:
                return conn.execute(text(query), params).all()
        finally:
            engine.dispose()


# -- clients ------------------------------------------------------------------------------------


def browser_login(base, username, address, form_from=None):
    """A browser's login on `base` from client `address`, with the form (its CSRF token) of `form_from`."""
    web = requests.Session()
    web.headers["X-Forwarded-For"] = address  # PROXY_FIX: the servers take it as the client's address
    token = CSRF.search(web.get((form_from or base) + "/login/", timeout=10).text).group(1)
    answer = web.post(base + "/login/", data={"username": username, "password": PASSWORD, "csrf_token": token},
                      allow_redirects=False, timeout=10)  # fmt: skip
    assert answer.status_code == 302, f"login of {username} on {base}: {answer.status_code}"
    return web


def api_token(base, username, address):
    answer = requests.post(base + "/api/v1/security/login", timeout=10, headers={"X-Forwarded-For": address},
                           json={"username": username, "password": PASSWORD, "provider": "db", "refresh": False})  # fmt: skip
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def logged_in(response):
    return response.status_code == 200 and 'name="password"' not in response.text


def collected(web, base):
    body = web.get(base + "/dashboard/", timeout=30).text
    found = FIGURE.search(body)
    return int(found.group(1)) if found else None


# -- the checks ---------------------------------------------------------------------------------


def check_sessions(cluster):
    # the login form of server 2 posted to server 1 (its CSRF token signed with the shared key)
    web = browser_login(cluster.server(1), "clerk", "10.0.0.1", form_from=cluster.server(2))
    check("a login form of server 2 is accepted by server 1 (CSRF)", True)
    pages = [web.get(cluster.server(n) + "/appealview/list/", timeout=30) for n in (2, 3)]
    check("a login on server 1 is valid on servers 2 and 3", all(logged_in(p) for p in pages),
          ", ".join(str(p.status_code) for p in pages))  # fmt: skip
    return web


def check_login_limit(cluster):
    """AUTH_RATE_LIMIT (10 per 5 minutes per address): 12 wrong passwords spread over 3 servers."""
    statuses = []
    for attempt in range(12):
        base = cluster.server(attempt % 3 + 1)
        web = requests.Session()
        web.headers["X-Forwarded-For"] = "10.9.9.9"
        page = web.get(base + "/login/", timeout=10)
        token = CSRF.search(page.text)
        answer = web.post(base + "/login/", timeout=10, allow_redirects=False,
                          data={"username": "clerk", "password": "wrong-Password1!",
                                "csrf_token": token.group(1) if token else ""})  # fmt: skip
        statuses.append(answer.status_code)
    first_refusal = next((i + 1 for i, s in enumerate(statuses) if s == 429), None)
    check("the login limit holds across servers (the 11th attempt is refused, whichever server)",
          first_refusal == 11 and statuses[11] == 429, f"statuses {statuses}")  # fmt: skip


def appeal_body(ids, marker):
    return {"reporter_name": marker, "reporter_phone": "13800000000", "content": f"集群测试 {marker}",
            "channel": ids["channel"], "category": ids["category"], "importance": "general", "grid": ids["grid"]}  # fmt: skip


def lookup_ids(cluster):
    grid = cluster.sql(
        "SELECT g.id FROM grid g JOIN assignment a ON a.grid_id = g.id JOIN person p ON p.id = a.person_id "
        "JOIN ab_user u ON u.id = p.user_id WHERE u.username = 'clerk' LIMIT 1"
    )[0][0]
    channel = cluster.sql("SELECT id FROM appeal_channel ORDER BY id LIMIT 1")[0][0]
    category = cluster.sql("SELECT id FROM appeal_category ORDER BY id LIMIT 1")[0][0]
    return {"grid": grid, "channel": channel, "category": category}


def check_figures(cluster, ids):
    leader = browser_login(cluster.server(3), "countyleader", "10.0.0.3")
    before = collected(leader, cluster.server(3))
    headers = api_token(cluster.server(1), "clerk", "10.0.0.4")  # a token from server 1, used on server 2
    created = requests.post(cluster.server(2) + "/api/v1/appeal/", json=appeal_body(ids, "图表群众"),
                            headers=headers, timeout=30)  # fmt: skip
    check("an appeal registered through server 2 (with server 1's token)", created.status_code == 201,
          f"{created.status_code}")  # fmt: skip
    after, deadline = before, time.monotonic() + 20
    while after == before and time.monotonic() < deadline:  # the last figures may be shown once, then recounted
        time.sleep(1)
        after = collected(leader, cluster.server(3))
    check("a county leader's dashboard on server 3 counts it", before is not None and after == before + 1,
          f"collected {before} -> {after}")  # fmt: skip


def check_export_job(cluster, clerk):
    started = clerk.get(cluster.server(1) + "/appealview/export/", allow_redirects=False, timeout=30)
    location = started.headers.get("Location", "")
    if not check("an export started on server 1 becomes a job", started.status_code == 302 and "/jobs/" in location,
                 f"{started.status_code} {location}"):  # fmt: skip
        return
    job_id = location.rstrip("/").split("/")[-1]
    state, deadline = {}, time.monotonic() + 60
    while time.monotonic() < deadline:
        state = clerk.get(f"{cluster.server(2)}/jobs/{job_id}/status", timeout=10).json()
        if state["status"] in ("done", "failed"):
            break
        time.sleep(0.5)
    check("the worker runs it; server 2 shows it done", state.get("status") == "done", str(state))
    download = clerk.get(f"{cluster.server(3)}/jobs/{job_id}/download", timeout=30)
    check("server 3 serves the file", download.status_code == 200 and download.content[:2] == b"PK",
          f"{download.status_code}, {len(download.content)} bytes, {state.get('message')}")  # fmt: skip
    other = browser_login(cluster.server(3), "clerk2", "10.0.0.5")
    check("another user cannot fetch it", other.get(f"{cluster.server(3)}/jobs/{job_id}/download",
                                                    timeout=10).status_code == 404)  # fmt: skip


IMPORT_ROWS = int(os.environ.get("CLUSTER_IMPORT_ROWS", "1000"))


def people_file(grid_code, marker):
    book = Workbook()
    book.active.append(["姓名", "性别", "电话", "网格编码", "人员类别"])
    for n in range(IMPORT_ROWS):
        book.active.append([f"{marker}{n}", "男" if n % 2 else "女", f"139{n:08d}", grid_code, ""])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def check_worker_killed(cluster, clerk):
    """A big import job; the worker SIGKILLed while it runs; a new worker finishes it, once."""
    grid_code = cluster.sql(
        "SELECT g.code FROM grid g JOIN assignment a ON a.grid_id = g.id JOIN person p ON p.id = a.person_id "
        "JOIN ab_user u ON u.id = p.user_id WHERE u.username = 'clerk' LIMIT 1"
    )[0][0]
    marker = "续跑"
    token = CSRF.search(clerk.get(cluster.server(1) + "/import/", timeout=10).text)
    started = clerk.post(cluster.server(1) + "/import/upload", allow_redirects=False, timeout=60,
                         data={"kind": "people", "csrf_token": token.group(1) if token else ""},
                         files={"file": ("people.xlsx", people_file(grid_code, marker))})  # fmt: skip
    location = started.headers.get("Location", "")
    if not check(f"an import of {IMPORT_ROWS} people started on server 1 becomes a job",
                 started.status_code == 302 and "/jobs/" in location, f"{started.status_code} {location}"):  # fmt: skip
        return
    job_id = location.rstrip("/").split("/")[-1]
    status_url = f"{cluster.server(3)}/jobs/{job_id}/status"
    seen, state, deadline = [], {}, time.monotonic() + 60
    while time.monotonic() < deadline:
        state = clerk.get(status_url, timeout=10).json()
        if state["status"] != "queued":
            break
        time.sleep(0.05)
    running = state.get("status") == "running"
    cluster.kill_worker()
    killed = time.monotonic()
    check("the worker is killed (SIGKILL) while the job runs", running, f"{state.get('status')} {state.get('done')}")
    time.sleep(1)
    after_kill = clerk.get(status_url, timeout=10).json()
    cluster.start_worker()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        state = clerk.get(status_url, timeout=10).json()
        if not seen or seen[-1] != (state["status"], state["message"]):
            seen.append((state["status"], state["message"]))
        if state["status"] in ("done", "failed"):
            break
        time.sleep(0.3)
    print(f"   server 3's job page: {after_kill['status']} just after the kill, then {seen} "
          f"({time.monotonic() - killed:.0f} s after the kill)", flush=True)  # fmt: skip
    # queued again, and at once running on the new worker: the page says it was started again
    restarted = any(status in ("queued", "running") and "重新开始" in message for status, message in seen)
    check("RQ's abandoned-job cleanup hands it to the new worker; server 3 says it was started again", restarted,
          str(seen[:3]))  # fmt: skip
    imported = cluster.sql("SELECT count(*) FROM person WHERE name LIKE :m", m=f"{marker}%")[0][0]
    check("the new worker finishes it: every row imported once, nothing of the killed run",
          state.get("status") == "done" and imported == IMPORT_ROWS,
          f"{state.get('status')} {state.get('message')!r}; {imported} people in the database")  # fmt: skip


def check_kill(cluster, ids):
    """Writes through nginx from LOAD_CLIENTS clients for LOAD_SECONDS; server 2 dies a third of the way."""
    tokens = [api_token(cluster.server(n % 3 + 1), "clerk", f"10.1.0.{n}") for n in range(LOAD_CLIENTS)]
    acknowledged, errors, outcomes = [], Counter(), Counter()
    lock = threading.Lock()
    start = time.monotonic()
    killed_at = {}

    def client(n):
        web = requests.Session()
        seq = 0
        while time.monotonic() - start < LOAD_SECONDS:
            seq += 1
            marker = f"负载{n}-{seq}"
            try:
                answer = web.post(cluster.front + "/api/v1/appeal/", json=appeal_body(ids, marker),
                                  headers=tokens[n], timeout=15)  # fmt: skip
                status = answer.status_code
            except requests.RequestException as err:
                status = type(err).__name__
            after_kill = "after" if killed_at else "before"
            with lock:
                outcomes[(after_kill, status)] += 1
                if status == 201:
                    acknowledged.append((marker, answer.json()["id"]))
                else:
                    errors[str(status)] += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(LOAD_CLIENTS)]
    for thread in threads:
        thread.start()
    time.sleep(LOAD_SECONDS / 3)
    cluster.kill_server(2)
    killed_at["t"] = time.monotonic() - start
    for thread in threads:
        thread.join()
    stored = {
        name: row_id
        for name, row_id in cluster.sql("SELECT reporter_name, id FROM appeal WHERE reporter_name LIKE '负载%'")
    }
    lost = [(m, i) for m, i in acknowledged if stored.get(m) != i]
    unacknowledged_but_stored = len(stored) - len(acknowledged)
    upstreams = Counter()
    killed_port = str(cluster.ports[1])
    late = 0
    for line in (cluster.workdir / "access.log").read_text().splitlines():
        if "/api/v1/appeal/" not in line:
            continue
        upstream = re.search(r"upstream=(\S+)", line)
        upstreams[upstream.group(1) if upstream else "-"] += 1
    for line in (cluster.workdir / "access.log").read_text().splitlines()[-20:]:
        if f":{killed_port}" in line.split("upstream=")[-1]:
            late += 1
    after_ok = outcomes[("after", 201)]
    print(f"   load: {sum(outcomes.values())} writes in {LOAD_SECONDS:.0f} s from {LOAD_CLIENTS} clients; "
          f"server 2 killed at {killed_at['t']:.1f} s", flush=True)  # fmt: skip
    print(f"   outcomes: {dict(outcomes)}", flush=True)
    print(f"   errors seen by clients: {sum(errors.values())} {dict(errors)}; acknowledged {len(acknowledged)}; "
          f"stored {len(stored)} (stored without an acknowledgement: {unacknowledged_but_stored})", flush=True)  # fmt: skip
    print(f"   nginx upstreams for the writes: {dict(upstreams)}", flush=True)
    check("no acknowledged write is lost", not lost and acknowledged, f"{len(lost)} lost of {len(acknowledged)}")
    check("nginx moves the load to the other servers", after_ok > 0 and late == 0,
          f"{after_ok} writes acknowledged after the kill; last 20 requests to the dead server: {late}")  # fmt: skip
    check("client errors are few (at most the writes in flight when it died, per client)",
          sum(errors.values()) <= LOAD_CLIENTS * 2, f"{sum(errors.values())} errors")  # fmt: skip
    return {"errors": dict(errors), "acknowledged": len(acknowledged), "lost": len(lost)}


def main():
    for tool in ("nginx",):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is not installed (apt-get install -y nginx-light)")
    began = time.monotonic()
    workdir = tempfile.mkdtemp(prefix="minqing-cluster-")
    cluster = Cluster(workdir)
    try:
        cluster.prepare()
        cluster.start()
        print(f"cluster up: nginx :{cluster.nginx_port} -> {cluster.ports}, 1 worker ({workdir})", flush=True)
        ids = lookup_ids(cluster)
        clerk = check_sessions(cluster)
        check_figures(cluster, ids)
        check_export_job(cluster, clerk)
        check_login_limit(cluster)
        check_worker_killed(cluster, clerk)
        check_kill(cluster, ids)
    finally:
        cluster.stop()
    failed = [name for name, ok, _ in results if not ok]
    print(f"\n{len(results) - len(failed)} of {len(results)} checks passed in "
          f"{dt.timedelta(seconds=int(time.monotonic() - began))}", flush=True)  # fmt: skip
    if failed:
        print(f"logs kept in {workdir}", flush=True)
        sys.exit(1)
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
