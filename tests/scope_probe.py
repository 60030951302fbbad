"""The scope prober: walks every view and API the app registered (not a hand-kept
list) and tries, as each role of grid A, to reach a record of grid B.

Each grid-bound model needs a factory in FACTORIES; a new model without one fails
the enumeration test with a message saying so, so new views are covered by force.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask_appbuilder import ModelView
from flask_appbuilder.api import ModelRestApi
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select

from app.extensions import db
from app.models.audit import AuditLog
from app.models.grids import Grid
from app.models.personnel import Assignment, Person
from app.services import scope
from app.views.pickers import PICKERS
from tests.factories import make_assignment, make_person

OK_REFUSALS = {302, 401, 403, 404, 405}


def _grid_record(world, side):
    return world["b1"] if side == "b" else world["a1"]


def _person_record(world, side):
    grid = world["b1"] if side == "b" else world["a1"]
    return make_person(grid, name=f"探针{side}人员", phone="13900000000")


def _assignment_record(world, side):
    grid = world["b1"] if side == "b" else world["a1"]
    return make_assignment(make_person(grid, name=f"探针{side}任职"), grid, "网格员")


def _audit_record(world, side):
    grid = world["b1"] if side == "b" else world["a1"]
    row = AuditLog(action="update", table_name="grid", record_id=grid.id, grid_id=grid.id, summary=f"探针{side}")
    db.session.add(row)
    db.session.commit()
    return row


# model -> builds a record of grid A ("a") or grid B ("b")
FACTORIES = {
    AuditLog: _audit_record,
    Grid: _grid_record,
    Person: _person_record,
    Assignment: _assignment_record,
}


def register_factory(model, factory):
    FACTORIES[model] = factory


@dataclass
class Report:
    probes: int = 0
    leaks: list = field(default_factory=list)
    missing_factories: set = field(default_factory=set)
    views: set = field(default_factory=set)  # the route bases and API addresses probed

    def check(self, ok, what):
        self.probes += 1
        if not ok:
            self.leaks.append(what)


def scoped_views(app):
    """Every scoped view and API: those FAB registered, and every live register's pages and API."""
    from app.views.registers.api import api_objects
    from app.views.registers.entries import page_objects

    html, apis = [], []
    for view in list(app.appbuilder.baseviews) + page_objects() + api_objects():
        model = getattr(getattr(view, "datamodel", None), "obj", None)
        if model is None or not scope.is_scoped(model):
            continue
        if isinstance(view, ModelView):
            html.append(view)
        elif isinstance(view, ModelRestApi):
            apis.append(view)
    return html, apis


def _snapshot(obj):
    pk = sa_inspect(obj).identity[0]
    db.session.expire_all()
    fresh = db.session.get(type(obj), pk)
    if fresh is None:
        return None
    return {c.key: getattr(fresh, c.key) for c in sa_inspect(type(obj)).column_attrs}


def _records(world, models, report):
    from app.models.registers import EntryBase
    from tests.registers_kit import probe_entry

    out = {}
    for model in models:
        factory = FACTORIES.get(model)
        if factory is None and issubclass(model, EntryBase):  # any register: every field filled
            factory = lambda world, side, model=model: probe_entry(model, world, side)  # noqa: E731
        if factory is None:
            report.missing_factories.add(model.__name__)
            continue
        out[model] = (factory(world, "a"), factory(world, "b"))
    return out


def _custom_pk_rules(app, view):
    """GET endpoints of the view that take a record id, other than FAB's CRUD ones."""
    skip = {"show", "edit", "delete", "action", "download"}
    spec = getattr(view, "spec", None)  # a register's pages: its code is part of every address
    out = []
    for rule in app.url_map.iter_rules():
        endpoint, _, method = rule.endpoint.partition(".")
        if endpoint != view.endpoint or method in skip or "GET" not in rule.methods:
            continue
        if set(rule.arguments) == {"pk"}:
            out.append(rule.rule)
        elif spec is not None and set(rule.arguments) == {"code", "pk"}:
            out.append(rule.rule.replace("<code>", spec.code))
    return out


def _jpeg():
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), "green").save(out, "JPEG")
    return out.getvalue()


