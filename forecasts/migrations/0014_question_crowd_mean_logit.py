"""The crowd's mean log-odds kept on the question, filled from the standing forecasts.

A refitted extremizing factor then re-extremizes the open questions from this column alone.
"""

from django.db import migrations, models

BACKFILL = """
    UPDATE forecasts_question SET crowd_mean_logit = (
        SELECT AVG(LN(probability / (1.0 - probability))) FROM forecasts_latestforecast
        WHERE forecasts_latestforecast.question_id = forecasts_question.id
    )
    WHERE crowd_mean_log_odds IS NOT NULL
"""


class Migration(migrations.Migration):
    dependencies = [("forecasts", "0013_calibration_rollup")]

    operations = [
        migrations.AddField(
            model_name="question",
            name="crowd_mean_logit",
            field=models.FloatField(blank=True, null=True),
        ),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop),
    ]
