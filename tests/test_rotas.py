"""Rotas with public notice: generation, the month's minimum, the calendar, the 公示 page,
scope and masking, and the attendance 考核 reads (issue 16)."""

from datetime import date

import pytest
from sqlalchemy import func, select

from app.core.clock import frozen
from app.core.errors import DomainError
from app.extensions import db
from app.models.rotas import Rota, RotaKind, RotaSlot
from app.services import rotas
from tests.conftest import api_token, login
from tests.factories import make_appeal, make_person, make_user


def kind(code):
    return db.session.scalar(select(RotaKind).where(RotaKind.code == code))


def make_rota(grid, code="speakup", members=(), start=date(2027, 2, 1), end=date(2027, 2, 28), **kw):
    rota = Rota(grid=grid, kind=kind(code), name=kw.pop("name", None), weekdays=kw.pop("weekdays", None),
                start_date=start, end_date=end, **kw)  # fmt: skip
    rota.members = list(members)
    rotas.validate_rota(db.session, rota)
    db.session.add(rota)
    db.session.commit()
    return rota


def slots_of(rota):
    return {
        s.slot_date: s
        for s in db.session.scalars(select(RotaSlot).where(RotaSlot.rota_id == rota.id).order_by(RotaSlot.slot_date))
    }


@pytest.fixture
def world(world):
    a1 = world["a1"]
    world["cadres"] = [make_person(a1, name=n, phone=f"1370000000{i}") for i, n in enumerate(("张一", "李二", "王三"))]
    return world


def test_the_seeded_kinds_carry_the_seeds_minimums():
    got = {k.code: (k.name, k.weekdays, k.minimum_per_month, k.collective_per_month, k.minimum_per_week, k.every_slot)
           for k in db.session.scalars(select(RotaKind))}  # fmt: skip
    assert got["speakup"] == ("村民说事日", "3", 4, None, None, False)
    assert got["studio"] == ("两代表工作室", "5", 2, 1, None, False)
    assert got["reception"] == ("领导带班接访", "1,2,3,4,5", None, None, None, True)
    assert got["patrol"][4] == 1
    assert got["homevisit"][0] == "家访公告"


def test_generation_follows_the_rule_in_turn_and_is_idempotent(world):
    zhang, li, wang = world["cadres"]
    rota = make_rota(world["a1"], members=[li, zhang, wang])
    rotas.set_rotation(rota, [zhang.id, li.id, wang.id])
    result = rotas.generate_slots(db.session, rota)
    db.session.commit()
    # February 2027's Wednesdays: 3, 10, 17, 24; in turn 张一, 李二, 王三, 张一
    got = {d.day: s.person.name for d, s in slots_of(rota).items()}
    assert got == {3: "张一", 10: "李二", 17: "王三", 24: "张一"}
    assert (result.created, result.updated, result.removed) == (4, 0, 0)
    assert rota.name == "村民说事日" and rota.weekdays == "3"  # the kind's defaults

    again = rotas.generate_slots(db.session, rota)
    db.session.commit()
    assert (again.created, again.updated, again.removed, again.kept) == (0, 0, 0, 4)
    assert db.session.scalar(select(func.count()).select_from(RotaSlot)) == 4


