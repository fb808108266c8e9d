"""Faults on purpose, against real PostgreSQL, Redis, Celery and gunicorn processes.

A worker killed while it sends digests; Redis stopped while users forecast and resolve; two
beats and two workers at once; a database connection dropped inside a request. After each,
every due notification exists exactly once, no email went out twice (Message-IDs counted),
nothing the API accepted is lost and nothing is half-written. The SIGKILL-mid-sweep and
two-concurrent-sweeps cases are in test_lifecycle_integration.py. Each test prints what it
measured (run with -s).
"""

import os
import signal
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from forecasts import services
from forecasts.models import DigestDelivery, Forecast, Notification, Question, ResolutionEvent, Score
from tests import factories
from tests.api_support import TokenFactory, client_for, error_fields
from tests.support.http import call
from tests.support.processes import (
    PrivateRedis,
    assert_each_question_notified_exactly_once,
    beat_every,
    due_questions,
    emails_in,
    free_port,
    wait_for,
)
from tests.support.roles import roles_restore

PORTS = range(8701, 8721)
PRIVATE_REDIS_PORTS = range(6390, 6400)


def assert_every_email_sent_once(email_dir, expected_recipients: list[str]) -> list:
    emails = emails_in(email_dir)
    message_ids = Counter(email["Message-ID"] for email in emails)
    assert all(message_ids), "every digest carries a Message-ID"
    assert max(message_ids.values(), default=0) == 1, f"an email went out twice: {message_ids.most_common(3)}"
    assert sorted(email["To"] for email in emails) == sorted(expected_recipients)
    return emails


# A worker killed in the middle of sending digests


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_digest_sends_every_digest_exactly_once(fault_processes, settings):
    from forecasts.tasks import digest_send_task, digests_dispatch_task

    owners = 30
    question_ids = due_questions(owners, owners=owners)
    services.lifecycle_sweep()  # one "ready to resolve" per owner, waiting for a digest
    settings.FOREWARN = {**settings.FOREWARN, "DELIVERY_REDISPATCH_MINUTES": 0}
    delivery_ids = services.digests_prepare()
    assert len(delivery_ids) == owners
    # A slow mail server and a short lease (so the dead sender's lease runs out in seconds).
    lease = {"FOREWARN_TEST_LEASE_SECONDS": "6", "FOREWARN_DELIVERY_REDISPATCH_MINUTES": "0"}
    victim = fault_processes.worker("doomed", FOREWARN_TEST_MAIL_DELAY_SECONDS="0.4", **lease)
    for delivery_id in delivery_ids:
        digest_send_task.delay(delivery_id)

    email_dir = fault_processes.email_dir
    sending = email_dir / "sending"

    def inside_a_send():
        started = len(list(sending.glob("*"))) if sending.exists() else 0
        return started >= 10 and started == len(list(email_dir.glob("*.log"))) + 1

    wait_for(inside_a_send, timeout=90, interval=0.005, what="the worker to be mid-send of its 10th+ digest")
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(timeout=10)
    killed_at = time.monotonic()
    sent_before_kill = len(emails_in(email_dir))
    in_flight = DigestDelivery.objects.filter(status="pending", lease_until__gt=timezone.now()).count()
    assert in_flight == 1, "the kill landed inside one send"
    assert DigestDelivery.objects.filter(status="sent").count() == sent_before_kill

    fault_processes.worker("successor", **lease)
    time.sleep(7)  # the dead sender's lease runs out
    digests_dispatch_task.delay()  # what beat's next digest tick does
    wait_for(
        lambda: DigestDelivery.objects.filter(status="sent").count() == owners,
        timeout=90,
        what="the successor to send every digest",
    )
    recovered = time.monotonic() - killed_at
    time.sleep(2)  # leftover queued copies of the same tasks run now, and must send nothing

    assert_every_email_sent_once(email_dir, [f"load-owner-{n}@example.org" for n in range(owners)])
    assert_each_question_notified_exactly_once(question_ids)
    assert not Notification.objects.filter(sent_at__isnull=True).exists()
    assert DigestDelivery.objects.count() == owners
    print(
        f"\nSIGKILL mid-digest: {sent_before_kill}/{owners} sent at the kill, 1 in flight; the successor sent the "
        f"rest {recovered:.1f} s after the kill: {owners} emails, {owners} distinct Message-IDs, no duplicate"
    )


