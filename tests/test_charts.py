"""Every chart the pages embed draws an SVG (a chart that returned nothing showed as a broken image)."""

import pytest

from forecasts import charts

COMPARISON = {
    "questions": 3,
    "methods": [{"label": "Median", "n": 3, "brier": 0.12, "brier_ci": (0.05, 0.2)}],
    "best_forecaster": {"n": 2, "brier": 0.08, "brier_ci": (0.02, 0.15)},
}


def is_svg(drawn) -> bool:
    return isinstance(drawn, bytes) and b"<svg" in drawn and drawn.rstrip().endswith(b"</svg>")


@pytest.mark.parametrize("comparison", [COMPARISON, {"questions": 0, "methods": [], "best_forecaster": None}])
def test_the_aggregate_comparison_chart_is_an_svg(comparison):
    assert is_svg(charts.aggregate_comparison_chart_svg(comparison, subject="everyone you can see"))


@pytest.mark.parametrize(
    ("kind", "coherent"), [("when", [0.2, 0.5, 0.9]), ("which", [0.2, 0.3, 0.5]), ("when", [None, None, None])]
)
def test_the_group_distribution_chart_is_an_svg(kind, coherent):
    drawn = charts.group_distribution_chart_svg(
        kind=kind, labels=["one", "two", "three"], raw=[0.2, None, 0.95], coherent=coherent, subject="the crowd"
    )
    assert is_svg(drawn)
