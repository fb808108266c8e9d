"""The crowd median is maintained here: each author's standing forecast, and per question the
forecast count, the forecaster count and the median of the standing forecasts.

`forecast_insert` saves every submitted forecast and refreshes its question (on PostgreSQL in one
statement); `question_crowd_refresh` does the refresh for a forecast saved elsewhere;
`crowd_rebuild` derives the same rows in bulk from the forecasts alone (for data loaded without
the submission service, as the benchmark does). All compute the median with the one SQL expression below, which PostgreSQL and
SQLite both run. A standing forecast is the author's latest by (made_at, id): an older statement
recorded later never replaces a newer one.
"""

from collections.abc import Iterable

from django.db import connection
from django.db.models.signals import post_save, pre_save
from django.utils import timezone

from forecasts import aggregation
from forecasts.models import Forecast, LatestForecast, Question

# The maintained aggregate columns of a question, by method (forecasts/aggregation.py).
AGGREGATE_COLUMNS = {method: f"crowd_{method}" for method in aggregation.METHODS}


# The instance's fitted extremizing factor, 1 before the first fit.
FACTOR_SQL = "SELECT COALESCE(MAX(factor), CAST(1 AS DOUBLE PRECISION)) AS value FROM forecasts_extremizingfactor"


def crowd_aggregates_sql(crowd: str, *, one_question: bool = False) -> str:
    """SQL for every question's count of authors and five crowd aggregates (DESIGN section 12).

    `crowd` is a relation of (question_id, probability, made_at, forecast_id, forecaster_id,
    source_id) rows, one per standing forecast. The median is (lower middle + upper middle) / 2,
    exactly what statistics.median gives (percentile_cont would interpolate as a + 0.5 * (b - a),
    which can differ in the last bit). The recency weight of the k-th oldest of N is
    exp(sqrt(k) - sqrt(N)); the weighted median is the first p, in ascending order, whose
    cumulative weight reaches half the total (within the tolerance of forecasts.aggregation), and
    the mean of it and the next when it lands on half. The performance weight is the author's
    maintained AuthorAccuracy.weight, 1 / 0.30 without one; the factor is the instance's fitted one.

    `one_question`: the crowd is one question's, a few dozen authors, whose weights are then looked
    up one by one through the unique indexes; a join would hash every author's accuracy row.
    """
    tolerance = repr(aggregation.HALF_TOLERANCE)
    default_weight = f"CAST({aggregation.DEFAULT_WEIGHT!r} AS DOUBLE PRECISION)"
    if one_question:
        performance_weight = (
            "COALESCE("
            "(SELECT weight FROM forecasts_authoraccuracy WHERE forecaster_id = crowd.forecaster_id), "
            f"(SELECT weight FROM forecasts_authoraccuracy WHERE source_id = crowd.source_id), {default_weight})"
        )
        accuracy_joins = ""
    else:
        performance_weight = f"COALESCE(user_accuracy.weight, source_accuracy.weight, {default_weight})"
        accuracy_joins = """
                    LEFT JOIN forecasts_authoraccuracy AS user_accuracy
                        ON user_accuracy.forecaster_id = crowd.forecaster_id
                    LEFT JOIN forecasts_authoraccuracy AS source_accuracy
                        ON source_accuracy.source_id = crowd.source_id"""
    return f"""
        SELECT question_id, authors, median, recency_weighted_median,
            1.0 / (1.0 + EXP(-mean_logit)) AS mean_log_odds,
            1.0 / (1.0 + EXP(-factor.value * mean_logit)) AS extremized,
            1.0 / (1.0 + EXP(-weighted_logit)) AS performance_weighted,
            factor.value AS extremizing_factor, mean_logit
        FROM (
            SELECT question_id, COUNT(*) AS authors,
                AVG(probability) FILTER (WHERE position IN ((crowd_size + 1) / 2, (crowd_size + 2) / 2)) AS median,
                MIN(
                    CASE WHEN ABS(cumulative - total / 2) <= {tolerance} * total
                    THEN (probability + COALESCE(next_probability, probability)) / 2 ELSE probability END
                ) FILTER (WHERE cumulative >= total / 2 - {tolerance} * total) AS recency_weighted_median,
                AVG(logit) AS mean_logit,
                SUM(performance_weight * logit) / SUM(performance_weight) AS weighted_logit
            FROM (
                SELECT question_id, probability, logit, performance_weight, position, crowd_size,
                    SUM(recency_weight) OVER (
                        PARTITION BY question_id ORDER BY position ROWS UNBOUNDED PRECEDING
                    ) AS cumulative,
                    SUM(recency_weight) OVER (PARTITION BY question_id) AS total,
                    LEAD(probability) OVER (PARTITION BY question_id ORDER BY position) AS next_probability
                FROM (
                    SELECT question_id, probability,
                        LN(probability / (1.0 - probability)) AS logit,
                        {performance_weight} AS performance_weight,
                        ROW_NUMBER() OVER (
                            PARTITION BY question_id ORDER BY probability, made_at, forecast_id
                        ) AS position,
                        COUNT(*) OVER (PARTITION BY question_id) AS crowd_size,
                        EXP(
                            SQRT(CAST(
                                ROW_NUMBER() OVER (PARTITION BY question_id ORDER BY made_at, forecast_id)
                                AS DOUBLE PRECISION
                            ))
                            - SQRT(CAST(COUNT(*) OVER (PARTITION BY question_id) AS DOUBLE PRECISION))
                        ) AS recency_weight
                    FROM {crowd}{accuracy_joins}
                ) AS ranked
            ) AS weighed
            GROUP BY question_id
        ) AS grouped
        CROSS JOIN ({FACTOR_SQL}) AS factor
    """


