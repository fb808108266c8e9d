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
from forecasts.models.scores import QUESTIONS_BIN, ROLLUP_BINS, CalibrationReport, Score, ScoreRollup

__all__ = [
    "EARLIEST_YEAR",
    "LATEST_YEAR",
    "MAX_TAGS",
    "PROBABILITY_MAX",
    "PROBABILITY_MIN",
    "QUESTIONS_BIN",
    "ROLLUP_BINS",
    "YEAR_BOUNDS_MESSAGE",
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
    "ScoreRollup",
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
