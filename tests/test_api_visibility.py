"""The visibility matrix: owner, teammate, outsider, moderator and anonymous against every endpoint.

A team question is visible to its team and to moderators only; to anyone else it does not exist
(404, and absent from every list and export), whatever the endpoint.
"""

import csv
import io

import pytest
from django.contrib.auth.models import AnonymousUser

from forecasts import selectors
from forecasts.access import questions_visible_to
from forecasts.models import Question
from tests import factories
from tests.api_support import ago, client_for, soon

pytestmark = pytest.mark.django_db

ROLES = ["owner", "teammate", "outsider", "moderator", "anonymous"]


@pytest.fixture
def world(owner, teammate, outsider, editor, team):
    """A team question with a forecast and a notification for everyone, next to a public question."""
    team_question = factories.QuestionFactory(owner=owner, team=team, title="Team-only question")
    public_question = factories.QuestionFactory(owner=owner, title="Public question")
    team_forecast = factories.ForecastFactory(
        question=team_question, forecaster=teammate, made_at=ago(1), probability=0.3
    )
    public_forecast = factories.ForecastFactory(
        question=public_question, forecaster=outsider, made_at=ago(1), probability=0.6
    )
    users = {"owner": owner, "teammate": teammate, "outsider": outsider, "moderator": editor, "anonymous": None}
    notifications = {
        role: factories.NotificationFactory(user=user, question=team_question, message="About the team question.")
        for role, user in users.items()
        if user is not None
    }
    return {
        "users": users,
        "team_question": team_question,
        "public_question": public_question,
        "team_forecast": team_forecast,
        "public_forecast": public_forecast,
        "notifications": notifications,
    }


def closed_team_question(world, status=Question.Status.AWAITING_RESOLUTION, **extra):
    return factories.QuestionFactory(
        owner=world["users"]["owner"],
        team=world["team_question"].team,
        status=status,
        window_end=ago(2),
        resolve_by=soon(1),
        closed_at=ago(2),
        **extra,
    )


def expect(role, *, owner, teammate, outsider, moderator, anonymous):
    return {"owner": owner, "teammate": teammate, "outsider": outsider, "moderator": moderator, "anonymous": anonymous}[
        role
    ]


@pytest.mark.parametrize("role", ROLES)
def test_question_list(world, role):
    response = client_for(world["users"][role]).get("/api/questions/")
    if role == "anonymous":
        assert response.status_code == 401
        return
    titles = {row["title"] for row in response.json()["results"]}
    assert ("Team-only question" in titles) == (role != "outsider")
    assert "Public question" in titles


@pytest.mark.parametrize("role", ROLES)
def test_question_detail(world, role):
    response = client_for(world["users"][role]).get(f"/api/questions/{world['team_question'].pk}/")
    assert response.status_code == expect(role, owner=200, teammate=200, outsider=404, moderator=200, anonymous=401)


@pytest.mark.parametrize("role", ROLES)
def test_question_patch(world, role):
    response = client_for(world["users"][role]).patch(
        f"/api/questions/{world['team_question'].pk}/", {"details": f"edited by {role}"}, format="json"
    )
    assert response.status_code == expect(role, owner=200, teammate=403, outsider=404, moderator=200, anonymous=401)
    world["team_question"].refresh_from_db()
    assert (world["team_question"].details == f"edited by {role}") == (response.status_code == 200)


@pytest.mark.parametrize("role", ROLES)
def test_question_delete(world, role):
    draft = factories.QuestionFactory(
        owner=world["users"]["owner"], team=world["team_question"].team, status="draft", opened_at=None
    )
    response = client_for(world["users"][role]).delete(f"/api/questions/{draft.pk}/")
    # Someone else's draft does not exist for a teammate either: a 404, not a 403.
    assert response.status_code == expect(role, owner=204, teammate=404, outsider=404, moderator=204, anonymous=401)
    assert Question.objects.filter(pk=draft.pk).exists() == (response.status_code != 204)


@pytest.mark.parametrize("role", ROLES)
def test_question_forecasts_read(world, role):
    response = client_for(world["users"][role]).get(f"/api/questions/{world['team_question'].pk}/forecasts/")
    assert response.status_code == expect(role, owner=200, teammate=200, outsider=404, moderator=200, anonymous=401)


@pytest.mark.parametrize("role", ROLES)
def test_question_forecasts_write(world, role):
    response = client_for(world["users"][role]).post(
        f"/api/questions/{world['team_question'].pk}/forecasts/", {"percent": 40}, format="json"
    )
    assert response.status_code == expect(role, owner=201, teammate=201, outsider=404, moderator=201, anonymous=401)


