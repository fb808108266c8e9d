"""Test oracles: scoring functions only the tests use, as independent answers to check against.

Calibration bins and the Murphy decomposition computed over arrays (the statistics compute them
in SQL from per-bin sums), the final forecast before the close, and the crowd median at one
moment (the crowd median of `forecasts/scoring.py` is a step function over the whole window).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import numpy as np

from forecasts import scoring
from forecasts.scoring import ForecasterKey, TimedForecast

BinStrategy = Literal["uniform", "quantile"]


@dataclass(frozen=True)
class Bin:
    """One non-empty calibration bin and the Wilson 95% interval of its observed frequency."""

    lower: float
    upper: float
    count: int
    mean_forecast: float
    observed_frequency: float
    ci_low: float
    ci_high: float


@dataclass(frozen=True)
class Murphy:
    """Murphy decomposition of the Brier score with the two within-bin terms."""

    reliability: float
    resolution: float
    uncertainty: float
    within_bin_variance: float
    within_bin_covariance: float

    @property
    def brier(self) -> float:
        """The Brier score the parts add up to."""
        return (
            self.reliability
            - self.resolution
            + self.uncertainty
            + self.within_bin_variance
            - self.within_bin_covariance
        )


# Calibration ----------------------------------------------------------------------------------


def calibration_bins(
    probabilities: Sequence[float],
    outcomes: Sequence[int],
    bins: int = 10,
    strategy: BinStrategy = "uniform",
) -> list[Bin]:
    """Count, mean forecast, observed frequency and Wilson interval of every non-empty bin."""
    forecast, outcome = scoring.validated_arrays(probabilities, outcomes, allow_empty=True)
    if forecast.size == 0:
        return []
    indices, edges = assign_bins(forecast, bins, strategy)
    counts = np.bincount(indices, minlength=bins)
    forecast_sums = np.bincount(indices, weights=forecast, minlength=bins)
    outcome_sums = np.bincount(indices, weights=outcome, minlength=bins)
    result = []
    for index in np.flatnonzero(counts):
        count = int(counts[index])
        successes = round(outcome_sums[index])
        ci_low, ci_high = scoring.wilson_interval(successes, count)
        result.append(
            Bin(
                lower=edges[index],
                upper=edges[index + 1],
                count=count,
                mean_forecast=float(forecast_sums[index] / count),
                observed_frequency=float(outcome_sums[index] / count),
                ci_low=ci_low,
                ci_high=ci_high,
            )
        )
    return result


def murphy_decomposition(
    probabilities: Sequence[float],
    outcomes: Sequence[int],
    bins: int = 10,
    strategy: BinStrategy = "uniform",
) -> Murphy:
    """Brier = reliability - resolution + uncertainty + within-bin variance - covariance."""
    forecast, outcome = scoring.validated_arrays(probabilities, outcomes)
    indices, _ = assign_bins(forecast, bins, strategy)
    counts = np.bincount(indices, minlength=bins)
    occupied = np.maximum(counts, 1)  # empty bins have no forecasts to look them up
    bin_mean_forecast = np.bincount(indices, weights=forecast, minlength=bins) / occupied
    bin_frequency = np.bincount(indices, weights=outcome, minlength=bins) / occupied
    base_rate = float(np.mean(outcome))
    # Each forecast carries its bin's mean forecast f_k and observed frequency o_k.
    mean_forecast = bin_mean_forecast[indices]
    frequency = bin_frequency[indices]
    return Murphy(
        reliability=float(np.mean((mean_forecast - frequency) ** 2)),
        resolution=float(np.mean((frequency - base_rate) ** 2)),
        uncertainty=base_rate * (1.0 - base_rate),
        within_bin_variance=float(np.mean((forecast - mean_forecast) ** 2)),
        within_bin_covariance=float(2.0 * np.mean((forecast - mean_forecast) * (outcome - frequency))),
    )


# Over time --------------------------------------------------------------------------------------


def final_forecast_before(forecasts: Iterable[TimedForecast], closed_at: datetime) -> TimedForecast | None:
    """The last forecast made strictly before the close, the one that counts in calibration."""
    standing = scoring.forecasts_before(forecasts, closed_at)
    return standing[-1] if standing else None


def crowd_median_at(
    forecasts_by_forecaster: Mapping[ForecasterKey, Iterable[TimedForecast]], moment: datetime
) -> float | None:
    """The median of every forecaster's latest forecast made at or before ``moment``."""
    latest = [
        standing[-1][1]
        for forecasts in forecasts_by_forecaster.values()
        if (standing := scoring.forecasts_before(forecasts, moment, inclusive=True))
    ]
    return float(np.median(latest)) if latest else None


