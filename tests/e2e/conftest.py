"""Browser tests: the real app served on a loopback port (its own SQLite file with the
demo data), driven by Playwright in Debian's Chromium (/usr/bin/chromium, no download).

Part of `make test` (skipped without Chromium); `make screenshots` refreshes docs/screenshots/.
"""

import os
import shutil
import tempfile
import threading

import pytest
from werkzeug.serving import make_server

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# `make screenshots` refreshes docs/screenshots; ordinary runs keep theirs in a temp dir
SHOTS = os.environ.get("MINQING_SCREENSHOT_DIR") or os.path.join(tempfile.gettempdir(), "minqing-screenshots")
CHROMIUM = os.environ.get("MINQING_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(autouse=True)
def _clean():
    """The unit tests' database wipe does not apply here: the server has its own database."""
    yield


@pytest.fixture(scope="session")
def server():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    from flask_migrate import upgrade

    from app import create_app
    from app.demo import load_demo
    from app.extensions import db
    from app.security import sync_roles
    from app.services.assessments import seed_default_scheme
    from app.services.lookups import seed_lookups

    workdir = tempfile.mkdtemp(prefix="minqing-e2e-")
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir}/e2e.db",
            "INSTANCE_DIR": workdir,
            "SECRET_KEY": "e2e-secret-key-0123456789abcdef0123456789",
            "RATELIMIT_ENABLED": False,
            "FAB_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        }
    )
    with app.app_context():
        upgrade()
        seed_lookups(db.session)
        db.session.commit()
        sync_roles(app.appbuilder)
        seed_default_scheme(db.session)  # as `flask minqing init` does (百分制考核 of seed 003)
        db.session.commit()
        load_demo(db.session, app.appbuilder.sm)
        from sqlalchemy import select

        from app.models.grids import Grid

        app.config["_E2E_TOWN2_ID"] = db.session.scalar(select(Grid.id).where(Grid.name == "黄河街道"))
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield {"url": f"http://127.0.0.1:{httpd.server_port}", "app": app, "password": app.config["DEMO_PASSWORD"]}
    httpd.shutdown()
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic"],
        )  # fmt: skip
        yield chromium
        chromium.close()


class Session:
    """A signed-in user in a fresh browser context; `shot(name)` saves a screenshot."""

    def __init__(self, browser, server, username, width=1280, height=900):
        self.context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
        self.page = self.context.new_page()
        self.errors = []
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on(
            "console", lambda msg: msg.type == "error" and "favicon" not in msg.text and self.errors.append(msg.text)
        )
        self.url = server["url"]
        self.page.goto(self.url + "/login/")
        self.page.fill("#username", username)
        self.page.fill("#password", server["password"])
        with self.page.expect_navigation():  # not only a load state the old page already had
            self.page.click("input[type=submit], button[type=submit]")
        self.page.wait_for_load_state()

    def go(self, path):
        self.page.goto(self.url + path)
        self.page.wait_for_load_state()
        return self.page

    def shot(self, name, full_page=True):
        os.makedirs(SHOTS, exist_ok=True)
        self.page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=full_page)

    def pick(self, field_id, text):
        """Choose `text` in a server-side search picker (select2)."""
        self.page.click(f"#{field_id} + .select2 .select2-selection")
        self.page.fill(".select2-container--open .select2-search__field", text)
        self.page.wait_for_selector(".select2-results__option--highlighted, .select2-results__option[aria-selected]")
        self.page.keyboard.press("Enter")

    def close(self):
        self.context.close()


@pytest.fixture
def as_user(browser, server):
    sessions = []

    def make(username, **kw):
        session = Session(browser, server, username, **kw)
        sessions.append(session)
        return session

    yield make
    for session in sessions:
        assert session.errors == [], session.errors
        session.close()
