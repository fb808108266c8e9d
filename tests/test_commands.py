"""The run experience: demo accounts, `serve`, production settings and the container setup."""

import os
import re
import secrets
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

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


def dotenv_defines(name: str) -> bool:
    dotenv = BASE_DIR / ".env"
    return dotenv.exists() and re.search(rf"^\s*{name}\s*=\s*\S", dotenv.read_text(), re.MULTILINE) is not None


# --- demo_users -------------------------------------------------------------------------------


@pytest.fixture
def var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    return tmp_path


def demo_users() -> str:
    out = StringIO()
    call_command("demo_users", stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_demo_users_creates_admin_and_forecaster_once_with_printed_passwords(var_dir):
    output = demo_users()
    users = get_user_model().objects
    admin, forecaster = users.get(username="admin"), users.get(username="forecaster")
    assert admin.is_superuser and admin.is_staff
    assert forecaster.is_staff and not forecaster.is_superuser
    assert list(forecaster.groups.values_list("name", flat=True)) == ["Forecasters"]
    credentials = var_dir / "demo-credentials.txt"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    for user in (admin, forecaster):
        password = re.search(rf"^\s*{user.username}\s+(\S+)", output, re.MULTILINE).group(1)
        assert user.check_password(password)
        assert password in credentials.read_text()
    assert "/admin/" in output


@pytest.mark.django_db
def test_demo_users_never_resets_a_password(var_dir):
    demo_users()
    hashes = dict(get_user_model().objects.values_list("username", "password"))
    (var_dir / "demo-credentials.txt").unlink()
    output = demo_users()
    assert dict(get_user_model().objects.values_list("username", "password")) == hashes
    assert "already exist" in output and "changepassword" in output
    assert not (var_dir / "demo-credentials.txt").exists()


@pytest.mark.django_db
def test_demo_users_later_runs_point_at_the_credentials_file(var_dir):
    demo_users()
    first_file = (var_dir / "demo-credentials.txt").read_text()
    output = demo_users()
    assert str(var_dir / "demo-credentials.txt") in output and f"{settings.SITE_URL}/admin/" in output
    assert (var_dir / "demo-credentials.txt").read_text() == first_file


@pytest.mark.django_db
def test_demo_users_leaves_an_existing_admin_alone(var_dir):
    existing = get_user_model().objects.create_user(username="admin", password="my own password")
    output = demo_users()
    existing.refresh_from_db()
    assert existing.check_password("my own password") and not existing.is_superuser
    assert get_user_model().objects.filter(username="forecaster").exists()
    assert "forecaster" in output and not re.search(r"^\s*admin\s", output, re.MULTILINE)


# --- serve -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.django_db
def test_serve_refuses_a_port_in_use():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(CommandError, match="already in use"):
            call_command("serve", port=taken.getsockname()[1], stdout=StringIO())


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


class ServeProcess:
    """`manage.py serve` in a subprocess, its output collected line by line."""

    def __init__(self, environment: dict, port: int):
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--port", str(port)],
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
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.fixture(scope="module")
def migrated_var_dir(tmp_path_factory):
    var_dir = tmp_path_factory.mktemp("serve-var")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=BASE_DIR,
        env=subprocess_environment(var_dir),
        check=True,
        timeout=300,
    )
    return var_dir


def admin_login_status(port: int) -> int | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/admin/login/", timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the process tree from /proc")
def test_serve_runs_web_worker_and_beat_and_sigint_stops_all(migrated_var_dir):
    port = free_port()
    serve = ServeProcess(subprocess_environment(migrated_var_dir), port)
    try:
        deadline = time.monotonic() + 90
        while admin_login_status(port) != 200:
            assert serve.process.poll() is None, serve.output()
            assert time.monotonic() < deadline, serve.output()
            time.sleep(0.3)
        serve.wait_for("ready.", timeout=60)
        serve.wait_for("beat: Starting", timeout=60)
        children = descendants(serve.process.pid)
        assert len(children) >= 3
        serve.process.send_signal(signal.SIGINT)
        assert serve.process.wait(timeout=60) == 0, serve.output()
        time.sleep(0.5)
        assert not [pid for pid in children if is_alive(pid)], serve.output()
    finally:
        serve.kill_everything()
    output = serve.output()
    assert f"http://127.0.0.1:{port}/admin/" in output
    assert "worker | " in output and "beat   | " in output and "web    | " in output
    assert (migrated_var_dir / "celery" / "queue").is_dir()
    assert "SIGINT received" in output and "stopped." in output


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the process tree from /proc")
def test_serve_stops_everything_and_fails_when_a_child_dies(migrated_var_dir):
    port = free_port()
    # An unknown broker transport makes the worker and beat exit at start-up.
    serve = ServeProcess(subprocess_environment(migrated_var_dir, CELERY_BROKER_URL="nosuchtransport://"), port)
    try:
        assert serve.process.wait(timeout=90) != 0, serve.output()
        time.sleep(0.5)
        assert admin_login_status(port) is None
    finally:
        serve.kill_everything()
    assert "exited with code" in serve.output()


# --- production settings -------------------------------------------------------------------


