"""The summary cells without the channel in their key (migration 0044): 发现 — the appeals of
the channels APPEAL_DISCOVERY_CHANNELS names — is a count column, counted again in the same
transaction when that setting changes (saved or reset in 系统参数) or a channel is renamed,
added or removed; the dashboard's discovery figures follow at once."""

import datetime as dt

from sqlalchemy import func, select

from app.core import clock
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


def test_the_settings_page_recounts(client, world):
    with clock.frozen("2026-04-01 09:00"):
        make_appeal(world["a1"], channel=lookup(AppealChannel, "来电"))
    login(client, make_user("Admin"))
    response = client.post("/settings/save/appeals", data={"APPEAL_DISCOVERY_CHANNELS": "来电\n入户走访"})
    assert response.status_code in (200, 302)
    client.get("/settings/")  # the next request applies the stored value
    assert client.application.config["APPEAL_DISCOVERY_CHANNELS"] == ["来电", "入户走访"]
    db.session.expire_all()
    assert found_in(world["county"]) == 1 and agree()
