"""No figures kept between requests: the report pages read roll-ups kept on write, so a
write anywhere is on the next view at once, and the memo lives for one request only."""

from flask import g

from app.core import cache, clock
from app.extensions import db
from app.models.lookups import AppealCategory
from tests.conftest import login
from tests.factories import make_appeal, make_user, tree
from tests.test_dashboard import _figure


def test_the_memo_lives_for_one_request(app):
    calls = []

    def compute():
        calls.append(1)
        return {"n": len(calls)}

    with app.test_request_context():
        assert cache.memo(("k", {1, 2}), compute) == {"n": 1}
        assert cache.memo(("k", {2, 1}), compute) == {"n": 1} and len(calls) == 1
    with app.test_request_context():
        assert cache.memo(("k", {1, 2}), compute) == {"n": 2}  # another request counts again
    assert cache.memo(("k", {1, 2}), compute) == {"n": 3}  # outside a request: every time


def test_a_write_in_the_request_forgets_its_memo(app):
    with app.test_request_context():
        cache.memo("k", lambda: 1)
        assert g.get("_minqing_memo") is not None
        db.session.add(AppealCategory(name="写入即忘", sort_order=99))
        db.session.flush()
        assert g.get("_minqing_memo") is None


def test_another_users_write_is_on_the_next_view_at_once(client):
    t = tree()
    login(client, make_user("Leader", t["ta"]))
    period = "start=2026-05-01&end=2026-05-31"
    with clock.frozen("2026-05-20 10:00"):
        make_appeal(t["a1"])
        assert _figure(client.get(f"/dashboard/?{period}").get_data(as_text=True), "collected") == 1
        make_appeal(t["a2"])  # another user registers
        html = client.get(f"/dashboard/?{period}").get_data(as_text=True)
        assert _figure(html, "collected") == 2
        assert "data-mq-recounting" not in html and "正在重新统计" not in html
        sheet = client.get(f"/accountability/?grid={t['ta'].id}&{period}&format=xlsx")
        assert sheet.status_code == 200
    db.session.rollback()
