"""Reads of questions and what hangs off them: forecasts, resolution history, sources, notifications.

Every read that shows rows to a user starts from `forecasts.access`, which decides what that user
may see; the functions here add only what a page loads and in which order.
"""

from django.db import connection
from django.db.models import Aggregate, JSONField, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from forecasts import aggregation
from forecasts.access import (
    forecasts_visible_to,
    notifications_visible_to,
    question_or_404,
    question_tallies_visible_to,
    questions_visible_to,
    questions_with_crowd_visibility,
    sources_visible_to,
)
from forecasts.models import CrowdMethod, Forecast, LatestForecast, Notification, Question, ResolutionEvent, Source


def standing_probability_for(user) -> Subquery:
    """The user's standing forecast on each question (the `my_probability` column), for annotate()."""
    standing = LatestForecast.objects.filter(question_id=OuterRef("pk"), forecaster_id=user.pk)
    return Subquery(standing.values("probability")[:1])


def questions_as_listed_for(user) -> QuerySet[Question]:
    """Every question loaded as the list shows it, before visibility: pass it through `forecasts.access`.

    Annotated with whether the user may see each question's crowd (blind forecasting).
    """
    questions = (
        Question.objects.select_related("owner", "team", "source", "group")
        .prefetch_related("tags")
        .annotate(my_probability=standing_probability_for(user))
    )
    return questions_with_crowd_visibility(user, questions)


def question_list_for(user) -> QuerySet[Question]:
    """Visible questions with owner, team, source and tags loaded and the user's standing forecast."""
    return questions_visible_to(user, questions_as_listed_for(user))


QUESTION_LIST_COLUMNS = (
    "id", "title", "details", "resolution_criteria", "kind", "status", "window_start", "window_end",
    "resolve_by", "outcome", "occurred_at", "resolved_at", "source_quote", "source_statement_date",
    "source_url", "forecast_count", "forecaster_count", "crowd_probability", "crowd_hidden", "created_at", "opened_at",
    "closed_at", "updated_at", "owner__id", "owner__username", "team__id", "team__name", "team__crowd_method",
    "source__id", "source__name", "source__url",
    *(f"crowd_{method}" for method in aggregation.METHODS), "crowd_extremizing_factor",
    "group__id", "group__kind", "group_position", "option_label",
)  # fmt: skip


def question_aggregates(question: Question) -> dict:
    """The question's maintained crowd aggregates by method, the factor, and the team's chosen method."""
    return {
        "method": question.team.crowd_method if question.team_id else CrowdMethod.MEDIAN,
        **{method: getattr(question, f"crowd_{method}") for method in aggregation.METHODS},
        "extremizing_factor": question.crowd_extremizing_factor,
    }


def question_page_for(user) -> QuerySet[Question]:
    """The questions the list may show the user, annotated as `question_rows` reads them (the standing
    forecast, whether the crowd is visible): filter and order it, then page it with `QuestionRowPages`.

    Nothing related is loaded and no model is built: the list reads its rows as dicts.
    """
    questions = Question.objects.annotate(my_probability=standing_probability_for(user))
    return questions_visible_to(user, questions_with_crowd_visibility(user, questions))


QUESTION_ROW_COLUMNS = (*QUESTION_LIST_COLUMNS, "my_probability", "crowd_visible", "tag_names")


class TagNameList(Aggregate):
    """Tag names as one JSON list, in name order on PostgreSQL (the database's collation, as
    `Tag.Meta.ordering`). SQLite 3.40 cannot order inside an aggregate: see `question_rows_read`."""

    function = "JSONB_AGG"
    template = "%(function)s(%(expressions)s ORDER BY %(expressions)s)"
    output_field = JSONField()

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler, connection, function="JSON_GROUP_ARRAY", template="%(function)s(%(expressions)s)", **extra_context
        )


def question_tag_names_column() -> Subquery:
    """Each question's tag names (the `tag_names` column), for annotate(): NULL when it has none."""
    tagged = Question.tags.through.objects.filter(question_id=OuterRef("pk")).values("question_id")
    return Subquery(tagged.annotate(names=TagNameList("tag__name")).values("names"))


def question_rows(questions: QuerySet[Question]) -> QuerySet:
    """The list's questions (already visibility-filtered, filtered and ordered) as dicts of the columns
    it shows, tags included, for `question_rows_read` and the list's serializer: no model objects on
    the hot path."""
    return (
        questions.prefetch_related(None).annotate(tag_names=question_tag_names_column()).values(*QUESTION_ROW_COLUMNS)
    )


