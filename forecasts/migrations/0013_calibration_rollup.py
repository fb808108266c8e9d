"""The calibration rollup: per-bin sums of the scores, kept by triggers in the scores' own transaction.

PostgreSQL only (statement triggers with transition tables); elsewhere the table stays empty and
calibration reads the scores directly. The bin is the selector's uniform bin of 10
(`forecasts.selectors.calibration.uniform_bin_expression`): CEIL(p * 10 - 1e-9) - 1, clamped,
in double precision. Sums are exact numerics of each float (`float8::numeric`), so the sum of
rollup rows equals the sum over the scores whatever the order.
"""

import forecasts.models.scores
from django.db import migrations, models


ROLLUP_COLUMNS = """
    forecaster_id, source_id, team_id, question_kind, resolved_month, counts_from, bin, count, sum_outcome,
    relative_count, coverage_count, sum_probability, sum_probability_squared, sum_probability_outcome, sum_brier,
    sum_log_loss, sum_time_averaged_brier, sum_relative_brier, sum_coverage
"""
KEY = "forecaster_id, source_id, team_id, question_kind, resolved_month, counts_from, bin"
GROUP_KEYS = """
    date_trunc('month', changed.resolved_at AT TIME ZONE 'UTC')::date AS resolved_month,
    CASE WHEN changed.window_end > changed.resolved_at THEN changed.window_end END AS counts_from
"""
BIN = (
    "GREATEST(LEAST(CEIL(changed.probability * 10::float8 - 1e-9::float8) - 1::float8, 9::float8), 0::float8)::integer"
)
ADD_UP = ", ".join(
    f"{column} = rollup.{column} + EXCLUDED.{column}"
    for column in [
        "count", "sum_outcome", "relative_count", "coverage_count", "sum_probability", "sum_probability_squared",
        "sum_probability_outcome", "sum_brier", "sum_log_loss", "sum_time_averaged_brier", "sum_relative_brier",
        "sum_coverage",
    ]
)  # fmt: skip


def sums_sql(relation: str, sign: int) -> str:
    """Add (sign 1) or take away (sign -1) the scores of `relation` in each author's and everyone's rows."""
    return f"""
        INSERT INTO forecasts_scorerollup AS rollup ({ROLLUP_COLUMNS})
        SELECT author.forecaster_id, author.source_id, keyed.team_id, keyed.question_kind, keyed.resolved_month,
            keyed.counts_from, keyed.bin, SUM(keyed.sign), SUM(keyed.sign * keyed.outcome),
            SUM(keyed.sign * (keyed.relative_brier IS NOT NULL)::integer),
            SUM(keyed.sign * (keyed.coverage IS NOT NULL)::integer),
            SUM(keyed.sign * keyed.p), SUM(keyed.sign * keyed.p * keyed.p), SUM(keyed.sign * keyed.p * keyed.outcome),
            SUM(keyed.sign * keyed.brier::numeric), SUM(keyed.sign * keyed.log_loss::numeric),
            SUM(keyed.sign * keyed.time_averaged_brier::numeric),
            COALESCE(SUM(keyed.sign * keyed.relative_brier::numeric), 0),
            COALESCE(SUM(keyed.sign * keyed.coverage::numeric), 0)
        FROM (
            SELECT {sign} AS sign, changed.forecaster_id, changed.source_id, changed.team_id, changed.question_kind,
                changed.outcome, changed.brier, changed.log_loss, changed.time_averaged_brier,
                changed.relative_brier, changed.coverage, changed.probability::numeric AS p, {GROUP_KEYS},
                {BIN} AS bin
            FROM {relation} AS changed
        ) AS keyed
        CROSS JOIN LATERAL (
            VALUES (keyed.forecaster_id, keyed.source_id), (NULL::bigint, NULL::bigint)
        ) AS author (forecaster_id, source_id)
        GROUP BY 1, 2, 3, 4, 5, 6, 7
        ORDER BY 1, 2, 3, 4, 5, 6, 7
        ON CONFLICT ({KEY}) DO UPDATE SET {ADD_UP};
    """


def questions_sql(relation: str, sign: int, condition: str = "TRUE") -> str:
    """Count (sign 1) or uncount (sign -1) the questions of `relation` meeting `condition` in everyone's rows."""
    return f"""
        INSERT INTO forecasts_scorerollup AS rollup ({ROLLUP_COLUMNS})
        SELECT NULL::bigint, NULL::bigint, team_id, question_kind, resolved_month, counts_from, -1, SUM(sign), 0, 0, 0,
            0, 0, 0, 0, 0, 0, 0, 0
        FROM (
            SELECT DISTINCT {sign} AS sign, changed.question_id, changed.team_id, changed.question_kind, {GROUP_KEYS}
            FROM {relation} AS changed
            WHERE {condition}
        ) AS questions
        GROUP BY 1, 2, 3, 4, 5, 6, 7
        ORDER BY 1, 2, 3, 4, 5, 6, 7
        ON CONFLICT ({KEY}) DO UPDATE SET count = rollup.count + EXCLUDED.count;
    """


