"""Login hardening, security headers, production secret check."""

import pytest

import config as shipped
from app import create_app
from tests.factories import make_user


def _limited_app(app, **extra):
    config = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
        "INSTANCE_DIR": app.instance_path,
        "SECRET_KEY": app.config["SECRET_KEY"],
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_STORAGE_URI": "memory://",
        "AUTH_RATE_LIMIT": "3 per minute",
        "FAB_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
    }
    config.update(extra)
    return create_app(config)


def test_web_login_is_rate_limited(app):
    make_user("Clerk", username="target")
    limited = _limited_app(app)
    client = limited.test_client()
    codes = [client.post("/login/", data={"username": "target", "password": "bad"}).status_code for _ in range(5)]
    assert codes[:3] != [429, 429, 429] and codes[-1] == 429


def test_api_login_is_rate_limited(app):
    make_user("Clerk", username="target2")
    limited = _limited_app(app)
    client = limited.test_client()
    body = {"username": "target2", "password": "bad", "provider": "db"}
    codes = [client.post("/api/v1/security/login", json=body).status_code for _ in range(5)]
    assert codes[0] == 401 and codes[-1] == 429


def _failed_logins(workers, post, n=40):
    """`n` failed logins from one address, spread over `workers` in turn (as gunicorn does)."""
    clients = [worker.test_client() for worker in workers]
    return [post(clients[i % len(clients)]).status_code for i in range(n)]


@pytest.mark.commits  # two apps (workers) count through connections of their own
@pytest.mark.parametrize("route", ["web", "api"])
def test_the_shipped_login_limit_holds_across_workers(app, route):
    """`make run` starts two workers: the documented limit (AUTH_RATE_LIMIT, 10 per 5 minutes)
    must hold for the address as a whole, not per worker (issue 18, item 3)."""
    make_user("Clerk", username=f"spread_{route}")
    workers = [
        _limited_app(app, RATELIMIT_STORAGE_URI=shipped.RATELIMIT_STORAGE_URI, AUTH_RATE_LIMIT=shipped.AUTH_RATE_LIMIT)
        for _ in range(2)
    ]
    if route == "web":
        codes = _failed_logins(workers, lambda c: c.post("/login/", data={"username": "spread_web", "password": "x"}))
    else:
        body = {"username": "spread_api", "password": "x", "provider": "db"}
        codes = _failed_logins(workers, lambda c: c.post("/api/v1/security/login", json=body))
    assert shipped.AUTH_RATE_LIMIT.startswith("10 ")
    assert sum(code != 429 for code in codes) == 10, codes


def test_pages_carry_security_headers_and_a_nonce_csp(client):
    response = client.get("/login/")
    headers = response.headers
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self' 'nonce-" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    nonce = csp.split("'nonce-")[1].split("'")[0]
    body = response.get_data(as_text=True)
    # every inline script carries this request's nonce
    import re

    for tag in re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", body):
        assert f'nonce="{nonce}"' in tag, tag


def test_session_cookie_is_http_only(client):
    make_user("Clerk", username="cookie")
    response = client.post("/login/", data={"username": "cookie", "password": "TeSt@Pass99xyz"})
    cookie = response.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


@pytest.mark.parametrize("key", ["", "short", "changeme"])
def test_production_refuses_a_weak_secret_key(app, key, tmp_path):
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(
            {
                "ENV_PRODUCTION": True,
                "SECRET_KEY": key,
                "INSTANCE_DIR": str(tmp_path),
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db",
            }
        )


def test_production_starts_with_a_strong_key(tmp_path):
    created = create_app(
        {
            "ENV_PRODUCTION": True,
            "SECRET_KEY": "k" * 16 + "0123456789abcdef0123",
            "INSTANCE_DIR": str(tmp_path),
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db",
        }
    )
    assert created is not None


