"""Paths of the statistics API, mounted under /api/ (config/urls.py)."""

from django.urls import path

from forecasts import api_stats

urlpatterns = [
    path("stats/calibration/", api_stats.CalibrationApi.as_view(), name="stats-calibration"),
    path("stats/calibration.svg", api_stats.CalibrationChartApi.as_view(), name="stats-calibration-chart"),
    path("stats/leaderboard/", api_stats.LeaderboardApi.as_view(), name="stats-leaderboard"),
    path("stats/phrases/", api_stats.PhraseCalibrationApi.as_view(), name="stats-phrases"),
    path("stats/brier-over-time.svg", api_stats.BrierOverTimeChartApi.as_view(), name="stats-brier-over-time-chart"),
]
