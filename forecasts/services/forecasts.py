"""Submitting forecasts: a user's own (stamped now) or a source's past statement."""

import statistics
from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.utils import timezone

from forecasts.access import questions_visible_to
from forecasts.estimative import UnknownPhrase, phrase_lookup
from forecasts.models import PROBABILITY_MAX, PROBABILITY_MIN, Forecast, LatestForecast, Question, Source


def probability_from_input(
    *,
    probability: float | None = None,
    percent: float | None = None,
    phrase: str | None = None,
    yardstick: str | None = None,
) -> tuple[float, str, str]:
    """(probability, phrase, yardstick) from exactly one of a probability, a percent or a phrase."""
    given = [name for name, value in (("probability", probability), ("percent", percent), ("phrase", phrase)) if value not in (None, "")]
    if len(given) != 1:
        message = "Give exactly one of probability, percent or phrase."
        raise ValidationError({name: message for name in (given or ["probability"])})
    if phrase:
        try:
            entry = phrase_lookup(phrase=phrase, yardstick=yardstick or "icd203")
        except UnknownPhrase as error:
            raise ValidationError({error.field: str(error)}) from error
        return entry.probability, entry.phrase, entry.yardstick
    if yardstick:
        raise ValidationError({"yardstick": "A yardstick goes with a phrase only."})
    field, value = ("percent", percent) if percent is not None else ("probability", probability)
    try:
        value = float(value)
    except (TypeError, ValueError) as error:
        raise ValidationError({field: "Must be a number."}) from error
    scale = 100 if field == "percent" else 1
    value = value / scale
    if not PROBABILITY_MIN <= value <= PROBABILITY_MAX:
        raise ValidationError(
            {field: f"Must be between {PROBABILITY_MIN * scale:g} and {PROBABILITY_MAX * scale:g}."}
        )
    return value, "", ""


# One statement on PostgreSQL. Its parts share one snapshot, so the crowd is read as it was
# before the upsert: every other author's standing forecast, plus this author's new one when the
# upsert moved it (it returns no row when the standing forecast is newer) or else the old one.
# The question row is locked FOR UPDATE, so no other submission changes the crowd meanwhile.
# The median is (lower middle + upper middle) / 2, computed exactly as statistics.median does
# (percentile_cont would interpolate as a + 0.5 * (b - a), which can differ in the last bit).
STANDING_AND_AGGREGATES_SQL = """
    WITH moved AS (
        INSERT INTO forecasts_latestforecast (question_id, forecaster_id, source_id, forecast_id, probability, made_at)
        VALUES (%(question_id)s, %(forecaster_id)s, %(source_id)s, %(forecast_id)s, %(probability)s, %(made_at)s)
        ON CONFLICT (question_id, {author_column}) WHERE {author_column} IS NOT NULL DO UPDATE
        SET forecast_id = EXCLUDED.forecast_id, probability = EXCLUDED.probability, made_at = EXCLUDED.made_at
        WHERE (EXCLUDED.made_at, EXCLUDED.forecast_id)
            >= (forecasts_latestforecast.made_at, forecasts_latestforecast.forecast_id)
        RETURNING probability
    ),
    crowd AS (
        SELECT probability FROM moved
        UNION ALL
        SELECT probability FROM forecasts_latestforecast
        WHERE question_id = %(question_id)s
            AND ({author_column} IS DISTINCT FROM %(author_id)s OR NOT EXISTS (SELECT 1 FROM moved))
    )
    UPDATE forecasts_question
    SET forecast_count = forecast_count + 1, forecaster_count = standing.authors,
        crowd_probability = standing.median, updated_at = %(now)s
    FROM (
        SELECT COUNT(*) AS authors,
            (percentile_disc(0.5) WITHIN GROUP (ORDER BY probability)
             + percentile_disc(0.5) WITHIN GROUP (ORDER BY probability DESC)) / 2 AS median
        FROM crowd
    ) AS standing
    WHERE forecasts_question.id = %(question_id)s
    RETURNING forecast_count, forecaster_count, crowd_probability, updated_at
"""


