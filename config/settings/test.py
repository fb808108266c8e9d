"""Test settings: the PostgreSQL and Redis that TEST_DATABASE_URL and TEST_REDIS_URL name, when
they answer; otherwise SQLite and kombu's filesystem broker.

Under CI=true a missing service is an error, so a green run always means the real services.
FOREWARN_TEST_EMBEDDED=1 (`make test-embedded`) runs on the embedded default of `make run`
instead, SQLite and the filesystem broker, even when PostgreSQL and Redis answer.
"""

import socket
import sys
from urllib.parse import unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

from .base import *
from .base import REDIS_TRANSPORT_OPTIONS, STORAGES, VAR_DIR, database_from_url, env, filesystem_broker


def service_address(url: str, default_port: int) -> tuple[str, int]:
    """(host, port) of a service URL; a host that is a folder means PostgreSQL's Unix socket there."""
    parts = urlsplit(url)
    return unquote(parts.hostname or "") or "127.0.0.1", parts.port or default_port


def service_answers(host: str, port: int) -> bool:
    """True when something accepts connections at host:port (or PostgreSQL's socket in folder `host`) within a second."""
    try:
        if host.startswith("/"):
            with socket.socket(socket.AF_UNIX) as probe:
                probe.settimeout(1)
                probe.connect(f"{host.rstrip('/')}/.s.PGSQL.{port}")
            return True
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


IN_CI = env.bool("CI", default=False)
EMBEDDED = env.bool("FOREWARN_TEST_EMBEDDED", default=False)
TEST_DATABASE_URL = env.str("TEST_DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/forewarn")
TEST_REDIS_URL = env.str("TEST_REDIS_URL", default="redis://127.0.0.1:6379/15")
# The embedded default's files, apart from what `make run` keeps in var/.
TEST_VAR_DIR = VAR_DIR / "test"

missing = []
database_host, database_port = service_address(TEST_DATABASE_URL, 5432)
if not EMBEDDED and service_answers(database_host, database_port):
    DATABASES = {"default": database_from_url(TEST_DATABASE_URL)}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
else:
    if not EMBEDDED:
        missing.append(f"PostgreSQL at {database_host}:{database_port}")
    DATABASES = {"default": database_from_url(f"sqlite:///{TEST_VAR_DIR / 'forewarn.sqlite3'}")}
    # A file, like `make run`'s (WAL, IMMEDIATE transactions), not Django's in-memory test database.
    DATABASES["default"]["TEST"] = {"NAME": str(TEST_VAR_DIR / "test_forewarn.sqlite3")}

redis_host, redis_port = service_address(TEST_REDIS_URL, 6379)
if not EMBEDDED and service_answers(redis_host, redis_port):
    CELERY_BROKER_URL = TEST_REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = REDIS_TRANSPORT_OPTIONS
else:
    if not EMBEDDED:
        missing.append(f"Redis at {redis_host}:{redis_port}")
    CELERY_BROKER_URL = "filesystem://"
    vars().update(filesystem_broker(TEST_VAR_DIR))

if missing:
    if IN_CI:
        raise ImproperlyConfigured(f"CI=true but these services do not answer: {', '.join(missing)}")
    print(
        "\n" + "!" * 78 + f"\n!! NOT TESTING AGAINST: {', '.join(missing)}\n"
        "!! Falling back to SQLite / the filesystem broker. Start the services for a real run.\n" + "!" * 78 + "\n",
        file=sys.stderr,
    )

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
# Sign-in counts in memory, cleared by tests/api_support.py before and after every test.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "logins": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "logins"},
}
