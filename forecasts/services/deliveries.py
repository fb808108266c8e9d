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
permanent failure (4xx, or WEBHOOK_MAX_ATTEMPTS used up) marked failed.
"""

import json
import logging
import smtplib
import urllib.error
import urllib.request
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from forecasts.models import DigestDelivery, Notification, Profile, WebhookDelivery
from forecasts.services.notifications import question_admin_url

logger = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
DUE_CLAIM_LIMIT = 1000


class WebhookDeliveryFailed(Exception):
    """A webhook POST failed in a way worth retrying."""


def redispatch_delay() -> timedelta:
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
    """Send one pending digest; false when it is already sent or another worker is sending it."""
    from forecasts.emails import digest_email_build

    now = now or timezone.now()
    if not lease_take(DigestDelivery, delivery_id=delivery_id, now=now):
        return False
    delivery = DigestDelivery.objects.select_related("user").get(pk=delivery_id)
    notifications = list(
        delivery.notifications.select_related("question", "question__owner").order_by("created_at", "id")
    )
    if notifications and delivery.user.email:
        try:
            digest_email_build(delivery=delivery, notifications=notifications, now=now).send()
        except smtplib.SMTPRecipientsRefused as error:
            # The address itself is refused: retrying cannot help. The notifications stay in-app.
            DigestDelivery.objects.filter(pk=delivery_id).update(
                status=DigestDelivery.Status.FAILED, lease_until=None, next_attempt_at=None, last_error=repr(error)[:2000]
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
        delivery.notifications.filter(sent_at__isnull=True).update(sent_at=now)
    return True


def webhook_deliveries_due(*, now: datetime | None = None) -> list[int]:
    """Webhook deliveries to queue now: new ones, and any whose task was lost."""
    return deliveries_claim_due(WebhookDelivery, now=now or timezone.now())


def webhook_post(url: str, payload: dict) -> None:
    """POST JSON; raises WebhookDeliveryFailed (retry) or ValueError (permanent) on failure."""
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", "User-Agent": "Forewarn"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=settings.FOREWARN["WEBHOOK_TIMEOUT_SECONDS"]) as response:
            response.read(1024)
    except urllib.error.HTTPError as error:
        if 400 <= error.code < 500 and error.code not in (408, 429):
            raise ValueError(f"HTTP {error.code} {error.reason}") from error
        raise WebhookDeliveryFailed(f"HTTP {error.code} {error.reason}") from error
    except (urllib.error.URLError, OSError) as error:
        raise WebhookDeliveryFailed(f"{type(error).__name__}: {getattr(error, 'reason', error)}") from error


def webhook_text(notification: Notification) -> str:
    text = notification.message
    if notification.question_id:
        text += f" {question_admin_url(notification.question_id)}"
    return text


def webhook_deliver(*, delivery_id: int, now: datetime | None = None) -> bool:
    """POST one notification to its webhook (Slack-compatible {"text": ...}); records every attempt.

    Raises WebhookDeliveryFailed when a retry may help, so the task retries with backoff.
    """
    now = now or timezone.now()
    if not lease_take(WebhookDelivery, delivery_id=delivery_id, now=now):
        return False
    delivery = WebhookDelivery.objects.select_related("notification").get(pk=delivery_id)
    try:
        webhook_post(delivery.url, {"text": webhook_text(delivery.notification)})
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
        status=WebhookDelivery.Status.SENT, sent_at=timezone.now(), lease_until=None, next_attempt_at=None, last_error=""
    )
    return True
