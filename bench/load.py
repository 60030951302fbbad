"""`make bench-load`: a load run against gunicorn deployed as the README says, on loopback.

Serves the PostgreSQL bench database (BENCH_PG_URL, loaded by `make bench`) with
`gunicorn -c contrib/gunicorn.conf.py run:app` (2 workers × 4 threads, the README's recipe), then
sends an **open-loop** mix at fixed arrival rates (BENCH_RATES requests/s, Poisson arrivals):
requests start on schedule whether or not earlier ones have finished, and each one's time
is measured from when it was due (a slow server is not allowed to slow the clients down and
hide its own queue). The mix is a working day of a township:

* township clerks (50 %): appeal lists, filters, deep pages, appeal pages, visit lists and
  pages, the add form, **registering an appeal** and **acting on one** (当场解决 on an appeal
  they registered: the show page, then the workflow POST);
* a village grid worker (10 %): their home page, visits, appeals;
* a township leader (25 %) and a county-level leader (15 %): dashboards, the
  accountability table, appeal lists and pages, quota progress.

About 15 % of requests write, so every step from 8 requests/s on carries at least one write a
second. Each step reports requests/s, writes/s, p50/p95, errors and its slowest pages; the
verdict is the highest rate whose p95 stays within 200 ms with no error. At the end the
writes are checked in the database: every registration and every act the clients counted as
done is there. Uses only the standard library (no locust); the clients run on the same 2
cores as the server, which the report says.
"""

from __future__ import annotations

import http.client
import json
import os
import queue
import random
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict, deque
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.bench import DEFAULT_PG  # noqa: E402

HOST, PORT = "127.0.0.1", int(os.environ.get("BENCH_PORT", "8097"))
RATES = [float(x) for x in os.environ.get("BENCH_RATES", "4,8,12,16,24,32").split(",") if x]
STEP_SECONDS = int(os.environ.get("BENCH_STEP_SECONDS", "20"))
CLIENT_THREADS = int(os.environ.get("BENCH_CLIENT_THREADS", "48"))
P95_TARGET_MS = 200
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
SHOW_ID = re.compile(r"/appealview/show/(\d+)")
MARK = "压测登记"  # every appeal this run registers carries it (counted in the database afterwards)


class Session:
    """One logged-in browser tab: a cookie over a keep-alive connection."""

    def __init__(self, cookie=""):
        self.cookie = cookie
        self.conn = http.client.HTTPConnection(HOST, PORT, timeout=60)

    def request(self, method, path, body=None):
        headers = {"Cookie": self.cookie} if self.cookie else {}
        if body is not None:
            body = urlencode(body)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # the server closed an idle keep-alive connection (gunicorn's keepalive): a browser
                # opens a new one and sends again, and so do we, once
                self.conn.close()
                self.conn = http.client.HTTPConnection(HOST, PORT, timeout=60)
                if attempt == 2:
                    raise
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = http.client.HTTPConnection(HOST, PORT, timeout=60)
                raise
        data = response.read()
        for key, value in response.getheaders():
            if key.lower() == "set-cookie" and value.startswith("session="):
                self.cookie = value.split(";", 1)[0]
        return response.status, data, response.getheader("Location") or ""


def login(username, password):
    s = Session()
    _status, page, _ = s.request("GET", "/login/")
    token = CSRF.search(page.decode()).group(1)
    status, _, _ = s.request("POST", "/login/", {"username": username, "password": password, "csrf_token": token})
    if status != 302:
        raise SystemExit(f"login {username}: HTTP {status}")
    return s.cookie


