"""`manage.py serve` (what `make run` starts) in a subprocess on the embedded defaults, and the
process tree it leaves, read from /proc."""

import contextlib
import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from django.conf import settings

BASE_DIR = Path(settings.BASE_DIR)
SERVICE_URL_VARIABLES = ("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL")


def subprocess_environment(var_dir: Path, **overrides) -> dict:
    """The embedded defaults (SQLite, filesystem broker) in a private var dir."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in SERVICE_URL_VARIABLES and not name.startswith("DJANGO_")
    }
    environment.update(
        DJANGO_SETTINGS_MODULE="config.settings.local", FOREWARN_VAR_DIR=str(var_dir), PYTHONUNBUFFERED="1"
    )
    environment.update(overrides)
    return environment


def any_free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def descendants(pid: int) -> set[int]:
    """Every process below pid, from /proc (Linux)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def is_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def admin_login_status(port: int) -> int | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/admin/login/", timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def admin_status(base_url: str, path: str, *, username: str, password: str) -> int:
    """The status of an admin page for a user signed in through the login form."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    with opener.open(f"{base_url}/admin/login/", timeout=10) as page:
        csrf_token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.read().decode())[1]
    form = {"csrfmiddlewaretoken": csrf_token, "username": username, "password": password}
    with opener.open(f"{base_url}/admin/login/?next=/admin/", urllib.parse.urlencode(form).encode(), timeout=10):
        pass
    try:
        with opener.open(base_url + path, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def manage(var_dir: Path, *args: str, **overrides) -> str:
    """A management command in the var dir's embedded setup (as `make run` runs them); its output."""
    finished = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=subprocess_environment(var_dir, **overrides),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    return finished.stdout


def make_run_var_dir(var_dir: Path, **overrides) -> Path:
    """A var dir as `make run` leaves it before serving: migrated, seeds loaded, demo accounts created."""
    manage(var_dir, "migrate", "--noinput", "-v0", **overrides)
    manage(var_dir, "load_seeds", **overrides)
    manage(var_dir, "demo_users", **overrides)
    return var_dir


def demo_password(var_dir: Path, username: str) -> str:
    """A demo account's password, from the credentials file `demo_users` writes."""
    credentials = (var_dir / "demo-credentials.txt").read_text()
    return re.search(rf"^{username}\s+(\S+)", credentials, re.MULTILINE).group(1)


def wait_until(condition, *, timeout: float, what: str, serve: "ServeProcess"):
    """condition() once it is truthy; fails if serve exits or the timeout passes first."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert serve.process.poll() is None, f"serve exited while waiting for {what}:\n{serve.output()}"
        assert time.monotonic() < deadline, f"timed out after {timeout:.0f} s waiting for {what}:\n{serve.output()}"
        time.sleep(0.3)


class ServeProcess:
    """`manage.py serve` in a subprocess, its output collected line by line."""

    def __init__(self, environment: dict, port: int, *options: str):
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--port", str(port), *options],
            cwd=BASE_DIR,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.reader = threading.Thread(target=self.collect, daemon=True)
        self.reader.start()

    def collect(self):
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output():
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise AssertionError(f"{text!r} did not appear; output so far:\n{self.output()}")
            time.sleep(0.2)

    def kill_everything(self):
        for pid in descendants(self.process.pid) | {self.process.pid}:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
