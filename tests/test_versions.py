"""No lost updates (issue 18, item 2): every editable record is versioned; the API returns the
version (and an ETag) and refuses a change that does not name the current one; an HTML form
posted with a stale or missing version is refused with the reload message."""

from flask import current_app
from sqlalchemy import select

from app.extensions import db
from app.models.representatives import Constituency, Representative
from app.services.records import is_versioned
from app.views.api import ScopedModelApi
from app.views.scoped import ScopedModelView
from tests.conftest import api_token, login
from tests.factories import make_constituency, make_representative, make_user, tree

RELOAD = "已有其他人保存了修改"


def _editable_models(app):
    """Every model a registered view or API lets a user change."""
    out = {}
    for view in app.appbuilder.baseviews:
        model = getattr(getattr(view, "datamodel", None), "obj", None)
        if model is None:
            continue
        if isinstance(view, ScopedModelView) and "edit" not in (view.exclude_route_methods or ()):
            if view.include_route_methods is None or "edit" in view.include_route_methods:
                out[model.__name__] = model
        if isinstance(view, ScopedModelApi) and "put" not in (view.exclude_route_methods or ()):
            if view.include_route_methods is None or "put" in view.include_route_methods:
                out[model.__name__] = model
    return out


def test_every_editable_record_is_versioned(app):
    editable = _editable_models(app)
    assert {"Representative", "Constituency", "QuotaRule", "Grid", "Appeal", "AppealCategory"} <= set(editable)
    assert sorted(name for name, model in editable.items() if not is_versioned(model)) == []


def _world():
    t = tree()
    clerk = make_user("Clerk", t["ta"])
    rep = make_representative(grid=t["a1"])
    return t, clerk, rep


def _rep_form(rep, **extra):
    return {
        "person": str(rep.person_id),
        "level": rep.level,
        "constituency": str(rep.constituency_id),
        "term_start": str(rep.term_start),
        "term_end": str(rep.term_end),
        "active": "y",
        **extra,
    }


def test_two_saves_of_one_representative_the_second_is_refused(client):
    t, clerk, rep = _world()
    opened = rep.version
    login(client, clerk)
    edit_page = client.get(f"/representativeview/edit/{rep.id}").get_data(as_text=True)
    assert 'name="row_version"' in edit_page
    first = client.post(f"/representativeview/edit/{rep.id}", data=_rep_form(rep, note="第一次", row_version=opened))
    assert first.status_code == 302
    second = client.post(f"/representativeview/edit/{rep.id}", data=_rep_form(rep, note="第二次", row_version=opened))
    assert second.status_code == 200 and RELOAD in second.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Representative, rep.id).note == "第一次"


def test_a_form_posted_without_its_version_is_refused(client):
    t, clerk, rep = _world()
    login(client, clerk)
    response = client.post(f"/representativeview/edit/{rep.id}", data=_rep_form(rep, note="无版本"))
    assert response.status_code == 200 and RELOAD in response.get_data(as_text=True)
    bad = client.post(f"/representativeview/edit/{rep.id}", data=_rep_form(rep, note="坏版本", row_version="x"))
    assert RELOAD in bad.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Representative, rep.id).note is None


def test_the_api_returns_the_version_and_an_etag(client):
    t, clerk, rep = _world()
    headers = api_token(client, clerk)
    got = client.get(f"/api/v1/representative/{rep.id}", headers=headers)
    assert got.status_code == 200 and got.json["result"]["version"] == rep.version
    assert got.headers["ETag"] == f'"{rep.version}"'
    only = client.get(f"/api/v1/representative/{rep.id}?q=(columns:!(version))", headers=headers)
    assert only.status_code == 200 and only.json["result"] == {"version": rep.version}
    listed = client.get("/api/v1/constituency/?q=(columns:!(id,version))", headers=headers)
    assert listed.status_code == 200 and all("version" in row for row in listed.json["result"])


def test_an_api_change_must_name_the_current_version(client):
    t, clerk, rep = _world()
    headers = api_token(client, clerk)
    url = f"/api/v1/representative/{rep.id}"
    missing = client.put(url, json={"note": "无版本"}, headers=headers)
    assert missing.status_code == 428 and missing.json["field"] == "version"
    opened = rep.version
    ok = client.put(url, json={"note": "第一次", "version": opened}, headers=headers)
    assert ok.status_code == 200 and ok.json["result"]["version"] == opened + 1
    assert ok.headers["ETag"] == f'"{opened + 1}"'
    stale = client.put(url, json={"note": "第二次", "version": opened}, headers=headers)
    assert stale.status_code == 409 and "刷新" in stale.json["message"]
    not_a_number = client.put(url, json={"note": "x", "version": "abc"}, headers=headers)
    assert not_a_number.status_code == 422
    stale_tag = client.put(url, json={"note": "第三次"}, headers={**headers, "If-Match": f'"{opened}"'})
    assert stale_tag.status_code == 412
    current = client.put(url, json={"note": "第四次"}, headers={**headers, "If-Match": f'"{opened + 1}"'})
    assert current.status_code == 200
    db.session.expire_all()
    assert db.session.get(Representative, rep.id).note == "第四次"


def test_a_delete_with_a_stale_if_match_is_refused(client):
    t, clerk, _ = _world()
    lone = make_constituency([t["a2"]])
    headers = api_token(client, clerk)
    refused = client.delete(f"/api/v1/constituency/{lone.id}", headers={**headers, "If-Match": '"99"'})
    assert refused.status_code == 412
    db.session.expire_all()
    assert db.session.get(Constituency, lone.id) is not None


def test_two_api_saves_of_one_constituency_the_second_is_refused(client):
    t, clerk, rep = _world()
    constituency = rep.constituency
    headers = api_token(client, clerk)
    version = client.get(f"/api/v1/constituency/{constituency.id}", headers=headers).json["result"]["version"]
    first = client.put(f"/api/v1/constituency/{constituency.id}", json={"note": "甲", "version": version},
                       headers=headers)  # fmt: skip
    second = client.put(f"/api/v1/constituency/{constituency.id}", json={"note": "乙", "version": version},
                        headers=headers)  # fmt: skip
    assert (first.status_code, second.status_code) == (200, 409)
    assert db.session.scalar(select(Constituency.note).where(Constituency.id == constituency.id)) == "甲"


def test_the_put_schema_lists_the_version_as_required(client):
    tree()
    headers = api_token(client, make_user("Admin"))
    spec = client.get("/api/v1/_openapi", headers=headers).json
    for api in current_app.appbuilder.baseviews:
        if isinstance(api, ScopedModelApi) and is_versioned(api.datamodel.obj) and api.edit_model_schema_name:
            schema = spec["components"]["schemas"].get(api.edit_model_schema_name)
            if schema is None:
                continue
            assert "version" in schema["properties"] and "version" in schema.get("required", []), api
    put = spec["paths"]["/api/v1/representative/{pk}"]["put"]
    assert {"409", "412", "428"} <= set(put["responses"])
