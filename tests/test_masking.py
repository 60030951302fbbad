"""Sensitive values proven masked by enumeration: every model that declares sensitive
columns, every GET route, every role that may not read them; and a throwaway model
whose careless route forgets the mechanism makes the prober fail."""

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models.registers import RegisterDef, RegisterField
from app.security import ROLE_GRANTS
from app.services.registers import definitions, extensions, runtime
from tests import masking_probe
from tests.conftest import api_token
from tests.factories import make_user, tree
from tests.registers_kit import make_register


def _users(world):
    users = {role: make_user(role, world["ta"]) for role in ROLE_GRANTS}
    users["GridWorker@A1"] = make_user("GridWorker", world["a1"])
    users["Admin"] = make_user("Admin", world["ta"])
    return users


def test_no_route_shows_a_full_value_to_a_role_that_may_not_read_it(app, client, capsys):
    world = tree()
    # a register created here, with a phone and a field marked sensitive, is probed like any model
    make_register(code="assist", name="帮扶台账", fields=[
        {"code": "household", "label": "帮扶对象", "type": "text", "required": True},
        {"code": "phone", "label": "联系电话", "type": "phone"},
        {"code": "difficulty", "label": "困难情况", "type": "textarea", "sensitive": True},
    ])  # fmt: skip
    # and an extra phone on people (扩展字段): probed on the person's own pages and API
    extensions.ensure_definitions(db.session)
    person_extra = db.session.scalar(select(RegisterDef).where(RegisterDef.extends == "person"))
    field = RegisterField(code="mobile2", label="备用电话", type="phone", in_list=True, position=1)
    person_extra.fields.append(field)
    definitions.save_field(db.session, field)
    db.session.commit()
    runtime.ensure_current()
    users = _users(world)
    editor = make_user("Clerk", world["ta"])
    report = masking_probe.probe(app, client, world, users, lambda u: api_token(client, u), editor)
    with capsys.disabled():
        print(
            f"\n  masking enumeration: {', '.join(report.models)}; {report.urls} requests, "
            f"{report.probes} probes, {len(report.leaks)} full values found"
        )
    assert not report.missing_factories, f"add a factory in tests/masking_probe.py for {report.missing_factories}"
    assert {"Appeal", "Visit"} <= set(report.models)
    assert any(name.startswith("Entry_assist_") for name in report.models)
    assert "Person" in report.models  # through its extra phone
    assert report.probes > 1000
    assert report.leaks == []


@pytest.mark.commits  # a second app on the same database, and DDL of its own
def test_the_prober_catches_a_route_that_forgets_to_mask(app):
    """A throwaway model declares a sensitive column; its list and page mask it through
    the mechanism, but one careless route renders the raw value: the prober names it."""
    from flask import render_template_string
    from flask_appbuilder import BaseView
    from flask_appbuilder.views import expose
    from sqlalchemy import Column, Integer, String
    from sqlalchemy.orm import declarative_base

    from app import create_app
    from app.core.sensitive import PHONE
    from app.extensions import db
    from app.views.scoped import ScopedInterface, ScopedModelView

    Base = declarative_base()

    class ThrowawayNote(Base):
        __tablename__ = "throwaway_note"
        __sensitive__ = {"phone": PHONE}
        id = Column(Integer, primary_key=True)
        grid_id = Column(Integer, nullable=False)
        phone = Column(String(20))

    class NoteView(ScopedModelView):
        datamodel = ScopedInterface(ThrowawayNote)
        resource = "Appeal"  # readable by the roles that read appeals
        route_base = "/throwawaynote"
        list_columns = show_columns = ["phone"]

    class CarelessView(BaseView):
        route_base = "/careless"
        default_view = "show"

        @expose("/<int:pk>")
        def show(self, pk):
            note = db.session.get(ThrowawayNote, pk)
            return render_template_string("<p>{{ phone }}</p>", phone=note.phone if note else "")

    def note_factory(world, values):
        note = ThrowawayNote(grid_id=world["a1"].id, **values)
        db.session.add(note)
        db.session.commit()
        return note

    leaky = create_app({**{k: app.config[k] for k in ("SQLALCHEMY_DATABASE_URI", "SECRET_KEY")},
                        "TESTING": True, "INSTANCE_DIR": app.instance_path, "WTF_CSRF_ENABLED": False,
                        "RATELIMIT_ENABLED": False, "FAB_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})  # fmt: skip
    with leaky.app_context():
        leaky.appbuilder.add_view_no_menu(NoteView)
        leaky.appbuilder.add_view_no_menu(CarelessView)
        Base.metadata.create_all(db.engine)
    masking_probe.register_factory(ThrowawayNote, note_factory)
    client = leaky.test_client()
    try:
        with leaky.app_context():
            world = tree()
            users = {"Leader": make_user("Leader", world["ta"])}
            report = masking_probe.probe(
                leaky, client, world, users, lambda u: api_token(client, u), make_user("Clerk", world["ta"])
            )
    finally:
        masking_probe.FACTORIES.pop(ThrowawayNote, None)
        with leaky.app_context():
            Base.metadata.drop_all(db.engine)
    assert "ThrowawayNote" in report.models
    leaks = [leak for leak in report.leaks if "ThrowawayNote" in leak]
    assert leaks and all("/careless/" in leak for leak in leaks), report.leaks
