"""Stored scores: one row per (forecaster or source, question) on every resolved yes/no question.

Which forecast counts: the last one made before the question's scoring cutoff. The cutoff is the
close (``closed_at``, never later than ``window_end``), or the moment the event happened
(``occurred_at``) when that is earlier: a forecast made after the invasion began but before
somebody got round to resolving the question is hindsight, not a forecast. Forecasts made at or
after the cutoff count nowhere (not in the final forecast, not in the time-averaged Brier).

Only the open span counts: a forecast made before the question opened (a source's earlier
statement) is held from ``opened_at``, in the author's time-averaged Brier and in the crowd alike
(docs/scoring.md). The crowd for the relative Brier is every author on the question, users and
sources alike (the same crowd as the question's median). Scores are rebuilt from scratch on every change of the
resolution, so recomputing is idempotent; the statistics filter out questions whose window has
not ended yet at query time (see forecasts/selectors/calibration.py).
"""

import logging
from collections.abc import Iterable
from datetime import datetime

from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce, Least
from django.utils import timezone

from forecasts import scoring
from forecasts.models import Forecast, Question, ResolutionEvent, Score
from forecasts.services.messages import score_summary_text

logger = logging.getLogger(__name__)

OUTCOME_VALUES = {Question.Outcome.YES: 1, Question.Outcome.NO: 0}
RECOMPUTE_BATCH_SIZE = 500

AuthorKey = tuple[str, int]  # ("forecaster", user id) or ("source", source id)


def scoring_cutoff(question: Question) -> datetime:
    """When forecasts stop counting: the close, or the moment the event happened if earlier."""
    moments = [question.closed_at or question.window_end, question.window_end]
    if question.occurred_at is not None:
        moments.append(question.occurred_at)
    return min(moments)


def is_scored(question: Question) -> bool:
    """Only a question resolved YES or NO has scores; annulled and open ones have none."""
    return question.status == Question.Status.RESOLVED and question.outcome in OUTCOME_VALUES


def author_key(forecast: dict) -> AuthorKey:
    if forecast["source_id"] is not None:
        return ("source", forecast["source_id"])
    return ("forecaster", forecast["forecaster_id"])


def scores_from_forecasts(question: Question, forecasts: Iterable[dict], *, computed_at: datetime) -> list[Score]:
    """Unsaved Score rows for every author with a forecast before the cutoff (pure, no queries).

    ``forecasts`` are dicts with id, forecaster_id, source_id, made_at, probability, phrase and
    yardstick, oldest first (ties by id), all made before the cutoff.
    """
    outcome = OUTCOME_VALUES[question.outcome]
    cutoff = scoring_cutoff(question)
    by_author: dict[AuthorKey, list[dict]] = {}
    for forecast in forecasts:
        by_author.setdefault(author_key(forecast), []).append(forecast)
    timed = {
        key: [(forecast["made_at"], forecast["probability"]) for forecast in rows] for key, rows in by_author.items()
    }
    relative = scoring.crowd_relative_brier(timed, outcome, cutoff, question.opened_at)
    scores = []
    for key, rows in by_author.items():
        final = rows[-1]
        time_averaged = scoring.time_averaged_brier(timed[key], outcome, cutoff, question.opened_at)
        kind, author_id = key
        scores.append(
            Score(
                question_id=question.pk,
                forecaster_id=author_id if kind == "forecaster" else None,
                source_id=author_id if kind == "source" else None,
                forecast_id=final["id"],
                probability=final["probability"],
                outcome=outcome,
                brier=scoring.brier([final["probability"]], [outcome]),
                log_loss=scoring.log_loss([final["probability"]], [outcome]),
                time_averaged_brier=time_averaged.score,
                coverage=time_averaged.coverage,
                relative_brier=relative[key],
                forecast_count=len(rows),
                scored_until=cutoff,
                question_kind=question.kind,
                team_id=question.team_id,
                resolved_at=question.resolved_at,
                window_end=question.window_end,
                phrase=final["phrase"],
                yardstick=final["yardstick"],
                computed_at=computed_at,
            )
        )
    return scores


@transaction.atomic
def question_scores_recompute(*, question_id: int) -> int:
    """Replace a question's stored scores with ones computed from its forecasts; returns how many."""
    # The lock queues this behind a resolution being written, so it always scores committed state.
    question = Question.objects.select_for_update().filter(pk=question_id).first()
    if question is None:
        return 0
    computed_at = timezone.now()
    Score.objects.filter(question_id=question_id).delete()
    if not is_scored(question):
        return 0
    forecasts = list(
        Forecast.objects.filter(question_id=question_id, made_at__lt=scoring_cutoff(question))
        .order_by("made_at", "id")
        .values("id", "forecaster_id", "source_id", "made_at", "probability", "phrase", "yardstick")
    )
    scores = scores_from_forecasts(question, forecasts, computed_at=computed_at)
    Score.objects.bulk_create(scores)
    return len(scores)


