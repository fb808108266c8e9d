"""Real processes for the slow suites: Celery worker and beat, gunicorn, a private Redis.

Subprocesses connected to pytest's test database, their email going to the file backend in a
temporary folder the test can read. The fixtures `processes` and `fault_processes` (a plugin of
conftest) stop every process they started, by pid.
"""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import timedelta
from email import message_from_string
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from forecasts.models import Notification, Question
from forecasts.schedules import beat_schedule_sync
from tests import factories

BASE_DIR = Path(settings.BASE_DIR)

# Runs in each subprocess: the test settings, but email to files the test can read.
BOOT = """
import os, sys
import django
from django.conf import settings
django.setup()
settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
settings.EMAIL_FILE_PATH = os.environ["FOREWARN_TEST_EMAIL_DIR"]
if os.environ.get("FOREWARN_TEST_BATCH_DELAY_SECONDS"):
    # Holds each batch of the close step open a while, so a kill lands inside one.
    import time
    from forecasts.services import lifecycle
    pause, in_locked_batches = float(os.environ["FOREWARN_TEST_BATCH_DELAY_SECONDS"]), lifecycle.in_locked_batches

    def held_open(handle):
        def handle_then_wait(rows):
            results = handle(rows)
            time.sleep(pause)
            return results
        return handle_then_wait

    lifecycle.in_locked_batches = lambda queryset, handle, **options: in_locked_batches(
        queryset, held_open(handle), **options
    )
if sys.argv[1] == "manage":
    from django.core.management import call_command
    call_command(*sys.argv[2:])
else:
    from config.celery import app
    app.start(sys.argv[1:])
"""


def wait_for(condition, *, timeout: float, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


class Processes:
    """Subprocesses this test started; all are stopped (by pid) when it ends."""

    boot = BOOT  # the script each subprocess runs; subclasses may boot differently

    def __init__(self, environment: dict, log_dir: Path):
        self.environment = environment
        self.log_dir = log_dir
        self.started: list[subprocess.Popen] = []

    def start(self, name: str, *args: str, **extra_environment) -> subprocess.Popen:
        with open(self.log_dir / f"{name}.log", "w") as log:  # the child keeps its own copy of the file
            process = subprocess.Popen(
                [sys.executable, "-c", self.boot, *args],
                cwd=BASE_DIR,
                env={**self.environment, **extra_environment},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.started.append(process)
        return process

    def worker(self, name: str, **extra_environment) -> subprocess.Popen:
        return self.start(
            name,
            "worker",
            "--pool=solo",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-n",
            f"{name}@%h",
            **extra_environment,
        )

    def log(self, name: str) -> str:
        return (self.log_dir / f"{name}.log").read_text()

    def stop_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.terminate()
        for process in self.started:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def processes(tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: worker processes cannot share SQLite's in-memory test database")
    from config.celery import app

    app.control.purge()  # stale messages from earlier runs on this test broker
    database = connection.settings_dict
    email_dir = tmp_path / "mail"
    email_dir.mkdir()
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        # The already-prefixed test database: only pytest-django adds "test_", not the subprocess.
        "TEST_DATABASE_URL": (
            f"postgres://{database['USER']}:{database['PASSWORD'] or ''}@{database['HOST'] or '127.0.0.1'}:"
            f"{database['PORT'] or 5432}/{database['NAME']}"
        ),
        "TEST_REDIS_URL": settings.CELERY_BROKER_URL,
        "FOREWARN_VAR_DIR": str(settings.VAR_DIR),  # the filesystem broker's folder, when Redis is absent
        "FOREWARN_TEST_EMAIL_DIR": str(email_dir),
        "PYTHONUNBUFFERED": "1",
    }
    group = Processes(environment, tmp_path)
    group.email_dir = email_dir
    yield group
    group.stop_all()


def emails_in(directory: Path) -> list:
    """Every message the file backend wrote (one file per connection, messages separated by a rule)."""
    messages = []
    for path in sorted(directory.glob("*.log")):
        for chunk in path.read_text().split("-" * 79):
            if chunk.strip():
                messages.append(message_from_string(chunk.strip()))
    return messages


def text_body(message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return part.get_payload(decode=True).decode()
    return ""


def beat_every(seconds: int) -> None:
    """What an operator does in the admin: retime the beat entries (here to a test-sized tick)."""
    beat_schedule_sync()  # what migration 0003 did before the database was flushed
    interval, _ = IntervalSchedule.objects.get_or_create(every=seconds, period=IntervalSchedule.SECONDS)
    assert (
        PeriodicTask.objects.filter(name__in=["forewarn-sweep", "forewarn-digests"]).update(
            interval=interval, expire_seconds=None
        )
        == 2
    )


def due_questions(count: int, owners: int, *, window_end=None, name: str = "load") -> list[int]:
    """`count` open questions of `owners` owners (round robin) whose window ends at `window_end`
    (a minute ago by default), made in one INSERT; their ids."""
    users = [factories.UserFactory(username=f"{name}-owner-{n}") for n in range(owners)]
    window_end = window_end or timezone.now() - timedelta(minutes=1)
    created = Question.objects.bulk_create(
        [
            Question(
                owner=users[n % owners],
                title=f"{name.capitalize()} question {n}",
                resolution_criteria="c",
                window_end=window_end,
                resolve_by=window_end + timedelta(days=3),
                status=Question.Status.OPEN,
                opened_at=window_end - timedelta(days=1),
            )
            for n in range(count)
        ]
    )
    return [question.pk for question in created]


def assert_each_question_notified_exactly_once(question_ids: list[int]) -> None:
    assert Question.objects.filter(pk__in=question_ids, status="awaiting_resolution").count() == len(question_ids)
    ready = Notification.objects.filter(question_id__in=question_ids, kind="ready_to_resolve")
    assert ready.count() == len(question_ids)
    assert ready.values("question_id").distinct().count() == len(question_ids)


# Like BOOT, plus gunicorn, the slow mail backend and a lease
# length the test chooses (so a killed sender's lease runs out in seconds, not minutes).
FAULT_BOOT = """
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

    boot = FAULT_BOOT

    def gunicorn(self, name: str, *, port: int, workers: int = 2, **extra_environment) -> subprocess.Popen:
        """gunicorn serving the app on 127.0.0.1:port; returns once it answers /api/health/."""
        if port_answers(port):
            raise AssertionError(f"port {port} is already in use")
        process = self.start(
            name,
            "gunicorn",
            "config.wsgi:application",
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{port}",
            "--timeout",
            "120",
            "--graceful-timeout",
            "5",
            "--access-logfile",
            "-",
            **extra_environment,
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
        with open(self.log_dir / f"redis-{self.port}.log", "a") as log:  # the child keeps its own copy of the file
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


@pytest.fixture
def fault_processes(processes):
    """`processes` (test database, email folder) with the fault boot: gunicorn, slow mail, short lease."""
    group = FaultProcesses(processes.environment, processes.log_dir)
    group.email_dir = processes.email_dir
    group.started = processes.started  # the `processes` fixture stops every one of them
    return group
