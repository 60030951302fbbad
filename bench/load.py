"""`make bench-load`: a time-bounded load run against gunicorn (2 workers) on loopback.

Serves the PostgreSQL bench database (BENCH_PG_URL, loaded by `make bench`) with
`gunicorn --workers 2`, then runs a mixed clerk / leader workload from threads using
only the standard library (no locust: one file, no dependency), stepping the number of
concurrent users up (BENCH_USERS is the last step) over BENCH_DURATION seconds.
Reports, per step, requests/s, p50/p95 and errors, and the highest requests/s whose
p95 stays within 200 ms; appends it to bench/load.md (included in results.md).
"""

from __future__ import annotations

import http.client
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.bench import DEFAULT_PG  # noqa: E402

HOST, PORT = "127.0.0.1", int(os.environ.get("BENCH_PORT", "8097"))
DURATION = int(os.environ.get("BENCH_DURATION", "60"))
MAX_USERS = int(os.environ.get("BENCH_USERS", "16"))
P95_TARGET_MS = 200
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


class Session:
    """One logged-in browser: a cookie jar over a keep-alive connection."""

    def __init__(self, cookie=""):
        self.cookie = cookie
        self.conn = http.client.HTTPConnection(HOST, PORT, timeout=30)

    def request(self, method, path, body=None):
        headers = {"Cookie": self.cookie} if self.cookie else {}
        if body is not None:
            body = urlencode(body)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
        except (http.client.HTTPException, OSError):
            self.conn.close()
            self.conn = http.client.HTTPConnection(HOST, PORT, timeout=30)
            raise
        data = response.read()
        for key, value in response.getheaders():
            if key.lower() == "set-cookie" and value.startswith("session="):
                self.cookie = value.split(";", 1)[0]
        return response.status, data


def login(username, password):
    s = Session()
    status, page = s.request("GET", "/login/")
    token = CSRF.search(page.decode()).group(1)
    status, _ = s.request("POST", "/login/", {"username": username, "password": password, "csrf_token": token})
    assert status == 302, f"login {username}: {status}"
    return s.cookie


def workloads(ids):
    appeal_ids, visit_ids = ids["appeals"], ids["visits"]
    clerk = [
        (5, lambda r: "/appealview/list/"),
        (3, lambda r: f"/appealview/list/?_flt_0_category={ids['category']}"),
        (1, lambda r: f"/appealview/list/?page_AppealView={r.randint(2, 200)}"),
        (4, lambda r: f"/appealview/show/{r.choice(appeal_ids)}"),
        (3, lambda r: "/visitview/list/"),
        (2, lambda r: f"/visitview/show/{r.choice(visit_ids)}"),
        (2, lambda r: "/appealview/add"),
        (1, "register"),
    ]
    leader = [
        (3, lambda r: "/"),
        (4, lambda r: "/appealview/list/"),
        (2, lambda r: "/appealview/list/?status=in_progress"),
        (3, lambda r: f"/appealview/show/{r.choice(appeal_ids)}"),
        (1, lambda r: "/quotaruleview/progress/"),
        (1, lambda r: "/representativeview/progress/"),
        (2, lambda r: "/dashboard/"),
    ]
    return {"clerk": [x for w, x in clerk for _ in range(w)], "leader": [x for w, x in leader for _ in range(w)]}


def user_loop(role, cookie, plan, ids, stop, samples, errors, lock, seed):
    rnd = random.Random(seed)
    s = Session(cookie)
    while not stop.is_set():
        step = rnd.choice(plan)
        t = time.perf_counter()
        try:
            if step == "register":
                status, page = s.request("GET", "/appealview/add")
                token = CSRF.search(page.decode()).group(1)
                form = {"reporter_name": "压测群众", "content": "压测登记：反映路灯损坏。", "importance": "general",
                        "channel": ids["channel"], "category": ids["category"], "grid": ids["grid"],
                        "csrf_token": token}  # fmt: skip
                status, _ = s.request("POST", "/appealview/add", form)
                ok = status == 302
                name = "register appeal"
            else:
                path = step(rnd)
                status, _ = s.request("GET", path)
                # home sends a leader on to the dashboard (302)
                ok = status == 200 or (status == 302 and path == "/")
                name = path.split("?")[0]
        except Exception as exc:  # noqa: BLE001 (any failure is an error of the run)
            ok, name = False, f"exception {type(exc).__name__}"
        ms = (time.perf_counter() - t) * 1000
        with lock:
            samples.append(ms)
            if not ok:
                errors.append(name)


def pick_ids(url):
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as c:
        township = c.execute(text("SELECT id FROM grid WHERE code = '410100001'")).scalar()
        low = f"/1/{township}/"
        scope = f"grid_id IN (SELECT id FROM grid WHERE path >= '{low}' AND path < '{low[:-1]}0')"
        out = {
            "grid": township,
            "category": c.execute(text("SELECT id FROM appeal_category WHERE name = '基础设施'")).scalar(),
            "channel": c.execute(text("SELECT id FROM appeal_channel WHERE name = '来电'")).scalar(),
            "appeals": list(
                c.execute(text(f"SELECT id FROM appeal WHERE {scope} ORDER BY id DESC LIMIT 500")).scalars()
            ),
            "visits": list(c.execute(text(f"SELECT id FROM visit WHERE {scope} ORDER BY id DESC LIMIT 500")).scalars()),
            "appeals_before": c.execute(text("SELECT count(*) FROM appeal")).scalar(),
        }
    engine.dispose()
    return out


