"""The served API description is valid OpenAPI 3 (issue 18, item 8), checked by a standard
validator (openapi-spec-validator, pinned in requirements-dev.txt)."""

from openapi_spec_validator import validate

from tests.conftest import api_token
from tests.factories import make_user, tree


def _spec(client):
    tree()
    headers = api_token(client, make_user("Admin"))
    response = client.get("/api/v1/_openapi", headers=headers)
    assert response.status_code == 200
    return response.json


def test_the_served_spec_is_valid_openapi_3(client):
    spec = _spec(client)
    validate(spec)


def test_every_appeal_step_has_its_own_path_and_request_schema(client):
    from app.services.appeals import TRANSITIONS

    spec = _spec(client)
    assert not any("{action}" in path for path in spec["paths"])
    for action in TRANSITIONS:
        operation = spec["paths"][f"/api/v1/appeal/{{pk}}/{action}"]["post"]
        ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        schema = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
        assert schema["type"] == "object" and schema["properties"], action
    evaluate = spec["components"]["schemas"]["AppealEvaluateStep"]["properties"]
    assert [v for v in evaluate["result"]["enum"] if v] == ["satisfied", "basic", "unsatisfied"]
    assert spec["components"]["schemas"]["AppealAssignStep"]["properties"]["handler_person"]["type"] == "integer"


def test_a_step_body_is_checked_against_its_schema(client):
    from tests.factories import make_appeal

    t = tree()
    appeal = make_appeal(t["a1"])
    headers = api_token(client, make_user("Clerk", t["ta"]))
    url = f"/api/v1/appeal/{appeal.id}"
    assert client.post(f"{url}/assign", json={"handler_unit": 5}, headers=headers).status_code == 422
    assert client.post(f"{url}/assign", json={"handler_unit": "x", "bogus": 1}, headers=headers).status_code == 422
    assert client.post(f"{url}/no_such_step", json={}, headers=headers).status_code == 404
    ok = client.post(f"{url}/assign", json={"handler_unit": "镇民政所"}, headers=headers)
    assert ok.status_code == 200 and ok.json["status"] == "assigned"


def test_the_login_operation_is_documented(client):
    login = _spec(client)["paths"]["/api/v1/security/login"]["post"]
    assert {"200", "401", "429"} <= set(login["responses"])