def plans(ids):
    """role -> [(weight, step)]; a step is a path function or a named write."""
    appeals, visits = ids["appeals"], ids["visits"]
    return {
        "clerk": [
            (8, lambda r: "/appealview/list/"),
            (3, lambda r: f"/appealview/list/?_flt_0_category={ids['category']}"),
            (2, lambda r: f"/appealview/list/?page_AppealView={r.randint(2, 200)}"),
            (6, lambda r: f"/appealview/show/{r.choice(appeals)}"),
            (4, lambda r: "/visitview/list/"),
            (2, lambda r: f"/visitview/show/{r.choice(visits)}"),
            (3, lambda r: "/appealview/add"),
            (6, "register"),
            (6, "act"),
        ],
        "gridworker": [
            (3, lambda r: "/mywork/"),
            (3, lambda r: "/visitview/list/"),
            (2, lambda r: "/appealview/list/"),
        ],
        "leader": [
            (4, lambda r: "/dashboard/"),
            (2, lambda r: "/accountability/"),
            (4, lambda r: "/appealview/list/"),
            (2, lambda r: "/appealview/list/?status=in_progress"),
            (3, lambda r: f"/appealview/show/{r.choice(appeals)}"),
            (1, lambda r: "/quotaruleview/progress/"),
        ],
        "countyleader": [
            (4, lambda r: "/dashboard/"),
            (2, lambda r: "/accountability/"),
            (3, lambda r: "/appealview/list/"),
            (1, lambda r: "/appealview/list/?status=in_progress"),
        ],
    }


SHARES = (("clerk", 50), ("gridworker", 10), ("leader", 25), ("countyleader", 15))


class Shared:
    """What the client threads share: cookies, the appeals registered (to act on), the tallies."""

    def __init__(self, cookies, ids):
        self.cookies = cookies
        self.ids = ids
        self.lock = threading.Lock()
        self.registered = deque()  # appeal ids registered by this run, not yet acted on
        self.done = {"register": 0, "act": 0}


def run_step(s, shared, step, rnd):
    """One request (or, for a write, the pages a user opens for it); [(name, ok, ms)]."""
    out = []

    def timed(name, method, path, body=None, good=(200,)):
        started = time.perf_counter()
        status, data, location = s.request(method, path, body)
        out.append((name, status in good, (time.perf_counter() - started) * 1000))
        return status, data, location

    if step == "register":
        status, page, _ = timed("appeal add form", "GET", "/appealview/add")
        token = CSRF.search(page.decode()).group(1)
        form = {"reporter_name": "压测群众", "content": f"{MARK}：反映路灯损坏。", "importance": "general",
                "channel": shared.ids["channel"], "category": shared.ids["category"], "grid": shared.ids["grid"],
                "csrf_token": token}  # fmt: skip
        status, _, location = timed("register appeal (POST)", "POST", "/appealview/add", form, good=(302,))
        found = SHOW_ID.search(location)
        if status == 302 and found:
            with shared.lock:
                shared.registered.append(int(found.group(1)))
                shared.done["register"] += 1
        elif status == 302:  # the form came back (a refusal): an error of the run
            out[-1] = (out[-1][0], False, out[-1][2])
        return out
    if step == "act":
        with shared.lock:
            pk = shared.registered.popleft() if shared.registered else None
        if pk is None:  # nothing registered yet: the clerk opens the list instead
            timed("/appealview/list/", "GET", "/appealview/list/")
            return out
        status, page, _ = timed("appeal show (to act)", "GET", f"/appealview/show/{pk}")
        token = CSRF.search(page.decode()).group(1)
        body = {"reply": "已当场解决（压测）。", "csrf_token": token}
        status, _, location = timed("act resolve_on_spot (POST)", "POST", f"/appealview/act/{pk}/resolve_on_spot",
                                    body, good=(302,))  # fmt: skip
        if status == 302 and f"/show/{pk}" in location:
            with shared.lock:
                shared.done["act"] += 1
        return out
    path = step(rnd)
    name = re.sub(r"/\d+", "/<id>", path.split("?")[0]) + ("?…" if "?" in path else "")
    timed(name, "GET", path, good=(200, 302))
    return out


