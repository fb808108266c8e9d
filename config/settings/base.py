"""Settings shared by every environment; everything that varies is read from the environment."""

from pathlib import Path

import environ
from csp.constants import NONE, SELF, UNSAFE_INLINE

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
env.read_env(BASE_DIR / ".env", overwrite=False)
VAR_DIR = Path(env.str("FOREWARN_VAR_DIR", default=str(BASE_DIR / "var")))

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="forewarn-insecure-local-key-change-me")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("FOREWARN_SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "config.admin.ForewarnAdminConfig",  # django.contrib.admin with the throttled login
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "forecasts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # A NUL anywhere in a request is a 400 before it can reach a query (forecasts/middleware.py).
    "forecasts.middleware.NullByteMiddleware",
    # A Content-Security-Policy on every page (CONTENT_SECURITY_POLICY below).
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # A dropped database connection answers 503 + Retry-After rather than 500 (forecasts/middleware.py).
    "forecasts.middleware.DatabaseUnavailableMiddleware",
    # What an API answers a signed-in caller is never stored by a browser or a proxy.
    "forecasts.middleware.NoStoreForAuthenticatedApiMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "forecasts" / "templates"],
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


def database_from_url(url: str) -> dict:
    """One DATABASES entry from a URL, with the options each backend needs under load."""
    config = env.db_url_config(url)
    if config["ENGINE"] == "django.db.backends.sqlite3":
        Path(config["NAME"]).parent.mkdir(parents=True, exist_ok=True)
        # SQLite ignores select_for_update; IMMEDIATE transactions and a busy timeout
        # make concurrent writers queue instead of failing with "database is locked".
        config["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    else:
        config["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=60)
        config["CONN_HEALTH_CHECKS"] = True
        if "postgresql" in config["ENGINE"]:
            # PostgreSQL's JIT compiles any statement estimated above jit_above_cost: 10-300 ms of
            # compiling for queries that run in a few (the leaderboard took 460 ms with it, 135 ms
            # without; the sweep's small batches, a list's count). Off for Forewarn's sessions.
            # https://www.postgresql.org/docs/current/jit-decision.html
            options = config.setdefault("OPTIONS", {})
            options["options"] = f"{options.get('options', '')} -c jit=off".strip()
    return config


DATABASES = {"default": database_from_url(env.str("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'forewarn.sqlite3'}"))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Email: console by default; set EMAIL_URL (e.g. smtp+tls://user:pass@host:587) in production.
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Forewarn <forewarn@localhost>")

# A hung Redis must not block a web request for long.
REDIS_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": 3,
    "socket_timeout": 5,
    "visibility_timeout": 3600,
}


def filesystem_broker(var_dir: Path) -> dict:
    """The settings of kombu's filesystem transport under var_dir/celery (the broker of `make run`)."""
    queue_dir = var_dir / "celery" / "queue"
    control_dir = var_dir / "celery" / "control"
    # kombu expects the folders to exist: any process that queues a task (web, load_seeds) needs them.
    for folder in (queue_dir, control_dir):
        folder.mkdir(parents=True, exist_ok=True)
    return {
        "CELERY_QUEUE_DIR": queue_dir,
        "CELERY_CONTROL_DIR": control_dir,
        "CELERY_BROKER_TRANSPORT_OPTIONS": {
            "data_folder_in": str(queue_dir),
            "data_folder_out": str(queue_dir),
            "store_processed": False,
            # Broadcast (control) exchanges; kombu's default is ./control in the working directory.
            "control_folder": str(control_dir),
        },
    }


# Celery: Redis when configured, otherwise kombu's filesystem transport under var/.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=env.str("REDIS_URL", default="filesystem://"))
if CELERY_BROKER_URL.startswith("filesystem"):
    vars().update(filesystem_broker(VAR_DIR))
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = REDIS_TRANSPORT_OPTIONS
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5}
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"


def login_cache(url: str) -> dict:
    """The CACHES entry that counts sign-in attempts, with short timeouts when it is Redis."""
    config = env.cache_url_config(url)
    config["KEY_PREFIX"] = "forewarn"
    if config["BACKEND"].endswith("RedisCache"):
        # A hung Redis delays a sign-in by a second at most; forecasts/services/logins.py then lets it through.
        config["OPTIONS"] = {"socket_connect_timeout": 1, "socket_timeout": 1}
    return config


# Request throttles count in each process's memory (the default cache): a Redis outage must not fail
# every API request. Sign-in attempts count in one store every web process shares: Redis when the broker
# is Redis (production, docker compose), else files in FOREWARN_VAR_DIR, shared by the processes of one machine.
LOGIN_CACHE_URL = env.str(
    "FOREWARN_LOGIN_CACHE_URL",
    default=CELERY_BROKER_URL if CELERY_BROKER_URL.startswith("redis") else f"filecache://{VAR_DIR / 'logins'}",
)
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "logins": login_cache(LOGIN_CACHE_URL),
}

REST_FRAMEWORK = {
    # Token first: its WWW-Authenticate header is what turns "no credentials" into a 401 (not a 403).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # DRF's token, refused once older than FOREWARN_API_TOKEN_MAX_AGE_DAYS.
        "forecasts.api.authentication.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["forecasts.api.filters.FilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "forecasts.api.schema.ForewarnAutoSchema",
    # JSON in, JSON out (the browsable API for people signed in to the admin).
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    # Every error body is {"field": ["message"]}; see forecasts/api/exceptions.py.
    "EXCEPTION_HANDLER": "forecasts.api.exceptions.api_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "forecasts.api.throttling.AnonymousRateThrottle",
        "forecasts.api.throttling.SignedInRateThrottle",
    ],
    # Rates as "<requests>/<second|minute|hour|day>"; an empty value switches that limit off.
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("FOREWARN_THROTTLE_ANON", default="60/minute") or None,
        "user": env.str("FOREWARN_THROTTLE_USER", default="1200/minute") or None,
    },
    # How many proxies in front append to X-Forwarded-For. 0: the header is the client's to forge,
    # so the TCP peer address counts (the API throttles and the sign-in throttle alike).
    "NUM_PROXIES": env.int("FOREWARN_NUM_PROXIES", default=0),
}
# A bigger request body gets a 413 from the API (and a 400 from the admin).
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("FOREWARN_MAX_REQUEST_BYTES", default=1024 * 1024)

