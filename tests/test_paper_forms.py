"""Paper forms entered faithfully: the appeal form takes the paper's registration date (登记日期,
back-dated within APPEAL_BACKDATE_DAYS, numbered from that month's counter) and who filled it
in (填表人, the clerk by default)."""

from datetime import date

from sqlalchemy import select

from app.core.clock import frozen
from app.extensions import db
from app.models.appeals import Appeal, AppealEvent
from app.models.lookups import AppealCategory, AppealChannel
from tests.conftest import login
from tests.factories import lookup, make_appeal, make_user

TODAY = "2026-03-05 10:00"


def form(world, **overrides):
    data = {
        "registered_at": "2026-03-05", "filed_by_name": "", "reporter_name": "李四", "content": "村东路灯损坏。",
        "importance": "general", "channel": str(lookup(AppealChannel).id), "category": str(lookup(AppealCategory).id),
        "grid": str(world["a1"].id),
    }  # fmt: skip
    data.update(overrides)
    return data


def test_the_form_starts_with_today_and_the_clerk(client, world):
    with frozen(TODAY):
        clerk = make_user("Clerk", world["ta"], username="clerk_zhang")
        login(client, clerk)
        body = client.get("/appealview/add").get_data(as_text=True)
    assert 'name="registered_at"' in body and 'value="2026-03-05"' in body
    assert 'name="filed_by_name"' in body and 'value="clerk_zhang"' in body
    assert "登记日期" in body and "填表人" in body and "31 天" in body


def test_a_back_dated_paper_form_is_numbered_in_its_own_month(client, world):
    make_appeal(world["a1"], at="2026-02-10 09:00")  # February's counter stands at 1
    make_appeal(world["a1"], at="2026-03-01 09:00")  # March's too
    with frozen(TODAY):
        clerk = make_user("Clerk", world["ta"])
        login(client, clerk)
        data = form(world, registered_at="2026-02-20", filed_by_name="王网格员", importance="general")
        response = client.post("/appealview/add", data=data)
        assert response.status_code == 302, response.get_data(as_text=True)
        fresh = client.post("/appealview/add", data=form(world, reporter_name="赵六"))
        assert fresh.status_code == 302
    appeal = db.session.scalar(select(Appeal).where(Appeal.reporter_name == "李四"))
    assert appeal.number == "202602002" and appeal.registered_at.date() == date(2026, 2, 20)
    assert appeal.due_date == date(2026, 2, 27)  # a week from the paper's date: overdue already, as it is
    assert appeal.filed_by_name == "王网格员" and appeal.filed_by_id == clerk.id
    note = db.session.scalar(select(AppealEvent.note).where(AppealEvent.appeal_id == appeal.id))
    assert "2026-02-20" in note and "王网格员" in note
    today_one = db.session.scalar(select(Appeal).where(Appeal.reporter_name == "赵六"))
    assert today_one.number == "202603002" and today_one.filed_by_name == clerk.username


def test_a_future_or_too_old_date_is_refused_with_the_other_problems(client, world, app, monkeypatch):
    with frozen(TODAY):
        login(client, make_user("Clerk", world["ta"]))
        body = client.post("/appealview/add", data=form(world, registered_at="2026-03-06")).get_data(as_text=True)
        assert "登记日期 2026-03-06 晚于今天" in body
        data = form(world, registered_at="2026-01-20", reporter_phone="12345")
        body = client.post("/appealview/add", data=data).get_data(as_text=True)
        assert "2026-01-20" in body and "31" in body and "不是有效的电话号码" in body
        assert db.session.scalar(select(db.func.count()).select_from(Appeal)) == 0
        monkeypatch.setitem(app.config, "APPEAL_BACKDATE_DAYS", 60)  # a county that types in two months of paper
        assert client.post("/appealview/add", data=form(world, registered_at="2026-01-20")).status_code == 302
    assert db.session.scalar(select(Appeal.number)) == "202601001"
