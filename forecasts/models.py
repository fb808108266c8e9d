"""Forewarn's domain: sources, questions with windows, append-only forecasts, resolutions."""

import secrets
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from forecasts.rules import user_is_moderator

PROBABILITY_MIN = 0.001
PROBABILITY_MAX = 0.999


class Team(models.Model):
    name = models.CharField(max_length=120, unique=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="TeamMembership", related_name="teams"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class TeamMembership(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="team_memberships"
    )
    joined_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="team_membership_unique")
        ]

    def __str__(self):
        return f"{self.user} in {self.team}"


def new_calendar_token() -> str:
    return secrets.token_urlsafe(24)


def default_digest_period() -> timedelta:
    """The site's digest period (FOREWARN_DIGEST_PERIOD_MINUTES) for a profile that sets none."""
    return timedelta(minutes=settings.FOREWARN.get("DIGEST_PERIOD_MINUTES", 60))


class ProfileManager(models.Manager):
    def for_user(self, user) -> "Profile":
        """The user's settings, created with defaults on first use."""
        return self.get_or_create(user=user)[0]


class Profile(models.Model):
    """Per-user settings for reminders and feeds."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="forewarn_profile"
    )
    digest_period = models.DurationField(
        default=default_digest_period,
        help_text="At most one reminder email per this period.",
    )
    closing_soon_opt_in = models.BooleanField(
        default=True, help_text="Nudge me a day before a window I forecast on closes."
    )
    webhook_url = models.URLField(blank=True, help_text="Slack-compatible incoming webhook.")
    calendar_token = models.CharField(max_length=64, unique=True, default=new_calendar_token)
    last_digest_at = models.DateTimeField(null=True, blank=True)

    objects = ProfileManager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(digest_period__gte=timedelta(minutes=1)),
                name="profile_digest_period_at_least_a_minute",
            )
        ]

    def __str__(self):
        return f"settings of {self.user}"


class Source(models.Model):
    """Who made a public statement: an organisation or a person."""

    class Kind(models.TextChoices):
        ORGANISATION = "organisation", "Organisation"
        PERSON = "person", "Person"

    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.ORGANISATION)
    url = models.URLField(blank=True)
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Tag(models.Model):
    name = models.SlugField(max_length=60, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class QuestionKind(models.TextChoices):
    INVASION_WINDOW = "invasion_window", "Invasion window"
    PRETEXT_OPERATION = "pretext_operation", "Pretext operation"
    ESCALATION = "escalation", "Escalation"
    DIPLOMATIC = "diplomatic", "Diplomatic"
    SANCTIONS = "sanctions", "Sanctions"
    OTHER = "other", "Other"


class QuestionStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    OPEN = "open", "Open"
    AWAITING_RESOLUTION = "awaiting_resolution", "Awaiting resolution"
    RESOLVED = "resolved", "Resolved"
    ANNULLED = "annulled", "Annulled"


class QuestionQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Questions without a team plus those of the user's teams (drafts: owner only); all for moderators."""
        if not user or not user.is_authenticated:
            return self.none()
        if user_is_moderator(user):
            return self
        member = TeamMembership.objects.filter(team_id=models.OuterRef("team_id"), user_id=user.pk)
        shared = Q(team__isnull=True) | models.Exists(member)
        return self.filter(shared).exclude(Q(status=QuestionStatus.DRAFT) & ~Q(owner_id=user.pk))

    def due_to_close(self, now=None):
        return self.filter(status=Question.Status.OPEN, window_end__lte=now or timezone.now())


