"""Who may see and change what: the one home of every visibility and permission rule.

A question is visible to a signed-in user when it has no team or the user belongs to its team,
and, while it is a draft, only to its owner. Moderators (superusers and the Editors group) see
every question. Everything else follows from the question: a forecast, a score, a notification
or a tag is visible when its question is, and a statistic names only the authors whose
forecasts the caller can already see.

Every page, endpoint, feed, link and job asks here. A question the caller may not see and one
that does not exist give the same answer (`question_or_404`: a 404 saying "No such question."),
as Zulip's `access_stream_by_id` does for streams, so an id never tells whether it exists.

The rule is written once, as a `Q` over a question's columns with the viewer as a parameter:
either one user (`questions_visible_to(user)`) or a column of each row (`row_user_may_see`), for
jobs that pick recipients in bulk and for deliveries that re-check them before sending.

Blind forecasting (`Question.crowd_hidden`) is one more rule of the same shape, `crowd_rule`:
whether a viewer may see a question's crowd, meaning every value computed from other people's
forecasts (each name in CROWD_FIELDS: the median, the aggregates) and other people's forecasts
themselves. A source's statement is public and is never hidden; nor are the forecast counts.
- `never` (the default): everyone who sees the question sees its crowd.
- `until_forecast`: a viewer sees it once they have a forecast of their own on the question, or
  once the window has closed (nothing is left to anchor).
- `until_close`: nobody sees it while the window is open.
Moderators always see the crowd (they moderate forecasts and answer for the question); an owner
is blind like any other forecaster. Forms of the rule: `crowd_visible_to` (one question),
`questions_with_crowd_visibility` (an annotation for lists, no query per row),
`forecasts_visible_to` (hides other people's forecasts) and `crowd_fields_hide` (for output).
"""

from collections.abc import Callable
from datetime import date, datetime
from functools import cache

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection
from django.db.models import BooleanField, Case, Exists, ExpressionWrapper, F, OuterRef, Q, QuerySet, Value, When
from django.db.transaction import TransactionManagementError
from django.http import Http404
from django.utils import timezone

from forecasts.models import (
    CrowdHidden,
    Forecast,
    LatestForecast,
    Notification,
    Question,
    QuestionGroup,
    QuestionStatus,
    QuestionTally,
    Score,
    ScoreRollup,
    Source,
    Tag,
    Team,
    TeamMembership,
    WebhookDelivery,
)

NO_SUCH_QUESTION = "No such question."
NO_SUCH_GROUP = "No such question group."
# Every output field computed from other people's forecasts: hidden together by `crowd_fields_hide`.
CROWD_FIELDS = ("crowd_probability", "aggregates")
MODERATE_PERMISSION = "forecasts.moderate_question"


# Roles ----------------------------------------------------------------------------------------


def user_is_moderator(user) -> bool:
    """Moderators (superusers, the Editors group) may see, resolve and edit any question."""
    return bool(user and user.is_authenticated and (user.is_superuser or user.has_perm(MODERATE_PERMISSION)))


def moderators() -> QuerySet:
    """Active moderators, as a user queryset: the same people `user_is_moderator` says yes to."""
    app_label, codename = MODERATE_PERMISSION.split(".")
    moderate = Permission.objects.filter(codename=codename, content_type__app_label=app_label)
    is_moderator = (
        Q(is_superuser=True)
        | Q(pk__in=get_user_model().objects.filter(groups__permissions__in=moderate).values("pk"))
        | Q(pk__in=get_user_model().objects.filter(user_permissions__in=moderate).values("pk"))
    )
    return get_user_model().objects.filter(is_active=True).filter(is_moderator)


def user_can_edit_question(user, question: Question) -> bool:
    """The owner while the question is a draft or open; moderators always."""
    if user_is_moderator(user):
        return True
    return question.owner_id == user.pk and question.status in question.EDITABLE_STATUSES


def user_can_resolve_question(user, question: Question) -> bool:
    """Only the owner and moderators resolve, annul or undo a resolution."""
    return user_is_moderator(user) or question.owner_id == user.pk


def user_may_file_in_team(user, team) -> bool:
    """Members file questions for their team (so they can see them); moderators for any team."""
    return teams_visible_to(user).filter(pk=team.pk).exists()


# The rule ---------------------------------------------------------------------------------------