@pytest.mark.parametrize("role", ROLES)
def test_forecast_stream(world, role):
    response = client_for(world["users"][role]).get("/api/forecasts/")
    if role == "anonymous":
        assert response.status_code == 401
        return
    ids = {row["id"] for row in response.json()["results"]}
    assert (world["team_forecast"].pk in ids) == (role != "outsider")
    assert world["public_forecast"].pk in ids


@pytest.mark.parametrize("role", ROLES)
def test_forecast_export(world, role):
    response = client_for(world["users"][role]).get("/api/forecasts/export.csv")
    if role == "anonymous":
        assert response.status_code == 401
        return
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    questions = {row["question"] for row in rows}
    assert ("Team-only question" in questions) == (role != "outsider")
    assert "Public question" in questions


@pytest.mark.parametrize("role", ROLES)
def test_forecast_stream_filtered_by_a_hidden_question_is_empty(world, role):
    if role == "anonymous":
        return
    response = client_for(world["users"][role]).get("/api/forecasts/", {"question": world["team_question"].pk})
    assert bool(response.json()["results"]) == (role != "outsider")


@pytest.mark.parametrize("role", ROLES)
def test_resolve(world, role):
    question = closed_team_question(world)
    response = client_for(world["users"][role]).post(
        f"/api/questions/{question.pk}/resolve/", {"outcome": "yes"}, format="json"
    )
    assert response.status_code == expect(role, owner=200, teammate=403, outsider=404, moderator=200, anonymous=401)


@pytest.mark.parametrize("role", ROLES)
def test_unresolve(world, role):
    question = closed_team_question(world, status=Question.Status.RESOLVED, outcome="yes", resolved_at=ago(1))
    response = client_for(world["users"][role]).post(f"/api/questions/{question.pk}/unresolve/", {}, format="json")
    assert response.status_code == expect(role, owner=200, teammate=403, outsider=404, moderator=200, anonymous=401)


@pytest.mark.parametrize("role", ROLES)
def test_history(world, role):
    question = closed_team_question(world)
    factories.ResolutionEventFactory(question=question, actor=world["users"]["owner"])
    response = client_for(world["users"][role]).get(f"/api/questions/{question.pk}/history/")
    assert response.status_code == expect(role, owner=200, teammate=200, outsider=404, moderator=200, anonymous=401)
    if response.status_code == 200:
        assert len(response.json()["results"]) == 1


@pytest.mark.parametrize("role", ROLES)
def test_notifications_about_a_hidden_question_are_hidden(world, role):
    response = client_for(world["users"][role]).get("/api/notifications/")
    if role == "anonymous":
        assert response.status_code == 401
        return
    ids = [row["id"] for row in response.json()["results"]]
    mine = world["notifications"][role]
    assert ids == ([] if role == "outsider" else [mine.pk])
    read = client_for(world["users"][role]).post(f"/api/notifications/{mine.pk}/read/")
    assert read.status_code == (404 if role == "outsider" else 200)


@pytest.mark.parametrize("role", ROLES)
def test_nobody_reads_anyone_elses_notification(world, role):
    someone_else = world["notifications"]["owner" if role != "owner" else "teammate"]
    response = client_for(world["users"][role]).post(f"/api/notifications/{someone_else.pk}/read/")
    assert response.status_code == (401 if role == "anonymous" else 404)


@pytest.mark.parametrize("role", ROLES)
def test_sources_and_me(world, role):
    client = client_for(world["users"][role])
    for path in ("/api/sources/", "/api/me/"):
        assert client.get(path).status_code == (401 if role == "anonymous" else 200)


@pytest.mark.parametrize("role", ["owner", "teammate", "outsider", "moderator"])
def test_question_list_selector_shows_what_access_allows(world, role):
    user = world["users"][role]
    factories.QuestionFactory(team=factories.TeamFactory())  # a third team nobody here belongs to
    factories.QuestionFactory(owner=world["users"]["teammate"], status="draft", opened_at=None)
    expected = sorted(questions_visible_to(user).values_list("pk", flat=True))
    listed = list(selectors.question_list_for(user).values_list("pk", flat=True))
    assert sorted(listed) == expected and len(listed) == len(set(listed))


def test_anonymous_sees_no_questions_through_the_selectors():
    assert not selectors.question_list_for(AnonymousUser()).exists()
    assert not selectors.forecast_list_for(AnonymousUser()).exists()
