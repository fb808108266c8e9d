"""The crowd median is maintained here: each author's standing forecast, and per question the
forecast count, the forecaster count and the median of the standing forecasts.

`question_crowd_refresh` runs inside every forecast submission; `crowd_rebuild` derives the same
rows in bulk from the forecasts alone (for data loaded without the submission service, as the
benchmark does). Both compute the median with the one SQL expression below, which PostgreSQL and
SQLite both run. A standing forecast is the author's latest by (made_at, id): an older statement
recorded later never replaces a newer one.
"""

from django.db import connection
from django.utils import timezone

from forecasts.models import Forecast, LatestForecast, Question


def crowd_aggregates_sql(crowd: str) -> str:
    """SQL for `(question_id, authors, median)` of a relation `crowd` of (question_id, probability) rows.

    The median is (lower middle + upper middle) / 2, the middle one for an odd count: exactly
    what statistics.median gives (percentile_cont would interpolate as a + 0.5 * (b - a), which
    can differ in the last bit).
    """
    return f"""
        SELECT question_id, COUNT(*) AS authors,
            AVG(probability) FILTER (WHERE position IN ((crowd_size + 1) / 2, (crowd_size + 2) / 2)) AS median
        FROM (
            SELECT question_id, probability,
                ROW_NUMBER() OVER (PARTITION BY question_id ORDER BY probability) AS position,
                COUNT(*) OVER (PARTITION BY question_id) AS crowd_size
            FROM {crowd}
        ) AS ranked
        GROUP BY question_id
    """


# Any database: the question's counts and median from its standing forecasts as they now are.
AGGREGATES_SQL = """
    UPDATE forecasts_question
    SET forecast_count = forecast_count + 1, forecaster_count = standing.authors,
        crowd_probability = standing.median, updated_at = %(now)s
    FROM ({aggregates}) AS standing
    WHERE forecasts_question.id = %(question_id)s
    RETURNING forecast_count, forecaster_count, crowd_probability
"""

# One statement on PostgreSQL. Its parts share one snapshot, so the crowd is read as it was
# before the upsert: every other author's standing forecast, plus this author's new one when the
# upsert moved it (it returns no row when the standing forecast is newer) or else the old one.
# The question row is locked FOR UPDATE by the caller, so no other submission changes the crowd
# meanwhile.
STANDING_AND_AGGREGATES_SQL = (
    """
    WITH moved AS (
        INSERT INTO forecasts_latestforecast (question_id, forecaster_id, source_id, forecast_id, probability, made_at)
        VALUES (%(question_id)s, %(forecaster_id)s, %(source_id)s, %(forecast_id)s, %(probability)s, %(made_at)s)
        ON CONFLICT (question_id, {author_column}) WHERE {author_column} IS NOT NULL DO UPDATE
        SET forecast_id = EXCLUDED.forecast_id, probability = EXCLUDED.probability, made_at = EXCLUDED.made_at
        WHERE (EXCLUDED.made_at, EXCLUDED.forecast_id)
            >= (forecasts_latestforecast.made_at, forecasts_latestforecast.forecast_id)
        RETURNING question_id, probability
    ),
    crowd AS (
        SELECT question_id, probability FROM moved
        UNION ALL
        SELECT question_id, probability FROM forecasts_latestforecast
        WHERE question_id = %(question_id)s
            AND ({author_column} IS DISTINCT FROM %(author_id)s OR NOT EXISTS (SELECT 1 FROM moved))
    )
"""
    + AGGREGATES_SQL
)


