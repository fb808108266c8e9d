"""Celery tasks: thin wrappers that take ids, call one service and own their retry policy.

Every task is safe to run twice (the services are idempotent by state) and is acked late
(settings: acks_late, reject_on_worker_lost). Retry delays stay well under Redis's visibility
timeout; nothing is ever scheduled hours ahead: future work lives in the database and the
sweep finds it.

Each task imports its service inside its body, and the services import these tasks at the top
of their modules (as `..._task`), so no import cycle can form. The `name=` of each task is what
beat's database rows and queued messages refer to: it never changes with the Python name.
"""

import smtplib

from celery import shared_task
from django.db import InterfaceError, OperationalError

from forecasts.exceptions import WebhookDeliveryFailed

DATABASE_ERRORS = (OperationalError, InterfaceError)
MAIL_ERRORS = (smtplib.SMTPException, ConnectionError, TimeoutError)
BACKOFF = {"retry_backoff": 2, "retry_backoff_max": 600, "retry_jitter": True}


@shared_task(name="forecasts.tasks.lifecycle_sweep", autoretry_for=DATABASE_ERRORS, max_retries=3, **BACKOFF)
def lifecycle_sweep_task() -> dict:
    """Run the sweep once, queue one task per pending webhook, and the digests if it notified anyone."""
    from forecasts.services import digests_tick_queue, lifecycle_run, webhooks_queue

    return lifecycle_run(digests_deliver=digests_tick_queue, webhooks_deliver=webhooks_queue).report.summary()


@shared_task(name="forecasts.tasks.digests_dispatch", autoretry_for=DATABASE_ERRORS, max_retries=3, **BACKOFF)
def digests_dispatch_task() -> int:
    """Open the digests that are due and queue one task per digest to send."""
    from forecasts.services import digests_queue

    return digests_queue().queued


@shared_task(name="forecasts.tasks.digest_send", autoretry_for=DATABASE_ERRORS + MAIL_ERRORS, max_retries=8, **BACKOFF)
def digest_send_task(delivery_id: int) -> bool:
    """Send one digest email."""
    from forecasts.services import digest_deliver

    return digest_deliver(delivery_id=delivery_id)


@shared_task(
    name="forecasts.tasks.webhook_send",
    autoretry_for=(*DATABASE_ERRORS, WebhookDeliveryFailed),
    max_retries=10,  # the service marks the delivery failed after WEBHOOK_MAX_ATTEMPTS attempts
    **BACKOFF,
)
def webhook_send_task(delivery_id: int) -> bool:
    """POST one notification to its webhook."""
    from forecasts.services import webhook_deliver

    return webhook_deliver(delivery_id=delivery_id)


@shared_task(name="forecasts.tasks.resolution_notify", autoretry_for=DATABASE_ERRORS, max_retries=5, **BACKOFF)
def resolution_notify_task(event_id: int) -> int:
    """Tell the forecasters of a question how it resolved, and queue their webhooks."""
    from forecasts.services import resolution_notices_send

    return len(resolution_notices_send(event_id=event_id))


@shared_task(
    name="forecasts.tasks.question_scores_recompute",
    autoretry_for=DATABASE_ERRORS,
    max_retries=8,
    **BACKOFF,
)
def question_scores_recompute_task(question_id: int) -> int:
    """Recompute one question's stored scores (after a resolve, an un-resolve or an annulment)."""
    from forecasts.services import question_scores_recompute

    return question_scores_recompute(question_id=question_id)