class Question(models.Model):
    """One predictive statement, phrased to resolve yes or no within a window."""

    Kind = QuestionKind
    Status = QuestionStatus

    class Outcome(models.TextChoices):
        YES = "yes", "Yes"
        NO = "no", "No"
        ANNULLED = "annulled", "Annulled"

    FINAL_STATUSES = (Status.RESOLVED, Status.ANNULLED)
    EDITABLE_STATUSES = (Status.DRAFT, Status.OPEN)

    title = models.CharField(max_length=300)
    external_key = models.CharField(
        max_length=100, blank=True, help_text="Stable key of an imported question (seeds, imports)."
    )
    details = models.TextField(blank=True)
    resolution_criteria = models.TextField()
    kind = models.CharField(max_length=32, choices=Kind.choices, default=Kind.OTHER)
    tags = models.ManyToManyField(Tag, blank=True, related_name="questions")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_questions"
    )
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.PROTECT, related_name="questions"
    )

    source = models.ForeignKey(
        Source, null=True, blank=True, on_delete=models.PROTECT, related_name="questions"
    )
    source_quote = models.TextField(blank=True)
    source_statement_date = models.DateField(null=True, blank=True)
    source_url = models.URLField(blank=True, max_length=500)

    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField()
    resolve_by = models.DateTimeField()

    status = models.CharField(max_length=24, choices=Status.choices, default=Status.OPEN)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, blank=True)
    occurred_at = models.DateTimeField(
        null=True, blank=True, help_text="When the event happened (early resolution)."
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    # Reminder schedule, kept in the database so the sweep (not a countdown) drives it.
    next_reminder_at = models.DateTimeField(null=True, blank=True)
    reminder_round = models.PositiveIntegerField(default=0)
    next_escalation_at = models.DateTimeField(null=True, blank=True)
    # The window end the closing-soon nudge went out for: moving the window re-arms the nudge.
    closing_soon_notified_for = models.DateTimeField(null=True, blank=True)

    # Maintained aggregates, refreshed on every forecast so lists never scan forecasts.
    forecast_count = models.PositiveIntegerField(default=0)
    forecaster_count = models.PositiveIntegerField(default=0)
    crowd_probability = models.FloatField(null=True, blank=True)

    objects = QuestionQuerySet.as_manager()

    class Meta:
        ordering = ["window_end", "id"]
        permissions = [
            ("moderate_question", "Can resolve, annul and edit any question"),
        ]
        indexes = [
            models.Index(fields=["status", "window_end"], name="question_sweep_idx"),
            # The question list's default order: a page walks the index instead of sorting.
            models.Index(fields=["window_end", "id"], name="question_list_order_idx"),
            models.Index(fields=["status", "next_reminder_at"], name="question_reminder_idx"),
            models.Index(fields=["owner", "status"], name="question_owner_status_idx"),
            models.Index(fields=["resolved_at"], name="question_resolved_at_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["external_key"], condition=~Q(external_key=""), name="question_external_key_unique"
            ),
            models.CheckConstraint(
                condition=Q(window_start__isnull=True) | Q(window_end__gte=models.F("window_start")),
                name="question_window_end_after_start",
            ),
            models.CheckConstraint(
                condition=Q(resolve_by__gte=models.F("window_end")),
                name="question_resolve_by_after_window_end",
            ),
            models.CheckConstraint(
                condition=(
                    Q(status="resolved", outcome__in=["yes", "no"], resolved_at__isnull=False)
                    | Q(status="annulled", outcome="annulled", resolved_at__isnull=False)
                    | (
                        Q(status__in=["draft", "open", "awaiting_resolution"])
                        & Q(outcome="")
                        & Q(resolved_at__isnull=True)
                    )
                ),
                name="question_outcome_iff_final",
            ),
            models.CheckConstraint(
                condition=Q(status__in=QuestionStatus.values),
                name="question_status_known",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=QuestionKind.values),
                name="question_kind_known",
            ),
            models.CheckConstraint(
                condition=Q(forecaster_count__lte=models.F("forecast_count")),
                name="question_forecaster_count_le_forecast_count",
            ),
        ]

    def __str__(self):
        return self.title

    def clean(self):
        errors = {}
        if self.window_start and self.window_end and self.window_end < self.window_start:
            errors["window_end"] = "The window cannot end before it starts."
        if self.window_end and self.resolve_by and self.resolve_by < self.window_end:
            errors["resolve_by"] = "The resolve-by deadline cannot be before the window ends."
        if errors:
            raise ValidationError(errors)

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL_STATUSES

    @property
    def accepts_forecasts(self) -> bool:
        return self.status == self.Status.OPEN and self.window_end > timezone.now()


