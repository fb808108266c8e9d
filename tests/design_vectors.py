"""The Murphy decomposition test vectors of DESIGN section 5 (computed with scikit-learn)."""

import pytest

MURPHY_VECTORS = [
    pytest.param(
        [0.2] * 5 + [0.8] * 5,
        [0, 0, 0, 0, 1, 1, 1, 1, 0, 0],
        10,
        {
            "brier": 0.22,
            "reliability": 0.02,
            "resolution": 0.04,
            "uncertainty": 0.24,
            "within_bin_variance": 0.0,
            "within_bin_covariance": 0.0,
        },
        id="murphy-10-bins",
    ),
    pytest.param(
        [0.1, 0.3, 0.6, 0.8],
        [0, 1, 1, 1],
        2,
        {
            "brier": 0.175,
            "reliability": 0.09,
            "resolution": 0.0625,
            "uncertainty": 0.1875,
            "within_bin_variance": 0.01,
            "within_bin_covariance": 0.05,
        },
        id="murphy-2-bins",
    ),
]
