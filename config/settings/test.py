"""Test settings: PostgreSQL and Redis on localhost when they answer, SQLite otherwise.

Under CI=true a missing service is an error, so a green run always means the real services.
"""

import socket
import sys

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403


def service_answers(host: str, port: int) -> bool:
    """True when something accepts TCP connections on host:port within a second."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


IN_CI = env.bool("CI", default=False)  # noqa: F405
TEST_DATABASE_URL = env.str(  # noqa: F405
    "TEST_DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/forewarn"
)
TEST_REDIS_URL = env.str("TEST_REDIS_URL", default="redis://127.0.0.1:6379/15")  # noqa: F405

missing = []
if service_answers("127.0.0.1", 5432):
    DATABASES = {"default": database_from_url(TEST_DATABASE_URL)}  # noqa: F405
    DATABASES["default"]["CONN_MAX_AGE"] = 0
else:
    missing.append("PostgreSQL on 127.0.0.1:5432")
    DATABASES = {"default": database_from_url(f"sqlite:///{VAR_DIR / 'test.sqlite3'}")}  # noqa: F405

if service_answers("127.0.0.1", 6379):
    CELERY_BROKER_URL = TEST_REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "socket_connect_timeout": 3,
        "socket_timeout": 5,
        "visibility_timeout": 3600,
    }
else:
    missing.append("Redis on 127.0.0.1:6379")

if missing:
    if IN_CI:
        raise ImproperlyConfigured(f"CI=true but these services do not answer: {', '.join(missing)}")
    print(
        "\n" + "!" * 78 + f"\n!! NOT TESTING AGAINST: {', '.join(missing)}\n"
        "!! Falling back to SQLite / the filesystem broker. Start the services for a real run.\n"
        + "!" * 78 + "\n",
        file=sys.stderr,
    )

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405
