"""contrib/ (issue 15 item 7): what an operator installs stays true to the code."""

import pathlib
import re
import shutil
import subprocess

import pytest

import config

CONTRIB = pathlib.Path(__file__).resolve().parent.parent / "contrib"
PLAIN = {"DATABASE_URL", "REPORTS_DATABASE_URL", "SECRET_KEY", "RATELIMIT_STORAGE_URI",
         "METRICS_TOKEN", "MAIL_PASSWORD", "PROMETHEUS_MULTIPROC_DIR", "JOBS_REDIS_URL"}  # fmt: skip


def _env_keys():
    text = (CONTRIB / "minqing.env").read_text()
    return re.findall(r"^#?([A-Z_]+)=", text, re.M)


def test_the_sample_environment_names_real_settings():
    for key in _env_keys():
        if key.startswith("MINQING_"):
            assert hasattr(config, key[8:]) or key == "MINQING_ADMIN_PASSWORD", key  # init reads that one only
        elif not key.startswith("GUNICORN_"):
            assert key in PLAIN, key


def test_the_gunicorn_settings_read_the_sample(monkeypatch):
    monkeypatch.setenv("GUNICORN_WORKERS", "3")
    namespace = {"__file__": str(CONTRIB / "gunicorn.conf.py")}
    exec(compile((CONTRIB / "gunicorn.conf.py").read_text(), "gunicorn.conf.py", "exec"), namespace)  # noqa: S102
    assert namespace["workers"] == 3 and callable(namespace["child_exit"])


def test_the_units_run_what_exists():
    web = (CONTRIB / "systemd" / "minqing-web.service").read_text()
    assert "minqing init" in web and "contrib/gunicorn.conf.py run:app" in web
    worker = (CONTRIB / "systemd" / "minqing-worker.service").read_text()
    scheduler = (CONTRIB / "systemd" / "minqing-scheduler.service").read_text()
    assert "flask --app run.py minqing worker" in worker and "flask --app run.py minqing scheduler" in scheduler
    for unit in (worker, scheduler):
        assert "PLACEHOLDER" not in unit and "/bin/false" not in unit


def test_the_nginx_site_is_valid(tmp_path):
    if not shutil.which("nginx") or not shutil.which("openssl"):
        pytest.skip("nginx (Debian's package) is not installed")
    crt, key = tmp_path / "c.crt", tmp_path / "k.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", crt, "-days", "1",
         "-subj", "/CN=minqing"],
        check=True, capture_output=True,
    )  # fmt: skip
    site = (CONTRIB / "nginx" / "minqing.conf").read_text()
    site = site.replace("/etc/nginx/tls/minqing.example.gov.cn.crt", str(crt))
    site = site.replace("/etc/nginx/tls/minqing.example.gov.cn.key", str(key))
    site = site.replace("/var/log/nginx/", f"{tmp_path}/")
    assert f"client_max_body_size {config.MAX_CONTENT_LENGTH // (1024 * 1024)}m;" in site
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{ include /etc/nginx/mime.types; include {tmp_path}/site.conf; }}\n"
    )
    result = subprocess.run(
        ["nginx", "-t", "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
