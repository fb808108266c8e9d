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
from django.db.models import Avg, Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce, Least
from django.utils import timezone

from forecasts import aggregation, scoring
from forecasts.models import (
    AuthorAccuracy,
    ClosingAggregate,
    ExtremizingFactor,
    Forecast,
    Question,
    ResolutionEvent,
    Score,
)
from forecasts.services.crowd import open_questions_crowd_refresh, open_questions_crowd_update
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

    ``forecasts`` are dicts with id, forecaster_id, source_id, made_at, probability, phrase,
    yardstick and (optionally) confidence, oldest first (ties by id), all made before the cutoff.
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
                confidence=final.get("confidence", ""),
                made_at=final["made_at"],
                computed_at=computed_at,
            )
        )
    return scores


def question_scores_recompute(*, question_id: int, refresh_crowd: bool = True) -> int:
    """Replace a question's stored scores and at-close aggregates with ones computed from its
    forecasts; returns how many scores. With `refresh_crowd`, the instance's extremizing factor and
    the aggregates of the open questions it changes follow in a transaction of their own, so the
    open questions' rows are not held locked while the scores are written (a batch refreshes once at its end)."""
    stored, reweighted = question_scores_write(question_id=question_id)
    if refresh_crowd:
        crowd_calibration_refresh(authors=reweighted)
    return stored


@transaction.atomic
def question_scores_write(*, question_id: int) -> tuple[int, list[tuple]]:
    """Replace a question's stored scores, at-close aggregates and its authors' accuracy; returns how
    many scores and the (forecaster id, source id) authors whose weight changed."""
    # The lock queues this behind a resolution being written, so it always scores committed state.
    question = Question.objects.select_for_update().filter(pk=question_id).first()
    if question is None:
        return 0, []
    computed_at = timezone.now()
    previous_authors = list(Score.objects.filter(question_id=question_id).values_list("forecaster_id", "source_id"))
    Score.objects.filter(question_id=question_id).delete()
    ClosingAggregate.objects.filter(question_id=question_id).delete()
    scores: list[Score] = []
    if is_scored(question):
        forecasts = list(
            Forecast.objects.filter(question_id=question_id, made_at__lt=scoring_cutoff(question))
            .order_by("made_at", "id")
            .values("id", "forecaster_id", "source_id", "made_at", "probability", "phrase", "yardstick", "confidence")
        )
        scores = scores_from_forecasts(question, forecasts, computed_at=computed_at)
        Score.objects.bulk_create(scores)
        closing_aggregate_store(question=question, forecasts=forecasts, computed_at=computed_at)
    if question.scores_due:  # written for the resolution as it stands (the row is locked)
        Question.objects.filter(pk=question_id).update(scores_due=False)
    authors = previous_authors + [(score.forecaster_id, score.source_id) for score in scores]
    return len(scores), author_accuracy_refresh(authors=authors)


def closing_aggregate_store(*, question: Question, forecasts: list[dict], computed_at: datetime) -> None:
    """Store the question's five aggregates at its scoring cutoff, with the factor and weights known
    then: only questions resolved before the cutoff count (no look-ahead), never this one."""
    standing_by_author = {author_key(forecast): forecast for forecast in forecasts}
    if not standing_by_author:
        return
    standing = sorted(standing_by_author.values(), key=lambda forecast: (forecast["made_at"], forecast["id"]))
    cutoff = scoring_cutoff(question)
    earlier = ClosingAggregate.objects.filter(resolved_at__lt=cutoff, window_end__lte=cutoff).exclude(
        question_id=question.pk
    )
    earlier_logits = list(earlier.values_list("mean_logit", "outcome"))
    factor = aggregation.extremizing_factor_fit(
        [mean_logit for mean_logit, _ in earlier_logits], [outcome for _, outcome in earlier_logits]
    )
    accuracy = author_accuracy_rows(
        Score.objects.filter(resolved_at__lt=cutoff).exclude(question_id=question.pk),
        authors=[(forecast["forecaster_id"], forecast["source_id"]) for forecast in standing],
    )
    weights = [accuracy.get(author_key(forecast), (0, None, aggregation.DEFAULT_WEIGHT))[2] for forecast in standing]
    closing_aggregate_row(
        question,
        probabilities=[forecast["probability"] for forecast in standing],
        weights=weights,
        factor=factor,
        factor_questions=len(earlier_logits),
        computed_at=computed_at,
    ).save(force_insert=True)


