"""Sources, tags and questions: one predictive statement with its window."""

from datetime import UTC, datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from forecasts.models.accounts import CrowdHidden, Team

# Every date a question or forecast carries lies in these years, whatever the entry point (API,
# admin, commands, seeds): calendar arithmetic on them (grace periods, chart margins, feed
# events) can then never overflow Python's years 1 to 9999.
EARLIEST_YEAR = 1900
LATEST_YEAR = 2999
YEAR_BOUNDS_MESSAGE = f"Must be between the years {EARLIEST_YEAR} and {LATEST_YEAR}."
MAX_TAGS = 20


def within_year_bounds(value) -> bool:
    """Whether a date or datetime (read in UTC) falls between EARLIEST_YEAR and LATEST_YEAR."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        try:
            value = value.astimezone(UTC)
        except OverflowError:
            return False
    return EARLIEST_YEAR <= value.year <= LATEST_YEAR


def year_bounds_errors(instance, field_names) -> dict:
    """{field: message} for each named date field of instance outside the years allowed."""
    return {
        name: YEAR_BOUNDS_MESSAGE
        for name in field_names
        if getattr(instance, name) is not None and not within_year_bounds(getattr(instance, name))
    }


class Source(models.Model):
    """Who made a public statement: an organisation or a person."""

    class Kind(models.TextChoices):
        ORGANISATION = "organisation", "Organisation"
        PERSON = "person", "Person"

    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.ORGANISATION)
    url = models.URLField(blank=True)
    description = models.TextField(blank=True)
    aliases = models.JSONField(
        default=list,
        blank=True,
        help_text='Other names reports give this source ("the Pentagon", "Moscow"): report intake matches them too.',
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def clean(self):
        if not isinstance(self.aliases, list) or not all(isinstance(alias, str) for alias in self.aliases):
            raise ValidationError({"aliases": "A list of names."})


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


QUESTION_DATE_FIELDS = ("window_start", "window_end", "resolve_by", "source_statement_date", "occurred_at")


class QuestionQuerySet(models.QuerySet):
    # Who may see which questions is decided in forecasts/access.py, not here.

    def due_to_close(self, now=None):
        return self.filter(status=Question.Status.OPEN, window_end__lte=now or timezone.now())


class Question(models.Model):
    """One predictive statement, phrased to resolve yes or no within a window."""

    Kind = QuestionKind
    Status = QuestionStatus
    CrowdHidden = CrowdHidden

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
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_questions")
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.PROTECT, related_name="questions")

    source = models.ForeignKey(Source, null=True, blank=True, on_delete=models.PROTECT, related_name="questions")
    source_quote = models.TextField(blank=True)
    source_statement_date = models.DateField(null=True, blank=True)
    source_url = models.URLField(blank=True, max_length=500)

    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField()
    resolve_by = models.DateTimeField()

    status = models.CharField(max_length=24, choices=Status.choices, default=Status.OPEN)
    # Blind forecasting: who may see the crowd is decided in forecasts/access.py (crowd_rule).
    crowd_hidden = models.CharField(
        "blind forecasting",
        max_length=20,
        choices=CrowdHidden.choices,
        default=CrowdHidden.NEVER,
        help_text="Hide the crowd (median, aggregates, other people's forecasts) to avoid anchoring.",
    )
    outcome = models.CharField(max_length=10, choices=Outcome.choices, blank=True)
    occurred_at = models.DateTimeField(null=True, blank=True, help_text="When the event happened (early resolution).")
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The resolve or annul event in force: set while the question is final, cleared by an undo.
    current_resolution = models.ForeignKey(
        "forecasts.ResolutionEvent", null=True, blank=True, editable=False, on_delete=models.SET_NULL, related_name="+"
    )

    # Set by every change of the resolution, cleared once the scores are written for it: the sweep
    # checks only these questions for scores a lost task never wrote.
    scores_due = models.BooleanField(default=False, db_default=False, editable=False)

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

    # A member of a question group: its place in the ladder or the set, and (which) its option.
    group = models.ForeignKey(
        "forecasts.QuestionGroup", null=True, blank=True, on_delete=models.PROTECT, related_name="members"
    )
    group_position = models.PositiveSmallIntegerField(null=True, blank=True)
    option_label = models.CharField(max_length=200, blank=True)

    # Maintained aggregates, refreshed on every forecast so lists never scan forecasts.
    forecast_count = models.PositiveIntegerField(default=0)
    forecaster_count = models.PositiveIntegerField(default=0)
    # The team's chosen crowd method (median by default), copied from the aggregates below.
    crowd_probability = models.FloatField(null=True, blank=True)
    crowd_median = models.FloatField(null=True, blank=True)
    crowd_recency_weighted_median = models.FloatField(null=True, blank=True)
    crowd_mean_log_odds = models.FloatField(null=True, blank=True)
    crowd_extremized = models.FloatField(null=True, blank=True)
    crowd_performance_weighted = models.FloatField(null=True, blank=True)
    crowd_extremizing_factor = models.FloatField(null=True, blank=True)
    # The mean log-odds itself: a refitted factor re-extremizes from it without reading the forecasts.
    crowd_mean_logit = models.FloatField(null=True, blank=True)

    objects = QuestionQuerySet.as_manager()

    class Meta:
        ordering = ["window_end", "id"]
        permissions = [
            ("moderate_question", "Can resolve, annul and edit any question"),
        ]
        indexes = [
            models.Index(fields=["status", "window_end"], name="question_sweep_idx"),
            # The question list's default order: a page walks the index instead of sorting. The
            # visibility rule's columns after it let the list's count and a late page's ids come
            # from the index alone, without reading the (wide) rows they skip.
            models.Index(fields=["window_end", "id", "team", "status", "owner"], name="question_list_order_idx"),
            # The list's count: the visibility rule's columns alone, counted from the index.
            models.Index(fields=["team", "status", "owner"], name="question_visibility_idx"),
            # The sweep's close: the open questions in window order, without walking every old window.
            models.Index(fields=["window_end", "id"], condition=Q(status="open"), name="question_open_window_idx"),
            models.Index(fields=["status", "next_reminder_at"], name="question_reminder_idx"),
            models.Index(fields=["owner", "status"], name="question_owner_status_idx"),
            models.Index(fields=["resolved_at"], name="question_resolved_at_idx"),
            models.Index(fields=["id"], condition=Q(scores_due=True), name="question_scores_due_idx"),
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
            models.UniqueConstraint(
                fields=["group", "group_position"],
                condition=Q(group__isnull=False),
                name="question_one_member_per_group_position",
            ),
            models.CheckConstraint(
                condition=Q(group__isnull=True) | Q(group_position__isnull=False),
                name="question_group_member_has_position",
            ),
            models.CheckConstraint(
                condition=Q(crowd_hidden__in=CrowdHidden.values),
                name="question_crowd_hidden_known",
            ),
            models.CheckConstraint(
                condition=Q(forecaster_count__lte=models.F("forecast_count")),
                name="question_forecaster_count_le_forecast_count",
            ),
        ]

    def __str__(self):
        return self.title

    def clean(self):
        errors = year_bounds_errors(self, QUESTION_DATE_FIELDS)
        if errors:
            raise ValidationError(errors)
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


class QuestionTally(models.Model):
    """How many questions share a team, status and kind (and, for drafts, an owner): what the
    question list's count sums instead of counting every visible question.

    PostgreSQL statement triggers on the question table keep it in the transaction of every write
    (migration 0020); `question_tally_rebuild` rebuilds it for data loaded with triggers off. The
    fields carry the names of Question's, so the visibility rule (`access.question_rule`) reads it
    as it reads the questions. Empty on other databases, where the list counts the questions.
    """

    team = models.ForeignKey(Team, null=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    status = models.CharField(max_length=24, choices=QuestionStatus.choices)
    kind = models.CharField(max_length=32, choices=QuestionKind.choices)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
        help_text="A draft's owner, who alone sees it; empty for every other status.",
    )
    # No CHECK: a tally gone wrong (data loaded with triggers off) must not refuse a user's write.
    count = models.IntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["team", "status", "kind", "owner"], nulls_distinct=False, name="question_tally_key"
            )
        ]

    def __str__(self):
        return f"{self.count} {self.status} {self.kind} (team {self.team_id}, owner {self.owner_id})"
