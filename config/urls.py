from django.contrib import admin
from django.urls import include, path

from forecasts import views_actions as forecasts_links

urlpatterns = [
    path("admin/", admin.site.urls),
    path("actions/<str:token>/", forecasts_links.question_action, name="question-action"),
    path("calendar/<str:token>.ics", forecasts_links.calendar_feed, name="calendar-feed"),
    # Before forecasts.api.urls, whose last pattern answers every other /api/ path with a 404.
    path("api/", include("forecasts.urls_stats")),
    path("api/", include("forecasts.api.urls")),
]
