"""Health, request ids and metrics (issue 15 items 1, 2 and 6)."""

import io
import json
import logging
import pathlib
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from sqlalchemy import text

from app import create_app
from app.core import logs, metrics
from app.extensions import db
from app.views import ops


def test_healthz_answers_without_database_or_login(client, monkeypatch):
    def no_database(*a, **kw):
        raise AssertionError("/healthz must not touch the database")

    monkeypatch.setattr(type(db.engine), "connect", no_database)
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json["status"] == "ok"
    assert "Set-Cookie" not in response.headers  # no session, no login


def test_readyz_is_ready_when_everything_answers(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.json
    assert response.json["status"] == "ready"
    assert set(response.json["checks"]) == {"database", "migrations"}
    assert "Set-Cookie" not in response.headers


def test_readyz_checks_a_configured_redis(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_STORAGE_URI", "redis://127.0.0.1:1/0")  # a closed port
    response = client.get("/readyz")
    assert response.status_code == 503
    check = response.json["checks"]["RATELIMIT_STORAGE_URI"]
    assert check["ok"] is False and check["reason"] == "无法连接 Redis。" and "Error" in check["error"]
    assert response.json["checks"]["database"]["ok"] is True


def test_readyz_redis_that_answers(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_STORAGE_URI", "redis://127.0.0.1:6379/0")
    response = client.get("/readyz")
    if not response.json["checks"]["RATELIMIT_STORAGE_URI"]["ok"]:
        pytest.skip("no Redis on 127.0.0.1:6379")
    assert response.status_code == 200


def test_readyz_when_migrations_are_behind(client, session, monkeypatch):
    monkeypatch.setitem(ops._heads, client.application.extensions["migrate"].directory, {"9999_newer"})
    response = client.get("/readyz")
    assert response.status_code == 503
    check = response.json["checks"]["migrations"]
    assert check["ok"] is False and check["head"] == ["9999_newer"] and "flask minqing init" in check["reason"]


def test_readyz_when_the_database_is_gone(client, monkeypatch):
    def refused(*a, **kw):
        raise OSError("connection refused")

    monkeypatch.setattr(ops, "text", refused)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"]["database"]["reason"] == "无法连接数据库。"
    assert "migrations" not in response.json["checks"]


def test_ops_endpoints_are_not_in_the_menu_nor_need_csrf(app):
    assert not any(item.name in ("healthz", "readyz", "metrics") for item in app.appbuilder.menu.get_list())
    for endpoint in ops.OPS_VIEWS:
        assert app.view_functions[endpoint].__module__ == "app.views.ops"


# --------------------------------------------------------------------------
# Request ids and log lines
# --------------------------------------------------------------------------


def test_a_request_id_is_made_or_kept(client):
    made = client.get("/healthz").headers["X-Request-ID"]
    assert len(made) == 32
    assert (
        client.get("/healthz", headers={"X-Request-ID": "nginx-0123456789abcdef"}).headers["X-Request-ID"]
        == "nginx-0123456789abcdef"
    )
    odd = client.get("/healthz", headers={"X-Request-ID": "<script>alert(1)</script>"}).headers["X-Request-ID"]
    assert odd != "<script>alert(1)</script>" and len(odd) == 32  # not sane: replaced
    assert client.get("/login/").headers["X-Request-ID"]  # on every page


def test_json_log_lines_carry_the_request_id(client):
    stream = io.StringIO()
    handler = logs.make_handler("json", stream)
    logging.getLogger().addHandler(handler)
    try:
        client.get("/readyz", headers={"X-Request-ID": "req-abcdef123456"})
    finally:
        logging.getLogger().removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    request_line = next(line for line in lines if line["logger"] == "minqing.request")
    assert request_line["request_id"] == "req-abcdef123456"
    assert request_line["path"] == "/readyz" and request_line["status"] == 200 and request_line["level"] == "INFO"
    assert all(line["request_id"] == "req-abcdef123456" for line in lines)


def test_log_format_json_from_the_settings(tmp_path, capsys):
    """A whole app started with LOG_FORMAT=json writes JSON lines at INFO to standard error."""
    try:
        other = create_app(
            {
                "INSTANCE_DIR": str(tmp_path),
                "SECRET_KEY": "s" * 40,
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db",
                "LOG_FORMAT": "json",
                "LOG_LEVEL": "INFO",
            }
        )
        capsys.readouterr()
        response = other.test_client().get("/healthz", headers={"X-Request-ID": "json-0123456789"})
        assert response.headers["X-Request-ID"] == "json-0123456789"
        err = capsys.readouterr().err
        entry = json.loads(err.strip().splitlines()[-1])
        assert entry["request_id"] == "json-0123456789" and entry["message"].startswith("GET /healthz 200")
    finally:
        logs.install("text", "INFO")  # the session's app goes on in text


def test_a_bad_log_format_is_refused():
    with pytest.raises(ValueError, match="LOG_FORMAT"):
        logs.install("xml")


# --------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------


def test_metrics_from_loopback(client):
    client.get("/healthz")
    response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/plain")
    body = response.get_data(as_text=True)
    assert 'minqing_http_requests_total{endpoint="minqing_healthz",method="GET",status="200"}' in body
    assert 'minqing_http_request_duration_seconds_bucket{endpoint="minqing_healthz"' in body
    assert "minqing_db_pool_checked_out" in body


def test_metrics_elsewhere_need_the_token(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "METRICS_ALLOWED_NETWORKS", ["10.0.0.0/8"])
    monkeypatch.setitem(app.config, "METRICS_TOKEN", "t0ken-for-prometheus")
    refused = client.get("/metrics")
    assert refused.status_code == 403 and "METRICS_TOKEN" in refused.json["message"]
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
    ok = client.get("/metrics", headers={"Authorization": "Bearer t0ken-for-prometheus"})
    assert ok.status_code == 200
    from_network = client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert from_network.status_code == 200
    monkeypatch.setitem(app.config, "METRICS_TOKEN", "")
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 403  # no empty token


WORKER = """
import sys
from app.core import metrics
from app import create_app
app = create_app({"INSTANCE_DIR": sys.argv[1], "SECRET_KEY": "s" * 40,
                  "SQLALCHEMY_DATABASE_URI": "sqlite:///" + sys.argv[1] + "/w.db"})
client = app.test_client()
for _ in range(int(sys.argv[2])):
    client.get("/healthz")
"""


def test_metrics_add_up_the_workers(tmp_path, monkeypatch):
    """prometheus_client's multiprocess mode: two worker processes, one exposition of both."""
    multiproc = tmp_path / "metrics"  # not there yet: the first process makes it
    env = {"PROMETHEUS_MULTIPROC_DIR": str(multiproc), "PATH": "/usr/bin:/bin"}
    workers = [
        subprocess.Popen([sys.executable, "-c", WORKER, str(tmp_path), str(n)], env=env, cwd=str(_root()))
        for n in (2, 3)
    ]
    assert [w.wait(120) for w in workers] == [0, 0]
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(multiproc))
    body = metrics.exposition()[0].decode()
    assert 'minqing_http_requests_total{endpoint="minqing_healthz",method="GET",status="200"} 5.0' in body


def _root():
    return pathlib.Path(__file__).resolve().parent.parent


def test_the_readyz_database_check_is_real(session):
    assert session.execute(text("SELECT 1")).scalar() == 1


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthz_count(body):
    line = 'minqing_http_requests_total{endpoint="minqing_healthz",method="GET",status="200"} '
    return float(body.split(line, 1)[1].split()[0]) if line in body else 0.0


def test_metrics_with_two_gunicorn_workers(tmp_path):
    """contrib/gunicorn.conf.py, 2 workers: /metrics on either counts the requests of both."""
    port = _free_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
        "MINQING_INSTANCE_DIR": str(tmp_path),
        "SECRET_KEY": "s" * 64,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "2",
    }
    gunicorn = pathlib.Path(sys.executable).with_name("gunicorn")
    server = subprocess.Popen(
        [str(gunicorn), "-c", "contrib/gunicorn.conf.py", "run:app"],
        env=env, cwd=str(_root()), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            try:  # not /healthz: a probe that timed out here may still be served (and counted) later
                urllib.request.urlopen(base + "/readyz", timeout=5).read()
                break
            except urllib.error.HTTPError:  # it answered (503 while not ready): up
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "gunicorn did not start"
                time.sleep(0.3)
        while len(list((tmp_path / "metrics").glob("gauge_livesum_*.db"))) < 2:  # both workers have booted
            assert time.monotonic() < deadline and server.poll() is None, "the second worker did not start"
            time.sleep(0.3)
        before = _healthz_count(urllib.request.urlopen(base + "/metrics", timeout=5).read().decode())
        for _ in range(20):
            urllib.request.urlopen(base + "/healthz", timeout=60).read()
        after = _healthz_count(urllib.request.urlopen(base + "/metrics", timeout=5).read().decode())
        assert after - before == 20
        assert len(list((tmp_path / "metrics").glob("gauge_livesum_*.db"))) == 2  # one per worker, no more
    finally:
        server.terminate()
        server.wait(30)