# Redis stopped while users forecast and resolve


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_redis_down_while_users_forecast_and_resolve_loses_nothing(fault_processes, tmp_path):
    roles_restore()
    redis = PrivateRedis(free_port(PRIVATE_REDIS_PORTS), tmp_path)
    redis.start()
    private_broker = {"TEST_REDIS_URL": redis.url, "FOREWARN_THROTTLE_USER": "", "FOREWARN_THROTTLE_ANON": ""}
    try:
        beat_every(1)
        owner = factories.ForecasterFactory(username="resolver")
        forecasters = [factories.ForecasterFactory(username=f"analyst-{n}") for n in range(4)]
        tokens = {user.username: TokenFactory(user=user).key for user in [owner, *forecasters]}
        open_questions = [factories.QuestionFactory(owner=owner, title=f"Open {n}") for n in range(5)]
        closed_questions = [factories.QuestionFactory(owner=owner, title=f"Closed {n}") for n in range(4)]
        for question in closed_questions:
            for forecaster in forecasters:
                services.forecast_submit(question=question, recorded_by=forecaster, probability=0.7)
        # Their windows ended an hour ago (the forecasts came before); the first reminder is out.
        window_end = timezone.now() - timedelta(hours=1)
        Forecast.objects.filter(question__in=closed_questions).update(made_at=window_end - timedelta(hours=5))
        Question.objects.filter(pk__in=[question.pk for question in closed_questions]).update(
            status="awaiting_resolution",
            window_end=window_end,
            closed_at=window_end,
            resolve_by=window_end + timedelta(days=3),
            opened_at=window_end - timedelta(days=2),
            reminder_round=1,
            next_reminder_at=window_end + timedelta(days=1),
        )

        port = free_port(PORTS)
        base = f"http://127.0.0.1:{port}"
        fault_processes.gunicorn("web", port=port, **private_broker)
        fault_processes.worker("worker", **private_broker)
        fault_processes.start(
            "beat",
            "beat",
            "--loglevel=INFO",
            "--max-interval",
            "1",
            "-s",
            str(tmp_path / "beat-state"),
            **private_broker,
        )
        time.sleep(3)

        redis.stop()
        outage_started = time.monotonic()
        answers = []
        for round_number in range(3):
            for question in open_questions:
                for forecaster in forecasters:
                    answers.append(
                        call(
                            base,
                            "POST",
                            f"/api/questions/{question.pk}/forecasts/",
                            token=tokens[forecaster.username],
                            body={"probability": 0.1 + 0.2 * round_number},
                        )
                    )
        for index, question in enumerate(closed_questions):
            answers.append(
                call(
                    base,
                    "POST",
                    f"/api/questions/{question.pk}/resolve/",
                    token=tokens["resolver"],
                    body={"outcome": "yes" if index % 2 else "no", "evidence_url": "https://example.org/evidence"},
                )
            )
        answers.append(call(base, "GET", "/api/questions/", token=tokens["analyst-0"]))
        health = call(base, "GET", "/api/health/")
        outage = time.monotonic() - outage_started

        statuses = Counter(answer.status for answer in answers)
        assert statuses == {201: 60, 200: 5}, statuses
        assert health.status == 200 and health.body["status"] == "degraded"
        assert Forecast.objects.filter(question__in=open_questions).count() == 60
        assert not ResolutionEvent.objects.filter(notified_at__isnull=False).exists(), "nobody could be told yet"
        assert not Score.objects.exists(), "the recompute task could not be queued"

        time.sleep(3)  # beat ticks while the broker is down are skipped
        redis.start()
        back = time.monotonic()
        wait_for(
            lambda: (
                not ResolutionEvent.objects.filter(notified_at__isnull=True).exists()
                and Score.objects.values("question_id").distinct().count() == 4
            ),
            timeout=120,
            interval=0.5,
            what="the sweep to catch up after Redis came back",
        )
        told = Notification.objects.filter(kind="resolved")
        notified_users = set(Notification.objects.values_list("user__email", flat=True))
        wait_for(
            lambda: DigestDelivery.objects.filter(status="sent").count() == len(notified_users),
            timeout=90,
            what="the digests",
        )
        caught_up = time.monotonic() - back
        time.sleep(3)

        assert Score.objects.count() == 16  # 4 forecasters x 4 resolved questions
        assert told.count() == 16 and told.values("user_id", "question_id").distinct().count() == 16
        assert notified_users >= {f"analyst-{n}@example.org" for n in range(4)}
        assert_every_email_sent_once(fault_processes.email_dir, sorted(notified_users))
        assert Forecast.objects.count() == 60 + 16
        slowest = max(answer.seconds for answer in answers)
        print(
            f"\nRedis down for {outage:.1f} s: 60/60 forecasts and 4/4 resolutions accepted (slowest "
            f"{slowest * 1000:.0f} ms), health 'degraded'; after Redis returned the sweep caught up in "
            f"{caught_up:.1f} s: 16 scores, 16 resolution notices, {len(notified_users)} digests, nothing lost or repeated"
        )
    finally:
        redis.stop()