def test_production_settings_refuse_to_start_without_a_secret_key(tmp_path):
    if dotenv_defines("DJANGO_SECRET_KEY"):
        pytest.skip(".env sets DJANGO_SECRET_KEY on this machine")
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=BASE_DIR,
        env=subprocess_environment(
            tmp_path, DJANGO_SETTINGS_MODULE="config.settings.production", DJANGO_ALLOWED_HOSTS="forewarn.example.org"
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr.splitlines()[-1]


def test_production_settings_pass_the_deployment_checklist(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=subprocess_environment(
            tmp_path,
            DJANGO_SETTINGS_MODULE="config.settings.production",
            DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
            DJANGO_ALLOWED_HOSTS="forewarn.example.org",
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


# --- docker compose, Dockerfile, .env.example ----------------------------------------------------

APP_SERVICES = ("setup", "web", "worker", "beat")


@pytest.fixture(scope="module")
def compose():
    yaml = pytest.importorskip("yaml")
    return yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())


def compose_default(value: str) -> str:
    """What compose substitutes for ${NAME:-default} when NAME is unset."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", str(value))


def test_compose_runs_postgres_redis_setup_web_worker_and_one_beat(compose):
    services = compose["services"]
    assert set(services) == {"postgres", "redis", *APP_SERVICES}
    assert re.fullmatch(r"postgres:1[5-9]-alpine", services["postgres"]["image"])
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert "postgres-data:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    assert "postgres-data" in compose["volumes"]
    assert services["redis"]["image"] == "redis:7-alpine"
    assert services["redis"]["healthcheck"]["test"][1:] == ["redis-cli", "ping"]
    beats = [name for name in services if "beat" in services[name].get("command", [])]
    assert beats == ["beat"] and services["beat"]["deploy"]["replicas"] == 1


def test_compose_app_services_share_one_image_and_production_environment(compose):
    services = compose["services"]
    images = {(services[name]["build"], services[name]["image"]) for name in APP_SERVICES}
    assert images == {(".", "forewarn:latest")}
    for name in APP_SERVICES:
        environment = services[name]["environment"]
        assert environment["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
        assert environment["DJANGO_SECRET_KEY"].startswith("${DJANGO_SECRET_KEY:?")
        assert compose_default(environment["DATABASE_URL"]).startswith("postgres://forewarn:forewarn@postgres:5432/")
        assert environment["CELERY_BROKER_URL"].startswith("redis://redis:6379/")
        assert compose_default(environment["DJANGO_SECURE_SSL_REDIRECT"]) == "false"
        assert "127.0.0.1" in compose_default(environment["DJANGO_ALLOWED_HOSTS"]).split(",")


def test_compose_commands_healthchecks_and_start_order(compose):
    services = compose["services"]
    healthy = {"condition": "service_healthy"}
    assert services["setup"]["depends_on"] == {"postgres": healthy}
    assert "migrate" in services["setup"]["command"][-1] and "load_seeds" in services["setup"]["command"][-1]
    assert services["setup"]["restart"] == "no"
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"] == {
            "postgres": healthy,
            "redis": healthy,
            "setup": {"condition": "service_completed_successfully"},
        }
    web = [compose_default(part) for part in services["web"]["command"]]
    assert web[:2] == ["gunicorn", "config.wsgi:application"]
    assert "0.0.0.0:8000" in web and int(web[web.index("--workers") + 1]) >= 2
    web_check = " ".join(services["web"]["healthcheck"]["test"])
    assert "python" in web_check and "urllib" in web_check and "/admin/login/" in web_check
    assert services["worker"]["command"][:5] == ["celery", "-A", "config", "worker", "-l"]
    assert "inspect ping" in " ".join(services["worker"]["healthcheck"]["test"])
    assert services["beat"]["command"][:4] == ["celery", "-A", "config", "beat"]


def test_compose_web_healthcheck_command_is_valid_python(compose):
    check = compose["services"]["web"]["healthcheck"]["test"]
    compile(check[check.index("-c") + 1], "healthcheck", "exec")


def test_dockerfile_builds_one_slim_non_root_image_with_static_files():
    dockerfile = (BASE_DIR / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim\b", dockerfile, re.MULTILINE)
    assert "pip install -r requirements.txt" in dockerfile
    assert "collectstatic --noinput" in dockerfile
    users = re.findall(r"^USER (\S+)", dockerfile, re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    requirements = (BASE_DIR / "requirements.txt").read_text().lower()
    assert "gunicorn==" in requirements and "whitenoise==" in requirements
    assert "whitenoise.middleware.WhiteNoiseMiddleware" in settings.MIDDLEWARE
    ignored = (BASE_DIR / ".dockerignore").read_text().split()
    assert {".venv", "var", ".env", ".git"} <= set(ignored)


ENV_READ = re.compile(
    r"(?:\benv|environ\.Env\(\))\.(?:str|bool|int|float|list|tuple|dict|json|url|db|db_url|email_url|cache_url|path)"
    r"\(\s*(?:#[^\n]*\n\s*)?\"([A-Z][A-Z0-9_]*)\""
)


def test_env_example_lists_every_variable_the_settings_read():
    read = {
        name for path in (BASE_DIR / "config" / "settings").glob("*.py") for name in ENV_READ.findall(path.read_text())
    }
    assert {"DJANGO_SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL", "FOREWARN_VAR_DIR", "TEST_DATABASE_URL"} <= read
    example = (BASE_DIR / ".env.example").read_text()
    listed = set(re.findall(r"^#?\s?([A-Z][A-Z0-9_]*)=", example, re.MULTILINE))
    assert read - listed == set()