def crowd_probability_sql(columns: dict[str, str]) -> str:
    """SQL for the crowd forecast a question shows: its team's chosen method, the median by default.

    `columns` names the SQL holding each method's value.
    """
    cases = " ".join(f"WHEN '{method}' THEN {columns[method]}" for method in aggregation.METHODS if method != "median")
    team_method = "(SELECT crowd_method FROM forecasts_team WHERE forecasts_team.id = forecasts_question.team_id)"
    return f"CASE {team_method} {cases} ELSE {columns['median']} END"


AGGREGATE_ASSIGNMENTS = ", ".join(
    [f"{column} = standing.{method}" for method, column in AGGREGATE_COLUMNS.items()]
    + [
        "crowd_extremizing_factor = standing.extremizing_factor",
        "crowd_mean_logit = standing.mean_logit",
        "crowd_probability = " + crowd_probability_sql({method: f"standing.{method}" for method in AGGREGATE_COLUMNS}),
    ]
)
# Kept beside the five aggregates: the factor they used and the mean log-odds they came from.
EXTRA_COLUMNS = ["crowd_extremizing_factor", "crowd_mean_logit"]
AGGREGATE_RETURNING = ", ".join(["crowd_probability", *AGGREGATE_COLUMNS.values(), *EXTRA_COLUMNS])

# Any database: the question's counts and aggregates from its standing forecasts as they now are.
AGGREGATES_SQL = (
    """
    UPDATE forecasts_question
    SET forecast_count = forecast_count + 1, forecaster_count = standing.authors, updated_at = %(now)s, """
    + AGGREGATE_ASSIGNMENTS
    + """
    FROM ({aggregates}) AS standing
    WHERE forecasts_question.id = %(question_id)s
    RETURNING forecast_count, forecaster_count, """
    + AGGREGATE_RETURNING
)

