"""API fuzzing: schemathesis against the served OpenAPI spec, as an authenticated Clerk.

Starts MinQing on a loopback port with a throwaway SQLite database holding the demo
data, logs in as the demo clerk, and lets schemathesis generate requests for every
operation (valid and invalid ones, NUL bytes included: every appeal step through its own
request schema); the run fails on any server error (5xx). Bounded: MINQING_FUZZ_EXAMPLES
cases per operation (default 25) and MINQING_FUZZ_MAX_TIME seconds (default 600).

Then a fixed set of malformed requests (issue 18, item 4: ids and page numbers past any
column, broken rison, NUL bytes and lone surrogates, numbers past 64 bits, a body over the
upload limit), to pages and API alike: each must be a clear 400/404/413/422.

    make fuzz
"""

import os
import subprocess
import sys
import tempfile
import threading

import requests
from werkzeug.serving import make_server

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)


def build_app(workdir):
    from flask_migrate import upgrade

    from app import create_app
    from app.demo import load_demo
    from app.extensions import db
    from app.security import sync_roles
    from app.services.lookups import seed_lookups

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir}/fuzz.db",
            "INSTANCE_DIR": workdir,
            "SECRET_KEY": "fuzz-secret-key-0123456789abcdef0123456789",
            "RATELIMIT_ENABLED": False,
            "FAB_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        }
    )
    with app.app_context():
        upgrade()
        seed_lookups(db.session)
        db.session.commit()
        sync_roles(app.appbuilder)
        load_demo(db.session, app.appbuilder.sm)
    return app


HUGE = "99999999999999999999"


def malformed_requests(appeal_id):
    """(method, path, requests keyword arguments, the answers that are right)."""
    clear = {400, 404, 413, 422}
    api = [
        ("GET", f"/api/v1/grid/?q=(page:{HUGE})", {}, clear),
        ("GET", "/api/v1/grid/?q=(page:-1)", {}, clear),
        ("GET", f"/api/v1/grid/?q=(page_size:{HUGE})", {}, clear),
        ("GET", f"/api/v1/person/?q=(filters:!((col:grid,opr:rel_o_m,value:{HUGE})))", {}, clear),
        ("GET", "/api/v1/person/?q=(filters:!((col:grid,opr:rel_o_m,value:abc)))", {}, clear),
        ("GET", "/api/v1/person/?q=(filters:!((col:name,opr:ct,value:'a%00b')))", {}, clear),
        ("GET", "/api/v1/grid/?q=(filters:!((col:households,opr:gt,value:abc)))", {}, clear),
        ("GET", f"/api/v1/grid/_info?q=(add_columns:(parent:(page:{HUGE})))", {}, clear),
        ("POST", "/api/v1/grid/", {"json": {"code": "FZ1", "name": "x", "households": 2**63}}, clear),
        ("POST", "/api/v1/person/", {"data": '{"name": "\\u0000", "grid": 1}'}, clear),
        ("POST", "/api/v1/person/", {"data": '{"name": "\\ud800", "grid": 1}'}, clear),
        ("POST", "/api/v1/person/", {"data": '{"name": "x", "grid": NaN}'}, clear),
        ("POST", "/api/v1/person/", {"data": "x" * (12 * 1024 * 1024)}, {413}),
        ("POST", f"/api/v1/appeal/{appeal_id}/assign", {"json": {"handler_person": 99999999999999}}, clear),
        ("POST", f"/api/v1/appeal/{appeal_id}/assign", {"json": {"handler_person": 2**63}}, clear),
        ("PUT", f"/api/v1/appeal/{appeal_id}", {"json": {"reporter_unit": "x"}}, {428}),
        ("GET", f"/api/v1/grid/{HUGE}", {}, clear),
    ]
    for case in api:
        if "data" in case[2]:
            case[2]["headers"] = {"Content-Type": "application/json"}
    pages = [
        ("GET", f"/picker/grid?id={HUGE}", {}, clear),
        ("GET", f"/picker/grid?page={HUGE}", {}, clear),
        ("GET", "/picker/person?q=a%00b", {}, clear),
        ("GET", f"/appealview/list/?in={HUGE}", {}, clear),
        ("GET", f"/appealview/list/?origin={HUGE}&stat=closed", {}, clear),
        ("GET", f"/appealview/list/?category={HUGE}", {}, clear),
        ("GET", f"/appealview/list/?page_AppealView={HUGE}", {}, clear),
        ("GET", "/personview/list/?_flt_0_grid=abc", {}, clear),
        ("GET", "/personview/list/?_flt_0_name=a%00b", {}, clear),
        ("GET", f"/personview/show/{HUGE}", {}, clear),
    ]
    return api, pages


