"""Scoring of binary questions (DESIGN section 5) and of question groups (section 13): pure functions over sequences, no database.

Probabilities are chances of YES in [0, 1]; outcomes are 1 (yes) or 0 (no). A timed forecast is
a pair ``(made_at, probability)`` with an aware datetime.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

import numpy as np

WILSON_Z_95 = 1.959963984540054  # the 97.5% quantile of the standard normal distribution

TimedForecast = tuple[datetime, float]
ForecasterKey = TypeVar("ForecasterKey", bound=Hashable)

# In units of bin width: far wider than floating point noise, far narrower than any real forecast
# step (probabilities are stored to a few decimal places).
_EDGE_TOLERANCE = 1e-9
_ONE_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class TimeAveraged:
    """A time-averaged Brier score over ``[start, end]`` and the share of the open span covered."""

    score: float
    start: datetime
    end: datetime
    coverage: float | None


@dataclass(frozen=True)
class CrowdStep:
    """The crowd's median forecast over ``[start, end)`` and how many forecasters stood."""

    start: datetime
    end: datetime
    median: float
    forecasters: int


# Point scores ---------------------------------------------------------------------------------


def brier(probabilities: Sequence[float], outcomes: Sequence[int]) -> float:
    """Mean squared difference between forecast and outcome: 0 is perfect, 1 the worst."""
    forecast, outcome = validated_arrays(probabilities, outcomes)
    return float(np.mean((forecast - outcome) ** 2))


def log_loss(probabilities: Sequence[float], outcomes: Sequence[int]) -> float:
    """Mean negative natural log of the probability given to what happened (no clipping)."""
    forecast, outcome = validated_arrays(probabilities, outcomes)
    with np.errstate(divide="ignore"):
        probability_of_outcome = np.where(outcome == 1, forecast, 1.0 - forecast)
        return float(-np.mean(np.log(probability_of_outcome)))


def wilson_interval(successes: int, n: int, z: float = WILSON_Z_95) -> tuple[float, float]:
    """Wilson score interval of a proportion; (0.0, 1.0) when there are no trials."""
    if n < 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n, got {successes} of {n}")
    if n == 0:
        return 0.0, 1.0
    proportion = successes / n
    z_squared = z * z
    denominator = 1.0 + z_squared / n
    centre = (proportion + z_squared / (2 * n)) / denominator
    half_width = z * math.sqrt(proportion * (1 - proportion) / n + z_squared / (4 * n * n)) / denominator
    low = 0.0 if successes == 0 else max(0.0, centre - half_width)
    high = 1.0 if successes == n else min(1.0, centre + half_width)
    return low, high


# Calibration ----------------------------------------------------------------------------------


def uniform_bin_indices(probabilities: Sequence[float], bins: int = 10) -> np.ndarray:
    """Index of each forecast's equal-width bin; a forecast on an inner edge is in the lower bin.

    A forecast within a billionth of a bin width of an edge counts as on it, so floating point
    noise cannot move it: 0.3, 3 * 0.1 and 0.7 - 0.4 all land in [0.2, 0.3] with 10 bins.
    """
    check_bin_count(bins)
    scaled = np.asarray(probabilities, dtype=float) * bins
    nearest_edge = np.rint(scaled)
    scaled = np.where(np.abs(scaled - nearest_edge) <= _EDGE_TOLERANCE, nearest_edge, scaled)
    return np.clip(np.ceil(scaled).astype(np.int64) - 1, 0, bins - 1)


# Scores over time -----------------------------------------------------------------------------


