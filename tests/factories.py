"""Test data with sensible defaults: make_grid(), make_person(), make_user(role, grid) ..."""

import itertools
from datetime import date

from flask import current_app
from sqlalchemy import select

from app.core.clock import today
from app.extensions import db
from app.models.grids import Grid
from app.models.lookups import ContactForm, GridLevel, PersonKind, VisitForm, VisitTarget
from app.models.personnel import Assignment, Person, Post
from app.models.representatives import Constituency, ContactRecord, Representative
from app.models.visits import Visit
from tests.conftest import TEST_PASSWORD

_seq = itertools.count(1)


def level(rank):
    return db.session.scalar(select(GridLevel).where(GridLevel.rank == rank))


def post(name="工作人员"):
    return db.session.scalar(select(Post).where(Post.name == name))


def make_grid(name=None, parent=None, rank=None, code=None, **kw):
    n = next(_seq)
    if rank is None:
        rank = parent.level.rank + 1 if parent is not None else 1
    grid = Grid(
        code=code or f"T{n:05d}",
        name=name or f"网格{n}",
        level=level(rank),
        parent=parent,
        **kw,
    )
    db.session.add(grid)
    db.session.commit()
    return grid


def make_person(grid, name=None, phone="13812345678", **kw):
    person = Person(name=name or f"人员{next(_seq)}", grid=grid, phone=phone, active=kw.pop("active", True), **kw)
    db.session.add(person)
    db.session.commit()
    return person


def make_assignment(person, grid, post_name="工作人员", start=date(2020, 1, 1), end=None, **kw):
    a = Assignment(person=person, grid=grid, post=post(post_name), start_date=start, end_date=end, **kw)
    db.session.add(a)
    db.session.commit()
    return a


def make_user(role, grid=None, username=None, post_name="工作人员", roles=None):
    """A login with `role` (or several `roles`) whose person works in `grid`."""
    sm = current_app.appbuilder.sm
    username = username or f"u{next(_seq)}_{role.lower()}"
    role_objs = [sm.find_role(r) for r in (roles or [role])]
    user = sm.add_user(username, username, "", f"{username}@test.local", role_objs, TEST_PASSWORD)
    assert user, "user not created"
    if grid is not None:
        person = make_person(grid, name=username)
        person.user_id = user.id
        db.session.commit()
        make_assignment(person, grid, post_name)
    return user


def tree():
    """county ─ township A ─ village A1 ─ group A1a
               └ village A2
    └ township B ─ village B1 ─ group B1a"""
    county = make_grid("示范县", rank=0, code="C0")
    ta = make_grid("甲镇", county, code="TA")
    tb = make_grid("乙镇", county, code="TB")
    a1 = make_grid("甲一村", ta, code="TA1")
    a2 = make_grid("甲二村", ta, code="TA2")
    a1a = make_grid("甲一村一组", a1, code="TA1a")
    b1 = make_grid("乙一村", tb, code="TB1")
    b1a = make_grid("乙一村一组", b1, code="TB1a")
    return {"county": county, "ta": ta, "tb": tb, "a1": a1, "a2": a2, "a1a": a1a, "b1": b1, "b1a": b1a}


def make_kind(name=None):
    """A person kind of the test's own (no seeded quota rule binds it)."""
    kind = PersonKind(name=name or f"类别{next(_seq)}", sort_order=99)
    db.session.add(kind)
    db.session.commit()
    return kind


def make_visit(grid, visitors, visit_date=None, form="登门上户", target="一般群众", visited_name=None, **kw):
    visit = Visit(
        grid=grid,
        visitors=list(visitors),
        visit_date=visit_date or today(),
        form=lookup(VisitForm, form),
        target=lookup(VisitTarget, target),
        visited_name=visited_name or f"村民{next(_seq)}",
        **kw,
    )
    db.session.add(visit)
    db.session.commit()
    return visit