def client(work, shared, results, lock, seed):
    rnd = random.Random(seed)
    sessions = {}
    while True:
        item = work.get()
        if item is None:
            return
        due, role, step = item
        s = sessions.get(role)
        if s is None:
            s = sessions[role] = Session(shared.cookies[role])
        waited = max(0.0, (time.perf_counter() - due) * 1000)  # queued behind busy clients
        try:
            parts = run_step(s, shared, step, rnd)
        except Exception as exc:  # noqa: BLE001 (any failure is an error of the run)
            parts = [(f"exception {type(exc).__name__}", False, (time.perf_counter() - due) * 1000 - waited)]
        with lock:
            for i, (name, ok, ms) in enumerate(parts):
                # the first request of an item also waited in the queue (open loop: time from when it was due)
                results.append(
                    (name, ok, ms + (waited if i == 0 else 0), step in ("register", "act") and "POST" in name)
                )


def one_step(rate, seconds, shared, steps_by_role, seed):
    work = queue.Queue()
    results, lock = [], threading.Lock()
    threads = [threading.Thread(target=client, args=(work, shared, results, lock, seed + i), daemon=True)
               for i in range(CLIENT_THREADS)]  # fmt: skip
    for th in threads:
        th.start()
    rnd = random.Random(seed)
    roles = [role for role, share in SHARES for _ in range(share)]
    started = time.perf_counter()
    due = started
    while True:
        due += rnd.expovariate(rate)
        if due - started > seconds:
            break
        pause = due - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        role = rnd.choice(roles)
        work.put((due, role, rnd.choice(steps_by_role[role])))
    for _ in threads:
        work.put(None)
    for th in threads:
        th.join(timeout=120)
    elapsed = time.perf_counter() - started
    return results, elapsed


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
        }
    engine.dispose()
    return out


