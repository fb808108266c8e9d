"""Reads: every query that shows data to a user starts here, filtered by what that user may see."""

from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery

from forecasts.models import (
    Forecast,
    LatestForecast,
    Notification,
    Question,
    ResolutionEvent,
    Source,
    TeamMembership,
)
from forecasts.rules import user_is_moderator


def membership_of(user, *, team_ref: str) -> Exists:
    """EXISTS(the user belongs to the team at `team_ref`): one probe, no join, no DISTINCT."""
    return Exists(TeamMembership.objects.filter(team_id=OuterRef(team_ref), user_id=user.pk))


def visible_questions(user) -> QuerySet[Question]:
    """Questions without a team, plus those of the user's teams; all of them for moderators.

    The same rows as `Question.objects.visible_to`, written with EXISTS so that annotations,
    ordering and pagination never have to run over a DISTINCT.
    """
    if not user or not user.is_authenticated:
        return Question.objects.none()
    if user_is_moderator(user):
        return Question.objects.all()
    return Question.objects.filter(Q(team__isnull=True) | membership_of(user, team_ref="team_id"))


def question_list_for(user) -> QuerySet[Question]:
    """Visible questions with owner, team, source and tags loaded and the user's standing forecast."""
    my_standing = LatestForecast.objects.filter(question_id=OuterRef("pk"), forecaster_id=user.pk)
    return (
        visible_questions(user)
        .select_related("owner", "team", "source")
        .prefetch_related("tags")
        .annotate(my_probability=Subquery(my_standing.values("probability")[:1]))
    )


QUESTION_LIST_COLUMNS = (
    "id", "title", "details", "resolution_criteria", "kind", "status", "window_start", "window_end",
    "resolve_by", "outcome", "occurred_at", "resolved_at", "source_quote", "source_statement_date",
    "source_url", "forecast_count", "forecaster_count", "crowd_probability", "created_at", "opened_at",
    "closed_at", "owner__id", "owner__username", "team__id", "team__name", "source__id", "source__name",
    "source__url",
)  # fmt: skip


def question_page_for(user) -> QuerySet[Question]:
    """The question list's rows with only the columns it shows: for reading, never for saving back.

    Loading whole rows (and the owner's whole account) cost more than serializing them.
    """
    return question_list_for(user).only(*QUESTION_LIST_COLUMNS)


def question_get_for(user, *, question_id: int) -> Question:
    """One visible question, annotated like the list; raises Question.DoesNotExist otherwise."""
    return question_list_for(user).get(pk=question_id)


def forecast_list_for(user) -> QuerySet[Forecast]:
    """Every forecast on a question the user may see, with its authors loaded, oldest first."""
    if not user or not user.is_authenticated:
        forecasts = Forecast.objects.none()
    elif user_is_moderator(user):
        forecasts = Forecast.objects.all()
    else:
        forecasts = Forecast.objects.filter(
            Q(question__team__isnull=True) | membership_of(user, team_ref="question__team_id")
        )
    return forecasts.select_related("forecaster", "source", "recorded_by").order_by("made_at", "id")


def forecast_export_rows(forecasts: QuerySet[Forecast]) -> QuerySet:
    """The CSV export's columns, as tuples, for already visibility-filtered forecasts."""
    return forecasts.values_list(
        "question_id",
        "question__title",
        "forecaster__username",
        "source__name",
        "probability",
        "phrase",
        "yardstick",
        "made_at",
        "recorded_at",
        "question__outcome",
    )


def question_forecasts_for(question: Question) -> QuerySet[Forecast]:
    """A question's forecast history, oldest first (the caller has already checked visibility)."""
    return question.forecasts.select_related("forecaster", "source", "recorded_by").order_by("made_at", "id")


def resolution_history_for(question: Question) -> QuerySet[ResolutionEvent]:
    """Every resolve, annul and undo on a question, oldest first, with who did it."""
    return question.history.select_related("actor").order_by("created_at", "id")


def source_list() -> QuerySet[Source]:
    """Every source; sources are public statements, visible to every signed-in user."""
    return Source.objects.order_by("name", "id")


def notification_list_for(user) -> QuerySet[Notification]:
    """The user's own notifications about questions they can still see, newest first."""
    still_visible = Q(question__isnull=True) | Q(question__in=visible_questions(user).values("pk"))
    return (
        Notification.objects.filter(user_id=user.pk)
        .filter(still_visible)
        .select_related("question")
        .order_by("-created_at", "-id")
    )


def unread_notification_ids_for(user) -> list[int]:
    """Ids of every unread notification of the user (including ones about questions now hidden)."""
    return list(Notification.objects.filter(user_id=user.pk, read_at__isnull=True).values_list("pk", flat=True))
