"""The masking prober: for every model that declares sensitive columns (app.core.sensitive),
seed a record with known full values, change each value once through the app's own API
(so the audit trail and timelines hold old and new values), then fetch every GET route
the app registered — lists, pages, prints, exports, the API, the timeline, the audit
trail — as each role, and look for any full value that role may not read.

Discovery is by enumeration, not a hand-kept list: a sensitive model without a factory
here fails the test with a message, so new models (and registers) are covered by force.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field

from flask import current_app
from flask_appbuilder import Model

from app.core.sensitive import CONTENT, ID_NUMBER, NUMBER_KINDS, PERSONAL, PHONE, declared
from app.extensions import db
from app.views.pickers import PICKERS

SKIP_ENDPOINT_PARTS = ("static", "logout", "LocaleView", "UtilView", "download", ".delete", ".action", "OpenApi",
                       "SwaggerView", "favicon", "AuthDBView")  # fmt: skip


# kind of secret -> a function(n) returning the n-th distinct full value of that kind
def _id_number(n):
    """A valid 18-character ID number (GB 11643 check digit), distinct for each n."""
    body = f"41010219800101{n:03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]


VALUES = {
    PHONE: lambda n: f"1390{n:03d}5{n:03d}",
    ID_NUMBER: _id_number,
    PERSONAL: lambda n: f"个人信息{n:03d}丁戊己",
    CONTENT: lambda n: f"机密内容{n:03d}甲乙丙",
}


def value_for(kinds, n):
    """A full value for a column of `kinds` (a phone when a phone, else an ID, else text)."""
    for kind in (PHONE, ID_NUMBER, PERSONAL, CONTENT):
        if kind in kinds:
            return VALUES[kind](n)
    raise ValueError(kinds)


# model -> fn(world, values) -> a record with those values (in grid A1)
FACTORIES = {}


def register_factory(model, factory):
    FACTORIES[model] = factory


def _appeal(world, values):
    from tests.factories import make_appeal

    return make_appeal(world["a1"], status="in_progress", reporter_name="掩码反映人", **values)


def _visit(world, values):
    from tests.factories import make_person, make_visit

    visitor = make_person(world["a1"], name="掩码走访人")
    return make_visit(world["a1"], [visitor], visited_name="掩码户", **values)


def _person(world, values):
    from tests.factories import make_person

    person = make_person(world["a1"], name="掩码人员")
    for column, value in values.items():  # extra fields (扩展字段) set as the form would
        setattr(person, column, value)
    from app.extensions import db

    db.session.commit()
    return person


def _rota_slot(world, values):
    """A slot of this month in the township, so the 公示 page (the users' own grid by default) shows it."""
    from sqlalchemy import select

    from app.core.clock import today
    from app.extensions import db
    from app.models.rotas import Rota, RotaKind, RotaSlot
    from tests.factories import make_person

    day = today()
    person = make_person(world["ta"], name="掩码值班人")
    rota = Rota(grid=world["ta"], kind=db.session.scalar(select(RotaKind).where(RotaKind.code == "reception")),
                name="掩码轮值", weekdays="1,2,3,4,5,6,7", start_date=day.replace(day=1), end_date=day)  # fmt: skip
    rota.members = [person]
    slot = RotaSlot(rota=rota, grid=world["ta"], slot_date=day, person=person, **values)
    db.session.add_all([rota, slot])
    db.session.commit()
    return slot


def _register_builtins():
    from app.models.appeals import Appeal
    from app.models.personnel import Person
    from app.models.rotas import RotaSlot
    from app.models.visits import Visit

    register_factory(Appeal, _appeal)
    register_factory(Visit, _visit)
    register_factory(Person, _person)  # its extra fields may be secrets
    register_factory(RotaSlot, _rota_slot)  # its duty phone, on the list, the page, the API and the 公示


_register_builtins()


@dataclass
class Report:
    probes: int = 0
    urls: int = 0
    leaks: list = field(default_factory=list)
    missing_factories: set = field(default_factory=set)
    models: list = field(default_factory=list)


def sensitive_models(app, extra=()):
    """Every model with declared secrets: mapped on FAB's metadata (registers: the classes of
    the live definitions), or behind a registered view."""
    from app.models.registers import EntryBase, ExtensionBase
    from app.services.registers import runtime

    live = set(runtime.entry_classes().values())
    found = {
        m.class_
        for m in Model.registry.mappers
        if declared(m.class_)
        and (not issubclass(m.class_, EntryBase) or m.class_ in live)
        and not issubclass(m.class_, ExtensionBase)  # extra fields are probed on their record
    }
    for view in app.appbuilder.baseviews:
        model = getattr(getattr(view, "datamodel", None), "obj", None)
        if model is not None and declared(model):
            found.add(model)
    return sorted(found | set(extra), key=lambda m: m.__name__)


@dataclass
class Secret:
    model: type
    column: str
    kinds: tuple
    values: list  # every full value the record held (old and new)


def seed(app, world, editor_headers, client, models, report):
    """Records with known values, each value then changed once through the API."""
    secrets = []
    records = {}
    n = 0
    for model in models:
        factory = FACTORIES.get(model)
        if factory is None and getattr(model, "__register__", None) is not None:
            factory = _register_entry
        if factory is None:
            report.missing_factories.add(model.__name__)
            continue
        columns = declared(model)
        first = {}
        for column, kinds in columns.items():
            n += 1
            first[column] = value_for(kinds, n)
        record = factory(world, first) if factory is not _register_entry else factory(model, world, first)
        records[model] = record
        second = {}
        for column, kinds in columns.items():
            n += 1
            second[column] = value_for(kinds, n)
        api = _api_of(app, model)
        if api is not None:
            from app.services.registers import extensions

            extra = set(extensions.field_codes(model))  # extra fields travel in the API's `extra` object
            body = {c: v for c, v in second.items() if c not in extra}
            if extra:
                body["extra"] = {c: v for c, v in second.items() if c in extra}
            if hasattr(record, "version"):
                body["version"] = record.version
            response = client.put(f"/api/v1/{api.resource_name}/{record.id}", json=body, headers=editor_headers)
            assert response.status_code == 200, response.get_data(as_text=True)
        for column, kinds in columns.items():
            values = [first[column]] + ([second[column]] if api is not None else [])
            secrets.append(Secret(model, column, kinds, values))
    return secrets, records


def _register_entry(model, world, values):
    from tests.registers_kit import probe_entry

    return probe_entry(model, world, "a", **values)


def _api_of(app, model):
    from app.views.registers.api import api_objects

    for view in list(app.appbuilder.baseviews) + api_objects():
        if getattr(getattr(view, "datamodel", None), "obj", None) is model and hasattr(view, "resource_name"):
            if "put" in (view.include_route_methods or {"put"}) and "put" not in (view.exclude_route_methods or ()):
                return view
    return None


def _candidates(app, rule, records):
    """Values for the rule's arguments: ids of the seeded records and of every row of the
    view's own model (a few), and the known names of string arguments."""
    args = sorted(rule.arguments)
    options = {}
    endpoint = rule.endpoint.split(".")[0]
    view = next((v for v in app.appbuilder.baseviews if v.endpoint == endpoint), None)
    for arg in args:
        if arg == "pk":
            ids = {r.id for r in records.values()}
            model = getattr(getattr(view, "datamodel", None), "obj", None)
            if model is not None:
                ids |= set(db.session.scalars(db.select(model.id).order_by(model.id.desc()).limit(200)))
            options[arg] = sorted(ids)
        elif arg == "form":
            options[arg] = sorted(getattr(view, "PRINT_FORMS", {}) or ["register"])
        elif arg == "kind":
            from app.services.importer import IMPORTERS

            options[arg] = sorted(set(PICKERS) | set(IMPORTERS))
        elif arg == "version":
            options[arg] = ["v1"]
        elif arg == "code":  # a register's pages and API
            from app.services.registers import runtime

            options[arg] = sorted(runtime.specs())
        else:
            return []
    urls = [rule.rule]
    for arg in args:
        urls = [re.sub(rf"<(?:[a-z]+:)?{arg}>", str(value), url) for url in urls for value in options[arg]]
    return urls


def _extra_queries(app, url, endpoint):
    """Variants that make a list or API show more: big pages, every show column."""
    out = [url]
    if url.endswith("/list/"):
        out.append(url + f"?psize_{endpoint}=200")
    if url.startswith("/api/v1/") and url.endswith("/"):
        resource = url.split("/")[3]
        api = next((v for v in app.appbuilder.baseviews if getattr(v, "resource_name", None) == resource), None)
        if api is not None and getattr(api, "show_columns", None):
            cols = ",".join(c for c in api.show_columns)
            out.append(f"{url}?q=(columns:!({cols}),page_size:100)")
    return out


def body_text(response):
    data = response.get_data()
    if data[:2] == b"PK":  # an Excel file: every string and cell of every sheet
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            return " ".join(z.read(n).decode("utf-8", "replace") for n in z.namelist() if n.endswith(".xml"))
    return data.decode("utf-8", "replace")


def readable(kinds, role_names):
    """Whether a user with these roles reads values of `kinds` in full (of a record not their own)."""
    grants = current_app.config.get("_PROBE_GRANTS") or {}
    numbers = any("SensitiveData" in grants.get(r, {}) for r in role_names) or "Admin" in role_names
    content = any(r in current_app.config.get("VISIT_CONTENT_ROLES", ()) for r in role_names)
    if any(k in NUMBER_KINDS for k in kinds) and not numbers:
        return False
    if CONTENT in kinds and not content:
        return False
    return True


def probe(app, client, world, users, api_headers, editor, extra_models=()):
    """As each user, fetch every GET route and report full values they may not read."""
    from app.security import ROLE_GRANTS
    from tests.conftest import login

    app.config["_PROBE_GRANTS"] = ROLE_GRANTS
    report = Report()
    models = sensitive_models(app, extra_models)
    report.models = [m.__name__ for m in models]
    secrets, records = seed(app, world, api_headers(editor), client, models, report)
    rules = [
        r
        for r in app.url_map.iter_rules()
        if "GET" in r.methods and not any(part in r.endpoint for part in SKIP_ENDPOINT_PARTS)
    ]
    # the URLs, once, right after seeding: the rows each view shows are the seeded ones
    # and what they caused (audit rows, events), not the probe's own logins
    urls = [
        (full, rule)
        for rule in rules
        for url in _candidates(app, rule, records)
        for full in _extra_queries(app, url, rule.endpoint.split(".")[0])
    ]
    for label, user in users.items():
        role_names = [r.name for r in user.roles]
        hidden = [(s, v) for s in secrets if not readable(s.kinds, role_names) for v in s.values]
        if not hidden:
            continue
        login(client, user)
        headers = api_headers(user)
        for full, _rule in urls:
            response = client.get(full, headers=headers if full.startswith("/api/") else None)
            report.urls += 1
            if response.status_code != 200:
                continue
            text = body_text(response)
            for secret, value in hidden:
                report.probes += 1
                if value in text:
                    report.leaks.append(f"{label} GET {full}: {secret.model.__name__}.{secret.column}")
    return report
