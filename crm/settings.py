"""Settings for the sales CRM, read from the environment (12-factor).

Every variable has a safe default for local use except ``SECRET_KEY``, which is
required as soon as ``DEBUG`` is off: a production process must never run with a
key that is public in this repository.
"""

from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from crm import limits
from crm.log_config import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env(
    DEBUG=(bool, False),
    ALLOWED_HOSTS=(list, ["127.0.0.1", "localhost"]),
    TIME_ZONE=(str, "UTC"),
    CRM_DEFAULT_CURRENCY=(str, "EUR"),
    CRM_LEAD_RESPONSE_SLA_MINUTES=(int, 60),
    CORS_ALLOWED_ORIGINS=(list, []),
    SECURE_SSL_REDIRECT=(bool, True),
    SECURE_HSTS_SECONDS=(int, 60 * 60 * 24 * 365),
)

DEBUG = env("DEBUG")

SECRET_KEY = env("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off "
            "(set DEBUG=true for local development)."
        )
    # Development only: DEBUG is on, so this process never serves production.
    SECRET_KEY = "django-insecure-local-development-key-only"  # noqa: S105

ALLOWED_HOSTS = env("ALLOWED_HOSTS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "csp",
    # django-axes, celery-results and knox under our configs: their names
    # in the reader's language (crm/library_apps.py).
    "crm.library_apps.AxesConfig",
    "django_prometheus",
    "crm.library_apps.CeleryResultsConfig",
    "rest_framework",
    "crm.library_apps.KnoxConfig",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "drf_standardized_errors",
    "django_htmx",
    # The four apps, in dependency order: each may import only those above it.
    "crm",
    "leads",
    "pipeline",
    "metrics",
    # The rep's pages, on top of the apps it shows (nothing imports it).
    "workspace",
]

MIDDLEWARE = [
    # First and last: django-prometheus times the whole stack between them.
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    # Early, so that every log line of the request carries its id.
    "crm.request_id.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Right after the security headers: static files answer before sessions,
    # CSRF and the database are touched (compressed, hashed names, cached).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After the session and the user: the browser's Accept-Language, then the
    # language the user chose (crm.language), which wins.
    "django.middleware.locale.LocaleMiddleware",
    "crm.language.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "crm.idempotency.IdempotencyMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
    # Last, so that it turns a lockout flagged during the view into a 429.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "crm.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # Searched before the apps' folders, so that crm/templates/admin/ can
        # override the admin's own templates (the CRM's navigation bar).
        "DIRS": [BASE_DIR / "crm" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "workspace.tasks.badge",
                "django.template.context_processors.i18n",
            ],
        },
    },
]

WSGI_APPLICATION = "crm.wsgi.application"

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Writers wait for the lock instead of failing at once with "database is
    # locked" when the dev server and a management command write together.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20

if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Server options are added to those of DATABASE_URL (?options=-c ...), never
    # instead of them: the operator's settings win, being applied last.
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    _server = [
        # The KPI queries are short analytics over indexed rows: PostgreSQL's JIT
        # spent longer compiling them (21 ms for the cold-call query) than
        # running them, as measured by the benchmark.
        "-c jit=off",
    ]
    if not DEBUG:
        # Production: no request may hold a connection and its locks forever
        # (a runaway query, a hostile search). Imports and exports stream in
        # statements well under this; docs/security.md.
        _timeout = env.int("DATABASE_STATEMENT_TIMEOUT_MS", default=30_000)
        _server.append(f"-c statement_timeout={_timeout}")
    _options["options"] = " ".join([*_server, _options.get("options", "")]).strip()

# A PostgreSQL streaming replica for the reports and exports (crm/replica.py):
# only the code paths wrapped in ``replica_reads()`` read from it, and they fall
# back to the primary when it cannot be reached within the connect timeout.
if env.str("DATABASE_REPLICA_URL", default=""):
    DATABASES["replica"] = env.db("DATABASE_REPLICA_URL")
    _replica_options = DATABASES["replica"].setdefault("OPTIONS", {})
    _replica_options.setdefault(
        "connect_timeout", env.int("DATABASE_REPLICA_CONNECT_TIMEOUT", default=2)
    )
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        _replica_options["options"] = " ".join(
            [*_server, _replica_options.get("options", "")]
        ).strip()
    DATABASES["replica"].update(
        ATOMIC_REQUESTS=False,
        CONN_MAX_AGE=DATABASES["default"].get("CONN_MAX_AGE", 0),
        # The test databases are the primary's: a replica cannot be created
        # or flushed, and replays the primary's test database anyway.
        TEST={"MIRROR": "default"},
    )
