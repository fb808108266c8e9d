"""`manage.py bench` at a tiny scale, so the benchmark never rots (no timing assertions)."""

import json
import os
import socket

import pytest
from django.core.management import CommandError, call_command
from django.db import connections

from forecasts.bench.data import Sizes


def free_bench_port() -> int:
    """A free port among the bench's (8602-8609); 8601 is the default of a manual run."""
    for port in range(8602, 8610):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return port
    pytest.skip("no free port in 8602-8609 for the bench's gunicorn")


def test_bench_refuses_a_database_that_is_not_postgresql(monkeypatch):
    monkeypatch.setitem(connections["default"].settings_dict, "ENGINE", "django.db.backends.sqlite3")
    with pytest.raises(CommandError, match="PostgreSQL only"):
        call_command("bench", scale=0.01)


def test_full_scale_matches_the_issue():
    sizes = Sizes.for_scale(1.0)
    assert (sizes.questions, sizes.resolved, sizes.forecasters, sizes.forecasts) == (20_000, 16_000, 2_000, 1_000_000)


@pytest.mark.slow
def test_bench_runs_end_to_end_at_a_tiny_scale(django_db_blocker, tmp_path):
    if "postgresql" not in connections["default"].settings_dict["ENGINE"]:
        pytest.skip("the bench runs on PostgreSQL only")
    results_path = tmp_path / "results.json"
    with django_db_blocker.unblock():
        call_command(
            "bench",
            scale=0.01,
            runs=1,
            json=results_path,
            database=f"forewarn_bench_test_{os.getpid()}",
            port=free_bench_port(),
            requests=40,
            duration=10,
            stdout=open(os.devnull, "w"),
        )
    results = json.loads(results_path.read_text())

    assert results["data"]["forecasts"] == 10_000
    assert results["data"]["scores"] > 0
    assert results["calibration_agreement"]["endpoint_equals_numpy"]
    assert results["calibration_agreement"]["endpoint_equals_sklearn"]
    queries = results["question_list_queries"]
    assert queries["api_page_size_1"] == queries["api_page_size_100"]
    assert results["submission"]["api"]["errors"] == 0
    assert results["submission"]["api"]["requests"] == 40
    assert results["submission"]["plain"]["errors"] == 0
    assert results["sweep"]["closed"] == 100  # the minimum number of expired windows
    names = [figure["name"] for figure in results["figures"]]
    assert any(name.startswith("sweep closing") for name in names)
    assert all(figure["value"] > 0 and figure["baseline"] > 0 for figure in results["figures"])
    assert all(figure["ratio"] is not None for figure in results["figures"])