# One statement on PostgreSQL. Its parts share one snapshot, so the crowd is read as it was
# before the upsert: every other author's standing forecast, plus this author's new one when the
# upsert moved it (it returns no row when the standing forecast is newer) or else the old one.
# The question row is locked FOR UPDATE by the caller, so no other submission changes the crowd
# meanwhile.
STANDING_AND_AGGREGATES_SQL = (
    """
    WITH {inserted}moved AS (
        INSERT INTO forecasts_latestforecast (question_id, forecaster_id, source_id, forecast_id, probability, made_at)
        VALUES (%(question_id)s, %(forecaster_id)s, %(source_id)s, {forecast_id}, %(probability)s, %(made_at)s)
        ON CONFLICT (question_id, {author_column}) WHERE {author_column} IS NOT NULL DO UPDATE
        SET forecast_id = EXCLUDED.forecast_id, probability = EXCLUDED.probability, made_at = EXCLUDED.made_at,
            nudges_armed = false
        WHERE (EXCLUDED.made_at, EXCLUDED.forecast_id)
            >= (forecasts_latestforecast.made_at, forecasts_latestforecast.forecast_id)
        RETURNING question_id, probability, made_at, forecast_id, forecaster_id, source_id
    ),
    crowd AS (
        SELECT question_id, probability, made_at, forecast_id, forecaster_id, source_id FROM moved
        UNION ALL
        SELECT question_id, probability, made_at, forecast_id, forecaster_id, source_id FROM forecasts_latestforecast
        WHERE question_id = %(question_id)s
            AND ({author_column} IS DISTINCT FROM %(author_id)s OR NOT EXISTS (SELECT 1 FROM moved))
    )
"""
    + AGGREGATES_SQL
)
# The same statement inserting the forecast first: its id, from RETURNING, is the standing forecast's
# and the statement's last column. Every column of Forecast but the id, in the model's order.
FORECAST_FIELDS = [field for field in Forecast._meta.concrete_fields if not field.primary_key]
FORECAST_INSERTED = (
    "inserted AS (INSERT INTO forecasts_forecast ("
    + ", ".join(field.column for field in FORECAST_FIELDS)
    + ") VALUES ("
    + ", ".join(f"%(forecast_{field.column})s" for field in FORECAST_FIELDS)
    + ") RETURNING id),"
)
FORECAST_AND_STANDING_AND_AGGREGATES_SQL = STANDING_AND_AGGREGATES_SQL + ", (SELECT id FROM inserted)"


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
AGGREGATES_REBUILD_SQL = (
    """
    UPDATE forecasts_question
    SET forecast_count = counts.forecasts, forecaster_count = standing.authors, """
    + AGGREGATE_ASSIGNMENTS
    + """
    FROM (SELECT question_id, COUNT(*) AS forecasts FROM forecasts_forecast{where} GROUP BY question_id) AS counts,
        ({aggregates}) AS standing
    WHERE counts.question_id = forecasts_question.id AND standing.question_id = forecasts_question.id
"""
)
# Open questions only, their counts untouched: after the factor or an author's weight changed.
OPEN_AGGREGATES_REFRESH_SQL = (
    """
    UPDATE forecasts_question SET """
    + AGGREGATE_ASSIGNMENTS
    + """
    FROM ({aggregates}) AS standing
    WHERE standing.question_id = forecasts_question.id AND forecasts_question.status = 'open'
"""
)
STANDING_OF_OPEN_QUESTIONS = """(
    SELECT question_id, probability, made_at, forecast_id, forecaster_id, source_id FROM forecasts_latestforecast
    WHERE question_id IN (SELECT id FROM forecasts_question WHERE status = 'open')
) AS crowd"""


def aggregates_store(question: Question, row: tuple) -> None:
    """Set the counts and aggregates a refresh returned on the in-memory question."""
    question.forecast_count, question.forecaster_count, question.crowd_probability, *values = row
    for column, value in zip([*AGGREGATE_COLUMNS.values(), *EXTRA_COLUMNS], values, strict=True):
        setattr(question, column, value)


def question_crowd_refresh(*, question: Question, forecast: Forecast) -> None:
    """Move the author's standing forecast forward, then refresh the question's counts and crowd median."""
    if connection.vendor == "postgresql":
        crowd_refresh_in_one_statement(question=question, forecast=forecast)
    else:
        crowd_refresh_in_two_steps(question=question, forecast=forecast)


def standing_parameters(question: Question, forecast: Forecast, now) -> tuple[str, dict]:
    """The author column and the parameters of STANDING_AND_AGGREGATES_SQL for `forecast`."""
    author_column, author_id = (
        ("source_id", forecast.source_id) if forecast.source_id else ("forecaster_id", forecast.forecaster_id)
    )
    return author_column, {
        "question_id": question.pk,
        "forecaster_id": forecast.forecaster_id,
        "source_id": forecast.source_id,
        "author_id": author_id,
        "forecast_id": forecast.pk,
        "probability": forecast.probability,
        "made_at": forecast.made_at,
        "now": now,
    }


def crowd_refresh_in_one_statement(*, question: Question, forecast: Forecast) -> None:
    """PostgreSQL, one round trip: an upsert that never moves a standing forecast back in time,
    and the counts and median of the crowd it leaves."""
    now = timezone.now()
    author_column, parameters = standing_parameters(question, forecast, now)
    sql = STANDING_AND_AGGREGATES_SQL.format(
        inserted="",
        forecast_id="%(forecast_id)s",
        author_column=author_column,
        aggregates=crowd_aggregates_sql("crowd", one_question=True),
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, parameters)
        aggregates_store(question, cursor.fetchone())
    question.updated_at = now