def closing_aggregate_row(
    question: Question,
    *,
    probabilities: list[float],
    weights: list[float],
    factor: float,
    factor_questions: int,
    computed_at: datetime,
) -> ClosingAggregate:
    """An unsaved at-close row from the standing forecasts (oldest first), their weights and the factor."""
    return ClosingAggregate(
        question_id=question.pk,
        outcome=OUTCOME_VALUES[question.outcome],
        forecasters=len(probabilities),
        mean_logit=aggregation.mean_logit(probabilities),
        extremizing_factor=factor,
        factor_questions=factor_questions,
        scored_until=scoring_cutoff(question),
        question_kind=question.kind,
        team_id=question.team_id,
        resolved_at=question.resolved_at,
        window_end=question.window_end,
        computed_at=computed_at,
        **aggregation.aggregates(probabilities, weights, factor),
    )


def author_accuracy_rows(
    scores: QuerySet[Score], *, authors: Iterable[tuple]
) -> dict[AuthorKey, tuple[int, float, float]]:
    """{author: (scored questions, mean Brier, weight)} of the given (forecaster id, source id) authors, from `scores`."""
    forecaster_ids = {forecaster_id for forecaster_id, source_id in authors if forecaster_id is not None}
    source_ids = {source_id for forecaster_id, source_id in authors if source_id is not None}
    if not forecaster_ids and not source_ids:
        return {}
    rows = (
        scores.filter(Q(forecaster_id__in=forecaster_ids) | Q(source_id__in=source_ids))
        .values("forecaster_id", "source_id")
        .annotate(questions=Count("id"), mean_brier=Avg("brier"))
        .order_by()
    )
    return {
        author_key(row): (
            row["questions"],
            row["mean_brier"],
            aggregation.performance_weight(row["mean_brier"], row["questions"]),
        )
        for row in rows
    }


def author_accuracy_refresh(*, authors: Iterable[tuple]) -> list[tuple]:
    """Rebuild the given (forecaster id, source id) authors' mean Brier and weight over all their
    scores; returns the authors whose weight changed (gained, lost or moved)."""
    authors = list(authors)
    if not authors:
        return []
    forecaster_ids = {forecaster_id for forecaster_id, _ in authors if forecaster_id is not None}
    source_ids = {source_id for _, source_id in authors if source_id is not None}
    kept = AuthorAccuracy.objects.filter(Q(forecaster_id__in=forecaster_ids) | Q(source_id__in=source_ids))
    before = {(row[0], row[1]): row[2] for row in kept.values_list("forecaster_id", "source_id", "weight")}
    kept.delete()
    now = timezone.now()
    rows = AuthorAccuracy.objects.bulk_create(
        AuthorAccuracy(
            forecaster_id=author_id if kind == "forecaster" else None,
            source_id=author_id if kind == "source" else None,
            scored_questions=questions,
            mean_brier=mean_brier,
            weight=weight,
            updated_at=now,
        )
        for (kind, author_id), (questions, mean_brier, weight) in author_accuracy_rows(
            Score.objects.all(), authors=authors
        ).items()
    )
    after = {(row.forecaster_id, row.source_id): row.weight for row in rows}
    return [author for author in before.keys() | after.keys() if before.get(author) != after.get(author)]


@transaction.atomic
def crowd_calibration_refresh(
    *, now: datetime | None = None, authors: Iterable[tuple] | None = None
) -> ExtremizingFactor:
    """Refit the instance's extremizing factor on every question resolved yes/no whose window has
    ended (each at its own close), then bring the open questions' aggregates up to date.

    With `authors` (the (forecaster id, source id) authors whose weight changed), only what changed
    is written: the extremized aggregate of open questions from their stored mean log-odds when the
    factor moved, and every aggregate of the open questions those authors stand on. Without, every
    open question is recomputed from its standing forecasts.
    """
    now = now or timezone.now()
    rows = list(ClosingAggregate.objects.filter(window_end__lte=now).values_list("mean_logit", "outcome"))
    factor = aggregation.extremizing_factor_fit([row[0] for row in rows], [row[1] for row in rows])
    fitted, _ = ExtremizingFactor.objects.update_or_create(
        pk=1, defaults={"factor": factor, "questions": len(rows), "fitted_at": now}
    )
    if authors is None:
        open_questions_crowd_refresh()
    else:
        open_questions_crowd_update(authors=authors)
    return fitted


