"""Forewarn's domain: sources, questions with windows, append-only forecasts, resolutions, scores."""

from forecasts.models.accounts import (
    CROWD_MOVE_POINTS_DEFAULT,
    STALE_FORECAST_DAYS_DEFAULT,
    CrowdHidden,
    Profile,
    Team,
    TeamMembership,
    default_digest_period,
    new_calendar_token,
)
from forecasts.models.forecasts import PROBABILITY_MAX, PROBABILITY_MIN, Forecast, LatestForecast
from forecasts.models.groups import MAX_MEMBERS, MIN_MEMBERS, QuestionGroup
from forecasts.models.notifications import (
    ActionTokenUse,
    Delivery,
    DeliveryStatus,
    DigestDelivery,
    Notification,
    NudgeState,
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
from forecasts.models.scores import CalibrationReport, Score

__all__ = [
    "CROWD_MOVE_POINTS_DEFAULT",
    "EARLIEST_YEAR",
    "LATEST_YEAR",
    "MAX_MEMBERS",
    "MAX_TAGS",
    "MIN_MEMBERS",
    "PROBABILITY_MAX",
    "PROBABILITY_MIN",
    "STALE_FORECAST_DAYS_DEFAULT",
    "YEAR_BOUNDS_MESSAGE",
    "ActionTokenUse",
    "CalibrationReport",
    "CrowdHidden",
    "Delivery",
    "DeliveryStatus",
    "DigestDelivery",
    "Forecast",
    "LatestForecast",
    "Notification",
    "NudgeState",
    "Profile",
    "Question",
    "QuestionGroup",
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