class ForecastQuerySet(models.QuerySet):
    def visible_to(self, user):
        return self.filter(question__in=Question.objects.visible_to(user))


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
    source = models.ForeignKey(
        Source, null=True, blank=True, on_delete=models.PROTECT, related_name="forecasts"
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="recorded_forecasts"
    )
    made_at = models.DateTimeField()
    recorded_at = models.DateTimeField(default=timezone.now)
    probability = models.FloatField()
    phrase = models.CharField(max_length=60, blank=True)
    yardstick = models.CharField(max_length=10, choices=Yardstick.choices, blank=True)
    rationale = models.TextField(blank=True)
    quote = models.TextField(blank=True)
    url = models.URLField(blank=True, max_length=500)

    objects = ForecastQuerySet.as_manager()

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
            models.CheckConstraint(
                condition=(
                    Q(forecaster__isnull=False, source__isnull=True)
                    | Q(forecaster__isnull=True, source__isnull=False)
                ),
                name="forecast_by_user_xor_source",
            ),
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
        ]

    def __str__(self):
        return f"{self.author_name}: {self.probability:.0%} on {self.question_id}"

    @property
    def author_name(self) -> str:
        return str(self.source) if self.source_id else str(self.forecaster)

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            raise ValidationError("Forecasts are append-only: submit a new forecast instead.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError("Forecasts are append-only and cannot be deleted.")


class LatestForecast(models.Model):
    """Each author's standing forecast on a question: what crowd medians and lists read."""

    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="standing")
    forecaster = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.CASCADE, related_name="+"
    )
    source = models.ForeignKey(Source, null=True, on_delete=models.CASCADE, related_name="+")
    forecast = models.OneToOneField(Forecast, on_delete=models.CASCADE, related_name="+")
    probability = models.FloatField()
    made_at = models.DateTimeField()

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
            models.CheckConstraint(
                condition=(
                    Q(forecaster__isnull=False, source__isnull=True)
                    | Q(forecaster__isnull=True, source__isnull=False)
                ),
                name="latest_forecast_by_user_xor_source",
            ),
        ]


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


class Notification(models.Model):
    """A message to one user; the dedupe key makes a second copy impossible."""

    class Kind(models.TextChoices):
        READY_TO_RESOLVE = "ready_to_resolve", "Ready to resolve"
        REMINDER = "reminder", "Reminder to resolve"
        ESCALATION = "escalation", "Resolve-by passed"
        CLOSING_SOON = "closing_soon", "Window closing soon"
        RESOLVED = "resolved", "Question resolved"

    class Channel(models.TextChoices):
        IN_APP = "in_app", "In-app and email digest"
        WEBHOOK = "webhook", "Webhook"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
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
        constraints = [
            models.UniqueConstraint(
                fields=["user", "channel", "dedupe_key"], name="notification_dedupe"
            )
        ]

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

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="digest_deliveries"
    )

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

    notification = models.OneToOneField(
        Notification, on_delete=models.CASCADE, related_name="webhook_delivery"
    )
    url = models.URLField(max_length=500)

    class Meta(Delivery.Meta):
        verbose_name_plural = "webhook deliveries"
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="webhook_delivery_due_idx")]

    def __str__(self):
        return f"webhook {self.pk} to {self.url} ({self.status})"


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


class ScoreQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Scores on questions the user may see, decided by the copied team: no join to questions."""
        if not user or not user.is_authenticated:
            return self.none()
        if user_is_moderator(user):
            return self
        return self.filter(
            Q(team__isnull=True)
            | Q(team__in=TeamMembership.objects.filter(user_id=user.pk).values("team_id"))
        )

    def counted(self, now=None):
        """Scores that count in statistics: their question's window has ended (no early-YES bias)."""
        return self.filter(window_end__lte=now or timezone.now())


