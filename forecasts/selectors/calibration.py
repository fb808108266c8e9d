"""Where calibration is computed: statistics over the stored scores (calibration, leaderboard,
phrases, Brier over time).

Every function starts from `scores_for`, which applies the caller's visibility
(`forecasts.access.scores_visible_to`) and counts only questions whose window has ended, so an
early YES never biases a statistic. A statistic names only the authors the caller may see
(`forecasts.access.authors_visible_to`): one about a hidden author is the statistic of nobody. Nothing loads forecasts: calibration and its Murphy decomposition
come from one grouped query of per-bin sums (count, sum p, sum y, sum p², sum p·y), which give
every term exactly:

    REL = Σ n_k (f_k - o_k)² / N        RES = Σ n_k (o_k - o)² / N        UNC = o (1 - o)
    WBV = Σ (Σp² - n_k f_k²) / N        WBC = 2 Σ (Σpy - n_k f_k o_k) / N

with f_k = Σp / n_k and o_k = Σy / n_k in bin k. Uniform bins are assigned in SQL with the edge
rule of `forecasts.scoring.uniform_bin_indices`. Quantile edges depend on the data: they are
computed with numpy from the probability column alone (one float per scored pair), exactly as
`forecasts.scoring` does, and the grouping then runs in SQL on those edges.
"""

import dataclasses
import functools
import hashlib
import operator
from dataclasses import dataclass
from datetime import UTC, datetime, time

