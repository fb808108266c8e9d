"""Forecasts, append-only, and each author's standing forecast."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from forecasts.models.questions import Question, Source, year_bounds_errors

PROBABILITY_MIN = 0.001
PROBABILITY_MAX = 0.999


def one_author_constraint(prefix: str) -> models.CheckConstraint:
    """Exactly one author: a user (forecaster) or a public source, never both, never neither."""
    return models.CheckConstraint(
        condition=Q(forecaster__isnull=False, source__isnull=True) | Q(forecaster__isnull=True, source__isnull=False),
        name=f"{prefix}_by_user_xor_source",
    )


class Confidence(models.TextChoices):
    """Analytic confidence, kept apart from likelihood (ICD 203): how sound the judgement is."""

    LOW = "low", "Low"
    MODERATE = "moderate", "Moderate"
    HIGH = "high", "High"


class Forecast(models.Model):
    """A probability of YES, by a user or by a public source; never edited, never deleted."""

    class Yardstick(models.TextChoices):
        ICD203 = "icd203", "ICD 203"
        KENT = "kent", "Sherman Kent"

    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="forecasts")
    forecaster = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="forecasts",
    )
    source = models.ForeignKey(Source, null=True, blank=True, on_delete=models.PROTECT, related_name="forecasts")
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="recorded_forecasts"
    )
    made_at = models.DateTimeField()
    recorded_at = models.DateTimeField(default=timezone.now)
    probability = models.FloatField()
    phrase = models.CharField(max_length=60, blank=True)
    yardstick = models.CharField(max_length=10, choices=Yardstick.choices, blank=True)
    rationale = models.TextField(blank=True)
    confidence = models.CharField(
        max_length=10, choices=Confidence.choices, blank=True, help_text="Analytic confidence (optional)."
    )
    quote = models.TextField(blank=True)
    url = models.URLField(blank=True, max_length=500)

    class Meta:
        ordering = ["made_at", "id"]
        indexes = [
            models.Index(fields=["question", "forecaster", "made_at"], name="forecast_q_user_idx"),
            models.Index(fields=["question", "source", "made_at"], name="forecast_q_source_idx"),
            models.Index(fields=["forecaster", "made_at"], name="forecast_user_idx"),
            models.Index(fields=["source", "made_at"], name="forecast_source_idx"),
            models.Index(fields=["made_at", "id"], name="forecast_cursor_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(probability__gte=PROBABILITY_MIN, probability__lte=PROBABILITY_MAX),
                name="forecast_probability_in_range",
            ),
            one_author_constraint("forecast"),
            models.CheckConstraint(
                condition=Q(made_at__lte=models.F("recorded_at")),
                name="forecast_not_made_after_recorded",
            ),
            models.CheckConstraint(
                condition=Q(source__isnull=True) | (~Q(quote="") & ~Q(url="")),
                name="forecast_source_statement_has_quote_and_url",
            ),
            models.CheckConstraint(
                condition=Q(phrase="", yardstick="") | (~Q(phrase="") & ~Q(yardstick="")),
                name="forecast_phrase_with_yardstick",
            ),
            models.CheckConstraint(
                condition=Q(confidence__in=["", *Confidence.values]), name="forecast_confidence_known"
            ),
        ]

    def __str__(self):
        return f"{self.author_name}: {self.probability:.0%} on {self.question_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            raise ValidationError("Forecasts are append-only: submit a new forecast instead.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError("Forecasts are append-only and cannot be deleted.")

    def clean(self):
        errors = year_bounds_errors(self, ("made_at",))
        if errors:
            raise ValidationError(errors)

    @property
    def author_name(self) -> str:
        return str(self.source) if self.source_id else str(self.forecaster)


class LatestForecast(models.Model):
    """Each author's standing forecast on a question: what crowd medians and lists read."""

    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="standing")
    forecaster = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.CASCADE, related_name="+")
    source = models.ForeignKey(Source, null=True, on_delete=models.CASCADE, related_name="+")
    forecast = models.OneToOneField(Forecast, on_delete=models.CASCADE, related_name="+")
    probability = models.FloatField()
    made_at = models.DateTimeField()
    # False until the sweep has armed the nudges for this forecast (`nudges_arm`); every write of a
    # new standing forecast sets it back, so the sweep looks only at what changed.
    nudges_armed = models.BooleanField(default=False, db_default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["question", "forecaster"],
                condition=Q(forecaster__isnull=False),
                name="latest_forecast_one_per_user",
            ),
            models.UniqueConstraint(
                fields=["question", "source"],
                condition=Q(source__isnull=False),
                name="latest_forecast_one_per_source",
            ),
            one_author_constraint("latest_forecast"),
        ]
        indexes = [
            # "Questions I forecast on" (the home page): an index-only scan of one forecaster's
            # standing forecasts instead of a heap page per question.
            models.Index(fields=["forecaster", "question"], name="latest_user_question_idx"),
            models.Index(
                fields=["question"],
                condition=Q(nudges_armed=False, forecaster__isnull=False),
                name="latest_nudges_unarmed_idx",
            ),
        ]

    def __str__(self):
        author = f"source {self.source_id}" if self.source_id else f"user {self.forecaster_id}"
        return f"{author} stands at {self.probability:.0%} on {self.question_id}"
