"""Settings: everything that varies between machines is read here, from the environment, once."""

import base64
import hashlib
import os
from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONCE, NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
PRODUCTION = env.bool("ARBITER_PRODUCTION", default=False)

# The development key is published: only a DEBUG process (a developer's own machine) may fall
# back on it. Anything else refuses to start (bin/demo and the tests set a key of their own).
_DEV_SECRET_KEY = "arbiter-dev-only-secret-key-do-not-use-in-production"
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if PRODUCTION or not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it in the environment or in .env (make one with: "
            'python -c "import secrets; print(secrets.token_urlsafe(50))"), or set DEBUG=true '
            "on a development machine."
        )
    SECRET_KEY = _DEV_SECRET_KEY

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "knox",
    "axes",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "csp",
    "apps.core",
    "apps.accounts",
    "apps.projects",
    "apps.corpus",
    "apps.feedback",
    "apps.labeling",
    "apps.imports",
    "apps.chat",
    "apps.generation",
    "apps.exports",
    "apps.webhooks",
    "apps.quality",
    "apps.training",
    "apps.dashboard",
    "apps.teams",
    "django_celery_beat",
    "apps.autopilot",
    "apps.judges",
    "apps.arena",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Sessions, CSRF, auth and messages as Django's, skipped by token-authenticated labeling API
    # requests (apps/core/lean.py): none of them serves those.
    "apps.core.lean.LeanSessionMiddleware",
    # After sessions, before common: picks the language from Accept-Language (anonymous users).
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "apps.core.lean.LeanCsrfViewMiddleware",
    "apps.core.lean.LeanAuthenticationMiddleware",
    # A signed-in user's own language choice wins over the browser's.
    "apps.accounts.middleware.UserLanguageMiddleware",
    "apps.core.lean.LeanMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes requires: turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'arbiter.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # A file, not memory, so that a worker process started by a test sees the test data;
    # one per test run, so that two runs on one machine never share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
    # One writer at a time: wait for the lock instead of failing at once.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    )