def question_rule(*, viewer, question: str = "") -> Q:
    """The question at `question` (a lookup path, "" for Question itself) is visible to `viewer`.

    `viewer` is a user's id, or the name of the row's column holding one (then moderators are
    recognised in SQL, so a bulk query checks every row's own user).
    """
    prefix = f"{question}__" if question else ""
    if isinstance(viewer, str):
        viewer_id = F(viewer)
        member = Exists(TeamMembership.objects.filter(team_id=OuterRef(f"{prefix}team_id"), user_id=OuterRef(viewer)))
    else:
        # One user's teams as a set rather than a check per row: PostgreSQL reads it once and hashes
        # it, and costs it so; a per-row EXISTS is costed per row, which tips a list's count into JIT.
        viewer_id = viewer
        member = Q(**{f"{prefix}team__in": teams_of(viewer)})
    shared = Q(**{f"{prefix}team__isnull": True}) | member
    not_someone_elses_draft = ~Q(**{f"{prefix}status": QuestionStatus.DRAFT}) | Q(**{f"{prefix}owner_id": viewer_id})
    rule = shared & not_someone_elses_draft
    if isinstance(viewer, str):
        rule |= Exists(moderators().filter(pk=OuterRef(viewer)))
    return rule


def row_user_may_see(queryset: QuerySet, *, user: str, question: str) -> QuerySet:
    """Keep the rows whose user (column `user`) may see their question (lookup `question`)."""
    return queryset.filter(question_rule(viewer=user, question=question))


def row_user_may_see_column(queryset: QuerySet, *, name: str, user: str, question: str) -> QuerySet:
    """Add a boolean column `name`: may the row's user (column `user`) see its question (lookup
    `question`)? The same rule as `row_user_may_see`, read with the rows instead of by a query of its own."""
    return queryset.annotate(
        **{name: ExpressionWrapper(question_rule(viewer=user, question=question), output_field=BooleanField())}
    )


def visible_rows(user, rows: QuerySet, rule: Callable[[int], Q]) -> QuerySet:
    """`rows` as `user` may see them: none when signed out, all for moderators, else `rule(user.pk)`."""
    if not user or not user.is_authenticated:
        return rows.none()
    if user_is_moderator(user):
        return rows
    return rows.filter(rule(user.pk))


# Questions --------------------------------------------------------------------------------------


def questions_visible_to(user, queryset: QuerySet | None = None) -> QuerySet[Question]:
    """The questions `user` may see (of `queryset`, by default all of them)."""
    questions = Question.objects.all() if queryset is None else queryset
    return visible_rows(user, questions, lambda viewer: question_rule(viewer=viewer))


def question_tallies_visible_to(user) -> QuerySet[QuestionTally]:
    """The question tally's rows counting questions `user` may see: the same rule, read on the
    tally's team, status and (draft) owner, which bear the questions' names."""
    return visible_rows(user, QuestionTally.objects.all(), lambda viewer: question_rule(viewer=viewer))


def question_or_404(user, question_id, *, queryset: QuerySet | None = None) -> Question:
    """One question the user may see; the same 404 whether it is hidden or missing."""
    try:
        return questions_visible_to(user, queryset).get(pk=question_id)
    except (Question.DoesNotExist, ValueError, TypeError) as error:
        raise Http404(NO_SUCH_QUESTION) from error


# Stand-ins for the viewer's and the question's ids in the locked fetch's SQL, compiled once: no
# row and no other parameter of that query can hold them (ids are positive).
VIEWER_PLACEHOLDER = -7_000_000_001
QUESTION_PLACEHOLDER = -7_000_000_002


@cache
def question_lock_statement(*, moderator: bool) -> tuple[str, tuple]:
    """The SQL and parameters of `question_or_404` locking its row FOR UPDATE, with placeholder ids.

    The same queryset, compiled once per process: building and compiling it cost about four times
    what PostgreSQL spends running it, on every forecast submission.
    """
    questions = Question.objects.select_for_update(of=("self",)).order_by()
    if not moderator:
        questions = questions.filter(question_rule(viewer=VIEWER_PLACEHOLDER))
    compiler = questions.filter(pk=QUESTION_PLACEHOLDER).query.get_compiler(connection=connection)
    sql, params = compiler.as_sql()
    columns = [column.target.attname for column, _, _ in compiler.select]
    assert columns == [field.attname for field in Question._meta.concrete_fields], columns
    assert QUESTION_PLACEHOLDER in params, params
    # Kept for the life of the process: the rule must not depend on the moment it was compiled.
    assert not any(isinstance(value, datetime | date) for value in params), params
    return sql, tuple(params)


