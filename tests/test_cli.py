"""`flask minqing ...`: init is idempotent, create-user links a person and a grid (the demo: test_demo)."""

from sqlalchemy import func, select

from app.extensions import db
from app.models.lookups import AppealCategory, GridLevel
from app.models.personnel import Assignment, Person
from app.services import scope
from tests.factories import tree


def _count(model):
    return db.session.scalar(select(func.count()).select_from(model))


def test_init_is_idempotent_and_prints_the_admin_password_once(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["minqing", "init"], env={"MINQING_ADMIN_PASSWORD": ""})
    assert first.exit_code == 0, first.output
    assert "初始密码" in first.output
    counts = (_count(GridLevel), _count(AppealCategory))
    second = runner.invoke(args=["minqing", "init"])
    assert second.exit_code == 0, second.output
    assert "初始密码" not in second.output
    assert (_count(GridLevel), _count(AppealCategory)) == counts
    assert app.appbuilder.sm.find_user(username="admin") is not None


def test_create_user_links_person_and_grid(app):
    t = tree()
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["minqing", "create-user", "--username", "wang", "--password", "WaNg@pass2026", "--role", "Clerk",
              "--grid", "TA", "--name", "王录入"]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    user = app.appbuilder.sm.find_user(username="wang")
    person = db.session.scalar(select(Person).where(Person.user_id == user.id))
    assert person.name == "王录入" and person.grid_id == t["ta"].id
    assert db.session.scalar(select(Assignment).where(Assignment.person_id == person.id)).grid_id == t["ta"].id
    assert scope.for_user(db.session, user).paths == (t["ta"].path,)


def test_create_user_refuses_bad_input_and_changes_nothing(app):
    tree()
    runner = app.test_cli_runner()
    before = _count(Person)
    weak = runner.invoke(args=["minqing", "create-user", "--username", "li", "--password", "123", "--role", "Clerk"])
    assert weak.exit_code == 1 and ("密码至少10位" in weak.output or "Must have" in weak.output)
    no_grid = runner.invoke(
        args=[
            "minqing",
            "create-user",
            "--username",
            "li",
            "--password",
            "LiLi@pass2026",
            "--role",
            "Clerk",
            "--grid",
            "NOPE",
        ]
    )
    assert no_grid.exit_code == 1
    no_role = runner.invoke(
        args=["minqing", "create-user", "--username", "li", "--password", "LiLi@pass2026", "--role", "Boss"]
    )
    assert no_role.exit_code == 1
    assert app.appbuilder.sm.find_user(username="li") is None
    assert _count(Person) == before
