"""Django settings for Fusebox.

Every value comes from the environment through the typed readers of ``portal.env``; a bad value
stops the process at start-up with a message naming the variable. The README lists them all.
The application only ever reads ``DATABASE_URL`` and ``REDIS_URL``: the embedded launcher
(``portal.embedded``) sets them for ``make demo`` and ``make test``, production sets them itself.
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from portal.env import env_bool, env_choice, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "accounts",
    "installations",
    "chargers",
    "auth_access",
    "commands",
    "ocpp_bridge",
    "balancing",
    "reporting",
    "events",
    "webhooks",
    "audit",
    "alerts",
    "upstream",
    "planning",
    "modes",
    "tariffs",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "audit.context.AuditContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "portal.urls"
ASGI_APPLICATION = "portal.asgi.application"

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
                "portal.context_processors.navigation",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL"), conn_max_age=env_int("DB_CONN_MAX_AGE", 60)
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL")


def _celery_url(redis_url: str) -> str:
    """Celery (kombu) spells a unix-socket Redis ``redis+socket://``; redis-py spells it ``unix://``."""
    if redis_url.startswith("unix://"):
        return "redis+socket://" + redis_url.removeprefix("unix://")
    return redis_url


CELERY_BROKER_URL = _celery_url(REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "fusebox",
    }
}

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "installations:list"
LOGOUT_REDIRECT_URL = "account_login"

# django-allauth: e-mail is the login; verification is mandatory before a new account can log in.
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = env_choice(
    "ACCOUNT_EMAIL_VERIFICATION", "mandatory", ["mandatory", "optional", "none"]
)
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_CHANGE_EMAIL = True
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Fusebox] "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if SITE_URL.startswith("https") else "http"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Fusebox"
MFA_TOTP_TOLERANCE = 1  # accept one 30-s step of clock drift between phone and server

# Reverse proxies in front of the web app that append to X-Forwarded-For: rate limits (the API's
# throttles, allauth's) take the client address from there only through that many of them.
TRUSTED_PROXIES = env_int("TRUSTED_PROXIES", 0, minimum=0)
ALLAUTH_TRUSTED_PROXY_COUNT = TRUSTED_PROXIES
# API tokens (accounts/tokens.py): failed attempts per account before it is locked, and for how
# long (also the window the failures are counted in).
API_TOKEN_LOCKOUT_ATTEMPTS = env_int("API_TOKEN_LOCKOUT_ATTEMPTS", 5, minimum=1)
API_TOKEN_LOCKOUT_S = env_int("API_TOKEN_LOCKOUT_S", 900, minimum=1)
API_TOKENS_PER_USER = 50  # named tokens a user may hold at once (accounts.api_tokens)

# E-mail: SMTP when EMAIL_HOST is set, otherwise printed on the console (the demo).
EMAIL_HOST = env_str("EMAIL_HOST", "")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env_int("EMAIL_PORT", 587)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Fusebox <noreply@fusebox.local>")
EMAIL_TIMEOUT = 30  # seconds per SMTP step: a hanging mail server never holds a worker for long

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Files the application writes (large exports): under var/ by default; web and worker must share
# it (docker-compose.yml mounts one volume on both).
MEDIA_ROOT = env_str("MEDIA_ROOT", str(BASE_DIR / "var" / "media"))
MEDIA_URL = "media/"  # never served as is: downloads go through views that check who asks
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG

SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_TLS_PROXY", False) else None
)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "accounts.authentication.TokenMayWrite",
    ],
    "DEFAULT_PAGINATION_CLASS": "portal.api.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
        "rest_framework.filters.SearchFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "portal.api.errors.exception_handler",
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "portal.api.negotiation.FormatParameterNegotiation",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_str("API_THROTTLE_ANON", "60/min"),
        "user": env_str("API_THROTTLE_USER", "1200/min"),
        "token": env_str("API_THROTTLE_TOKEN", "10/min"),
    },
    "NUM_PROXIES": TRUSTED_PROXIES,  # 0: X-Forwarded-For is ignored, REMOTE_ADDR counts
    "DATETIME_FORMAT": "%Y-%m-%dT%H:%M:%S.%fZ",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Fusebox API",
    "DESCRIPTION": (
        "REST API of the Fusebox EV-charging back office. Authenticate with "
        "`Authorization: Token <key>` (obtain one at `POST /api/v1/auth/token/`). "
        "Timestamps are ISO-8601 UTC, energy in Wh, current in A."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "RoleEnum": "installations.choices.Role",
        "InstallationAuthorizationModeEnum": "installations.choices.AuthorizationMode",
        "ChargerAuthorizationModeEnum": "chargers.choices.ChargerAuthorizationMode",
        "AuthorizationTriggerEnum": "auth_access.choices.AuthorizationTrigger",
        "BalancingTriggerEnum": "balancing.models.BalancingTrigger",
        "AuditActionEnum": "audit.models.AuditAction",
        "CommandActionEnum": "commands.choices.CommandAction",
    },
}