def make_constituency(grids, name=None):
    from app.services.representatives import lowest_common_grid

    constituency = Constituency(name=name or f"第{next(_seq)}选区", grids=list(grids))
    constituency.grid = lowest_common_grid(db.session, constituency.grids)
    db.session.add(constituency)
    db.session.commit()
    return constituency


def make_representative(person=None, constituency=None, grid=None, level="township", term=None, **kw):
    """A representative; by default a new person in `grid`, a constituency covering `grid`,
    and a term running from three years ago to two years ahead."""
    term = term or (today().year - 3, today().year + 2)
    if person is None:
        person = make_person(grid, name=kw.pop("name", None) or f"代表{next(_seq)}")
    constituency = constituency or make_constituency([grid or person.grid])
    rep = Representative(
        person=person,
        constituency=constituency,
        level=level,
        term_start=term[0],
        term_end=term[1],
        active=kw.pop("active", True),
        **kw,
    )
    db.session.add(rep)
    db.session.commit()
    return rep


def make_contact(rep, contact_date=None, voter_count=1, form="走访", place="村委会", **kw):
    record = ContactRecord(
        representative=rep,
        contact_date=contact_date or today(),
        voter_count=voter_count,
        form=lookup(ContactForm, form),
        place=place,
        important=kw.pop("important", False),
        **kw,
    )
    db.session.add(record)
    db.session.commit()
    return record


# --- appeals ----------------------------------------------------------------

WALK = {  # status -> the steps from 已登记 that reach it
    "registered": [],
    "escalated": [("escalate", {"note": "超出本级权限"})],
    "assigned": [("assign", {"handler_unit": "民政所"})],
    "in_progress": [("assign", {"handler_unit": "民政所"}), ("start", {})],
    "answered": [("assign", {"handler_unit": "民政所"}), ("start", {}), ("feedback", {"reply": "已办理"})],
    "evaluated": [
        ("assign", {"handler_unit": "民政所"}),
        ("start", {}),
        ("feedback", {"reply": "已办理"}),
        ("evaluate", {"result": "satisfied"}),
    ],
    "archived": [
        ("assign", {"handler_unit": "民政所"}),
        ("start", {}),
        ("feedback", {"reply": "已办理"}),
        ("evaluate", {"result": "satisfied"}),
        ("archive", {}),
    ],
}


def lookup(model, name=None):
    """A lookup value by name, or the first of the list."""
    query = select(model).order_by(model.sort_order, model.id)
    if name is not None:
        query = select(model).where(model.name == name)
    return db.session.scalars(query).first()


def make_appeal(grid, status="registered", at=None, actor=None, **fields):
    """An appeal registered through the service (number, deadline, first event),
    then walked along the happy path to `status`; `at` freezes the clock
    ("2026-11-03 09:00") for the registration and every step."""
    import contextlib

    from app.core import clock
    from app.models.appeals import Appeal
    from app.models.lookups import AppealCategory, AppealChannel
    from app.services import appeals as svc

    actor = actor or svc.system_actor("测试录入员")
    values = {
        "reporter_name": f"群众{next(_seq)}",
        "reporter_phone": "13800000000",
        "content": "反映村道路灯损坏，夜间出行不便。",
        "importance": "general",
        "channel": lookup(AppealChannel),
        "category": lookup(AppealCategory),
        "grid": grid,
    }
    values.update(fields)
    freeze = clock.frozen(at) if at else contextlib.nullcontext()
    with freeze:
        appeal = svc.register_appeal(db.session, actor, Appeal(**values))
        for action, data in WALK[status]:
            svc.perform(db.session, actor, appeal, action, data)
        db.session.commit()
    return appeal


def world():
    """tree() and one person in a1 and one in b1: the `world` fixture of tests/conftest.py."""
    t = tree()
    t["pa"] = make_person(t["a1"], name="甲村干部")
    t["pb"] = make_person(t["b1"], name="乙村干部")
    return t
