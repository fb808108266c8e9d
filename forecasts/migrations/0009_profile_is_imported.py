from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("forecasts", "0008_blind_and_nudges"),
    ]

    operations = [
        migrations.AddField(
            model_name="profile",
            name="is_imported",
            field=models.BooleanField(
                default=False,
                help_text="Created by a forecast import for an author of another tracker; cannot sign in.",
            ),
        ),
    ]