def crowd_calibration_stale(*, now: datetime | None = None, batch_size: int = 0) -> list[int]:
    """Refit the factor when questions became eligible since the last fit (a resolved question's
    window ended meanwhile); a sweep step, returning [] or [the number of questions fitted on].

    `batch_size` is unused (one fit covers every question); the sweep calls every step alike.
    """
    now = now or timezone.now()
    eligible = ClosingAggregate.objects.filter(window_end__lte=now).count()
    fitted = ExtremizingFactor.objects.filter(pk=1).values_list("questions", flat=True).first() or 0
    if eligible == fitted:
        return []
    return [crowd_calibration_refresh(now=now, authors=[]).questions]


def questions_scores_recompute(question_ids: Iterable[int]) -> tuple[int, int, list[int]]:
    """Recompute each question in its own transaction; one bad question does not stop the rest.

    Returns (questions recomputed, scores stored, ids that failed). A database that is down is
    not one bad question: that error propagates, so a task or the sweep retries later.
    """
    questions = stored = 0
    failed = []
    reweighted: set[tuple] = set()
    for question_id in question_ids:
        try:
            question_stored, question_reweighted = question_scores_write(question_id=question_id)
            stored += question_stored
            reweighted.update(question_reweighted)
            questions += 1
        except (OperationalError, InterfaceError):
            raise
        except Exception:
            logger.exception("recomputing the scores of question %s failed", question_id)
            failed.append(question_id)
    if questions:
        crowd_calibration_refresh(authors=reweighted)
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


def questions_scores_due(*, batch_size: int) -> list[int]:
    """Up to `batch_size` of the questions marked `scores_due` whose scores disagree with their state;
    the marks of those whose scores agree (their recompute ran) are cleared.

    Only a change of the resolution sets the mark, so only marked questions are checked: the sweep's
    probe costs what is due, not a look at every question. Locking the marked rows keeps a
    resolution from changing one between the check and the clearing.
    """
    if not Question.objects.filter(scores_due=True).exists():  # the usual sweep: one index probe
        return []
    with transaction.atomic():
        marked = list(
            Question.objects.filter(scores_due=True)
            .order_by("pk")
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)[:batch_size]
        )
        if not marked:
            return []
        missing = list(questions_missing_scores().filter(pk__in=marked).values_list("pk", flat=True))
        Question.objects.filter(pk__in=set(marked) - set(missing)).update(scores_due=False)
    return missing


def stale_scores_recompute(*, batch_size: int = RECOMPUTE_BATCH_SIZE, now: datetime | None = None) -> list[int]:
    """Catch up on scores a lost task never wrote; returns the questions recomputed (a sweep step).

    `now` is unused (scores do not depend on the clock); it is accepted so the sweep can call
    every step alike. `recompute_scores --stale` checks every question instead.
    """
    question_ids = questions_scores_due(batch_size=batch_size)
    _, _, failed = questions_scores_recompute(question_ids)
    return [question_id for question_id in question_ids if question_id not in failed]


def score_summaries_for(*, question_ids: Iterable[int]) -> dict[tuple[int, int], str]:
    """{(question id, user id): summary} for every forecaster scored on these questions, one query."""
    scores = Score.objects.filter(question_id__in=list(question_ids), forecaster__isnull=False)
    return {(score.question_id, score.forecaster_id): score_summary_text(score) for score in scores}


