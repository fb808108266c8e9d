"""Notifications and the records of their delivery."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from forecasts.models.questions import Question


class Notification(models.Model):
    """A message to one user; the dedupe key makes a second copy impossible."""

    class Kind(models.TextChoices):
        READY_TO_RESOLVE = "ready_to_resolve", "Ready to resolve"
        REMINDER = "reminder", "Reminder to resolve"
        ESCALATION = "escalation", "Resolve-by passed"
        CLOSING_SOON = "closing_soon", "Window closing soon"
        RESOLVED = "resolved", "Question resolved"
        STALE_FORECAST = "stale_forecast", "Forecast getting old"
        CROWD_MOVED = "crowd_moved", "Crowd moved"

    class Channel(models.TextChoices):
        IN_APP = "in_app", "In-app and email digest"
        WEBHOOK = "webhook", "Webhook"

    # No index of its own: the unread and dedupe indexes both start with the user, and every
    # insert (ten thousand in a large close) would pay for a third.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications", db_index=False
    )
    question = models.ForeignKey(
        Question, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.IN_APP)
    round = models.PositiveIntegerField(default=0)
    dedupe_key = models.CharField(max_length=200)
    message = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    digest = models.ForeignKey(
        "DigestDelivery", null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "read_at"], name="notification_unread_idx"),
            models.Index(fields=["sent_at", "user"], name="notification_unsent_idx"),
        ]
        constraints = [models.UniqueConstraint(fields=["user", "channel", "dedupe_key"], name="notification_dedupe")]

    def __str__(self):
        return f"{self.get_kind_display()} for {self.user}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class Delivery(models.Model):
    """What every outgoing delivery records: its state, its attempts and who holds it."""

    Status = DeliveryStatus

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    # A sender holds the lease while it talks to the remote server; a dead sender's lease expires.
    lease_until = models.DateTimeField(null=True, blank=True)
    # When the sweep should (re)queue it if no task has delivered it by then.
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]


class DigestDelivery(Delivery):
    """One digest email to one user, claimed before it is sent so a period never gets two."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="digest_deliveries")

    class Meta(Delivery.Meta):
        verbose_name_plural = "digest deliveries"
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="digest_delivery_due_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["user"], condition=Q(status="pending"), name="digest_delivery_one_pending_per_user"
            ),
            models.CheckConstraint(
                condition=Q(status="sent", sent_at__isnull=False) | ~Q(status="sent"),
                name="digest_delivery_sent_has_time",
            ),
        ]

    def __str__(self):
        return f"digest {self.pk} for {self.user} ({self.status})"


class WebhookDelivery(Delivery):
    """One POST of one notification to the recipient's webhook, with its retry record."""

    notification = models.OneToOneField(Notification, on_delete=models.CASCADE, related_name="webhook_delivery")
    url = models.URLField(max_length=500)

    class Meta(Delivery.Meta):
        verbose_name_plural = "webhook deliveries"
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="webhook_delivery_due_idx")]

    def __str__(self):
        return f"webhook {self.pk} to {self.url} ({self.status})"


class NudgeState(models.Model):
    """What the nudges know about one user's standing forecast on one question.

    Armed by the sweep for the standing forecast it names, with the crowd as it stood then; a
    new forecast re-arms it (a new `forecast`, the crowd again, both nudges unsent).
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="+")
    forecast = models.ForeignKey("forecasts.Forecast", on_delete=models.CASCADE, related_name="+")
    crowd_at_forecast = models.FloatField(null=True, blank=True)
    # The forecast's made_at, copied at arming: the stale nudge finds what is due by index.
    forecast_made_at = models.DateTimeField(null=True, blank=True)
    armed_at = models.DateTimeField(default=timezone.now)
    stale_sent_at = models.DateTimeField(null=True, blank=True)
    crowd_move_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "question"], name="nudge_state_one_per_user")]
        indexes = [
            models.Index(
                fields=["forecast_made_at"], condition=Q(stale_sent_at__isnull=True), name="nudge_state_stale_due_idx"
            )
        ]

    def __str__(self):
        return f"nudges of user {self.user_id} on {self.question_id}"


class ActionTokenUse(models.Model):
    """A one-click email link that has been used; the unique hash makes it single-use."""

    token_hash = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="+")
    action = models.CharField(max_length=10)
    used_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"{self.action} on {self.question_id} by {self.user}"


# Stored scores (DESIGN section 5) -------------------------------------------------------------
