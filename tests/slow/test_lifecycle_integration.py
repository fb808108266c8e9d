"""Real Celery worker and beat processes on the configured broker (Redis here and in CI).

The worker and beat are subprocesses connected to pytest's test database; their email goes
to the file backend in a temporary directory, so the test can count what was sent. Each test
prints what it measured (run with -s to see it).
"""

import os
import signal
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from forecasts.models import DigestDelivery, Notification, Question, ResolutionEvent
from forecasts.services import question_create
from tests import factories
from tests.support.processes import (
    assert_each_question_notified_exactly_once,
    beat_every,
    due_questions,
    emails_in,
    text_body,
    wait_for,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    # Not serialized_rollback: another transactional test's flush re-creates content types and
    # breaks reloading; these tests build every row they need (beat entries included) instead.
    pytest.mark.django_db(transaction=True),
]


def test_beat_and_worker_close_a_window_notify_once_and_email_one_digest(processes):
    owner = factories.UserFactory(username="integration-owner")
    beat_every(1)
    processes.worker("worker")
    processes.start(
        "beat", "beat", "--loglevel=INFO", "--max-interval", "1", "-s", str(processes.log_dir / "beat-state")
    )
    time.sleep(3)  # let both processes connect before the window closes
    window_end = timezone.now() + timedelta(seconds=5)
    question = question_create(
        owner=owner, title="Will the window close on time?", resolution_criteria="It closes.", window_end=window_end
    )

    closed_seen = wait_for(
        lambda: Question.objects.filter(pk=question.pk, status="awaiting_resolution").exists() and timezone.now(),
        timeout=30,
        what="the sweep to close the question",
    )
    notification = wait_for(
        lambda: Notification.objects.filter(question=question).first(), timeout=10, what="the notification"
    )
    emails = wait_for(lambda: emails_in(processes.email_dir), timeout=15, what="the digest email")
    email_seen = timezone.now()
    time.sleep(4)  # several more beat ticks: nothing more may happen

    question.refresh_from_db()
    assert question.closed_at == window_end
    assert list(Notification.objects.filter(question=question).values_list("kind", "round", "user_id")) == [
        ("ready_to_resolve", 0, owner.pk)
    ]
    emails = emails_in(processes.email_dir)
    assert len(emails) == 1 and emails[0]["To"] == owner.email
    body = text_body(emails[0])
    assert question.title in body and f"/admin/forecasts/question/{question.pk}/change/" in body
    assert DigestDelivery.objects.get().status == "sent"
    print(
        f"\nclose delay (window end -> closed seen by the test): {(closed_seen - window_end).total_seconds():.2f} s"
        f"\nnotification created {(notification.created_at - window_end).total_seconds():.2f} s after the window end"
        f"\ndigest email seen {(email_seen - window_end).total_seconds():.2f} s after the window end"
    )

    # The email's "No" link resolves the question; the worker then tells its forecasters.
    no_link = next(line.split(": ", 1)[1].strip() for line in body.splitlines() if "Resolve NO:" in line)
    path = "/" + no_link.split("://", 1)[1].split("/", 1)[1]
    client = Client()
    assert client.get(path).status_code == 200
    assert client.post(path).status_code == 200
    question.refresh_from_db()
    assert (question.status, question.outcome) == ("resolved", "no")
    wait_for(
        lambda: ResolutionEvent.objects.filter(question=question, notified_at__isnull=False).exists(),
        timeout=10,
        what="the worker to run the on-commit resolution task",
    )
    assert client.post(path).status_code == 410


def test_two_concurrent_sweeps_produce_no_duplicates(processes):
    question_ids = due_questions(1000, owners=20)
    small_batches = {"FOREWARN_SWEEP_BATCH_SIZE": "50"}
    started = time.monotonic()
    sweeps = [processes.start(f"sweep-{n}", "manage", "sweep", "--no-deliver", **small_batches) for n in (1, 2)]
    for sweep in sweeps:
        assert sweep.wait(timeout=40) == 0
    elapsed = time.monotonic() - started
    assert_each_question_notified_exactly_once(question_ids)
    closed_by = [int(processes.log(f"sweep-{n}").split("close ")[1].split(" ")[0]) for n in (1, 2)]
    assert sum(closed_by) == 1000

    # Then two at once that also send the digests: one email per owner.
    senders = [processes.start(f"send-{n}", "manage", "sweep") for n in (1, 2)]
    for sender in senders:
        assert sender.wait(timeout=40) == 0
    digests = DigestDelivery.objects.all()
    assert digests.count() == 20 and not digests.exclude(status="sent").exists()
    emails = emails_in(processes.email_dir)
    assert sorted(email["To"] for email in emails) == sorted(f"load-owner-{n}@example.org" for n in range(20))
    assert not Notification.objects.filter(sent_at__isnull=True).exists()
    print(
        f"\ntwo concurrent sweeps: closed {closed_by[0]} + {closed_by[1]} of 1000 in {elapsed:.1f} s; "
        f"1000 notifications; then 20 digests and {len(emails)} emails from two concurrent senders; no duplicates"
    )


def open_transaction_elsewhere() -> bool:
    """True while another session on the test database sits inside an open transaction."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND state = 'idle in transaction'"
        )
        return cursor.fetchone()[0] > 0


def test_a_worker_killed_mid_sweep_loses_nothing_once_a_new_worker_runs(processes):
    from forecasts.tasks import lifecycle_sweep_task

    question_ids = due_questions(600, owners=10)
    slow = {"FOREWARN_SWEEP_BATCH_SIZE": "20", "FOREWARN_TEST_BATCH_DELAY_SECONDS": "0.2"}
    victim = processes.worker("doomed", **slow)
    lifecycle_sweep_task.delay()
    wait_for(
        lambda: Question.objects.filter(pk__in=question_ids, status="awaiting_resolution").count() >= 100,
        timeout=30,
        interval=0.05,
        what="the slow sweep to get going",
    )
    wait_for(open_transaction_elsewhere, timeout=5, interval=0.01, what="the worker to be inside a batch")
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(timeout=10)
    time.sleep(1)
    closed_at_kill = Question.objects.filter(pk__in=question_ids, status="awaiting_resolution").count()
    notified_at_kill = Notification.objects.filter(question_id__in=question_ids).count()
    assert 0 < closed_at_kill < 600
    assert closed_at_kill % 20 == 0  # the batch the kill interrupted rolled back whole

    processes.worker("successor")
    restarted = time.monotonic()
    lifecycle_sweep_task.delay()  # what beat's next tick does
    wait_for(
        lambda: Notification.objects.filter(question_id__in=question_ids, kind="ready_to_resolve").count() >= 600,
        timeout=40,
        what="the new worker's sweep to finish",
    )
    recovered = time.monotonic() - restarted
    time.sleep(1)
    assert_each_question_notified_exactly_once(question_ids)
    print(
        f"\nSIGKILL mid-batch: {closed_at_kill}/600 closed and {notified_at_kill} notified at the kill; "
        f"a new worker's sweep finished the rest in {recovered:.1f} s: 600 closed, 600 notifications, no duplicates"
    )
