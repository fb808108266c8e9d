"""Score.made_at: when the counted forecast was made, copied onto the score so that a track record
sorts and filters by it through an (author, made_at, id) index instead of joining every forecast."""

from django.conf import settings
from django.db import migrations, models
from django.db.models import OuterRef, Subquery

BACKFILL_SQL = """
ALTER TABLE forecasts_score DISABLE TRIGGER forecasts_score_rollup_update;
UPDATE forecasts_score SET made_at = forecast.made_at
    FROM forecasts_forecast AS forecast WHERE forecast.id = forecasts_score.forecast_id;
ALTER TABLE forecasts_score ENABLE TRIGGER forecasts_score_rollup_update;
"""


def made_at_copy(apps, schema_editor):
    """Fill made_at from each score's forecast; on PostgreSQL without the rollup trigger, whose sums
    this column does not change."""
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKFILL_SQL)
        return
    Score = apps.get_model("forecasts", "Score")
    Forecast = apps.get_model("forecasts", "Forecast")
    Score.objects.update(made_at=Subquery(Forecast.objects.filter(pk=OuterRef("forecast_id")).values("made_at")[:1]))


class Migration(migrations.Migration):
    dependencies = [
        ("forecasts", "0015_latest_forecast_user_question_index"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="score",
            name="made_at",
            field=models.DateTimeField(
                null=True, help_text="When the counted forecast or statement was made (copied from it)."
            ),
        ),
        migrations.RunPython(made_at_copy, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="score",
            name="made_at",
            field=models.DateTimeField(help_text="When the counted forecast or statement was made (copied from it)."),
        ),
        migrations.AddIndex(
            model_name="score",
            index=models.Index(fields=["forecaster", "-made_at", "-id"], name="score_forecaster_made_idx"),
        ),
        migrations.AddIndex(
            model_name="score",
            index=models.Index(fields=["source", "-made_at", "-id"], name="score_source_made_idx"),
        ),
    ]