def forecast_insert(*, question: Question, forecast: Forecast) -> None:
    """Save the new `forecast`, move its author's standing forecast forward and refresh the
    question's counts and crowd: on PostgreSQL all in one statement."""
    if connection.vendor == "postgresql" and not signals_listen_to(Forecast):
        forecast_insert_in_one_statement(question=question, forecast=forecast)
    else:
        forecast.save()
        question_crowd_refresh(question=question, forecast=forecast)


def signals_listen_to(model) -> bool:
    """Whether a save signal has a receiver for `model` (the one-statement insert sends none)."""
    return pre_save.has_listeners(model) or post_save.has_listeners(model)


def forecast_insert_in_one_statement(*, question: Question, forecast: Forecast) -> None:
    """PostgreSQL, one round trip: the forecast's INSERT feeding `crowd_refresh_in_one_statement`'s
    upsert and aggregates; the forecast gets its id as `save()` would give it."""
    if forecast.pk is not None:
        raise ValueError("Only a new forecast is inserted.")
    now = timezone.now()
    author_column, parameters = standing_parameters(question, forecast, now)
    for field in FORECAST_FIELDS:
        value = field.pre_save(forecast, add=True)
        parameters[f"forecast_{field.column}"] = field.get_db_prep_save(value, connection=connection)
    sql = FORECAST_AND_STANDING_AND_AGGREGATES_SQL.format(
        inserted=FORECAST_INSERTED,
        forecast_id="(SELECT id FROM inserted)",
        author_column=author_column,
        aggregates=crowd_aggregates_sql("crowd", one_question=True),
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, parameters)
        *aggregates, forecast.pk = cursor.fetchone()
    forecast._state.adding = False
    forecast._state.db = connection.alias
    aggregates_store(question, aggregates)
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
        standing.nudges_armed = False
        standing.save(update_fields=["forecast", "probability", "made_at", "nudges_armed"])
    crowd = (
        "(SELECT question_id, probability, made_at, forecast_id, forecaster_id, source_id"
        " FROM forecasts_latestforecast WHERE question_id = %(question_id)s) AS crowd"
    )
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            AGGREGATES_SQL.format(aggregates=crowd_aggregates_sql(crowd, one_question=True)),
            {"question_id": question.pk, "now": connection.ops.adapt_datetimefield_value(now)},
        )
        aggregates_store(question, cursor.fetchone())
    question.updated_at = now


def crowd_rebuild() -> None:
    """Derive every standing forecast, count and crowd median from the forecasts alone, in bulk."""
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM forecasts_latestforecast")
        cursor.execute(
            "UPDATE forecasts_question SET forecast_count = 0, forecaster_count = 0, crowd_probability = NULL, "
            + ", ".join(f"{column} = NULL" for column in [*AGGREGATE_COLUMNS.values(), *EXTRA_COLUMNS])
            + " WHERE forecast_count <> 0 OR crowd_probability IS NOT NULL"
        )
        cursor.execute(STANDING_REBUILD_SQL.format(where=""))
        cursor.execute(
            AGGREGATES_REBUILD_SQL.format(
                where="", aggregates=crowd_aggregates_sql("forecasts_latestforecast AS crowd")
            )
        )


def questions_crowd_rebuild(*, question_ids, batch_size: int = 500) -> None:
    """`crowd_rebuild` for these questions only (forecasts loaded in bulk by an import)."""
    question_ids = list(question_ids)
    with connection.cursor() as cursor:
        for start in range(0, len(question_ids), batch_size):
            batch = question_ids[start : start + batch_size]
            where = " WHERE question_id IN ({})".format(", ".join(["%s"] * len(batch)))
            crowd = (
                "(SELECT question_id, probability, made_at, forecast_id, forecaster_id, source_id"
                f" FROM forecasts_latestforecast{where}) AS crowd"
            )
            cursor.execute("DELETE FROM forecasts_latestforecast" + where, batch)
            cursor.execute(STANDING_REBUILD_SQL.format(where=where), batch)
            cursor.execute(
                AGGREGATES_REBUILD_SQL.format(where=where, aggregates=crowd_aggregates_sql(crowd)), batch * 2
            )


def open_questions_crowd_refresh() -> int:
    """Recompute the aggregates of every open question from its standing forecasts, in one statement
    (after the fitted factor or an author's weight changed); returns how many were refreshed."""
    with connection.cursor() as cursor:
        cursor.execute(OPEN_AGGREGATES_REFRESH_SQL.format(aggregates=crowd_aggregates_sql(STANDING_OF_OPEN_QUESTIONS)))
        return cursor.rowcount