def rss_of_workers(master_pid):
    out = []
    for pid in Path("/proc").iterdir():
        if not pid.name.isdigit():
            continue
        try:
            status = (pid / "status").read_text()
        except OSError:
            continue
        if f"\nPPid:\t{master_pid}\n" in status:
            for line in status.splitlines():
                if line.startswith("VmRSS:"):
                    out.append(round(int(line.split()[1]) / 1024, 1))
    return out


def main():
    url = os.environ.get("BENCH_PG_URL", DEFAULT_PG)
    ids = pick_ids(url)
    env = {**os.environ, "DATABASE_URL": url, "MINQING_DEMO_ON_EMPTY": "false"}
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "--workers", "2", "--bind", f"{HOST}:{PORT}", "--log-level", "warning",
         "run:app"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    try:
        for _ in range(60):
            try:
                Session().request("GET", "/login/")
                break
            except OSError:
                time.sleep(1)
        from flask import Flask  # noqa: F401 (the app's own venv)

        password = os.environ.get("BENCH_DEMO_PASSWORD", "MinQing@2026")
        cookies = {"clerk": login("clerk", password), "leader": login("leader", password)}
        plans = workloads(ids)
        steps = [u for u in (2, 4, 8, 16, 32) if u <= MAX_USERS] or [MAX_USERS]
        per_step = max(5, DURATION // len(steps))
        results = []
        # warm-up, not recorded: both workers import, compile templates and fill their pools
        for users in [-2] + steps:
            warmup = users < 0
            users = abs(users)
            stop, lock = threading.Event(), threading.Lock()
            samples, errors = [], []
            threads = []
            for i in range(users):
                role = "clerk" if i % 3 != 2 else "leader"  # two clerks for each leader
                th = threading.Thread(
                    target=user_loop,
                    args=(role, cookies[role], plans[role], ids, stop, samples, errors, lock, 1000 + i),
                    daemon=True,
                )
                threads.append(th)
            started = time.perf_counter()
            for th in threads:
                th.start()
            time.sleep(5 if warmup else per_step)
            stop.set()
            for th in threads:
                th.join(timeout=35)
            elapsed = time.perf_counter() - started
            if warmup:
                continue
            ordered = sorted(samples)
            p95 = ordered[int(0.95 * (len(ordered) - 1))] if ordered else None
            row = {
                "users": users,
                "seconds": round(elapsed, 1),
                "requests": len(samples),
                "rps": round(len(samples) / elapsed, 1),
                "p50_ms": round(statistics.median(ordered), 1) if ordered else None,
                "p95_ms": round(p95, 1) if p95 is not None else None,
                "errors": len(errors),
                "error_kinds": sorted(set(errors))[:5],
            }
            results.append(row)
            print(json.dumps(row, ensure_ascii=False), flush=True)
        rss = rss_of_workers(server.pid)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    ok = [r for r in results if r["p95_ms"] is not None and r["p95_ms"] <= P95_TARGET_MS]
    best = max(ok, key=lambda r: r["rps"]) if ok else None
    total_errors = sum(r["errors"] for r in results)
    lines = [
        "## Load run (gunicorn, 2 workers, PostgreSQL, loopback)",
        "",
        f"`make bench-load`: after a 5 s warm-up, {len(steps)} steps of {per_step} s, users = concurrent closed-loop clients without "
        "think time (two clerks for each leader: lists, pages, forms, one registration in ~21 clerk requests; "
        "leaders: home, lists, appeal pages, quota and representative progress, dashboard). The load generator "
        "runs on the same 2 shared cores as the server.",
        "",
        "| concurrent users | requests | req/s | p50 ms | p95 ms | errors |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(f"| {r['users']} | {r['requests']} | {r['rps']} | {r['p50_ms']} | {r['p95_ms']} | {r['errors']} "
                     f"{' '.join(r['error_kinds'])} |")  # fmt: skip
    lines.append("")
    if best:
        lines.append(f"**Throughput with p95 ≤ {P95_TARGET_MS} ms: {best['rps']} requests/s** "
                     f"({best['users']} concurrent users, p95 {best['p95_ms']} ms); errors over the whole run: "
                     f"{total_errors}.")  # fmt: skip
    else:
        lines.append(f"No step kept p95 ≤ {P95_TARGET_MS} ms; errors over the whole run: {total_errors}.")
    lines.append(f"Worker RSS after the run: {', '.join(f'{x} MB' for x in rss)}.")
    lines.append("")
    (ROOT / "bench" / "load.md").write_text("\n".join(lines) + "\n")
    (ROOT / "bench" / "load.json").write_text(json.dumps({"steps": results, "rss_mb": rss}, indent=1))
    print("\n".join(lines))
    # results.md includes load.md: regenerate it from the stored results
    from bench.bench import RESULTS_JSON, write_report

    if RESULTS_JSON.exists():
        write_report(json.loads(RESULTS_JSON.read_text()))


if __name__ == "__main__":
    main()
