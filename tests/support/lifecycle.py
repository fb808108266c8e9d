"""The lifecycle tests' clock, rows and stand-ins: a fixed moment, due questions, a webhook
endpoint and a flaky mail server; the fixtures `eager_tasks` and `endpoint` (a plugin of conftest)."""

import json
import smtplib
import socket
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import time_machine
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend

from forecasts.models import Notification, Profile, Question
from tests import factories

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def at(moment: datetime):
    return time_machine.travel(moment, tick=False)


def due_question(owner, *, window_end=T0 - timedelta(minutes=1), **fields) -> Question:
    return factories.QuestionFactory(
        owner=owner,
        window_end=window_end,
        resolve_by=fields.pop("resolve_by", window_end + timedelta(days=3)),
        **fields,
    )


def standing_forecast(question: Question, user) -> None:
    """A user's forecast as forecast_submit leaves it (a Forecast and its standing LatestForecast)."""
    factories.StandingForecastFactory(
        question=question, forecaster=user, made_at=question.window_end - timedelta(days=2)
    )


def snapshot():
    return (
        list(
            Question.objects.order_by("pk").values_list(
                "pk", "status", "closed_at", "reminder_round", "next_reminder_at"
            )
        ),
        list(Notification.objects.order_by("pk").values_list("pk", "user_id", "dedupe_key")),
    )


@pytest.fixture
def eager_tasks():
    """Tasks run in process the moment they are queued, as if a worker took them at once."""
    from config.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


class FlakySmtpBackend(LocmemBackend):
    failures_left = 0

    def send_messages(self, messages):
        if FlakySmtpBackend.failures_left:
            FlakySmtpBackend.failures_left -= 1
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        return super().send_messages(messages)


class Endpoint(BaseHTTPRequestHandler):
    statuses: dict[str, int] = {}
    received: list[tuple[str, dict]] = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Endpoint.received.append((self.path, body))
        self.send_response(Endpoint.statuses.get(self.path, 200))
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


def webhook_loopback_allowed(settings) -> None:
    """Let webhooks reach this machine's test receivers, as an operator allows an internal server."""
    settings.FOREWARN = {**settings.FOREWARN, "WEBHOOK_ALLOWED_HOSTS": ["127.0.0.1"]}


@pytest.fixture
def endpoint(settings):
    """A webhook receiver on a free local port (allowed as a webhook target); yields its base URL,
    records what it received."""
    webhook_loopback_allowed(settings)
    Endpoint.statuses, Endpoint.received = {}, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Endpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def webhook_users(base_url: str, **paths: str):
    users = {}
    for name, path in paths.items():
        user = factories.ForecasterFactory(username=name)
        Profile.objects.create(user=user, webhook_url=f"{base_url}{path}")
        users[name] = user
    return users


def unused_port() -> int:
    """A local port nothing listens on (just released by the system), for a refused connection."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
