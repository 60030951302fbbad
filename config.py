"""MinQing settings.

Every setting has a default and a one-line comment. Any UPPERCASE key can be
overridden from the environment as MINQING_<KEY> (numbers, true/false and JSON
are parsed), e.g. MINQING_APPEAL_DAYS_GENERAL=5. DATABASE_URL and SECRET_KEY are
also read without the prefix. A deployment may keep its own values in
local_config.py beside this file (imported last, not tracked by git).

The rule numbers a county changes (deadlines, due-soon days, the 40 contacts a year, report
days, page sizes ...) are also editable by the Admin in 基础数据 › 系统参数 (the list is
app/services/settings.py). A value saved there overrides the one here on every server without
a restart; "restore default" brings back the value of this file again.
"""

import json
import os

BASE_DIR = os.path.abspath(os.path.dirname(__file__))
INSTANCE_DIR = os.environ.get("MINQING_INSTANCE_DIR", os.path.join(BASE_DIR, "instance"))

# --- Application -----------------------------------------------------------
APP_NAME = "民情通"  # shown in the title bar and on print pages
APP_ICON = ""  # optional logo path under app/static
APP_THEME = ""  # a bootswatch theme name shipped with FAB, e.g. "cerulean.css"
ENV_PRODUCTION = False  # True in production: refuses weak secrets, secure cookies
SECRET_KEY = os.environ.get("SECRET_KEY", "")  # empty: generated once into instance/secret_key

# --- Database --------------------------------------------------------------
# SQLite under instance/ by default; a county deployment sets DATABASE_URL to
# postgresql+psycopg://user:password@host:5432/minqing
SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL", "sqlite:///" + os.path.join(INSTANCE_DIR, "minqing.db"))
SQLALCHEMY_TRACK_MODIFICATIONS = False
# extra engine options; on PostgreSQL the pool below is added to them (an explicit key here wins)
SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}  # survive database restarts
# connections per worker process: servers x workers x (DB_POOL_SIZE + DB_MAX_OVERFLOW) must stay under
# PostgreSQL's max_connections (100 by default); with many servers put PgBouncer in between (README)
DB_POOL_SIZE = 5  # connections each worker keeps open
DB_MAX_OVERFLOW = 5  # extra connections a worker may open at a peak (closed again after use)
DB_POOL_TIMEOUT = 10  # seconds a request waits for a free connection before failing
DB_POOL_RECYCLE = 1800  # seconds after which a connection is replaced (firewalls, PgBouncer)
# a read replica for the report pages (dashboard, accountability, quota and representatives' progress);
# empty: they read the primary like everything else
REPORTS_DATABASE_URL = os.environ.get("REPORTS_DATABASE_URL", "")
SQLITE_BUSY_TIMEOUT_MS = 15000  # how long a SQLite writer waits for a lock

# --- Several servers -------------------------------------------------------
# on: this server is one of several behind a load balancer; it refuses to start with anything kept per
# process (a generated SECRET_KEY, login counts in memory://).
# None: on when the database is PostgreSQL and ENV_PRODUCTION is on
MULTI_NODE = None
# --- Operations: health, logs, metrics ---------------------------------------
LOG_FORMAT = "text"  # "text": one readable line per record; "json": one JSON object per line
LOG_LEVEL = "INFO"  # DEBUG, INFO, WARNING, ERROR
LOG_REQUESTS = True  # one INFO line per request: method, path, status, milliseconds, request id
# an incoming X-Request-ID (from nginx) is kept when it matches this, else a new id is made
REQUEST_ID_PATTERN = r"^[A-Za-z0-9._:-]{8,128}$"
READYZ_REDIS_TIMEOUT = 1.0  # seconds /readyz waits for each configured Redis
# /metrics (Prometheus) answers a request carrying "Authorization: Bearer <METRICS_TOKEN>",
# or one from METRICS_ALLOWED_NETWORKS (addresses as the app sees them: set PROXY_FIX behind nginx)
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
METRICS_ALLOWED_NETWORKS = ["127.0.0.1/32", "::1/128"]
# the request latency histogram's upper bounds, in seconds (read once per process)
METRICS_LATENCY_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 1, 2, 5, 10, 30]
# gunicorn with several workers: export PROMETHEUS_MULTIPROC_DIR=/run/minqing/metrics (an empty directory
# emptied at each start, contrib/gunicorn.conf.py) and /metrics sums every worker

