"""The summary cells without the channel in their key (migration 0044): 发现 — the appeals of
the channels APPEAL_DISCOVERY_CHANNELS names — is a count column, counted again when that setting
changes (saved or reset in 系统参数) or a channel is renamed, added or removed: by a job started
once a user's change commits (the page says so, with a link to its progress; the figures show the
old 发现 until it is done), in the same transaction outside a request (the CLI, a job)."""

import datetime as dt
import re

import pytest
from sqlalchemy import func, select

from app.core import clock, jobs
from app.extensions import db
from app.models.appeals import AppealSummary
from app.models.lookups import AppealChannel
from app.services import dashboard as dash
from app.services import rollups
from app.services import settings as settings_service
from app.services.scope import EVERYTHING
from tests.conftest import login
from tests.factories import lookup, make_appeal, make_user

APRIL = dash.Period(dt.date(2026, 4, 1), dt.date(2026, 4, 30))


def agree():
    differences = rollups.check(db.session)
    assert differences == [], [rollups.describe(d) for d in differences]
    return True


def found_in(grid):
    return db.session.scalar(
        select(func.coalesce(func.sum(AppealSummary.found), 0)).where(AppealSummary.anchor_grid_id == grid.id)
    )


def discovered(grid):
    area = dash.choose_area(db.session, EVERYTHING, grid.id)
    with clock.frozen("2026-04-30 12:00"):
        return dash.figures(db.session, EVERYTHING, area, APRIL)["figures"]["discovered"]


def test_channels_share_a_summary_cell_and_found_is_a_column(world):
    with clock.frozen("2026-04-01 09:00"):
        for channel in ("入户走访", "来电", "网格巡查", "来信"):
            make_appeal(world["a1"], channel=lookup(AppealChannel, channel))
    cells = db.session.scalars(select(AppealSummary).where(AppealSummary.anchor_grid_id == world["county"].id)).all()
    assert len(cells) == 1 and (cells[0].n, cells[0].found) == (4, 2)  # one cell, not one per channel
    assert discovered(world["county"]) == 2 and agree()


def test_changing_the_setting_recounts_found_in_the_same_transaction(app, world):
    with clock.frozen("2026-04-01 09:00"):
        make_appeal(world["a1"], channel=lookup(AppealChannel, "入户走访"))
        make_appeal(world["a2"], channel=lookup(AppealChannel, "来电"))
        make_appeal(world["b1"], channel=lookup(AppealChannel, "来电"))
        make_appeal(world["b1"], channel=lookup(AppealChannel, "来信"))
    assert (found_in(world["county"]), found_in(world["ta"]), found_in(world["tb"])) == (1, 1, 0)
    assert settings_service.save(db.session, {"APPEAL_DISCOVERY_CHANNELS": "来电\n来信"}) == [
        "APPEAL_DISCOVERY_CHANNELS"
    ]
    # before the commit: the same transaction holds the new counts
    assert (found_in(world["county"]), found_in(world["ta"]), found_in(world["tb"])) == (3, 1, 2)
    db.session.commit()
    settings_service.ensure_current(force=True)
    assert app.config["APPEAL_DISCOVERY_CHANNELS"] == ["来电", "来信"]
    assert agree() and discovered(world["county"]) == 3 and discovered(world["tb"]) == 2
    with clock.frozen("2026-04-02 09:00"):  # a new appeal counts by the new setting
        make_appeal(world["a1"], channel=lookup(AppealChannel, "来信"))
    assert found_in(world["ta"]) == 2 and agree()
    assert settings_service.reset(db.session, "APPEAL_DISCOVERY_CHANNELS")  # config.py's list again
    db.session.commit()
    settings_service.ensure_current(force=True)
    assert (found_in(world["county"]), found_in(world["ta"])) == (1, 1) and agree()


def test_a_failed_setting_save_changes_no_count(app, world):
    with clock.frozen("2026-04-01 09:00"):
        make_appeal(world["a1"], channel=lookup(AppealChannel, "来电"))
    settings_service.save(db.session, {"APPEAL_DISCOVERY_CHANNELS": "来电"})
    assert found_in(world["county"]) == 1
    db.session.rollback()  # the unit of work failed: setting and counts both as they were
    assert found_in(world["county"]) == 0 and agree()


def test_renaming_a_channel_recounts_found(world):
    with clock.frozen("2026-04-01 09:00"):
        make_appeal(world["a1"], channel=lookup(AppealChannel, "说事点"))
    assert found_in(world["county"]) == 1
    channel = lookup(AppealChannel, "说事点")
    channel.name = "议事点"  # no longer the name the setting lists
    db.session.commit()
    assert found_in(world["county"]) == 0 and agree()
    channel.name = "说事点"
    db.session.commit()
    assert found_in(world["county"]) == 1 and agree()


@pytest.fixture
def own_jobs(app, monkeypatch, tmp_path):
    monkeypatch.setitem(app.config, "JOBS_DIR", str(tmp_path / "jobs"))
    monkeypatch.setitem(app.config, "JOBS_REDIS_URL", "")
    yield app
    jobs._pending.clear()


def run_jobs():
    """What the WSGI server does once the response is sent; this session's read ends first (in the
    suite every session shares one outer transaction: a job's commit inside a read still open here
    would be undone with it)."""
    db.session.commit()
    jobs.run_pending()
    db.session.expire_all()