class Score(models.Model):
    """One author's scores on one resolved yes/no question; rebuilt whenever the resolution changes."""

    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="scores")
    forecaster = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="scores",
        db_index=False,  # covered by score_forecaster_idx
    )
    source = models.ForeignKey(
        Source,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="scores",
        db_index=False,  # covered by score_source_idx
    )
    forecast = models.ForeignKey(
        Forecast, on_delete=models.CASCADE, related_name="+", help_text="The forecast that counts."
    )
    probability = models.FloatField(help_text="The counted forecast's probability of YES.")
    outcome = models.PositiveSmallIntegerField(help_text="1 for YES, 0 for NO.")
    brier = models.FloatField()
    log_loss = models.FloatField()
    time_averaged_brier = models.FloatField()
    coverage = models.FloatField(
        null=True, blank=True, help_text="Share of the question's open span the author's forecasts covered."
    )
    relative_brier = models.FloatField(
        null=True, blank=True, help_text="Time-averaged Brier minus the crowd's; None with one author."
    )
    forecast_count = models.PositiveIntegerField(help_text="Forecasts made before the scoring cutoff.")
    scored_until = models.DateTimeField(help_text="The cutoff: the close, or when the event happened.")

    # Copies of the question's and the counted forecast's fields, so statistics filter scores alone.
    question_kind = models.CharField(max_length=32, choices=QuestionKind.choices)
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolved_at = models.DateTimeField()
    window_end = models.DateTimeField()
    phrase = models.CharField(max_length=60, blank=True)
    yardstick = models.CharField(max_length=10, choices=Forecast.Yardstick.choices, blank=True)

    computed_at = models.DateTimeField(default=timezone.now)

    objects = ScoreQuerySet.as_manager()

    class Meta:
        ordering = ["-resolved_at", "question_id", "id"]
        indexes = [
            models.Index(fields=["forecaster", "resolved_at"], name="score_forecaster_idx"),
            models.Index(fields=["source", "resolved_at"], name="score_source_idx"),
            models.Index(fields=["question_kind", "resolved_at"], name="score_kind_idx"),
            models.Index(fields=["resolved_at"], name="score_resolved_at_idx"),
            models.Index(fields=["yardstick", "phrase"], name="score_phrase_idx"),
            # Covers every column one forecaster's calibration reads: an index-only scan instead
            # of one heap page per scored pair (a heavy forecaster's rows spread over the table).
            models.Index(
                fields=[
                    "forecaster", "window_end", "team", "question", "probability", "outcome",
                    "brier", "log_loss", "time_averaged_brier", "relative_brier",
                ],
                name="score_forecaster_covering_idx",
            ),
            # The sweep's stale-score check probes this instead of reading every score row.
            models.Index(fields=["question", "computed_at"], name="score_question_computed_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(forecaster__isnull=False, source__isnull=True)
                    | Q(forecaster__isnull=True, source__isnull=False)
                ),
                name="score_by_user_xor_source",
            ),
            models.UniqueConstraint(
                fields=["question", "forecaster"],
                condition=Q(forecaster__isnull=False),
                name="score_one_per_user_and_question",
            ),
            models.UniqueConstraint(
                fields=["question", "source"],
                condition=Q(source__isnull=False),
                name="score_one_per_source_and_question",
            ),
            models.CheckConstraint(condition=Q(outcome__in=[0, 1]), name="score_outcome_binary"),
            models.CheckConstraint(
                condition=Q(probability__gte=0, probability__lte=1), name="score_probability_in_range"
            ),
        ]

    def __str__(self):
        author = self.source if self.source_id else self.forecaster
        return f"{author} on {self.question_id}: Brier {self.brier:.3f}"


class CalibrationReport(Score):
    """The admin's Calibration page: a view over the stored scores, with no table of its own."""

    class Meta:
        proxy = True
        verbose_name = "calibration"
        verbose_name_plural = "calibration"
