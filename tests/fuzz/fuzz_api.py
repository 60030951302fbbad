"""API fuzzing: schemathesis against the served OpenAPI spec, as an authenticated Clerk.

Starts MinQing on a loopback port with a throwaway SQLite database holding the demo
data, logs in as the demo clerk, and lets schemathesis generate requests for every
operation; the run fails on any server error (5xx). Bounded: MINQING_FUZZ_EXAMPLES
cases per operation (default 25) and MINQING_FUZZ_MAX_TIME seconds (default 600).

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
        "--exclude-path-regex",
        "/security/(login|refresh)",
        "--no-color",
    ]
    print(f"fuzzing {base} as clerk: {examples} examples per operation, at most {max_time} s", flush=True)
    done = subprocess.run(argv, cwd=workdir)
    server.shutdown()
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
