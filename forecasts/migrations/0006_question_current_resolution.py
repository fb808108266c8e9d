"""Question.current_resolution: the resolve or annul event in force, filled for existing rows."""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def current_resolutions_fill(apps, schema_editor):
    """Each final question's latest resolve or annul event becomes its current resolution."""
    Question = apps.get_model("forecasts", "Question")
    ResolutionEvent = apps.get_model("forecasts", "ResolutionEvent")
    latest = (
        ResolutionEvent.objects.filter(question_id=OuterRef("pk"), action__in=["resolve", "annul"])
        .order_by("-created_at", "-id")
        .values("pk")[:1]
    )
    Question.objects.filter(status__in=["resolved", "annulled"]).update(current_resolution_id=Subquery(latest))


class Migration(migrations.Migration):

    dependencies = [
        ("forecasts", "0005_performance"),
    ]

    operations = [
        migrations.AddField(
            model_name="question",
            name="current_resolution",
            field=models.ForeignKey(
                blank=True,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="forecasts.resolutionevent",
            ),
        ),
        migrations.RunPython(current_resolutions_fill, migrations.RunPython.noop),
    ]