def question_locked_or_404(user, question_id) -> Question:
    """`question_or_404`, its row locked FOR UPDATE until the transaction ends (inside one only).

    On PostgreSQL the query is compiled once (`question_lock_statement`) and run with this
    viewer's and question's ids; elsewhere it is built each time.
    """
    locked = Question.objects.select_for_update(of=("self",))
    if connection.vendor != "postgresql" or not user or not user.is_authenticated:
        return question_or_404(user, question_id, queryset=locked)
    if connection.get_autocommit():
        raise TransactionManagementError("select_for_update cannot be used outside of a transaction.")
    try:
        question_id = int(question_id)
    except (ValueError, TypeError) as error:
        raise Http404(NO_SUCH_QUESTION) from error
    sql, template = question_lock_statement(moderator=user_is_moderator(user))
    substitutes = {VIEWER_PLACEHOLDER: user.pk, QUESTION_PLACEHOLDER: question_id}
    params = [substitutes.get(value, value) if type(value) is int else value for value in template]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        raise Http404(NO_SUCH_QUESTION)
    return Question.from_db(connection.alias, None, row)


# Question groups ----------------------------------------------------------------------------------


def groups_visible_to(user, queryset: QuerySet | None = None) -> QuerySet[QuestionGroup]:
    """The question groups `user` may see: the question rule over the group's own team, status and owner.

    A group's members carry its team and owner, and are drafts while it is, so a visible group has
    visible members and the other way round.
    """
    groups = QuestionGroup.objects.all() if queryset is None else queryset
    return visible_rows(user, groups, lambda viewer: question_rule(viewer=viewer))


def group_or_404(user, group_id, *, queryset: QuerySet | None = None) -> QuestionGroup:
    """One group the user may see; the same 404 whether it is hidden or missing."""
    try:
        return groups_visible_to(user, queryset).get(pk=group_id)
    except (QuestionGroup.DoesNotExist, ValueError, TypeError) as error:
        raise Http404(NO_SUCH_GROUP) from error


def user_can_resolve_group(user, group: QuestionGroup) -> bool:
    """As for a question: the owner and moderators resolve, annul or undo a whole group."""
    return user_is_moderator(user) or group.owner_id == user.pk


# Blind forecasting: the crowd -------------------------------------------------------------------


def crowd_rule(*, viewer, question: str = "", now=None) -> Q:
    """The crowd of the question at `question` (a lookup path, "" for Question itself) is visible to
    `viewer` (a user's id, or the name of the row's column holding one). Assumes the question is.
    """
    prefix = f"{question}__" if question else ""
    question_id = OuterRef(f"{question}_id" if question else "pk")
    viewer_outer = OuterRef(viewer) if isinstance(viewer, str) else viewer
    closed = ~Q(**{f"{prefix}status__in": [QuestionStatus.DRAFT, QuestionStatus.OPEN]}) | Q(
        **{f"{prefix}window_end__lte": now or timezone.now()}
    )
    has_forecast = Exists(LatestForecast.objects.filter(question_id=question_id, forecaster_id=viewer_outer))
    rule = (
        Q(**{f"{prefix}crowd_hidden": CrowdHidden.NEVER})
        | closed
        | (Q(**{f"{prefix}crowd_hidden": CrowdHidden.UNTIL_FORECAST}) & has_forecast)
    )
    if isinstance(viewer, str):
        rule |= Exists(moderators().filter(pk=OuterRef(viewer)))
    return rule


def questions_with_crowd_visibility(user, queryset: QuerySet) -> QuerySet[Question]:
    """`queryset` annotated with `crowd_visible` (may the user see each question's crowd) and
    `listed_crowd_probability` (the crowd median, or NULL where hidden: what lists sort by)."""
    if user_is_moderator(user):
        visible = Value(True)
    elif not user or not user.is_authenticated:
        visible = Value(False)
    else:
        visible = ExpressionWrapper(crowd_rule(viewer=user.pk), output_field=BooleanField())
    return queryset.annotate(crowd_visible=visible).annotate(
        listed_crowd_probability=Case(When(crowd_visible=True, then=F("crowd_probability")), default=None)
    )


def crowd_visible_to(user, question: Question) -> bool:
    """May `user` see this question's crowd? Reads the `crowd_visible` annotation when the question
    was loaded through `questions_with_crowd_visibility`; otherwise decides in Python (one query
    at most, for `until_forecast`)."""
    annotated = getattr(question, "crowd_visible", None)
    if annotated is not None:
        return bool(annotated)
    if question.crowd_hidden == CrowdHidden.NEVER or user_is_moderator(user):
        return True
    if question.status not in (QuestionStatus.DRAFT, QuestionStatus.OPEN) or question.window_end <= timezone.now():
        return True
    if question.crowd_hidden == CrowdHidden.UNTIL_FORECAST and user and user.is_authenticated:
        return LatestForecast.objects.filter(question_id=question.pk, forecaster_id=user.pk).exists()
    return False


def crowd_fields_hide(data: dict, *, visible: bool) -> dict:
    """`data` (a question as output) with every crowd field emptied (None) unless `visible`."""
    if not visible:
        for name in CROWD_FIELDS:
            if name in data:
                data[name] = None
    return data


