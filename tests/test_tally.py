"""The visit tally the quotas read: kept right by every kind of write, and rebuilt the same."""

from datetime import date

from sqlalchemy import select

from app.core.clock import frozen
from app.extensions import db
from app.models.visits import Visit, VisitTally
from app.services import tally
from tests.conftest import login
from tests.factories import make_person, make_user, make_visit, tree


def stored():
    """{(period, start, person id): (visits, households)} as the tally holds it."""
    rows = db.session.execute(select(VisitTally)).scalars()
    return {(r.period, r.start, r.person_id): (r.visits, r.households) for r in rows}


def counted():
    """The same, counted afresh from the visits (what rebuild writes)."""
    out = {}
    days = db.session.scalars(select(Visit.visit_date).where(Visit.deleted_at.is_(None))).all()
    for period, start in {key for day in days for key in tally.period_starts(day)}:
        for _p, _s, person_id, visits, households in db.session.execute(tally._counts(period, start)):
            out[(period, start, person_id)] = (visits, households)
    return out


def test_every_write_keeps_the_tally(client):
    t = tree()
    a = make_person(t["a1"], name="走访甲")
    b = make_person(t["a1"], name="走访乙")
    march, april = date(2026, 3, 10), date(2026, 4, 2)
    one = make_visit(t["a1"], [a], visit_date=march, address="幸福路3号")
    make_visit(t["a1"], [a, b], visit_date=march, address="幸福路 3 号")  # the same household
    assert stored() == counted()
    assert stored()[("month", date(2026, 3, 1), a.id)] == (2, 1)
    assert stored()[("year", date(2026, 1, 1), b.id)] == (1, 1)

    one.address = "和平路1号"  # a second household for 甲
    db.session.commit()
    assert stored()[("month", date(2026, 3, 1), a.id)] == (2, 2)

    one.visit_date = april  # moves from March to April
    db.session.commit()
    assert stored()[("month", date(2026, 3, 1), a.id)] == (1, 1)
    assert stored()[("month", date(2026, 4, 1), a.id)] == (1, 1)
    assert stored() == counted()

    one.visitors = [b]  # 甲 no longer made it; 乙 did
    db.session.commit()
    assert ("month", date(2026, 4, 1), a.id) not in stored()
    assert stored()[("month", date(2026, 4, 1), b.id)] == (1, 1)
    assert stored()[("year", date(2026, 1, 1), b.id)] == (2, 2)
    assert stored() == counted()

    # the app's delete is soft, the recycle bin restores: both recount
    with frozen("2026-04-20 09:00"):
        login(client, make_user("Clerk", t["ta"]))
        assert client.post(f"/visitview/delete/{one.id}").status_code in (200, 302)
        db.session.expire_all()
        assert stored()[("year", date(2026, 1, 1), b.id)] == (1, 1)
        login(client, make_user("Admin"))
        client.post("/trash/visits/action_post", data={"action": "restore", "rowid": [str(one.id)]})
        db.session.expire_all()
        assert stored()[("year", date(2026, 1, 1), b.id)] == (2, 2)
    assert stored() == counted()

    db.session.delete(db.session.get(Visit, one.id))  # a hard delete (a purge by hand)
    db.session.commit()
    assert stored() == counted() and ("month", date(2026, 4, 1), b.id) not in stored()


def test_a_failed_write_leaves_the_tally_as_it_was():
    t = tree()
    a = make_person(t["a1"], name="走访丙")
    make_visit(t["a1"], [a], visit_date=date(2026, 5, 5))
    before = stored()
    db.session.add(Visit(grid=t["a1"], visitors=[a], visit_date=date(2026, 5, 6), visited_name="半截"))
    try:
        db.session.flush()  # form and target are required: the insert fails
    except Exception:  # noqa: BLE001 - any database refusal will do
        db.session.rollback()
    assert stored() == before


def test_rebuild_counts_the_same_as_the_writes(app):
    t = tree()
    people = [make_person(t["a1"]) for _ in range(3)]
    for day, visitors, address in (
        (date(2025, 12, 31), people[:1], "甲巷1号"),
        (date(2026, 1, 1), people[:2], "甲巷1号"),
        (date(2026, 1, 15), people, "乙巷2号"),
        (date(2026, 2, 28), people[1:], None),
    ):
        make_visit(t["a1"], visitors, visit_date=day, address=address)
    kept = stored()
    assert kept == counted()
    grid_columns = [tally.GRID_TALLY.c[name] for name in tally.GRID_COLUMNS]
    grids_kept = sorted(tuple(r) for r in db.session.execute(select(*grid_columns)))
    assert {row[0] for row in grids_kept} == {"week", "month", "quarter", "year"}
    rows = tally.rebuild(db.session)  # one GROUP BY per period kind: the same rows as the writes kept
    db.session.commit()
    assert stored() == kept and rows == len(kept)
    assert sorted(tuple(r) for r in db.session.execute(select(*grid_columns))) == grids_kept
    result = app.test_cli_runner().invoke(args=["minqing", "rebuild-tallies"])
    assert result.exit_code == 0 and f"{len(kept)} rows" in result.output and "重新计算" in result.output
