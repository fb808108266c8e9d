"""Delivering notifications: digest emails and webhook POSTs, each claimed before it is sent.

Digest emails. At most one per user per digest period, claimed before sending:
1. `digest_claim` moves `Profile.last_digest_at` forward with a conditional UPDATE (only one
   claimer per period can win), creates a pending DigestDelivery and attaches the user's
   unsent notifications to it, and commits. Nothing has been sent yet.
2. `digest_deliver` takes a lease on the delivery with a conditional UPDATE (one sender at a
   time), sends the email, then marks the delivery and its notifications sent.
A worker killed between 1 and 2, or inside 2, leaves a pending delivery whose lease runs out;
the next digest tick queues it again, so a digest is never lost. The one window for a repeat
is a worker killed after the mail server accepted the message and before step 2 committed
(one SMTP round trip): the resend is the same message with the same Message-ID, which mail
systems use to drop the copy. That is at-least-once delivery with a stable identity, chosen
over at-most-once because a lost "ready to resolve" is the failure this product exists to
prevent.

Webhooks. One WebhookDelivery per notification of a user with a webhook URL, one task per
delivery (a slow or dead endpoint holds up nobody else), the same lease, retries with
exponential backoff by the task, every attempt recorded (attempts, last_error), and a
permanent failure (4xx, a redirect, a refused target, or WEBHOOK_MAX_ATTEMPTS used up) marked
failed. Every POST goes through `webhook_targets.webhook_post`: public addresses only (or the
operator's allow-list), the checked address pinned, no redirects, small timeouts, a capped read.
`webhook_test_send` is the user's "send test": the same path, at once, with no notification.

Both re-check the recipient when they send: a digest lists only the notifications the user may
still see (`access.notifications_visible_to`), and a webhook whose recipient may no longer see
the question is not POSTed but marked failed, saying why. A member removed from a team stops
receiving its notices at once, even those created before the removal.

Two ways to send: inline, one delivery after another (`manage.py sweep`), or one Celery task per
delivery (beat). Either way a failure of one delivery never stops the others.

The wording of every message is in `messages.py`; this module only sends.
"""

import logging
import smtplib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from forecasts.access import notifications_visible_to, webhook_deliveries_still_visible
from forecasts.exceptions import WebhookDeliveryFailed
from forecasts.models import DigestDelivery, Notification, Profile, WebhookDelivery
from forecasts.services.messages import digest_email_build, webhook_text
from forecasts.services.webhook_targets import WebhookTargetRefused, webhook_post
from forecasts.tasks import digest_send_task, digests_dispatch_task, webhook_send_task

logger = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
DUE_CLAIM_LIMIT = 1000
NOT_VISIBLE_ERROR = "Not sent: the recipient may no longer see this question."
WEBHOOK_TEST_TEXT = "Forewarn test message: this webhook will receive your reminders and notices."


@dataclass
class DeliveryTally:
    """What one way of sending did with a list of deliveries."""

    queued: int = 0
    sent: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def redispatch_delay() -> timedelta:
    """How long a claimed delivery waits before the sweep queues it again."""
    return timedelta(minutes=settings.FOREWARN["DELIVERY_REDISPATCH_MINUTES"])


def deliveries_claim_due(model, *, now: datetime) -> list[int]:
    """Pending deliveries nobody is working on and whose time has come; each is pushed back by the
    redispatch delay, so the caller queues it once and the sweep re-queues it only if it is lost."""
    with transaction.atomic():
        ids = list(
            model.objects.filter(status=model.Status.PENDING, next_attempt_at__lte=now)
            .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
            .order_by("next_attempt_at", "id")
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)[:DUE_CLAIM_LIMIT]
        )
        model.objects.filter(pk__in=ids).update(next_attempt_at=now + redispatch_delay())
    return ids


def lease_take(model, *, delivery_id: int, now: datetime) -> bool:
    """Claim-by-update: true for exactly one caller while the lease lasts."""
    return bool(
        model.objects.filter(pk=delivery_id, status=model.Status.PENDING)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(lease_until=now + LEASE, attempts=F("attempts") + 1)
    )


