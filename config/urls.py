from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from forecasts import views_actions as forecasts_links

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False), name="site-root"),
    path("favicon.ico", forecasts_links.favicon, name="favicon"),
    path("admin/", admin.site.urls),
    path("actions/<str:token>/", forecasts_links.question_action, name="question-action"),
    path("calendar/<str:token>.ics", forecasts_links.calendar_feed, name="calendar-feed"),
    path("api/", include("forecasts.api.urls")),
]
