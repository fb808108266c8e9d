from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("forecasts", "0009_profile_is_imported"),
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