# --- Jobs: long work out of the request (app/core/jobs.py) ---------------------
# empty: a job runs in the web worker that started it, once its page is sent (the embedded default);
# redis://host:6379/3: jobs wait in Redis for `flask minqing worker` (several servers; survives restarts)
JOBS_REDIS_URL = os.environ.get("JOBS_REDIS_URL", "")
JOBS_QUEUE = "minqing"  # the RQ queue's name
# jobs' states and results (exports to download); with several servers a directory they all share
JOBS_DIR = ""  # empty: instance/jobs
# true once JOBS_DIR is one directory every server mounts (NFS...): MULTI_NODE refuses to start without it
JOBS_DIR_SHARED = False
JOBS_TIMEOUT = 3600  # seconds one job may run before the worker stops it
JOBS_KEEP_HOURS = 48  # a job's state and result file are deleted this long after its last change
# a running job renews its claim in Redis this often; a job whose worker stayed silent twice as long (killed,
# its server lost) is found abandoned by the next worker's check (run this often too)
JOBS_HEARTBEAT_SECONDS = 60
JOBS_RETRY_ABANDONED = (
    1  # times an abandoned job is started again by another worker (0: shown failed, with a retry button)
)
JOBS_STALE_SECONDS = 600  # a job with no progress for this long is shown as stuck (is a worker running?)
IMPORT_JOB_KB = 256  # an imported file larger than this (KB) is imported by a job with a progress bar (0: never)
EXPORT_JOB_ROWS = 5000  # an Excel export of more rows than this runs as a job with a progress bar (0: never)
# periodic work, once per deployment (`flask minqing scheduler`): job kind -> local time "HH:MM" each day
SCHEDULE = {"remind": "08:00", "prune-jobs": "03:30", "create-partitions": "03:45", "prune-audit": "04:00"}
SCHEDULER_CHECK_SECONDS = 30  # how often the scheduler looks for work that is due

# --- Language --------------------------------------------------------------
BABEL_DEFAULT_LOCALE = "zh"  # Chinese first
BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
LANGUAGES = {
    "zh": {"flag": "cn", "name": "中文"},
    "en": {"flag": "gb", "name": "English"},
}
TIMEZONE = "Asia/Shanghai"  # local time for dates, deadlines and month numbering

# --- Flask-AppBuilder --------------------------------------------------------
AUTH_TYPE = 1  # database logins (flask_appbuilder.const.AUTH_DB)
AUTH_ROLE_ADMIN = "Admin"
AUTH_ROLE_PUBLIC = "Public"
AUTH_USER_REGISTRATION = False  # accounts are created by the IT staff only
FAB_CREATE_DB = False  # the schema belongs to the migrations (flask minqing init)
FAB_UPDATE_PERMS = False  # permissions are synced by `flask minqing init`, not at start
FAB_ADD_SECURITY_API = False  # FAB's own user/role API breaks with marshmallow 4
FAB_API_SWAGGER_UI = True  # OpenAPI spec at /api/v1/_openapi, UI at /swagger/v1
FAB_API_MAX_PAGE_SIZE = 100  # largest page the REST API returns
FAB_PASSWORD_COMPLEXITY_ENABLED = True  # at least 10 chars with upper, lower, digit, symbol
FAB_SECURITY_MANAGER_CLASS = "app.security.MinqingSecurityManager"
# FAB's permission, view-menu and permission-on-view screens: IT staff edit roles, never these
FAB_ADD_SECURITY_PERMISSION_VIEW = False
FAB_ADD_SECURITY_VIEW_MENU_VIEW = False
FAB_ADD_SECURITY_PERMISSION_VIEWS_VIEW = False
FAB_INDEX_VIEW = "app.views.home.HomeView"
FAB_BASE_TEMPLATE = "minqing/base.html"
AUTH_RATE_LIMITED = True  # limit login attempts on the web form
AUTH_RATE_LIMIT = "10 per 5 minute"  # per client address
RATELIMIT_ENABLED = True
# where login attempts are counted: minqing+db:// = in the app's database, shared by every worker (and
# every server on PostgreSQL); redis://host:6379/2 = in Redis; memory:// = per worker (the limit multiplies)
RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "minqing+db://")
WTF_CSRF_ENABLED = True
WTF_CSRF_TIME_LIMIT = None  # forms stay valid for the whole session
PERMANENT_SESSION_LIFETIME = 8 * 3600  # seconds a login lasts
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = False  # set True behind HTTPS
JWT_ACCESS_TOKEN_EXPIRES = 3600  # seconds an API token lasts
# pages run only scripts served from here and carrying the request's nonce
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
PROXY_FIX = False  # True behind nginx: trust one X-Forwarded-For/Proto hop for client addresses