def _flashed_job(client):
    """The 发现 job the last page's flash links to (its id), from the next page shown."""
    body = client.get("/settings/").get_data(as_text=True)
    assert "正在后台按现在所列的渠道重新统计" in body and "查看进度" in body
    found = re.search(r'href="/jobs/([0-9a-f]{32})"', body)
    assert found, body
    return found.group(1)


def test_the_settings_page_leaves_the_recount_to_a_job(client, world, own_jobs):
    with clock.frozen("2026-04-01 09:00"):
        make_appeal(world["a1"], channel=lookup(AppealChannel, "来电"))
    assert found_in(world["county"]) == 0
    login(client, make_user("Admin"))
    response = client.post("/settings/save/appeals", data={"APPEAL_DISCOVERY_CHANNELS": "来电\n入户走访"})
    assert response.status_code == 302
    job_id = _flashed_job(client)
    assert client.application.config["APPEAL_DISCOVERY_CHANNELS"] == ["来电", "入户走访"]
    db.session.expire_all()
    assert found_in(world["county"]) == 0  # the request did not recount: the old 发现 until the job runs
    assert jobs.load(job_id).status == "queued" and jobs.load(job_id).kind == "recount-found"
    run_jobs()
    assert jobs.load(job_id).status == "done"
    assert found_in(world["county"]) == 1 and agree()
    assert "已按以下渠道重新统计" in client.get(f"/jobs/{job_id}").get_data(as_text=True)
    # reset to config.py's list: the same, by a job
    client.post("/settings/reset/APPEAL_DISCOVERY_CHANNELS")
    _flashed_job(client)
    db.session.expire_all()
    assert found_in(world["county"]) == 1
    run_jobs()
    assert found_in(world["county"]) == 0 and agree()


def test_two_quick_changes_the_last_one_wins(client, world, own_jobs):
    with clock.frozen("2026-04-01 09:00"):
        make_appeal(world["a1"], channel=lookup(AppealChannel, "来电"))
        make_appeal(world["a1"], channel=lookup(AppealChannel, "来信"))
    login(client, make_user("Admin"))
    client.post("/settings/save/appeals", data={"APPEAL_DISCOVERY_CHANNELS": "来电"})
    client.post("/settings/save/appeals", data={"APPEAL_DISCOVERY_CHANNELS": "来电\n来信"})
    assert len(jobs._pending) == 2
    first = jobs._pending.pop(0)
    db.session.commit()
    jobs.run(first, client.application)  # the first job runs after the second change committed
    db.session.expire_all()
    assert found_in(world["county"]) == 2  # it counts by the setting as it is when it runs
    run_jobs()
    assert found_in(world["county"]) == 2 and agree()


def test_renaming_a_channel_in_its_admin_page_leaves_the_recount_to_a_job(client, world, own_jobs):
    with clock.frozen("2026-04-01 09:00"):
        make_appeal(world["a1"], channel=lookup(AppealChannel, "说事点"))
    channel = lookup(AppealChannel, "说事点")
    assert found_in(world["county"]) == 1
    login(client, make_user("Admin"))
    response = client.post(
        f"/appealchannelview/edit/{channel.id}",
        data={"name": "议事点", "sort_order": channel.sort_order, "active": "y", "row_version": str(channel.version)},
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(AppealChannel, channel.id).name == "议事点"
    assert found_in(world["county"]) == 1  # not yet
    body = client.get("/appealchannelview/list/").get_data(as_text=True)
    assert "正在后台按现在所列的渠道重新统计" in body and "/jobs/" in body
    run_jobs()
    assert found_in(world["county"]) == 0 and agree()


def test_the_job_kind_can_be_started_by_hand(app, world, own_jobs):
    """`flask minqing enqueue recount-found`: outside a request it runs at once."""
    with clock.frozen("2026-04-01 09:00"):
        make_appeal(world["a1"], channel=lookup(AppealChannel, "来电"))
    db.session.execute(AppealSummary.__table__.update().values(found=7))  # drifted by hand
    db.session.commit()
    job_id = jobs.enqueue("recount-found")
    db.session.expire_all()
    assert jobs.load(job_id).status == "done" and found_in(world["county"]) == 0 and agree()


def test_a_job_that_cannot_start_does_not_undo_the_saved_change(client, world, own_jobs, monkeypatch):
    """The change is committed before the job is asked for: if the queue refuses, the page still
    answers, the setting is saved and the log names the command that counts 发现 again."""
    with clock.frozen("2026-04-01 09:00"):
        make_appeal(world["a1"], channel=lookup(AppealChannel, "来电"))
    login(client, make_user("Admin"))

    def refuse(*_args, **_kwargs):
        raise OSError("JOBS_DIR is not writable")

    monkeypatch.setattr(jobs, "enqueue", refuse)
    response = client.post("/settings/save/appeals", data={"APPEAL_DISCOVERY_CHANNELS": "来电"})
    assert response.status_code == 302
    assert settings_service.stored_value(db.session, "APPEAL_DISCOVERY_CHANNELS") == ["来电"]
    assert "正在后台" not in client.get("/settings/").get_data(as_text=True)
    monkeypatch.undo()
    db.session.commit()  # this session's read ends first (see run_jobs)
    jobs.enqueue("recount-found")  # what the log says to run
    db.session.expire_all()
    assert found_in(world["county"]) == 1 and agree()
