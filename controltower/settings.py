"""Settings for the Integration Control Tower.

Every value that differs between machines is read from the environment here and
nowhere else. Without configuration the tower runs in its embedded default:
SQLite and a file-system Celery broker that needs no server. ``DATABASE_URL``
switches to PostgreSQL and ``REDIS_URL`` switches the Celery broker and the
Channels layer to Redis. ``CT_DEMO=1`` (set by ``make run`` and the tests) allows
development defaults for the secret key, hosts and demo signing secrets; without
it the defaults are the safe production ones.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from integrations.choices import FlowKind

BASE_DIR = Path(__file__).resolve().parent.parent


def env_path(name: str, default: Path) -> Path:
    """A path from the environment; a relative one is taken from the project folder."""
    value = os.environ.get(name)
    return BASE_DIR / value if value else default


VAR_DIR = env_path("CT_VAR_DIR", BASE_DIR / "var")
(VAR_DIR / "staticfiles").mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value not in (None, "") else default


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEMO = env_bool("CT_DEMO")
DEBUG = env_bool("DEBUG", default=False)

DEMO_SECRET_KEY = "demo-only-insecure-key-do-not-use-in-production-3f9a1c7e5b2d8a4f6c0e"
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEMO:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it in the environment, or set CT_DEMO=1 for a local demo."
        )
    SECRET_KEY = DEMO_SECRET_KEY
elif not DEMO and (
    SECRET_KEY == DEMO_SECRET_KEY or len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5
):
    # What ``check --deploy`` would only warn about: a guessable key signs every session.
    raise ImproperlyConfigured(
        "SECRET_KEY is too weak: give it at least 50 random characters, e.g. "
        "python -c 'import secrets; print(secrets.token_urlsafe(50))'."
    )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver" if DEMO else "")
if not ALLOWED_HOSTS and not DEMO:
    # Without it every request is refused with 400; say so at start, not at the first request.
    raise ImproperlyConfigured(
        "ALLOWED_HOSTS is not set: name the host names the tower is reached by "
        "(comma-separated), or set CT_DEMO=1 for a local demo."
    )
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",  # kept so that its old tokens can be migrated, hashed
    "knox",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "django_htmx",
    "channels",
    "axes",
    "controltower.operations",
    "controltower.web",
    "canonical",
    "integrations",
    "simulator",
    "bench",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # First, so that its process_exception runs last: a view that lost the database is a 503.
    "controltower.web.outage.DatabaseOutageMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "controltower.web.timezones.UserTimeZoneMiddleware",
    "controltower.web.middleware.CorrelationIdMiddleware",
    # Last, as django-axes asks: turns a refused sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "controltower.urls"
WSGI_APPLICATION = None
ASGI_APPLICATION = "controltower.asgi.application"

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
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["default"].setdefault("TEST", {})["NAME"] = os.environ.get(
            "CT_TEST_DATABASE_NAME", f"test_{DATABASES['default']['NAME']}"
        )
    # The planner's cost of reading a page out of order, for the tower's own connections.
    # PostgreSQL's default 4 is for spinning disks: on SSD or a cloud volume it makes the
    # planner scan a whole table (100,000 exceptions) to join it with the few hundred open
    # ones instead of looking each up by index. Empty: the server's setting (behind a pooler
    # that refuses start-up options, set it with ALTER DATABASE ... SET random_page_cost).
    CT_PG_RANDOM_PAGE_COST = os.environ.get("CT_PG_RANDOM_PAGE_COST", "1.1")
    if CT_PG_RANDOM_PAGE_COST and DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["default"].setdefault("OPTIONS", {})["options"] = (
            f"-c random_page_cost={float(CT_PG_RANDOM_PAGE_COST)}"
        )
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(env_path("CT_SQLITE_PATH", VAR_DIR / "controltower.sqlite3")),
            # Several processes (server, worker, beat) share one file: wait for the
            # lock instead of failing, take the write lock up front so that two
            # readers never deadlock on upgrade, and let readers run beside a writer.
            "OPTIONS": {
                "timeout": 30,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
            # A file, not memory, so that a real worker process sees the test data.
            "TEST": {"NAME": str(env_path("CT_SQLITE_TEST_PATH", VAR_DIR / "test.sqlite3"))},
        }
    }
DATABASE_VENDOR = "postgresql" if "postgresql" in DATABASES["default"]["ENGINE"] else "sqlite"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Sign-in attempts are counted first (django-axes), then the password is checked.
AUTHENTICATION_BACKENDS = [
    "controltower.web.login_limits.LoginAttemptsBackend",
    "django.contrib.auth.backends.ModelBackend",
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = True

# --- Security -----------------------------------------------------------------
# Production defaults are the safe ones (``manage.py check --deploy`` is clean);
# the local demo serves plain HTTP on loopback.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=not DEMO)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", default=not DEMO)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", default=not DEMO)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEMO else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEMO)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=not DEMO)
if env_bool("SECURE_PROXY_SSL_HEADER"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
X_FRAME_OPTIONS = "DENY"

# --- Abuse limits -------------------------------------------------------------
# How many reverse proxies in front of the tower append to X-Forwarded-For: 0 takes the
# connection's address as the client's (a client could otherwise pick its own address).
CT_TRUSTED_PROXY_COUNT = env_int("CT_TRUSTED_PROXY_COUNT", 0)
# API calls per user (token or session) and per anonymous address; wrong tokens per address.
CT_API_USER_RATE = os.environ.get("CT_API_USER_RATE", "1200/min")
CT_API_ANON_RATE = os.environ.get("CT_API_ANON_RATE", "60/min")
CT_API_TOKEN_FAILURE_RATE = os.environ.get("CT_API_TOKEN_FAILURE_RATE", "10/min")
# Sign-in (django-axes): this many failures for one user name, or from one address, lock
# sign-in for that user name or address for this many minutes after the last failure, unless
# an admin lifts it sooner.
CT_LOGIN_FAILURE_LIMIT = env_int("CT_LOGIN_FAILURE_LIMIT", 5)
CT_LOGIN_LOCKOUT_MINUTES = env_int("CT_LOGIN_LOCKOUT_MINUTES", 15)
AXES_FAILURE_LIMIT = CT_LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=CT_LOGIN_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # each on its own: per user, per address
AXES_LOCKOUT_CALLABLE = "controltower.web.login_limits.lockout_response"
AXES_RESET_ON_SUCCESS = True
AXES_DISABLE_ACCESS_LOG = True  # failures are what count; successes are not kept
AXES_ENABLE_ADMIN = False  # the tower's own admin page lifts lockouts, audited
AXES_IPWARE_PROXY_COUNT = CT_TRUSTED_PROXY_COUNT or None
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"] if CT_TRUSTED_PROXY_COUNT else ["REMOTE_ADDR"]
)

# --- REST API -----------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "controltower.web.api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["controltower.web.api.permissions.RolePermissions"],
    # Rates: CT_API_USER_RATE, CT_API_ANON_RATE (below), read when a request is checked.
    "DEFAULT_THROTTLE_CLASSES": [
        "controltower.web.api.throttles.ApiUserThrottle",
        "controltower.web.api.throttles.ApiAnonThrottle",
    ],
    # The client's address is the connection's, or the one CT_TRUSTED_PROXY_COUNT proxies saw.
    "NUM_PROXIES": CT_TRUSTED_PROXY_COUNT,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "controltower.web.api.pagination.StandardPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "controltower.web.api.errors.api_exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG or DEMO else []),
}

# API tokens are django-rest-knox tokens, hashed at rest, in the tower's own model.
KNOX_TOKEN_MODEL = "controltower.ApiToken"
# Knox's own migrations would create a table for its token model, which ours replaces; left
# behind with a key to auth_user, it stops the test database from being flushed on PostgreSQL.
MIGRATION_MODULES = {"knox": None}
REST_KNOX = {
    "AUTH_HEADER_PREFIX": "Token",
    "TOKEN_TTL": None,  # each token's expiry is set when it is made (CT_API_TOKEN_DAYS)
    "AUTO_REFRESH": False,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Integration Control Tower API",
    "DESCRIPTION": (
        "Canonical records, integration transactions and their actions. Machines authenticate "
        "with `Authorization: Token <key>`; connected systems push signed events to "
        "`/api/v1/inbound/<system-slug>/`."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from the installed sidecar, through the static files: the tower
    # runs offline, so nothing is fetched from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "controltower.web.api.schema.blankable_formats_postprocess",
    ],
    # The events the tower POSTs to subscribers, each with its JSON Schema (OpenAPI 3.1
    # webhooks, which take JSON Schema as it is).
    "OAS_VERSION": "3.1.0",
    "WEBHOOKS": [
        f"controltower.web.api.subscriptions.webhooks.{name}"
        for name in ("CONTRACT_SIGNED", "PROJECT_READY", "INVOICE_POSTED", "EXCEPTION_RAISED")
    ],
    "ENUM_NAME_OVERRIDES": {
        "TransactionStateEnum": "integrations.choices.TransactionState",
        "SystemKindEnum": "integrations.choices.SystemKind",
        "FlowKindEnum": "integrations.choices.FlowKind",
        "TransactionOutcomeEnum": "integrations.choices.Outcome",
        "AttemptOutcomeEnum": "integrations.choices.AttemptOutcome",
        "SyncOutcomeEnum": "integrations.choices.SyncOutcome",
        "ErrorClassEnum": "integrations.choices.ErrorClass",
        "ApiTokenStateEnum": "controltower.operations.choices.ApiTokenState",
        "ImportKindEnum": "integrations.choices.ImportKind",
        "ImportStateEnum": "integrations.choices.ImportState",
        "ImportFormatEnum": "integrations.choices.ImportFormat",
        "ImportRowOutcomeEnum": "integrations.choices.ImportRowOutcome",
    },
}

# --- Outbound events (subscriptions) --------------------------------------------
# A subscriber's endpoint gets each event as a signed POST. Try n waits base * 2^(n-1) seconds
# with full jitter, at most the cap; after CT_OUTBOUND_DISABLE_AFTER failed tries in a row the
# subscription is disabled and its owning team told. A send holds its delivery for
# CT_OUTBOUND_TIMEOUT_SECONDS (below) plus a margin: a worker killed mid-send leaves it to
# the next sweep. A delivery task sends at most CT_OUTBOUND_EVENTS_BATCH per round.
CT_OUTBOUND_BACKOFF_SECONDS = env_float("CT_OUTBOUND_BACKOFF_SECONDS", 30.0)
CT_OUTBOUND_BACKOFF_CAP_SECONDS = env_float("CT_OUTBOUND_BACKOFF_CAP_SECONDS", 3600.0)
CT_OUTBOUND_DISABLE_AFTER = env_int("CT_OUTBOUND_DISABLE_AFTER", 20)
CT_OUTBOUND_EVENTS_BATCH = env_int("CT_OUTBOUND_EVENTS_BATCH", 200)

# --- Billing ------------------------------------------------------------------
# A rebilled expense line above this amount (in the contract's currency, before markup)
# needs a receipt reference.
CT_EXPENSE_RECEIPT_THRESHOLD = os.environ.get("CT_EXPENSE_RECEIPT_THRESHOLD", "75")

# --- Inbound ------------------------------------------------------------------
CT_INBOUND_MAX_BYTES = env_int("CT_INBOUND_MAX_BYTES", 1024 * 1024)
CT_INBOUND_MAX_EVENTS = env_int("CT_INBOUND_MAX_EVENTS", 1000)
CT_SIGNATURE_TOLERANCE_SECONDS = env_int("CT_SIGNATURE_TOLERANCE_SECONDS", 300)
CT_REJECTED_BODY_MAX_BYTES = env_int("CT_REJECTED_BODY_MAX_BYTES", 64 * 1024)
# Refused requests are kept this many days and, per system, at most this many (0: no bound);
# beat prunes the rest every CT_REJECTED_PRUNE_SECONDS.
CT_REJECTED_RETENTION_DAYS = env_int("CT_REJECTED_RETENTION_DAYS", 30)
CT_REJECTED_RETENTION_COUNT = env_int("CT_REJECTED_RETENTION_COUNT", 10_000)
# Django refuses bodies over this before the view sees them; the inbound view answers 413.
DATA_UPLOAD_MAX_MEMORY_SIZE = CT_INBOUND_MAX_BYTES

# --- Retention ----------------------------------------------------------------
# Finished transactions (succeeded, replaced, cancelled, ignored, refused) received more
# than CT_RETENTION_DAYS ago leave the hot tables with their attempts (0: kept forever),
# written first as JSON Lines, one gzip file per day, under CT_RETENTION_ARCHIVE_DIR. Beat
# runs the job every CT_RETENTION_SECONDS; each run deletes at most CT_RETENTION_BATCHES
# batches of CT_RETENTION_BATCH transactions, each batch its own short database transaction.
CT_RETENTION_DAYS = env_int("CT_RETENTION_DAYS", 365)
CT_RETENTION_BATCH = env_int("CT_RETENTION_BATCH", 1000)
CT_RETENTION_BATCHES = env_int("CT_RETENTION_BATCHES", 100)
CT_RETENTION_ARCHIVE_DIR = env_path("CT_RETENTION_ARCHIVE_DIR", VAR_DIR / "retention")

# An OAuth 2.0 access token is fetched again this long before it expires (at most a fifth
# of its life).
CT_TOKEN_REFRESH_MARGIN_SECONDS = env_int("CT_TOKEN_REFRESH_MARGIN_SECONDS", 60)

# --- Canonical schema versions ------------------------------------------------
# The systems' pages and API count the canonical schema versions each system sent over this
# many days (one grouped query over its transactions of the window).
CT_SCHEMA_USAGE_DAYS = env_int("CT_SCHEMA_USAGE_DAYS", 30)

# --- Secrets at rest --------------------------------------------------------------
# Fernet keys, comma-separated: the first encrypts, all decrypt (integrations.crypto).
CT_ENCRYPTION_KEYS = env_list("CT_ENCRYPTION_KEYS")
# After a system's inbound signing secret is rotated, the one it replaced verifies this long.
CT_SIGNING_SECRET_GRACE_HOURS = env_float("CT_SIGNING_SECRET_GRACE_HOURS", 24.0)
# An API token expires this many days after it is made, unless its maker says otherwise.
CT_API_TOKEN_DAYS = env_int("CT_API_TOKEN_DAYS", 90)

# --- Processing ---------------------------------------------------------------
CT_CHUNK_SIZE = env_int("CT_CHUNK_SIZE", 100)
# Batch import: rows read, stored and committed (with the job's cursor) together; a resumed
# job starts after the last such chunk.
CT_IMPORT_CHUNK_ROWS = env_int("CT_IMPORT_CHUNK_ROWS", 500)
CT_IMPORT_MAX_BYTES = env_int("CT_IMPORT_MAX_BYTES", 64 * 1024 * 1024)
# Work that calls other systems goes in smaller chunks, so one slow system cannot hold others'.
CT_OUTBOUND_CHUNK_SIZE = env_int("CT_OUTBOUND_CHUNK_SIZE", 10)
# Work a flow applies set-based (a batch handler: customer events) goes in larger chunks: the
# statements of a chunk are the same few whatever its size, so each costs less per event. Not
# on SQLite: its one writer would hold the write lock through the longer chunk while the
# inbound requests wait for it.
CT_BATCH_CHUNK_SIZE = env_int(
    "CT_BATCH_CHUNK_SIZE", 500 if DATABASE_VENDOR == "postgresql" else 100
)
# A ``processing`` row whose lease was not renewed for this long belongs to a worker that
# vanished; a live worker renews it every CT_LEASE_RENEW_SECONDS while the work runs.
CT_PROCESSING_LEASE_SECONDS = env_int("CT_PROCESSING_LEASE_SECONDS", 40)
CT_LEASE_RENEW_SECONDS = env_float("CT_LEASE_RENEW_SECONDS", 10.0)
# A ``received`` row older than this was never picked up (lost message, paused flow resumed).
CT_RECEIVED_GRACE_SECONDS = env_int("CT_RECEIVED_GRACE_SECONDS", 30)
# Beat runs the sweep in its own process this often (integrations.scheduler).
CT_SWEEP_INTERVAL_SECONDS = env_int("CT_SWEEP_INTERVAL_SECONDS", 15)
# How long a push waits for another worker pushing the same record to the same system.
CT_PUSH_LOCK_WAIT_SECONDS = env_int("CT_PUSH_LOCK_WAIT_SECONDS", 60)
# How long work failing on a system is retried before it is dead (a system may say otherwise).
CT_RETRY_BUDGET_HOURS = env_float("CT_RETRY_BUDGET_HOURS", 24.0)
# A system's circuit breaker opens after this many failed calls in a row (no answer, 5xx),
# probes after CT_BREAKER_PROBE_SECONDS, and waits twice as long after each failed probe,
# up to CT_BREAKER_PROBE_MAX_SECONDS.
CT_BREAKER_FAILURES = env_int("CT_BREAKER_FAILURES", 5)
CT_BREAKER_PROBE_SECONDS = env_float("CT_BREAKER_PROBE_SECONDS", 30.0)
CT_BREAKER_PROBE_MAX_SECONDS = env_float("CT_BREAKER_PROBE_MAX_SECONDS", 600.0)
# Outbound rate limits: the "minute" of a system's calls per minute (tests shorten it), how
# long a call waits in place for a token before it is retried later instead, and how long
# a system that answered 429 is called at half its rate.
CT_RATE_LIMIT_WINDOW_SECONDS = env_float("CT_RATE_LIMIT_WINDOW_SECONDS", 60.0)
CT_RATE_LIMIT_MAX_WAIT_SECONDS = env_float("CT_RATE_LIMIT_MAX_WAIT_SECONDS", 2.0)
CT_RATE_LIMIT_SLOWDOWN_SECONDS = env_int("CT_RATE_LIMIT_SLOWDOWN_SECONDS", 300)

# --- Runtime watch ----------------------------------------------------------------
# A poller's run that has held it this long is taken to be dead: another run may start.
CT_POLLER_CLAIM_SECONDS = env_int("CT_POLLER_CLAIM_SECONDS", 900)

# How often a worker's supervisor sends it a heartbeat task, and beat and the web server
# record theirs.
CT_HEARTBEAT_SECONDS = env_int("CT_HEARTBEAT_SECONDS", 5)
# A worker that has not run a heartbeat sent this long ago is stuck: its supervisor replaces
# it, and the readiness probe and the overview say so.
CT_WORKER_STALL_SECONDS = env_int("CT_WORKER_STALL_SECONDS", 45)
# Beat silent this long is reported (readiness, overview).
CT_BEAT_STALL_SECONDS = env_int("CT_BEAT_STALL_SECONDS", 60)
# Ready work (received, or a retry that is due) older than this makes the tower not ready.
CT_READY_MAX_WAIT_SECONDS = env_int("CT_READY_MAX_WAIT_SECONDS", 300)
# The Retry-After of the 503 that every page, API call and probe answers while the database
# cannot be reached.
CT_UNAVAILABLE_RETRY_AFTER_SECONDS = env_int("CT_UNAVAILABLE_RETRY_AFTER_SECONDS", 30)
# A supervisor restarts its child after 1, 2, 4 ... seconds, at most this long.
CT_RESTART_BACKOFF_CAP_SECONDS = env_int("CT_RESTART_BACKOFF_CAP_SECONDS", 30)
# How long a supervisor gives its child to stop after SIGTERM before it kills its group.
CT_STOP_GRACE_SECONDS = env_int("CT_STOP_GRACE_SECONDS", 30)
# Beat waits 1, 2, 4 ... seconds after a database error, at most this long, and goes on.
CT_BEAT_RETRY_CAP_SECONDS = env_int("CT_BEAT_RETRY_CAP_SECONDS", 30)

# --- Simulator ------------------------------------------------------------------
# The simulated ERP, PSA, CRM and CLM under /simulator/ have no authentication: on only
# in demo mode unless asked for.
CT_SIMULATOR_ENABLED = env_bool("CT_SIMULATOR_ENABLED", default=DEMO)
# Where the simulator's CRM and CLM send their signed events.
CT_TOWER_URL = os.environ.get("CT_TOWER_URL", f"http://127.0.0.1:{os.environ.get('PORT', '8000')}")
# The address people open the tower at (behind a proxy, its public name): the links in
# notices (e-mail, chat, webhooks) start with it.
CT_PUBLIC_URL = os.environ.get("CT_PUBLIC_URL", CT_TOWER_URL)
# Where the demo's ERP and PSA systems point: the simulator served beside the tower.
CT_SIMULATOR_URL = os.environ.get("CT_SIMULATOR_URL", f"{CT_TOWER_URL}/simulator")

# --- Outbound calls ---------------------------------------------------------
CT_OUTBOUND_TIMEOUT_SECONDS = float(os.environ.get("CT_OUTBOUND_TIMEOUT_SECONDS", "10"))

# --- SLA notifications ----------------------------------------------------------
# The demo prints mail to the console; production sends it through an SMTP server.
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEMO
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL")
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "control-tower@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# A chat webhook that does not answer in this long is tried again later.
CT_NOTIFY_TIMEOUT_SECONDS = float(os.environ.get("CT_NOTIFY_TIMEOUT_SECONDS", "5"))
CT_NOTIFY_MAX_ATTEMPTS = env_int("CT_NOTIFY_MAX_ATTEMPTS", 6)
# Retry n waits base * 2^(n-1) seconds, at most the cap (or the receiver's Retry-After).
CT_NOTIFY_BACKOFF_SECONDS = env_int("CT_NOTIFY_BACKOFF_SECONDS", 30)
CT_NOTIFY_BACKOFF_CAP_SECONDS = env_int("CT_NOTIFY_BACKOFF_CAP_SECONDS", 3600)
CT_NOTIFY_BATCH = env_int("CT_NOTIFY_BATCH", 200)
# Items each SLA policy looks at per sweep; the next sweep takes the rest.
CT_SLA_SWEEP_BATCH = env_int("CT_SLA_SWEEP_BATCH", 500)
# Renewal notices: a contract raises a contract_nearing_end notice this many days before its
# end date, and another once this percentage of its cap is billed (once per threshold).
CT_RENEWAL_NOTICE_DAYS = env_int("CT_RENEWAL_NOTICE_DAYS", 60)
CT_RENEWAL_CAP_PERCENT = env_int("CT_RENEWAL_CAP_PERCENT", 80)

# --- Celery -------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
BROKER_DIR = env_path("CT_BROKER_DIR", VAR_DIR / "broker")
FLOW_QUEUES = [f"flow.{kind.value}" for kind in FlowKind]

CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES_NAMES = ["default", *FLOW_QUEUES]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ALWAYS_EAGER = env_bool("CT_CELERY_EAGER")
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# django-celery-beat's scheduler that survives database errors, records beat's heartbeat and
# runs the engine's sweep itself, every CT_SWEEP_INTERVAL_SECONDS: the sweep must not wait in
# the worker pool it rescues.
CELERY_BEAT_SCHEDULER = "integrations.scheduler:WatchedDatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    "reconcile-nightly": {
        "task": "integrations.tasks.reconcile_task",
        "schedule": crontab(hour=env_int("CT_RECONCILE_HOUR", 2), minute=30),
    },
    # Retainers and managed services are invoiced in advance: each month's fee on its first day.
    "bill-monthly-fees": {
        "task": "integrations.tasks.monthly_fees_task",
        "schedule": crontab(day_of_month=1, hour=0, minute=15),
    },
    # Renewal and obligation notices: contracts nearing their end date or cap, once a day.
    "contract-notices-daily": {
        "task": "integrations.tasks.contract_notices_task",
        "schedule": crontab(hour=env_int("CT_RENEWAL_HOUR", 6), minute=0),
    },
    # Approved time as project cost, and revenue schedules, to the ERP: what changed since.
    "post-cost-and-revenue": {
        "task": "integrations.tasks.finance_task",
        "schedule": float(env_int("CT_FINANCE_SECONDS", 900)),
    },
    "sla-sweep": {
        "task": "controltower.tasks.sla_sweep_task",
        "schedule": float(env_int("CT_SLA_SWEEP_SECONDS", 60)),
    },
    "deliver-notifications": {
        "task": "controltower.tasks.notifications_deliver_task",
        "schedule": float(env_int("CT_NOTIFY_SECONDS", 30)),
    },
    "prune-rejected-transactions": {
        "task": "integrations.tasks.prune_rejected_transactions_task",
        "schedule": float(env_int("CT_REJECTED_PRUNE_SECONDS", 900)),
    },
    "transactions-retention": {
        "task": "integrations.tasks.transactions_retention_task",
        "schedule": float(env_int("CT_RETENTION_SECONDS", 3600)),
    },
    "run-due-pollers": {
        "task": "integrations.tasks.run_due_pollers_task",
        "schedule": float(env_int("CT_POLLER_TICK_SECONDS", 30)),
    },
    # The tax codes and payment terms each legal entity's ERP accepts.
    "sync-accepted-codes": {
        "task": "integrations.tasks.sync_accepted_codes_task",
        "schedule": crontab(hour=env_int("CT_ACCEPTED_CODES_HOUR", 1), minute=45),
    },
    "poll-erp-invoices": {
        "task": "integrations.tasks.poll_invoices_task",
        "schedule": float(env_int("CT_INVOICE_POLL_SECONDS", 60)),
    },
}
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_TASK_ACKS_LATE = True
    CELERY_TASK_REJECT_ON_WORKER_LOST = True
    CELERY_WORKER_PREFETCH_MULTIPLIER = 1
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env_int("CT_BROKER_VISIBILITY_TIMEOUT", 300),
        # kombu otherwise looks for unacknowledged messages only every ~100 s.
        "unacked_restore_interval": 5,
        "unacked_restore_throttle": 1,
    }
else:
    CELERY_BROKER_URL = "filesystem://"
    # kombu's file-system transport, writing each message whole before a worker can see it.
    CELERY_BROKER_TRANSPORT = "controltower.broker:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR),
        "data_folder_out": str(BROKER_DIR),
        "control_folder": str(BROKER_DIR / "control"),
        # kombu polls the folder once a second by default; a quarter second keeps the demo brisk.
        "polling_interval": 0.25,
    }

# --- Cache ------------------------------------------------------------------------
# The API's rate limits count here: in Redis when there is Redis (shared by every web process),
# else in files under CT_CACHE_DIR (shared by the processes of one machine).
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "ct",
            # A Redis that does not answer soon lets the call through (the limits fail open).
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(env_path("CT_CACHE_DIR", VAR_DIR / "cache")),
        }
    }

# --- Channels -----------------------------------------------------------------
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
# Live pages: how often they poll without Redis, and at most how often the engine tells them.
CT_LIVE_POLL_SECONDS = float(os.environ.get("CT_LIVE_POLL_SECONDS", "5"))
CT_LIVE_THROTTLE_SECONDS = float(os.environ.get("CT_LIVE_THROTTLE_SECONDS", "1"))
# A live list re-renders a whole page, so it fetches at most this often.
CT_LIVE_LIST_SECONDS = float(os.environ.get("CT_LIVE_LIST_SECONDS", "10"))

# --- Logging ------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "correlation": {"()": "integrations.correlation.CorrelationIdFilter"},
        "quiet_heartbeats": {"()": "integrations.logfilters.HeartbeatLogFilter"},
    },
    "formatters": {
        "plain": {
            "format": "%(asctime)s %(levelname)s %(name)s [%(correlation_id)s] %(message)s",
        }
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["correlation"],
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # A worker's supervisor sends it a heartbeat task every few seconds.
        "celery.worker.strategy": {"filters": ["quiet_heartbeats"]},
        "celery.app.trace": {"filters": ["quiet_heartbeats"]},
        "httpx": {"level": "WARNING"},
        # django-axes: lockouts and failures (WARNING) without its chatter.
        "axes": {"level": "WARNING"},
    },
}