import numpy as np
from django.core.cache import cache
from django.db import connection
from django.db.models import (
    Avg,
    Case,
    Count,
    ExpressionWrapper,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, Ceil, Coalesce, Greatest, Least, TruncMonth
from django.utils import timezone

from forecasts import aggregation, scoring
from forecasts.access import (
    authors_visible_to,
    score_rollups_visible_to,
    scores_visible_to,
    teams_of,
    user_is_moderator,
)
from forecasts.estimative import YARDSTICKS
from forecasts.models import (
    QUESTIONS_BIN,
    ROLLUP_BINS,
    ClosingAggregate,
    Confidence,
    ExtremizingFactor,
    Question,
    Score,
    Source,
)
from forecasts.models.scores import ExactSumField

DEFAULT_BINS = 10
MAX_BINS = 100
STRATEGIES = ("uniform", "quantile")
AUTHOR_KINDS = ("all", "forecasters", "sources")
# The tolerance of forecasts.scoring.uniform_bin_indices, in units of bin width: a forecast this
# close to an edge counts as on it (and an inner edge belongs to the lower bin).
EDGE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class ScoreFilters:
    """Which scores a statistic covers, besides the caller's visibility."""

    forecaster_id: int | None = None
    source_id: int | None = None
    kind: str | None = None
    tag: str | None = None
    team_id: int | None = None
    group_id: int | None = None
    resolved_after: datetime | None = None  # inclusive
    resolved_before: datetime | None = None  # exclusive
    confidence: str | None = None  # the counted forecast's analytic confidence; "none" for not given
    made_after: datetime | None = None  # inclusive: when the counted forecast or statement was made
    made_before: datetime | None = None  # exclusive


def scores_for(user, filters: ScoreFilters = ScoreFilters(), *, now: datetime | None = None) -> QuerySet[Score]:
    """Scores the user may see on questions whose window has ended, narrowed by the filters."""
    scores = scores_visible_to(user).counted(now)
    if filters.forecaster_id is not None:
        # A forecaster the caller may not see counts as one that does not exist: no scores.
        forecaster = authors_visible_to(user).filter(pk=filters.forecaster_id).values("pk")
        scores = scores.filter(forecaster_id__in=forecaster)
    if filters.source_id is not None:
        scores = scores.filter(source_id=filters.source_id)
    if filters.kind:
        scores = scores.filter(question_kind=filters.kind)
    if filters.team_id is not None:
        scores = scores.filter(team_id=filters.team_id)
    if filters.resolved_after is not None:
        scores = scores.filter(resolved_at__gte=filters.resolved_after)
    if filters.resolved_before is not None:
        scores = scores.filter(resolved_at__lt=filters.resolved_before)
    if filters.confidence:
        scores = scores.filter(confidence="" if filters.confidence == "none" else filters.confidence)
    if filters.group_id is not None:
        # The members of the group; visibility is the scores' own, as for every other filter.
        scores = scores.filter(question_id__in=Question.objects.filter(group_id=filters.group_id).values("pk"))
    if filters.made_after is not None:
        scores = scores.filter(made_at__gte=filters.made_after)
    if filters.made_before is not None:
        scores = scores.filter(made_at__lt=filters.made_before)
    if filters.tag:
        tagged = Question.tags.through.objects.filter(tag__name=filters.tag).values("question_id")
        scores = scores.filter(question_id__in=tagged)
    return scores


# Calibration ----------------------------------------------------------------------------------


def uniform_bin_expression(probability, bins: int):
    """SQL for `scoring.uniform_bin_indices`: CEIL(p * bins - tolerance) - 1, clamped to the bins.

    Subtracting the tolerance before CEIL sends a value within it of an edge to the lower bin,
    which is the same as snapping it onto the edge first and taking the lower bin.
    """
    scaled = ExpressionWrapper(probability * Value(float(bins)) - Value(EDGE_TOLERANCE), output_field=FloatField())
    index = Ceil(scaled) - Value(1.0)
    return Cast(Greatest(Least(index, Value(float(bins - 1))), Value(0.0)), IntegerField())


def quantile_bin_expression(probability_field: str, inner_edges: list[float]):
    """SQL for numpy's searchsorted(inner_edges, p, side="left"): how many inner edges lie below p."""
    if not inner_edges:
        return Value(0, output_field=IntegerField())
    terms = [
        Case(When(**{f"{probability_field}__gt": edge}, then=Value(1)), default=Value(0), output_field=IntegerField())
        for edge in inner_edges
    ]
    return functools.reduce(operator.add, terms)


def quantile_edges(probabilities: list[float], bins: int) -> list[float]:
    """Bin edges at linearly interpolated percentiles, exactly as `forecasts.scoring` computes them."""
    return [float(edge) for edge in np.percentile(probabilities, np.linspace(0, 1, bins + 1) * 100)]


SUM_COLUMNS = (
    "sum_probability", "sum_probability_squared", "sum_probability_outcome", "sum_brier", "sum_log_loss",
    "sum_time_averaged_brier", "sum_relative_brier", "sum_coverage",
)  # fmt: skip
COUNT_COLUMNS = ("count", "sum_outcome", "relative_count", "coverage_count")


def exact(column: str):
    """A float column as an exact numeric: sums of these do not depend on the order of the rows."""
    return Cast(column, ExactSumField())


def exact_sum(expression) -> Sum:
    return Sum(expression, output_field=ExactSumField())


def rows_as_floats(rows) -> list[dict]:
    """Grouped rows with each exact sum rounded once to a float (None stays None)."""
    return [
        {
            "bin": row["bin"],
            **{column: int(row[column]) for column in COUNT_COLUMNS},
            **{column: None if row[column] is None else float(row[column]) for column in SUM_COLUMNS},
        }
        for row in rows
    ]


def bin_sums(scores: QuerySet[Score], bin_expression) -> list[dict]:
    """Per-bin sums, one row per non-empty bin, in one grouped query.

    Summed exactly (as numerics) and rounded once, so the result does not depend on the order
    PostgreSQL adds the rows in, and equals the calibration rollup's sums of the same scores.
    """
    product = ExpressionWrapper(exact("probability") * F("outcome"), output_field=ExactSumField())
    square = ExpressionWrapper(exact("probability") * exact("probability"), output_field=ExactSumField())
    return rows_as_floats(
        scores.annotate(bin=bin_expression)
        .values("bin")
        .annotate(
            # COUNT(*), not COUNT(id): the covering index for one forecaster has no id column.
            count=Count("*"),
            sum_probability=exact_sum(exact("probability")),
            sum_outcome=Coalesce(Sum("outcome"), 0),
            sum_probability_squared=exact_sum(square),
            sum_probability_outcome=exact_sum(product),
            sum_brier=exact_sum(exact("brier")),
            sum_log_loss=exact_sum(exact("log_loss")),
            sum_time_averaged_brier=exact_sum(exact("time_averaged_brier")),
            sum_relative_brier=exact_sum(exact("relative_brier")),
            relative_count=Count("relative_brier"),
            sum_coverage=exact_sum(exact("coverage")),
            coverage_count=Count("coverage"),
        )
        .order_by("bin")
    )


# The rollup -------------------------------------------------------------------------------------


def month_start(moment: datetime | None) -> bool:
    """Whether `moment` is the first instant of a month in UTC (or absent): a bound the rollup can use."""
    if moment is None:
        return True
    moment = moment.astimezone(UTC)
    return moment.day == 1 and moment.time() == time(0)


def rollup_answers(filters: ScoreFilters, *, bins: int, strategy: str, now: datetime | None) -> bool:
    """Whether the calibration rollup answers this query exactly; otherwise the scores are read directly.

    It keeps uniform bins of ROLLUP_BINS by author, team, kind and resolution month, for the
    present (`now` not given): not a tag, a confidence level, a group, a bound on when forecasts
    were made, another binning, a date bound inside a month, a past `now`, or a forecaster and a
    source at once.
    """
    return (
        connection.vendor == "postgresql"
        and now is None
        and strategy == "uniform"
        and bins == ROLLUP_BINS
        and not filters.tag
        and not filters.confidence
        and filters.group_id is None
        and filters.made_after is None
        and filters.made_before is None
        and (filters.forecaster_id is None or filters.source_id is None)
        and month_start(filters.resolved_after)
        and month_start(filters.resolved_before)
    )


def rollup_bin_sums(user, filters: ScoreFilters) -> tuple[list[dict], int]:
    """Per-bin sums and the number of questions from the rollup rows the user may see: one query."""
    rows = score_rollups_visible_to(user)
    if filters.forecaster_id is not None:
        # A forecaster the caller may not see counts as one that does not exist: no scores.
        forecaster = authors_visible_to(user).filter(pk=filters.forecaster_id).values("pk")
        rows = rows.filter(forecaster_id__in=forecaster)
    elif filters.source_id is not None:
        rows = rows.filter(source_id=filters.source_id, forecaster_id__isnull=True)
    else:
        rows = rows.filter(forecaster_id__isnull=True, source_id__isnull=True)
    if filters.kind:
        rows = rows.filter(question_kind=filters.kind)
    if filters.team_id is not None:
        rows = rows.filter(team_id=filters.team_id)
    if filters.resolved_after is not None:
        rows = rows.filter(resolved_month__gte=filters.resolved_after.astimezone(UTC).date())
    if filters.resolved_before is not None:
        rows = rows.filter(resolved_month__lt=filters.resolved_before.astimezone(UTC).date())
    # Counted once the window has ended, as `Score.objects.counted`: a question resolved before
    # its window ended has its window end as counts_from; for the others it ended before the resolution.
    rows = rows.filter(Q(counts_from__isnull=True) | Q(counts_from__lte=timezone.now()))
    grouped = rows_as_floats(
        rows.values("bin")
        .annotate(
            **{column: Sum(column) for column in COUNT_COLUMNS},
            **{column: exact_sum(column) for column in SUM_COLUMNS},
        )
        .order_by("bin")
    )
    bins = [row for row in grouped if row["bin"] != QUESTIONS_BIN]
    if filters.forecaster_id is not None or filters.source_id is not None:
        questions = sum(row["count"] for row in bins)  # one score per author and question
    else:
        questions = sum(row["count"] for row in grouped if row["bin"] == QUESTIONS_BIN)
    return bins, questions


def empty_calibration() -> dict:
    """The calibration report of no scores: every number None, no bins."""
    return {
        "n": 0,
        "questions": 0,
        "base_rate": None,
        "brier": None,
        "log_loss": None,
        "mean_time_averaged_brier": None,
        "mean_relative_brier": None,
        "mean_coverage": None,
        "murphy": {
            "reliability": None,
            "resolution": None,
            "uncertainty": None,
            "within_bin_variance": None,
            "within_bin_covariance": None,
        },
        "bins": [],
    }


def calibration_from_bin_sums(rows: list[dict], edges: list[float], *, questions: int) -> dict:
    """The calibration report from per-bin sums: scores, Murphy terms and bins (pure, no queries)."""
    total = sum(row["count"] for row in rows)
    if total == 0:
        return empty_calibration()
    base_rate = sum(row["sum_outcome"] for row in rows) / total
    relative_count = sum(row["relative_count"] for row in rows)
    coverage_count = sum(row["coverage_count"] for row in rows)
    reliability = resolution = within_variance = within_covariance = 0.0
    bins = []
    for row in rows:
        count = row["count"]
        mean_forecast = row["sum_probability"] / count
        frequency = row["sum_outcome"] / count
        reliability += count * (mean_forecast - frequency) ** 2
        resolution += count * (frequency - base_rate) ** 2
        within_variance += row["sum_probability_squared"] - count * mean_forecast**2
        within_covariance += row["sum_probability_outcome"] - count * mean_forecast * frequency
        ci_low, ci_high = scoring.wilson_interval(int(row["sum_outcome"]), count)
        bins.append(
            {
                "lower": edges[row["bin"]],
                "upper": edges[row["bin"] + 1],
                "count": count,
                "mean_forecast": mean_forecast,
                "observed_frequency": frequency,
                "ci_low": ci_low,
                "ci_high": ci_high,
            }
        )
    return {
        "n": total,
        "questions": questions,
        "base_rate": base_rate,
        "brier": sum(row["sum_brier"] for row in rows) / total,
        "log_loss": sum(row["sum_log_loss"] for row in rows) / total,
        "mean_time_averaged_brier": sum(row["sum_time_averaged_brier"] for row in rows) / total,
        "mean_relative_brier": (
            sum(row["sum_relative_brier"] or 0.0 for row in rows) / relative_count if relative_count else None
        ),
        "mean_coverage": (sum(row["sum_coverage"] or 0.0 for row in rows) / coverage_count if coverage_count else None),
        "murphy": {
            "reliability": reliability / total,
            "resolution": resolution / total,
            "uncertainty": base_rate * (1.0 - base_rate),
            # Rounding can leave a sum of squares a hair below zero when every p in a bin is equal.
            "within_bin_variance": max(0.0, within_variance / total),
            "within_bin_covariance": 2.0 * within_covariance / total,
        },
        "bins": bins,
    }


def calibration_for(
    user,
    *,
    filters: ScoreFilters = ScoreFilters(),
    bins: int = DEFAULT_BINS,
    strategy: str = "uniform",
    now: datetime | None = None,
) -> dict:
    """Calibration of the final forecasts the user may see: from the rollup when it can answer (one
    query), else from the scores (2 queries uniform, 3 quantile); the same numbers either way."""
    if not 1 <= bins <= MAX_BINS:
        raise ValueError(f"bins must be between 1 and {MAX_BINS}, got {bins}")
    if rollup_answers(filters, bins=bins, strategy=strategy, now=now):
        rows, questions = rollup_bin_sums(user, filters)
        if not rows:
            return empty_calibration()
        return calibration_from_bin_sums(rows, [index / bins for index in range(bins + 1)], questions=questions)
    return calibration_from_scores(user, filters=filters, bins=bins, strategy=strategy, now=now)


def calibration_from_scores(
    user, *, filters: ScoreFilters, bins: int, strategy: str, now: datetime | None = None
) -> dict:
    """Calibration read from the scores themselves: 2 queries (uniform) or 3 (quantile)."""
    scores = scores_for(user, filters, now=now)
    if strategy == "uniform":
        edges = [index / bins for index in range(bins + 1)]
        rows = bin_sums(scores, uniform_bin_expression(F("probability"), bins))
    elif strategy == "quantile":
        probabilities = list(scores.values_list("probability", flat=True))
        if not probabilities:
            return empty_calibration()
        edges = quantile_edges(probabilities, bins)
        rows = bin_sums(scores, quantile_bin_expression("probability", edges[1:-1]))
    else:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
    if not rows:
        return empty_calibration()
    questions = scores.aggregate(questions=Count("question_id", distinct=True))["questions"]
    return calibration_from_bin_sums(rows, edges, questions=questions)


# Leaderboard ----------------------------------------------------------------------------------


def leaderboard_for(
    user,
    *,
    filters: ScoreFilters = ScoreFilters(),
    min_n: int = 1,
    authors: str = "all",
    now: datetime | None = None,
) -> QuerySet:
    """Forecasters and sources by mean relative Brier (better than the crowd first), then mean Brier.

    Rows are dicts; authors without a relative Brier (always alone on their questions) come last.
    """
    scores = scores_for(user, filters, now=now)
    if authors == "forecasters":
        scores = scores.filter(forecaster__isnull=False)
    elif authors == "sources":
        scores = scores.filter(source__isnull=False)
    # Names come from subqueries on the grouped rows, so the grouping itself stays on two ids.
    # They come through the author rule too, though the author of a visible score always has a
    # forecast on its question and so is one the caller may see.
    forecaster_name = authors_visible_to(user).filter(pk=OuterRef("forecaster_id")).order_by().values("username")
    source_name = Source.objects.filter(pk=OuterRef("source_id")).order_by().values("name")
    return (
        scores.values("forecaster_id", "source_id")
        .annotate(
            n=Count("id"),
            mean_brier=Avg("brier"),
            mean_log_loss=Avg("log_loss"),
            mean_time_averaged_brier=Avg("time_averaged_brier"),
            mean_relative_brier=Avg("relative_brier"),
            relative_n=Count("relative_brier"),
            mean_coverage=Avg("coverage"),
        )
        .filter(n__gte=min_n)
        .annotate(forecaster_name=Subquery(forecaster_name[:1]), source_name=Subquery(source_name[:1]))
        .order_by(
            F("mean_relative_brier").asc(nulls_last=True),
            "mean_brier",
            "-n",
            F("forecaster_id").asc(nulls_last=True),
            F("source_id").asc(nulls_last=True),
        )
    )


def leaderboard_entry(row: dict, *, rank: int) -> dict:
    """One leaderboard row as the API and the admin show it."""
    is_source = row["source_id"] is not None
    return {
        "rank": rank,
        "author_type": "source" if is_source else "forecaster",
        "id": row["source_id"] if is_source else row["forecaster_id"],
        "name": row["source_name"] if is_source else row["forecaster_name"],
        "n": row["n"],
        "mean_brier": row["mean_brier"],
        "mean_log_loss": row["mean_log_loss"],
        "mean_time_averaged_brier": row["mean_time_averaged_brier"],
        "mean_relative_brier": row["mean_relative_brier"],
        "relative_n": row["relative_n"],
        "mean_coverage": row["mean_coverage"],
    }


# Estimative phrases ---------------------------------------------------------------------------


def phrase_row(*, yardstick: str, phrase: str, low, high, probability, counts: dict | None) -> dict:
    """One phrase's row: its range, how often it was said and how often what it said happened."""
    statements = counts["statements"] if counts else 0
    occurred = int(counts["occurred"]) if counts else 0
    if statements:
        ci_low, ci_high = scoring.wilson_interval(occurred, statements)
        frequency = occurred / statements
    else:
        ci_low = ci_high = frequency = None
    return {
        "yardstick": yardstick,
        "phrase": phrase,
        "low": low,
        "high": high,
        "probability": probability,
        "statements": statements,
        "occurred": occurred,
        "observed_frequency": frequency,
        "ci_low": ci_low,
        "ci_high": ci_high,
        "mean_brier": counts["mean_brier"] if counts else None,
    }


def phrase_calibration_for(user, *, filters: ScoreFilters = ScoreFilters(), now: datetime | None = None) -> list[dict]:
    """How often what each phrase said happened: every phrase of every yardstick, in yardstick order.

    A statement is an author's counted (final) forecast on a question, as in calibration. Phrases
    nobody used are listed with zero statements and no frequency, so the whole scale is visible;
    phrases no longer in a yardstick come last with no range.
    """
    counted = (
        scores_for(user, filters, now=now)
        .exclude(phrase="")
        .values("yardstick", "phrase")
        .annotate(statements=Count("id"), occurred=Sum("outcome"), mean_brier=Avg("brier"))
        .order_by()
    )
    by_phrase = {(row["yardstick"], row["phrase"]): row for row in counted}
    rows = []
    for yardstick, entries in YARDSTICKS.items():
        for entry in entries:
            rows.append(
                phrase_row(
                    yardstick=yardstick,
                    phrase=entry.phrase,
                    low=entry.low,
                    high=entry.high,
                    probability=entry.probability,
                    counts=by_phrase.pop((yardstick, entry.phrase), None),
                )
            )
    for (yardstick, phrase), counts in sorted(by_phrase.items()):
        rows.append(
            phrase_row(yardstick=yardstick, phrase=phrase, low=None, high=None, probability=None, counts=counts)
        )
    return rows


# Over time ------------------------------------------------------------------------------------


def brier_over_time_for(user, *, filters: ScoreFilters = ScoreFilters(), now: datetime | None = None) -> list[dict]:
    """Mean Brier and count of scored forecasts per calendar month (UTC) in which the window ended.

    The window's month, not the resolution's: historical questions are resolved in bulk on the
    day they are imported, which says when somebody typed the outcome, not when it was tested.
    """
    return list(
        scores_for(user, filters, now=now)
        .annotate(month=TruncMonth("window_end"))
        .values("month")
        .annotate(n=Count("id"), mean_brier=Avg("brier"), mean_relative_brier=Avg("relative_brier"))
        .order_by("month")
    )


def filters_description(user, filters: ScoreFilters) -> str:
    """Who and what a chart covers, in words ("forecaster ana, kind escalation"), for the user's eyes.

    A forecaster the user may not see is named by the id they gave, as a missing one is.
    """
    parts = []
    if filters.forecaster_id is not None:
        name = authors_visible_to(user).filter(pk=filters.forecaster_id).values_list("username", flat=True).first()
        parts.append(f"forecaster {name or filters.forecaster_id}")
    if filters.source_id is not None:
        name = Source.objects.filter(pk=filters.source_id).values_list("name", flat=True).first()
        parts.append(f"source {name or filters.source_id}")
    if filters.kind:
        parts.append(f"kind {Question.Kind(filters.kind).label.lower()}")
    if filters.tag:
        parts.append(f"tag {filters.tag}")
    if filters.team_id is not None:
        parts.append(f"team {filters.team_id}")
    if filters.group_id is not None:
        parts.append(f"group {filters.group_id}")  # by id: a hidden group's title never shows
    if filters.resolved_after is not None:
        parts.append(f"resolved from {filters.resolved_after:%Y-%m-%d}")
    if filters.resolved_before is not None:
        parts.append(f"resolved before {filters.resolved_before:%Y-%m-%d}")
    if filters.confidence:
        parts.append(f"confidence {filters.confidence}")
    if filters.made_after is not None:
        parts.append(f"made from {filters.made_after:%Y-%m-%d}")
    if filters.made_before is not None:
        parts.append(f"made before {filters.made_before:%Y-%m-%d}")
    return ", ".join(parts) or "everyone you can see"


# Which aggregate works here -----------------------------------------------------------------------

BEST_FORECASTER_RULE = (
    "The author with the lowest mean Brier among those scored on at least half of these questions, "
    "picked after the fact (so flattered by the choice), scored on their own questions."
)


# A bootstrap over every visible question draws thousands of resamples of thousands of losses
# (seconds at bench scale): its intervals are kept in the cache under a digest of the losses themselves,
# so they are recomputed exactly when a loss changes, and equal the uncached ones.
BOOTSTRAP_CACHE_SECONDS = 24 * 3600


def bootstrap_intervals_cached(series: list[np.ndarray]) -> list[tuple[float, float]]:
    """`aggregation.bootstrap_intervals` of the series, read from the cache when these very losses were seen."""
    digest = hashlib.blake2b(digest_size=20)
    for values in series:
        digest.update(len(values).to_bytes(8, "little"))
        digest.update(np.ascontiguousarray(values, dtype=float).tobytes())
    key = f"bootstrap:{aggregation.BOOTSTRAP_RESAMPLES}:{aggregation.BOOTSTRAP_SEED}:{digest.hexdigest()}"
    cached = cache.get(key)
    if cached is None:
        cached = aggregation.bootstrap_intervals(series)
        cache.set(key, cached, BOOTSTRAP_CACHE_SECONDS)
    return cached


def losses_of(probabilities: list[float], outcomes: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Each forecast's Brier and log loss."""
    forecast, outcome = np.asarray(probabilities, dtype=float), np.asarray(outcomes, dtype=float)
    return (forecast - outcome) ** 2, -np.log(np.where(outcome == 1, forecast, 1.0 - forecast))


def loss_summaries(series: list[tuple[list[float], list[int]]]) -> list[dict]:
    """`loss_summary` of each (probabilities, outcomes), the bootstraps of all of them drawn together."""
    losses = [losses_of(probabilities, outcomes) for probabilities, outcomes in series if probabilities]
    intervals = iter(bootstrap_intervals_cached([loss for pair in losses for loss in pair]))
    summaries = []
    pairs = iter(losses)
    for probabilities, _ in series:
        if not probabilities:
            summaries.append({"n": 0, "brier": None, "brier_ci": None, "log_loss": None, "log_loss_ci": None})
            continue
        brier, log_loss = next(pairs)
        summaries.append(
            {
                "n": int(brier.size),
                "brier": float(brier.mean()),
                "brier_ci": list(next(intervals)),
                "log_loss": float(log_loss.mean()),
                "log_loss_ci": list(next(intervals)),
            }
        )
    return summaries


def loss_summary(probabilities: list[float], outcomes: list[int]) -> dict:
    """n, Brier and log loss of the forecasts, each with its 95% bootstrap interval over questions."""
    return loss_summaries([(probabilities, outcomes)])[0]


def best_forecaster_for(user, scores: QuerySet[Score], *, questions: int) -> dict | None:
    """The best single author on these scores (BEST_FORECASTER_RULE), with their losses; 2 queries."""
    if not questions:
        return None
    leader = (
        scores.values("forecaster_id", "source_id")
        .annotate(n=Count("id"), mean_brier=Avg("brier"))
        .filter(n__gte=max(1, -(-questions // 2)))
        .order_by("mean_brier", "-n", F("forecaster_id").asc(nulls_last=True), F("source_id").asc(nulls_last=True))
        .first()
    )
    if leader is None:
        return None
    is_source = leader["source_id"] is not None
    own = scores.filter(
        **({"source_id": leader["source_id"]} if is_source else {"forecaster_id": leader["forecaster_id"]})
    )
    rows = list(own.values_list("probability", "outcome"))
    if is_source:
        name = Source.objects.filter(pk=leader["source_id"]).values_list("name", flat=True).first()
    else:
        name = authors_visible_to(user).filter(pk=leader["forecaster_id"]).values_list("username", flat=True).first()
    return {
        "author_type": "source" if is_source else "forecaster",
        "id": leader["source_id"] if is_source else leader["forecaster_id"],
        "name": name or "",
        **loss_summary([row[0] for row in rows], [row[1] for row in rows]),
    }


COMPARISON_CACHE_SECONDS = 600


def scores_version() -> tuple:
    """What changes whenever a score, an at-close aggregate or the extremizing factor does: one query.

    Scores and at-close aggregates are only ever deleted and inserted again (new ids), and a
    resolution or its undoing changes its question's `updated_at`."""
    tables = [model._meta.db_table for model in (Question, Score, ClosingAggregate, ExtremizingFactor)]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT MAX(updated_at) FROM {}), (SELECT MAX(id) FROM {}), (SELECT MAX(id) FROM {}), "
            "(SELECT MAX(fitted_at) FROM {})".format(*tables)
        )
        return tuple(str(value) for value in cursor.fetchone())


def aggregate_comparison_for(user, *, filters: ScoreFilters = ScoreFilters(), now: datetime | None = None) -> dict:
    """Brier and log loss of each crowd aggregate at the close over the resolved questions the
    user may see (the calibration filters), beside the best single forecaster, with 95% bootstrap
    intervals over questions. Reads the stored at-close aggregates: no forecast is loaded.

    For the present (`now` not given) the answer is kept in the cache for the user, their teams and
    filters under `scores_version()`, so it is computed again as soon as any input changes."""
    if now is not None:
        return aggregate_comparison_computed(user, filters=filters, now=now)
    teams = sorted(row["team_id"] for row in teams_of(user.pk))
    viewer = (user.pk, user_is_moderator(user), teams)
    key = (
        "aggregate-comparison:"
        + hashlib.blake2b(
            repr((viewer, dataclasses.astuple(filters), scores_version())).encode(), digest_size=20
        ).hexdigest()
    )
    comparison = cache.get(key)
    if comparison is None:
        comparison = aggregate_comparison_computed(user, filters=filters)
        cache.set(key, comparison, COMPARISON_CACHE_SECONDS)
    return comparison


def aggregate_comparison_computed(user, *, filters: ScoreFilters = ScoreFilters(), now: datetime | None = None) -> dict:
    """`aggregate_comparison_for` computed from the scores and at-close aggregates (no cache)."""
    scores = scores_for(user, filters, now=now)
    rows = list(
        ClosingAggregate.objects.filter(question_id__in=scores.values("question_id"))
        .order_by("question_id")
        .values("outcome", *aggregation.METHODS)
    )
    outcomes = [row["outcome"] for row in rows]
    summaries = loss_summaries([([row[method] for row in rows], outcomes) for method in aggregation.METHODS])
    methods = [
        {"method": method, "label": aggregation.METHOD_LABELS[method], **summary}
        for method, summary in zip(aggregation.METHODS, summaries, strict=True)
    ]
    factor = ExtremizingFactor.objects.filter(pk=1).values("factor", "questions", "fitted_at").first()
    return {
        "questions": len(rows),
        "methods": methods,
        "best_forecaster": best_forecaster_for(user, scores, questions=len(rows)),
        "best_forecaster_rule": BEST_FORECASTER_RULE,
        "extremizing_factor": factor["factor"] if factor else 1.0,
        "factor_questions": factor["questions"] if factor else 0,
        "factor_fitted_at": factor["fitted_at"] if factor else None,
    }


def calibration_by_confidence_for(
    user, *, filters: ScoreFilters = ScoreFilters(), now: datetime | None = None
) -> list[dict]:
    """Calibration of the counted forecasts at each analytic confidence level (and none given),
    to compare: does "high confidence" make forecasts better calibrated?"""
    levels = [(value, label) for value, label in Confidence.choices] + [("none", "Not given")]
    return [
        {
            "confidence": value,
            "label": label,
            **calibration_for(user, filters=dataclasses.replace(filters, confidence=value), now=now),
        }
        for value, label in levels
    ]
