"""Scoring (DESIGN section 5): the design's test vectors, and properties checked with sklearn."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecasts.scoring import (
    brier,
    crowd_median_steps,
    crowd_relative_brier,
    log_loss,
    time_averaged_brier,
    uniform_bin_indices,
    wilson_interval,
)
from tests.design_vectors import MURPHY_VECTORS
from tests.oracles import Bin, calibration_bins, crowd_median_at, final_forecast_before, murphy_decomposition

EXACT = 1e-12
PROPERTY_SETTINGS = settings(max_examples=200, deadline=None)
OPENED = datetime(2022, 1, 14, tzinfo=UTC)


def day(number: float) -> datetime:
    return OPENED + timedelta(days=number)


# Strategies -----------------------------------------------------------------------------------

stored_probabilities = st.floats(min_value=0.001, max_value=0.999)
unit_probabilities = st.floats(min_value=0.0, max_value=1.0)


@st.composite
def scored_forecasts(draw, probabilities=unit_probabilities, min_size=1):
    """Equally long lists of probabilities and 0/1 outcomes."""
    forecast = draw(st.lists(probabilities, min_size=min_size, max_size=60))
    size = len(forecast)
    outcome = draw(st.lists(st.sampled_from([0, 1]), min_size=size, max_size=size))
    return forecast, outcome


def off_inner_edges(bins: int):
    """Probabilities not within a millionth of a bin width of an inner uniform edge."""

    def clear_of_edges(probability: float) -> bool:
        scaled = probability * bins
        nearest = round(scaled)
        return nearest in (0, bins) or abs(scaled - nearest) > 1e-6

    return unit_probabilities.filter(clear_of_edges)


@st.composite
def binned_forecasts(draw):
    """A bin count and forecasts that no float rounding could put on either side of an edge."""
    bins = draw(st.integers(min_value=1, max_value=30))
    forecast, outcome = draw(scored_forecasts(off_inner_edges(bins)))
    return bins, forecast, outcome


@st.composite
def decimal_forecasts_on_decimal_bins(draw):
    """Forecasts with at most four decimals (many exactly on edges) and 10, 20, 25... bins."""
    bins = draw(st.sampled_from([1, 2, 4, 5, 8, 10, 20, 25, 40, 50, 100]))
    tenths_of_a_percent = st.integers(min_value=0, max_value=10_000).map(lambda n: n / 10_000)
    forecast, outcome = draw(scored_forecasts(tenths_of_a_percent))
    return bins, forecast, outcome


timed_paths = st.lists(
    st.tuples(st.integers(min_value=0, max_value=60 * 24 * 30), stored_probabilities),
    min_size=1,
    max_size=15,
).map(lambda steps: [(OPENED + timedelta(minutes=minutes), p) for minutes, p in steps])


# Test vectors from DESIGN section 5 -----------------------------------------------------------


def test_brier_and_log_loss_vector():
    probabilities, outcomes = [0.9, 0.7, 0.2, 0.6], [1, 1, 0, 0]

    assert brier(probabilities, outcomes) == pytest.approx(0.125, abs=EXACT)
    assert log_loss(probabilities, outcomes) == pytest.approx(0.4003674357, abs=1e-10)


@pytest.mark.parametrize(("probabilities", "outcomes", "bins", "expected"), MURPHY_VECTORS)
def test_murphy_decomposition_vectors(probabilities, outcomes, bins, expected):
    parts = murphy_decomposition(probabilities, outcomes, bins=bins)

    assert brier(probabilities, outcomes) == pytest.approx(expected["brier"], abs=EXACT)
    for name in ("reliability", "resolution", "uncertainty", "within_bin_variance", "within_bin_covariance"):
        assert getattr(parts, name) == pytest.approx(expected[name], abs=EXACT), name
    assert parts.brier == pytest.approx(brier(probabilities, outcomes), abs=EXACT)


def test_calibration_bins_vector():
    probabilities = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    outcomes = [0, 0, 0, 1, 0, 1, 1, 1, 1, 1]

    found = calibration_bins(probabilities, outcomes, bins=5)

    assert [b.count for b in found] == [2, 2, 2, 2, 2]
    assert [b.observed_frequency for b in found] == pytest.approx([0, 0.5, 0.5, 1, 1], abs=EXACT)
    assert [b.mean_forecast for b in found] == pytest.approx([0.15, 0.35, 0.55, 0.75, 0.95], abs=EXACT)
    assert [b.lower for b in found] == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8], abs=EXACT)
    assert [b.upper for b in found] == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0], abs=EXACT)
    assert (found[1].ci_low, found[1].ci_high) == pytest.approx((0.094531, 0.905469), abs=1e-6)


@pytest.mark.parametrize(
    ("successes", "n", "expected"),
    [
        (1, 2, (0.094531, 0.905469)),
        (7, 10, (0.396778, 0.892209)),
        (0, 10, (0.0, 0.277533)),
    ],
)
def test_wilson_interval_vectors(successes, n, expected):
    assert wilson_interval(successes, n) == pytest.approx(expected, abs=1e-6)


def test_time_averaged_brier_vector():
    forecasts = [(day(0), 0.3), (day(5), 0.8)]

    result = time_averaged_brier(forecasts, outcome=1, closed_at=day(10))

    assert result.score == pytest.approx(0.265, abs=EXACT)
    assert (result.start, result.end) == (day(0), day(10))


# Point scores ---------------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(scored_forecasts())
def test_brier_equals_scikit_learn(data):
    from sklearn.metrics import brier_score_loss  # imported here: scikit-learn takes seconds to load

    probabilities, outcomes = data

    expected = brier_score_loss(outcomes, probabilities, labels=[0, 1])

    assert brier(probabilities, outcomes) == pytest.approx(expected, abs=EXACT)


@PROPERTY_SETTINGS
@given(scored_forecasts(stored_probabilities))
def test_log_loss_equals_scikit_learn(data):
    from sklearn.metrics import log_loss as sklearn_log_loss

    probabilities, outcomes = data

    expected = sklearn_log_loss(outcomes, probabilities, labels=[0, 1])

    assert log_loss(probabilities, outcomes) == pytest.approx(expected, abs=EXACT)


def test_log_loss_is_not_clipped():
    assert log_loss([0.0], [1]) == float("inf")
    assert log_loss([0.0, 1.0], [0, 1]) == 0.0


def test_outcomes_may_be_booleans():
    assert brier([0.9, 0.2], [True, False]) == pytest.approx(0.025, abs=EXACT)


@pytest.mark.parametrize(
    ("probabilities", "outcomes"),
    [([], []), ([0.5], [1, 0]), ([1.5], [1]), ([-0.1], [0]), ([float("nan")], [1]), ([0.5], [2])],
)
def test_point_scores_reject_bad_input(probabilities, outcomes):
    with pytest.raises(ValueError):
        brier(probabilities, outcomes)
    with pytest.raises(ValueError):
        log_loss(probabilities, outcomes)


# Wilson interval ------------------------------------------------------------------------------


def test_wilson_interval_ends_exactly_at_zero_and_one():
    assert wilson_interval(0, 10)[0] == 0.0
    assert wilson_interval(10, 10)[1] == 1.0
    assert wilson_interval(10, 10)[0] == pytest.approx(1 - 0.277533, abs=1e-6)


def test_wilson_interval_without_trials_is_uninformative():
    assert wilson_interval(0, 0) == (0.0, 1.0)


@pytest.mark.parametrize(("successes", "n"), [(-1, 5), (6, 5), (0, -1)])
def test_wilson_interval_rejects_impossible_counts(successes, n):
    with pytest.raises(ValueError):
        wilson_interval(successes, n)


@PROPERTY_SETTINGS
@given(st.data(), st.integers(min_value=1, max_value=10_000))
def test_wilson_interval_contains_the_observed_proportion(data, n):
    successes = data.draw(st.integers(min_value=0, max_value=n))

    low, high = wilson_interval(successes, n)

    assert 0.0 <= low <= successes / n <= high <= 1.0


# Calibration bins -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("probability", "lower", "upper"),
    [
        (0.0, 0.0, 0.1),
        (0.1, 0.0, 0.1),
        (0.15, 0.1, 0.2),
        (0.3, 0.2, 0.3),
        (0.1 * 3, 0.2, 0.3),  # 0.30000000000000004
        (0.7 - 0.4, 0.2, 0.3),  # 0.29999999999999993
        (0.35, 0.3, 0.4),
        (0.5, 0.4, 0.5),
        (0.6, 0.5, 0.6),
        (0.7, 0.6, 0.7),
        (0.999, 0.9, 1.0),
        (1.0, 0.9, 1.0),
    ],
)
def test_forecast_on_an_inner_edge_goes_to_the_lower_bin(probability, lower, upper):
    (found,) = calibration_bins([probability], [1])

    assert (found.lower, found.upper) == pytest.approx((lower, upper), abs=EXACT)
    assert found.count == 1


def test_bins_are_returned_in_order_and_only_when_non_empty():
    found = calibration_bins([0.95, 0.05, 0.51, 0.05], [1, 0, 1, 1])

    assert found == [
        Bin(0.0, 0.1, 2, 0.05, 0.5, *wilson_interval(1, 2)),
        Bin(0.5, 0.6, 1, 0.51, 1.0, *wilson_interval(1, 1)),
        Bin(0.9, 1.0, 1, 0.95, 1.0, *wilson_interval(1, 1)),
    ]


def test_no_forecasts_give_no_bins():
    assert calibration_bins([], []) == []


def test_unknown_strategy_is_rejected():
    with pytest.raises(ValueError):
        calibration_bins([0.5], [1], strategy="kmeans")


def _assert_bins_match_scikit_learn(probabilities, outcomes, bins, strategy):
    from sklearn.calibration import calibration_curve

    expected_frequency, expected_forecast = calibration_curve(
        outcomes, probabilities, n_bins=bins, strategy=strategy, pos_label=1
    )

    found = calibration_bins(probabilities, outcomes, bins=bins, strategy=strategy)

    assert [b.observed_frequency for b in found] == pytest.approx(expected_frequency, abs=EXACT)
    assert [b.mean_forecast for b in found] == pytest.approx(expected_forecast, abs=EXACT)
    assert sum(b.count for b in found) == len(probabilities)


@PROPERTY_SETTINGS
@given(binned_forecasts())
def test_uniform_bins_equal_scikit_learn_away_from_edges(data):
    bins, probabilities, outcomes = data

    _assert_bins_match_scikit_learn(probabilities, outcomes, bins, "uniform")


@PROPERTY_SETTINGS
@given(decimal_forecasts_on_decimal_bins())
def test_uniform_bins_equal_scikit_learn_for_decimal_forecasts_on_edges(data):
    bins, probabilities, outcomes = data

    _assert_bins_match_scikit_learn(probabilities, outcomes, bins, "uniform")


@pytest.mark.parametrize(
    ("probability", "bins", "our_bin", "scikit_learn_bin"),
    [
        (5 / 6, 6, 4, 5),  # float 5/6 is a hair above np.linspace(0, 1, 7)[5]
        (0.1 + 1e-12, 10, 0, 1),  # within our edge tolerance, above scikit-learn's float edge
    ],
)
def test_where_the_edge_rule_and_scikit_learn_floats_differ(probability, bins, our_bin, scikit_learn_bin):
    scikit_learn_edges = np.linspace(0.0, 1.0, bins + 1)[1:-1]

    assert uniform_bin_indices([probability], bins)[0] == our_bin
    assert np.searchsorted(scikit_learn_edges, probability) == scikit_learn_bin


@PROPERTY_SETTINGS
@given(st.integers(min_value=1, max_value=20), scored_forecasts())
def test_quantile_bins_equal_scikit_learn(bins, data):
    probabilities, outcomes = data

    _assert_bins_match_scikit_learn(probabilities, outcomes, bins, "quantile")


def test_quantile_bins_collapse_repeated_edges():
    probabilities = [0.2] * 8 + [0.9] * 2
    outcomes = [0] * 6 + [1] * 4

    found = calibration_bins(probabilities, outcomes, bins=4, strategy="quantile")

    # Edges are the 0/25/50/75/100th percentiles 0.2, 0.2, 0.2, 0.2, 0.9: three bins collapse.
    assert [(b.lower, b.upper, b.count) for b in found] == [(0.2, 0.2, 8), (0.2, 0.9, 2)]
    assert [b.observed_frequency for b in found] == pytest.approx([0.25, 1.0], abs=EXACT)


# Murphy decomposition -------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(
    scored_forecasts(),
    st.integers(min_value=1, max_value=30),
    st.sampled_from(["uniform", "quantile"]),
)
def test_murphy_parts_add_up_to_brier(data, bins, strategy):
    probabilities, outcomes = data

    parts = murphy_decomposition(probabilities, outcomes, bins=bins, strategy=strategy)

    assert parts.brier == pytest.approx(brier(probabilities, outcomes), abs=EXACT)
    assert parts.reliability >= 0 and parts.resolution >= 0 and parts.within_bin_variance >= 0


@PROPERTY_SETTINGS
@given(scored_forecasts(), st.integers(min_value=1, max_value=30))
def test_murphy_reliability_and_resolution_follow_the_calibration_bins(data, bins):
    probabilities, outcomes = data
    found = calibration_bins(probabilities, outcomes, bins=bins)
    count = len(probabilities)
    base_rate = sum(outcomes) / count

    parts = murphy_decomposition(probabilities, outcomes, bins=bins)

    reliability = sum(b.count * (b.mean_forecast - b.observed_frequency) ** 2 for b in found)
    resolution = sum(b.count * (b.observed_frequency - base_rate) ** 2 for b in found)
    assert parts.reliability == pytest.approx(reliability / count, abs=EXACT)
    assert parts.resolution == pytest.approx(resolution / count, abs=EXACT)
    assert parts.uncertainty == pytest.approx(base_rate * (1 - base_rate), abs=EXACT)


# Scores over time -----------------------------------------------------------------------------


def test_time_averaged_brier_sorts_forecasts_and_reports_coverage():
    forecasts = [(day(5), 0.8), (day(0), 0.3)]

    result = time_averaged_brier(forecasts, outcome=1, closed_at=day(10), opened_at=day(-10))

    assert result.score == pytest.approx(0.265, abs=EXACT)
    assert result.coverage == pytest.approx(0.5, abs=EXACT)


def test_time_averaged_brier_ignores_forecasts_from_the_close_on():
    forecasts = [(day(0), 0.3), (day(5), 0.8), (day(10), 0.0), (day(11), 0.0)]

    result = time_averaged_brier(forecasts, outcome=1, closed_at=day(10))

    assert result.score == pytest.approx(0.265, abs=EXACT)


def test_time_averaged_brier_is_none_without_a_forecast_before_the_close():
    assert time_averaged_brier([(day(10), 0.4)], outcome=0, closed_at=day(10)) is None
    assert time_averaged_brier([], outcome=0, closed_at=day(10)) is None


@pytest.mark.parametrize(
    ("opened_at", "coverage"),
    [(day(0), 1.0), (day(2), 1.0), (day(-30), 0.25), (day(10), None), (None, None)],
)
def test_coverage_is_clamped_and_optional(opened_at, coverage):
    result = time_averaged_brier([(day(0), 0.5)], outcome=0, closed_at=day(10), opened_at=opened_at)

    assert result.coverage == (None if coverage is None else pytest.approx(coverage, abs=EXACT))


def test_the_later_of_two_simultaneous_forecasts_stands():
    result = time_averaged_brier([(day(0), 0.9), (day(0), 0.2)], outcome=0, closed_at=day(1))

    assert result.score == pytest.approx(0.04, abs=EXACT)


@PROPERTY_SETTINGS
@given(timed_paths, st.sampled_from([0, 1]))
def test_constant_forecast_scores_its_plain_brier(path, outcome):
    probability = path[0][1]
    constant = [(made_at, probability) for made_at, _ in path]

    result = time_averaged_brier(constant, outcome=outcome, closed_at=day(31))

    assert result.score == pytest.approx((probability - outcome) ** 2, abs=EXACT)


def test_final_forecast_before_the_close():
    forecasts = [(day(3), 0.6), (day(1), 0.4), (day(10), 0.9)]

    assert final_forecast_before(forecasts, closed_at=day(10)) == (day(3), 0.6)
    assert final_forecast_before(forecasts, closed_at=day(1)) is None


# Crowd ----------------------------------------------------------------------------------------

# Alice: 0.2 from day 0, 0.6 from day 4. Bob: 0.8 from day 2. Closes day 10, resolved YES.
# Crowd median: 0.2 on [0, 2), 0.5 on [2, 4), 0.7 on [4, 10).
TWO_FORECASTERS = {
    "alice": [(day(4), 0.6), (day(0), 0.2)],
    "bob": [(day(2), 0.8)],
}


def test_crowd_median_steps_by_hand():
    steps = crowd_median_steps(TWO_FORECASTERS, closed_at=day(10))

    assert [(s.start, s.end, s.forecasters) for s in steps] == [
        (day(0), day(2), 1),
        (day(2), day(4), 2),
        (day(4), day(10), 2),
    ]
    assert [s.median for s in steps] == pytest.approx([0.2, 0.5, 0.7], abs=EXACT)


@pytest.mark.parametrize(
    ("moment", "median"),
    [(day(-1), None), (day(0), 0.2), (day(3), 0.5), (day(4), 0.7), (day(20), 0.7)],
)
def test_crowd_median_at_by_hand(moment, median):
    found = crowd_median_at(TWO_FORECASTERS, moment)

    assert found == (None if median is None else pytest.approx(median, abs=EXACT))


def test_crowd_median_of_an_odd_crowd_is_the_middle_forecast():
    crowd = {"a": [(day(0), 0.1)], "b": [(day(0), 0.9)], "c": [(day(1), 0.3)]}

    assert crowd_median_at(crowd, day(1)) == pytest.approx(0.3, abs=EXACT)
    assert [s.median for s in crowd_median_steps(crowd, day(2))] == pytest.approx([0.5, 0.3])


def test_crowd_relative_brier_by_hand():
    relative = crowd_relative_brier(TWO_FORECASTERS, outcome=1, closed_at=day(10))

    # Alice over [0, 10]: (0.64*4 + 0.16*6)/10 = 0.352; crowd (0.64*2 + 0.25*2 + 0.09*6)/10 = 0.232.
    # Bob over [2, 10]: 0.04; crowd (0.25*2 + 0.09*6)/8 = 0.13.
    assert relative["alice"] == pytest.approx(0.12, abs=EXACT)
    assert relative["bob"] == pytest.approx(-0.09, abs=EXACT)


def test_crowd_relative_brier_needs_two_forecasters():
    lonely = {"alice": [(day(0), 0.2)], "late": [(day(10), 0.9)], "silent": []}

    assert crowd_relative_brier(lonely, outcome=1, closed_at=day(10)) == {
        "alice": None,
        "late": None,
        "silent": None,
    }


def test_forecaster_without_a_forecast_before_the_close_has_no_relative_score():
    crowd = dict(TWO_FORECASTERS, late=[(day(10), 0.9)])

    relative = crowd_relative_brier(crowd, outcome=1, closed_at=day(10))

    assert relative["late"] is None
    assert relative["alice"] == pytest.approx(0.12, abs=EXACT)


@PROPERTY_SETTINGS
@given(timed_paths, st.integers(min_value=2, max_value=5), st.sampled_from([0, 1]))
def test_identical_forecasters_match_the_crowd(path, forecasters, outcome):
    crowd = {number: list(path) for number in range(forecasters)}

    relative = crowd_relative_brier(crowd, outcome=outcome, closed_at=day(31))

    assert relative == {number: pytest.approx(0.0, abs=EXACT) for number in range(forecasters)}


# Only the open span counts --------------------------------------------------------------------


def test_forecasts_made_before_the_opening_are_held_from_it():
    forecasts = [(day(-5), 0.9), (day(-3), 0.2), (day(5), 0.8)]

    result = time_averaged_brier(forecasts, outcome=1, closed_at=day(10), opened_at=day(0))

    # 0.2 (the later of the two early statements) over [0, 5], then 0.8 over [5, 10].
    assert result.score == pytest.approx((0.64 * 5 + 0.04 * 5) / 10, abs=EXACT)
    assert result.start == day(0)
    assert result.coverage == pytest.approx(1.0, abs=EXACT)


def test_an_early_speaker_is_compared_with_the_crowd_over_the_open_span_only():
    crowd = {"source": [(day(-20), 0.9)], "a": [(day(0), 0.5)], "b": [(day(0), 0.6)]}

    relative = crowd_relative_brier(crowd, outcome=0, closed_at=day(10), opened_at=day(0))
    from_own_dates = crowd_relative_brier(crowd, outcome=0, closed_at=day(10))

    # Crowd median 0.6 on [0, 10]: the source's 0.81 against 0.36.
    assert relative["source"] == pytest.approx(0.45, abs=EXACT)
    # Counted from its own date, 20 of 30 days compare the source with a crowd of itself.
    assert from_own_dates["source"] == pytest.approx((0.81 * 30 - (0.81 * 20 + 0.36 * 10)) / 30, abs=EXACT)


def test_without_an_open_span_forecasts_keep_their_own_dates():
    forecasts = [(day(0), 0.5)]

    assert time_averaged_brier(forecasts, outcome=0, closed_at=day(10), opened_at=day(12)).start == day(0)
