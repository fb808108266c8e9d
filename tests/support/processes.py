"""Real processes for the fault and soak tests: Celery worker and beat, gunicorn, a private Redis.

Builds on the `processes` fixture of test_lifecycle_integration (same test database, same
file-based email folder); adds gunicorn, a redis-server of the test's own, a slow mail backend
and a short delivery lease, all by environment so production code is untouched.
"""

import socket
import subprocess
import urllib.request
from pathlib import Path

from tests.test_lifecycle_integration import Processes, wait_for

# Like test_lifecycle_integration's boot script, plus gunicorn, the slow mail backend and a lease
# length the test chooses (so a killed sender's lease runs out in seconds, not minutes).
BOOT = """
import os, sys
from datetime import timedelta
import django
from django.conf import settings
django.setup()
settings.EMAIL_BACKEND = "tests.support.mail.SlowFileEmailBackend"
settings.EMAIL_FILE_PATH = os.environ["FOREWARN_TEST_EMAIL_DIR"]
if os.environ.get("FOREWARN_TEST_LEASE_SECONDS"):
    from forecasts.services import deliveries
    deliveries.LEASE = timedelta(seconds=float(os.environ["FOREWARN_TEST_LEASE_SECONDS"]))
if sys.argv[1] == "manage":
    from django.core.management import call_command
    call_command(*sys.argv[2:])
elif sys.argv[1] == "gunicorn":
    from gunicorn.app.wsgiapp import run
    sys.argv = ["gunicorn", *sys.argv[2:]]
    run()
else:
    from config.celery import app
    app.start(sys.argv[1:])
"""


def port_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class FaultProcesses(Processes):
    """`Processes` with the boot script above; stopped (by pid) with the ones the fixture started."""

    boot = BOOT

    def gunicorn(self, name: str, *, port: int, workers: int = 2, **extra_environment) -> subprocess.Popen:
        """gunicorn serving the app on 127.0.0.1:port; returns once it answers /api/health/."""
        if port_answers(port):
            raise AssertionError(f"port {port} is already in use")
        process = self.start(
            name, "gunicorn", "config.wsgi:application", "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
            "--timeout", "120", "--graceful-timeout", "5", "--access-logfile", "-", **extra_environment,
        )

        def healthy():
            if process.poll() is not None:
                raise AssertionError(f"gunicorn exited with {process.returncode}:\n{self.log(name)[-3000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health/", timeout=5) as response:
                    return response.status == 200
            except OSError:
                return False

        wait_for(healthy, timeout=60, interval=0.3, what="gunicorn to answer")
        return process


class PrivateRedis:
    """A redis-server of the test's own, which the test may stop and start again (never the shared one)."""

    def __init__(self, port: int, log_dir: Path):
        self.port = port
        self.log_dir = log_dir
        self.process: subprocess.Popen | None = None
        self.url = f"redis://127.0.0.1:{port}/0"

    def start(self) -> None:
        if port_answers(self.port):
            raise AssertionError(f"port {self.port} is already in use")
        log = open(self.log_dir / f"redis-{self.port}.log", "a")
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_for(lambda: port_answers(self.port), timeout=15, what=f"redis-server on {self.port}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)
        self.process = None
        wait_for(lambda: not port_answers(self.port), timeout=10, what=f"redis-server on {self.port} to stop")


def free_port(candidates: range) -> int:
    for port in candidates:
        if not port_answers(port):
            return port
    raise AssertionError(f"no free port in {candidates}")