def test_forms_and_deletes_need_the_csrf_token(app):
    from tests.factories import tree

    t = tree()
    target = t["b1a"].id
    make_user("Admin", username="csrfadmin")
    protected = _limited_app(app, WTF_CSRF_ENABLED=True, RATELIMIT_ENABLED=False)
    client = protected.test_client()
    page = client.get("/login/").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    assert client.post("/login/", data={"username": "csrfadmin", "password": "TeSt@Pass99xyz"}).status_code == 400
    assert (
        client.post(
            "/login/", data={"username": "csrfadmin", "password": "TeSt@Pass99xyz", "csrf_token": token}
        ).status_code
        == 302
    )
    from app.extensions import db
    from app.models.grids import Grid

    assert client.post(f"/gridview/delete/{target}").status_code == 400  # no token: refused
    assert client.get(f"/gridview/delete/{target}").status_code in (302, 405)  # GET never deletes
    db.session.expire_all()
    assert db.session.get(Grid, target) is not None
    list_page = client.get("/gridview/list/").get_data(as_text=True)
    token = list_page.split('name="csrf_token" value="')[1].split('"')[0]
    client.post(f"/gridview/delete/{target}", data={"csrf_token": token})
    db.session.expire_all()
    assert db.session.get(Grid, target) is None
    # the JSON API (JWT) is exempt: cross-site pages cannot send JSON with a token
    login = client.post(
        "/api/v1/security/login", json={"username": "csrfadmin", "password": "TeSt@Pass99xyz", "provider": "db"}
    )
    assert login.status_code == 200


def test_login_cookie_expires_after_the_configured_idle_time(client, app):
    make_user("Clerk", username="idle")
    response = client.post("/login/", data={"username": "idle", "password": "TeSt@Pass99xyz"})
    cookie = response.headers.get("Set-Cookie", "")
    assert "Expires=" in cookie  # not a forever-until-the-browser-closes cookie
    assert app.permanent_session_lifetime.total_seconds() == app.config["PERMANENT_SESSION_LIFETIME"]


def test_rate_limit_counts_live_in_redis_when_configured(app):
    import uuid

    import redis

    r = redis.Redis(host="127.0.0.1", port=6379, db=15)
    try:
        r.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    # a key prefix of this run's own: another suite on the same Redis (a second checkout, CI) keeps its counts
    prefix = f"mqtest{uuid.uuid4().hex[:12]}"
    settings = {"RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/15", "RATELIMIT_KEY_PREFIX": prefix}
    make_user("Clerk", username="redisuser")
    limited = _limited_app(app, **settings)
    client = limited.test_client()
    try:
        codes = [
            client.post("/login/", data={"username": "redisuser", "password": "bad"}).status_code for _ in range(5)
        ]
        assert codes[-1] == 429
        keys = r.keys(f"*{prefix}*")
        assert keys, r.keys("*")
        # a second worker (another app on the same Redis) sees the same count
        other = _limited_app(app, **settings).test_client()
        assert other.post("/login/", data={"username": "redisuser", "password": "bad"}).status_code == 429
    finally:
        for key in r.scan_iter(f"*{prefix}*"):
            r.delete(key)


def test_views_sharing_a_resource_keep_each_others_permissions(app, caplog):
    """An assessment's rounds (compute, publish), entries and API share the resource
    "Assessment"; the recycle bin's pages share "Trash"; the menus "Dashboard" and "Assessment"
    bear resources' names. Syncing them (as `flask minqing init` does) takes nothing away and
    warns of nothing — even when no role holds a permission any more (FAB deleted it then)."""
    sm = app.appbuilder.sm
    pv = sm.find_permission_view_menu("can_compute", "Assessment")
    assert pv is not None
    for role in sm.get_all_roles():
        sm.del_permission_role(role, pv)
    caplog.clear()
    app.appbuilder.add_permissions(update_perms=True)
    assert not [r.getMessage() for r in caplog.records if "Refused to delete" in r.getMessage()]
    for perm, resource in (("can_compute", "Assessment"), ("can_publish", "Assessment"), ("can_read", "Assessment"),
                           ("menu_access", "Assessment"), ("menu_access", "Dashboard"), ("can_purge", "Trash")):  # fmt: skip
        assert sm.find_permission_view_menu(perm, resource) is not None, (perm, resource)
    # ... and a view's sync on its own still adds only what some view of the resource declares
    sm.add_permissions_view(["can_read"], "Assessment")
    assert sm.find_permission_view_menu("can_compute", "Assessment") is not None
