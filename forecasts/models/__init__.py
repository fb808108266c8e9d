"""Forewarn's domain: sources, questions with windows, append-only forecasts, resolutions, scores."""

from forecasts.models.accounts import Profile, Team, TeamMembership, default_digest_period, new_calendar_token
from forecasts.models.forecasts import PROBABILITY_MAX, PROBABILITY_MIN, Forecast, LatestForecast
from forecasts.models.notifications import (
    ActionTokenUse,
    Delivery,
    DeliveryStatus,
    DigestDelivery,
    Notification,
    WebhookDelivery,
)
from forecasts.models.questions import Question, QuestionKind, QuestionStatus, Source, Tag
from forecasts.models.resolutions import ResolutionEvent, WindowChange
from forecasts.models.scores import CalibrationReport, Score

__all__ = [
    "PROBABILITY_MAX",
    "PROBABILITY_MIN",
    "ActionTokenUse",
    "CalibrationReport",
    "Delivery",
    "DeliveryStatus",
    "DigestDelivery",
    "Forecast",
    "LatestForecast",
    "Notification",
    "Profile",
    "Question",
    "QuestionKind",
    "QuestionStatus",
    "ResolutionEvent",
    "Score",
    "Source",
    "Tag",
    "Team",
    "TeamMembership",
    "WebhookDelivery",
    "WindowChange",
    "default_digest_period",
    "new_calendar_token",
]