DATABASE_ROUTERS = ["crm.replica.ReplicaRouter"]

# One cache shared by every process (Redis in production, CACHE_URL): DRF's
# throttles count there and sessions are read from it, so two app servers (or
# two gunicorn workers) agree. The default, local memory, is per process:
# development and tests only.
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}
# Sessions are read from the cache and written through to the database, so a
# restart or a flush of Redis logs nobody out.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

AUTH_USER_MODEL = "crm.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": f"django.contrib.auth.password_validation.{name}"}
    for name in (
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    )
]
LOGIN_URL = "admin:login"
# django-axes first: a locked-out username or address is refused before
# ModelBackend hashes the password, so guessing costs no CPU once locked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# English is the default; French is the language of the glossary's first users.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("fr", "Français")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env("TIME_ZONE")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
# Production serves what ``collectstatic`` wrote, through WhiteNoise: names
# carry a hash of the content (cached for a year), with gzip and Brotli copies.
# Development reads the apps' folders, so no collectstatic between edits.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# Pages only ever link the hashed names: the originals need no compressed copy.
WHITENOISE_KEEP_ONLY_HASHED_FILES = True
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Request bounds, answered with a JSON 413 or 400 (crm/limits.py, docs/api.md).
DATA_UPLOAD_MAX_MEMORY_SIZE = limits.MAX_BODY_BYTES
DATA_UPLOAD_MAX_NUMBER_FIELDS = limits.MAX_PARAMETERS

# --- Security (``check --deploy`` passes when DEBUG is off) -------------------
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_SSL_REDIRECT = env("SECURE_SSL_REDIRECT") and not DEBUG
# Probes (a load balancer, an orchestrator, Prometheus) speak plain HTTP to the
# app server itself, behind the proxy that terminates TLS.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = 0 if DEBUG else env("SECURE_HSTS_SECONDS")
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
# Trusted only when a proxy that sets it is declared: otherwise any client could
# claim HTTPS. E.g. SECURE_PROXY_SSL_HEADER=X-Forwarded-Proto (docs/security.md).
if _ssl_header := env("SECURE_PROXY_SSL_HEADER", default=""):
    SECURE_PROXY_SSL_HEADER = (
        "HTTP_" + _ssl_header.upper().replace("-", "_"),
        "https",
    )

# --- Client addresses and brute-force protection (docs/security.md) -------------
# How many reverse proxies sit in front of the application. 0: the client is
# REMOTE_ADDR and X-Forwarded-For is ignored; n: the client is the n-th address
# of X-Forwarded-For from the right (crm/client_ip.py).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# django-axes: lock a username, and separately an address, after too many
# failed logins (token endpoint and admin login alike), for a cool-off period.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_CLIENT_IP_CALLABLE = "crm.client_ip.client_ip"
AXES_RESET_ON_SUCCESS = True
# A fixed cool-off: guesses during a lockout do not extend it, so the person
# whose account was targeted gets it back on time.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_HTTP_RESPONSE_CODE = 429
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy on every response (django-csp): scripts, styles and
# everything else from this site only, no inline code (a style with the
# request's nonce aside). The dashboard's SVG charts, documents of their own,
# allow their inline <style> (metrics/dashboard.py). Checked in a browser on
# every page (tests/browser/test_content_security_policy.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# --- CORS: only the public capture endpoint is opened cross-origin ------------
CORS_ALLOWED_ORIGINS = env("CORS_ALLOWED_ORIGINS")
CORS_URLS_REGEX = r"^/api/v1/capture/$"