else:
    # Persistent connections: a new connection per request costs more than the request.
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=600)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# The labeling loop's statements prepared once per connection (apps/core/prepared.py); off behind
# a pooler in transaction mode, where a session's prepared statements do not follow it.
ARBITER_PG_PREPARE = env.bool("ARBITER_PG_PREPARE", default=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# The default cache counts API throttles: per process unless CACHE_URL names a shared one
# (e.g. redis://redis:6379/1), which several web processes need for one count.
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

AUTH_USER_MODEL = "accounts.User"
# Personal API tokens: django-rest-knox's hashed, expiring tokens, with a scope (apps/accounts).
KNOX_TOKEN_MODEL = "accounts.ApiToken"
REST_KNOX = {"TOKEN_PREFIX": "arb_", "AUTH_HEADER_PREFIX": "Token", "TOKEN_TTL": None}
# knox's own migrations would create a table for its token model even though ours replaces it
# (and one that blocks TRUNCATE on PostgreSQL): ApiToken is all we need.
MIGRATION_MODULES = {"knox": None}
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTHENTICATION_BACKENDS = [
    "apps.accounts.backends.LoginLockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
    # Single sign-on: answers only the OIDC callback, and only when OIDC is configured below.
    "apps.teams.oidc.OidcBackend",
]
# Single sign-on with OpenID Connect (mozilla-django-oidc): off unless OIDC_RP_CLIENT_ID and the
# provider's endpoints are set. Arbiter is a confidential client using PKCE and RS256 ID tokens.
OIDC_RP_CLIENT_ID = env.str("OIDC_RP_CLIENT_ID", default="")
OIDC_RP_CLIENT_SECRET = env.str("OIDC_RP_CLIENT_SECRET", default="")
OIDC_OP_AUTHORIZATION_ENDPOINT = env.str("OIDC_OP_AUTHORIZATION_ENDPOINT", default="")
OIDC_OP_TOKEN_ENDPOINT = env.str("OIDC_OP_TOKEN_ENDPOINT", default="")
OIDC_OP_USER_ENDPOINT = env.str("OIDC_OP_USER_ENDPOINT", default="")
OIDC_OP_JWKS_ENDPOINT = env.str("OIDC_OP_JWKS_ENDPOINT", default="")
OIDC_RP_SIGN_ALGO = env.str("OIDC_RP_SIGN_ALGO", default="RS256")
OIDC_RP_SCOPES = env.str("OIDC_RP_SCOPES", default="openid email profile")
OIDC_USE_PKCE = True
OIDC_TIMEOUT = env.int("OIDC_TIMEOUT", default=10)
LOGIN_REDIRECT_URL_FAILURE = "/login/?sso=failed"
# What the sign-in button says, e.g. "Acme SSO".
ARBITER_OIDC_PROVIDER_NAME = env.str("ARBITER_OIDC_PROVIDER_NAME", default="single sign-on")
# The claim that lists the user's groups, and which project roles each group grants, as JSON:
# {"labelers": {"3": "annotator"}, "leads": {"3": "admin", "4": "admin"}}.
ARBITER_OIDC_GROUPS_CLAIM = env.str("ARBITER_OIDC_GROUPS_CLAIM", default="groups")
ARBITER_OIDC_GROUP_ROLES = env.json("ARBITER_OIDC_GROUP_ROLES", default={})
# Invitation emails go through Django's email backend (the console, unless configured).
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="arbiter@localhost")
# Login lockout (django-axes): after AXES_FAILURE_LIMIT wrong passwords for one username from one
# address, that pair is refused (429, the lockout page) for the cool-off; a success resets it.
AXES_FAILURE_LIMIT = env.int("ARBITER_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.float("ARBITER_LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
LANGUAGES = [("en", "English"), ("de", "Deutsch")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
# Outside production, serve static files straight from static/ (no collectstatic needed).
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = DEBUG
MEDIA_ROOT = Path(env.str("ARBITER_STORAGE_ROOT", default=str(VAR_DIR / "storage")))
MEDIA_URL = "media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Celery. The embedded default is kombu's filesystem transport: a real worker, no server.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
CELERY_BROKER_DIR = Path(env.str("CELERY_BROKER_DIR", default=str(VAR_DIR / "broker")))
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_DIR / "out"),
        "data_folder_out": str(CELERY_BROKER_DIR / "out"),
        "processed_folder": str(CELERY_BROKER_DIR / "processed"),
        "control_folder": str(CELERY_BROKER_DIR / "control"),
        "store_processed": False,
    }
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ACKS_LATE = True
# A task whose pool process dies (killed, out of memory) goes back to the queue, not acked.
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

CELERY_TASK_ROUTES = {"training.*": {"queue": "training"}}
CELERY_BEAT_SCHEDULE = {
    "reap-stale-jobs": {"task": "core.reap_jobs", "schedule": 60.0},
    # Training rules fire within ARBITER_AUTOPILOT_CHECK_SECONDS of their threshold (apps/autopilot).
    "autopilot-check-rules": {
        "task": "autopilot.check_rules",
        "schedule": env.float("ARBITER_AUTOPILOT_CHECK_SECONDS", default=10.0),
    },
    "autopilot-gate-sweep": {"task": "autopilot.gate_sweep", "schedule": 120.0},
}
# Rule schedules live in django-celery-beat's tables, beside the entries above.
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# The champion gate (apps/autopilot/champions.py): a reward model is promoted when its accuracy on
# the frozen held-out pairs is at least this much above the champion's; a policy when its win rate
# over the champion policy, judged by the champion reward model, reaches the threshold.
ARBITER_AUTOPILOT_REWARD_MIN_GAIN = env.float("ARBITER_AUTOPILOT_REWARD_MIN_GAIN", default=0.0)
ARBITER_AUTOPILOT_POLICY_MIN_WIN_RATE = env.float(
    "ARBITER_AUTOPILOT_POLICY_MIN_WIN_RATE", default=0.5
)