# Content-Security-Policy (django-csp, https://django-csp.readthedocs.io/): scripts only from our own
# files, so an injected <script> or event handler cannot run on the admin, the API docs or the link
# pages. Inline styles stay allowed: the admin's and Swagger UI's style attributes need them.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Forewarn API",
    "DESCRIPTION": "Crisis forecasts: questions, forecasts, resolutions and calibration.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Request and response components apart, so read-only fields never appear as inputs.
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI served from our own static files, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/api/",
    "ENUM_NAME_OVERRIDES": {
        "QuestionStatusEnum": "forecasts.models.QuestionStatus",
        "QuestionKindEnum": "forecasts.models.QuestionKind",
        "QuestionGroupKindEnum": "forecasts.models.QuestionGroup.Kind",
        "OutcomeEnum": "forecasts.models.Question.Outcome",
        "SourceKindEnum": "forecasts.models.Source.Kind",
        "NotificationKindEnum": "forecasts.models.Notification.Kind",
        "HealthStatusEnum": "forecasts.api.serializers.HEALTH_STATUSES",
    },
}

FOREWARN = {
    # Default time between window end and resolve-by when a question does not set one.
    "RESOLVE_GRACE_DAYS": env.int("FOREWARN_RESOLVE_GRACE_DAYS", default=3),
}