# Rows that hang off a question -------------------------------------------------------------------


def forecasts_visible_to(user, queryset: QuerySet | None = None) -> QuerySet[Forecast]:
    """Forecasts the user may see (of `queryset`, by default all of them): on the questions they may
    see, and, on a blind question, only their own and sources' public statements."""
    forecasts = Forecast.objects.all() if queryset is None else queryset

    def rule(viewer: int) -> Q:
        not_blind = Q(source__isnull=False) | Q(forecaster_id=viewer) | crowd_rule(viewer=viewer, question="question")
        return question_rule(viewer=viewer, question="question") & not_blind

    return visible_rows(user, forecasts, rule)


def scores_visible_to(user, queryset: QuerySet | None = None) -> QuerySet[Score]:
    """Scores on the questions the user may see (of `queryset`, by default all of them).

    Decided by the score's copy of its question's team, with no join to questions: a score exists
    only for a resolved question, never for a draft, so the team is the whole question rule here.
    """
    scores = Score.objects.all() if queryset is None else queryset
    return visible_rows(user, scores, lambda viewer: Q(team__isnull=True) | Q(team__in=teams_of(viewer)))


def score_rollups_visible_to(user, queryset: QuerySet | None = None) -> QuerySet[ScoreRollup]:
    """Calibration rollup rows of the scores the user may see: the same team rule as `scores_visible_to`."""
    rollups = ScoreRollup.objects.all() if queryset is None else queryset
    return visible_rows(user, rollups, lambda viewer: Q(team_id__isnull=True) | Q(team_id__in=teams_of(viewer)))


def notifications_visible_to(user, queryset: QuerySet | None = None) -> QuerySet[Notification]:
    """The user's own notifications whose question they may still see (or that have none).

    Checked whenever a notice is shown or delivered, so a member removed from a team stops
    seeing its notices at once, even those created before the removal.
    """
    notifications = Notification.objects.all() if queryset is None else queryset
    own = notifications.filter(user_id=getattr(user, "pk", None))
    return visible_rows(
        user, own, lambda viewer: Q(question__isnull=True) | question_rule(viewer=viewer, question="question")
    )


def webhook_deliveries_still_visible(queryset: QuerySet[WebhookDelivery]) -> QuerySet[WebhookDelivery]:
    """The deliveries whose recipient may still see the notification's question."""
    return queryset.filter(
        Q(notification__question__isnull=True)
        | question_rule(viewer="notification__user_id", question="notification__question")
    )


def tags_visible_to(user, queryset: QuerySet | None = None) -> QuerySet[Tag]:
    """Tags used on a question the user may see; moderators see every tag."""
    tags = Tag.objects.all() if queryset is None else queryset

    def used_on_a_visible_question(viewer: int) -> Q:
        tagged = Question.tags.through.objects.filter(tag_id=OuterRef("pk"))
        return Q(Exists(tagged.filter(question_rule(viewer=viewer, question="question"))))

    return visible_rows(user, tags, used_on_a_visible_question)


def sources_visible_to(user, queryset: QuerySet | None = None) -> QuerySet[Source]:
    """Every source: sources are public statements, visible to every signed-in user."""
    sources = Source.objects.all() if queryset is None else queryset
    return sources if user and user.is_authenticated else sources.none()


def teams_of(viewer: int) -> QuerySet:
    """The ids of the teams a user belongs to, as a subquery."""
    return TeamMembership.objects.filter(user_id=viewer).values("team_id")


def teams_visible_to(user, queryset: QuerySet | None = None) -> QuerySet[Team]:
    """The teams a user belongs to, the only ones they may see or file a question for; moderators: all."""
    teams = Team.objects.all() if queryset is None else queryset
    return visible_rows(user, teams, lambda viewer: Q(pk__in=teams_of(viewer)))


# People a page or a statistic may name -------------------------------------------------------------


def authors_visible_to(user) -> QuerySet:
    """The users a page or a statistic may name: the viewer, and whoever has a forecast on a question
    the viewer may see (their names already show in its forecast history; on a blind question, once
    its crowd is visible to the viewer); moderators: all.

    Forecasts rather than standing forecasts: scores are computed from forecasts, so the author of
    every score the viewer may see is one the viewer may see named.
    """

    def themselves_or_seen_forecasting(viewer: int) -> Q:
        forecasts = Forecast.objects.filter(forecaster_id=OuterRef("pk"))
        seen = question_rule(viewer=viewer, question="question") & crowd_rule(viewer=viewer, question="question")
        return Q(pk=viewer) | Exists(forecasts.filter(seen))

    return visible_rows(user, get_user_model().objects.all(), themselves_or_seen_forecasting)
