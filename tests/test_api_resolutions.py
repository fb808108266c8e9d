"""Resolving, annulling and undoing through the API, and the audit trail it leaves."""

import csv
import io

import pytest

from forecasts.models import Question, ResolutionEvent
from tests import factories
from tests.api_support import ago, client_for, error_fields, soon

pytestmark = pytest.mark.django_db


@pytest.fixture
def closed_question(owner):
    return factories.QuestionFactory(
        owner=owner,
        status=Question.Status.AWAITING_RESOLUTION,
        window_start=ago(10),
        window_end=ago(2),
        resolve_by=soon(1),
        closed_at=ago(2),
    )


def resolve(client, question, **body):
    return client.post(f"/api/questions/{question.pk}/resolve/", body, format="json")


def test_owner_resolves_and_reads_the_history(closed_question, owner):
    client = client_for(owner)
    response = resolve(
        client, closed_question, outcome="no", evidence_url="https://example.org/evidence", note="Nothing happened."
    )
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "resolved" and response.json()["outcome"] == "no"
    assert response.json()["resolved_at"]
    history = client.get(f"/api/questions/{closed_question.pk}/history/").json()["results"]
    assert len(history) == 1
    assert history[0]["action"] == "resolve" and history[0]["outcome"] == "no"
    assert history[0]["previous_status"] == "awaiting_resolution"
    assert history[0]["actor"] == {"id": owner.pk, "username": "owner"}
    assert history[0]["evidence_url"] == "https://example.org/evidence" and history[0]["note"] == "Nothing happened."


def test_early_yes_inside_the_window(question, owner):
    question.opened_at = ago(1)
    question.save(update_fields=["opened_at"])
    response = resolve(client_for(owner), question, outcome="yes", occurred_at=ago(0.5).isoformat())
    assert response.status_code == 200, response.json()
    assert response.json()["outcome"] == "yes" and response.json()["occurred_at"]


def test_annulled_is_an_annulment(question, editor):
    response = resolve(client_for(editor), question, outcome="annulled", note="Question was ambiguous.")
    assert response.status_code == 200
    assert response.json()["status"] == "annulled" and response.json()["outcome"] == "annulled"
    assert ResolutionEvent.objects.get().action == "annul"


def test_unresolve_returns_to_awaiting_resolution_and_is_recorded(closed_question, owner):
    client = client_for(owner)
    resolve(client, closed_question, outcome="yes")
    response = client.post(
        f"/api/questions/{closed_question.pk}/unresolve/", {"note": "Wrong evidence."}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["status"] == "awaiting_resolution" and response.json()["outcome"] is None
    history = client.get(f"/api/questions/{closed_question.pk}/history/").json()["results"]
    assert [event["action"] for event in history] == ["resolve", "unresolve"]
    assert history[1]["previous_outcome"] == "yes" and history[1]["outcome"] is None


@pytest.mark.parametrize(
    "body, field",
    [
        ({"outcome": "maybe"}, "outcome"),
        ({}, "outcome"),
        ({"outcome": "yes", "evidence_url": "not a url"}, "evidence_url"),
        ({"outcome": "yes", "occurred_at": "last week"}, "occurred_at"),
        ({"outcome": "yes", "occurred_at": ago(30).isoformat()}, "occurred_at"),
        ({"outcome": "yes", "occurred_at": soon(1).isoformat()}, "occurred_at"),
    ],
)
def test_resolve_validation(closed_question, owner, body, field):
    response = client_for(owner).post(f"/api/questions/{closed_question.pk}/resolve/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in error_fields(response)
    closed_question.refresh_from_db()
    assert closed_question.status == Question.Status.AWAITING_RESOLUTION


def test_no_before_the_window_closes_is_a_400(question, owner):
    response = resolve(client_for(owner), question, outcome="no")
    assert response.status_code == 400 and error_fields(response) == {"outcome"}


def test_resolving_a_resolved_question_is_a_409_conflict(closed_question, owner):
    client = client_for(owner)
    assert resolve(client, closed_question, outcome="yes").status_code == 200
    response = resolve(client, closed_question, outcome="no")
    assert response.status_code == 409 and error_fields(response) == {"outcome"}
    assert response.json()["codes"] == {"outcome": ["status_conflict"]}
    closed_question.refresh_from_db()
    assert closed_question.outcome == "yes"


def test_unresolving_an_open_question_is_a_409_conflict(question, owner):
    response = client_for(owner).post(f"/api/questions/{question.pk}/unresolve/", {}, format="json")
    assert response.status_code == 409 and error_fields(response) == {"status"}


def test_only_the_owner_or_a_moderator_resolves(closed_question, forecaster, editor):
    response = resolve(client_for(forecaster), closed_question, outcome="yes")
    assert response.status_code == 403 and error_fields(response) == {"detail"}
    assert (
        client_for(forecaster).post(f"/api/questions/{closed_question.pk}/unresolve/", {}, format="json").status_code
        == 403
    )
    assert resolve(client_for(), closed_question, outcome="yes").status_code == 401
    assert not ResolutionEvent.objects.exists()
    assert resolve(client_for(editor), closed_question, outcome="yes").status_code == 200


def test_history_needs_credentials_and_an_existing_question(closed_question, owner):
    assert client_for().get(f"/api/questions/{closed_question.pk}/history/").status_code == 401
    assert client_for(owner).get("/api/questions/999999/history/").status_code == 404
    assert (
        client_for(owner).post("/api/questions/999999/resolve/", {"outcome": "yes"}, format="json").status_code == 404
    )


def test_resolved_outcome_appears_in_the_export(closed_question, owner, forecaster):
    factories.ForecastFactory(question=closed_question, forecaster=forecaster, made_at=ago(3), probability=0.2)
    resolve(client_for(owner), closed_question, outcome="no")
    body = b"".join(client_for(forecaster).get("/api/forecasts/export.csv").streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    assert [row["outcome"] for row in rows] == ["no"]


def test_resolving_reads_the_notices_that_asked_for_it(closed_question, owner, forecaster):
    asked = [
        factories.NotificationFactory(user=owner, question=closed_question, kind=kind)
        for kind in ("ready_to_resolve", "reminder", "escalation")
    ]
    closing = factories.NotificationFactory(user=forecaster, question=closed_question, kind="closing_soon")
    elsewhere = factories.NotificationFactory(user=owner, kind="ready_to_resolve")

    assert resolve(client_for(owner), closed_question, outcome="yes", note="It happened.").status_code == 200

    for notification in (*asked, closing, elsewhere):
        notification.refresh_from_db()
    assert all(notification.read_at for notification in asked)
    assert closing.read_at is None and elsewhere.read_at is None
