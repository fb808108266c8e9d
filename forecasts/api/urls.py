"""The API's paths: fixed by contract, so dashboards and generated clients keep working."""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from forecasts.api import intake, stats, views
from forecasts.api.exceptions import api_not_found
from forecasts.api.health import HealthView

app_name = "api"

urlpatterns = [
    path("auth/token/", views.TokenView.as_view(), name="token"),
    path("questions/", views.QuestionListView.as_view(), name="question-list"),
    path("questions/<int:pk>/", views.QuestionDetailView.as_view(), name="question-detail"),
    path("questions/<int:pk>/forecasts/", views.QuestionForecastsView.as_view(), name="question-forecasts"),
    path("questions/<int:pk>/resolve/", views.QuestionResolveView.as_view(), name="question-resolve"),
    path("questions/<int:pk>/unresolve/", views.QuestionUnresolveView.as_view(), name="question-unresolve"),
    path("questions/<int:pk>/history/", views.QuestionHistoryView.as_view(), name="question-history"),
    path("groups/", views.GroupListView.as_view(), name="group-list"),
    path("groups/<int:pk>/", views.GroupDetailView.as_view(), name="group-detail"),
    path("groups/<int:pk>/forecasts/", views.GroupForecastsView.as_view(), name="group-forecasts"),
    path("groups/<int:pk>/resolve/", views.GroupResolveView.as_view(), name="group-resolve"),
    path("groups/<int:pk>/unresolve/", views.GroupUnresolveView.as_view(), name="group-unresolve"),
    path("groups/<int:pk>/scores/", views.GroupScoresView.as_view(), name="group-scores"),
    path("questions/<int:pk>/chart.svg", views.QuestionChartView.as_view(), name="question-chart"),
    path("questions/<int:pk>/scores/", views.QuestionScoresView.as_view(), name="question-scores"),
    path("forecast-input/", views.ForecastInputView.as_view(), name="forecast-input"),
    path("forecasts/", views.ForecastListView.as_view(), name="forecast-list"),
    path("forecasts/export.csv", views.ForecastExportView.as_view(), name="forecast-export"),
    path("sources/", views.SourceListView.as_view(), name="source-list"),
    path("sources/<int:pk>/", views.SourceDetailView.as_view(), name="source-detail"),
    path("notifications/", views.NotificationListView.as_view(), name="notification-list"),
    path("notifications/read-all/", views.NotificationReadAllView.as_view(), name="notification-read-all"),
    path("notifications/<int:pk>/read/", views.NotificationReadView.as_view(), name="notification-read"),
    path("me/", views.MeView.as_view(), name="me"),
    path("me/webhook/test/", views.MeWebhookTestView.as_view(), name="me-webhook-test"),
    path("me/calendar-token/", views.CalendarTokenView.as_view(), name="me-calendar-token"),
    path("stats/calibration/", stats.CalibrationApi.as_view(), name="stats-calibration"),
    path("stats/calibration.svg", stats.CalibrationChartApi.as_view(), name="stats-calibration-chart"),
    path("stats/aggregates/", stats.AggregateComparisonApi.as_view(), name="stats-aggregates"),
    path("stats/aggregates.svg", stats.AggregateComparisonChartApi.as_view(), name="stats-aggregates-chart"),
    path("stats/leaderboard/", stats.LeaderboardApi.as_view(), name="stats-leaderboard"),
    path("stats/phrases/", stats.PhraseCalibrationApi.as_view(), name="stats-phrases"),
    path("stats/brier-over-time.svg", stats.BrierOverTimeChartApi.as_view(), name="stats-brier-over-time-chart"),
    path("intake/extract/", intake.IntakeExtractView.as_view(), name="intake-extract"),
    path("intake/accept/", intake.IntakeAcceptView.as_view(), name="intake-accept"),
    path("health/", HealthView.as_view(), name="health"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file, so the docs need no inline script (CSP).
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    re_path(r"^[\s\S]*$", api_not_found),  # any path, a line break in it included
]