def time_averaged_brier(
    forecasts: Iterable[TimedForecast],
    outcome: int,
    closed_at: datetime,
    opened_at: datetime | None = None,
) -> TimeAveraged | None:
    """Brier of each forecast weighted by how long it stood, from the first forecast to close.

    Only the open span counts: a forecast made before ``opened_at`` is held from ``opened_at``.
    Forecasts made at or after the close are ignored, so the span is never empty; None when
    nothing was forecast before the close. Coverage is the span over the question's open span
    ``[opened_at, closed_at]``, in [0, 1]; None without ``opened_at`` or an open span (then each
    forecast counts from its own date).
    """
    _check_outcome(outcome)
    standing = held_from_opening(forecasts_before(forecasts, closed_at), opened_at, closed_at)
    if not standing:
        return None
    start = standing[0][0]
    made_at = [moment for moment, _ in standing]
    held_until = [*made_at[1:], closed_at]
    held_for = np.array(
        [(until - since) // _ONE_MICROSECOND for since, until in zip(made_at, held_until, strict=False)]
    )
    forecast = np.array([probability for _, probability in standing], dtype=float)
    _check_probabilities(forecast)
    score = float(np.sum(held_for * (forecast - outcome) ** 2) / np.sum(held_for))
    coverage = None
    if opened_at is not None and opened_at < closed_at:
        coverage = min(1.0, max(0.0, (closed_at - start) / (closed_at - opened_at)))
    return TimeAveraged(score=score, start=start, end=closed_at, coverage=coverage)


def crowd_median_steps(
    forecasts_by_forecaster: Mapping[ForecasterKey, Iterable[TimedForecast]], closed_at: datetime
) -> list[CrowdStep]:
    """The crowd forecast as a step function: the median of the standing forecasts until close.

    A forecaster stands from their first forecast on, with their latest forecast; with an even
    number standing the median is the mean of the middle two.
    """
    standing_by_forecaster = [forecasts_before(forecasts, closed_at) for forecasts in forecasts_by_forecaster.values()]
    # Sorting by (time, forecaster, position) keeps each forecaster's own order at a tie, so
    # the later of two simultaneous forecasts is the one left standing.
    changes = sorted(
        (made_at, forecaster, position, probability)
        for forecaster, standing in enumerate(standing_by_forecaster)
        for position, (made_at, probability) in enumerate(standing)
    )
    current: dict[int, float] = {}  # forecaster -> standing probability, once they have forecast
    steps: list[CrowdStep] = []
    for change, (made_at, forecaster, _, probability) in enumerate(changes):
        current[forecaster] = probability
        next_change = changes[change + 1][0] if change + 1 < len(changes) else closed_at
        if next_change == made_at:
            continue
        # statistics.median: the middle value, or the mean of the middle two as (a + b) / 2, the
        # same number numpy's median gives, at a thirtieth of the cost on a crowd of this size.
        steps.append(
            CrowdStep(
                start=made_at,
                end=next_change,
                median=float(statistics.median(current.values())),
                forecasters=len(current),
            )
        )
    return steps


def crowd_relative_brier(
    forecasts_by_forecaster: Mapping[ForecasterKey, Iterable[TimedForecast]],
    outcome: int,
    closed_at: datetime,
    opened_at: datetime | None = None,
) -> dict[ForecasterKey, float | None]:
    """Each forecaster's time-averaged Brier minus the crowd median's over the same span.

    Negative is better than the crowd. None for a forecaster with nothing before the close, and
    for everyone when fewer than two forecasters forecast before the close. Forecasts made before
    ``opened_at`` are held from it, for the forecaster and the crowd alike: before the opening an
    early speaker would otherwise be compared with a crowd of itself.
    """
    _check_outcome(outcome)
    standing_by_forecaster = {
        key: held_from_opening(forecasts_before(forecasts, closed_at), opened_at, closed_at)
        for key, forecasts in forecasts_by_forecaster.items()
    }
    if sum(1 for standing in standing_by_forecaster.values() if standing) < 2:
        return dict.fromkeys(standing_by_forecaster)
    crowd = [(step.start, step.median) for step in crowd_median_steps(standing_by_forecaster, closed_at)]
    relative: dict[ForecasterKey, float | None] = {}
    for key, standing in standing_by_forecaster.items():
        own = time_averaged_brier(standing, outcome, closed_at)
        if own is None:
            relative[key] = None
            continue
        # Every forecaster's first forecast starts a crowd step, so the spans match exactly.
        crowd_over_span = [(start, median) for start, median in crowd if start >= own.start]
        relative[key] = own.score - time_averaged_brier(crowd_over_span, outcome, closed_at).score
    return relative


# Question groups (DESIGN section 13) ------------------------------------------------------------

# How far the crowd's raw member medians may stray from their coherent version before a page says so.
INCOHERENCE_THRESHOLD = 0.05


def isotonic_non_decreasing(values: Sequence[float], weights: Sequence[float] | None = None) -> list[float]:
    """The non-decreasing sequence nearest to ``values`` in weighted least squares (pool adjacent violators).

    Each run of values that decreases is pooled into its weighted mean, and pooling repeats
    backwards while the new block sits below the one before it.
    """
    values = [float(value) for value in values]
    weights = [1.0] * len(values) if weights is None else [float(weight) for weight in weights]
    if len(weights) != len(values):
        raise ValueError(f"{len(values)} values but {len(weights)} weights")
    if any(weight <= 0 for weight in weights):
        raise ValueError("weights must be positive")
    blocks: list[list[float]] = []  # [weighted mean, total weight, length]
    for value, weight in zip(values, weights, strict=True):
        blocks.append([value, weight, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            mean, total, length = blocks.pop()
            previous = blocks[-1]
            combined = previous[1] + total
            previous[0] = (previous[0] * previous[1] + mean * total) / combined
            previous[1] = combined
            previous[2] += length
    return [mean for mean, _, length in blocks for _ in range(length)]


def normalised(values: Sequence[float]) -> list[float]:
    """``values`` scaled to sum to 1; all equal when they sum to nothing."""
    values = [float(value) for value in values]
    if not values:
        return []
    total = sum(values)
    if total <= 0:
        return [1.0 / len(values)] * len(values)
    return [value / total for value in values]


def coherent_distribution(kind: str, values: Sequence[float | None]) -> list[float | None]:
    """A group's member probabilities made coherent: isotonic for ``when``, normalised for ``which``.

    Members without a value (no forecast yet) are left out and stay None.
    """
    known = [index for index, value in enumerate(values) if value is not None]
    present = [values[index] for index in known]
    fixed = isotonic_non_decreasing(present) if kind == "when" else normalised(present)
    result: list[float | None] = [None] * len(values)
    for index, value in zip(known, fixed, strict=True):
        result[index] = value
    return result


def ranked_probability_score(cumulative: Sequence[float], outcomes: Sequence[int]) -> float:
    """RPS over a ``when`` ladder: (1/M) sum_k (F_k - O_k)^2, F_k = P(by d_k), O_k = 1 if it happened by d_k."""
    forecast, outcome = validated_arrays(cumulative, outcomes)
    if np.any(np.diff(outcome) < 0):
        raise ValueError("a ladder's outcomes must be non-decreasing")
    return float(np.mean((forecast - outcome) ** 2))


def multiclass_brier(probabilities: Sequence[float], winner: int) -> float:
    """Sum over the options of (p_i - o_i)^2, o the winner's indicator: 0 is perfect, 2 the worst."""
    forecast = options_with_winner(probabilities, winner)
    outcome = np.zeros_like(forecast)
    outcome[winner] = 1.0
    return float(np.sum((forecast - outcome) ** 2))


def multiclass_log_score(probabilities: Sequence[float], winner: int) -> float:
    """-ln of the probability given to the winning option (no clipping: 0 gives infinity)."""
    forecast = options_with_winner(probabilities, winner)
    with np.errstate(divide="ignore"):
        return float(-np.log(forecast[winner]))


# Helpers --------------------------------------------------------------------------------------


def validated_arrays(
    probabilities: Sequence[float], outcomes: Sequence[int], *, allow_empty: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    forecast = np.asarray(probabilities, dtype=float).reshape(-1)
    outcome = np.asarray(outcomes, dtype=float).reshape(-1)
    if forecast.shape != outcome.shape:
        raise ValueError(f"{forecast.size} probabilities but {outcome.size} outcomes")
    if forecast.size == 0 and not allow_empty:
        raise ValueError("nothing to score")
    _check_probabilities(forecast)
    if not np.all((outcome == 0) | (outcome == 1)):
        raise ValueError("outcomes must be 0 or 1")
    return forecast, outcome


def options_with_winner(probabilities: Sequence[float], winner: int) -> np.ndarray:
    """The options' probabilities as an array, checked, with `winner` one of their indices."""
    forecast = np.asarray(probabilities, dtype=float).reshape(-1)
    _check_probabilities(forecast)
    if not 0 <= winner < forecast.size:
        raise ValueError(f"winner {winner} is not one of {forecast.size} options")
    return forecast


def _check_probabilities(forecast: np.ndarray) -> None:
    if not np.all((forecast >= 0.0) & (forecast <= 1.0)):
        raise ValueError("probabilities must lie in [0, 1]")


def _check_outcome(outcome: int) -> None:
    if outcome not in (0, 1):
        raise ValueError(f"outcome must be 0 or 1, got {outcome!r}")


def check_bin_count(bins: int) -> None:
    if int(bins) != bins or bins < 1:
        raise ValueError(f"bins must be a positive integer, got {bins!r}")


def held_from_opening(
    standing: list[TimedForecast], opened_at: datetime | None, closed_at: datetime
) -> list[TimedForecast]:
    """Sorted forecasts with every one made before ``opened_at`` moved to it; the order is kept.

    Several moved forecasts then share the opening and only the latest of them stands. Without an
    opening before the close there is no open span to hold them in: they keep their own dates.
    """
    if opened_at is None or opened_at >= closed_at:
        return standing
    return [(max(made_at, opened_at), probability) for made_at, probability in standing]


def forecasts_before(
    forecasts: Iterable[TimedForecast], moment: datetime, *, inclusive: bool = False
) -> list[TimedForecast]:
    """Forecasts made before ``moment``, oldest first; simultaneous ones keep their input order."""
    return sorted(
        (
            (made_at, float(probability))
            for made_at, probability in forecasts
            if made_at < moment or (inclusive and made_at == moment)
        ),
        key=lambda forecast: forecast[0],
    )