# Background jobs (apps/core/jobs.py): a worker beats every few seconds; a job silent for longer
# than the stale limit is resumed by another worker, or failed once its attempts are spent; a job
# still queued after QUEUED_TOO_LONG is sent again. The ARBITER_RUN_* names are the older ones.
ARBITER_JOB_HEARTBEAT_SECONDS = env.float(
    "ARBITER_JOB_HEARTBEAT_SECONDS", default=env.float("ARBITER_RUN_HEARTBEAT_SECONDS", default=5.0)
)
ARBITER_JOB_STALE_SECONDS = env.float(
    "ARBITER_JOB_STALE_SECONDS", default=env.float("ARBITER_RUN_STALE_SECONDS", default=60.0)
)
ARBITER_JOB_MAX_ATTEMPTS = env.int(
    "ARBITER_JOB_MAX_ATTEMPTS", default=env.int("ARBITER_RUN_MAX_ATTEMPTS", default=3)
)
# Processes a training worker trains one run with: 1 trains in the worker's own process; N > 1 starts the
# trainer under torchrun (CPU) or accelerate launch (GPUs) as N processes; 0 takes one per GPU it sees.
ARBITER_TRAINING_PROCESSES = env.int("ARBITER_TRAINING_PROCESSES", default=1)
# The accelerate config file (DDP, FSDP, DeepSpeed) for multi-process GPU runs whose config names none.
ARBITER_ACCELERATE_CONFIG = env.str("ARBITER_ACCELERATE_CONFIG", default="")
# Python modules the operator wrote that register verifiable reward checkers for online RL
# (trainer.policy.rewards.register_checker); imported at start-up, named by runs, never sent by them.
ARBITER_REWARD_CHECKER_MODULES = env.list("ARBITER_REWARD_CHECKER_MODULES", default=[])
ARBITER_JOB_QUEUED_TOO_LONG_SECONDS = env.float(
    "ARBITER_JOB_QUEUED_TOO_LONG_SECONDS", default=15 * 60.0
)

# Assignment: how long a claimed task stays reserved for its annotator.
ARBITER_LEASE_SECONDS = env.int("ARBITER_LEASE_SECONDS", default=15 * 60)
# Outbound calls (webhooks, model servers) go to public addresses only, except the hosts the
# operator lists here: names, addresses or networks, each with an optional port (see
# apps/core/outbound.py), e.g. "vllm.lan:8000,10.0.0.0/24".
ARBITER_OUTBOUND_ALLOW_HOSTS = env.list("ARBITER_OUTBOUND_ALLOW_HOSTS", default=[])
# Deprecated: true lets webhooks (only) reach any address; list the hosts above instead.
ARBITER_WEBHOOKS_ALLOW_PRIVATE = env.bool("ARBITER_WEBHOOKS_ALLOW_PRIVATE", default=False)
# Secrets at rest (model servers' API keys) are encrypted with the first of these Fernet keys; all
# decrypt. Rotate: put a new key first, run `manage.py reencrypt_secrets`, drop the old one.
ARBITER_SECRET_KEYS = env.list("ARBITER_SECRET_KEYS", default=[])
if not ARBITER_SECRET_KEYS:
    if PRODUCTION:
        raise ImproperlyConfigured(
            "ARBITER_SECRET_KEYS must be set when ARBITER_PRODUCTION is true (make a key with: "
            'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())").'
        )
    # Development and tests: a key derived from SECRET_KEY, so `make demo` needs no setup.
    ARBITER_SECRET_KEYS = [
        base64.urlsafe_b64encode(
            hashlib.sha256(b"arbiter-secret-keys:" + SECRET_KEY.encode()).digest()
        ).decode()
    ]
