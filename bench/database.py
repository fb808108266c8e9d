"""The bench's own PostgreSQL database: created, migrated, used and dropped, never the real one."""

import os
import re
from contextlib import contextmanager
from urllib.parse import quote

import psycopg
from django.core.management import call_command
from django.db import connections

BENCH_DATABASE_PREFIX = "forewarn_bench"
# Lower-case letters, digits and underscores with "bench" in it, short enough for the "_10k" twin:
# the bench drops what it creates, so it never takes a name that could be a real database's.
BENCH_DATABASE_NAME = re.compile(r"^(?=[a-z0-9_]*bench)[a-z][a-z0-9_]{0,54}$")


class BadDatabaseName(ValueError):
    """A bench database name that could be someone's real database."""


def default_database_name() -> str:
    """A name of this run's own, so two runs on one server never share (or drop) each other's data."""
    return f"{BENCH_DATABASE_PREFIX}_{os.getpid()}"


def database_name_check(name: str) -> None:
    if not BENCH_DATABASE_NAME.match(name):
        raise BadDatabaseName(
            f"The bench database's name must contain 'bench' and be lower-case letters, digits and underscores "
            f"(at most 55 characters), got {name!r}."
        )


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
    database_name_check(name.removesuffix("_10k"))
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
