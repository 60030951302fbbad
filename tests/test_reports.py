"""A read replica for the report pages (REPORTS_DATABASE_URL): they read it, everything else the primary."""

from datetime import date

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from app.core import replica as reports
from app.core.clock import frozen
from app.extensions import db
from tests.conftest import login
from tests.factories import make_appeal, make_person, make_user, make_visit, tree

REPORT_PAGES = (
    "/dashboard/",
    "/accountability/",
    "/quotaruleview/progress/",
    "/quotaruleview/progress/?tab=people",
    "/representativeview/progress/",
)


def _bodies(client):
    return {url: client.get(url).get_data(as_text=True) for url in REPORT_PAGES}


@pytest.mark.commits  # the replica is a second engine: it sees committed rows only
def test_report_pages_read_the_replica_and_show_the_same(app, client):
    t = tree()
    with frozen("2026-03-15 10:00"):
        make_appeal(t["a1"], at="2026-03-02 09:00", reporter_name="副本甲")
        make_visit(t["a1"], [make_person(t["a1"])], visit_date=date(2026, 3, 3))
        login(client, make_user("Leader", t["ta"]))
        on_primary = _bodies(client)
        seen = []

        def record(conn, _cursor, statement, *_args):
            seen.append((conn.engine is db.engine, statement))

        event.listen(Engine, "before_cursor_execute", record)
        # the same database under another engine stands in for the replica
        app.config["REPORTS_DATABASE_URL"] = str(db.engine.url.render_as_string(hide_password=False))
        try:
            on_replica = _bodies(client)
        finally:
            app.config["REPORTS_DATABASE_URL"] = ""
            event.remove(Engine, "before_cursor_execute", record)
            for engine in reports._engines.values():
                engine.dispose()
            reports._engines.clear()
    for url in REPORT_PAGES:
        assert client.get(url).status_code == 200
        assert _strip(on_replica[url]) == _strip(on_primary[url]), url
    heavy = [(primary, s) for primary, s in seen if "sum(" in s.lower() or "visit_tally" in s]
    assert heavy and not [s for primary, s in heavy if primary]  # every aggregate ran on the replica
    assert any(primary for primary, _s in seen)  # sign-in, permissions and scope stay on the primary


def _strip(body):
    """The page without what differs between two renderings (nonces, CSRF tokens, the figures' time)."""
    import re

    body = re.sub(r'nonce="[^"]*"', "", body)
    body = re.sub(r'name="csrf_token"[^>]*>', "", body)
    body = re.sub(r'<span id="mq-computed-at">.*?</span>', "", body, flags=re.S)
    return body
