"""Settings, all overridable from the environment (12-factor)."""
import os
from pathlib import Path

import dj_database_url

from config.pooling import pooled

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("SMART_FINANCE_VAR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = os.environ.get("DEBUG", "1") == "1"
SECRET_KEY = os.environ.get("SECRET_KEY", "dev-only-insecure-key-change-me")  # noqa: S105
if not DEBUG and SECRET_KEY.startswith("dev-only"):
    raise RuntimeError("Set SECRET_KEY when DEBUG=0")
ALLOWED_HOSTS = [h for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "simple_history",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from this site (CSP: 'self' only)
    "finance",
    "budgets",
    "payments",
    "audit",
    "reports",
    "axes",
    "web",
    "citysim",
]

MIDDLEWARE = [
    # first: role, scope and token look-ups cached for the request, dropped at its end
    "finance.request_cache.RequestCacheMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "config.upload_limit.UploadLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "finance.idempotency.IdempotencyMiddleware",  # Idempotency-Key on every API POST
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "web.policy.PagePolicyMiddleware",
    "axes.middleware.AxesMiddleware",
    # reads of report, trace and public pages from DATABASE_REPLICA_URL, read-your-writes
    # for the user who just wrote (a no-op without a replica; config/routers.py)
    "config.routers.ReplicaReadsMiddleware",
]

ROOT_URLCONF = "config.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    },
]
WSGI_APPLICATION = "config.wsgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'smart_finance.sqlite3'}"),
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "0")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE: a writer takes the lock at BEGIN, so concurrent writers queue
    # instead of failing with "database is locked" on lock upgrade.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": 30}
    )
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Server-side binding lets psycopg prepare a statement the connection runs often
    # (its 5th run on): PostgreSQL then skips parsing and planning it again.
    DATABASES["default"].setdefault("OPTIONS", {})["server_side_binding"] = (
        os.environ.get("DB_SERVER_SIDE_BINDING", "1") == "1")

# Read replicas (citysim issue 8, issue 23): reports, the trace and the public portal read
# from 'replica' when DATABASE_REPLICA_URL is set (a streaming replica of default), the
# user who just wrote from the primary until the replica has replayed the write; see
# config/routers.py and docs/OPERATIONS.md. Under tests 'replica' mirrors the test
# database (tests/scaleout/ points it at a real hot standby instead).
DATABASE_REPLICA_URL = os.environ.get("DATABASE_REPLICA_URL", "")
DATABASE_ROUTERS = ["config.routers.ReplicaRouter"]
# where a database is not PostgreSQL (no WAL positions): the writer's window on the primary
REPLICA_READ_YOUR_WRITES_SECONDS = float(os.environ.get("REPLICA_READ_YOUR_WRITES_SECONDS", 10))
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = dj_database_url.parse(
        DATABASE_REPLICA_URL, conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "0")))
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
# Behind PgBouncer in transaction mode (DATABASE_POOLER=pgbouncer-transaction): no
# server-side cursors, no prepared statements (config/pooling.py, docs/OPERATIONS.md).
DATABASE_POOLER = os.environ.get("DATABASE_POOLER", "")
DATABASES = {alias: pooled(db, DATABASE_POOLER) for alias, db in DATABASES.items()}
# Ledger lines partitioned by fiscal year on PostgreSQL (issue 23, finance/partitions.py,
# docs/OPERATIONS.md "Ledger partitions"): read by finance migration 0012 at `migrate`
# time ("0": finance_line stays a plain table) and by fiscal_year_open. SQLite: plain.
LEDGER_PARTITIONS = os.environ.get("LEDGER_PARTITIONS", "1") == "1"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "finance" / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
WHITENOISE_USE_FINDERS = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage" if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Security: secure cookies and headers outside development, a short idle session,
# and a content security policy (scripts and styles only from this site: no inline script,
# style or event handler in any template; tests/web/test_csp.py keeps it so).
SESSION_COOKIE_AGE = int(os.environ.get("SESSION_COOKIE_AGE", 30 * 60))
SESSION_SAVE_EVERY_REQUEST = True
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    # SECURE_COOKIES=0 only where the site is served over plain HTTP (`make demo`)
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = os.environ.get("SECURE_COOKIES", "1") == "1"
    SECURE_SSL_REDIRECT = os.environ.get("SECURE_SSL_REDIRECT", "1") == "1"
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", 31536000))
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    },
}

LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "web:login"
# Login throttling and the record of logins and failed logins (django-axes).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", 5))
AXES_COOLOFF_TIME = 0.25  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_TEMPLATE = "web/locked.html"
AXES_RESET_ON_SUCCESS = True

# Celery: no broker configured means tasks run in process (eager).
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", CELERY_BROKER_URL or None)
# Reliability (issue 9): a task is acknowledged only after it finished, so a worker killed
# mid-task (SIGKILL, lost machine) leaves its message to be delivered again: a prefork child
# lost is requeued at once (reject_on_worker_lost); a whole worker lost leaves the message
# unacknowledged in Redis, redelivered once `visibility_timeout` has passed. Each worker
# reserves one message at a time, so a killed worker holds back no others. Every task is
# idempotent and resumable (docs/RELIABILITY.md, "Killed workers").
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", 3600)),
    # keys of one deployment (or one test run) apart from others on the same Redis
    "global_keyprefix": os.environ.get("CELERY_KEY_PREFIX", ""),
}
# How often a worker looks for messages whose visibility timeout has passed (a killed
# worker's): kombu scans every 10th tick of 10 s, i.e. every ~100 s, by default. Set
# CELERY_RESTORE_EVERY (seconds) to scan on every tick of that length instead.
if os.environ.get("CELERY_RESTORE_EVERY"):
    CELERY_BROKER_TRANSPORT_OPTIONS |= {
        "unacked_restore_interval": float(os.environ["CELERY_RESTORE_EVERY"]),
        "unacked_restore_throttle": 1}
# History rows are sealed right after the writing transaction commits (issue 20): "inline"
# in the writing process, "worker" by a Celery task AUDIT_SEAL_SOON_SECONDS later (one per
# table and process in that time), "auto" (default): a worker when a broker is set
AUDIT_SEAL_ON_COMMIT = os.environ.get("AUDIT_SEAL_ON_COMMIT", "auto")
AUDIT_SEAL_SOON_SECONDS = float(os.environ.get("AUDIT_SEAL_SOON_SECONDS", 2))
# statement lines stored per transaction by the bank import (resumable in these steps)
PAYMENTS_STATEMENT_CHUNK = int(os.environ.get("PAYMENTS_STATEMENT_CHUNK", 2000))
# result-file lines applied per transaction (payments.services.bank_results_apply)
PAYMENTS_RESULT_CHUNK = int(os.environ.get("PAYMENTS_RESULT_CHUNK", 500))
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {
    "global_keyprefix": os.environ.get("CELERY_KEY_PREFIX", ""),
}
CELERY_TIMEZONE = TIME_ZONE
# Queues (issues 8, 23): imports, exports and monitoring scale on separate worker machines,
# each started with `celery -A config worker -Q <queue>` (docs/OPERATIONS.md); a task no
# route names goes to the default queue "celery". tests/scaleout/test_celery_queues.py
# checks that every task of the project has its queue.
CELERY_TASK_ROUTES = {
    "budgets.project_import_run": {"queue": "imports"},
    "payments.tasks.*": {"queue": "imports"},
    "reports.tasks.*": {"queue": "exports"},  # the disclosure set's zip of every department
    "audit.tasks.*": {"queue": "monitoring"},
}
CELERY_TASK_DEFAULT_QUEUE = "celery"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "finance.request_cache.CachedTokenAuthentication",  # the token read once per request
        "rest_framework.authentication.SessionAuthentication",
    ],
    # RulePermission: the view's rule in the django-rules table of web/permissions.py
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated",
                                   "finance.access.RulePermission"],
    "DEFAULT_SCHEMA_CLASS": "finance.idempotency.IdempotentAutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "smart-finance API",
    "DESCRIPTION": "Budget and payment ledger of a city finance bureau (智慧财政)",
    "VERSION": "0.1.0",
    # Swagger UI from the sidecar package and the split view: no CDN, no inline script.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}
# Uploaded feed files (bank files, project exports) are kept here for the jobs that read them.
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
# Whole request body, files included (DATA_UPLOAD_MAX_MEMORY_SIZE leaves files out).
UPLOAD_MAX_BYTES = int(os.environ.get("UPLOAD_MAX_MB", "20")) * 1024 * 1024

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}