def counted_writes(url, since_id):
    """(appeals this run registered, of them resolved on the spot) as the database has them."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as c:
        row = c.execute(
            text("SELECT count(*), count(*) FILTER (WHERE status = 'answered') FROM appeal "
                 "WHERE id > :since AND content LIKE :mark"),
            {"since": since_id, "mark": f"{MARK}%"},
        ).one()  # fmt: skip
    engine.dispose()
    return int(row[0]), int(row[1])


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


def percentile(ordered, q):
    return ordered[int(q * (len(ordered) - 1))] if ordered else None


def summarize(rate, results, elapsed):
    times = sorted(ms for _n, _ok, ms, _w in results)
    errors = [name for name, ok, _ms, _w in results if not ok]
    by_page = defaultdict(list)
    for name, _ok, ms, _w in results:
        by_page[name].append(ms)
    slowest = sorted(((percentile(sorted(v), 0.95), k, len(v)) for k, v in by_page.items()), reverse=True)[:4]
    return {
        "rate": rate,
        "seconds": round(elapsed, 1),
        "requests": len(results),
        "rps": round(len(results) / elapsed, 1),
        "writes_per_s": round(sum(1 for r in results if r[3]) / elapsed, 2),
        "p50_ms": round(statistics.median(times), 1) if times else None,
        "p95_ms": round(percentile(times, 0.95), 1) if times else None,
        "errors": len(errors),
        "error_kinds": sorted(set(errors))[:5],
        "slowest": [{"page": k, "p95_ms": round(p, 1), "n": n} for p, k, n in slowest],
    }


def loadavg():
    return Path("/proc/loadavg").read_text().split()[0]


def main():
    url = os.environ.get("BENCH_PG_URL", DEFAULT_PG)
    ids = pick_ids(url)
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as c:
        since_id = c.execute(text("SELECT coalesce(max(id), 0) FROM appeal")).scalar()
    engine.dispose()
    env = {**os.environ, "DATABASE_URL": url, "MINQING_DEMO_ON_EMPTY": "false", "GUNICORN_BIND": f"{HOST}:{PORT}",
           "GUNICORN_WORKERS": os.environ.get("GUNICORN_WORKERS", "2"),
           "GUNICORN_THREADS": os.environ.get("GUNICORN_THREADS", "4")}  # fmt: skip
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "-c", str(ROOT / "contrib/gunicorn.conf.py"), "run:app"], cwd=ROOT, env=env
    )
    results_by_step = []
    load_before = loadavg()
    try:
        for _ in range(90):
            try:
                Session().request("GET", "/login/")
                break
            except OSError:
                time.sleep(1)
        password = os.environ.get("BENCH_DEMO_PASSWORD", "MinQing@2026")
        cookies = {role: login(role, password) for role, _share in SHARES}
        steps_by_role = {role: [x for w, x in plan for _ in range(w)] for role, plan in plans(ids).items()}
        shared = Shared(cookies, ids)
        # warm-up, not recorded: both workers import, compile templates and fill their pools
        one_step(4, 8, shared, steps_by_role, 7)
        for i, rate in enumerate(RATES):
            results, elapsed = one_step(rate, STEP_SECONDS, shared, steps_by_role, 1000 * (i + 1))
            row = summarize(rate, results, elapsed)
            row["load"] = loadavg()
            results_by_step.append(row)
            print(json.dumps(row, ensure_ascii=False), flush=True)
            if row["p95_ms"] and row["p95_ms"] > 5 * P95_TARGET_MS:
                break  # far past the knee: higher rates only queue up
        rss = rss_of_workers(server.pid)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    registered, acted = counted_writes(url, since_id)
    write_report(results_by_step, rss, shared.done, registered, acted, load_before)


def write_report(steps, rss, done, registered, acted, load_before):
    ok = [r for r in steps if r["p95_ms"] is not None and r["p95_ms"] <= P95_TARGET_MS and r["errors"] == 0]
    best = max(ok, key=lambda r: r["rps"]) if ok else None
    lines = [
        "## Load run (gunicorn as the README deploys it, PostgreSQL, loopback)",
        "",
        f"`make bench-load`: `gunicorn -c contrib/gunicorn.conf.py` (2 workers × 4 threads); an **open-loop** mix at "
        f"fixed arrival rates, {STEP_SECONDS} s per rate after an 8 s warm-up; each request timed from when it was due. "
        "Mix: township clerks 50 % (lists, filters, deep pages, appeal and visit pages, the add form, registering an "
        "appeal, acting on one: 当场解决), a village grid worker 10 %, a township leader 25 % and a county-level leader "
        "15 % (dashboard, accountability, lists, pages, quota progress). The clients share the server's 2 cores "
        f"(load average {load_before} before the run).",
        "",
        "| arrivals/s | requests | req/s | writes/s | p50 ms | p95 ms | errors | slowest pages (p95 ms) | load |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in steps:
        slow = "; ".join(f"{s['page']} {s['p95_ms']:.0f}" for s in r["slowest"][:3])
        lines.append(f"| {r['rate']:g} | {r['requests']} | {r['rps']} | {r['writes_per_s']} | {r['p50_ms']} | "
                     f"{r['p95_ms']} | {r['errors']} {' '.join(r['error_kinds'])} | {slow} | {r['load']} |")  # fmt: skip
    lines.append("")
    total_errors = sum(r["errors"] for r in steps)
    if best:
        lines.append(f"**Highest rate holding p95 ≤ {P95_TARGET_MS} ms with no error: {best['rps']} requests/s** "
                     f"(arrivals {best['rate']:g}/s, {best['writes_per_s']} writes/s, p95 {best['p95_ms']} ms).")  # fmt: skip
    else:
        lines.append(f"**No rate held p95 ≤ {P95_TARGET_MS} ms with no error.**")
    lines.append(f"Errors over the whole run: {total_errors}. Writes checked in the database: the clients counted "
                 f"{done['register']} registrations and {done['act']} acts; the database holds {registered} appeals "
                 f"registered by the run, {acted} of them resolved on the spot.")  # fmt: skip
    lines.append(f"Worker RSS after the run: {', '.join(f'{x} MB' for x in rss)}.")
    lines.append("")
    (ROOT / "bench" / "load.md").write_text("\n".join(lines) + "\n")
    (ROOT / "bench" / "load.json").write_text(
        json.dumps({"steps": steps, "rss_mb": rss, "done": done, "registered": registered, "acted": acted}, indent=1)
    )
    print("\n".join(lines))
    from bench.bench import RESULTS_JSON
    from bench.bench import write_report as write_results

    if RESULTS_JSON.exists():  # results.md includes load.md
        write_results(json.loads(RESULTS_JSON.read_text()))


if __name__ == "__main__":
    main()
