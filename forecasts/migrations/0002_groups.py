"""The Forecasters and Editors groups, with the permissions the admin workbench relies on."""

from django.db import migrations

FORECASTER_PERMISSIONS = [
    "add_question",
    "change_question",
    "view_question",
    "add_forecast",
    "view_forecast",
    "add_source",
    "view_source",
    "add_tag",
    "view_tag",
    "view_team",
    "view_resolutionevent",
    "view_notification",
    "change_notification",
]
# Editors moderate: they resolve and edit any question. Nobody may change or delete a forecast.
EDITOR_PERMISSIONS = FORECASTER_PERMISSIONS + [
    "moderate_question",
    "delete_question",
    "change_source",
    "delete_source",
    "change_tag",
    "delete_tag",
    "add_team",
    "change_team",
    "add_teammembership",
    "change_teammembership",
    "delete_teammembership",
    "view_teammembership",
]
GROUPS = {"Forecasters": FORECASTER_PERMISSIONS, "Editors": EDITOR_PERMISSIONS}


def create_groups(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in GROUPS.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(
            Permission.objects.filter(content_type__app_label="forecasts", codename__in=codenames)
        )


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("forecasts", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