# The performance-weighted log-odds of the open questions where some given authors stand, with the
# weights and sum crowd_aggregates_sql uses; `{authors}` is a condition on forecasts_latestforecast.
WEIGHT = (
    f"COALESCE(user_accuracy.weight, source_accuracy.weight, CAST({aggregation.DEFAULT_WEIGHT!r} AS DOUBLE PRECISION))"
)
REWEIGHTED_SQL = f"""
    SELECT crowd.question_id,
        SUM({WEIGHT} * LN(crowd.probability / (1.0 - crowd.probability))) / SUM({WEIGHT}) AS weighted_logit
    FROM forecasts_latestforecast AS crowd
    LEFT JOIN forecasts_authoraccuracy AS user_accuracy ON user_accuracy.forecaster_id = crowd.forecaster_id
    LEFT JOIN forecasts_authoraccuracy AS source_accuracy ON source_accuracy.source_id = crowd.source_id
    WHERE crowd.question_id IN (SELECT question_id FROM forecasts_latestforecast WHERE {{authors}})
        AND crowd.question_id IN (SELECT id FROM forecasts_question WHERE status = 'open')
    GROUP BY crowd.question_id
"""
EXTREMIZED = f"1.0 / (1.0 + EXP(-({FACTOR_SQL}) * crowd_mean_logit))"
PERFORMANCE_WEIGHTED = "COALESCE(1.0 / (1.0 + EXP(-changed.weighted_logit)), crowd_performance_weighted)"

# Open questions after a refit or a change of weights, each written once and only if it changes:
# the extremized aggregate from the stored mean log-odds (the very expression crowd_aggregates_sql
# uses) where the factor moved, and the performance-weighted one where a reweighted author stands.
# The other three aggregates depend on neither.
OPEN_CROWD_UPDATE_SQL = (
    f"""
    UPDATE forecasts_question
    SET crowd_extremized = {EXTREMIZED}, crowd_extremizing_factor = ({FACTOR_SQL}),
        crowd_performance_weighted = {PERFORMANCE_WEIGHTED},
        crowd_probability = """
    + crowd_probability_sql(
        AGGREGATE_COLUMNS | {"extremized": EXTREMIZED, "performance_weighted": PERFORMANCE_WEIGHTED}
    )
    + f"""
    FROM (
        SELECT question.id AS question_id, reweighted.weighted_logit
        FROM forecasts_question AS question
        LEFT JOIN ({REWEIGHTED_SQL}) AS reweighted ON reweighted.question_id = question.id
        WHERE question.status = 'open' AND question.crowd_mean_logit IS NOT NULL AND (
            reweighted.question_id IS NOT NULL
            OR question.crowd_extremizing_factor IS NULL
            OR question.crowd_extremizing_factor <> ({FACTOR_SQL})
        )
    ) AS changed
    WHERE forecasts_question.id = changed.question_id
"""
)


def open_questions_crowd_update(*, authors: Iterable[tuple] = (), batch_size: int = 500) -> int:
    """Bring the open questions' aggregates up to date after the factor was refitted or these
    (forecaster id, source id) authors' weights changed, writing only the questions that change;
    returns how many were written."""
    authors = sorted(set(authors), key=lambda author: (author[0] or 0, author[1] or 0))
    written = 0
    with connection.cursor() as cursor:
        for start in range(0, max(len(authors), 1), batch_size):
            batch = authors[start : start + batch_size]
            conditions, params = [], []
            for index, column in enumerate(("forecaster_id", "source_id")):
                ids = [author[index] for author in batch if author[index] is not None]
                if ids:
                    conditions.append(f"{column} IN ({', '.join(['%s'] * len(ids))})")
                    params += ids
            sql = OPEN_CROWD_UPDATE_SQL.format(authors=" OR ".join(conditions) or "1 = 0")
            cursor.execute(sql, params)
            written += cursor.rowcount
    return written


def team_crowd_method_apply(*, team_id: int) -> int:
    """Copy each of a team's questions' chosen aggregate into crowd_probability; returns how many."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE forecasts_question SET crowd_probability = {crowd_probability_sql(AGGREGATE_COLUMNS)}"
            " WHERE team_id = %s",
            [team_id],
        )
        return cursor.rowcount
