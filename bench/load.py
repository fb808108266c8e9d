"""Forecast submission under load: gunicorn with 2 workers and a bounded thread-pool load generator."""

import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from bench.data import BenchData
from bench.measure import Figure

GUNICORN_WORKERS = 2


@dataclass
class LoadResult:
    requests: int
    errors: int
    seconds: float
    latencies: list[float]

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def latency_percentile(self, percent: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * percent / 100))]


@contextmanager
def gunicorn_running(*, database_url: str, port: int, log_path: Path):
    """Gunicorn with the bench settings on 127.0.0.1:port until the block ends."""
    environment = os.environ | {
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "config.settings.bench",
    }
    log_path.parent.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "gunicorn", "config.wsgi:application",
        "--workers", str(GUNICORN_WORKERS), "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
    ]  # fmt: skip
    with open(log_path, "ab") as log:
        process = subprocess.Popen(command, cwd=settings.BASE_DIR, env=environment, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {process.returncode}; see {log_path}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError as error:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn did not listen on port {port} within 60 s; see {log_path}") from error
                time.sleep(0.2)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def load_run(*, port: int, requests, count: int, duration: float, concurrency: int) -> LoadResult:
    """Send at most `count` requests within at most `duration` seconds from `concurrency` threads.

    `requests(i)` gives the i-th request as (path, body dict, headers). Anything but a 201 is an error.
    """
    lock = threading.Lock()
    next_index = 0
    latencies: list[float] = []
    errors = 0
    began = time.perf_counter()
    deadline = began + duration

    def worker():
        nonlocal next_index, errors
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            with lock:
                index = next_index
                next_index += 1
            if index >= count or time.perf_counter() > deadline:
                break
            path, body, headers = requests(index)
            sent = time.perf_counter()
            try:
                connection.request("POST", path, body=json.dumps(body), headers=headers)
                response = connection.getresponse()
                response.read()
                ok = response.status == 201
                if response.getheader("Connection", "").lower() == "close":
                    connection.close()
            except (OSError, http.client.HTTPException):
                ok = False
                connection.close()
            elapsed = time.perf_counter() - sent
            with lock:
                latencies.append(elapsed)
                errors += 0 if ok else 1
        connection.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return LoadResult(requests=len(latencies), errors=errors, seconds=time.perf_counter() - began, latencies=latencies)


def get_seconds(*, port: int, path: str, token: str, count: int) -> list[float]:
    """Wall time of `count` GETs of `path` one after another on one keep-alive connection; each must be 200."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    times = []
    try:
        for _ in range(count):
            began = time.perf_counter()
            connection.request("GET", path, headers={"Authorization": f"Token {token}"})
            response = connection.getresponse()
            body = response.read()
            times.append(time.perf_counter() - began)
            if response.status != 200:
                raise RuntimeError(f"GET {path} answered {response.status}: {body[:300]!r}")
    finally:
        connection.close()
    return times


def calibration_http_figures(data: BenchData, *, port: int, runs: int, floors: dict) -> tuple[list[Figure], dict]:
    """The calibration endpoint over HTTP through gunicorn, for the heavy forecaster and for everyone."""
    token = data.tokens[data.heavy_id]
    count = max(10, 10 * runs)
    paths = {
        "heavy": f"/api/stats/calibration/?forecaster={data.heavy_id}",
        "all": "/api/stats/calibration/",
    }
    medians = {}
    for name, path in paths.items():
        get_seconds(port=port, path=path, token=token, count=3)  # warm the worker up
        times = get_seconds(port=port, path=path, token=token, count=count)
        medians[name] = statistics.median(times) * 1000
    figures = [
        Figure("calibration, one forecaster through gunicorn (HTTP)", medians["heavy"], "ms",
               "numpy on arrays in memory", floors["floor_heavy_ms"], "p50 <= 20 ms", medians["heavy"] <= 20,
               f"{data.heavy_resolved_pairs:,} pairs, median of {count} requests"),
        Figure("calibration, everyone through gunicorn (HTTP)", medians["all"], "ms",
               "numpy on arrays in memory", floors["floor_all_ms"], "p50 <= 50 ms", medians["all"] <= 50,
               f"median of {count} requests"),
    ]  # fmt: skip
    return figures, {"p50_ms": medians, "requests": count}


def submission_figures(
    data: BenchData,
    *,
    database_url: str,
    port: int,
    runs: int,
    count: int,
    duration: float,
    concurrency: int,
    log_path: Path,
    calibration_floors: dict,
) -> tuple[list[Figure], dict]:
    """Requests per second, p50 and p99 of POST /api/questions/<id>/forecasts/ vs a plain insert view;
    first, while gunicorn runs, the calibration endpoint over HTTP."""
    authors = [int(user_id) for user_id in data.forecaster_ids[1:]]
    questions = [int(question_id) for question_id in data.open_question_ids]

    def request_for(prefix: str):
        def request(index: int):
            author = authors[index % len(authors)]
            question = questions[(index * 7919) % len(questions)]
            headers = {"Authorization": f"Token {data.tokens[author]}", "Content-Type": "application/json"}
            return f"{prefix}/questions/{question}/forecasts/", {"probability": 0.01 + (index % 98) / 100}, headers

        return request

    results: dict[str, list[LoadResult]] = {"api": [], "plain": []}
    with gunicorn_running(database_url=database_url, port=port, log_path=log_path):
        calibration, calibration_details = calibration_http_figures(
            data, port=port, runs=runs, floors=calibration_floors
        )
        for prefix in ("/api", "/bench"):  # warm both up
            load_run(
                port=port, requests=request_for(prefix), count=4 * concurrency, duration=10, concurrency=concurrency
            )
        for _ in range(runs):
            for name, prefix in (("api", "/api"), ("plain", "/bench")):
                results[name].append(
                    load_run(
                        port=port, requests=request_for(prefix), count=count, duration=duration, concurrency=concurrency
                    )
                )

    def summary(name: str) -> dict:
        runs_of = results[name]
        return {
            "requests_per_second": statistics.median(result.requests_per_second for result in runs_of),
            "p50_ms": statistics.median(result.latency_percentile(50) for result in runs_of) * 1000,
            "p99_ms": statistics.median(result.latency_percentile(99) for result in runs_of) * 1000,
            "errors": sum(result.errors for result in runs_of),
            "requests": sum(result.requests for result in runs_of),
        }

    api, plain = summary("api"), summary("plain")
    note = (
        f"{GUNICORN_WORKERS} workers, {concurrency} client threads; API p50 {api['p50_ms']:.1f} ms, "
        f"p99 {api['p99_ms']:.1f} ms, {api['errors']} errors in {api['requests']:,}; plain p50 "
        f"{plain['p50_ms']:.1f} ms, p99 {plain['p99_ms']:.1f} ms, {plain['errors']} errors"
    )
    figures = [
        *calibration,
        Figure("forecast submission through gunicorn", api["requests_per_second"], "req/s",
               "plain view inserting the same row", plain["requests_per_second"], ">= 60% and 0 errors",
               api["requests_per_second"] >= 0.6 * plain["requests_per_second"] and api["errors"] == 0, note),
    ]  # fmt: skip
    return figures, {"api": api, "plain": plain, "calibration_http": calibration_details}