def test_generation_never_overwrites_a_slot_edited_recorded_or_linked(world):
    zhang, li, wang = world["cadres"]
    rota = make_rota(world["a1"], members=[zhang, li, wang])
    rotas.set_rotation(rota, [zhang.id, li.id, wang.id])
    rotas.generate_slots(db.session, rota)
    db.session.commit()
    slots = slots_of(rota)
    slots[date(2027, 2, 3)].held = True  # recorded
    slots[date(2027, 2, 10)].edited = True  # changed by hand
    slots[date(2027, 2, 10)].person = wang
    slots[date(2027, 2, 17)].appeals = [make_appeal(world["a1"])]  # linked
    db.session.commit()

    rotas.set_rotation(rota, [wang.id, li.id, zhang.id])  # a new turn order, then Tuesdays too
    rota.weekdays = "2,3"
    result = rotas.generate_slots(db.session, rota)
    db.session.commit()
    got = {d.day: s.person.name for d, s in slots_of(rota).items()}
    # Tue/Wed: 2 王, 3 李, 9 张, 10 王, 16 李, 17 张, 23 王, 24 李 — but 3 (held), 10 (edited), 17 (linked) stay
    assert got[3] == "张一" and got[10] == "王三" and got[17] == "王三"
    assert got[2] == "王三" and got[9] == "张一" and got[24] == "李二"
    assert result.kept == 3 and result.created == 4

    rota.weekdays = "2"  # Wednesdays dropped: the untouched one goes, the three others stay
    result = rotas.generate_slots(db.session, rota)
    db.session.commit()
    assert sorted(d.day for d in slots_of(rota)) == [2, 3, 9, 10, 16, 17, 23]
    assert result.removed == 1


def _record(rota, held_days, missed_days=(), collective_days=()):
    for day, slot in slots_of(rota).items():
        if day.day in held_days:
            slot.held = True
        elif day.day in missed_days:
            slot.held = False
        slot.collective = day.day in collective_days
    db.session.commit()


def test_a_month_of_speak_up_days_with_one_missed_wednesday_misses_the_minimum(world):
    rota = make_rota(world["a1"], members=world["cadres"])
    rotas.generate_slots(db.session, rota)
    _record(rota, held_days={3, 10, 24}, missed_days={17})
    check = rotas.month_check(db.session, rota, 2027, 2, on=date(2027, 3, 1))
    assert (check.scheduled, check.held, check.missed, check.pending) == (4, 3, 1, 0)
    assert [(c.needed, c.done) for c in check.criteria] == [(4, 3)]
    assert check.state == "missed"
    # mid-month, one missed already: four can no longer be reached in February
    assert rotas.month_check(db.session, rota, 2027, 2, on=date(2027, 2, 20)).state == "missed"
    _record(rota, held_days={3, 10, 17, 24})
    assert rotas.month_check(db.session, rota, 2027, 2, on=date(2027, 3, 1)).state == "met"


def test_a_studio_month_with_two_openings_and_one_collective_reception_is_met(world):
    rota = make_rota(world["a1"], code="studio", members=world["cadres"])  # Fridays: 5, 12, 19, 26
    rotas.generate_slots(db.session, rota)
    _record(rota, held_days={5, 19}, missed_days={12, 26}, collective_days={19})
    check = rotas.month_check(db.session, rota, 2027, 2, on=date(2027, 3, 1))
    assert [(c.needed, c.done) for c in check.criteria] == [(2, 2), (1, 1)]
    assert check.state == "met"
    _record(rota, held_days={5, 19}, missed_days={12, 26})  # no collective reception
    assert rotas.month_check(db.session, rota, 2027, 2, on=date(2027, 3, 1)).state == "missed"


def test_every_working_day_and_weekly_patrol_minimums(world):
    reception = make_rota(world["a1"], code="reception", members=world["cadres"][:1],
                          start=date(2027, 2, 1), end=date(2027, 2, 5))  # fmt: skip
    rotas.generate_slots(db.session, reception)
    _record(reception, held_days={1, 2, 3, 4})
    with frozen("2027-02-04 09:00"):
        assert rotas.month_check(db.session, reception, 2027, 2).state == "open"  # 5 February to come
    assert rotas.month_check(db.session, reception, 2027, 2, on=date(2027, 2, 6)).state == "missed"
    patrol = make_rota(world["a1"], code="patrol", members=world["cadres"][:1], weekdays="1,4")
    rotas.generate_slots(db.session, patrol)
    _record(patrol, held_days={1, 11, 15, 22})  # every week of February 2027 has one
    check = rotas.month_check(db.session, patrol, 2027, 2, on=date(2027, 3, 1))
    assert [(c.needed, c.done) for c in check.criteria] == [(4, 4)] and check.state == "met"


