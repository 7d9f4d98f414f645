"""Settings for the sales CRM, read from the environment (12-factor).

Every variable has a safe default for local use except ``SECRET_KEY``, which is
required as soon as ``DEBUG`` is off: a production process must never run with a
key that is public in this repository.
"""

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from crm import limits

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env(
    DEBUG=(bool, False),
    ALLOWED_HOSTS=(list, ["127.0.0.1", "localhost"]),
    TIME_ZONE=(str, "UTC"),
    CRM_DEFAULT_CURRENCY=(str, "EUR"),
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
    "rest_framework",
    "knox",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "drf_standardized_errors",
    # The four apps, in dependency order: each may import only those above it.
    "crm",
    "leads",
    "pipeline",
    "metrics",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "crm.idempotency.IdempotencyMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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
    # The KPI queries are short analytics over indexed rows: PostgreSQL's JIT
    # spent longer compiling them (21 ms for the cold-call query) than running
    # them, as measured by the benchmark.
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c jit=off"

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

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

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_URL = "media/"
MEDIA_ROOT = BASE_DIR / "media"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Request bounds, answered with a JSON 413 or 400 (crm/limits.py, docs/api.md).
DATA_UPLOAD_MAX_MEMORY_SIZE = limits.MAX_BODY_BYTES
DATA_UPLOAD_MAX_NUMBER_FIELDS = limits.MAX_PARAMETERS

# --- Security (``check --deploy`` passes when DEBUG is off) -------------------
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_SSL_REDIRECT = env("SECURE_SSL_REDIRECT") and not DEBUG
SECURE_HSTS_SECONDS = 0 if DEBUG else env("SECURE_HSTS_SECONDS")
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
X_FRAME_OPTIONS = "DENY"

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
        "django_filters.rest_framework.DjangoFilterBackend",
        "crm.filters.SearchFilter",
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
    "DEFAULT_SCHEMA_CLASS": "crm.openapi.AutoSchema",
    "COERCE_DECIMAL_TO_STRING": True,
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

# Covering indexes (Index(include=...)) serve the KPI queries on PostgreSQL, the
# production database; SQLite builds them without the included columns.
SILENCED_SYSTEM_CHECKS = ["models.W040"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}
