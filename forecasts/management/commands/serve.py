"""Run web (gunicorn), Celery worker and Celery beat together in the foreground; Ctrl-C stops all three.

gunicorn's sync workers hold one database connection each, so `make run` on PostgreSQL holds at
most web workers + Celery worker processes + beat connections, whatever the traffic.
"""

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from forecasts.management.commands.demo_users import credentials_path

STOP_TIMEOUT_SECONDS = 20
DEFAULT_WEB_WORKERS = 2
PR_SET_PDEATHSIG = 1


@dataclass
class Child:
    name: str
    command: list[str]
    process: subprocess.Popen | None = None
    reader: threading.Thread | None = field(default=None, repr=False)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


def die_with_parent() -> None:
    """Runs in each child before exec: on Linux, SIGTERM it if `serve` itself is killed outright."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def database_description() -> str:
    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):
        return f"SQLite {database['NAME']}"
    return f"{connection.vendor} database {database['NAME']} on {database.get('HOST') or 'localhost'}:{database.get('PORT') or 'default port'}"


def broker_description() -> str:
    if settings.CELERY_BROKER_URL.startswith("filesystem"):
        return f"filesystem queue in {settings.CELERY_QUEUE_DIR}"
    parts = urlsplit(settings.CELERY_BROKER_URL)
    # Never print a password that may be part of the URL.
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}"


class Command(BaseCommand):
    help = "Start web (gunicorn), a Celery worker and Celery beat in the foreground; Ctrl-C stops all three."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="Address the web server listens on.")
        parser.add_argument("--port", type=int, default=8000, help="Port of the web server (default 8000).")
        parser.add_argument(
            "--web-workers",
            type=int,
            default=int(os.environ.get("WEB_CONCURRENCY") or DEFAULT_WEB_WORKERS),
            help=f"gunicorn worker processes (default $WEB_CONCURRENCY or {DEFAULT_WEB_WORKERS}).",
        )
        parser.add_argument("--concurrency", type=int, default=2, help="Celery worker processes (default 2).")

    def handle(self, *args, host: str, port: int, web_workers: int, concurrency: int, **options):
        self.output_lock = threading.Lock()
        self.check_ready(host, port)
        # The children open their own connections; this one would sit idle as long as they run.
        connection.close()
        self.broker_folders_create()
        bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        children = [
            Child(
                "web",
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "config.wsgi:application",
                    "--config",
                    "python:config.gunicorn_serve",
                    "--bind",
                    bind,
                    "--workers",
                    str(web_workers),
                ],
            ),
            Child(
                "worker",
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "config",
                    "worker",
                    "-l",
                    "info",
                    "--concurrency",
                    str(concurrency),
                ],
            ),
            Child("beat", [sys.executable, "-m", "celery", "-A", "config", "beat", "-l", "info"]),
        ]
        stop_requested = threading.Event()
        received = []

        def request_stop(signum, frame):
            received.append(signal.Signals(signum).name)
            stop_requested.set()

        previous_handlers = {signum: signal.signal(signum, request_stop) for signum in (signal.SIGINT, signal.SIGTERM)}
        failed = None
        try:
            self.start(children)
            self.print_banner(host, port, web_workers=web_workers, concurrency=concurrency)
            while not stop_requested.wait(0.2):
                failed = next((child for child in children if not child.running), None)
                if failed:
                    break
        finally:
            if received:
                self.say(f"serve  | {received[0]} received: stopping web, worker and beat...")
            elif failed:
                self.say(f"serve  | {failed.name} exited with code {failed.process.returncode}; stopping the others...")
            self.stop(children)
            for signum, handler in previous_handlers.items():
                signal.signal(signum, handler)
        if failed and not received:
            raise CommandError(f"{failed.name} exited with code {failed.process.returncode}; everything was stopped.")
        self.say("serve  | stopped.")

    def check_ready(self, host: str, port: int) -> None:
        executor = MigrationExecutor(connection)
        if executor.migration_plan(executor.loader.graph.leaf_nodes()):
            raise CommandError(
                "The database has unapplied migrations: run `python manage.py migrate` first (`make run` does)."
            )
        if not port_is_free(host, port):
            raise CommandError(
                f"Port {port} on {host} is already in use: pick another with --port (make run PORT=8001)."
            )

    def broker_folders_create(self) -> None:
        """The filesystem broker's folders; kombu creates only the last level itself."""
        if not settings.CELERY_BROKER_URL.startswith("filesystem"):
            return
        options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
        for folder in {
            settings.CELERY_QUEUE_DIR,
            options.get("data_folder_in"),
            options.get("data_folder_out"),
            options.get("control_folder"),
        }:
            if folder:
                Path(folder).mkdir(parents=True, exist_ok=True)

    def start(self, children: list[Child]) -> None:
        environment = {**os.environ, "PYTHONUNBUFFERED": "1"}
        for child in children:
            child.process = subprocess.Popen(
                child.command,
                cwd=settings.BASE_DIR,
                env=environment,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                encoding="utf-8",
                errors="replace",
                bufsize=1,
                # Own process group: a terminal's Ctrl-C reaches `serve` only, which then stops
                # each child once and in order, instead of every process reacting on its own.
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        for child in children:
            child.reader = threading.Thread(target=self.relay, args=(child,), daemon=True)
            child.reader.start()

    def relay(self, child: Child) -> None:
        prefix = f"{child.name:<6} | "
        for line in child.process.stdout:
            self.say(prefix + line.rstrip("\n"))

    def say(self, line: str) -> None:
        with self.output_lock:
            self.stdout.write(line)
            self.stdout.flush()

    def stop(self, children: list[Child]) -> None:
        for child in children:
            if child.running:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for child in children:
            if child.process is None:
                continue
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.say(f"serve  | {child.name} did not stop in {STOP_TIMEOUT_SECONDS}s: killing it.")
            # Whatever is left in the child's group (e.g. pool processes of a killed worker) goes too.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(child.process.pid, signal.SIGKILL)
            child.process.wait()
        for child in children:
            if child.reader:
                child.reader.join(timeout=5)

    def print_banner(self, host: str, port: int, *, web_workers: int, concurrency: int) -> None:
        shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        credentials = credentials_path()
        accounts = f"{credentials}" if credentials.exists() else "none yet: run `python manage.py demo_users`"
        for line in (
            "serve  | Forewarn is starting: web, Celery worker and Celery beat. Ctrl-C stops all three.",
            f"serve  |   log in     http://{shown_host}:{port}/admin/",
            f"serve  |   accounts   {accounts}",
            f"serve  |   processes  gunicorn with {web_workers} web workers, {concurrency} Celery worker processes, beat",
            f"serve  |   database   {database_description()}",
            f"serve  |   broker     {broker_description()}",
        ):
            self.say(line)
