"""The bench's own PostgreSQL database: created, migrated, used and dropped, never the real one."""

from contextlib import contextmanager
from urllib.parse import quote

import psycopg
from django.core.management import call_command
from django.db import connections

BENCH_DATABASE_PREFIX = "forewarn_bench"


class NotPostgreSQL(Exception):
    """The configured database is not PostgreSQL: the bench measures PostgreSQL only."""


def require_postgresql() -> None:
    engine = connections["default"].settings_dict["ENGINE"]
    if "postgresql" not in engine:
        raise NotPostgreSQL(
            f"The bench runs on PostgreSQL only, and DATABASE_URL points to {engine}. "
            "Set DATABASE_URL=postgres://user@host:5432/forewarn and run it again."
        )


def maintenance_connection() -> psycopg.Connection:
    """An autocommit connection to the server's `postgres` database, to create and drop databases."""
    params = connections["default"].get_connection_params()
    params = {key: value for key, value in params.items() if key in ("host", "port", "user", "password")}
    return psycopg.connect(dbname="postgres", autocommit=True, **params)


def database_url(name: str) -> str:
    """A DATABASE_URL for the bench database, for the gunicorn workers the bench starts."""
    settings = connections["default"].settings_dict
    credentials = quote(settings["USER"] or "")
    if settings.get("PASSWORD"):
        credentials += ":" + quote(settings["PASSWORD"])
    host = settings["HOST"] or "127.0.0.1"
    port = settings["PORT"] or 5432
    return f"postgres://{credentials}@{host}:{port}/{name}"


def database_drop(name: str) -> None:
    with maintenance_connection() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def bench_database(name: str, *, keep: bool = False):
    """Point the default connection at a fresh, migrated database `name`; drop it afterwards."""
    if not name.startswith(BENCH_DATABASE_PREFIX):
        raise ValueError(f"The bench database's name must start with {BENCH_DATABASE_PREFIX!r}, got {name!r}.")
    require_postgresql()
    database_drop(name)
    with maintenance_connection() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    connection = connections["default"]
    original_name = connection.settings_dict["NAME"]
    connection.close()
    connection.settings_dict["NAME"] = name
    try:
        call_command("migrate", verbosity=0, interactive=False)
        yield
    finally:
        connection.close()
        connection.settings_dict["NAME"] = original_name
        if not keep:
            database_drop(name)
