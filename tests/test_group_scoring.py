"""The group scores and the coherence of `forecasts/scoring.py` against independent code on random data.

The oracles here share nothing with the implementation: RPS from the option probabilities of each
interval (the textbook form, cumulating both sides), the multiclass Brier as a sum over one-hot
outcomes, the log score with `math.log`, and isotonic regression from scikit-learn (a test
dependency only: Forewarn itself runs its own pool-adjacent-violators).
"""

import itertools
import math
import random

import numpy as np
import pytest
from sklearn.isotonic import IsotonicRegression

from forecasts import scoring

SEEDS = range(200)


def rps_from_interval_probabilities(masses: list[float], occurred_in: int, members: int) -> float:
    """RPS in its textbook form over M+1 categories (the M windows and 'not by the last end'),
    divided by M: the cumulative sums on both sides, the last (always 1 = 1) left out."""
    outcome = [1.0 if index == occurred_in else 0.0 for index in range(members + 1)]
    total = 0.0
    for k in range(members):
        total += (sum(masses[: k + 1]) - sum(outcome[: k + 1])) ** 2
    return total / members


@pytest.mark.parametrize("seed", SEEDS)
def test_rps_matches_the_textbook_form_and_the_mean_member_brier(seed):
    generator = random.Random(seed)
    members = generator.randint(2, 12)
    masses = [generator.random() for _ in range(members + 1)]
    masses = [mass / sum(masses) for mass in masses]
    cumulative = [min(1.0, sum(masses[: k + 1])) for k in range(members)]
    occurred_in = generator.randint(0, members)  # `members`: not by the last end
    outcomes = [1 if k >= occurred_in else 0 for k in range(members)]
    rps = scoring.ranked_probability_score(cumulative, outcomes)
    assert rps == pytest.approx(rps_from_interval_probabilities(masses, occurred_in, members), abs=1e-12)
    member_briers = [
        scoring.brier([forecast], [outcome]) for forecast, outcome in zip(cumulative, outcomes, strict=True)
    ]
    assert rps == pytest.approx(sum(member_briers) / members, abs=1e-12)


def test_rps_refuses_an_incoherent_outcome_ladder():
    with pytest.raises(ValueError):
        scoring.ranked_probability_score([0.2, 0.5], [1, 0])


@pytest.mark.parametrize("seed", SEEDS)
def test_multiclass_brier_and_log_score_match_independent_code(seed):
    generator = random.Random(seed)
    options = generator.randint(2, 10)
    weights = [generator.random() + 1e-3 for _ in range(options)]
    probabilities = [weight / sum(weights) for weight in weights]
    winner = generator.randrange(options)
    expected_brier = sum((p - (1.0 if index == winner else 0.0)) ** 2 for index, p in enumerate(probabilities))
    assert scoring.multiclass_brier(probabilities, winner) == pytest.approx(expected_brier, abs=1e-12)
    assert 0 <= scoring.multiclass_brier(probabilities, winner) <= 2
    assert scoring.multiclass_log_score(probabilities, winner) == pytest.approx(-math.log(probabilities[winner]))


def test_multiclass_extremes():
    assert scoring.multiclass_brier([0, 1, 0], 1) == 0
    assert scoring.multiclass_brier([1, 0, 0], 1) == 2
    assert scoring.multiclass_log_score([0, 1], 0) == math.inf
    with pytest.raises(ValueError):
        scoring.multiclass_brier([0.5, 0.5], 2)


@pytest.mark.parametrize("seed", SEEDS)
def test_pool_adjacent_violators_matches_scikit_learn(seed):
    generator = np.random.default_rng(seed)
    size = int(generator.integers(1, 30))
    values = generator.random(size)
    weights = generator.random(size) + 0.1
    expected = IsotonicRegression(increasing=True).fit_transform(np.arange(size), values, sample_weight=weights)
    assert scoring.isotonic_non_decreasing(values, weights) == pytest.approx(list(expected), abs=1e-12)
    unweighted = IsotonicRegression(increasing=True).fit_transform(np.arange(size), values)
    fitted = scoring.isotonic_non_decreasing(values)
    assert fitted == pytest.approx(list(unweighted), abs=1e-12)
    assert all(b >= a for a, b in itertools.pairwise(fitted))


def test_isotonic_known_vectors():
    assert scoring.isotonic_non_decreasing([0.2, 0.6, 0.4]) == pytest.approx([0.2, 0.5, 0.5])
    assert scoring.isotonic_non_decreasing([0.9, 0.5, 0.1]) == pytest.approx([0.5, 0.5, 0.5])
    assert scoring.isotonic_non_decreasing([0.1, 0.3, 0.3]) == [0.1, 0.3, 0.3]
    assert scoring.isotonic_non_decreasing([]) == []


def test_normalised():
    assert scoring.normalised([2, 1, 1]) == [0.5, 0.25, 0.25]
    assert scoring.normalised([0, 0]) == [0.5, 0.5]
