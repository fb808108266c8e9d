"""The figures: each the median of several runs, each beside a baseline measured on the same data."""

import io
import math
import statistics
import time
from dataclasses import asdict, dataclass

import numpy as np
import pandas
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss, log_loss

from bench.data import BenchData
from forecasts import scoring
from forecasts.models import Score

CALIBRATION_PATH = "/api/stats/calibration/"


@dataclass
class Figure:
    """One line of the table: Forewarn's number beside its baseline, and the target."""

    name: str
    value: float
    unit: str
    baseline_name: str
    baseline: float
    target: str
    met: bool | None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        return self.value / self.baseline if self.baseline else None

    def as_dict(self) -> dict:
        return asdict(self) | {"ratio": self.ratio}


def median_seconds(action, *, runs: int, warmup: int = 1) -> float:
    """Median wall time of `action()` over `runs` runs, after `warmup` untimed ones."""
    for _ in range(warmup):
        action()
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        action()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def api_client(data: BenchData, user_id: int) -> Client:
    return Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Token {data.tokens[user_id]}")


def get_ok(client: Client, path: str, params: dict | None = None):
    response = client.get(path, params or {})
    if response.status_code != 200:
        raise RuntimeError(f"GET {path} {params} answered {response.status_code}: {response.content[:300]!r}")
    return response


# Calibration ----------------------------------------------------------------------------------


def calibration_numpy(probabilities: np.ndarray, outcomes: np.ndarray, bins: int = 10) -> dict:
    """The endpoint's numbers from arrays in memory: the floor any implementation must pay."""
    index = scoring.uniform_bin_indices(probabilities, bins)
    counts = np.bincount(index, minlength=bins)
    sum_probability = np.bincount(index, probabilities, minlength=bins)
    sum_outcome = np.bincount(index, outcomes, minlength=bins)
    filled = counts > 0
    mean_forecast = sum_probability[filled] / counts[filled]
    frequency = sum_outcome[filled] / counts[filled]
    total = probabilities.size
    base_rate = outcomes.mean()
    return {
        "n": total,
        "brier": float(np.mean((probabilities - outcomes) ** 2)),
        "log_loss": float(-np.mean(np.log(np.where(outcomes == 1, probabilities, 1 - probabilities)))),
        "reliability": float(np.sum(counts[filled] * (mean_forecast - frequency) ** 2) / total),
        "resolution": float(np.sum(counts[filled] * (frequency - base_rate) ** 2) / total),
        "uncertainty": float(base_rate * (1 - base_rate)),
        "bins": [
            scoring.wilson_interval(int(successes), int(count))
            for successes, count in zip(sum_outcome[filled], counts[filled], strict=False)
        ],
    }


def calibration_sklearn(frame: pandas.DataFrame, author_column: str) -> dict:
    """What a user does with an export: keep each author's last forecast per resolved question, then scikit-learn."""
    frame = frame[frame["outcome"].isin(["yes", "no"])]
    frame = frame.sort_values(["made_at"], kind="stable")
    final = frame.groupby(["question_id", author_column], sort=False).tail(1)
    outcomes = (final["outcome"] == "yes").to_numpy(dtype=float)
    probabilities = final["probability"].to_numpy(dtype=float)
    frequency, _mean_forecast = calibration_curve(outcomes, probabilities, n_bins=10, strategy="uniform")
    return {
        "n": int(probabilities.size),
        "brier": float(brier_score_loss(outcomes, probabilities)),
        "log_loss": float(log_loss(outcomes, probabilities, labels=[0, 1])),
        "bins": len(frequency),
    }


# Text columns that are mostly empty: read as text, so pandas need not guess their type.
CSV_TEXT_COLUMNS = {"outcome": str, "phrase": str, "yardstick": str, "source": str, "forecaster": str}


def export_via_endpoint(client: Client, forecaster_id: int) -> pandas.DataFrame:
    response = get_ok(client, "/api/forecasts/export.csv", {"forecaster": forecaster_id})
    return pandas.read_csv(io.BytesIO(b"".join(response.streaming_content)), dtype=CSV_TEXT_COLUMNS)