def _files_of_owners(records):
    """A photo on grid B's record of every kind that carries files (visits, appeals, contact
    records, and every register with a 照片/附件 field): {owner kind: (record, attachment, field)}."""
    from app.services import attachments

    out = {}
    for model, (_mine, theirs) in records.items():
        owner = attachments.owner_of(model)
        if owner is None:
            continue
        field = None
        spec = getattr(model, "__register__", None)
        if spec is not None:
            codes = [f.code for f in spec.live_fields if f.type == "attachment"]
            if not codes:
                continue
            field = codes[0]
        uploads = attachments.check_uploads([("探针b.jpg", _jpeg())])
        (row,) = attachments.add_attachments(db.session, theirs, uploads, field_code=field)
        out[owner.code] = (theirs, row, field)
    db.session.commit()
    return out


def _probe_files(client, headers, label, owner_files, report):
    """Grid B's files, by page and by API: read, listed, removed, added to — all refused."""
    import io

    from app.models.attachments import Attachment

    for code, (theirs, row, field_code) in owner_files.items():
        report.views.add(f"/api/v1/attachments/{code}")
        before = _snapshot(row)
        count = db.session.scalar(select(db.func.count()).select_from(Attachment))
        api = "/api/v1/attachments"
        for url in (f"/attachments/file/{row.id}", f"/attachments/thumb/{row.id}"):
            report.check(client.get(url).status_code in OK_REFUSALS, f"{label} GET {url} ({code})")
        for url in (f"{api}/{row.id}", f"{api}/{row.id}/file", f"{api}/{row.id}/thumbnail",
                    f"{api}/?owner={code}&owner_id={theirs.id}"):  # fmt: skip
            report.check(client.get(url, headers=headers).status_code in OK_REFUSALS, f"{label} API GET {url}")
        status = client.post(f"/attachments/remove/{row.id}").status_code
        report.check(status in OK_REFUSALS, f"{label} POST remove a file of {code}")
        status = client.delete(f"{api}/{row.id}", headers=headers).status_code
        report.check(status in OK_REFUSALS, f"{label} API DELETE a file of {code}")
        form = {"field": field_code or ""}
        status = client.post(f"/attachments/upload/{code}/{theirs.id}", content_type="multipart/form-data",
                             data={**form, "attachments": [(io.BytesIO(_jpeg()), "x.jpg")]}).status_code  # fmt: skip
        report.check(status in OK_REFUSALS, f"{label} POST upload to {code} B#{theirs.id}")
        status = client.post(f"{api}/{code}/{theirs.id}", headers=headers, content_type="multipart/form-data",
                             data={**form, "files": [(io.BytesIO(_jpeg()), "x.jpg")]}).status_code  # fmt: skip
        report.check(status in OK_REFUSALS, f"{label} API upload to {code} B#{theirs.id}")
        report.check(_snapshot(row) == before, f"{label} changed a file of {code} B#{theirs.id}")
        after = db.session.scalar(select(db.func.count()).select_from(Attachment))
        report.check(after == count, f"{label} added a file to {code} B#{theirs.id}")


