"""forecasts/access.py, function by function, for every role against every kind of row.

Roles and rows come from the `access_world` fixture (tests/conftest.py).
"""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.http import Http404
from django.test.utils import CaptureQueriesContext

from forecasts import access
from forecasts.models import Forecast, Notification, Question, Tag, WebhookDelivery
from tests import factories

pytestmark = pytest.mark.django_db

User = get_user_model()

ROLES = ["anonymous", "no_group", "outsider", "member_a", "member_b", "removed", "owner", "editor", "superuser"]
ROWS = ["public", "team_a", "public_draft", "team_a_draft"]
MODERATORS = {"editor", "superuser"}
# Which rows each role may see: drafts only to their owner and moderators, team A to its members.
SEES = {
    "anonymous": set(),
    "no_group": {"public"},
    "outsider": {"public"},
    "member_a": {"public", "team_a"},
    "member_b": {"public"},  # of a team B that has no rows here
    "removed": {"public"},
    "owner": set(ROWS),
    "editor": set(ROWS),
    "superuser": set(ROWS),
}


def rows_of(world, questions) -> set[str]:
    """The row names of the given questions (ids or rows)."""
    ids = {getattr(question, "pk", question) for question in questions}
    return {row for row, question in world.questions.items() if question.pk in ids}


# Roles ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_user_is_moderator(access_world, role):
    assert access.user_is_moderator(access_world.users[role]) == (role in MODERATORS)


def test_user_is_moderator_without_a_user():
    assert access.user_is_moderator(None) is False


def test_moderators_are_the_active_superusers_and_editors(access_world):
    factories.SuperuserFactory(username="retired-root", is_active=False)
    users = access_world.users
    assert set(access.moderators()) == {users["editor"], users["superuser"]}
    assert all(access.user_is_moderator(user) for user in access.moderators())


@pytest.mark.parametrize("role", ROLES)
def test_user_can_edit_question(access_world, role):
    user = access_world.users[role]
    may_edit = role in MODERATORS | {"owner"}
    for row in ROWS:
        assert access.user_can_edit_question(user, access_world.questions[row]) == may_edit
    closed = access_world.questions["public"]
    closed.status = Question.Status.AWAITING_RESOLUTION
    assert access.user_can_edit_question(user, closed) == (role in MODERATORS)


@pytest.mark.parametrize("role", ROLES)
def test_user_can_resolve_question(access_world, role):
    user = access_world.users[role]
    for row in ROWS:
        assert access.user_can_resolve_question(user, access_world.questions[row]) == (role in MODERATORS | {"owner"})


@pytest.mark.parametrize("role", ROLES)
def test_user_may_file_in_team(access_world, role):
    expected = role in MODERATORS | {"member_a", "owner"}
    assert access.user_may_file_in_team(access_world.users[role], access_world.team) == expected
    assert access.user_may_file_in_team(access_world.users[role], factories.TeamFactory()) == (role in MODERATORS)


# Questions --------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_questions_visible_to(access_world, role):
    assert rows_of(access_world, access.questions_visible_to(access_world.users[role])) == SEES[role]


@pytest.mark.parametrize("role", ROLES)
def test_questions_visible_to_narrows_the_given_queryset(access_world, role):
    drafts = Question.objects.filter(status=Question.Status.DRAFT)
    visible = access.questions_visible_to(access_world.users[role], drafts)
    assert rows_of(access_world, visible) == SEES[role] & {"public_draft", "team_a_draft"}


def test_questions_visible_to_without_a_user(access_world):
    assert not access.questions_visible_to(None).exists()


@pytest.mark.parametrize("role", ROLES)
def test_question_or_404_answers_hidden_as_missing(access_world, role):
    user = access_world.users[role]
    with pytest.raises(Http404) as missing:
        access.question_or_404(user, Question.objects.order_by("-pk").first().pk + 1)
    assert str(missing.value) == access.NO_SUCH_QUESTION
    for row, question in access_world.questions.items():
        if row in SEES[role]:
            assert access.question_or_404(user, question.pk) == question
            continue
        with pytest.raises(Http404) as hidden:
            access.question_or_404(user, question.pk)
        assert str(hidden.value) == str(missing.value), row


@pytest.mark.parametrize("question_id", ["abc", None, "", -1])
def test_question_or_404_on_a_malformed_id(access_world, question_id):
    with pytest.raises(Http404, match=access.NO_SUCH_QUESTION):
        access.question_or_404(access_world.users["owner"], question_id)


def test_question_or_404_keeps_the_given_queryset(access_world):
    owner = access_world.users["owner"]
    only_open = Question.objects.filter(status=Question.Status.OPEN)
    assert access.question_or_404(owner, access_world.questions["team_a"].pk, queryset=only_open)
    with pytest.raises(Http404):
        access.question_or_404(owner, access_world.questions["team_a_draft"].pk, queryset=only_open)


def stored_values(question: Question) -> dict:
    return {field.attname: getattr(question, field.attname) for field in Question._meta.concrete_fields}


@pytest.mark.parametrize("role", ROLES)
def test_question_locked_or_404_sees_what_question_or_404_sees(access_world, role):
    user = access_world.users[role]
    with transaction.atomic():
        with pytest.raises(Http404) as missing:
            access.question_locked_or_404(user, Question.objects.order_by("-pk").first().pk + 1)
        assert str(missing.value) == access.NO_SUCH_QUESTION
        for row, question in access_world.questions.items():
            if row in SEES[role]:
                locked = access.question_locked_or_404(user, question.pk)
                assert stored_values(locked) == stored_values(Question.objects.get(pk=question.pk)), row
                assert not locked._state.adding
                continue
            with pytest.raises(Http404) as hidden:
                access.question_locked_or_404(user, question.pk)
            assert str(hidden.value) == str(missing.value), row