EXPORT_SQL = """
    COPY (
        SELECT forecast.question_id, question.title AS question, forecaster.username AS forecaster,
               NULL AS source, forecast.probability, forecast.phrase, forecast.yardstick,
               forecast.made_at, forecast.recorded_at, question.outcome
        FROM forecasts_forecast AS forecast
        JOIN forecasts_question AS question ON question.id = forecast.question_id
        LEFT JOIN auth_user AS forecaster ON forecaster.id = forecast.forecaster_id
        ORDER BY forecast.made_at, forecast.id
    ) TO STDOUT WITH (FORMAT csv, HEADER)
"""


def export_via_copy() -> pandas.DataFrame:
    """Every forecast as the export's CSV, straight from PostgreSQL COPY (faster than any endpoint)."""
    buffer = io.BytesIO()
    with connection.cursor() as cursor, cursor.cursor.copy(EXPORT_SQL) as copy:
        for block in copy:
            buffer.write(block)
    buffer.seek(0)
    return pandas.read_csv(buffer, dtype=CSV_TEXT_COLUMNS)


def counted_arrays(**filters) -> tuple[np.ndarray, np.ndarray]:
    rows = Score.objects.counted().filter(**filters).values_list("probability", "outcome")
    array = np.array(list(rows), dtype=float).reshape(-1, 2)
    return array[:, 0].copy(), array[:, 1].copy()


def calibration_figures(data: BenchData, *, runs: int) -> tuple[list[Figure], dict]:
    """One heavy forecaster and everyone: endpoint vs numpy floor vs CSV + pandas + scikit-learn."""
    client = api_client(data, data.heavy_id)
    heavy = {"forecaster": data.heavy_id}
    endpoint_heavy = median_seconds(lambda: get_ok(client, CALIBRATION_PATH, heavy), runs=runs)
    endpoint_all = median_seconds(lambda: get_ok(client, CALIBRATION_PATH), runs=runs)
    heavy_arrays = counted_arrays(forecaster_id=data.heavy_id)
    all_arrays = counted_arrays()
    floor_heavy = median_seconds(lambda: calibration_numpy(*heavy_arrays), runs=runs)
    floor_all = median_seconds(lambda: calibration_numpy(*all_arrays), runs=runs)
    csv_heavy = median_seconds(
        lambda: calibration_sklearn(export_via_endpoint(client, data.heavy_id), "forecaster"), runs=runs, warmup=0
    )
    csv_all = median_seconds(lambda: calibration_sklearn(export_via_copy(), "forecaster"), runs=runs, warmup=0)

    # The three routes must agree, or the comparison means nothing.
    served_heavy = get_ok(client, CALIBRATION_PATH, heavy).json()
    served_all = get_ok(client, CALIBRATION_PATH).json()
    floor_numbers = calibration_numpy(*heavy_arrays)
    sklearn_heavy = calibration_sklearn(export_via_endpoint(client, data.heavy_id), "forecaster")
    agreement = {
        "floor_heavy_ms": floor_heavy * 1000,
        "floor_all_ms": floor_all * 1000,
        "heavy_pairs": served_heavy["n"],
        "all_pairs": served_all["n"],
        "endpoint_equals_numpy": served_heavy["n"] == floor_numbers["n"]
        and abs(served_heavy["brier"] - floor_numbers["brier"]) < 1e-9,
        "endpoint_equals_sklearn": served_heavy["n"] == sklearn_heavy["n"]
        and abs(served_heavy["brier"] - sklearn_heavy["brier"]) < 1e-9,
    }
    pairs_note = f"{served_heavy['n']:,} pairs"
    figures = [
        Figure("calibration, one forecaster (endpoint)", endpoint_heavy * 1000, "ms",
               "numpy on arrays in memory", floor_heavy * 1000, "p50 <= 50 ms", endpoint_heavy <= 0.050, pairs_note),
        Figure("calibration, one forecaster (endpoint)", endpoint_heavy * 1000, "ms",
               "CSV export endpoint + pandas + scikit-learn", csv_heavy * 1000, ">= 10x faster",
               csv_heavy >= 10 * endpoint_heavy, pairs_note),
        Figure("calibration, everyone (endpoint)", endpoint_all * 1000, "ms",
               "numpy on arrays in memory", floor_all * 1000, "<= 2 s", endpoint_all <= 2.0,
               f"{served_all['n']:,} pairs"),
        Figure("calibration, everyone (endpoint)", endpoint_all * 1000, "ms",
               "CSV (SQL COPY) + pandas + scikit-learn", csv_all * 1000, ">= 10x faster",
               csv_all >= 10 * endpoint_all, f"{served_all['n']:,} pairs"),
    ]  # fmt: skip
    return figures, agreement