def test_the_rules_of_a_rota_are_checked_all_at_once(world):
    rota = Rota(grid=world["a1"], kind=kind("speakup"), weekdays="周八", start_date=date(2027, 3, 1),
                end_date=date(2027, 2, 1))  # fmt: skip
    with pytest.raises(DomainError) as err:
        rotas.validate_rota(db.session, rota)
    fields = {e.field for e in getattr(err.value, "errors", [err.value])}
    assert fields == {"weekdays", "end_date"}
    assert rotas.parse_weekdays("一、三，周五") == [1, 3, 5]


def test_attendance_for_the_assessment(world):
    zhang, li, wang = world["cadres"]
    rota = make_rota(world["a1"], members=[zhang, li])
    rotas.set_rotation(rota, [zhang.id, li.id])
    rotas.generate_slots(db.session, rota)  # 3 张, 10 李, 17 张, 24 李
    _record(rota, held_days={3, 10}, missed_days={17})
    on = date(2027, 2, 20)
    feb = (date(2027, 2, 1), date(2027, 2, 28))
    assert rotas.rota_attendance(db.session, *feb, person_id=zhang.id, on=on) == rotas.Attendance(2, 1)
    assert rotas.rota_attendance(db.session, *feb, grid_id=world["ta"].id, on=on) == rotas.Attendance(3, 2)
    assert rotas.rota_attendance(db.session, *feb, grid_id=world["tb"].id, on=on) == rotas.Attendance(0, 0)
    # the 百分制考核's automatic item 值班出勤率 reads the same figure per member
    from app.core import clock
    from app.services.assessments.sources import SOURCES

    with clock.frozen("2027-02-20 12:00"):
        got = SOURCES["rota_attendance"].compute(db.session, [zhang.id, li.id, wang.id], *feb)
    assert got[zhang.id][0] == 0.5 and "1" in got[zhang.id][1] and "2" in got[zhang.id][1]
    assert got[li.id][0] == 1.0  # 10 held; 24 not yet due
    assert wang.id not in got  # no slot: no data (暂无数据)


# --------------------------------------------------------------------------
# Pages, API, scope and masking
# --------------------------------------------------------------------------


def test_a_clerk_adds_a_rota_generates_it_and_records_a_slot(client, world):
    clerk = make_user("Clerk", world["ta"])
    login(client, clerk)
    zhang, li, _ = world["cadres"]
    with frozen("2027-02-01 09:00"):
        response = client.post("/rotaview/add", data={
            "grid": world["a1"].id, "kind": kind("speakup").id, "name": "", "weekdays": "", "start_date": "2027-02-01",
            "end_date": "2027-02-28", "hours": "", "place": "村委会说事室", "duty": "接待群众说事",
            "members": [zhang.id, li.id], "active": "y",
        })  # fmt: skip
        assert response.status_code == 302, response.get_data(as_text=True)
        rota = db.session.scalar(select(Rota).where(Rota.place == "村委会说事室"))
        assert rota.weekdays == "3" and rota.hours == "全天"
        assert client.post(f"/rotaview/generate/{rota.id}", data={"month": "2027-02"}).status_code == 302
        assert len(slots_of(rota)) == 4
        page = client.get(f"/rotaview/calendar/{rota.id}?month=2027-02").get_data(as_text=True)
        assert 'data-state="open"' in page and "张一" in page
    slot = slots_of(rota)[date(2027, 2, 3)]
    with frozen("2027-02-04 09:00"):
        response = client.post(f"/rotaslotview/edit/{slot.id}", data={
            "rota": rota.id, "slot_date": "2027-02-03", "person": zhang.id, "held": "1", "collective": "",
            "outcome": "接待群众5人，调解邻里纠纷1起", "row_version": slot.version,
        })  # fmt: skip
        assert response.status_code == 302, response.get_data(as_text=True)
    db.session.expire_all()
    slot = db.session.get(RotaSlot, slot.id)
    assert slot.held is True and slot.edited and "调解" in slot.outcome
    with frozen("2027-02-04 09:00"):  # a day to come cannot be held: refused, nothing written
        later = slots_of(rota)[date(2027, 2, 10)]
        response = client.post(f"/rotaslotview/edit/{later.id}", data={
            "rota": rota.id, "slot_date": "2027-02-10", "person": li.id, "held": "1", "row_version": later.version,
        })  # fmt: skip
        assert response.status_code == 200
    db.session.expire_all()
    assert db.session.get(RotaSlot, later.id).held is None