def refresh_question_aggregates(question: Question, forecast: Forecast) -> None:
    """Move the author's standing forecast forward and recompute count, forecasters and median."""
    if connection.vendor == "postgresql":
        refresh_question_aggregates_in_sql(question, forecast)
        return
    author = {"source": forecast.source} if forecast.source_id else {"forecaster": forecast.forecaster}
    standing = LatestForecast.objects.filter(question=question, **author).first()
    if standing is None:
        LatestForecast.objects.create(
            question=question, forecast=forecast, probability=forecast.probability, made_at=forecast.made_at, **author
        )
    elif (forecast.made_at, forecast.pk) >= (standing.made_at, standing.forecast_id):
        standing.forecast = forecast
        standing.probability = forecast.probability
        standing.made_at = forecast.made_at
        standing.save(update_fields=["forecast", "probability", "made_at"])
    standing_probabilities = list(
        LatestForecast.objects.filter(question=question).values_list("probability", flat=True)
    )
    question.forecast_count += 1
    question.forecaster_count = len(standing_probabilities)
    question.crowd_probability = statistics.median(standing_probabilities)
    question.save(update_fields=["forecast_count", "forecaster_count", "crowd_probability", "updated_at"])


def refresh_question_aggregates_in_sql(question: Question, forecast: Forecast) -> None:
    """The same on PostgreSQL in one round trip: an upsert that never moves a standing forecast
    back in time, and the count and median of the crowd it leaves."""
    author_column, author_id = (
        ("source_id", forecast.source_id) if forecast.source_id else ("forecaster_id", forecast.forecaster_id)
    )
    with connection.cursor() as cursor:
        cursor.execute(
            STANDING_AND_AGGREGATES_SQL.format(author_column=author_column),
            {
                "question_id": question.pk,
                "forecaster_id": forecast.forecaster_id,
                "source_id": forecast.source_id,
                "author_id": author_id,
                "forecast_id": forecast.pk,
                "probability": forecast.probability,
                "made_at": forecast.made_at,
                "now": timezone.now(),
            },
        )
        (
            question.forecast_count,
            question.forecaster_count,
            question.crowd_probability,
            question.updated_at,
        ) = cursor.fetchone()


@transaction.atomic
def forecast_submit(
    *,
    question: Question,
    recorded_by,
    probability: float | None = None,
    percent: float | None = None,
    phrase: str | None = None,
    yardstick: str | None = None,
    rationale: str = "",
    source: Source | None = None,
    made_at: datetime | None = None,
    quote: str = "",
    url: str = "",
) -> Forecast:
    """Record a forecast; a user's own is stamped now, a source's statement keeps its past date."""
    # Locked, so concurrent submissions cannot lose an aggregate update; fetched through the
    # visibility filter, so the check costs no round trip of its own.
    try:
        question = questions_visible_to(recorded_by, Question.objects.select_for_update(of=("self",))).get(pk=question.pk)
    except Question.DoesNotExist:
        raise PermissionDenied("You cannot see this question.") from None
    value, phrase, yardstick = probability_from_input(
        probability=probability, percent=percent, phrase=phrase, yardstick=yardstick
    )
    now = timezone.now()
    if question.status == Question.Status.DRAFT:
        raise ValidationError({"question": "This question is a draft: it takes forecasts once it is opened."})
    if question.status != Question.Status.OPEN:
        raise ValidationError({"question": f"This question is {question.get_status_display().lower()}: it no longer takes forecasts."})
    if source is None:
        if made_at is not None:
            raise ValidationError({"made_at": "Your own forecast is stamped with the current time; only a source's statement can be dated in the past."})
        if question.window_end <= now:
            raise ValidationError({"question": "The window of this question has closed: it no longer takes forecasts."})
        made_at = now
    else:
        errors = {}
        if made_at is None:
            errors["made_at"] = "A source's statement needs the date it was made."
        elif made_at > now:
            errors["made_at"] = "A statement cannot be dated in the future."
        elif made_at >= question.window_end:
            errors["made_at"] = "The statement must predate the end of the question's window."
        if not quote.strip():
            errors["quote"] = "Quote the source's statement."
        if not url.strip():
            errors["url"] = "Give the URL where the statement was published."
        if errors:
            raise ValidationError(errors)
    forecast = Forecast(
        question=question,
        forecaster=None if source else recorded_by,
        source=source,
        recorded_by=recorded_by,
        made_at=made_at,
        recorded_at=now,
        probability=value,
        phrase=phrase,
        yardstick=yardstick,
        rationale=rationale,
        quote=quote,
        url=url,
    )
    # The checks above establish every CHECK constraint of Forecast, and the related rows are the
    # ones just loaded, so only field validation runs here: Django would otherwise spend a query
    # on each constraint and each foreign key (18 round trips, half the request). The database
    # still enforces all of them.
    forecast.full_clean(exclude=["question", "forecaster", "source", "recorded_by"], validate_constraints=False)
    forecast.save()
    refresh_question_aggregates(question, forecast)
    return forecast
