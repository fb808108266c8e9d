"""A bounded soak: mixed reads and writes from many threads against gunicorn (2 workers),
PostgreSQL and a real Celery worker, all on 127.0.0.1.

Passes when no answer is a 5xx (or a dropped connection) and the forecasts stored are exactly the
ones the API accepted with a 201. Prints requests per second and latency percentiles, and writes
them to test-artifacts/soak.json. FOREWARN_SOAK_SECONDS (default 45) and FOREWARN_SOAK_THREADS
(default 8) size it.
"""

import json
import os
import random
import statistics
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from django.conf import settings
from django.db.models import Count, Sum

from forecasts.models import Forecast, Question, ResolutionEvent
from tests import factories
from tests.api_support import TokenFactory
from tests.support.http import call
from tests.support.processes import free_port, wait_for
from tests.support.roles import roles_restore

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SOAK_SECONDS = float(os.environ.get("FOREWARN_SOAK_SECONDS", "45"))
THREADS = int(os.environ.get("FOREWARN_SOAK_THREADS", "8"))
PHRASES = ["likely", "unlikely", "almost certain", "roughly even chance", "very unlikely"]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


class Soak:
    """One load-generating thread per simulated client; every answer is recorded."""

    def __init__(self, base_url: str, *, owner_token: str, forecaster_tokens: list[str], question_ids: list[int]):
        self.base_url = base_url
        self.owner_token = owner_token
        self.forecaster_tokens = forecaster_tokens
        self.question_ids = question_ids
        self.lock = threading.Lock()
        self.answers: list[tuple[str, int, float]] = []
        self.accepted_per_question: Counter = Counter()
        self.failures: list[str] = []

    def one_request(self, chance: random.Random) -> tuple[str, object]:
        question_id = chance.choice(self.question_ids)
        reader = chance.choice(self.forecaster_tokens)
        roll = chance.random()
        if roll < 0.30:
            return "list questions", call(self.base_url, "GET", "/api/questions/?status=open", token=reader)
        if roll < 0.45:
            return "question detail", call(self.base_url, "GET", f"/api/questions/{question_id}/", token=reader)
        if roll < 0.55:
            return "question forecasts", call(
                self.base_url, "GET", f"/api/questions/{question_id}/forecasts/", token=reader
            )
        if roll < 0.63:
            return "forecast stream", call(self.base_url, "GET", "/api/forecasts/", token=reader)
        if roll < 0.68:
            return "leaderboard", call(self.base_url, "GET", "/api/stats/leaderboard/", token=reader)
        if roll < 0.995:
            body = chance.choice(
                [
                    {"probability": round(chance.uniform(0.02, 0.98), 3)},
                    {"percent": chance.randint(2, 98), "rationale": "Soak test."},
                    {"phrase": chance.choice(PHRASES)},
                ]
            )
            answer = call(self.base_url, "POST", f"/api/questions/{question_id}/forecasts/", token=reader, body=body)
            if answer.status == 201:
                with self.lock:
                    self.accepted_per_question[question_id] += 1
            return "submit forecast", answer
        body = {"outcome": "yes", "evidence_url": "https://example.org/it-happened"}
        return "resolve yes", call(
            self.base_url, "POST", f"/api/questions/{question_id}/resolve/", token=self.owner_token, body=body
        )

    def client(self, seed: int, until: float) -> None:
        chance = random.Random(seed)
        while time.monotonic() < until:
            try:
                operation, answer = self.one_request(chance)
            except OSError as error:  # connection refused or reset: as bad as a 5xx
                with self.lock:
                    self.failures.append(f"{type(error).__name__}: {error}")
                continue
            with self.lock:
                self.answers.append((operation, answer.status, answer.seconds))

    def run(self, *, seconds: float, threads: int) -> float:
        until = time.monotonic() + seconds
        workers = [threading.Thread(target=self.client, args=[seed, until]) for seed in range(threads)]
        started = time.monotonic()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=seconds + 120)
        return time.monotonic() - started


def test_soak_mixed_reads_and_writes_zero_5xx_and_every_accepted_forecast_stored(fault_processes, tmp_path):
    roles_restore()
    group = fault_processes
    owner = factories.ForecasterFactory(username="soak-owner")
    forecasters = [factories.ForecasterFactory(username=f"soak-{n}") for n in range(10)]
    questions = [factories.QuestionFactory(owner=owner, title=f"Soak question {n}") for n in range(40)]
    soak = Soak(
        "",
        owner_token=TokenFactory(user=owner).key,
        forecaster_tokens=[TokenFactory(user=user).key for user in forecasters],
        question_ids=[question.pk for question in questions],
    )
    unthrottled = {"FOREWARN_THROTTLE_USER": "", "FOREWARN_THROTTLE_ANON": "", "DJANGO_LOG_LEVEL": "WARNING"}
    port = free_port(range(8701, 8721))
    group.gunicorn("web", port=port, workers=2, **unthrottled)
    group.worker("worker")
    soak.base_url = f"http://127.0.0.1:{port}"

    elapsed = soak.run(seconds=SOAK_SECONDS, threads=THREADS)

    statuses = Counter(status for _, status, _ in soak.answers)
    server_errors = {status: count for status, count in statuses.items() if status >= 500}
    accepted = sum(soak.accepted_per_question.values())
    assert not soak.failures, soak.failures[:5]
    assert not server_errors, (server_errors, group.log("web")[-3000:])
    assert accepted > 0 and statuses[200] > 0
    assert Forecast.objects.count() == accepted
    stored = Forecast.objects.values("question_id").annotate(count=Count("id")).values_list("question_id", "count")
    assert dict(stored) == dict(soak.accepted_per_question)
    assert Question.objects.aggregate(total=Sum("forecast_count"))["total"] == accepted
    # 409: a forecast on a question that closed meanwhile (the state conflict of the API contract).
    unexpected = {status for status in statuses if status not in (200, 201, 400, 409)}
    assert not unexpected, statuses
    wait_for(
        lambda: not ResolutionEvent.objects.filter(notified_at__isnull=True).exists(),
        timeout=120,
        what="the worker to tell forecasters of every resolution",
    )

    by_operation = defaultdict(list)
    for operation, _status, seconds in soak.answers:
        by_operation[operation].append(seconds)
    all_latencies = [seconds for _, _, seconds in soak.answers]
    report = {
        "seconds": round(elapsed, 1),
        "threads": THREADS,
        "gunicorn_workers": 2,
        "requests": len(soak.answers),
        "requests_per_second": round(len(soak.answers) / elapsed, 1),
        "statuses": dict(sorted(statuses.items())),
        "forecasts_accepted": accepted,
        "forecasts_stored": Forecast.objects.count(),
        "resolutions": ResolutionEvent.objects.count(),
        "latency_ms": {
            "p50": round(percentile(all_latencies, 0.50) * 1000, 1),
            "p95": round(percentile(all_latencies, 0.95) * 1000, 1),
            "p99": round(percentile(all_latencies, 0.99) * 1000, 1),
            "max": round(max(all_latencies) * 1000, 1),
        },
        "by_operation": {
            operation: {
                "requests": len(latencies),
                "p50_ms": round(statistics.median(latencies) * 1000, 1),
                "p95_ms": round(percentile(latencies, 0.95) * 1000, 1),
            }
            for operation, latencies in sorted(by_operation.items())
        },
    }
    artifacts = Path(settings.BASE_DIR) / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "soak.json").write_text(json.dumps(report, indent=2) + "\n")
    print("\nsoak: " + json.dumps(report, indent=2))