@pytest.mark.parametrize("question_id", ["abc", None, "", -1, 10**30])
def test_question_locked_or_404_on_a_malformed_id(access_world, question_id):
    with transaction.atomic(), pytest.raises(Http404, match=access.NO_SUCH_QUESTION):
        access.question_locked_or_404(access_world.users["owner"], question_id)


def test_question_locked_or_404_locks_the_row_for_each_caller(access_world):
    """One query each, FOR UPDATE, with each caller's own ids (the SQL is compiled once)."""
    question = access_world.questions["team_a"]
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        assert access.question_locked_or_404(access_world.users["member_a"], question.pk) == question
        with pytest.raises(Http404):
            access.question_locked_or_404(access_world.users["outsider"], question.pk)
        assert access.question_locked_or_404(access_world.users["owner"], question.pk) == question
    fetches = [query["sql"] for query in queries if query["sql"].startswith('SELECT "forecasts_question"')]
    assert len(fetches) == 3
    if connection.features.has_select_for_update:
        assert all("FOR UPDATE" in sql for sql in fetches)


# Rows that hang off a question --------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_forecasts_visible_to(access_world, role):
    forecasts = access.forecasts_visible_to(access_world.users[role])
    assert rows_of(access_world, forecasts.values_list("question_id", flat=True)) == SEES[role]
    mine = Forecast.objects.filter(pk=access_world.forecasts["team_a"].pk)
    assert access.forecasts_visible_to(access_world.users[role], mine).exists() == ("team_a" in SEES[role])


@pytest.mark.parametrize("role", ROLES)
def test_scores_visible_to(access_world, role):
    # Scores exist only for resolved questions, never for drafts: one on each shared row.
    for row in ("public", "team_a"):
        factories.ScoreFactory(
            question=access_world.questions[row],
            forecast=access_world.forecasts[row],
            forecaster=access_world.authors[row],
        )
    scores = access.scores_visible_to(access_world.users[role])
    assert rows_of(access_world, scores.values_list("question_id", flat=True)) == SEES[role] & {"public", "team_a"}


@pytest.mark.parametrize("role", ROLES)
def test_notifications_visible_to(access_world, role):
    user = access_world.users[role]
    general = factories.NotificationFactory(user=access_world.users["owner"], question=None, message="Welcome.")
    notifications = access.notifications_visible_to(user)
    assert {notification.user_id for notification in notifications} <= {user.pk}
    rows = rows_of(access_world, notifications.exclude(question=None).values_list("question_id", flat=True))
    assert rows == SEES[role]
    assert (general in notifications) == (role == "owner")


def test_notifications_visible_to_narrows_the_given_queryset(access_world):
    member = access_world.users["member_a"]
    unread = Notification.objects.filter(question=access_world.questions["team_a"])
    assert list(access.notifications_visible_to(member, unread)) == [access_world.notifications["member_a", "team_a"]]


def test_row_user_may_see_checks_each_rows_own_user(access_world):
    kept = access.row_user_may_see(Notification.objects.all(), user="user_id", question="question")
    by_pk = {notification.pk: key for key, notification in access_world.notifications.items()}
    expected = {(role, row) for role in ROLES for row in SEES[role]}
    assert {by_pk[pk] for pk in kept.values_list("pk", flat=True)} == expected


def test_webhook_deliveries_still_visible(access_world):
    deliveries = {
        key: factories.WebhookDeliveryFactory(notification=notification)
        for key, notification in access_world.notifications.items()
        if key[0] in ("member_a", "removed", "editor")
    }
    general = factories.WebhookDeliveryFactory(
        notification=factories.NotificationFactory(user=access_world.users["removed"], question=None)
    )
    kept = set(access.webhook_deliveries_still_visible(WebhookDelivery.objects.all()))
    expected = {delivery for (role, row), delivery in deliveries.items() if row in SEES[role]}
    assert kept == expected | {general}


@pytest.mark.parametrize("role", ROLES)
def test_tags_visible_to(access_world, role):
    factories.TagFactory(name="unused")
    tags = set(access.tags_visible_to(access_world.users[role]).values_list("name", flat=True))
    expected = {f"tag-{row}".replace("_", "-") for row in SEES[role]}
    assert tags == (expected | {"unused"} if role in MODERATORS else expected)
    public_only = Tag.objects.filter(name="tag-public")
    assert list(access.tags_visible_to(access_world.users[role], public_only).values_list("name", flat=True)) == (
        ["tag-public"] if role != "anonymous" else []
    )


@pytest.mark.parametrize("role", ROLES)
def test_sources_visible_to(access_world, role):
    sources = access.sources_visible_to(access_world.users[role])
    # Sources are public statements: every signed-in user sees all of them, drafts' sources too.
    assert sources.count() == (0 if role == "anonymous" else len(ROWS))


# People a page or a statistic may name -------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_authors_visible_to(access_world, role):
    user = access_world.users[role]
    named = set(access.authors_visible_to(user))
    if role == "anonymous":
        assert named == set()
    elif role in MODERATORS:
        assert named == set(User.objects.all())
    else:
        assert named == {user} | {access_world.authors[row] for row in SEES[role]}