def web_session(base, password):
    """A logged-in browser session (the login form's CSRF token read first)."""
    web = requests.Session()
    page = web.get(f"{base}/login/", timeout=30).text
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    done = web.post(f"{base}/login/", data={"username": "clerk", "password": password, "csrf_token": token},
                    allow_redirects=False, timeout=30)  # fmt: skip
    assert done.status_code == 302, done.status_code
    return web


def probe_malformed(base, token, password):
    listed = requests.get(f"{base}/api/v1/appeal/?q=(page_size:1)", headers={"Authorization": f"Bearer {token}"},
                          timeout=30).json()  # fmt: skip
    api, pages = malformed_requests(listed["ids"][0])
    web = web_session(base, password)
    wrong = []
    for method, path, kwargs, right in api:
        headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
        status = requests.request(method, base + path, headers=headers, timeout=60, **kwargs).status_code
        print(f"  {status}  {method} {path[:90]}", flush=True)
        if status not in right:
            wrong.append((method, path, status))
    for method, path, kwargs, right in pages:
        status = web.request(method, base + path, timeout=60, allow_redirects=False, **kwargs).status_code
        print(f"  {status}  {method} {path[:90]}", flush=True)
        if status not in right:
            wrong.append((method, path, status))
    print(f"malformed requests: {len(api) + len(pages)} sent, {len(wrong)} answered wrongly", flush=True)
    for case in wrong:
        print("  WRONG", case, flush=True)
    return len(wrong)


def step_config(base, token):
    """schemathesis.toml pinning each appeal step's `pk` to a demo appeal in the clerk's scope
    whose state allows that step: the generated bodies then reach the step's schema and rules
    (a random pk is a 404 before the body is read)."""
    from app.services.appeals import TRANSITIONS

    headers = {"Authorization": f"Bearer {token}"}
    lines = []
    for n, (action, transition) in enumerate(TRANSITIONS.items()):
        ids = []
        for state in sorted(str(s) for s in transition.sources):
            q = f"(filters:!((col:status,opr:eq,value:{state})),page_size:5)"
            listed = requests.get(f"{base}/api/v1/appeal/", params={"q": q}, headers=headers, timeout=30)
            ids += listed.json().get("ids") or [] if listed.status_code == 200 else []
        if not ids:
            ids = requests.get(f"{base}/api/v1/appeal/?q=(page_size:1)", headers=headers, timeout=30).json()["ids"]
        lines += ["[[operations]]", f'include-path = "/api/v1/appeal/{{pk}}/{action}"', "[operations.parameters]",
                  f'"path.pk" = {ids[n % len(ids)]}', ""]  # fmt: skip
    return "\n".join(lines)


def main():
    workdir = tempfile.mkdtemp(prefix="minqing-fuzz-")
    app = build_app(workdir)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    port = server.server_port
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    password = app.config["DEMO_PASSWORD"]
    login = requests.post(
        f"{base}/api/v1/security/login",
        json={"username": "clerk", "password": password, "provider": "db"},
        timeout=30,
    )
    login.raise_for_status()
    token = login.json()["access_token"]
    with open(os.path.join(workdir, "schemathesis.toml"), "w", encoding="utf-8") as fh:
        fh.write(step_config(base, token))
    examples = os.environ.get("MINQING_FUZZ_EXAMPLES", "25")
    max_time = os.environ.get("MINQING_FUZZ_MAX_TIME", "600")
    argv = [
        os.path.join(os.path.dirname(sys.executable), "schemathesis"),
        "run",
        f"{base}/api/v1/_openapi",
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        "not_a_server_error",
        "--max-examples",
        examples,
        "--max-time",
        max_time,
        "--seed",
        "20261124",
        "--workers",
        "1",
        "--generation-database",
        "none",
        "--generation-allow-x00",
        "true",
        "--exclude-path-regex",
        "/security/(login|refresh)",
        "--no-color",
    ]
    print(f"fuzzing {base} as clerk: {examples} examples per operation, at most {max_time} s", flush=True)
    done = subprocess.run(argv, cwd=workdir)
    wrong = probe_malformed(base, token, password)
    server.shutdown()
    return done.returncode or (1 if wrong else 0)


if __name__ == "__main__":
    sys.exit(main())
