"""Crowd aggregates (DESIGN section 12): pure functions over one question's standing forecasts.

The standing forecasts ``p_1..p_N`` are each author's latest, ordered by the time each was made
(oldest first); logit(p) = ln(p / (1 - p)). The database maintains the same numbers in SQL
(forecasts/services/crowd.py); these functions are what the at-close aggregates are computed with
and what the SQL is tested against. No database here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

METHODS = ("median", "recency_weighted_median", "mean_log_odds", "extremized", "performance_weighted")
METHOD_LABELS = {
    "median": "Median",
    "recency_weighted_median": "Recency-weighted median",
    "mean_log_odds": "Mean log-odds",
    "extremized": "Extremized mean log-odds",
    "performance_weighted": "Performance-weighted log-odds",
}

FACTOR_MIN = 0.5
FACTOR_MAX = 4.0
FACTOR_MIN_QUESTIONS = 20  # below this many earlier questions the factor stays 1
WEIGHT_MIN_QUESTIONS = 5  # authors with fewer scored questions get the default weight
WEIGHT_BRIER_OFFSET = 0.05
DEFAULT_WEIGHT = 1 / 0.30
# A cumulative weight within this share of the total of exactly half counts as exactly half, so
# summation order (SQL's or numpy's) cannot change which branch the weighted median takes.
HALF_TOLERANCE = 1e-9
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 20140101


def logit(probability: float) -> float:
    """ln(p / (1 - p))."""
    return math.log(probability / (1.0 - probability))


def inverse_logit(value: float) -> float:
    """1 / (1 + e^-x), the probability whose log-odds is x."""
    return 1.0 / (1.0 + math.exp(-value))


def _checked(probabilities: Sequence[float]) -> np.ndarray:
    values = np.asarray(probabilities, dtype=float).reshape(-1)
    if values.size == 0:
        raise ValueError("no standing forecasts")
    if not np.all((values > 0.0) & (values < 1.0)):
        raise ValueError("probabilities must lie strictly between 0 and 1")
    return values


def median(probabilities: Sequence[float]) -> float:
    """The median of the standing forecasts; the mean of the middle two for an even count."""
    ordered = sorted(float(value) for value in _checked(probabilities))
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def recency_weights(count: int) -> np.ndarray:
    """w_k = exp(sqrt(k) - sqrt(N)) for the k-th oldest of N forecasts (k from 1)."""
    positions = np.arange(1, count + 1, dtype=float)
    return np.exp(np.sqrt(positions) - math.sqrt(count))


def recency_weighted_median(probabilities_oldest_first: Sequence[float]) -> float:
    """The smallest p at which the cumulative recency weight reaches half the total (ascending p);
    exactly on half, the mean of that p and the next."""
    values = _checked(probabilities_oldest_first)
    weights = recency_weights(values.size)
    order = np.argsort(values, kind="stable")
    ordered, cumulative = values[order], np.cumsum(weights[order])
    total = cumulative[-1]
    half, tolerance = total / 2, HALF_TOLERANCE * total
    index = int(np.argmax(cumulative >= half - tolerance))
    if abs(cumulative[index] - half) <= tolerance and index + 1 < ordered.size:
        return float((ordered[index] + ordered[index + 1]) / 2)
    return float(ordered[index])


def mean_logit(probabilities: Sequence[float]) -> float:
    """The mean of logit(p_i)."""
    values = _checked(probabilities)
    return float(np.mean(np.log(values / (1.0 - values))))


def mean_log_odds(probabilities: Sequence[float]) -> float:
    """inverse-logit of the mean log-odds."""
    return inverse_logit(mean_logit(probabilities))


def extremized(probabilities: Sequence[float], factor: float) -> float:
    """inverse-logit of factor times the mean log-odds."""
    return inverse_logit(factor * mean_logit(probabilities))


def performance_weight(mean_brier: float | None, scored_questions: int) -> float:
    """1 / (0.05 + the author's mean Brier); 1 / 0.30 with fewer than 5 scored questions."""
    if mean_brier is None or scored_questions < WEIGHT_MIN_QUESTIONS:
        return DEFAULT_WEIGHT
    return 1.0 / (WEIGHT_BRIER_OFFSET + mean_brier)


def performance_weighted(probabilities: Sequence[float], weights: Sequence[float]) -> float:
    """inverse-logit of sum(w_i logit p_i) / sum(w_i)."""
    values = _checked(probabilities)
    weight = np.asarray(weights, dtype=float).reshape(-1)
    if weight.shape != values.shape or not np.all(weight > 0):
        raise ValueError("one positive weight per forecast")
    return inverse_logit(float(np.sum(weight * np.log(values / (1.0 - values))) / np.sum(weight)))


def aggregates(probabilities_oldest_first: Sequence[float], weights: Sequence[float], factor: float) -> dict:
    """All five aggregates of one question's standing forecasts, by method name."""
    return {
        "median": median(probabilities_oldest_first),
        "recency_weighted_median": recency_weighted_median(probabilities_oldest_first),
        "mean_log_odds": mean_log_odds(probabilities_oldest_first),
        "extremized": extremized(probabilities_oldest_first, factor),
        "performance_weighted": performance_weighted(probabilities_oldest_first, weights),
    }


# The extremizing factor -----------------------------------------------------------------------


def extremizing_slope(factor: float, mean_logits: np.ndarray, outcomes: np.ndarray) -> tuple[float, float]:
    """The log-likelihood's first and second derivatives in the factor: sum x (y - s), -sum x^2 s (1 - s),
    with s = inverse-logit(factor * x)."""
    chance = 0.5 * (1.0 + np.tanh(0.5 * factor * mean_logits))  # inverse-logit without overflow
    return float(np.sum(mean_logits * (outcomes - chance))), -float(np.sum(mean_logits**2 * chance * (1.0 - chance)))


def extremizing_factor_fit(mean_logits: Sequence[float], outcomes: Sequence[int]) -> float:
    """The factor in [0.5, 4] maximising the log-likelihood; 1.0 with fewer than 20 questions.

    The log-likelihood is concave in the factor, so its slope falls as the factor grows: a slope
    still rising at 4 puts the maximum at 4, one already falling at 0.5 puts it at 0.5, and
    otherwise Newton's method on the slope, kept inside a bracket that bisection narrows when a
    step would leave it, finds the root in a handful of passes over the questions.
    """
    x = np.asarray(mean_logits, dtype=float).reshape(-1)
    y = np.asarray(outcomes, dtype=float).reshape(-1)
    if x.shape != y.shape:
        raise ValueError(f"{x.size} mean log-odds but {y.size} outcomes")
    if x.size < FACTOR_MIN_QUESTIONS:
        return 1.0
    low, high = FACTOR_MIN, FACTOR_MAX
    if extremizing_slope(low, x, y)[0] <= 0:
        return FACTOR_MIN
    if extremizing_slope(high, x, y)[0] >= 0:
        return FACTOR_MAX
    factor = 1.0
    for _ in range(100):
        slope, curvature = extremizing_slope(factor, x, y)
        if slope > 0:
            low = factor
        else:
            high = factor
        step = factor - slope / curvature if curvature < 0 else None
        next_factor = step if step is not None and low < step < high else (low + high) / 2
        if abs(next_factor - factor) <= 1e-12 or high - low <= 1e-12:
            return next_factor
        factor = next_factor
    return factor


# Comparing methods ----------------------------------------------------------------------------


def bootstrap_interval(
    losses: Sequence[float], *, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED
) -> tuple[float, float]:
    """95% percentile interval of the mean loss, resampling questions with a fixed seed."""
    values = np.asarray(losses, dtype=float).reshape(-1)
    if values.size == 0:
        raise ValueError("nothing to resample")
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, values.size, size=(resamples, values.size))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


def bootstrap_intervals(
    series: Sequence[Sequence[float]], *, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED
) -> list[tuple[float, float]]:
    """`bootstrap_interval` of each series, equal to calling it on each: series of one length share
    one draw of resampled questions (the same seed draws the same indices), drawn once."""
    arrays = [np.asarray(values, dtype=float).reshape(-1) for values in series]
    indices: dict[int, np.ndarray] = {}
    intervals = []
    for values in arrays:
        if values.size == 0:
            raise ValueError("nothing to resample")
        if values.size not in indices:
            indices[values.size] = np.random.default_rng(seed).integers(0, values.size, size=(resamples, values.size))
        means = values[indices[values.size]].mean(axis=1)
        low, high = np.percentile(means, [2.5, 97.5])
        intervals.append((float(low), float(high)))
    return intervals


def brier_on_both_scales(brier: float | None) -> str:
    """'0.125 (0.250 on the 0-2 scale)': Forewarn's Brier is on the 0-1 scale."""
    if brier is None:
        return "-"
    return f"{brier:.3f} ({2 * brier:.3f} on the 0-2 scale)"