# Lifecycle: sweep, reminders, digests, webhooks and one-click links (forecasts/services/lifecycle.py,
# reminders.py, deliveries.py). The beat intervals seed django-celery-beat's rows once; after that the admin rules.
FOREWARN.update(
    {
        "SWEEP_INTERVAL_SECONDS": env.int("FOREWARN_SWEEP_INTERVAL_SECONDS", default=60),
        "DIGEST_INTERVAL_SECONDS": env.int("FOREWARN_DIGEST_INTERVAL_SECONDS", default=120),
        # Rows per locked batch: fewer statements and commits per close, each batch's row locks
        # held a little longer (about 0.1 s at 2,000); 500 took about 15% longer on 10,000 windows.
        "SWEEP_BATCH_SIZE": env.int("FOREWARN_SWEEP_BATCH_SIZE", default=2000),
        # Resolver reminders, in days after the window closed; then every REPEAT days until resolved.
        "REMINDER_DAYS": [float(day) for day in env.list("FOREWARN_REMINDER_DAYS", default=["0", "1", "3", "7"])],
        "REMINDER_REPEAT_DAYS": env.float("FOREWARN_REMINDER_REPEAT_DAYS", default=7),
        "ESCALATION_REPEAT_DAYS": env.float("FOREWARN_ESCALATION_REPEAT_DAYS", default=7),
        "CLOSING_SOON_HOURS": env.float("FOREWARN_CLOSING_SOON_HOURS", default=24),
        # Default digest period of a user who has not chosen one (Profile.digest_period).
        "DIGEST_PERIOD_MINUTES": env.int("FOREWARN_DIGEST_PERIOD_MINUTES", default=60),
        "ACTION_LINK_MAX_AGE_DAYS": env.int("FOREWARN_ACTION_LINK_MAX_AGE_DAYS", default=7),
        # An API token stops working this long after it was issued (a new password revokes it at once).
        "API_TOKEN_MAX_AGE_DAYS": env.int("FOREWARN_API_TOKEN_MAX_AGE_DAYS", default=90),
        "WEBHOOK_TIMEOUT_SECONDS": env.float("FOREWARN_WEBHOOK_TIMEOUT_SECONDS", default=5),
        "WEBHOOK_MAX_ATTEMPTS": env.int("FOREWARN_WEBHOOK_MAX_ATTEMPTS", default=6),
        # Webhooks go to public addresses only; these host names or CIDRs (an internal chat server) are
        # allowed besides (forecasts/services/webhook_targets.py).
        "WEBHOOK_ALLOWED_HOSTS": env.list("FOREWARN_WEBHOOK_ALLOWED_HOSTS", default=[]),
        # A delivery nobody finished within this long (lost task, killed worker) is queued again.
        "DELIVERY_REDISPATCH_MINUTES": env.int("FOREWARN_DELIVERY_REDISPATCH_MINUTES", default=10),
    }
)
# Sign-in throttle of /api/auth/token/ and /admin/login/ (forecasts/services/logins.py).
FOREWARN["LOGINS"] = {
    "RATE_PER_USERNAME": env.str("FOREWARN_LOGIN_RATE_PER_USERNAME", default="5/minute") or None,
    "RATE_PER_ADDRESS": env.str("FOREWARN_LOGIN_RATE_PER_ADDRESS", default="20/minute") or None,
    "FAILURE_LIMIT": env.int("FOREWARN_LOGIN_FAILURE_LIMIT", default=10),
    "FAILURE_WINDOW_SECONDS": env.int("FOREWARN_LOGIN_FAILURE_WINDOW_SECONDS", default=900),
    "LOCKOUT_SECONDS": env.int("FOREWARN_LOGIN_LOCKOUT_SECONDS", default=300),
}
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=20)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    # Calendar and one-click link tokens in a logged path become <hidden> (forecasts/log_masking.py).
    "filters": {"secret_paths": {"()": "forecasts.log_masking.SecretPathFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["secret_paths"]}},
    "loggers": {
        # runserver's request lines and the "Not Found: <path>" warnings, masked where they are logged.
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False, "filters": ["secret_paths"]},
        # gunicorn's access log already has a line for each 4xx; Django would add a second one (a 403
        # from the admin with a traceback). Errors (5xx) keep their traceback.
        "django.request": {"level": "ERROR", "filters": ["secret_paths"]},
    },
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="INFO")},
}

# The calibration rollup (forecasts.ScoreRollup) is kept on PostgreSQL only; on SQLite calibration
# reads the scores directly, so its NULLS NOT DISTINCT unique constraint is not needed there.
SILENCED_SYSTEM_CHECKS = ["models.W047"]
