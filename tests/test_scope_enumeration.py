"""Scope proven by enumeration: every registered view and API, every role, every
operation; and a deliberately unscoped view makes the prober fail."""

import contextlib

from flask import has_request_context
from flask_appbuilder import ModelView
from flask_appbuilder.models.sqla.interface import SQLAInterface

from app import create_app
from app.models.personnel import Person
from app.security import ROLE_GRANTS
from app.views.scoped import VIEW_PERMISSIONS
from tests import scope_probe
from tests.conftest import api_token
from tests.factories import make_user, tree
from tests.registers_kit import make_register, speakup


def _users(world):
    users = {role: make_user(role, world["ta"]) for role in ROLE_GRANTS}
    users["Clerk+Leader+GridWorker"] = make_user("Clerk", world["ta"], roles=["Clerk", "Leader", "GridWorker"])
    return users


@contextlib.contextmanager
def _attributes_set_in_requests(views):
    """{(class, attribute)} set on any of `views` while a request was served inside the block."""
    written = set()
    classes = {type(view) for view in views}
    originals = {cls: cls.__dict__.get("__setattr__") for cls in classes}

    def recording(self, name, value):
        if has_request_context():
            written.add((type(self).__name__, name))
        object.__setattr__(self, name, value)

    for cls in classes:
        cls.__setattr__ = recording
    try:
        yield written
    finally:
        for cls, original in originals.items():
            if original is None:
                del cls.__setattr__
            else:
                cls.__setattr__ = original


def test_no_view_or_api_leaks_another_grids_records(app, client, world, capsys):
    register = speakup()  # a register created here is probed like every built-in view
    patrol = make_register(code="patrol", name="巡查记录", fields=[
        {"code": "place", "label": "巡查地点", "type": "text", "required": True},
        {"code": "photos", "label": "现场照片", "type": "attachment", "required": True},
    ])  # fmt: skip  # ... and its photos like every record's files
    users = _users(world)
    api_token(client, next(iter(users.values())))  # the registers' pages and APIs built before the watch
    html, apis = scope_probe.scoped_views(app)
    with _attributes_set_in_requests([*app.appbuilder.baseviews, *html, *apis]) as written:
        report = scope_probe.probe(app, client, world, users, lambda u: api_token(client, u))
    # a view object serves every thread of a worker: a request keeps its state in `g`, never on the view
    assert written == set()
    assert f"/registers/{register.code}" in report.views and f"/api/v1/registers/{register.code}" in report.views
    for kind in ("visit", "appeal", "contact", patrol.table_name):  # every kind of record's files, by page and API
        assert f"/api/v1/attachments/{kind}" in report.views
    with capsys.disabled():
        print(f"\n  scope enumeration: {report.probes} view×role×operation probes, {len(report.leaks)} leaks")
    assert not report.missing_factories, f"add a factory in tests/scope_probe.py for {report.missing_factories}"
    assert report.probes > 200
    assert report.leaks == []


class LeakyPersonView(ModelView):
    """What a careless developer might write: a plain FAB view, no scope."""

    datamodel = SQLAInterface(Person)
    class_permission_name = "Person"
    method_permission_name = VIEW_PERMISSIONS
    route_base = "/leaky"
    list_columns = ["name", "grid"]


def test_the_prober_catches_an_unscoped_view(app):
    leaky = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "INSTANCE_DIR": app.instance_path,
            "SECRET_KEY": app.config["SECRET_KEY"],
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
            "FAB_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        }
    )
    with leaky.app_context():
        leaky.appbuilder.add_view_no_menu(LeakyPersonView)
    client = leaky.test_client()
    with leaky.app_context():
        world = tree()
        users = {"Clerk": make_user("Clerk", world["ta"])}
        report = scope_probe.probe(leaky, client, world, users, lambda u: api_token(client, u))
    assert any("LeakyPersonView" in leak for leak in report.leaks), report.leaks