# --- Lists and pickers -----------------------------------------------------
LIST_PAGE_SIZE = 20  # rows per list page
LIST_MAX_PAGE_SIZE = 200  # the largest page a user may ask for (?psize_...)
LIST_COUNT_CAP = 10000  # lists count matching rows up to this many, then show "10000+" (0: exact)
LIST_FEW_ROWS = 2000  # a text search matching up to this many rows pages among them, not along the date index (0: never)
# PostgreSQL: a search term the text index would hand more rows than this (the planner's estimate) is
# checked on the jurisdiction's rows instead (a common phrase in a city; 0: always the index)
TEXT_INDEX_MOST_ROWS = 300000
SCOPE_ID_LIST_MAX = 2000  # a jurisdiction of up to this many grids is filtered by their ids; a larger one by id ranges
SCOPE_RANGES_MAX = 50  # a larger jurisdiction whose grid ids fall in more runs than this is filtered by a subquery
PICKER_PAGE_SIZE = 20  # options a search-as-you-type picker returns per page
EXPORT_MAX_ROWS = 100000  # the most rows one Excel export writes
IMPORT_MAX_ROWS = 20000  # the most data rows one imported file may hold
MAX_CONTENT_LENGTH = 10 * 1024 * 1024  # largest upload (bytes); larger ones are refused

# --- Photos and files (照片/附件) on visits, appeals and contact records ---------------
ATTACHMENT_MAX_MB = 10  # the largest photo or file (MB); a form's files together may be ATTACHMENT_MAX_FILES times that
ATTACHMENT_MAX_FILES = 10  # the most files added at once
ATTACHMENT_TYPES = ["jpeg", "png", "gif", "webp", "pdf"]  # allowed kinds, recognised by content (not by name)
# where the files are kept: empty = <instance>/attachments; several servers mount one shared directory here
ATTACHMENT_DIR = ""
# true once ATTACHMENT_DIR is one directory every server mounts (NFS...): MULTI_NODE refuses a local store without it
ATTACHMENT_DIR_SHARED = False
ATTACHMENT_STORAGE = "local"  # or "package.module:Class" for another store (an S3-compatible one): see README

# --- Domain rules ----------------------------------------------------------
# a mobile (1[3-9] + 9 digits) or a landline: optional area code (0 + 2-3 digits), a local number of
# 7-8 digits that starts with 2-9 (local numbers never start with 0 or 1), optional extension
PHONE_PATTERN = r"^(1[3-9]\d{9}|0\d{2,3}-?[2-9]\d{6,7}(-\d{1,6})?|[2-9]\d{6,7})$"
CORRECTION_WINDOW_HOURS = 24  # a mistaken assignment may be deleted this long after entry
GRID_CODE_PATTERN = r"^[A-Za-z0-9_.-]{1,40}$"  # allowed grid codes

