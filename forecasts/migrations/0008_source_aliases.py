from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("forecasts", "0007_window_changes_and_coverage_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="source",
            name="aliases",
            field=models.JSONField(
                blank=True,
                default=list,
                help_text='Other names reports give this source ("the Pentagon", "Moscow"): report intake matches them too.',
            ),
        ),
    ]
