"""Reads for a question's story and for track records: the forecasts over time, the scores of one
question, and every scored forecast of one forecaster or source.

Every function starts from `forecasts.access` (the question is one the caller may see; scores
through `scores_visible_to` via `scores_for`), and each one costs a fixed number of queries
whatever the number of forecasts, authors or scores.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Avg, Count, F, QuerySet
from django.utils import timezone

from forecasts import scoring
from forecasts.access import crowd_visible_to, forecasts_visible_to, scores_visible_to
from forecasts.models import Forecast, Question, Score
from forecasts.selectors.calibration import ScoreFilters, scores_for

# Columns a track record sorts by: the name in the URL (`?o=-brier`) to the field.
TRACK_RECORD_ORDERINGS = {
    "question": "question__title",
    "window_end": "window_end",
    "made_at": "made_at",
    "outcome": "outcome",
    "probability": "probability",
    "brier": "brier",
    "relative_brier": "relative_brier",
    "log_loss": "log_loss",
}
DEFAULT_TRACK_RECORD_ORDERING = "-made_at"
# Columns that may be empty sort it last either way; the others sort plainly, so the (author,
# made_at, id) index serves the default order.
NULLABLE_ORDERINGS = {"relative_brier"}


@dataclass(frozen=True)
class QuestionChartData:
    """What a question's chart draws: the viewer's forecasts, the crowd, the sources' statements."""

    question: Question
    mine: list[tuple[datetime, float]]
    crowd: list[scoring.CrowdStep]
    statements: dict[str, list[tuple[datetime, float]]]
    end: datetime
    crowd_hidden: bool = False


def chart_end(question: Question, now: datetime) -> datetime:
    """Where the chart's time axis stops: the event, the close, or now for a running question."""
    if question.occurred_at is not None:
        return question.occurred_at
    return min(question.window_end, max(now, question.window_start or now))


def question_chart_data_for(user, question: Question, *, now: datetime | None = None) -> QuestionChartData:
    """The chart's series for a question the caller may see (checked by the caller): one query (two on
    a blind question loaded without its `crowd_visible` annotation). On a question whose crowd is
    hidden from the caller, only their own forecasts and the sources' statements, and no crowd."""
    now = now or timezone.now()
    crowd_visible = crowd_visible_to(user, question)
    forecasts = Forecast.objects.all() if crowd_visible else forecasts_visible_to(user)
    rows = (
        forecasts.filter(question=question)
        .order_by("made_at", "id")
        .values_list("made_at", "probability", "forecaster_id", "source_id", "source__name")
    )
    mine: list[tuple[datetime, float]] = []
    statements: dict[str, list[tuple[datetime, float]]] = {}
    by_author: dict[tuple, list[tuple[datetime, float]]] = {}
    for made_at, probability, forecaster_id, source_id, source_name in rows:
        by_author.setdefault((forecaster_id, source_id), []).append((made_at, probability))
        if source_id is not None:
            statements.setdefault(source_name, []).append((made_at, probability))
        elif forecaster_id == user.pk:
            mine.append((made_at, probability))
    end = chart_end(question, now)
    crowd = scoring.crowd_median_steps(by_author, end) if by_author and crowd_visible else []
    return QuestionChartData(
        question=question, mine=mine, crowd=crowd, statements=statements, end=end, crowd_hidden=not crowd_visible
    )


def question_scores_for(user, question: Question) -> QuerySet[Score]:
    """Every author's score on a question the caller may see, best Brier first, authors loaded."""
    return (
        scores_visible_to(user)
        .filter(question=question)
        .select_related("forecaster", "source")
        .order_by("brier", F("forecaster__username").asc(nulls_last=True), "source__name", "id")
    )


def track_record_for(user, filters: ScoreFilters, *, ordering: str = DEFAULT_TRACK_RECORD_ORDERING) -> QuerySet[Score]:
    """One author's scored forecasts the caller may see, with question and forecast, in the chosen order."""
    name = ordering.removeprefix("-")
    field = TRACK_RECORD_ORDERINGS.get(name, TRACK_RECORD_ORDERINGS["made_at"])
    descending = ordering.startswith("-") if name in TRACK_RECORD_ORDERINGS else True
    nulls = {"nulls_last": True} if name in NULLABLE_ORDERINGS else {}
    order = F(field).desc(**nulls) if descending else F(field).asc(**nulls)
    return scores_for(user, filters).select_related("question").order_by(order, "-id")


def track_record_summary(scores: QuerySet[Score]) -> dict:
    """n, questions, mean Brier, log loss, time-averaged and relative Brier of a record: one query."""
    return scores.order_by().aggregate(
        n=Count("id"),
        questions=Count("question_id", distinct=True),
        mean_brier=Avg("brier"),
        mean_log_loss=Avg("log_loss"),
        mean_time_averaged_brier=Avg("time_averaged_brier"),
        mean_relative_brier=Avg("relative_brier"),
    )


# A record's CSV: the column's name to the field it reads.
TRACK_RECORD_CSV_COLUMNS = {
    "question_id": "question_id",
    "question": "question__title",
    "window_start": "question__window_start",
    "window_end": "window_end",
    "outcome": "outcome",
    "made_at": "made_at",
    "probability": "probability",
    "phrase": "phrase",
    "yardstick": "yardstick",
    "brier": "brier",
    "relative_brier": "relative_brier",
    "log_loss": "log_loss",
    "time_averaged_brier": "time_averaged_brier",
    "coverage": "coverage",
}


def track_record_rows(scores: QuerySet[Score]) -> QuerySet:
    """A record's CSV rows, as tuples in the order of TRACK_RECORD_CSV_COLUMNS."""
    return scores.values_list(*TRACK_RECORD_CSV_COLUMNS.values())