# --- Visits (民情家访) and representatives (人大代表) ------------------------------
# roles that read the situation, problems and phone of every visit in their scope;
# the visitors and whoever recorded a visit always read it; others see it masked
VISIT_CONTENT_ROLES = ["Clerk", "Leader"]
VISIT_FOLLOW_UP_DAYS_AHEAD = 7  # follow-ups due within this many days are listed with the overdue ones
ROTA_MAX_DAYS = 366  # the longest period one rota (值班轮值) covers and generates slots for
QUOTA_REPORT_MAX_ROWS = 100  # rows per page of the quota progress report (the worst first; the API's largest page)
DASHBOARD_DEFAULT_PRESET = "year"  # the dashboard's default period: month, quarter, year or 12m (last 12 months)
REPRESENTATIVE_YEARLY_CONTACTS = 40  # voters (person-times) a representative contacts each year (seed 000)
REPRESENTATIVE_REPORT_MAX_ROWS = 100  # rows per page of the representatives' progress report (the worst first)
REPRESENTATIVE_REPORT_DAYS = 3  # an important opinion goes to the 人大主席/副主席 within this many days
REPRESENTATIVE_OWN_ONLY_ROLES = ["Representative"]  # roles that see only the user's own contact records
CONTACT_REPORT_RECIPIENTS = ["人大主席", "人大副主席"]  # who important opinions are reported to
ASSESSMENT_MIN_VOTERS = 50  # 百分制考核: votes a review meeting needs at least (seed 003: 不少于50人; 0: no minimum)
# --- Appeals (民情诉求) --------------------------------------------------------
APPEAL_DAYS_GENERAL = 7  # days to handle and answer a general (一般) appeal (seeds: one week)
APPEAL_MONTHS_IMPORTANT = 1  # calendar months for an important (重要) appeal (seeds: one month; 31 Jan → 28/29 Feb)
APPEAL_EVALUATION_REQUIRED = True  # archive only after the evaluation (评议); False: 反馈 → 归档 (seed 002)
APPEAL_BACKDATE_DAYS = 31  # a paper form typed in later may carry a registration date this many days back
APPEAL_DUE_SOON_DAYS = 2  # an open appeal due within this many days is marked "due soon"
APPEAL_EXTENSION_MAX_DAYS = 30  # the most days one approved extension may add to a deadline
APPEAL_DISCOVERY_CHANNELS = [
    "入户走访",
    "网格巡查",
    "说事点",
]  # channels where the grid found the problem itself (发现率)
APPEAL_REMIND_SUMMARY_TO = []  # e-mail addresses that get the whole reminder list (e.g. the 综治办)

# --- Registers (台账) defined in the browser ----------------------------------
REGISTERS_CHECK_SECONDS = 1  # how often a server looks for register definitions changed on another server
REGISTER_PRINT_MAX_ROWS = 2000  # the most entries one printed ledger holds (narrow it with filters)
LEDGER_PRINT_MAX_ROWS = 1000  # the most visits or cases one printed 一人一帐 / 一村一册 lists (narrow the period)

# --- Settings (系统参数) edited in the browser --------------------------------------
SETTINGS_CHECK_SECONDS = 1  # how often a server looks for settings changed on another server

# --- Mail (appeal reminders) -----------------------------------------------
MAIL_SERVER = ""  # SMTP host; empty: `flask minqing remind` only prints
MAIL_PORT = 25  # 465 with MAIL_USE_SSL, 587 with MAIL_USE_TLS
MAIL_USE_TLS = False  # STARTTLS after connecting
MAIL_USE_SSL = False  # SMTP over SSL
MAIL_USERNAME = ""  # login, if the server wants one
MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD", "")  # kept out of files: environment only
MAIL_DEFAULT_SENDER = "minqing@localhost"  # From: address of reminders

# --- Audit trail -----------------------------------------------------------
# days the audit trail (操作日志) is kept; older rows are deleted by the scheduler's prune-audit (0: for ever)
AUDIT_RETENTION_DAYS = 0
# PostgreSQL: months of audit_log/appeal_event partitions made ahead of today by the daily create-partitions job
PARTITION_MONTHS_AHEAD = 3

# --- Setup and demo --------------------------------------------------------
DEMO_ON_EMPTY = True  # `make run` loads demo data into an empty database
DEMO_SEED = 20261124  # random seed: the demo is the same on every machine
DEMO_PASSWORD = "MinQing@2026"  # password of the demo logins (one per role)


def _parse(value):
    lowered = value.strip().lower()
    if lowered in ("true", "yes", "on"):
        return True
    if lowered in ("false", "no", "off"):
        return False
    try:
        return json.loads(value)
    except ValueError:
        return value


for _key, _value in list(os.environ.items()):
    if _key.startswith("MINQING_") and _key[8:].isupper():
        globals()[_key[8:]] = _parse(_value)

try:  # a deployment's own settings, kept beside this file
    from local_config import *  # noqa: F401,F403
except ImportError:
    pass