def closing_aggregates_rebuild() -> int:
    """Every resolved question's at-close aggregates, from scratch and in bulk (data loaded without the
    services, as the benchmark's): the same numbers `closing_aggregate_store` gives one by one, each
    with only the questions resolved before its own cutoff. Then every author's accuracy and the
    instance's factor. Returns how many questions."""
    questions = sorted(
        (
            question
            for question in Question.objects.filter(status=Question.Status.RESOLVED, outcome__in=list(OUTCOME_VALUES))
            .only("id", "outcome", "kind", "team_id", "resolved_at", "window_end", "closed_at", "occurred_at")
            .iterator()
        ),
        key=lambda question: (scoring_cutoff(question), question.pk),
    )
    if not questions:
        ClosingAggregate.objects.all().delete()
        return 0
    latest_cutoff = max(scoring_cutoff(question) for question in questions)
    cutoffs = {question.pk: scoring_cutoff(question) for question in questions}
    # Standing forecasts at each question's own cutoff: forecasts after it are dropped per question below.
    forecasts_by_question: dict[int, list[dict]] = {}
    rows = (
        Forecast.objects.filter(question_id__in=list(cutoffs), made_at__lt=latest_cutoff)
        .order_by("question_id", "made_at", "id")
        .values_list("question_id", "forecaster_id", "source_id", "probability", "made_at")
        .iterator(chunk_size=20_000)
    )
    for question_id, forecaster_id, source_id, probability, made_at in rows:
        if made_at < cutoffs[question_id]:
            forecasts_by_question.setdefault(question_id, []).append(
                {"forecaster_id": forecaster_id, "source_id": source_id, "probability": probability}
            )
    # Each author's last forecast before the cutoff, in the order those were made.
    standing_by_question: dict[int, list[dict]] = {}
    for question_id, rows in forecasts_by_question.items():
        last_position = {author_key(row): position for position, row in enumerate(rows)}
        standing_by_question[question_id] = [rows[position] for position in sorted(last_position.values())]
    mean_logits = {
        question_id: aggregation.mean_logit([row["probability"] for row in standing])
        for question_id, standing in standing_by_question.items()
    }
    # Scores in the order they resolved, folded into running per-author sums as each cutoff passes.
    scores = sorted(
        Score.objects.values_list("resolved_at", "question_id", "forecaster_id", "source_id", "brier").iterator(
            chunk_size=50_000
        ),
        key=lambda row: row[0],
    )
    running: dict[AuthorKey, list[float]] = {}
    own_brier: dict[tuple[int, AuthorKey], float] = {}
    for _, question_id, forecaster_id, source_id, brier in scores:
        own_brier[(question_id, author_key({"forecaster_id": forecaster_id, "source_id": source_id}))] = brier
    # Earlier questions for the factor, in the order they become eligible: resolved before the cutoff
    # (strictly) and window ended by it.
    eligible_order = sorted(
        (question for question in questions if question.pk in mean_logits),
        key=lambda question: max(question.resolved_at, question.window_end),
    )
    score_position = eligible_position = 0
    fitted_logits: list[float] = []
    fitted_outcomes: list[int] = []
    fitted_ids: set[int] = set()
    cached_factor: tuple[int, float] | None = None
    now = timezone.now()
    closing = []
    for question in questions:
        standing = standing_by_question.get(question.pk)
        cutoff = cutoffs[question.pk]
        while score_position < len(scores) and scores[score_position][0] < cutoff:
            _, _, forecaster_id, source_id, brier = scores[score_position]
            sums = running.setdefault(author_key({"forecaster_id": forecaster_id, "source_id": source_id}), [0, 0.0])
            sums[0] += 1
            sums[1] += brier
            score_position += 1
        while eligible_position < len(eligible_order):
            candidate = eligible_order[eligible_position]
            if not (candidate.resolved_at < cutoff and candidate.window_end <= cutoff):
                break
            fitted_logits.append(mean_logits[candidate.pk])
            fitted_outcomes.append(OUTCOME_VALUES[candidate.outcome])
            fitted_ids.add(candidate.pk)
            eligible_position += 1
        if not standing:
            continue
        if question.pk in fitted_ids:  # resolved early, before its own cutoff: never fitted on itself
            index = [candidate.pk for candidate in eligible_order[:eligible_position]].index(question.pk)
            logits = fitted_logits[:index] + fitted_logits[index + 1 :]
            outcomes = fitted_outcomes[:index] + fitted_outcomes[index + 1 :]
            factor, factor_questions = aggregation.extremizing_factor_fit(logits, outcomes), len(logits)
        else:
            if cached_factor is None or cached_factor[0] != len(fitted_logits):
                cached_factor = (len(fitted_logits), aggregation.extremizing_factor_fit(fitted_logits, fitted_outcomes))
            factor_questions, factor = cached_factor
        weights = []
        for row in standing:
            key = author_key(row)
            count, total = running.get(key, (0, 0.0))
            own = own_brier.get((question.pk, key))
            if own is not None and question.resolved_at < cutoff:  # its own score is not an earlier one
                count, total = count - 1, total - own
            weights.append(aggregation.performance_weight(total / count if count else None, count))
        closing.append(
            closing_aggregate_row(
                question,
                probabilities=[row["probability"] for row in standing],
                weights=weights,
                factor=factor,
                factor_questions=factor_questions,
                computed_at=now,
            )
        )
    with transaction.atomic():
        ClosingAggregate.objects.all().delete()
        ClosingAggregate.objects.bulk_create(closing, batch_size=5_000)
        AuthorAccuracy.objects.all().delete()
        author_accuracy_refresh(authors=Score.objects.values_list("forecaster_id", "source_id").distinct())
        crowd_calibration_refresh()
    return len(closing)
