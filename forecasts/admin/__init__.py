"""The Django admin, the forecaster's workbench: every page it has is registered here, and only here.

The modules beside this one define the pages and register nothing on import:
questions (questions, forecasts, resolution history), groups (question groups), catalog (sources, teams, tags),
notifications (the inbox and delivery records), calibration (statistics, scores, the user page's
chart), home (the home page, which is the site's index, and every user's settings page), records (each forecaster's and source's track record, on the scores' admin). What each page shows is decided by forecasts/access.py.
"""

from django.contrib import admin
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import TokenProxy

from forecasts.admin.calibration import CalibrationReportAdmin, UserCalibrationAdmin
from forecasts.admin.catalog import SourceAdmin, TagAdmin, TeamAdmin
from forecasts.admin.groups import QuestionGroupAdmin
from forecasts.admin.home import HOME_TEMPLATE, home_index, with_settings_page
from forecasts.admin.login import AdminLoginForm
from forecasts.admin.notifications import DigestDeliveryAdmin, NotificationAdmin, WebhookDeliveryAdmin
from forecasts.admin.questions import ForecastAdmin, QuestionAdmin, ResolutionEventAdmin
from forecasts.admin.records import TrackRecordAdmin
from forecasts.models import (
    CalibrationReport,
    DigestDelivery,
    Forecast,
    Notification,
    Question,
    QuestionGroup,
    ResolutionEvent,
    Score,
    Source,
    Tag,
    Team,
    WebhookDelivery,
)

admin.site.site_header = "Forewarn"
admin.site.site_title = "Forewarn"
admin.site.index_title = "Forecaster's workbench"
admin.site.login_form = AdminLoginForm
# "View site" leads to the home page: the workbench is the site.
admin.site.site_url = "/admin/"
admin.site.index_template = HOME_TEMPLATE
# The lists need the width (crowd, count and my forecast fit at 1366 px); the home page and the
# breadcrumbs lead to every page the sidebar listed.
admin.site.enable_nav_sidebar = False
admin.site.index = home_index(admin.site)
admin.site.get_urls = with_settings_page(admin.site)

admin.site.register(Question, QuestionAdmin)
admin.site.register(QuestionGroup, QuestionGroupAdmin)
admin.site.register(Forecast, ForecastAdmin)
admin.site.register(ResolutionEvent, ResolutionEventAdmin)
admin.site.register(Source, SourceAdmin)
admin.site.register(Team, TeamAdmin)
admin.site.register(Tag, TagAdmin)
admin.site.register(Notification, NotificationAdmin)
admin.site.register(DigestDelivery, DigestDeliveryAdmin)
admin.site.register(WebhookDelivery, WebhookDeliveryAdmin)
admin.site.register(CalibrationReport, CalibrationReportAdmin)
admin.site.register(Score, TrackRecordAdmin)

# django.contrib.auth registers its user admin (importing UserCalibrationAdmin's base did it):
# the workbench's version adds the user's calibration chart.
admin.site.unregister(get_user_model())
admin.site.register(get_user_model(), UserCalibrationAdmin)

# DRF's token admin lists every user's API key in clear to superusers: a key is shown once, to
# its owner, on the settings page (and rotated there), never listed.
if admin.site.is_registered(TokenProxy):
    admin.site.unregister(TokenProxy)