# --- REST API ------------------------------------------------------------------
REST_FRAMEWORK = {
    # Token first: its WWW-Authenticate header makes unauthenticated calls a 401.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "crm.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON only (the public capture endpoint also takes HTML form posts).
    "DEFAULT_PARSER_CLASSES": ["crm.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "crm.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "crm.filters.ListFilterBackend",  # django-filter, on lists only
        "crm.search.CappedSearchFilter",  # a few words, not thousands
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env("THROTTLE_ANON", default="120/min"),
        "user": env("THROTTLE_USER", default="2000/min"),
        "capture": env("THROTTLE_CAPTURE", default="20/min"),
    },
    "EXCEPTION_HANDLER": "drf_standardized_errors.handler.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "crm.schema.SearchAwareAutoSchema",
    "COERCE_DECIMAL_TO_STRING": True,
    # The same proxy count as crm/client_ip.py: never None, which would make
    # DRF trust a client's own X-Forwarded-For.
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

DRF_STANDARDIZED_ERRORS = {
    # Field errors are reported one per field ("attr"), which is what API clients
    # and the capture forms display next to each input.
    "ENABLE_IN_DEBUG_FOR_UNHANDLED_EXCEPTIONS": True,
    "EXCEPTION_HANDLER_CLASS": "crm.api_errors.CrmExceptionHandler",
}

REST_KNOX = {
    "TOKEN_TTL": timedelta(days=env.int("API_TOKEN_TTL_DAYS", default=30)),
    "AUTH_HEADER_PREFIX": "Token",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Sales CRM API",
    "DESCRIPTION": "Leads, deals through the five pipeline stages, customers and KPIs.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Offline docs: no badge that sends the schema to validator.swagger.io.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "COMPONENT_SPLIT_REQUEST": True,
    # Operation ids and tags start after the version: "leads_list", tag "leads".
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "ENUM_NAME_OVERRIDES": {
        **{
            name: f"drf_standardized_errors.openapi_serializers.{name}.choices"
            for name in (
                "ValidationErrorEnum",
                "ClientErrorEnum",
                "ServerErrorEnum",
                "ErrorCode401Enum",
                "ErrorCode403Enum",
                "ErrorCode404Enum",
                "ErrorCode405Enum",
                "ErrorCode406Enum",
                "ErrorCode415Enum",
                "ErrorCode429Enum",
                "ErrorCode500Enum",
            )
        },
        # One name per choice set shared by several fields and apps.
        "ChannelEnum": "leads.models.Channel",
        "LeadStatusEnum": "leads.models.LeadStatus",
        "SourceEnum": "leads.models.Source",
        "DisqualificationReasonEnum": "leads.models.DisqualificationReason",
        "StageEnum": "pipeline.models.Stage",
        "DealStatusEnum": "pipeline.models.DealStatus",
        "LostReasonEnum": "pipeline.models.LostReason",
    },
    # Replaces drf-spectacular's own enum hook (it would clash on error "code"s).
    # Then one example for each request body and 2xx response still without one.
    "POSTPROCESSING_HOOKS": [
        "drf_standardized_errors.openapi_hooks.postprocess_schema_enums",
        "crm.openapi.postprocess_schema_examples",
    ],
}

# --- Domain settings -------------------------------------------------------------
CRM_DEFAULT_CURRENCY = env("CRM_DEFAULT_CURRENCY")
# The public address of this site, for links in e-mails (consent confirmation).
CRM_SITE_URL = env("CRM_SITE_URL", default="http://127.0.0.1:8000")
# Who the public offer pages speak for: the company selling, not this tool.
CRM_SELLER_NAME = env("CRM_SELLER_NAME", default="Northwind Software")

# Largest CSV upload the admin import accepts; refused before it is read.
LEADS_IMPORT_MAX_BYTES = env.int("LEADS_IMPORT_MAX_MB", default=64) * 2**20

# --- E-mail: the console in development, EMAIL_URL (e.g. smtp+tls://user:pass@
# host:587) in production; tests use Django's in-memory outbox.
if DEBUG and "EMAIL_URL" not in env:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
else:
    vars().update(env.email_url("EMAIL_URL", default="smtp://localhost:25"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="crm@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Webhooks go to public addresses only (crm/egress.py). Development may allow
# private networks (a receiver on 127.0.0.1); an operator may name internal
# hosts that are trusted receivers. Never allow private networks in production.
WEBHOOK_ALLOW_PRIVATE_NETWORKS = env.bool(
    "WEBHOOK_ALLOW_PRIVATE_NETWORKS", default=False
)
WEBHOOK_ALLOWED_PRIVATE_HOSTS = env.list("WEBHOOK_ALLOWED_PRIVATE_HOSTS", default=[])

# The service level of lead response (KPI lead_response_within_sla_rate): a new
# inbound lead should get a user's first call, e-mail or meeting within it.
CRM_LEAD_RESPONSE_SLA_MINUTES = env("CRM_LEAD_RESPONSE_SLA_MINUTES")

# Covering indexes (Index(include=...)) serve the KPI queries on PostgreSQL, the
# production database; SQLite builds them without the included columns.
SILENCED_SYSTEM_CHECKS = ["models.W040"]

# --- Background jobs (Celery; docs/deploy.md) -----------------------------------
# With a broker (CELERY_BROKER_URL, e.g. redis://127.0.0.1:6379/2) jobs go to
# the workers and beat schedules the periodic ones. Without one (make demo, the
# tests) a job runs in the process that enqueued it, once its transaction has
# committed: the same code, no service to start.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = False
# Results (and failures, with their traceback) are rows of django-celery-results,
# in the admin; eager runs are stored too, so the embedded mode shows them alike.
CELERY_RESULT_BACKEND = "django-db"
CELERY_RESULT_EXTENDED = True
CELERY_TASK_STORE_EAGER_RESULT = True
CELERY_RESULT_EXPIRES = timedelta(days=env.int("JOB_RESULTS_KEEP_DAYS", default=7))
# A job is acknowledged when it ends, not when it starts: a worker killed mid-job
# leaves it to another worker. Every job is idempotent, so a second run is safe.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Redis redelivers an unacknowledged job after this; longer than any job runs.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 6 * 60 * 60}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SERIALIZER = CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE = {
    # Webhooks are claimed and sent by the job; a failed one waits its backoff.
    "deliver-webhooks": {
        "task": "crm.tasks.deliver_webhooks",
        "schedule": env.float("WEBHOOK_POLL_SECONDS", default=5.0),
    },
    "purge-idempotency-keys": {
        "task": "crm.tasks.purge_idempotency_keys",
        "schedule": timedelta(hours=1),
    },
    "purge-expired-tokens": {
        "task": "crm.tasks.purge_expired_tokens",
        "schedule": timedelta(hours=1),
    },
    "purge-import-files": {
        "task": "leads.tasks.purge_import_files",
        "schedule": timedelta(hours=6),
    },
    "purge-export-files": {
        "task": "crm.tasks.purge_export_files",
        "schedule": timedelta(hours=1),
    },
    # Consent e-mails whose job the broker refused or whose retries ran out.
    "send-pending-consent-emails": {
        "task": "leads.tasks.send_pending_consent_emails",
        "schedule": timedelta(hours=1),
    },
}
# Uploaded import files are deleted this long after their import ended.
IMPORT_FILES_KEEP_DAYS = env.int("IMPORT_FILES_KEEP_DAYS", default=7)
# Export files (personal data, copied out) are deleted this long after written.
EXPORT_FILES_KEEP_DAYS = env.int("EXPORT_FILES_KEEP_DAYS", default=2)
# The most rows ``GET <list>/export/`` streams in the request, and the admin's
# export action streams; more is a background job (docs/api.md). About a
# second of streaming on the benchmark's machine.
EXPORT_SYNC_MAX_ROWS = env.int("EXPORT_SYNC_MAX_ROWS", default=10_000)
# The most records an admin action (a service call each, 10-20 ms) changes in the
# request: a full changelist page. More is a background job (crm/action_jobs.py).
ADMIN_ACTION_SYNC_MAX_ROWS = env.int("ADMIN_ACTION_SYNC_MAX_ROWS", default=100)

# --- Health, metrics and logs ----------------------------------------------------
# Addresses allowed to read /metrics (Prometheus); anyone else gets a 404.
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=["127.0.0.1", "::1"])
# JSON lines (one object per record, with the request id) by default in
# production, readable text in development; gunicorn and Celery log the same way
# (crm/log_config.py).
LOG_FORMAT = env("LOG_FORMAT", default="text" if DEBUG else "json")
LOGGING = logging_config(LOG_FORMAT, env("LOG_LEVEL", default="INFO"))
