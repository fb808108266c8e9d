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


def test_bench_database_names_are_the_runs_own():
    from bench import database

    assert database.default_database_name() != "forewarn_bench"  # per run: two runs never share one
    for name in ("forewarn_speed_bench", "forewarn_bench_1234", "bench"):
        database.database_name_check(name)
    for name in ("forewarn", "postgres", "Forewarn_bench", "bench; DROP", "x" * 50 + "bench_x"):
        with pytest.raises(database.BadDatabaseName):
            database.database_name_check(name)


def test_the_results_section_of_the_document_is_replaced_in_place(tmp_path):
    from bench import report
    from bench.measure import Figure

    results = {
        "finished_at": "2026-12-01 12:00 UTC", "scale": 0.1, "runs": 3, "bench_seconds": 30.0,
        "machine": {"cores": 2, "cpu": "cpu", "memory_gib": 8, "postgresql": "15", "python": "3.11",
                    "django": "5.2", "load_average": (1.0, 1.0, 1.0)},
        "data": {"questions": 2000, "resolved": 1600, "forecasters": 200, "forecasts": 100_000,
                 "author_question_pairs": 50_000, "scores": 40_000, "heavy_forecaster_resolved_pairs": 600},
        "sweep": {"batch_size": 500, "median_ms_by_batch_size": {250: 20.0, 500: 15.0}},
    }  # fmt: skip
    figures = [Figure("a figure", 2.0, "ms", "its baseline", 1.0, "<= 2x", True)]
    document = tmp_path / "performance.md"
    document.write_text(f"# Title\n\n{report.RESULTS_START}\nold\n{report.RESULTS_END}\n\n## After\n")
    report.document_write(document, results, figures)
    report.document_write(document, results, figures)
    text = document.read_text()
    assert text.startswith("# Title\n") and text.endswith("## After\n") and "old" not in text
    assert text.count(report.RESULTS_START) == 1
    assert "| a figure | 2.0 ms | its baseline: 1.0 ms | 2.00x | <= 2x | yes |" in text
    assert "| sweep | 20 ms | 15 ms |" in text
