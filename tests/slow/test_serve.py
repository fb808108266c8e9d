"""`make run` end to end, on the embedded defaults (SQLite and the filesystem broker in a var dir
of its own): set up as `make run` does, `manage.py serve` starts web (gunicorn), Celery worker and
beat, serves /admin/login/ and the static files, closes a question's window on time, keeps its log
to one line per request (none for static files, no traceback for a 403), and stops every process
on SIGINT.
"""

import signal
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.support.http import call
from tests.support.serve import (
    ServeProcess,
    admin_login_status,
    admin_status,
    any_free_port,
    demo_password,
    descendants,
    is_alive,
    make_run_var_dir,
    subprocess_environment,
    wait_until,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the process tree from /proc"),
]

# Beat's sweep entry is seeded from this at migrate time; a test-sized tick instead of a minute.
FAST_SWEEP = {"FOREWARN_SWEEP_INTERVAL_SECONDS": "1"}
WINDOW_SECONDS = 5
STOP_TIMEOUT_SECONDS = 30
STATIC_PATHS = (
    "/static/admin/css/base.css",
    "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css",
)
# The Forecasters group may not manage accounts: a 403 from the admin.
FORBIDDEN_ADMIN_PATH = "/admin/auth/user/"
MISSING_PATH = "/no-such-page/"


@pytest.fixture(scope="module")
def run_var_dir(tmp_path_factory):
    """A var dir as `make run` leaves it before serving."""
    return make_run_var_dir(tmp_path_factory.mktemp("serve-var"), **FAST_SWEEP)


def test_make_run_serves_the_admin_closes_a_window_and_stops_on_sigint(run_var_dir):
    started = time.monotonic()
    port = any_free_port()
    base_url = f"http://127.0.0.1:{port}"
    serve = ServeProcess(subprocess_environment(run_var_dir, FOREWARN_SITE_URL=base_url, **FAST_SWEEP), port)
    try:
        wait_until(lambda: admin_login_status(port) == 200, timeout=90, what="/admin/login/ to answer 200", serve=serve)
        serve.wait_for("ready.", timeout=60)
        serve.wait_for("beat: Starting", timeout=60)
        serving = time.monotonic()
        children = descendants(serve.process.pid)
        assert len(children) >= 3

        answer = call(base_url, "POST", "/api/auth/token/", body={
            "username": "forecaster", "password": demo_password(run_var_dir, "forecaster"),
        })  # fmt: skip
        assert answer.status == 200, answer.body
        token = answer.body["token"]
        for path in STATIC_PATHS:
            assert call(base_url, "GET", path).status == 200, path
        assert call(base_url, "GET", MISSING_PATH).status == 404
        forecaster = {"username": "forecaster", "password": demo_password(run_var_dir, "forecaster")}
        assert admin_status(base_url, FORBIDDEN_ADMIN_PATH, **forecaster) == 403
        window_end = datetime.now(UTC) + timedelta(seconds=WINDOW_SECONDS)
        answer = call(base_url, "POST", "/api/questions/", token=token, body={
            "title": "Will the window close while make run is up?",
            "resolution_criteria": "It closes when its window ends.",
            "window_end": window_end.isoformat(),
        })  # fmt: skip
        assert answer.status == 201, answer.body
        assert answer.body["status"] == "open"
        question_path = f"/api/questions/{answer.body['id']}/"

        def closed():
            question = call(base_url, "GET", question_path, token=token).body
            return question if question["status"] == "awaiting_resolution" else None

        question = wait_until(closed, timeout=60, what="the sweep to close the window", serve=serve)
        closed_after = datetime.now(UTC) - window_end
        assert question["closed_at"] is not None

        stopping = time.monotonic()
        serve.process.send_signal(signal.SIGINT)
        assert serve.process.wait(timeout=STOP_TIMEOUT_SECONDS) == 0, serve.output()
        deadline = time.monotonic() + 5
        while [pid for pid in children if is_alive(pid)] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [pid for pid in children if is_alive(pid)], serve.output()
        stopped = time.monotonic()
    finally:
        serve.kill_everything()
    output = serve.output()
    assert f"{base_url}/admin/" in output
    assert "worker | " in output and "beat   | " in output and "web    | " in output
    assert (run_var_dir / "celery" / "queue").is_dir()
    assert "SIGINT received" in output and "stopped." in output
    web_lines = [line for line in serve.lines if line.startswith("web    | ")]
    assert any("Booting worker" in line for line in web_lines), output
    assert not [line for line in web_lines if "/static/" in line], output
    assert "Traceback" not in output
    assert len([line for line in serve.lines if FORBIDDEN_ADMIN_PATH in line]) == 1, output
    assert len([line for line in serve.lines if MISSING_PATH in line]) == 1, output
    print(
        f"\nserving after {serving - started:.1f} s; window closed {closed_after.total_seconds():.1f} s after its end;"
        f" every process gone {stopped - stopping:.1f} s after SIGINT; {stopped - started:.1f} s in all"
    )


def test_serve_stops_everything_and_fails_when_a_child_dies(run_var_dir):
    port = any_free_port()
    # An unknown broker transport makes the worker and beat exit at start-up.
    serve = ServeProcess(subprocess_environment(run_var_dir, CELERY_BROKER_URL="nosuchtransport://"), port)
    try:
        assert serve.process.wait(timeout=90) != 0, serve.output()
        time.sleep(0.5)
        assert admin_login_status(port) is None
    finally:
        serve.kill_everything()
    assert "exited with code" in serve.output()
