"""The forecaster's home page (what needs the user's attention, each part one query of fixed size) and
what the settings page shows of the user's API token.

Every read starts from `forecasts.access`, so an outsider sees nothing of other teams' questions.
The crowd column comes from `crowd_column_for` alone, so a rule about when the crowd may be shown
(a blind crowd until the user has forecast, say) is written in one place.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from rest_framework.authtoken.models import Token

from forecasts.access import (
    notifications_visible_to,
    questions_visible_to,
    questions_with_crowd_visibility,
    user_is_moderator,
)
from forecasts.models import LatestForecast, Notification, Question, Score
from forecasts.selectors.calibration import ScoreFilters, calibration_for, scores_for
from forecasts.selectors.questions import standing_probability_for
from forecasts.services.accounts import api_token_expired

HOME_ROWS = 10
HOME_NOTIFICATIONS = 5
HOME_SCORES = 5
CLOSING_SOON = timedelta(days=7)
HOME_QUESTION_COLUMNS = (
    "id", "title", "status", "window_end", "resolve_by", "crowd_probability", "forecast_count",
    "forecaster_count", "owner_id", "team_id", "owner__id", "owner__username",
)  # fmt: skip


HOME_SCORE_COLUMNS = (
    "id", "probability", "outcome", "brier", "log_loss", "relative_brier", "resolved_at",
    "question_id", "question__id", "question__title",
)  # fmt: skip


@dataclass(frozen=True)
class HomeSection:
    """A few rows of a home page section and how many there are in all."""

    rows: list
    total: int

    @property
    def more(self) -> int:
        return max(0, self.total - len(self.rows))


def crowd_column_for(user):
    """The crowd as the home page shows it to `user` (the `crowd` column), for annotate() on a
    queryset that went through `questions_with_crowd_visibility`: NULL while blind forecasting hides it."""
    return F("listed_crowd_probability")


def my_updated_at_for(user) -> Subquery:
    """When the user's standing forecast on each question was made (the `my_updated_at` column)."""
    standing = LatestForecast.objects.filter(question_id=OuterRef("pk"), forecaster_id=user.pk)
    return Subquery(standing.values("made_at")[:1])


def home_questions_for(user) -> QuerySet[Question]:
    """Visible questions with the home page's columns: the user's forecast, when it was made, the crowd."""
    return questions_with_crowd_visibility(
        user, questions_visible_to(user, Question.objects.select_related("owner")).only(*HOME_QUESTION_COLUMNS)
    ).annotate(
        my_probability=standing_probability_for(user),
        my_updated_at=my_updated_at_for(user),
        crowd=crowd_column_for(user),
    )


def section(queryset: QuerySet, rows: int) -> HomeSection:
    """The first `rows` rows and the total: two queries, the rows' columns computed for those rows only."""
    return HomeSection(rows=list(queryset[:rows]), total=queryset.count())


def my_open_questions_for(user) -> HomeSection:
    """Open questions the user owns or has a standing forecast on, the soonest to close first."""
    mine = Q(owner_id=user.pk) | Exists(
        LatestForecast.objects.filter(question_id=OuterRef("pk"), forecaster_id=user.pk)
    )
    questions = home_questions_for(user).filter(mine, status=Question.Status.OPEN).order_by("window_end", "id")
    return section(questions, HOME_ROWS)


def closing_soon_for(user, *, now: datetime) -> HomeSection:
    """Every open question the user may see whose window ends within the next seven days."""
    questions = (
        home_questions_for(user)
        .filter(status=Question.Status.OPEN, window_end__gte=now, window_end__lt=now + CLOSING_SOON)
        .order_by("window_end", "id")
    )
    return section(questions, HOME_ROWS)


def awaiting_my_resolution_for(user) -> HomeSection:
    """The user's own questions whose window has closed and which await their outcome, oldest deadline first."""
    questions = (
        home_questions_for(user)
        .filter(status=Question.Status.AWAITING_RESOLUTION, owner_id=user.pk)
        .order_by("resolve_by", "id")
    )
    return section(questions, HOME_ROWS)


def overdue_resolutions_for(user, *, now: datetime) -> HomeSection | None:
    """For moderators: every question past its resolve-by date without an outcome; None for everyone else."""
    if not user_is_moderator(user):
        return None
    questions = (
        home_questions_for(user)
        .filter(status=Question.Status.AWAITING_RESOLUTION, resolve_by__lt=now)
        .order_by("resolve_by", "id")
    )
    return section(questions, HOME_ROWS)


def unread_notifications_for(user) -> HomeSection:
    """The user's latest unread in-app notifications (about questions they may still see) and how many."""
    unread = (
        notifications_visible_to(user)
        .filter(channel=Notification.Channel.IN_APP, read_at__isnull=True)
        .select_related("question")
        .only("id", "kind", "message", "created_at", "question_id", "question__id", "question__title")
        .order_by("-created_at", "-id")
    )
    return section(unread, HOME_NOTIFICATIONS)


def my_latest_scores_for(user, *, now: datetime) -> list[Score]:
    """The user's most recently resolved questions with their scores (those the statistics count)."""
    scores = scores_for(user, ScoreFilters(forecaster_id=user.pk), now=now)
    return list(
        scores.select_related("question").only(*HOME_SCORE_COLUMNS).order_by("-resolved_at", "-id")[:HOME_SCORES]
    )


def api_token_state_for(user) -> dict:
    """Whether the user has an API token, since when and whether it still works (never its key)."""
    token = Token.objects.filter(user=user).only("created").first()
    if token is None:
        return {"exists": False}
    return {"exists": True, "created": token.created, "expired": api_token_expired(token)}


def home_for(user, *, now: datetime | None = None) -> dict:
    """Everything the home page shows the user, in a fixed number of queries whatever the data size."""
    # The record is of the present unless the caller fixed `now`: then the calibration rollup answers it in one query.
    record_now, now = now, now or timezone.now()
    return {
        "now": now,
        "is_moderator": user_is_moderator(user),
        "my_open": my_open_questions_for(user),
        "closing_soon": closing_soon_for(user, now=now),
        "awaiting": awaiting_my_resolution_for(user),
        "overdue": overdue_resolutions_for(user, now=now),
        "notifications": unread_notifications_for(user),
        "record": calibration_for(user, filters=ScoreFilters(forecaster_id=user.pk), now=record_now),
        "latest_scores": my_latest_scores_for(user, now=now),
    }
