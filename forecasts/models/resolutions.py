"""The resolution audit trail."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from forecasts.models.questions import Question


class ResolutionEvent(models.Model):
    """One entry of a question's resolution audit trail: resolve, unresolve or annul."""

    class Action(models.TextChoices):
        RESOLVE = "resolve", "Resolved"
        UNRESOLVE = "unresolve", "Resolution undone"
        ANNUL = "annul", "Annulled"

    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="history")
    action = models.CharField(max_length=10, choices=Action.choices)
    outcome = models.CharField(max_length=10, choices=Question.Outcome.choices, blank=True)
    previous_status = models.CharField(max_length=24, choices=Question.Status.choices)
    previous_outcome = models.CharField(max_length=10, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    evidence_url = models.URLField(blank=True, max_length=500)
    note = models.TextField(blank=True)
    occurred_at = models.DateTimeField(null=True, blank=True)
    # When the forecasters were told; NULL means the sweep still has to tell them.
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["question", "created_at"], name="resolution_event_q_idx"),
            models.Index(
                fields=["created_at"], condition=Q(notified_at__isnull=True), name="resolution_unnotified_idx"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(action="resolve", outcome__in=["yes", "no"])
                    | Q(action="annul", outcome="annulled")
                    | Q(action="unresolve", outcome="")
                ),
                name="resolution_event_outcome_matches_action",
            )
        ]

    def __str__(self):
        return f"{self.get_action_display()} {self.question_id} by {self.actor}"


class WindowChange(models.Model):
    """One move of an open question's window: who moved it, from what to what, whom it cut off.

    Kept apart from the resolution history: a window move is not a resolution, tells nobody and
    queues no rescoring, and it must not become a question's current resolution.
    """

    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="window_changes")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    previous_window_start = models.DateTimeField(null=True, blank=True)
    previous_window_end = models.DateTimeField()
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField()
    forecasts_cut_off = models.PositiveIntegerField(
        default=0, help_text="Forecasts made at or after the new window end (only a moderator may cut any off)."
    )

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["question", "created_at"], name="window_change_question_idx")]

    def __str__(self):
        return f"Window of {self.question_id} moved by {self.actor}"
