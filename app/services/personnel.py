"""People, posts and assignments (定人、定岗、定责), and the public pages built from them."""

from datetime import timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select

from app.core.clock import now, today
from app.core.errors import DomainError
from app.models.grids import Grid
from app.models.personnel import GENDERS, Assignment, Person, Post
from app.services import grids as grid_service
from app.services.validators import clean_text, normalize_phone, require

GENDER_TITLES = {"M": _l("Male"), "F": _l("Female")}


def validate_person(session, person):
    person.name = require(person.name, _l("Enter the person's name."), "name")
    person.unit = clean_text(person.unit)
    person.position = clean_text(person.position)
    person.phone = normalize_phone(person.phone)
    if person.gender in ("", None):
        person.gender = None
    elif person.gender not in GENDERS:
        raise DomainError(_l("Choose male or female."), field="gender")
    if person.grid is None and person.grid_id is None:
        raise DomainError(_l("Choose the person's grid."), field="grid")
    if person.user_id is not None or person.user is not None:
        user_id = person.user.id if person.user is not None else person.user_id
        with session.no_autoflush:
            other = session.scalar(select(Person).where(Person.user_id == user_id, Person.id != (person.id or 0)))
        if other is not None:
            raise DomainError(_l("That login is already linked to %(name)s.", name=other.name), field="user")


def validate_post(session, post):
    post.name = require(post.name, _l("Enter the post name."), "name")
    with session.no_autoflush:
        clash = session.scalar(select(Post.id).where(Post.name == post.name, Post.id != (post.id or 0)))
    if clash:
        raise DomainError(_l("A post named %(name)s already exists.", name=post.name), field="name")


def validate_assignment(session, assignment):
    with session.no_autoflush:
        _validate_assignment(session, assignment)


def _validate_assignment(session, assignment):
    person = assignment.person or (assignment.person_id and session.get(Person, assignment.person_id))
    grid = assignment.grid or (assignment.grid_id and session.get(Grid, assignment.grid_id))
    post = assignment.post or (assignment.post_id and session.get(Post, assignment.post_id))
    if person is None:
        raise DomainError(_l("Choose the person."), field="person")
    if grid is None:
        raise DomainError(_l("Choose the grid."), field="grid")
    if post is None:
        raise DomainError(_l("Choose the post."), field="post")
    if assignment.start_date is None:
        assignment.start_date = today()
    if assignment.end_date is not None and assignment.end_date < assignment.start_date:
        raise DomainError(_l("The end date is before the start date."), field="end_date")
    if assignment.id is None and not person.active:
        raise DomainError(_l("%(name)s is marked inactive and cannot take a post.", name=person.name), field="person")
    if post.level is not None and grid.level_id != post.level_id:
        raise DomainError(
            _l("The post %(post)s is for %(level)s grids.", post=post.name, level=post.level.name),
            field="post",
        )
    far_future = assignment.end_date or today().replace(year=9999)
    with session.no_autoflush:
        overlap = session.scalar(
            select(Assignment.id).where(
                Assignment.person_id == person.id,
                Assignment.grid_id == grid.id,
                Assignment.post_id == post.id,
                Assignment.id != (assignment.id or 0),
                Assignment.start_date <= far_future,
                or_(Assignment.end_date.is_(None), Assignment.end_date >= assignment.start_date),
            )
        )
    if overlap:
        raise DomainError(
            _l("%(name)s already holds this post in this grid for part of that period.", name=person.name),
            field="start_date",
        )


def check_person_deletable(session, person):
    if grid_service.references_to(session, "person", person.id):
        raise DomainError(
            _l(
                "%(name)s has records (assignments ...) and cannot be deleted; mark the person inactive instead.",
                name=person.name,
            )
        )


def check_post_deletable(session, post):
    if grid_service.references_to(session, "post", post.id):
        raise DomainError(_l("The post is in use; mark it inactive instead."))


def check_assignment_deletable(session, assignment):
    """Only a fresh mistaken entry is deleted; a real assignment is ended, so history is kept."""
    window = timedelta(hours=current_app.config["CORRECTION_WINDOW_HOURS"])
    if assignment.created_at is not None and now() - assignment.created_at > window:
        raise DomainError(_l("End the assignment instead of deleting it: history is kept."))


def end_assignment(session, assignment, on=None):
    """Close an assignment (rotation): history stays, the person leaves the post."""
    on = on or today()
    if assignment.end_date is not None and assignment.end_date <= on:
        raise DomainError(_l("This assignment has already ended."))
    if on < assignment.start_date:
        raise DomainError(_l("The end date is before the start date."), field="end_date")
    assignment.end_date = on


def holders(session, grid_ids, on=None, responsible_only=True):
    """Current assignments on the given grids, ordered by post then person, in one query."""
    if not grid_ids:
        return []
    query = (
        select(Assignment)
        .join(Post, Assignment.post_id == Post.id)
        .join(Person, Assignment.person_id == Person.id)
        .where(
            Assignment.grid_id.in_(grid_ids),
            grid_service.current_assignment_clause(on),
            Person.active.is_(True),
        )
        .order_by(Post.sort_order, Post.id, Person.name)
    )
    if responsible_only:
        query = query.where(or_(Post.is_responsible.is_(True), Post.is_packaging.is_(True)))
    return session.scalars(query).unique().all()


def public_notice(session, grid, on=None):
    """The 公示牌 of a grid: for the grid and each ancestor, who holds which post,
    their duty, reward/penalty rule and phone. Returns [(grid, [assignment, ...])]."""
    chain = grid_service.ancestors(session, grid) + [grid]
    by_grid = {g.id: [] for g in chain}
    for assignment in holders(session, list(by_grid), on):
        by_grid[assignment.grid_id].append(assignment)
    return [(g, by_grid[g.id]) for g in chain]


def contact_card(session, grid, on=None):
    """The 干群联系卡 of a grid: leaders and responsible cadres from the township down,
    plus any leader who 包 (is in charge of) the grid or one of its ancestors."""
    return [(g, rows) for g, rows in public_notice(session, grid, on) if rows]


def linked_person(session, user):
    if user is None:
        return None
    return session.scalar(select(Person).where(Person.user_id == user.id))