def probe(app, client, world, users, api_headers):
    """Run every probe for every user. `users` maps a label to a logged-in-able user."""
    from tests.conftest import login

    report = Report()
    html, apis = scoped_views(app)
    models = {v.datamodel.obj for v in html + apis} | {
        s["model"] for s in PICKERS.values() if scope.is_scoped(s["model"])
    }
    records = _records(world, models, report)
    owner_files = _files_of_owners(records)
    for label, user in users.items():
        login(client, user)
        headers = api_headers(user)
        _probe_files(client, headers, label, owner_files, report)
        for view in html:
            model = view.datamodel.obj
            if model not in records:
                continue
            mine, theirs = records[model]
            base = view.route_base
            report.views.add(base)
            name = type(view).__name__
            before = _snapshot(theirs)
            body = client.get(f"{base}/list/?psize_{name}=200").get_data(as_text=True)
            report.check(f'{base}/show/{theirs.id}"' not in body, f"{label} {name} list shows B#{theirs.id}")
            for url in (f"{base}/show/{theirs.id}", f"{base}/edit/{theirs.id}"):
                report.check(client.get(url).status_code in OK_REFUSALS, f"{label} GET {url}")
            for url in _custom_pk_rules(app, view):
                target = url.replace("<pk>", str(theirs.id)).replace("<int:pk>", str(theirs.id))
                report.check(client.get(target).status_code in OK_REFUSALS, f"{label} GET {target}")
            status = client.post(f"{base}/edit/{theirs.id}", data={"name": "探针改"}).status_code
            report.check(status in OK_REFUSALS, f"{label} POST edit {name}")
            status = client.post(f"{base}/delete/{theirs.id}").status_code
            report.check(status in OK_REFUSALS, f"{label} POST delete {name}")
            for action in getattr(view, "actions", {}):
                status = client.post(f"{base}/action/{action}/{theirs.id}").status_code
                report.check(status in (403, 404, 405), f"{label} action {action} on {name}")
                status = client.post(
                    f"{base}/action_post", data={"action": action, "rowid": [str(theirs.id)]}
                ).status_code
                report.check(status in (403, 404), f"{label} mass action {action} on {name}")
            report.check(_snapshot(theirs) == before, f"{label} {name} changed B#{theirs.id}")
        for kind, spec in PICKERS.items():
            model = spec["model"]
            if model not in records:
                continue
            theirs = records[model][1]
            response = client.get(f"/picker/{kind}?id={theirs.id}")
            ok = response.status_code in OK_REFUSALS or response.json["results"] == []
            report.check(ok, f"{label} picker {kind} offers B#{theirs.id}")
        for api in apis:
            model = api.datamodel.obj
            if model not in records:
                continue
            mine, theirs = records[model]
            url = f"/api/v1/{api.resource_name}"
            report.views.add(url)
            before = _snapshot(theirs)
            report.check(
                client.get(f"{url}/{theirs.id}", headers=headers).status_code in OK_REFUSALS, f"{label} API GET {url}"
            )
            listing = client.get(f"{url}/?q=(page_size:100)", headers=headers)
            if listing.status_code == 200:
                report.check(theirs.id not in listing.json["ids"], f"{label} API list {url} shows B")
            else:
                report.check(listing.status_code in OK_REFUSALS, f"{label} API list {url}")
            status = client.put(f"{url}/{theirs.id}", json={}, headers=headers).status_code
            report.check(status in OK_REFUSALS, f"{label} API PUT {url}")
            status = client.delete(f"{url}/{theirs.id}", headers=headers).status_code
            report.check(status in OK_REFUSALS, f"{label} API DELETE {url}")
            report.check(_snapshot(theirs) == before, f"{label} API changed B#{theirs.id} of {url}")
            # pointing an own record, or a new one, at grid B's records
            pointers = {
                rel.key: records[rel.mapper.class_][1].id
                for rel in sa_inspect(model).relationships
                if rel.direction.name == "MANYTOONE"
                and rel.mapper.class_ in records
                and rel.key in (api.edit_columns or [])
            }
            if pointers:
                snap = _snapshot(mine)
                if hasattr(mine, "version"):
                    pointers["version"] = mine.version
                status = client.put(f"{url}/{mine.id}", json=pointers, headers=headers).status_code
                report.check(status in OK_REFUSALS, f"{label} API PUT {url} pointing at B answered {status}")
                report.check(_snapshot(mine) == snap, f"{label} API PUT moved A#{mine.id} of {url} to B")
                count = db.session.scalar(select(db.func.count()).select_from(model))
                # a complete, otherwise valid body (a copy of A's record) aimed at B
                body = {k: v for k, v in api.add_model_schema.dump(mine).items() if v is not None}
                body.update({k: v for k, v in pointers.items() if k in (api.add_columns or [])})
                status = client.post(f"{url}/", json=body, headers=headers).status_code
                report.check(status in OK_REFUSALS, f"{label} API POST {url} into B answered {status}")
                report.check(
                    db.session.scalar(select(db.func.count()).select_from(model)) == count,
                    f"{label} API POST {url} created",
                )
    return report


# --- visits and representatives (branch `visits`) ------------------------------


def _visit_record(world, side):
    from tests.factories import make_visit

    grid = world["b1"] if side == "b" else world["a1"]
    return make_visit(grid, [make_person(grid, name=f"探针{side}走访人")], visited_name=f"探针{side}户")


def _constituency_record(world, side):
    from tests.factories import make_constituency

    return make_constituency([world["b1"] if side == "b" else world["a1"]], name=f"探针{side}选区")