ARBITER_IMPORT_MAX_BYTES = env.int("ARBITER_IMPORT_MAX_BYTES", default=200 * 1024 * 1024)
# A line of an import longer than this is a line error, read no further (imports stream files).
ARBITER_IMPORT_MAX_LINE_BYTES = env.int("ARBITER_IMPORT_MAX_LINE_BYTES", default=8 * 1024 * 1024)
# Chat: replies are written by a worker; each user may send this many messages a minute (0 = no
# limit), and an unfinished reply older than the stale limit may be asked for again.
ARBITER_CHAT_MESSAGES_PER_MINUTE = env.int("ARBITER_CHAT_MESSAGES_PER_MINUTE", default=10)
ARBITER_CHAT_REPLY_STALE_SECONDS = env.int("ARBITER_CHAT_REPLY_STALE_SECONDS", default=300)
# Base models the operator makes available: folders whose sub-folders holding a config.json are
# offered to every project (apps/training/model_choices.py). Models are chosen, never typed as paths.
ARBITER_MODEL_ROOTS = env.list("ARBITER_MODEL_ROOTS", default=[])
# The Hugging Face cache whose models are offered too: empty = huggingface_hub's own default
# (HF_HOME / HF_HUB_CACHE), "off" = offer none.
ARBITER_MODEL_HUB_CACHE = env.str("ARBITER_MODEL_HUB_CACHE", default="")
# Dataset cards (apps/exports/cards.py): the license named in every snapshot's card, and the token
# `manage.py push_snapshot_to_hub` uploads with (empty = the command refuses to run).
ARBITER_DATASET_LICENSE = env.str("ARBITER_DATASET_LICENSE", default="other")
ARBITER_HF_HUB_TOKEN = env.str("ARBITER_HF_HUB_TOKEN", default="")


def _rate(name: str, default: str) -> str | None:
    """A throttle rate such as "60/min" from the environment; "off" (or empty) = no limit."""
    value = env.str(name, default=default).strip()
    return None if value.lower() in ("", "off", "none") else value


REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.accounts.tokens.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "apps.accounts.tokens.TokenScopePermission",
    ],
    "DEFAULT_THROTTLE_CLASSES": [
        "apps.accounts.tokens.AnonThrottle",
        "apps.accounts.tokens.UserThrottle",
        "apps.accounts.tokens.ScopedThrottle",
    ],
    # Per client address (anon), per user (user), and for token management (auth). Counted in
    # the default cache: set CACHE_URL to a shared cache when several processes serve the API.
    "DEFAULT_THROTTLE_RATES": {
        "anon": _rate("ARBITER_API_RATE_ANON", "60/min"),
        "user": _rate("ARBITER_API_RATE_USER", "1200/min"),
        "auth": _rate("ARBITER_API_RATE_AUTH", "30/min"),
    },
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "apps.core.apis.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "ENUM_NAME_OVERRIDES": {
        "ExportKindEnum": "apps.exports.models.ExportKind",
        "WebhookEventEnum": "apps.core.events.EventName",
        "FeedbackKindEnum": "apps.projects.models.FeedbackKind",
        "JobStatusEnum": "apps.core.jobs.JobStatus",
        "ImportPhaseEnum": "apps.imports.models.ImportPhase",
    },
    # Swagger UI's files come from this package, not a CDN: /api/docs/ works offline and under the CSP.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "TITLE": "Arbiter API",
    "DESCRIPTION": "Import prompts and responses, label them, export datasets.",
    # Without deep links Swagger UI puts no link inside each operation's toggle button (a link in a
    # button is a nested control: axe nested-interactive; tests/accessibility/test_axe.py).
    "SWAGGER_UI_SETTINGS": {"deepLinking": False},
    "VERSION": "0.1.0",
}

# Content-Security-Policy (django-csp): script only from our own files (no inline script; a
# template that needs one gives it nonce="{{ request.csp_nonce }}"), images only from our own
# origin (rendered Markdown never loads one: apps/core/markdown.py), nothing fetched from or
# posted to elsewhere, no framing. Inline style stays allowed: our templates set widths with it,
# and untrusted text never reaches a style (Markdown keeps only table-cell alignment).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
# JSON and form bodies larger than this are refused (400) before they are parsed; file uploads
# stream to disk and are bounded by ARBITER_IMPORT_MAX_BYTES instead.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2_621_440)

if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # Production runs behind a TLS-terminating proxy that sets X-Forwarded-Proto (and replaces
    # any a client sent); plain HTTP is redirected, and browsers are told to use HTTPS only.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("ARBITER_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("ARBITER_HSTS_SECONDS", default=365 * 24 * 3600)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("ARBITER_HSTS_INCLUDE_SUBDOMAINS", default=False)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