def questions_scores_recompute(question_ids: Iterable[int]) -> tuple[int, int, list[int]]:
    """Recompute each question in its own transaction; one bad question does not stop the rest.

    Returns (questions recomputed, scores stored, ids that failed). A database that is down is
    not one bad question: that error propagates, so a task or the sweep retries later.
    """
    questions = stored = 0
    failed = []
    for question_id in question_ids:
        try:
            stored += question_scores_recompute(question_id=question_id)
            questions += 1
        except (OperationalError, InterfaceError):
            raise
        except Exception:
            logger.exception("recomputing the scores of question %s failed", question_id)
            failed.append(question_id)
    return questions, stored, failed


def scores_recompute_all(*, batch_size: int = RECOMPUTE_BATCH_SIZE) -> tuple[int, int, list[int]]:
    """Rebuild every stored score, batch by batch: each resolved question's, and drop any others; then
    the calibration rollup."""
    has_scores = Exists(Score.objects.filter(question_id=OuterRef("pk")))
    candidates = Question.objects.filter(Q(status=Question.Status.RESOLVED) | has_scores).order_by("pk")
    questions = stored = 0
    failed: list[int] = []
    last_id = 0
    while batch := list(candidates.filter(pk__gt=last_id).values_list("pk", flat=True)[:batch_size]):
        batch_questions, batch_stored, batch_failed = questions_scores_recompute(batch)
        questions, stored = questions + batch_questions, stored + batch_stored
        failed += batch_failed
        last_id = batch[-1]
    score_rollup_rebuild()
    return questions, stored, failed


@transaction.atomic
def score_rollup_rebuild() -> None:
    """Rebuild the calibration rollup from the stored scores (PostgreSQL; elsewhere there is none).

    Triggers on the score table keep it in step with every write in the scores' own transaction;
    this is for data loaded with triggers off (the bench's COPY) and for `recompute_scores`.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT forecasts_score_rollup_rebuild()")


def questions_missing_scores() -> QuerySet[Question]:
    """Questions whose stored scores disagree with their state: what a lost task left behind.

    A resolved yes/no question with a forecast before its cutoff but no scores; a question with
    scores computed before its latest resolution event (re-resolved since); a question with
    scores that is no longer resolved yes/no (un-resolved or annulled since).
    """
    cutoff = Least(Coalesce("closed_at", "window_end"), "window_end", Coalesce("occurred_at", "window_end"))
    forecast_before_cutoff = Exists(
        Forecast.objects.filter(question_id=OuterRef("pk"), made_at__lt=OuterRef("scoring_cutoff"))
    )
    has_scores = Exists(Score.objects.filter(question_id=OuterRef("pk")))
    latest_event_at = Subquery(
        ResolutionEvent.objects.filter(question_id=OuterRef("pk")).order_by("-created_at").values("created_at")[:1]
    )
    scored_before_latest_event = Exists(
        Score.objects.filter(question_id=OuterRef("pk"), computed_at__lt=OuterRef("latest_event_at"))
    )
    resolved_yes_no = Q(status=Question.Status.RESOLVED, outcome__in=list(OUTCOME_VALUES))
    return (
        Question.objects.annotate(scoring_cutoff=cutoff, latest_event_at=latest_event_at)
        .filter(
            # Cheapest probe first: most resolved questions have scores, so the forecast probe rarely runs.
            (resolved_yes_no & ~has_scores & forecast_before_cutoff)
            | (resolved_yes_no & scored_before_latest_event)
            | (~resolved_yes_no & has_scores)
        )
        .order_by("pk")
    )


def stale_scores_recompute(*, batch_size: int = RECOMPUTE_BATCH_SIZE, now: datetime | None = None) -> list[int]:
    """Catch up on scores a lost task never wrote; returns the questions recomputed (a sweep step).

    `now` is unused (scores do not depend on the clock); it is accepted so the sweep can call
    every step alike.
    """
    question_ids = list(questions_missing_scores().values_list("pk", flat=True)[:batch_size])
    _, _, failed = questions_scores_recompute(question_ids)
    return [question_id for question_id in question_ids if question_id not in failed]


def score_summaries_for(*, question_ids: Iterable[int]) -> dict[tuple[int, int], str]:
    """{(question id, user id): summary} for every forecaster scored on these questions, one query."""
    scores = Score.objects.filter(question_id__in=list(question_ids), forecaster__isnull=False)
    return {(score.question_id, score.forecaster_id): score_summary_text(score) for score in scores}