# Invitations expire after this many days.
INVITATION_TTL_DAYS = env_int("INVITATION_TTL_DAYS", 14)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

# Public websocket URL of the OCPP bridge, shown to installers when they register a charger.
OCPP_PUBLIC_URL = env_str("OCPP_PUBLIC_URL", "ws://127.0.0.1:9000/ocpp")

# The OCPP bridge (python manage.py run_bridge).
OCPP_BRIDGE_HOST = env_str("OCPP_BRIDGE_HOST", "127.0.0.1")
OCPP_BRIDGE_PORT = env_int("OCPP_BRIDGE_PORT", 9000)
OCPP_TLS_CERT = env_str(
    "OCPP_TLS_CERT", ""
)  # PEM certificate chain: serve wss:// (security profile 2)
OCPP_TLS_KEY = env_str("OCPP_TLS_KEY", "")
OCPP_HEARTBEAT_INTERVAL_S = env_int("OCPP_HEARTBEAT_INTERVAL_S", 300)
# Sessions of a charger offline longer than this are closed (inferred, stop reason PowerLoss).
SESSION_OFFLINE_CLOSE_MINUTES = env_int("SESSION_OFFLINE_CLOSE_MINUTES", 60)
# A bridge node's name in Redis presence; default: host name and process id.
BRIDGE_NODE_ID = env_str("BRIDGE_NODE_ID", "")

# Load balancing: the periodic sweep (seconds) and the debounce of event-triggered solves.
BALANCING_SWEEP_SECONDS = env_float("BALANCING_SWEEP_SECONDS", 15.0)
BALANCING_DEBOUNCE_SECONDS = env_float("BALANCING_DEBOUNCE_SECONDS", 0.3)
# A limit sent to a charger expires after this long unless renewed (renewed at half-life), so a
# charger that loses its connection falls back to the failsafe current by itself.
BALANCING_LIMIT_TTL_SECONDS = env_int("BALANCING_LIMIT_TTL_SECONDS", 600)
# A draw measured less than this long after a new limit does not count as "the car takes less".
BALANCING_RAMP_SECONDS = env_float("BALANCING_RAMP_SECONDS", 10.0)
# Balancing decisions (snapshot, answer, reasons) are kept this long.
BALANCING_DECISION_RETENTION_DAYS = env_int("BALANCING_DECISION_RETENTION_DAYS", 30)
# Watching the loop (docs/events.md): a car connected and wanting current that balancing gives
# none for this many minutes is "not served" (an event); a fuse drawing above its limit for this
# many seconds is "overloaded" (an event, an incident).
BALANCING_NOT_SERVED_MINUTES = env_int("BALANCING_NOT_SERVED_MINUTES", 10, minimum=1)
BALANCING_OVERLOAD_DEBOUNCE_S = env_int("BALANCING_OVERLOAD_DEBOUNCE_S", 60, minimum=0)

# Exports: more rows than this are written by a Celery worker (progress page, e-mail, a link kept
# REPORT_EXPORT_RETENTION_HOURS); fewer stream at once.
REPORT_EXPORT_SYNC_ROWS = env_int("REPORT_EXPORT_SYNC_ROWS", 20_000, minimum=0)
REPORT_EXPORT_RETENTION_HOURS = env_int("REPORT_EXPORT_RETENTION_HOURS", 24, minimum=1)

# Capacity planning: the largest site (chargers, changes included) a what-if replays while the
# request waits (docs/planning.md).
PLANNING_MAX_CHARGERS = env_int("PLANNING_MAX_CHARGERS", 300, minimum=1)

# Access control: allow plain http:// external authorizer URLs (development and tests only).
ACCESS_EXTERNAL_ALLOW_HTTP = env_bool("ACCESS_EXTERNAL_ALLOW_HTTP", False)
# Authorization records and seen cards are kept this long (days); the access sweep (list sync
# retries, cards expiring during a session, remote starts to settle) runs this often (seconds).
ACCESS_RECORD_RETENTION_DAYS = env_int("ACCESS_RECORD_RETENTION_DAYS", 365)
ACCESS_SEEN_CARD_RETENTION_DAYS = env_int("ACCESS_SEEN_CARD_RETENTION_DAYS", 90)
ACCESS_SWEEP_SECONDS = env_float("ACCESS_SWEEP_SECONDS", 60.0)

# Events (docs/events.md): a charger disconnected this long is "offline" (an event, an incident);
# consumers run this often (seconds; also woken after commits); events are kept this many days,
# and never deleted before every consumer has read them.
EVENTS_OFFLINE_GRACE_S = env_int("EVENTS_OFFLINE_GRACE_S", 120, minimum=0)
EVENTS_CONSUMER_INTERVAL_S = env_float("EVENTS_CONSUMER_INTERVAL_S", 5.0)
EVENTS_RETENTION_DAYS = env_int("EVENTS_RETENTION_DAYS", 90, minimum=1)
# Chargers of one installation that go offline (or fault) within this many seconds of an open
# incident's start join it: one incident, not one per charger, when a site's internet is down.
EVENTS_INCIDENT_WINDOW_S = env_int("EVENTS_INCIDENT_WINDOW_S", 300, minimum=0)