# A question joins everyone's count when all its scores are new, and leaves it when none is left.
FIRST_SCORES = """
    changed.question_id IN (
        SELECT added.question_id FROM (SELECT question_id, COUNT(*) AS n FROM new_rows GROUP BY question_id) AS added
        WHERE added.n = (SELECT COUNT(*) FROM forecasts_score AS score WHERE score.question_id = added.question_id)
    )
"""
LAST_SCORES = "NOT EXISTS (SELECT 1 FROM forecasts_score AS score WHERE score.question_id = changed.question_id)"

CREATE_SQL = f"""
CREATE FUNCTION forecasts_score_rollup_on_change() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    IF TG_OP = 'DELETE' THEN
        {sums_sql("old_rows", -1)}
        {questions_sql("old_rows", -1, LAST_SCORES)}
    ELSIF TG_OP = 'INSERT' THEN
        {sums_sql("new_rows", 1)}
        {questions_sql("new_rows", 1, FIRST_SCORES)}
    ELSE
        {sums_sql("old_rows", -1)}
        {questions_sql("old_rows", -1)}
        {sums_sql("new_rows", 1)}
        {questions_sql("new_rows", 1)}
    END IF;
    DELETE FROM forecasts_scorerollup WHERE count = 0;
    RETURN NULL;
END
$body$;

CREATE TRIGGER forecasts_score_rollup_insert AFTER INSERT ON forecasts_score
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION forecasts_score_rollup_on_change();
CREATE TRIGGER forecasts_score_rollup_delete AFTER DELETE ON forecasts_score
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION forecasts_score_rollup_on_change();
CREATE TRIGGER forecasts_score_rollup_update AFTER UPDATE ON forecasts_score
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION forecasts_score_rollup_on_change();

CREATE FUNCTION forecasts_score_rollup_rebuild() RETURNS void LANGUAGE plpgsql AS $body$
BEGIN
    DELETE FROM forecasts_scorerollup;
    {sums_sql("forecasts_score", 1)}
    {questions_sql("forecasts_score", 1)}
END
$body$;
"""

DROP_SQL = """
DROP TRIGGER IF EXISTS forecasts_score_rollup_insert ON forecasts_score;
DROP TRIGGER IF EXISTS forecasts_score_rollup_delete ON forecasts_score;
DROP TRIGGER IF EXISTS forecasts_score_rollup_update ON forecasts_score;
DROP FUNCTION IF EXISTS forecasts_score_rollup_on_change();
DROP FUNCTION IF EXISTS forecasts_score_rollup_rebuild();
"""


def triggers_create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE_SQL)
        schema_editor.execute("SELECT forecasts_score_rollup_rebuild()")


def triggers_drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_SQL)


class Migration(migrations.Migration):
    dependencies = [
        ("forecasts", "0012_question_groups"),
    ]

    operations = [
        migrations.CreateModel(
            name="ScoreRollup",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("forecaster_id", models.BigIntegerField(blank=True, null=True)),
                ("source_id", models.BigIntegerField(blank=True, null=True)),
                ("team_id", models.BigIntegerField(blank=True, null=True)),
                (
                    "question_kind",
                    models.CharField(
                        choices=[
                            ("invasion_window", "Invasion window"),
                            ("pretext_operation", "Pretext operation"),
                            ("escalation", "Escalation"),
                            ("diplomatic", "Diplomatic"),
                            ("sanctions", "Sanctions"),
                            ("other", "Other"),
                        ],
                        max_length=32,
                    ),
                ),
                ("resolved_month", models.DateField(help_text="The first day of the resolution's month (UTC).")),
                ("counts_from", models.DateTimeField(blank=True, null=True)),
                ("bin", models.SmallIntegerField(help_text="Uniform bin of 10; -1 counts questions.")),
                ("count", models.BigIntegerField()),
                ("sum_outcome", models.BigIntegerField()),
                ("relative_count", models.BigIntegerField()),
                ("coverage_count", models.BigIntegerField()),
                ("sum_probability", forecasts.models.scores.ExactSumField()),
                ("sum_probability_squared", forecasts.models.scores.ExactSumField()),
                ("sum_probability_outcome", forecasts.models.scores.ExactSumField()),
                ("sum_brier", forecasts.models.scores.ExactSumField()),
                ("sum_log_loss", forecasts.models.scores.ExactSumField()),
                ("sum_time_averaged_brier", forecasts.models.scores.ExactSumField()),
                ("sum_relative_brier", forecasts.models.scores.ExactSumField()),
                ("sum_coverage", forecasts.models.scores.ExactSumField()),
            ],
            options={
                "indexes": [
                    models.Index(condition=models.Q(("count", 0)), fields=["id"], name="score_rollup_empty_idx")
                ],
            },
        ),
        # Its own operation, so the constraint exists before the rebuild's ON CONFLICT needs it
        # (inside CreateModel it would be deferred to the end of the migration).
        migrations.AddConstraint(
            model_name="scorerollup",
            constraint=models.UniqueConstraint(
                fields=(
                    "forecaster_id", "source_id", "team_id", "question_kind", "resolved_month", "counts_from", "bin"
                ),
                name="score_rollup_key",
                nulls_distinct=False,
            ),
        ),  # fmt: skip
        migrations.RunPython(triggers_create, triggers_drop),
    ]