def test_another_township_can_neither_see_nor_change_a_rota(client, world):
    rota = make_rota(world["a1"], members=world["cadres"])
    rotas.generate_slots(db.session, rota)
    db.session.commit()
    slot = next(iter(slots_of(rota).values()))
    other = make_user("Clerk", world["tb"])
    login(client, other)
    assert client.get(f"/rotaview/calendar/{rota.id}").status_code == 404
    assert client.post(f"/rotaview/generate/{rota.id}").status_code == 404
    assert client.get(f"/rotaview/notice/?grid={world['a1'].id}").status_code == 404
    assert client.get(f"/rotaslotview/edit/{slot.id}").status_code == 404
    assert "张一" not in client.get("/rotaslotview/list/").get_data(as_text=True)
    headers = api_token(client, other)
    assert client.get(f"/api/v1/rota/{rota.id}", headers=headers).status_code == 404
    assert client.get(f"/api/v1/rotaslot/{slot.id}", headers=headers).status_code == 404
    assert client.put(f"/api/v1/rotaslot/{slot.id}", json={"held": True, "version": slot.version},
                      headers=headers).status_code == 404  # fmt: skip
    db.session.expire_all()
    assert db.session.get(RotaSlot, slot.id).held is None


def test_the_notice_lists_who_is_on_duty_with_phones_masked_per_role(client, world):
    zhang, li, _ = world["cadres"]
    rota = make_rota(world["a1"], members=[zhang, li], place="说事室")
    rotas.set_rotation(rota, [zhang.id, li.id])
    rotas.generate_slots(db.session, rota)
    slots = slots_of(rota)
    slots[date(2027, 2, 10)].phone = "13912345678"  # a duty phone given for the day
    db.session.commit()
    url = f"/rotaview/notice/?grid={world['a1'].id}&month=2027-02"

    login(client, make_user("Clerk", world["ta"]))
    page = client.get(url).get_data(as_text=True)
    assert "村民说事日" in page and "张一" in page and "13912345678" in page
    assert "13700000000" in page  # a cadre's own phone is public, as on the 公示牌

    login(client, make_user("Leader", world["ta"]))
    page = client.get(url).get_data(as_text=True)
    assert "13912345678" not in page and "139****5678" in page
    headers = api_token(client, make_user("Leader", world["ta"]))
    row = client.get(f"/api/v1/rotaslot/{slots[date(2027, 2, 10)].id}", headers=headers).json["result"]
    assert row["phone"] == "139****5678"


def test_a_grid_worker_reads_the_rotas_of_the_grid_but_does_not_edit(client, world):
    rota = make_rota(world["a1"], members=world["cadres"])
    login(client, make_user("GridWorker", world["a1"]))
    assert client.get(f"/rotaview/calendar/{rota.id}").status_code == 200
    assert client.post(f"/rotaview/generate/{rota.id}").status_code in (302, 403)
    assert db.session.scalar(select(func.count()).select_from(RotaSlot)) == 0


def test_a_rota_moved_to_another_village_takes_its_slots_along(world):
    rota = make_rota(world["a1"], members=world["cadres"])
    rotas.generate_slots(db.session, rota)
    db.session.commit()
    rota.grid = world["a2"]
    rotas.validate_rota(db.session, rota)
    db.session.commit()
    assert {s.grid_id for s in slots_of(rota).values()} == {world["a2"].id}
