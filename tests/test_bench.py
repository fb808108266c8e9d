"""The benchmark app (bench/): its modules imported directly, and that only its settings install it.

The whole run at a tiny scale is tests/slow/test_bench_command.py.
"""

from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connections

from bench.data import Sizes


def test_bench_refuses_a_database_that_is_not_postgresql(monkeypatch):
    from bench.management.commands.bench import Command  # imports pandas and scikit-learn

    monkeypatch.setitem(connections["default"].settings_dict, "ENGINE", "django.db.backends.sqlite3")
    with pytest.raises(CommandError, match="PostgreSQL only"):
        call_command(Command(), scale=0.01)


def test_full_scale_matches_the_issue():
    sizes = Sizes.for_scale(1.0)
    assert (sizes.questions, sizes.resolved, sizes.forecasters, sizes.forecasts) == (20_000, 16_000, 2_000, 1_000_000)


def test_only_the_bench_settings_install_the_bench():
    assert "bench" not in settings.INSTALLED_APPS
    assert settings.ROOT_URLCONF == "config.urls"
    assert "bench" not in Path(settings.BASE_DIR, "config", "urls.py").read_text()