def digests_prepare(*, now: datetime | None = None) -> list[int]:
    """Open a digest for every user with unsent notifications whose period has passed; return the
    pending digests to send now (new ones and any a lost task left behind)."""
    now = now or timezone.now()
    user_ids = list(
        Notification.objects.filter(
            channel=Notification.Channel.IN_APP, sent_at__isnull=True, digest__isnull=True, user__is_active=True
        )
        .exclude(user__email="")
        .order_by()
        .values_list("user_id", flat=True)
        .distinct()
    )
    profiles = {profile.user_id: profile for profile in Profile.objects.filter(user_id__in=user_ids)}
    busy = set(
        DigestDelivery.objects.filter(user_id__in=user_ids, status=DigestDelivery.Status.PENDING).values_list(
            "user_id", flat=True
        )
    )
    for user_id in user_ids:
        profile = profiles.get(user_id)
        if user_id in busy or (
            profile and profile.last_digest_at and profile.last_digest_at + profile.digest_period > now
        ):
            continue
        try:
            digest_claim(user_id=user_id, now=now)
        except Exception:
            logger.exception("Could not open a digest for user %s; the next tick retries.", user_id)
    return deliveries_claim_due(DigestDelivery, now=now)


@transaction.atomic
def digest_claim(*, user_id: int, now: datetime) -> DigestDelivery | None:
    """Open the user's digest for this period and attach their unsent notifications to it, unless a
    digest already went out this period."""
    profile = Profile.objects.get_or_create(user_id=user_id)[0]
    period_over = Q(last_digest_at__isnull=True) | Q(last_digest_at__lte=now - profile.digest_period)
    if not Profile.objects.filter(pk=profile.pk).filter(period_over).update(last_digest_at=now):
        return None
    delivery = DigestDelivery.objects.create(user_id=user_id, created_at=now, next_attempt_at=now)
    attached = Notification.objects.filter(
        user_id=user_id, channel=Notification.Channel.IN_APP, sent_at__isnull=True, digest__isnull=True
    ).update(digest=delivery)
    if not attached:
        transaction.set_rollback(True)
        return None
    return delivery


def digest_deliver(*, delivery_id: int, now: datetime | None = None) -> bool:
    """Send one pending digest; false when it is already sent or another worker is sending it.

    Lists only the notifications the user may still see; the others stay attached, unsent.
    """
    now = now or timezone.now()
    if not lease_take(DigestDelivery, delivery_id=delivery_id, now=now):
        return False
    delivery = DigestDelivery.objects.select_related("user").get(pk=delivery_id)
    notifications = list(
        notifications_visible_to(delivery.user)
        .filter(digest=delivery)
        .select_related("question", "question__owner")
        .order_by("created_at", "id")
    )
    if notifications and delivery.user.email:
        try:
            digest_email_build(delivery=delivery, notifications=notifications, now=now).send()
        except smtplib.SMTPRecipientsRefused as error:
            # The address itself is refused: retrying cannot help. The notifications stay in-app.
            DigestDelivery.objects.filter(pk=delivery_id).update(
                status=DigestDelivery.Status.FAILED,
                lease_until=None,
                next_attempt_at=None,
                last_error=repr(error)[:2000],
            )
            logger.warning("Digest %s refused by the mail server: %s", delivery_id, error)
            return False
        except Exception as error:
            DigestDelivery.objects.filter(pk=delivery_id).update(
                lease_until=None, last_error=f"{type(error).__name__}: {error}"[:2000]
            )
            raise
    with transaction.atomic():
        DigestDelivery.objects.filter(pk=delivery_id).update(
            status=DigestDelivery.Status.SENT, sent_at=now, lease_until=None, next_attempt_at=None, last_error=""
        )
        Notification.objects.filter(
            pk__in=[notification.pk for notification in notifications], sent_at__isnull=True
        ).update(sent_at=now)
    return True


def webhook_deliveries_due(*, now: datetime | None = None) -> list[int]:
    """Webhook deliveries to queue now: new ones, and any whose task was lost."""
    return deliveries_claim_due(WebhookDelivery, now=now or timezone.now())


