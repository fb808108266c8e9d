"""WindowChange (every move of an open question's window), and coverage in the forecaster covering index."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("forecasts", "0006_question_current_resolution"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="WindowChange",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("previous_window_start", models.DateTimeField(blank=True, null=True)),
                ("previous_window_end", models.DateTimeField()),
                ("window_start", models.DateTimeField(blank=True, null=True)),
                ("window_end", models.DateTimeField()),
                (
                    "forecasts_cut_off",
                    models.PositiveIntegerField(
                        default=0,
                        help_text="Forecasts made at or after the new window end (only a moderator may cut any off).",
                    ),
                ),
            ],
            options={
                "ordering": ["created_at", "id"],
            },
        ),
        migrations.RemoveIndex(
            model_name="score",
            name="score_forecaster_covering_idx",
        ),
        migrations.AddIndex(
            model_name="score",
            index=models.Index(
                fields=[
                    "forecaster",
                    "window_end",
                    "team",
                    "question",
                    "probability",
                    "outcome",
                    "brier",
                    "log_loss",
                    "time_averaged_brier",
                    "relative_brier",
                    "coverage",
                ],
                name="score_forecaster_covering_idx",
            ),
        ),
        migrations.AddField(
            model_name="windowchange",
            name="actor",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL
            ),
        ),
        migrations.AddField(
            model_name="windowchange",
            name="question",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="window_changes", to="forecasts.question"
            ),
        ),
        migrations.AddIndex(
            model_name="windowchange",
            index=models.Index(fields=["question", "created_at"], name="window_change_question_idx"),
        ),
    ]
