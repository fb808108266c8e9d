"""The bench's URLconf: every real path, plus the baseline views under /bench/."""

from django.urls import include, path

from bench import views

urlpatterns = [
    path("bench/questions/", views.plain_question_list, name="bench-plain-question-list"),
    path("bench/questions/<int:pk>/forecasts/", views.plain_forecast_insert, name="bench-plain-forecast-insert"),
    path("", include("config.urls")),
]