def webhook_deliver(*, delivery_id: int, now: datetime | None = None) -> bool:
    """POST one notification to its webhook (Slack-compatible {"text": ...}); records every attempt.

    Raises WebhookDeliveryFailed when a retry may help, so the task retries with backoff. A
    recipient who may no longer see the question gets nothing: the delivery is marked failed.
    """
    now = now or timezone.now()
    if not lease_take(WebhookDelivery, delivery_id=delivery_id, now=now):
        return False
    if not webhook_deliveries_still_visible(WebhookDelivery.objects.filter(pk=delivery_id)).exists():
        WebhookDelivery.objects.filter(pk=delivery_id).update(
            status=WebhookDelivery.Status.FAILED, lease_until=None, next_attempt_at=None, last_error=NOT_VISIBLE_ERROR
        )
        logger.info("Webhook delivery %s withheld: its recipient may no longer see the question.", delivery_id)
        return False
    delivery = WebhookDelivery.objects.select_related("notification").get(pk=delivery_id)
    try:
        webhook_post(url=delivery.url, payload={"text": webhook_text(delivery.notification)})
    except (WebhookDeliveryFailed, ValueError) as error:
        permanent = isinstance(error, ValueError) or delivery.attempts >= settings.FOREWARN["WEBHOOK_MAX_ATTEMPTS"]
        WebhookDelivery.objects.filter(pk=delivery_id).update(
            status=WebhookDelivery.Status.FAILED if permanent else WebhookDelivery.Status.PENDING,
            lease_until=None,
            last_error=str(error)[:2000],
            next_attempt_at=None if permanent else now + redispatch_delay(),
        )
        logger.warning("Webhook delivery %s attempt %s failed: %s", delivery_id, delivery.attempts, error)
        if permanent:
            return False
        raise
    WebhookDelivery.objects.filter(pk=delivery_id).update(
        status=WebhookDelivery.Status.SENT,
        sent_at=timezone.now(),
        lease_until=None,
        next_attempt_at=None,
        last_error="",
    )
    return True


@dataclass
class WebhookTestOutcome:
    """What a test message to the user's webhook did: delivered, refused (not sent) or failed."""

    outcome: str
    detail: str


def webhook_test_send(*, user) -> WebhookTestOutcome:
    """Send a test message to the user's webhook now, through the same checks; creates nothing."""
    url = Profile.objects.for_user(user).webhook_url
    if not url:
        return WebhookTestOutcome(outcome="refused", detail="No webhook URL is set.")
    try:
        answer = webhook_post(url=url, payload={"text": WEBHOOK_TEST_TEXT})
    except WebhookTargetRefused as error:
        return WebhookTestOutcome(outcome="refused", detail=str(error))
    except (WebhookDeliveryFailed, ValueError) as error:
        return WebhookTestOutcome(outcome="failed", detail=str(error))
    return WebhookTestOutcome(outcome="delivered", detail=f"HTTP {answer.status} {answer.reason}")


# The two ways of sending -------------------------------------------------------------------------


def tasks_queue(*, task, ids: list[int]) -> DeliveryTally:
    """One task per id. If the broker fails part-way the rest stay pending in the database and a
    later sweep or digest tick queues them again."""
    for queued, delivery_id in enumerate(ids):
        try:
            task.delay(delivery_id)
        except BrokerError:
            logger.warning("Broker unavailable: %d %s task(s) left for a later tick.", len(ids) - queued, task.name)
            return DeliveryTally(queued=queued)
    return DeliveryTally(queued=len(ids))


def webhooks_queue(*, delivery_ids: list[int]) -> DeliveryTally:
    """Queue one task per webhook delivery (beat's way)."""
    return tasks_queue(task=webhook_send_task, ids=delivery_ids)


def webhooks_deliver_inline(*, delivery_ids: list[int]) -> DeliveryTally:
    """POST each webhook delivery now, one after another (the command's way)."""
    tally = DeliveryTally()
    for delivery_id in delivery_ids:
        try:
            tally.sent += webhook_deliver(delivery_id=delivery_id)
        except Exception as error:  # one dead endpoint must not stop the rest; the sweep retries it
            tally.failed += 1
            tally.errors.append(f"webhook {delivery_id} not delivered (will retry): {error}")
    return tally


def digests_queue(*, now: datetime | None = None) -> DeliveryTally:
    """Open the digests that are due and queue one task per digest to send (the digest tick)."""
    return tasks_queue(task=digest_send_task, ids=digests_prepare(now=now))


def digests_tick_queue(*, now: datetime, anyone_notified: bool) -> DeliveryTally:
    """After a sweep that notified someone, queue the digest tick now (beat's way): users whose
    digest period has passed hear at once rather than at the next tick."""
    if not anyone_notified:
        return DeliveryTally()
    try:
        digests_dispatch_task.delay()
    except BrokerError:
        logger.warning("Broker unavailable: the digest tick will send the new notifications.")
        return DeliveryTally()
    return DeliveryTally(queued=1)


def digests_deliver_inline(*, now: datetime, anyone_notified: bool) -> DeliveryTally:
    """Open and send every digest that is due now, one after another (the command's way: with no
    digest tick of its own, it sends them whether or not this sweep notified anyone)."""
    tally = DeliveryTally()
    for delivery_id in digests_prepare(now=now):
        try:
            tally.sent += digest_deliver(delivery_id=delivery_id)
        except Exception as error:  # one bad address or mail outage must not stop the rest
            tally.failed += 1
            tally.errors.append(f"digest {delivery_id} not sent: {error}")
    return tally
