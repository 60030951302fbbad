"""The contact tally (contact_tally): kept on every write of a contact record, equal to a
count of the records, rebuilt and checked by `flask minqing rollups`; the progress figures
read it and stay what a count of the records says."""

from datetime import date

import pytest
from sqlalchemy import func, select, text

from app.core.clock import frozen, today
from app.extensions import db
from app.models.representatives import ContactRecord, ContactTally, Representative
from app.services import representatives as rep_service
from app.services.records import delete_record, restore_records
from app.services.representatives import contact_tally
from app.services.representatives.rules import overdue_reports_clause
from tests.factories import make_constituency, make_contact, make_person, make_representative

TODAY = "2026-07-01 10:00"


@pytest.fixture
def world(world):
    t = world
    t["ca"] = make_constituency([t["a1"], t["a2"]], name="甲镇第一选区")
    t["cb"] = make_constituency([t["b1"]], name="乙镇第一选区")
    t["r1"] = make_representative(make_person(t["a1"], name="代表甲"), t["ca"], term=(2021, 2026))
    t["r2"] = make_representative(make_person(t["b1"], name="代表乙"), t["cb"], term=(2021, 2026))
    return t


def kept():
    return {
        (rep_id, year): (done, records)
        for rep_id, year, done, records in db.session.execute(
            select(ContactTally.representative_id, ContactTally.year, ContactTally.done, ContactTally.records)
        )
    }


def test_every_write_keeps_the_tally(world):
    r1, r2 = world["r1"], world["r2"]
    with frozen(TODAY):
        first = make_contact(r1, date(2026, 3, 5), voter_count=12)
        make_contact(r1, date(2026, 4, 1), voter_count=2)
        assert kept() == {(r1.id, 2026): (14, 2)}
        first.voter_count = 20  # an edit of the person-times
        db.session.commit()
        assert kept() == {(r1.id, 2026): (22, 2)}
        first.contact_date = date(2025, 12, 30)  # into the year before
        db.session.commit()
        assert kept() == {(r1.id, 2026): (2, 1), (r1.id, 2025): (20, 1)}
        first.representative = r2  # to another representative
        db.session.commit()
        assert kept() == {(r1.id, 2026): (2, 1), (r2.id, 2025): (20, 1)}
        delete_record(db.session, first)  # soft delete: out of the tally
        db.session.commit()
        assert kept() == {(r1.id, 2026): (2, 1)}
        restore_records(db.session, [first])  # the recycle bin brings it back
        db.session.commit()
        assert kept() == {(r1.id, 2026): (2, 1), (r2.id, 2025): (20, 1)}
        db.session.delete(first)
        db.session.commit()
        assert kept() == {(r1.id, 2026): (2, 1)}
        # a new representative and its first record in one flush
        new = Representative(
            person=make_person(world["a2"], name="代表丙"), constituency=world["ca"], term_start=2021, term_end=2026
        )
        db.session.add(new)
        make_contact(new, date(2026, 5, 1), voter_count=3)
        assert kept()[(new.id, 2026)] == (3, 1)
        assert contact_tally.check(db.session) == []


def test_rebuild_and_check_name_a_drifted_row(app, world):
    with frozen(TODAY):
        make_contact(world["r1"], date(2026, 3, 5), voter_count=12)
        make_contact(world["r2"], date(2025, 3, 5), voter_count=4)
        db.session.execute(text("UPDATE contact_tally SET done = done + 1 WHERE year = 2026"))
        db.session.execute(text("DELETE FROM contact_tally WHERE year = 2025"))
        db.session.commit()
        differences = contact_tally.check(db.session)
        assert sorted(differences) == sorted(
            [
                ("counted", world["r1"].id, 2026, 12, 1),
                ("counted", world["r2"].id, 2025, 4, 1),
                ("kept", world["r1"].id, 2026, 13, 1),
            ]
        )
        db.session.rollback()
        runner = app.test_cli_runner()
        result = runner.invoke(args=["minqing", "rollups", "check"])
        assert result.exit_code == 1 and "contact tally" in result.output
        assert runner.invoke(args=["minqing", "rollups", "rebuild"]).exit_code == 0
        assert runner.invoke(args=["minqing", "rollups", "check"]).exit_code == 0
        assert kept() == {(world["r1"].id, 2026): (12, 1), (world["r2"].id, 2025): (4, 1)}


def recounted(year, on):
    """The progress roll-up of every representative serving in `year`, counted from the records
    (the definition the tally replaced)."""
    target = rep_service.yearly_target()
    start, end = date(year, 1, 1), date(year, 12, 31)
    live = ContactRecord.deleted_at.is_(None), ContactRecord.contact_date.between(start, end)
    done_of = {
        rep_id: int(n)
        for rep_id, n in db.session.execute(
            select(ContactRecord.representative_id, func.sum(ContactRecord.voter_count))
            .where(*live)
            .group_by(ContactRecord.representative_id)
        )
    }
    late = db.session.scalar(
        select(func.count())
        .select_from(ContactRecord)
        .join(Representative)
        .where(*live, overdue_reports_clause(on), Representative.active.is_(True))
    )
    serving = db.session.scalars(
        select(Representative.id).where(
            Representative.active.is_(True), Representative.term_start <= year, Representative.term_end >= year
        )
    ).all()
    done = [done_of.get(rep_id, 0) for rep_id in serving]
    return len(serving), sum(min(d, target) for d in done), sum(d >= target for d in done), late


def test_the_progress_figures_equal_a_count_of_the_records(world):
    r1, r2 = world["r1"], world["r2"]
    with frozen(TODAY):
        make_contact(r1, date(2026, 3, 5), voter_count=41)
        make_contact(r1, date(2026, 6, 1), voter_count=2, important=True)  # due 06-04, not reported
        make_contact(r2, date(2026, 6, 29), voter_count=5, important=True)  # due 07-02: not yet overdue
        make_contact(r2, date(2025, 6, 29), voter_count=30)  # another year
        roll = rep_service.progress_rollup(db.session, 2026, Representative.id.is_not(None))
        reps, capped, met, late = recounted(2026, today())
        assert (roll.representatives, roll.done, roll.met, roll.overdue_reports) == (reps, capped, met, late)
        assert (roll.representatives, roll.done, roll.met, roll.overdue_reports) == (2, 45, 1, 1)
        rows = {r.representative.id: r for r in rep_service.progress_overview(db.session, 2026, Representative.id > 0)}
        assert (rows[r1.id].done, rows[r1.id].records, rows[r1.id].overdue_reports) == (43, 2, 1)
        assert (rows[r2.id].done, rows[r2.id].records, rows[r2.id].overdue_reports) == (5, 1, 0)
    with frozen("2026-07-10 10:00"):  # overdue is a function of today: no write needed
        roll = rep_service.progress_rollup(db.session, 2026, Representative.id.is_not(None))
        assert roll.overdue_reports == recounted(2026, today())[3] == 2
    # a township's leader: only the representatives of its constituencies
    clause = Representative.constituency_id == world["ca"].id
    with frozen(TODAY):
        roll = rep_service.progress_rollup(db.session, 2026, clause)
        assert (roll.representatives, roll.done, roll.met, roll.overdue_reports) == (1, 40, 1, 1)
