"""Forewarn's domain: sources, questions with windows, append-only forecasts, resolutions, scores."""

from forecasts.models.accounts import (
    CrowdMethod,
    Profile,
    Team,
    TeamMembership,
    default_digest_period,
    new_calendar_token,
)
from forecasts.models.forecasts import PROBABILITY_MAX, PROBABILITY_MIN, Confidence, Forecast, LatestForecast
from forecasts.models.notifications import (
    ActionTokenUse,
    Delivery,
    DeliveryStatus,
    DigestDelivery,
    Notification,
    WebhookDelivery,
)
from forecasts.models.questions import (
    EARLIEST_YEAR,
    LATEST_YEAR,
    MAX_TAGS,
    YEAR_BOUNDS_MESSAGE,
    Question,
    QuestionKind,
    QuestionStatus,
    Source,
    Tag,
    within_year_bounds,
)
from forecasts.models.resolutions import ResolutionEvent, WindowChange
from forecasts.models.scores import AuthorAccuracy, CalibrationReport, ClosingAggregate, ExtremizingFactor, Score

__all__ = [
    "EARLIEST_YEAR",
    "LATEST_YEAR",
    "MAX_TAGS",
    "PROBABILITY_MAX",
    "PROBABILITY_MIN",
    "YEAR_BOUNDS_MESSAGE",
    "ActionTokenUse",
    "AuthorAccuracy",
    "CalibrationReport",
    "ClosingAggregate",
    "Confidence",
    "CrowdMethod",
    "Delivery",
    "DeliveryStatus",
    "DigestDelivery",
    "ExtremizingFactor",
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
    "within_year_bounds",
]
