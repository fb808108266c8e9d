"""Tokens, /api/me/, sources, notifications, health, throttling and the shape of every error."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token

from forecasts.models import Notification, Profile, Source
from tests import factories
from tests.api_support import client_for, error_fields

pytestmark = pytest.mark.django_db


# --- tokens ---------------------------------------------------------------------------------


def test_token_for_a_username_and_password_then_revoke_it(forecaster):
    client = client_for()
    response = client.post(
        "/api/auth/token/", {"username": "forecaster", "password": "correct-horse-battery"}, format="json"
    )
    assert response.status_code == 200
    key = response.json()["token"]
    assert Token.objects.get(user=forecaster).key == key
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/me/").json()["username"] == "forecaster"
    assert client.delete("/api/auth/token/").status_code == 204
    assert not Token.objects.filter(user=forecaster).exists()
    assert client.get("/api/me/").status_code == 401


@pytest.mark.parametrize(
    "body, field",
    [
        ({"username": "forecaster", "password": "wrong"}, "non_field_errors"),
        ({"username": "forecaster"}, "password"),
        ({"username": ["forecaster"], "password": "correct-horse-battery"}, "username"),
    ],
)
def test_token_refused_for_bad_credentials(forecaster, body, field):
    response = client_for().post("/api/auth/token/", body, format="json")
    assert response.status_code == 400
    assert error_fields(response) == {field}


def test_revoking_needs_credentials():
    response = client_for().delete("/api/auth/token/")
    assert response.status_code == 401 and error_fields(response) == {"detail"}


# --- me ---------------------------------------------------------------------------------------


def test_me_shows_the_account_teams_and_settings(owner, team):
    body = client_for(owner).get("/api/me/").json()
    assert body["username"] == "owner" and body["is_moderator"] is False
    assert body["teams"] == [{"id": team.pk, "name": "Analysts"}]
    assert body["settings"] == {
        "digest_period": "PT1H",
        "digest_period_minutes": 60,
        "closing_soon_opt_in": True,
        "stale_forecast_days": 14,
        "crowd_move_points": 10,
        "webhook_url": "",
    }


@pytest.mark.parametrize(
    "period, minutes, shown", [(120, 120, "PT2H"), ("PT90M", 90, "PT1H30M"), ("P1D", 1440, "P1D"), ("45", 45, "PT45M")]
)
def test_me_patch_takes_minutes_or_an_iso_duration(forecaster, period, minutes, shown):
    response = client_for(forecaster).patch(
        "/api/me/", {"settings": {"digest_period": period, "closing_soon_opt_in": False}}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["settings"]["digest_period"] == shown
    profile = Profile.objects.get(user=forecaster)
    assert profile.digest_period == timedelta(minutes=minutes) and profile.closing_soon_opt_in is False


@pytest.mark.parametrize(
    "settings, field",
    [
        ({"digest_period": 0}, "settings.digest_period"),
        ({"digest_period": "PT10S"}, "settings.digest_period"),
        ({"digest_period": "every hour"}, "settings.digest_period"),
        ({"digest_period": True}, "settings.digest_period"),
        ({"digest_period": 10**15}, "settings.digest_period"),
        ({"digest_period": "P40D"}, "settings.digest_period"),
        ({"webhook_url": "ftp://example.org/hook"}, "settings.webhook_url"),
        ({"closing_soon_opt_in": "sometimes"}, "settings.closing_soon_opt_in"),
    ],
)
def test_me_patch_validation(forecaster, settings, field):
    response = client_for(forecaster).patch("/api/me/", {"settings": settings}, format="json")
    assert response.status_code == 400, response.content
    assert error_fields(response) == {field}


def test_me_needs_credentials():
    assert client_for().get("/api/me/").status_code == 401
    assert client_for().patch("/api/me/", {"settings": {"digest_period": 5}}, format="json").status_code == 401


def test_me_refuses_attempts_to_change_the_account(forecaster):
    response = client_for(forecaster).patch("/api/me/", {"username": "root", "is_moderator": True}, format="json")
    assert response.status_code == 400 and error_fields(response) == {"username", "is_moderator"}
    assert response.json()["codes"] == {"username": ["read_only"], "is_moderator": ["read_only"]}
    forecaster.refresh_from_db()
    assert forecaster.username == "forecaster"


# --- sources ------------------------------------------------------------------------------


def test_sources_list_create_and_detail(forecaster):
    factories.SourceFactory(name="Kremlin spokesman", kind="person")
    client = client_for(forecaster)
    response = client.post(
        "/api/sources/",
        {"name": "US intelligence", "url": "https://example.org/us", "kind": "organisation"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    created = response.json()
    assert Source.objects.get(pk=created["id"]).created_by == forecaster
    assert [row["name"] for row in client.get("/api/sources/").json()["results"]] == [
        "Kremlin spokesman",
        "US intelligence",
    ]
    assert [row["name"] for row in client.get("/api/sources/", {"kind": "person"}).json()["results"]] == [
        "Kremlin spokesman"
    ]
    assert client.get(f"/api/sources/{created['id']}/").json()["name"] == "US intelligence"
    assert client.get("/api/sources/987654/").status_code == 404


@pytest.mark.parametrize(
    "body, field",
    [
        ({"name": ""}, "name"),
        ({"name": "Existing"}, "name"),
        ({"name": "New", "kind": "robot"}, "kind"),
        ({"name": "New", "url": "nope"}, "url"),
    ],
)
def test_source_validation(forecaster, body, field):
    factories.SourceFactory(name="Existing")
    response = client_for(forecaster).post("/api/sources/", body, format="json")
    assert response.status_code == 400
    assert error_fields(response) == {field}


def test_source_creation_is_for_forecasters_and_editors(reader, editor):
    assert client_for().post("/api/sources/", {"name": "A"}, format="json").status_code == 401
    assert client_for(reader).post("/api/sources/", {"name": "A"}, format="json").status_code == 403
    assert client_for(reader).get("/api/sources/").status_code == 200
    assert client_for(editor).post("/api/sources/", {"name": "A"}, format="json").status_code == 201


# --- notifications ------------------------------------------------------------------------


def test_notifications_are_the_callers_own_and_can_be_read(owner, forecaster, question):
    unread = factories.NotificationFactory(user=owner, question=question, message="Ready to resolve.")
    already_read = factories.NotificationFactory(user=owner, question=None, read_at=timezone.now() - timedelta(hours=1))
    factories.NotificationFactory(user=forecaster, question=question)
    client = client_for(owner)
    listed = client.get("/api/notifications/").json()["results"]
    assert {row["id"] for row in listed} == {unread.pk, already_read.pk}
    assert [row["id"] for row in client.get("/api/notifications/", {"unread": "true"}).json()["results"]] == [unread.pk]
    assert next(row for row in listed if row["id"] == unread.pk)["question"] == {
        "id": question.pk,
        "title": question.title,
    }
    response = client.post(f"/api/notifications/{unread.pk}/read/")
    assert response.status_code == 200 and response.json()["read_at"]
    first_read = Notification.objects.get(pk=unread.pk).read_at
    client.post(f"/api/notifications/{unread.pk}/read/")
    assert Notification.objects.get(pk=unread.pk).read_at == first_read


def test_read_all_marks_only_the_callers(owner, forecaster):
    factories.NotificationFactory.create_batch(3, user=owner)
    others = factories.NotificationFactory(user=forecaster)
    response = client_for(owner).post("/api/notifications/read-all/")
    assert response.status_code == 200 and response.json() == {"marked": 3}
    assert client_for(owner).post("/api/notifications/read-all/").json() == {"marked": 0}
    assert Notification.objects.get(pk=others.pk).read_at is None


def test_someone_elses_notification_is_a_404(owner, forecaster):
    theirs = factories.NotificationFactory(user=forecaster)
    response = client_for(owner).post(f"/api/notifications/{theirs.pk}/read/")
    assert response.status_code == 404 and error_fields(response) == {"detail"}
    assert Notification.objects.get(pk=theirs.pk).read_at is None


def test_notifications_need_credentials_and_valid_filters(owner):
    assert client_for().get("/api/notifications/").status_code == 401
    assert client_for().post("/api/notifications/read-all/").status_code == 401
    response = client_for(owner).get("/api/notifications/", {"unread": "maybe"})
    assert response.status_code == 400 and error_fields(response) == {"unread"}


# --- health, docs, errors, throttling --------------------------------------------------------


def test_health_reports_database_and_broker_without_secrets(settings):
    response = client_for().get("/api/health/")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["database"]["ok"] and body["broker"]["ok"]
    assert "redis://" not in response.content.decode() and "postgres" not in response.content.decode()


def test_health_is_degraded_fast_when_the_broker_is_down(settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    started = timezone.now()
    response = client_for().get("/api/health/")
    assert response.status_code == 200
    assert response.json()["status"] == "degraded" and response.json()["broker"]["ok"] is False
    assert (timezone.now() - started).total_seconds() < 5


def test_schema_and_docs_are_served():
    schema = client_for().get("/api/schema/", {"format": "json"})
    assert schema.status_code == 200 and schema.json()["openapi"].startswith("3.")
    docs = client_for().get("/api/docs/")
    assert docs.status_code == 200 and b"swagger-ui" in docs.content
    assert b"cdn.jsdelivr" not in docs.content  # served from our own static files


def test_unknown_api_path_is_a_json_404(owner):
    response = client_for(owner).get("/api/nothing-here/")
    assert response.status_code == 404 and error_fields(response) == {"detail"}


def test_oversize_body_is_a_413_with_the_error_shape(question, forecaster, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    body = '{"probability": 0.5, "rationale": "' + "x" * 20_000 + '"}'
    response = client_for(forecaster).post(
        f"/api/questions/{question.pk}/forecasts/", data=body, content_type="application/json"
    )
    assert response.status_code == 413
    assert error_fields(response) == {"detail"}


def test_throttling_gives_a_429_with_the_error_shape(owner, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "2/minute", "user": "3/minute"},
    }
    client = client_for(owner)
    assert [client.get("/api/me/").status_code for _ in range(3)] == [200, 200, 200]
    throttled = client.get("/api/me/")
    assert throttled.status_code == 429
    assert error_fields(throttled) == {"detail"}
    assert int(throttled["Retry-After"]) > 0
    anonymous = client_for()
    statuses = [
        anonymous.post("/api/auth/token/", {"username": "x", "password": "y"}, format="json").status_code
        for _ in range(3)
    ]
    assert statuses == [400, 400, 429]
