"""The benchmark command from start to end at a tiny scale, so it never rots (no timing assertions).

`bench` is installed only by config.settings.bench, so the run goes through a subprocess with
those settings, against the PostgreSQL the tests use; it creates and drops databases of its own.
"""

import json
import os
import socket
import subprocess
import sys

import pytest
from django.conf import settings
from django.db import connections


def free_bench_port() -> int:
    """A free port among the bench's (8602-8609); 8601 is the default of a manual run."""
    for port in range(8602, 8610):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return port
    pytest.skip("no free port in 8602-8609 for the bench's gunicorn")


def test_bench_runs_end_to_end_at_a_tiny_scale(tmp_path):
    database = connections["default"].settings_dict
    if "postgresql" not in database["ENGINE"]:
        pytest.skip("the bench runs on PostgreSQL only")
    results_path = tmp_path / "results.json"
    document = tmp_path / "performance.md"
    document.write_text("# Performance\n")
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.bench",
        # The server the tests use; the bench creates and drops its own databases beside it.
        "DATABASE_URL": (
            f"postgres://{database['USER']}:{database['PASSWORD'] or ''}@{database['HOST'] or '127.0.0.1'}:"
            f"{database['PORT'] or 5432}/postgres"
        ),
        "FOREWARN_VAR_DIR": str(tmp_path / "var"),
    }
    command = [
        sys.executable, "manage.py", "bench", "--scale", "0.01", "--runs", "1", "--json", str(results_path),
        "--database", f"forewarn_bench_test_{os.getpid()}", "--port", str(free_bench_port()),
        "--requests", "40", "--duration", "10", "--doc", str(document),
    ]  # fmt: skip
    finished = subprocess.run(
        command, cwd=settings.BASE_DIR, env=environment, capture_output=True, text=True, timeout=600
    )
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
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
    assert any(name.startswith("calibration, everyone through gunicorn") for name in names)
    pages = results["pages"]["pages"]
    assert {"home page (admin index)", "question page (admin)", "question chart (chart.svg)"} <= set(pages)
    assert all(page["p50_ms"] > 0 and page["baseline_ms"] > 0 for page in pages.values())
    assert sum(name.endswith(", p50") for name in names) == len(pages) == 7
    assert set(results["sweep"]["median_ms_by_batch_size"]) == {"100", "250", "500", "1000", "2000"}
    written = document.read_text()
    assert written.startswith("# Performance\n") and "| Figure | Forewarn | Baseline |" in written