# Outgoing webhooks (docs/webhooks.md): each send waits at most WEBHOOKS_TIMEOUT_S per network
# step; due deliveries are sent every WEBHOOKS_SEND_INTERVAL_S (and at once after new events);
# WEBHOOKS_ALLOW_LOCAL (default: ACCESS_EXTERNAL_ALLOW_HTTP) accepts http:// and local receivers.
WEBHOOKS_TIMEOUT_S = env_float("WEBHOOKS_TIMEOUT_S", 10.0)
WEBHOOKS_SEND_INTERVAL_S = env_float("WEBHOOKS_SEND_INTERVAL_S", 5.0)
WEBHOOKS_ALLOW_LOCAL = env_bool("WEBHOOKS_ALLOW_LOCAL", ACCESS_EXTERNAL_ALLOW_HTTP)

# Upstream central systems (docs/upstream.md): UPSTREAM_ALLOW_LOCAL (default:
# ACCESS_EXTERNAL_ALLOW_HTTP) accepts local addresses and any port; "Test connection" waits at most
# UPSTREAM_TEST_TIMEOUT_S.
UPSTREAM_ALLOW_LOCAL = env_bool("UPSTREAM_ALLOW_LOCAL", ACCESS_EXTERNAL_ALLOW_HTTP)
UPSTREAM_TEST_TIMEOUT_S = env_float("UPSTREAM_TEST_TIMEOUT_S", 5.0)

# E-mail alerts (docs/alerts.md): offline thresholds are checked and due e-mails sent every
# ALERTS_CHECK_INTERVAL_S; past ALERTS_RATE_LIMIT_PER_HOUR immediate alerts in an hour, a
# recipient's next alerts wait for the daily digest, sent at ALERTS_DIGEST_HOUR (UTC, 0-23).
ALERTS_CHECK_INTERVAL_S = env_float("ALERTS_CHECK_INTERVAL_S", 15.0)
ALERTS_RATE_LIMIT_PER_HOUR = env_int("ALERTS_RATE_LIMIT_PER_HOUR", 10, minimum=1)
ALERTS_DIGEST_HOUR = env_int("ALERTS_DIGEST_HOUR", 7, minimum=0)
if ALERTS_DIGEST_HOUR > 23:
    raise ImproperlyConfigured(f"ALERTS_DIGEST_HOUR must be 0-23, not {ALERTS_DIGEST_HOUR}")

CELERY_BEAT_SCHEDULE = {
    "balancing-sweep": {"task": "balancing.tasks.sweep", "schedule": BALANCING_SWEEP_SECONDS},
    "prune-balancing-decisions": {
        "task": "balancing.tasks.prune_decisions",
        "schedule": 24 * 3600.0,
    },
    "expire-commands": {"task": "ocpp_bridge.tasks.expire_commands", "schedule": 10.0},
    "detect-offline-chargers": {
        "task": "ocpp_bridge.tasks.detect_offline_chargers",
        "schedule": 30.0,
    },
    "close-offline-sessions": {
        "task": "ocpp_bridge.tasks.close_offline_sessions",
        "schedule": 60.0,
    },
    "access-sweep": {"task": "auth_access.tasks.sweep", "schedule": ACCESS_SWEEP_SECONDS},
    "prune-access-history": {"task": "auth_access.tasks.prune", "schedule": 24 * 3600.0},
    "expire-reservations": {"task": "auth_access.tasks.expire_reservations", "schedule": 30.0},
    "apply-due-prices": {"task": "reporting.tasks.apply_due_prices", "schedule": 60.0},
    "price-finished-sessions": {
        "task": "tariffs.tasks.price_finished_sessions",
        "schedule": 60.0,
    },
    "expire-exports": {"task": "reporting.tasks.expire_exports", "schedule": 3600.0},
    "run-event-consumers": {
        "task": "events.tasks.run_consumers",
        "schedule": EVENTS_CONSUMER_INTERVAL_S,
    },
    "prune-events": {"task": "events.tasks.prune", "schedule": 24 * 3600.0},
    "send-webhooks": {
        "task": "webhooks.tasks.send_due_deliveries",
        "schedule": WEBHOOKS_SEND_INTERVAL_S,
    },
    "prune-webhook-deliveries": {
        "task": "webhooks.tasks.prune_deliveries",
        "schedule": 24 * 3600.0,
    },
    "detect-offline-events": {"task": "events.tasks.detect_offline", "schedule": 15.0},
    "check-alerts": {"task": "alerts.tasks.check_and_send", "schedule": ALERTS_CHECK_INTERVAL_S},
    "send-alert-digests": {
        "task": "alerts.tasks.send_digests",
        "schedule": crontab(hour=ALERTS_DIGEST_HOUR, minute=0),
    },
}
