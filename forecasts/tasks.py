"""Celery tasks: thin wrappers that take ids, call one service and own their retry policy.

Every task is safe to run twice (the services are idempotent by state) and is acked late
(settings: acks_late, reject_on_worker_lost). Retry delays stay well under Redis's visibility
timeout; nothing is ever scheduled hours ahead: future work lives in the database and the
sweep finds it.
"""

import logging
import smtplib

from celery import shared_task
from django.db import InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerError

from forecasts import services
from forecasts.services.deliveries import WebhookDeliveryFailed

logger = logging.getLogger(__name__)

DATABASE_ERRORS = (OperationalError, InterfaceError)
MAIL_ERRORS = (smtplib.SMTPException, ConnectionError, TimeoutError)
BACKOFF = {"retry_backoff": 2, "retry_backoff_max": 600, "retry_jitter": True}


def enqueue_each(task, ids: list[int]) -> None:
    """One task per id. If the broker fails part-way the rest stay pending in the database and a
    later sweep or digest tick queues them again."""
    for queued, delivery_id in enumerate(ids):
        try:
            task.delay(delivery_id)
        except BrokerError:
            logger.warning("Broker unavailable: %d %s task(s) left for a later tick.", len(ids) - queued, task.name)
            return


@shared_task(name="forecasts.tasks.lifecycle_sweep", autoretry_for=DATABASE_ERRORS, max_retries=3, **BACKOFF)
def lifecycle_sweep() -> dict:
    """Run the sweep once, queue one task per pending webhook, and the digests if it notified anyone."""
    report = services.lifecycle_sweep()
    enqueue_each(webhook_send, report.webhook_deliveries)
    if report.notifications:
        # Users whose digest period has passed hear now rather than at the next digest tick.
        try:
            digests_dispatch.delay()
        except BrokerError:
            logger.warning("Broker unavailable: the digest tick will send the new notifications.")
    return report.summary()


@shared_task(name="forecasts.tasks.digests_dispatch", autoretry_for=DATABASE_ERRORS, max_retries=3, **BACKOFF)
def digests_dispatch() -> int:
    """Open the digests that are due and queue one task per digest to send."""
    delivery_ids = services.digests_prepare()
    enqueue_each(digest_send, delivery_ids)
    return len(delivery_ids)


@shared_task(
    name="forecasts.tasks.digest_send", autoretry_for=DATABASE_ERRORS + MAIL_ERRORS, max_retries=8, **BACKOFF
)
def digest_send(delivery_id: int) -> bool:
    """Send one digest email."""
    return services.digest_deliver(delivery_id=delivery_id)


@shared_task(
    name="forecasts.tasks.webhook_send",
    autoretry_for=DATABASE_ERRORS + (WebhookDeliveryFailed,),
    max_retries=10,  # the service marks the delivery failed after WEBHOOK_MAX_ATTEMPTS attempts
    **BACKOFF,
)
def webhook_send(delivery_id: int) -> bool:
    """POST one notification to its webhook."""
    return services.webhook_deliver(delivery_id=delivery_id)


@shared_task(name="forecasts.tasks.resolution_notify", autoretry_for=DATABASE_ERRORS, max_retries=5, **BACKOFF)
def resolution_notify(event_id: int) -> int:
    """Tell the forecasters of a question how it resolved, and queue their webhooks."""
    created = services.resolutions_notify(event_ids=[event_id])
    enqueue_each(webhook_send, services.webhook_deliveries_due())
    return len(created)


@shared_task(
    name="forecasts.tasks.question_scores_recompute",
    autoretry_for=DATABASE_ERRORS,
    max_retries=8,
    **BACKOFF,
)
def question_scores_recompute_task(question_id: int) -> int:
    """Recompute one question's stored scores (after a resolve, an un-resolve or an annulment)."""
    return services.question_scores_recompute(question_id=question_id)
