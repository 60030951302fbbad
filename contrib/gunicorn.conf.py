"""gunicorn settings for MinQing (contrib/systemd/minqing-web.service runs it).

    gunicorn -c /opt/minqing/contrib/gunicorn.conf.py run:app

Numbers come from the environment (contrib/minqing.env). With PROMETHEUS_MULTIPROC_DIR set,
the directory is emptied when the server starts and a dead worker's metrics are marked, so
/metrics adds up the live workers (prometheus_client's multiprocess mode).
"""

import glob
import os

from prometheus_client import multiprocess

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8080")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))  # 1-2 per CPU core
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))  # the largest Excel export
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))  # a worker is renewed after this many
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", "200"))
accesslog = None  # the app logs one line per request, with its request id (LOG_REQUESTS)
errorlog = "-"
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")


def on_starting(server):
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        os.makedirs(directory, exist_ok=True)
        for path in glob.glob(os.path.join(directory, "*.db")):
            os.remove(path)


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)
