"""Logins: creating a user, linking it to a person and giving that person a grid."""

from flask import current_app
from flask_appbuilder.exceptions import PasswordComplexityValidationError
from flask_appbuilder.validators import default_password_complexity
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.core.clock import today
from app.core.errors import DomainError
from app.models.grids import Grid
from app.models.personnel import Assignment, Person, Post

DEFAULT_POST = "工作人员"


def check_password(password):
    if not current_app.config.get("FAB_PASSWORD_COMPLEXITY_ENABLED"):
        return
    validator = current_app.config.get("FAB_PASSWORD_COMPLEXITY_VALIDATOR") or default_password_complexity
    try:
        validator(password)
    except PasswordComplexityValidationError as exc:
        raise DomainError(str(exc), field="password") from exc


def create_user(
    session,
    sm,
    username,
    password,
    role_names,
    grid_code=None,
    name=None,
    email=None,
    post_name=None,
    person=None,
    check_complexity=True,
):
    """Create a login with roles; link (or create) its person and assign the grid.

    Returns (user, person). Raises DomainError and changes nothing on bad input.
    """
    username = (username or "").strip()
    if not username:
        raise DomainError(_l("Enter a username."), field="username")
    if sm.find_user(username=username):
        raise DomainError(_l("The username %(name)s is taken.", name=username), field="username")
    if check_complexity:
        check_password(password)
    roles = []
    for role_name in role_names:
        role = sm.find_role(role_name)
        if role is None:
            raise DomainError(_l("There is no role %(name)s.", name=role_name), field="role")
        roles.append(role)
    grid = None
    if grid_code:
        grid = session.scalar(select(Grid).where(Grid.code == grid_code))
        if grid is None:
            raise DomainError(_l("There is no grid with code %(code)s.", code=grid_code), field="grid")
    post = None
    if grid is not None:
        post = session.scalar(select(Post).where(Post.name == (post_name or DEFAULT_POST)))
        if post is None:
            raise DomainError(_l("There is no post %(name)s.", name=post_name or DEFAULT_POST), field="post")
    display = (name or username).strip()
    user = sm.add_user(
        username=username,
        first_name=display,
        last_name="",
        email=email or f"{username}@minqing.local",
        role=roles,
        password=password,
        commit=False,
    )
    if not user:
        session.rollback()
        raise DomainError(_l("The user could not be created."), field="username")
    if person is None:
        person = session.scalar(
            select(Person).where(
                Person.name == display, Person.user_id.is_(None), Person.grid_id == (grid.id if grid else None)
            )
        )
    if person is None and grid is not None:
        person = Person(name=display, grid=grid, active=True)
        session.add(person)
    if person is not None:
        person.user_id = user.id
        if grid is not None and not session.scalar(
            select(Assignment.id).where(
                Assignment.person_id == person.id, Assignment.grid_id == grid.id, Assignment.end_date.is_(None)
            )
        ):
            session.add(Assignment(person=person, grid=grid, post=post, start_date=today()))
    session.commit()
    return user, person
