"""`make run` on PostgreSQL holds a bounded number of connections: after a burst of 500 requests
(the admin's login page, an authenticated API list, static files) the database sees at most one
connection per web worker, one for beat and one per Celery worker process.
"""

import re
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from itertools import cycle, islice

import psycopg
import pytest
from django.db import connection

from tests.support.http import call
from tests.support.serve import (
    BASE_DIR,
    ServeProcess,
    admin_login_status,
    any_free_port,
    subprocess_environment,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the process tree from /proc"),
]

REQUESTS = 500
CLIENT_THREADS = 20
WEB_WORKERS = 2
CELERY_CONCURRENCY = 2
STATIC_PATHS = (
    "/static/admin/css/base.css",
    "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css",
)


def maintenance_connection() -> psycopg.Connection:
    params = connection.get_connection_params()
    params = {key: value for key, value in params.items() if key in ("host", "port", "user", "password")}
    return psycopg.connect(dbname="postgres", autocommit=True, **params)


@pytest.fixture
def serve_database():
    """A PostgreSQL database of its own for `serve`, dropped afterwards; yields (name, url)."""
    if connection.vendor != "postgresql":
        pytest.skip("counts connections in PostgreSQL's pg_stat_activity")
    settings = connection.settings_dict
    name = f"{settings['NAME'].removeprefix('test_')}_serve_connections"
    credentials = settings["USER"] + (f":{settings['PASSWORD']}" if settings.get("PASSWORD") else "")
    url = f"postgres://{credentials}@{settings['HOST'] or '127.0.0.1'}:{settings['PORT'] or 5432}/{name}"
    with maintenance_connection() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name, url
    finally:
        with maintenance_connection() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def connections_to(name: str) -> int:
    with maintenance_connection() as admin:
        return admin.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [name]).fetchone()[0]


def manage(environment: dict, *args: str) -> str:
    finished = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=environment, capture_output=True, text=True, timeout=300
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    return finished.stdout


def test_make_run_on_postgresql_holds_a_bounded_number_of_connections(serve_database, tmp_path):
    name, url = serve_database
    port = any_free_port()
    base_url = f"http://127.0.0.1:{port}"
    environment = subprocess_environment(tmp_path, DATABASE_URL=url, FOREWARN_SITE_URL=base_url)
    manage(environment, "migrate", "--noinput", "-v0")
    manage(environment, "demo_users")
    password = re.search(r"^forecaster\s+(\S+)", (tmp_path / "demo-credentials.txt").read_text(), re.MULTILINE)[1]
    serve = ServeProcess(environment, port)
    try:
        deadline = time.monotonic() + 90
        while admin_login_status(port) != 200:
            assert serve.process.poll() is None, serve.output()
            assert time.monotonic() < deadline, serve.output()
            time.sleep(0.3)
        serve.wait_for("beat: Starting", timeout=60)
        serve.wait_for("ready.", timeout=60)
        token = call(base_url, "POST", "/api/auth/token/", body={"username": "forecaster", "password": password})
        assert token.status == 200, token.body
        requests = [
            ("/admin/login/", None),
            ("/api/questions/?page_size=5", token.body["token"]),
            *((path, None) for path in STATIC_PATHS),
        ]

        peak = 0
        burst_over = threading.Event()

        def sample():
            nonlocal peak
            while not burst_over.is_set():
                peak = max(peak, connections_to(name))
                time.sleep(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        with ThreadPoolExecutor(CLIENT_THREADS) as pool:
            answers = list(
                pool.map(
                    lambda request: call(base_url, "GET", request[0], token=request[1]),
                    islice(cycle(requests), REQUESTS),
                )
            )
        burst_over.set()
        sampler.join()
        time.sleep(1)
        after = connections_to(name)
    finally:
        serve.kill_everything()
    statuses = {answer.status for answer in answers}
    bound = WEB_WORKERS + 1 + CELERY_CONCURRENCY
    print(f"\n{REQUESTS} requests: {after} connections afterwards, {peak} at the peak (bound {bound})")
    assert statuses == {200}, statuses
    assert after <= bound, serve.output()
    assert peak <= bound, serve.output()