def question_rows_read(rows: QuerySet) -> list[dict]:
    """The rows of `question_rows`, read, with `tag_names` a list in tag order (empty for none)."""
    rows = list(rows)
    for row in rows:
        # SQLite compares text byte by byte, which is how Python sorts it.
        names = row["tag_names"] or []
        row["tag_names"] = sorted(names) if connection.vendor == "sqlite" else names
    return rows


# The list's filters the question tally can answer, by query parameter: its columns.
TALLY_FILTERS = {"status": "status", "kind": "kind", "team": "team_id"}


def question_count_from_tally(user, filters: dict[str, str]) -> int:
    """How many questions `user` may see with `filters` (of TALLY_FILTERS, already validated), summed
    from the question tally: one query over a few rows, whatever the number of questions."""
    tallies = question_tallies_visible_to(user).filter(
        **{TALLY_FILTERS[name]: value for name, value in filters.items()}
    )
    return tallies.aggregate(total=Coalesce(Sum("count"), 0))["total"]


def tally_filters_of(params, filter_names) -> dict[str, str] | None:
    """The filters of a request's query string when the tally can count them (on PostgreSQL, the
    tally's only home): None when another filter is given."""
    given = {name: params[name] for name in filter_names if params.get(name, "") != ""}
    if connection.vendor != "postgresql" or not given.keys() <= TALLY_FILTERS.keys():
        return None
    return given


class QuestionRowPages:
    """The list's questions (already visibility-filtered, filtered and ordered) for a paginator, as the
    row dicts of `question_rows`.

    Counted over the questions alone, without the joins and subqueries that only display them. A
    later page is read in one query whose inner part picks the page's ids, so the rows skipped to
    reach it are never joined or annotated; the first page, with nothing to skip, is read directly.
    """

    def __init__(self, questions: QuerySet[Question], *, counted=None):
        self.questions = questions
        self.counted = counted  # the count, when the caller has a cheaper way to it (the tally)

    def count(self) -> int:
        return self.questions.count() if self.counted is None else self.counted()

    def __getitem__(self, page: slice) -> list[dict]:
        if not page.start:  # nothing to skip
            return question_rows_read(question_rows(self.questions)[page])
        page_ids = self.questions.values("pk")[page]
        return question_rows_read(question_rows(self.questions.filter(pk__in=page_ids)))


def question_get_for(user, *, question_id: int) -> Question:
    """One visible question, annotated like the list; the same 404 whether it is hidden or missing."""
    return question_or_404(user, question_id, queryset=questions_as_listed_for(user))


def forecast_list_for(user) -> QuerySet[Forecast]:
    """Every forecast on a question the user may see, with its authors loaded, oldest first."""
    return forecasts_visible_to(user).select_related("forecaster", "source", "recorded_by").order_by("made_at", "id")


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
        "id",
        "forecaster_id",
        "source_id",
        "question__window_start",
        "question__window_end",
        "question__occurred_at",
        # What another Forewarn needs to score the same numbers on import (docs/imports.md).
        "question__opened_at",
        "question__closed_at",
        "question__resolved_at",
        "quote",
        "url",
        "question__kind",
    )


def question_forecasts_for(user, question: Question) -> QuerySet[Forecast]:
    """A question's forecast history as the user may see it (blind: own and sources' only), oldest first."""
    return forecasts_visible_to(
        user, question.forecasts.select_related("forecaster", "source", "recorded_by")
    ).order_by("made_at", "id")


def resolution_history_for(question: Question) -> QuerySet[ResolutionEvent]:
    """Every resolve, annul and undo on a question, oldest first, with who did it."""
    return question.history.select_related("actor").order_by("created_at", "id")


def source_list_for(user) -> QuerySet[Source]:
    """The sources the user may see (every source: they are public statements), by name."""
    return sources_visible_to(user).order_by("name", "id")


def notification_list_for(user) -> QuerySet[Notification]:
    """The user's own notifications about questions they can still see, newest first."""
    return notifications_visible_to(user).select_related("question").order_by("-created_at", "-id")


def unread_notification_ids_for(user) -> list[int]:
    """Ids of the user's unread notifications that they may still see."""
    return list(notifications_visible_to(user).filter(read_at__isnull=True).values_list("pk", flat=True))
