"""What `make run` prints: each email as its plain-text part (links whole, one per line), and
gunicorn's access log without the static files. `make run` itself is tests/slow/test_serve.py."""

from io import StringIO

import pytest
from django.core.mail.backends.console import EmailBackend as DjangoConsoleEmailBackend
from django.db import connection
from gunicorn.config import Config

from config import gunicorn_serve
from config.console_email import PlainTextConsoleEmailBackend
from config.settings import local
from config.settings.base import database_from_url
from forecasts import services
from tests.support.lifecycle import T0, at, due_question

pytestmark = pytest.mark.django_db


def printed_digest(backend_class, owner, mailoutbox) -> str:
    due_question(owner, window_end=T0)
    with at(T0):
        services.lifecycle_sweep()
        for delivery_id in services.digests_prepare():
            services.digest_deliver(delivery_id=delivery_id)
    stream = StringIO()
    backend_class(stream=stream).send_messages(mailoutbox)
    return stream.getvalue()


def test_make_run_prints_each_email_as_its_plain_text_part_with_whole_links(owner, mailoutbox, settings):
    assert local.EMAIL_BACKEND == "config.console_email.PlainTextConsoleEmailBackend"
    printed = printed_digest(PlainTextConsoleEmailBackend, owner, mailoutbox)
    message = mailoutbox[0]
    assert f"Email to {owner.email}: {message.subject}" in printed
    assert message.body.strip() in printed
    action_lines = [line for line in printed.splitlines() if "/actions/" in line]
    assert len(action_lines) == 3
    assert all(line.split(": ", 1)[1].startswith(f"{settings.SITE_URL}/actions/") for line in action_lines)
    assert "<html" not in printed and "Content-Type" not in printed


def test_the_stock_console_backend_buries_the_links_in_mime(owner, mailoutbox):
    printed = printed_digest(DjangoConsoleEmailBackend, owner, mailoutbox)
    assert "Content-Type: text/html" in printed
    assert len([line for line in printed.splitlines() if "/actions/" in line]) > 3


@pytest.mark.parametrize(
    ("path", "logged"),
    [("/static/admin/css/base.css", False), ("/admin/login/", True), ("/api/questions/", True)],
)
def test_the_access_log_of_make_run_skips_static_files(path, logged, monkeypatch):
    logger = gunicorn_serve.AccessLogWithoutStaticFiles(Config())
    written = []
    monkeypatch.setattr(gunicorn_serve.GunicornLogger, "access", lambda self, *arguments: written.append(arguments))
    logger.access(None, None, {"PATH_INFO": path}, None)
    assert bool(written) is logged


def test_make_run_serves_static_files_from_the_apps_without_collectstatic():
    assert local.WHITENOISE_USE_FINDERS and local.WHITENOISE_AUTOREFRESH


def test_postgresql_sessions_run_without_jit_and_keep_other_options():
    config = database_from_url("postgres://forewarn@db.example:5432/forewarn")
    assert config["OPTIONS"]["options"] == "-c jit=off"
    sqlite = database_from_url("sqlite:////tmp/forewarn-settings-test/forewarn.sqlite3")
    assert "options" not in sqlite["OPTIONS"] and sqlite["OPTIONS"]["transaction_mode"] == "IMMEDIATE"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL setting")
def test_the_test_database_session_has_jit_off(db):
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"
