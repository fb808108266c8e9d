"""The run experience: demo accounts, `serve`, production settings and the container setup.

`make run` end to end (serve's processes, a window closed, SIGINT) is tests/slow/test_serve.py.
"""

import re
import secrets
import socket
import stat
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.support.serve import subprocess_environment

BASE_DIR = Path(settings.BASE_DIR)


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


@pytest.mark.django_db
def test_serve_refuses_a_port_in_use():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(CommandError, match="already in use"):
            call_command("serve", port=taken.getsockname()[1], stdout=StringIO())


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
