"""The Forecasters and Editors groups again, after a transactional test's flush removed them."""

import importlib

import pytest
from django.apps import apps
from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import Group, Permission

groups_migration = importlib.import_module("forecasts.migrations.0002_groups")


def roles_restore() -> None:
    """What migration 0002 does, against the live app registry: permissions, then both groups."""
    for app_config in apps.get_app_configs():
        create_permissions(app_config, verbosity=0)
    for name, codenames in groups_migration.GROUPS.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(Permission.objects.filter(content_type__app_label="forecasts", codename__in=codenames))


@pytest.fixture(scope="module")
def groups_back_after_flush(django_db_blocker):
    """After the module's last transactional test flushed the database, put the groups back for
    whatever test runs next (a test's own flush happens after its function fixtures end)."""
    yield
    with django_db_blocker.unblock():
        roles_restore()
