"""Stored scores: one per (forecaster or source, question) once a question resolves."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from forecasts.models.accounts import Team
from forecasts.models.forecasts import Confidence, Forecast, one_author_constraint
from forecasts.models.questions import Question, QuestionKind, Source


class ScoreQuerySet(models.QuerySet):
    # Who may see which scores is decided in forecasts/access.py, not here.

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
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    resolved_at = models.DateTimeField()
    window_end = models.DateTimeField()
    phrase = models.CharField(max_length=60, blank=True)
    yardstick = models.CharField(max_length=10, choices=Forecast.Yardstick.choices, blank=True)
    confidence = models.CharField(max_length=10, choices=Confidence.choices, blank=True)
    made_at = models.DateTimeField(help_text="When the counted forecast or statement was made (copied from it).")

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
                    "forecaster",
                    "window_end",
                    "team",
                    "question",
                    "probability",
                    "outcome",
                    "brier",
                    "log_loss",
                    "time_averaged_brier",
                    "relative_brier",
                    "coverage",
                ],
                name="score_forecaster_covering_idx",
            ),
            # A track record's newest-first page, and its "made from / made before" filters, walk
            # these instead of joining every one of the author's forecasts to sort them.
            models.Index(fields=["forecaster", "-made_at", "-id"], name="score_forecaster_made_idx"),
            models.Index(fields=["source", "-made_at", "-id"], name="score_source_made_idx"),
            # The sweep's stale-score check probes this instead of reading every score row.
            models.Index(fields=["question", "computed_at"], name="score_question_computed_idx"),
        ]
        constraints = [
            one_author_constraint("score"),
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


class AuthorAccuracy(models.Model):
    """An author's mean Brier over every question scored so far, and the weight it earns in the
    performance-weighted crowd of open questions; rebuilt with the author's scores."""

    forecaster = models.OneToOneField(settings.AUTH_USER_MODEL, null=True, on_delete=models.CASCADE, related_name="+")
    source = models.OneToOneField(Source, null=True, on_delete=models.CASCADE, related_name="+")
    scored_questions = models.PositiveIntegerField()
    mean_brier = models.FloatField()
    weight = models.FloatField()
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [one_author_constraint("author_accuracy")]

    def __str__(self):
        author = f"source {self.source_id}" if self.source_id else f"user {self.forecaster_id}"
        return f"{author}: mean Brier {self.mean_brier:.3f} over {self.scored_questions}"


class ExtremizingFactor(models.Model):
    """The instance's extremizing factor for open questions: one row, refitted when a question resolves."""

    factor = models.FloatField(default=1.0)
    questions = models.PositiveIntegerField(default=0, help_text="Resolved questions it was fitted on.")
    fitted_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"extremizing factor {self.factor:.3f} on {self.questions} questions"


class ClosingAggregate(models.Model):
    """A resolved yes/no question's five crowd aggregates as they stood at the scoring cutoff.

    Written with the question's scores, so comparing the methods reads these rows alone. The factor
    and the weights used are the ones known at the question's close (no look-ahead).
    """

    question = models.OneToOneField(Question, on_delete=models.CASCADE, related_name="closing_aggregate")
    outcome = models.PositiveSmallIntegerField(help_text="1 for YES, 0 for NO.")
    forecasters = models.PositiveIntegerField()
    median = models.FloatField()
    recency_weighted_median = models.FloatField()
    mean_log_odds = models.FloatField()
    mean_logit = models.FloatField(help_text="The mean log-odds itself, what later factors are fitted on.")
    extremized = models.FloatField()
    performance_weighted = models.FloatField()
    extremizing_factor = models.FloatField()
    factor_questions = models.PositiveIntegerField(help_text="Earlier questions the factor was fitted on.")
    scored_until = models.DateTimeField()
    # Copies of the question's fields, so the comparison filters these rows alone.
    question_kind = models.CharField(max_length=32, choices=QuestionKind.choices)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    resolved_at = models.DateTimeField()
    window_end = models.DateTimeField()
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["resolved_at"], name="closing_aggregate_resolved_idx")]
        constraints = [models.CheckConstraint(condition=Q(outcome__in=[0, 1]), name="closing_aggregate_outcome_binary")]

    def __str__(self):
        return f"crowd of question {self.question_id} at its close"


class ExactSumField(models.Field):
    """A `numeric` without a fixed scale: a sum of float columns kept exactly (PostgreSQL)."""

    description = "An exact decimal sum"

    def db_type(self, connection):
        return "numeric"


ROLLUP_BINS = 10  # the calibration endpoint's default uniform bins: the only binning the rollup keeps
QUESTIONS_BIN = -1  # an everyone row with this bin counts the group's distinct questions in `count`


class ScoreRollup(models.Model):
    """Per-bin sums of the stored scores, maintained by PostgreSQL triggers on the score table (in the
    transaction that writes the scores), so calibration reads a few thousand rows instead of every score.

    One row per (author, team, kind, resolution month, counts_from, bin): the author is a forecaster,
    a source, or nobody for everyone's rows. `counts_from` is the window end of a question resolved
    before its window ended (its scores count only once the window has ended), else empty. Sums
    are exact (`numeric`), so adding rows up gives the same numbers as summing the scores directly.
    Ids are plain integers, not foreign keys: a cascade deleting scores goes through the triggers.
    Rebuilt from the scores by `score_rollup_rebuild` (`manage.py recompute_scores`).
    """

    forecaster_id = models.BigIntegerField(null=True, blank=True)
    source_id = models.BigIntegerField(null=True, blank=True)
    team_id = models.BigIntegerField(null=True, blank=True)
    question_kind = models.CharField(max_length=32, choices=QuestionKind.choices)
    resolved_month = models.DateField(help_text="The first day of the resolution's month (UTC).")
    counts_from = models.DateTimeField(null=True, blank=True)
    bin = models.SmallIntegerField(help_text=f"Uniform bin of {ROLLUP_BINS}; {QUESTIONS_BIN} counts questions.")
    count = models.BigIntegerField()
    sum_outcome = models.BigIntegerField()
    relative_count = models.BigIntegerField()
    coverage_count = models.BigIntegerField()
    sum_probability = ExactSumField()
    sum_probability_squared = ExactSumField()
    sum_probability_outcome = ExactSumField()
    sum_brier = ExactSumField()
    sum_log_loss = ExactSumField()
    sum_time_averaged_brier = ExactSumField()
    sum_relative_brier = ExactSumField()
    sum_coverage = ExactSumField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "forecaster_id",
                    "source_id",
                    "team_id",
                    "question_kind",
                    "resolved_month",
                    "counts_from",
                    "bin",
                ],
                nulls_distinct=False,
                name="score_rollup_key",
            ),
        ]
        indexes = [
            # Rows emptied by a delete are removed at once; this finds them without a scan.
            models.Index(fields=["id"], condition=Q(count=0), name="score_rollup_empty_idx"),
        ]

    def __str__(self):
        return f"rollup {self.forecaster_id or self.source_id or 'everyone'} bin {self.bin}: {self.count}"
