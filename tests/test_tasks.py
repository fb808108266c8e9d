"""Tasks run in process (eagerly): each one twice changes nothing more, and the retry policy is wired."""

import smtplib
from datetime import timedelta

import pytest
from django.conf import settings as django_settings

from forecasts import services, tasks
from forecasts.models import DigestDelivery, Notification, Question, ResolutionEvent, WebhookDelivery
from forecasts.services import lifecycle_sweep, question_resolve
from tests.support.lifecycle import (
    T0,
    Endpoint,
    FlakySmtpBackend,
    at,
    due_question,
    snapshot,
    standing_forecast,
    webhook_users,
)

pytestmark = pytest.mark.django_db


def run(task, *args):
    return task.apply(args=args, throw=True).get()


def test_every_task_is_acked_late_and_retries_transient_errors_with_capped_backoff():
    visibility_timeout = django_settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", 3600)
    for task in (
        tasks.lifecycle_sweep_task,
        tasks.digests_dispatch_task,
        tasks.digest_send_task,
        tasks.webhook_send_task,
        tasks.resolution_notify_task,
    ):
        assert task.acks_late and task.reject_on_worker_lost
        assert task.retry_backoff and task.retry_jitter
        # A retry delay longer than Redis's visibility timeout would be delivered twice.
        assert task.retry_backoff_max < visibility_timeout
        assert any(
            issubclass(error, Exception) and error.__name__ == "OperationalError" for error in task.autoretry_for
        )
    assert smtplib.SMTPException in tasks.digest_send_task.autoretry_for


def test_sweep_task_twice_changes_nothing_more(owner, forecaster, eager_tasks, endpoint):
    users = webhook_users(endpoint, hooked="/ok")
    due_question(users["hooked"])
    question = due_question(owner)
    standing_forecast(question, forecaster)
    with at(T0):
        first = run(tasks.lifecycle_sweep_task)
        state = snapshot()
        second = run(tasks.lifecycle_sweep_task)
    assert first["closed"] == 2 and first["notifications"] == {"ready_to_resolve": 2}
    assert first["webhook_deliveries"] == 1
    assert second == {"closed": 0, "notifications": {}, "webhook_deliveries": 0, "rescored": 0, "failed_steps": []}
    assert snapshot() == state
    assert len(Endpoint.received) == 1
    assert WebhookDelivery.objects.get().status == "sent"


def test_digest_tasks_twice_send_one_email(owner, mailoutbox):
    due_question(owner)
    with at(T0):
        lifecycle_sweep()
        (delivery_id,) = services.digests_prepare()
        DigestDelivery.objects.filter(pk=delivery_id).update(next_attempt_at=T0)  # as if its task were lost
        assert run(tasks.digests_dispatch_task) == 1
        assert run(tasks.digests_dispatch_task) == 0
        assert run(tasks.digest_send_task, delivery_id) is True
        assert run(tasks.digest_send_task, delivery_id) is False
    assert len(mailoutbox) == 1
    assert Notification.objects.get().sent_at == T0


def test_a_sweep_that_notifies_sends_the_digest_straight_away(owner, eager_tasks, mailoutbox):
    due_question(owner)
    with at(T0):
        run(tasks.lifecycle_sweep_task)
        run(tasks.lifecycle_sweep_task)
    assert len(mailoutbox) == 1 and mailoutbox[0].to == [owner.email]


def test_digest_task_retries_a_mail_server_hiccup(owner, eager_tasks, settings):
    from django.core import mail

    settings.EMAIL_BACKEND = "tests.support.lifecycle.FlakySmtpBackend"
    FlakySmtpBackend.failures_left = 2
    due_question(owner)
    with at(T0):
        run(tasks.lifecycle_sweep_task)
        run(tasks.digests_dispatch_task)
    delivery = DigestDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("sent", 3)
    assert len(mail.outbox) == 1


def test_resolution_task_twice_tells_each_forecaster_once(owner, forecaster, eager_tasks):
    question = due_question(owner)
    standing_forecast(question, forecaster)
    with at(T0):
        question_resolve(question=question, actor=owner, outcome="yes")
        event = ResolutionEvent.objects.get()
        assert run(tasks.resolution_notify_task, event.pk) == 1
        assert run(tasks.resolution_notify_task, event.pk) == 0
    assert Notification.objects.filter(kind="resolved", user=forecaster).count() == 1


def test_webhook_task_twice_posts_once(endpoint):
    users = webhook_users(endpoint, hooked="/ok")
    due_question(users["hooked"])
    with at(T0):
        lifecycle_sweep()  # the service: creates the delivery without queueing its task
    delivery = WebhookDelivery.objects.get()
    assert run(tasks.webhook_send_task, delivery.pk) is True
    assert run(tasks.webhook_send_task, delivery.pk) is False
    assert len(Endpoint.received) == 1


def test_a_dead_webhook_uses_up_its_attempts_without_holding_up_the_others(endpoint, eager_tasks, settings):
    settings.FOREWARN = {**settings.FOREWARN, "WEBHOOK_MAX_ATTEMPTS": 3}
    users = webhook_users(endpoint, dead="/dead", alive="/alive")
    Endpoint.statuses["/dead"] = 502
    for user in users.values():
        due_question(user)
    with at(T0):
        run(tasks.lifecycle_sweep_task)
    dead = WebhookDelivery.objects.get(notification__user=users["dead"])
    alive = WebhookDelivery.objects.get(notification__user=users["alive"])
    assert (dead.status, dead.attempts, dead.last_error) == ("failed", 3, "HTTP 502 Bad Gateway")
    assert (alive.status, alive.attempts) == ("sent", 1)
    assert [path for path, _ in Endpoint.received].count("/dead") == 3
    assert Question.objects.filter(status="awaiting_resolution").count() == 2


def test_resolution_task_for_an_unknown_event_does_nothing():
    assert run(tasks.resolution_notify_task, 987654) == 0
    assert not Notification.objects.exists()


def test_sweep_task_later_sends_the_next_reminder_round(owner, eager_tasks):
    question = due_question(owner, window_end=T0)
    with at(T0):
        run(tasks.lifecycle_sweep_task)
    with at(T0 + timedelta(days=1)):
        run(tasks.lifecycle_sweep_task)
        run(tasks.lifecycle_sweep_task)
    assert list(Notification.objects.filter(question=question).order_by("round").values_list("kind", "round")) == [
        ("ready_to_resolve", 0),
        ("reminder", 1),
    ]
