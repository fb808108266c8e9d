"""Stored per-(author, question) scores, and the admin's Calibration page over them."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        # 0003_lifecycle, not 0002_groups: two migrations on 0002 would be two leaf nodes, and
        # `migrate` refuses a graph with two leaves.
        ("forecasts", "0003_lifecycle"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Score",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("probability", models.FloatField(help_text="The counted forecast's probability of YES.")),
                ("outcome", models.PositiveSmallIntegerField(help_text="1 for YES, 0 for NO.")),
                ("brier", models.FloatField()),
                ("log_loss", models.FloatField()),
                ("time_averaged_brier", models.FloatField()),
                (
                    "coverage",
                    models.FloatField(
                        blank=True,
                        help_text="Share of the question's open span the author's forecasts covered.",
                        null=True,
                    ),
                ),
                (
                    "relative_brier",
                    models.FloatField(
                        blank=True,
                        help_text="Time-averaged Brier minus the crowd's; None with one author.",
                        null=True,
                    ),
                ),
                ("forecast_count", models.PositiveIntegerField(help_text="Forecasts made before the scoring cutoff.")),
                ("scored_until", models.DateTimeField(help_text="The cutoff: the close, or when the event happened.")),
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
                ("resolved_at", models.DateTimeField()),
                ("window_end", models.DateTimeField()),
                ("phrase", models.CharField(blank=True, max_length=60)),
                (
                    "yardstick",
                    models.CharField(
                        blank=True, choices=[("icd203", "ICD 203"), ("kent", "Sherman Kent")], max_length=10
                    ),
                ),
                ("computed_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "forecast",
                    models.ForeignKey(
                        help_text="The forecast that counts.",
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="forecasts.forecast",
                    ),
                ),
                (
                    "forecaster",
                    models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="scores",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "question",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="scores", to="forecasts.question"
                    ),
                ),
                (
                    "source",
                    models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="scores",
                        to="forecasts.source",
                    ),
                ),
                (
                    "team",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="forecasts.team",
                    ),
                ),
            ],
            options={
                "ordering": ["-resolved_at", "question_id", "id"],
                "indexes": [
                    models.Index(fields=["forecaster", "resolved_at"], name="score_forecaster_idx"),
                    models.Index(fields=["source", "resolved_at"], name="score_source_idx"),
                    models.Index(fields=["question_kind", "resolved_at"], name="score_kind_idx"),
                    models.Index(fields=["resolved_at"], name="score_resolved_at_idx"),
                    models.Index(fields=["yardstick", "phrase"], name="score_phrase_idx"),
                ],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("forecaster__isnull", False), ("source__isnull", True)),
                            models.Q(("forecaster__isnull", True), ("source__isnull", False)),
                            _connector="OR",
                        ),
                        name="score_by_user_xor_source",
                    ),
                    models.UniqueConstraint(
                        condition=models.Q(("forecaster__isnull", False)),
                        fields=("question", "forecaster"),
                        name="score_one_per_user_and_question",
                    ),
                    models.UniqueConstraint(
                        condition=models.Q(("source__isnull", False)),
                        fields=("question", "source"),
                        name="score_one_per_source_and_question",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("outcome__in", [0, 1])), name="score_outcome_binary"
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("probability__gte", 0), ("probability__lte", 1)),
                        name="score_probability_in_range",
                    ),
                ],
            },
        ),
        migrations.CreateModel(
            name="CalibrationReport",
            fields=[],
            options={
                "verbose_name": "calibration",
                "verbose_name_plural": "calibration",
                "proxy": True,
                "indexes": [],
                "constraints": [],
            },
            bases=("forecasts.score",),
        ),
    ]
