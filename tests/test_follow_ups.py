"""The follow-ups still to make (visit.follow_up_open), kept on every write of a visit."""

from datetime import date

from sqlalchemy import select, text

from app.core.clock import frozen
from app.extensions import db
from app.models.visits import Visit
from app.services import follow_ups, records, tally
from app.services import visits as visit_service
from tests.factories import make_visit

TODAY = date(2026, 3, 15)


def _open(visit_id):
    return db.session.execute(select(Visit.follow_up_open).where(Visit.id == visit_id)).scalar()


def _agrees():
    assert follow_ups.check(db.session) == []


def test_follow_up_open_follows_every_write_of_a_visit(world):
    with frozen(TODAY):
        a1, cadre = world["a1"], world["pa"]
        original = make_visit(a1, [cadre], visit_date=date(2026, 2, 1), follow_up_date=date(2026, 3, 1))
        plain = make_visit(a1, [cadre], visit_date=date(2026, 2, 1))
        assert _open(original.id) == date(2026, 3, 1) and _open(plain.id) is None
        _agrees()
        # the date moves
        original.follow_up_date = date(2026, 3, 5)
        db.session.commit()
        assert _open(original.id) == date(2026, 3, 5)
        # the follow-up is made: closed
        made = make_visit(a1, [cadre], visit_date=date(2026, 3, 6), follow_up_of=original, form="定期回访")
        assert _open(original.id) is None
        _agrees()
        # the follow-up goes to the recycle bin: open again; restored: closed again
        records.delete_record(db.session, made)
        db.session.commit()
        assert _open(original.id) == date(2026, 3, 5)
        records.restore_records(db.session, [made])
        db.session.commit()
        assert _open(original.id) is None
        # the follow-up is pointed elsewhere: the first is open again, the other closed
        other = make_visit(a1, [cadre], visit_date=date(2026, 2, 2), follow_up_date=date(2026, 3, 2))
        made.follow_up_of = other
        db.session.commit()
        assert _open(original.id) == date(2026, 3, 5) and _open(other.id) is None
        # the original itself in the bin: nothing to make; removed for good: its follow-up keeps nothing
        records.delete_record(db.session, original)
        db.session.commit()
        assert _open(original.id) is None
        _agrees()
        # a purge of the follow-up opens the visit it made
        db.session.delete(made)
        db.session.commit()
        assert _open(other.id) == date(2026, 3, 2)
        _agrees()


def test_counts_read_the_kept_column_and_rebuild_agrees(world):
    with frozen(TODAY):
        a1, cadre = world["a1"], world["pa"]
        due = make_visit(a1, [cadre], visit_date=date(2026, 2, 1), follow_up_date=date(2026, 3, 1))
        make_visit(a1, [cadre], visit_date=date(2026, 3, 1), follow_up_date=date(2026, 3, 20))
        make_visit(a1, [cadre], visit_date=date(2026, 3, 1), follow_up_date=date(2026, 6, 1))
        counts = visit_service.follow_up_counts(db.session, Visit.deleted_at.is_(None), days_ahead=7)
        assert counts == {"overdue": 1, "soon": 1, "total": 2}
        # hand-made SQL below the ORM leaves the column behind until rebuilt
        db.session.execute(text("UPDATE visit SET follow_up_open = NULL"))
        db.session.commit()
        assert [row[0] for row in follow_ups.check(db.session)] == sorted(
            db.session.scalars(select(Visit.id).where(Visit.follow_up_date.is_not(None)))
        )
        tally.rebuild(db.session)  # `flask minqing rebuild-tallies` sets it again with the tally
        db.session.commit()
        _agrees()
        assert _open(due.id) == date(2026, 3, 1)