# Helpers --------------------------------------------------------------------------------------


def assign_bins(forecast: np.ndarray, bins: int, strategy: BinStrategy) -> tuple[np.ndarray, list[float]]:
    """Bin index of every forecast, and the bins + 1 edges."""
    scoring.check_bin_count(bins)
    if strategy == "uniform":
        return scoring.uniform_bin_indices(forecast, bins), [index / bins for index in range(bins + 1)]
    if strategy == "quantile":
        # Exactly as scikit-learn: edges at linearly interpolated percentiles, the outer two
        # being the smallest and largest forecast; repeated edges leave empty bins behind.
        edges = np.percentile(forecast, np.linspace(0, 1, bins + 1) * 100)
        indices = np.searchsorted(edges[1:-1], forecast, side="left")
        return indices, [float(edge) for edge in edges]
    raise ValueError(f"strategy must be 'uniform' or 'quantile', got {strategy!r}")


# Crowd aggregates (DESIGN section 12), written from the formulas with plain Python and scipy -----


def _logit(p: float) -> float:
    return math.log(p) - math.log1p(-p)


def _expit(x: float) -> float:
    return math.exp(x) / (1 + math.exp(x)) if x < 0 else 1 / (1 + math.exp(-x))


def recency_weighted_median_oracle(probabilities_oldest_first: Sequence[float], tolerance: float = 1e-9) -> float:
    """Walk the forecasts in ascending p, adding w_k = exp(sqrt(k) - sqrt(N)) of each one's age rank."""
    n = len(probabilities_oldest_first)
    weighted = sorted(
        (p, k, math.exp(math.sqrt(k) - math.sqrt(n))) for k, p in enumerate(probabilities_oldest_first, start=1)
    )
    total = math.fsum(w for _, _, w in weighted)
    running = 0.0
    for index, (p, _, w) in enumerate(weighted):
        running += w
        if running >= total / 2 - tolerance * total:
            if abs(running - total / 2) <= tolerance * total and index + 1 < n:
                return (p + weighted[index + 1][0]) / 2
            return p
    raise AssertionError("unreachable")


def crowd_aggregates_oracle(
    probabilities_oldest_first: Sequence[float], weights: Sequence[float], factor: float
) -> dict:
    """The five aggregates of DESIGN section 12, one by one."""
    logits = [_logit(p) for p in probabilities_oldest_first]
    mean = math.fsum(logits) / len(logits)
    return {
        "median": statistics.median(probabilities_oldest_first),
        "recency_weighted_median": recency_weighted_median_oracle(probabilities_oldest_first),
        "mean_log_odds": _expit(mean),
        "extremized": _expit(factor * mean),
        "performance_weighted": _expit(
            math.fsum(w * x for w, x in zip(weights, logits, strict=True)) / math.fsum(weights)
        ),
    }


def extremizing_factor_oracle(mean_logits: Sequence[float], outcomes: Sequence[int]) -> float:
    """scipy's bounded scalar minimiser of the negative log-likelihood on [0.5, 4]; 1 below 20 questions."""
    from scipy.optimize import minimize_scalar
    from scipy.special import expit

    if len(mean_logits) < 20:
        return 1.0
    x, y = np.asarray(mean_logits, dtype=float), np.asarray(outcomes, dtype=float)

    def negative_log_likelihood(a: float) -> float:
        p = np.clip(expit(a * x), 1e-300, 1 - 1e-16)
        return -float(np.sum(y * np.log(p) + (1 - y) * np.log(1 - p)))

    found = minimize_scalar(negative_log_likelihood, bounds=(0.5, 4.0), method="bounded", options={"xatol": 1e-10})
    return float(found.x)