# Bulk: each author's latest forecast by (made_at, id), then every question's counts and median.
STANDING_REBUILD_SQL = """
    INSERT INTO forecasts_latestforecast (question_id, forecaster_id, source_id, forecast_id, probability, made_at)
    SELECT question_id, forecaster_id, source_id, id, probability, made_at
    FROM (
        SELECT question_id, forecaster_id, source_id, id, probability, made_at,
            ROW_NUMBER() OVER (
                PARTITION BY question_id, forecaster_id, source_id ORDER BY made_at DESC, id DESC
            ) AS recency
        FROM forecasts_forecast{where}
    ) AS ranked
    WHERE recency = 1
"""
AGGREGATES_REBUILD_SQL = """
    UPDATE forecasts_question
    SET forecast_count = counts.forecasts, forecaster_count = standing.authors, crowd_probability = standing.median
    FROM (SELECT question_id, COUNT(*) AS forecasts FROM forecasts_forecast{where} GROUP BY question_id) AS counts,
        ({aggregates}) AS standing
    WHERE counts.question_id = forecasts_question.id AND standing.question_id = forecasts_question.id
"""


def question_crowd_refresh(*, question: Question, forecast: Forecast) -> None:
    """Move the author's standing forecast forward, then refresh the question's counts and crowd median."""
    if connection.vendor == "postgresql":
        crowd_refresh_in_one_statement(question=question, forecast=forecast)
    else:
        crowd_refresh_in_two_steps(question=question, forecast=forecast)


def crowd_refresh_in_one_statement(*, question: Question, forecast: Forecast) -> None:
    """PostgreSQL, one round trip: an upsert that never moves a standing forecast back in time,
    and the counts and median of the crowd it leaves."""
    author_column, author_id = (
        ("source_id", forecast.source_id) if forecast.source_id else ("forecaster_id", forecast.forecaster_id)
    )
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            STANDING_AND_AGGREGATES_SQL.format(author_column=author_column, aggregates=crowd_aggregates_sql("crowd")),
            {
                "question_id": question.pk,
                "forecaster_id": forecast.forecaster_id,
                "source_id": forecast.source_id,
                "author_id": author_id,
                "forecast_id": forecast.pk,
                "probability": forecast.probability,
                "made_at": forecast.made_at,
                "now": now,
            },
        )
        question.forecast_count, question.forecaster_count, question.crowd_probability = cursor.fetchone()
    question.updated_at = now


def crowd_refresh_in_two_steps(*, question: Question, forecast: Forecast) -> None:
    """Any database (SQLite's `make run`): the upsert through the ORM, then the aggregates statement."""
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
    crowd = (
        "(SELECT question_id, probability FROM forecasts_latestforecast WHERE question_id = %(question_id)s) AS crowd"
    )
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            AGGREGATES_SQL.format(aggregates=crowd_aggregates_sql(crowd)),
            {"question_id": question.pk, "now": connection.ops.adapt_datetimefield_value(now)},
        )
        question.forecast_count, question.forecaster_count, question.crowd_probability = cursor.fetchone()
    question.updated_at = now


def crowd_rebuild() -> None:
    """Derive every standing forecast, count and crowd median from the forecasts alone, in bulk."""
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM forecasts_latestforecast")
        cursor.execute(
            "UPDATE forecasts_question SET forecast_count = 0, forecaster_count = 0, crowd_probability = NULL"
            " WHERE forecast_count <> 0 OR crowd_probability IS NOT NULL"
        )
        cursor.execute(STANDING_REBUILD_SQL.format(where=""))
        cursor.execute(
            AGGREGATES_REBUILD_SQL.format(where="", aggregates=crowd_aggregates_sql("forecasts_latestforecast"))
        )


def questions_crowd_rebuild(*, question_ids, batch_size: int = 500) -> None:
    """`crowd_rebuild` for these questions only (forecasts loaded in bulk by an import)."""
    question_ids = list(question_ids)
    with connection.cursor() as cursor:
        for start in range(0, len(question_ids), batch_size):
            batch = question_ids[start : start + batch_size]
            where = " WHERE question_id IN ({})".format(", ".join(["%s"] * len(batch)))
            crowd = f"(SELECT question_id, probability FROM forecasts_latestforecast{where}) AS crowd"
            cursor.execute("DELETE FROM forecasts_latestforecast" + where, batch)
            cursor.execute(STANDING_REBUILD_SQL.format(where=where), batch)
            cursor.execute(
                AGGREGATES_REBUILD_SQL.format(where=where, aggregates=crowd_aggregates_sql(crowd)), batch * 2
            )