def rollup_figures(data: BenchData, *, runs: int) -> list[Figure]:
    """What the calibration rollup buys: the selector reading it against the same selector reading the scores."""
    from django.contrib.auth import get_user_model

    from forecasts.selectors import ScoreFilters, calibration_for
    from forecasts.selectors.calibration import calibration_from_scores

    caller = get_user_model().objects.get(pk=data.heavy_id)
    figures = []
    for name, filters in (("one forecaster", ScoreFilters(forecaster_id=data.heavy_id)), ("everyone", ScoreFilters())):
        rollup = median_seconds(lambda filters=filters: calibration_for(caller, filters=filters), runs=runs)
        scores = median_seconds(
            lambda filters=filters: calibration_from_scores(caller, filters=filters, bins=10, strategy="uniform"),
            runs=runs,
        )
        if calibration_for(caller, filters=filters) != calibration_from_scores(
            caller, filters=filters, bins=10, strategy="uniform"
        ):
            raise RuntimeError(f"the rollup and the scores disagree on the calibration of {name}")
        figures.append(
            Figure(f"calibration of {name}, selector on the rollup", rollup * 1000, "ms",
                   "the same selector reading the scores", scores * 1000, "faster, equal numbers", rollup < scores,
                   "the same numbers, checked")
        )  # fmt: skip
    return figures


def one_forecaster_seconds(data: BenchData, *, runs: int) -> float:
    """The one-forecaster calibration endpoint's median time on the current database."""
    client = api_client(data, data.heavy_id)
    return median_seconds(lambda: get_ok(client, CALIBRATION_PATH, {"forecaster": data.heavy_id}), runs=runs)


# Question list --------------------------------------------------------------------------------


def question_list_figures(data: BenchData, *, runs: int) -> tuple[list[Figure], dict]:
    """A page of 50 through the API vs the plain values() view; queries at page size 1 vs 100."""
    reader = int(data.forecaster_ids[1])
    client = api_client(data, reader)
    page = {"page_size": 50}
    api = median_seconds(lambda: get_ok(client, "/api/questions/", page), runs=runs)
    plain = median_seconds(lambda: get_ok(client, "/bench/questions/", page), runs=runs)
    # Page 100 at full scale; the last page of a smaller data set.
    late_page = max(1, min(100, math.ceil(get_ok(client, "/api/questions/", page).json()["count"] / 50)))
    late = {"page_size": 50, "page": late_page}
    api_late = median_seconds(lambda: get_ok(client, "/api/questions/", late), runs=runs)
    plain_late = median_seconds(lambda: get_ok(client, "/bench/questions/", late), runs=runs)
    if (
        get_ok(client, "/api/questions/", late).json()["results"][0]["id"]
        != (get_ok(client, "/bench/questions/", late).json()["results"][0]["id"])
    ):
        raise RuntimeError(f"the API and the plain view disagree on page {late_page}")
    queries = {}
    for page_size in (1, 100):
        for name, path in (("api", "/api/questions/"), ("plain", "/bench/questions/")):
            with CaptureQueriesContext(connection) as captured:
                rows = get_ok(client, path, {"page_size": page_size}).json()["results"]
            queries[f"{name}_page_size_{page_size}"] = len(captured.captured_queries)
            if len(rows) != page_size:
                raise RuntimeError(f"{path} returned {len(rows)} rows for page_size={page_size}")
    same_count = queries["api_page_size_1"] == queries["api_page_size_100"]
    figures = [
        Figure("question list, page of 50 (API)", api * 1000, "ms", "plain values() JSON view", plain * 1000,
               "<= 2x", api <= 2 * plain),
        Figure(f"question list, page {late_page} of 50 (API)", api_late * 1000, "ms",
               f"plain values() JSON view, page {late_page}", plain_late * 1000, "<= 2x", api_late <= 2 * plain_late),
        Figure("question list, SQL queries at page size 100", queries["api_page_size_100"], "queries",
               "the same at page size 1", queries["api_page_size_1"], "equal", same_count,
               f"plain view: {queries['plain_page_size_100']} at 100, {queries['plain_page_size_1']} at 1"),
    ]  # fmt: skip
    return figures, queries