def _representative_record(world, side):
    from tests.factories import make_representative

    return make_representative(grid=world["b1"] if side == "b" else world["a1"], name=f"探针{side}代表")


def _contact_record(world, side):
    from tests.factories import make_contact, make_representative

    rep = make_representative(grid=world["b1"] if side == "b" else world["a1"], name=f"探针{side}记录代表")
    return make_contact(rep, place=f"探针{side}地点")


def _register_visits_and_representatives():
    from app.models.representatives import Constituency, ContactRecord, Representative
    from app.models.visits import Visit

    register_factory(Visit, _visit_record)
    register_factory(Constituency, _constituency_record)
    register_factory(Representative, _representative_record)
    register_factory(ContactRecord, _contact_record)


_register_visits_and_representatives()


# --- appeals (branch `appeals`) -------------------------------------------------


def _appeal_record(world, side):
    from tests.factories import make_appeal

    grid = world["b1"] if side == "b" else world["a1"]
    return make_appeal(grid, status="in_progress", reporter_name=f"探针{side}反映人")


def _register_appeals():
    from app.models.appeals import Appeal

    register_factory(Appeal, _appeal_record)


_register_appeals()


# --- rotas (branch `wt-rota`) ---------------------------------------------------


def _rota_record(world, side):
    from datetime import date

    from sqlalchemy import select

    from app.models.rotas import Rota, RotaKind

    grid = world["b1"] if side == "b" else world["a1"]
    rota = Rota(grid=grid, kind=db.session.scalar(select(RotaKind).where(RotaKind.code == "speakup")),
                name=f"探针{side}轮值", weekdays="3", start_date=date(2027, 2, 1), end_date=date(2027, 2, 28))  # fmt: skip
    rota.members = [make_person(grid, name=f"探针{side}值班人")]
    db.session.add(rota)
    db.session.commit()
    return rota


def _rota_slot_record(world, side):
    from datetime import date

    from app.models.rotas import RotaSlot

    rota = _rota_record(world, side)
    slot = RotaSlot(rota=rota, grid=rota.grid, slot_date=date(2027, 2, 3), person=rota.members[0])
    db.session.add(slot)
    db.session.commit()
    return slot


def _register_rotas():
    from app.models.rotas import Rota, RotaSlot

    register_factory(Rota, _rota_record)
    register_factory(RotaSlot, _rota_slot_record)


_register_rotas()

# --- photos and files (照片/附件) ----------------------------------------------------


def _attachment_record(world, side):
    """A photo on a visit of grid A or B (its file, thumbnail and page are probed)."""
    import io

    from PIL import Image

    from app.services import attachments

    visit = _visit_record(world, side)
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "green").save(out, "JPEG")
    (row,) = attachments.add_attachments(
        db.session, visit, attachments.check_uploads([(f"探针{side}.jpg", out.getvalue())])
    )
    db.session.commit()
    return row


def _register_attachments():
    from app.models.attachments import Attachment

    register_factory(Attachment, _attachment_record)


_register_attachments()

# --- 百分制考核 (issue 16) ----------------------------------------------------------


def _assessment_round(world, side):
    from app.models.assessments import AssessmentRound, AssessmentScheme
    from app.services.assessments import seed_default_scheme

    scheme = db.session.scalar(select(AssessmentScheme).limit(1)) or seed_default_scheme(db.session)
    grid = world["b1"] if side == "b" else world["a1"]
    rnd = AssessmentRound(scheme=scheme, grid=grid, team_level=grid.level, year=2026, period="q4")
    db.session.add(rnd)
    db.session.commit()
    return rnd


def _assessment_input(world, side):
    from app.models.assessments import AssessmentInput

    rnd = _assessment_round(world, side)
    item = next(i for i in rnd.scheme.items if i.kind == "votes")
    entry = AssessmentInput(
        assessment=rnd, item=item, grid=rnd.grid, votes_satisfied=40, votes_basic=10, votes_unsatisfied=0
    )
    db.session.add(entry)
    db.session.commit()
    return entry


def _register_assessments():
    from app.models.assessments import AssessmentInput, AssessmentRound

    register_factory(AssessmentRound, _assessment_round)
    register_factory(AssessmentInput, _assessment_input)


_register_assessments()
