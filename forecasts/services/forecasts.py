"""Submitting forecasts: a user's own (stamped now) or a source's past statement."""

from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from forecasts.access import question_locked_or_404
from forecasts.estimative import UnknownPhrase, phrase_lookup
from forecasts.exceptions import StateConflict
from forecasts.forecast_input import UnreadableForecast, forecast_read, probability_from_number
from forecasts.models import Forecast, Question, Source
from forecasts.services.crowd import forecast_insert


def probability_from_input(
    *,
    probability: float | None = None,
    percent: float | None = None,
    phrase: str | None = None,
    yardstick: str | None = None,
    forecast: str | None = None,
) -> tuple[float, str, str]:
    """(probability, phrase, yardstick) from exactly one of a probability, a percent, a phrase or a typed forecast."""
    given = [
        name
        for name, value in (
            ("probability", probability),
            ("percent", percent),
            ("phrase", phrase),
            ("forecast", forecast),
        )
        if value not in (None, "")
    ]
    if len(given) != 1:
        message = "Give exactly one of forecast, probability, percent or phrase."
        raise ValidationError(dict.fromkeys(given or ["forecast"], message))
    if phrase or forecast:
        field = "phrase" if phrase else "forecast"
        try:
            if phrase:
                entry = phrase_lookup(phrase=phrase, yardstick=yardstick or "icd203")
                return entry.probability, entry.phrase, entry.yardstick
            reading = forecast_read(forecast, yardstick=yardstick or None)
        except UnknownPhrase as error:
            raise ValidationError({error.field: str(error)}) from error
        except UnreadableForecast as error:
            raise ValidationError({field: str(error)}) from error
        if yardstick and not reading.phrase:
            raise ValidationError({"yardstick": "A yardstick goes with a phrase only."})
        return reading.probability, reading.phrase, reading.yardstick
    if yardstick:
        raise ValidationError({"yardstick": "A yardstick goes with a phrase only."})
    field, value = ("percent", percent) if percent is not None else ("probability", probability)
    try:
        number = Decimal(str(value))
    except (ArithmeticError, TypeError, ValueError) as error:
        raise ValidationError({field: "Must be a number."}) from error
    if isinstance(value, bool):
        raise ValidationError({field: "Must be a number."})
    try:
        return probability_from_number(number, scale=100 if field == "percent" else 1), "", ""
    except UnreadableForecast as error:
        raise ValidationError({field: str(error)}) from error


@transaction.atomic
def forecast_submit(
    *,
    question: Question | None = None,
    question_id: int | None = None,
    recorded_by,
    probability: float | None = None,
    percent: float | None = None,
    phrase: str | None = None,
    yardstick: str | None = None,
    forecast: str | None = None,
    rationale: str = "",
    confidence: str = "",
    source: Source | None = None,
    made_at: datetime | None = None,
    quote: str = "",
    url: str = "",
) -> Forecast:
    """Record a forecast on `question` (or the one of `question_id`); a user's own is stamped now, a
    source's statement keeps its past date."""
    # Locked, so concurrent submissions cannot lose an aggregate update; fetched through the
    # visibility filter, so the check costs no round trip of its own: a question the recorder may
    # not see is the same 404 as a missing one.
    question_id = question.pk if question is not None else question_id
    question = question_locked_or_404(recorded_by, question_id)
    value, phrase, yardstick = probability_from_input(
        probability=probability, percent=percent, phrase=phrase, yardstick=yardstick, forecast=forecast
    )
    now = timezone.now()
    if question.status == Question.Status.DRAFT and source is None:
        message = "This question is a draft: it takes forecasts once it is opened."
        raise StateConflict("question", message, code="question_not_open")
    # A draft, or a question awaiting resolution (a historical record, or one just closed), still
    # takes a source's statement dated before its window end: the record of what was said in time,
    # kept with the draft an analyst prepares from a report.
    takes_statements = source is not None and question.status in (
        Question.Status.DRAFT,
        Question.Status.AWAITING_RESOLUTION,
    )
    if question.status != Question.Status.OPEN and not takes_statements:
        message = f"This question is {question.get_status_display().lower()}: it no longer takes forecasts."
        raise StateConflict("question", message, code="question_not_open")
    if source is None:
        if made_at is not None:
            raise ValidationError(
                {
                    "made_at": "Your own forecast is stamped with the current time; only a source's statement can be dated in the past."
                }
            )
        if question.window_end <= now:
            message = "The window of this question has closed: it no longer takes forecasts."
            raise StateConflict("question", message, code="question_not_open")
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
        confidence=confidence or "",
        quote=quote,
        url=url,
    )
    # The checks above establish every CHECK constraint of Forecast, and the related rows are the
    # ones just loaded, so only field validation runs here: Django would otherwise spend a query
    # on each constraint and each foreign key (18 round trips, half the request). The database
    # still enforces all of them.
    forecast.full_clean(exclude=["question", "forecaster", "source", "recorded_by"], validate_constraints=False)
    forecast_insert(question=question, forecast=forecast)
    return forecast
