"""`flask minqing demo`: the county it loads, read by several tests.

The demo takes seconds to load, so it is loaded once for this module, by the
command, inside a transaction of the module's own that is rolled back after its
last test; each test nests in it (a SAVEPOINT) as tests nest in theirs elsewhere.
Under pytest-xdist the module runs on one worker (XDIST_TOGETHER in conftest).
(These tests were in test_cli, test_representatives and test_appeals, each
loading the demo itself.)"""

import contextlib

import pytest
from sqlalchemy import func, select

from app import cli as cli_module
from app import demo as demo_package
from app.extensions import db
from app.models.appeals import Appeal
from app.models.grids import Grid
from app.models.personnel import Person
from app.models.representatives import Constituency, ContactRecord, Representative
from app.services import appeals as svc
from app.services import representatives as rep_service
from app.services import scope
from tests.conftest import joined_transaction


def _count(model, *where):
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def contact_count(rep):
    return db.session.scalar(
        select(func.count()).select_from(ContactRecord).where(ContactRecord.representative_id == rep.id)
    )


@pytest.fixture(scope="module")
def demo(app):
    """`flask minqing demo` run once: its CLI result and what load_demo() returned."""
    summaries = []
    real = demo_package.load_demo

    def recorded(*args, **kwargs):
        summaries.append(real(*args, **kwargs))
        return summaries[-1]

    with contextlib.ExitStack() as stack:
        with app.app_context():
            stack.enter_context(joined_transaction())  # rolled back when the module is done
            with pytest.MonkeyPatch.context() as mp:
                mp.setattr(demo_package, "load_demo", recorded)
                mp.setattr(cli_module, "load_demo", recorded)  # where the command looks it up
                result = app.test_cli_runner().invoke(args=["minqing", "demo"])
        yield {"runner": app.test_cli_runner(), "result": result, "summary": summaries[0] if summaries else None}
        with app.app_context():
            stack.close()


def test_demo_loads_a_county_with_one_login_per_role(app, demo):
    runner, result = demo["runner"], demo["result"]
    assert result.exit_code == 0, result.output
    assert 200 <= _count(Grid) <= 260
    assert 400 <= _count(Person) <= 650
    roles = set()
    for username in ("clerk", "gridworker", "leader", "countyleader", "rep"):
        user = app.appbuilder.sm.find_user(username=username)
        roles.update(r.name for r in user.roles)
        assert not scope.for_user(db.session, user).empty, username
    assert roles == {"Clerk", "GridWorker", "Leader", "Representative"}
    again = runner.invoke(args=["minqing", "demo"])
    assert again.exit_code != 0  # never on top of real data


def test_demo_has_visits_representatives_and_a_rep_login_with_its_own_records(app, demo):
    from app.models.visits import Visit

    result = demo["result"]
    assert result.exit_code == 0, result.output
    assert db.session.scalar(select(func.count()).select_from(Visit)) >= 300
    assert 10 <= db.session.scalar(select(func.count()).select_from(Representative)) <= 20
    rep_login = app.appbuilder.sm.find_user(username="rep")
    (mandate,) = rep_service.own_representatives(db.session, rep_login)
    assert contact_count(mandate) > 0
    assert db.session.scalar(select(func.count()).select_from(Constituency).where(Constituency.grid_id.is_(None))) == 0


def test_demo_has_a_year_of_appeals_in_every_state(demo):
    summary = demo["summary"]
    assert 300 <= summary["appeals"] == _count(Appeal)
    statuses = set(db.session.scalars(select(Appeal.status).distinct()))
    assert statuses == {"registered", "escalated", "assigned", "in_progress", "answered", "evaluated", "archived"}
    assert _count(Appeal, svc.overdue_clause()) > 0
    assert _count(Appeal, Appeal.satisfaction.is_not(None)) > 100
    assert _count(Appeal, Appeal.duplicate_of_id.is_not(None)) > 0
    months = set(db.session.scalars(select(Appeal.number_month).distinct()))
    assert len(months) >= 12
    # every number is the month's sequence without gaps
    for month in months:
        seqs = sorted(db.session.scalars(select(Appeal.number_seq).where(Appeal.number_month == month)))
        assert seqs == list(range(1, len(seqs) + 1))


def test_the_notices_give_each_level_s_first_responsible_its_own_duty(app, demo):
    """Seed 003: the county's 第一责任人 on the 公示牌 carries the county's duty text, a township's its
    own; a village's police officer is the 首席民警 of seed 003."""
    from app.models.personnel import Assignment, Post

    rows = db.session.execute(
        select(Grid.depth, Assignment.duty_note).join(Assignment, Assignment.grid_id == Grid.id)
        .join(Post, Post.id == Assignment.post_id).where(Post.name == "第一责任人")
    ).all()  # fmt: skip
    county = [note for depth, note in rows if depth == 0]
    townships = [note for depth, note in rows if depth == 1]
    assert county and all("全县" in n and "乡镇" not in n.split("督促")[0] for n in county)
    assert townships and all("本镇" in n or "本乡" in n or "本街道" in n for n in townships)
    with app.test_client() as client:
        client.post("/login/", data={"username": "countyleader", "password": app.config["DEMO_PASSWORD"]})
        top = db.session.scalar(select(Grid).where(Grid.parent_id.is_(None)))
        body = client.get(f"/gridview/notice/{top.id}").get_data(as_text=True)
        assert "全县网格化管理" in body and "对本乡镇网格化管理负总责" not in body
    assert db.session.scalar(select(func.count()).select_from(Post).where(Post.name == "首席民警")) == 1