# Two beats and two workers at once


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_two_beats_and_two_workers_notify_and_email_once(fault_processes, tmp_path):
    owners = 10
    beat_every(1)
    for name in ("worker-a", "worker-b"):
        fault_processes.worker(name)
    for name in ("beat-a", "beat-b"):
        fault_processes.start(name, "beat", "--loglevel=INFO", "--max-interval", "1", "-s", str(tmp_path / name))
    time.sleep(3)
    question_ids = due_questions(40, owners, window_end=timezone.now() + timedelta(seconds=4), name="beat")
    wait_for(
        lambda: (
            Notification.objects.filter(question_id__in=question_ids).count() >= 40
            and DigestDelivery.objects.filter(status="sent").count() >= owners
        ),
        timeout=90,
        what="both beats' ticks to close, notify and email",
    )
    time.sleep(6)  # a dozen more ticks from each beat

    assert_each_question_notified_exactly_once(question_ids)
    assert Notification.objects.count() == 40
    assert DigestDelivery.objects.count() == owners
    assert_every_email_sent_once(fault_processes.email_dir, [f"beat-owner-{n}@example.org" for n in range(owners)])
    sweeps = sum(fault_processes.log(name).count("lifecycle_sweep") for name in ("beat-a", "beat-b"))
    print(
        f"\ntwo beats + two workers: {sweeps} sweep ticks sent; 40 questions closed, 40 notifications, "
        f"{owners} digests, {owners} emails, no duplicates"
    )


# The database connection drops in the middle of a request (transactional: the request's
# transaction must really roll back on the server, not inside a test's outer transaction)


@pytest.fixture
def committed_owner(transactional_db):
    roles_restore()  # an earlier transactional test's flush removed the groups
    return factories.ForecasterFactory(username="owner")


def terminate_backend(pid: int) -> None:
    """From a second connection, end the PostgreSQL backend `pid` (what a failover or a proxy does)."""
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    finally:
        other.close()


def current_backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


@pytest.fixture
def drop_connection_mid_forecast(monkeypatch):
    """Terminate the request's PostgreSQL backend after the forecast row is inserted and before
    the transaction commits: the worst moment for a half-written forecast."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (pg_terminate_backend)")
    from forecasts.services import forecasts as forecast_services

    original = forecast_services.forecast_insert
    dropped = []

    def insert_then_lose_the_connection(*, question, forecast):
        original(question=question, forecast=forecast)
        pid = current_backend_pid()
        thread = threading.Thread(target=terminate_backend, args=[pid])
        thread.start()
        thread.join(timeout=10)
        dropped.append(pid)
        # The next statement of this transaction meets the dead connection.
        Question.objects.filter(pk=question.pk).update(updated_at=timezone.now())

    monkeypatch.setattr(forecast_services, "forecast_insert", insert_then_lose_the_connection)
    return dropped


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_dropped_database_connection_is_a_503_with_retry_after_and_nothing_half_written(
    committed_owner, drop_connection_mid_forecast, monkeypatch
):
    owner = committed_owner
    question = factories.QuestionFactory(owner=owner)
    api = client_for(owner)
    before = (Forecast.objects.count(), Question.objects.get(pk=question.pk).forecast_count)

    response = api.post(f"/api/questions/{question.pk}/forecasts/", {"probability": 0.7}, format="json")

    assert drop_connection_mid_forecast, "the connection was dropped inside the request"
    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    assert response["Content-Type"] == "application/json"
    assert error_fields(response) == {"detail"}
    connection.close()  # this thread's connection was the one terminated
    question.refresh_from_db()
    assert (Forecast.objects.count(), question.forecast_count) == before == (0, 0)

    monkeypatch.undo()  # the database is back: the client's retry succeeds on a fresh connection
    retried = api.post(f"/api/questions/{question.pk}/forecasts/", {"probability": 0.7}, format="json")
    assert retried.status_code == 201
    question.refresh_from_db()
    assert (Forecast.objects.count(), question.forecast_count) == (1, 1)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_dropped_connection_on_an_admin_page_is_a_503_page(committed_owner, monkeypatch):
    owner = committed_owner
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (pg_terminate_backend)")
    from forecasts.admin.questions import QuestionAdmin

    question = factories.QuestionFactory(owner=owner)
    browser = Client()
    browser.force_login(owner)
    original = QuestionAdmin.get_queryset

    def queryset_on_a_dead_connection(self, request):
        terminate_backend(current_backend_pid())
        return original(self, request)

    monkeypatch.setattr(QuestionAdmin, "get_queryset", queryset_on_a_dead_connection)
    response = browser.get(reverse("admin:forecasts_question_changelist"))
    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    assert "Service unavailable" in response.content.decode()
    monkeypatch.undo()
    connection.close()
    assert browser.get(reverse("admin:forecasts_question_change", args=[question.pk])).status_code == 200
