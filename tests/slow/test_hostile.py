"""Hostile input: bodies too big or too deep, injection strings in every text field, and forged
cross-site writes.

The schemathesis runs (owner, outsider, anonymous) live in test_api_fuzz.py beside this module,
the visibility matrix in tests/test_api_visibility.py (statistics: tests/test_api_stats.py),
signed links in tests/test_lifecycle.py, `check --deploy` in tests/test_commands.py and a dropped
database connection in test_faults.py.
"""

import csv
import io
import json
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from forecasts import services
from forecasts.models import Forecast, Question, ResolutionEvent, Source
from tests import factories
from tests.api_support import client_for, error_fields, soon

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

SQL = "x'); DROP TABLE forecasts_forecast; -- \" OR 1=1 --"
SCRIPT = "<script>alert('forewarn')</script>"
IMAGE = '<img src=x onerror="alert(1)">'
PAYLOAD = f"{SQL} {SCRIPT} {IMAGE} &amp; ünïcødé"
ESCAPED_SCRIPT = "&lt;script&gt;alert(&#x27;forewarn&#x27;)&lt;/script&gt;"


def deeply_nested(depth: int, opener: str = "[", closer: str = "]") -> str:
    return opener * depth + closer * depth


# Bodies too deep or too big


@pytest.mark.parametrize(
    "method, path",
    [
        ("post", "/api/questions/"),
        ("post", "/api/questions/{question}/forecasts/"),
        ("post", "/api/questions/{question}/resolve/"),
        ("patch", "/api/questions/{question}/"),
        ("post", "/api/sources/"),
        ("patch", "/api/me/"),
        ("post", "/api/auth/token/"),
    ],
)
@pytest.mark.parametrize("body", [deeply_nested(10_000), '{"a":' * 10_000 + "1" + "}" * 10_000])
def test_a_body_nested_ten_thousand_deep_is_a_400_not_a_500(owner, question, method, path, body):
    response = getattr(client_for(owner), method)(
        path.format(question=question.pk), data=body, content_type="application/json"
    )
    assert response.status_code == 400, response.content[:300]
    assert error_fields(response) == {"detail"}
    assert "nested too deeply" in response.json()["detail"][0]
    assert Question.objects.count() == 1 and not Forecast.objects.exists()


def test_a_body_nested_a_few_hundred_deep_is_a_field_error(owner, question):
    body = {"probability": json.loads(deeply_nested(500)), "rationale": json.loads(deeply_nested(500))}
    response = client_for(owner).post(f"/api/questions/{question.pk}/forecasts/", body, format="json")
    assert response.status_code == 400
    assert error_fields(response) <= {"probability", "rationale"}
    assert not Forecast.objects.exists()


@pytest.mark.parametrize(
    "path", ["/api/questions/", "/api/questions/{question}/forecasts/", "/api/sources/", "/api/auth/token/"]
)
def test_an_oversize_body_is_a_413_on_every_write_endpoint(owner, question, settings, path):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    body = {"rationale": "x" * 20_000, "title": "y" * 20_000, "name": "z" * 20_000, "username": "u" * 20_000}
    response = client_for(owner).post(path.format(question=question.pk), body, format="json")
    assert response.status_code == 413
    assert error_fields(response) == {"detail"}
    assert Question.objects.count() == 1 and not Forecast.objects.exists() and not Source.objects.exists()


def test_an_oversize_admin_form_is_refused_without_saving(client, owner, question, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    client.force_login(owner)
    response = client.post(
        reverse("admin:forecasts_question_forecast", args=[question.pk]), {"percent": "30", "rationale": "x" * 20_000}
    )
    assert response.status_code == 400
    assert not Forecast.objects.exists()


# Injection strings: stored verbatim, returned verbatim as JSON, escaped in HTML


def test_injection_strings_in_every_api_text_field_are_stored_and_returned_verbatim(owner, forecaster):
    api = client_for(owner)
    source = api.post(
        "/api/sources/",
        {"name": PAYLOAD[:200], "kind": "person", "url": "https://example.org/a", "description": PAYLOAD},
        format="json",
    )
    assert source.status_code == 201, source.json()
    created = api.post(
        "/api/questions/",
        {
            "title": PAYLOAD,
            "details": PAYLOAD,
            "resolution_criteria": PAYLOAD,
            "source": source.json()["id"],
            "statement": {
                "quote": PAYLOAD,
                "date": (timezone.now() - timedelta(days=2)).date().isoformat(),
                "url": "https://example.org/said",
            },
            "window_end": soon(10).isoformat(),
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    question_id = created.json()["id"]
    forecast = client_for(forecaster).post(
        f"/api/questions/{question_id}/forecasts/", {"probability": 0.4, "rationale": PAYLOAD}, format="json"
    )
    assert forecast.status_code == 201, forecast.json()
    statement = api.post(
        f"/api/questions/{question_id}/forecasts/",
        {
            "percent": 20,
            "source": source.json()["id"],
            "made_at": (timezone.now() - timedelta(days=1)).isoformat(),
            "quote": PAYLOAD,
            "url": "https://example.org/quote",
            "rationale": PAYLOAD,
        },
        format="json",
    )
    assert statement.status_code == 201, statement.json()
    resolved = api.post(
        f"/api/questions/{question_id}/resolve/",
        {"outcome": "yes", "evidence_url": "https://example.org/e", "note": PAYLOAD},
        format="json",
    )
    assert resolved.status_code == 200, resolved.json()
    undone = api.post(f"/api/questions/{question_id}/unresolve/", {"note": PAYLOAD}, format="json")
    assert undone.status_code == 200, undone.json()

    question = Question.objects.get(pk=question_id)
    assert (question.title, question.details, question.resolution_criteria, question.source_quote) == (PAYLOAD,) * 4
    assert Source.objects.get().description == PAYLOAD
    assert set(Forecast.objects.values_list("rationale", flat=True)) == {PAYLOAD}
    assert Forecast.objects.get(source__isnull=False).quote == PAYLOAD
    assert list(ResolutionEvent.objects.values_list("note", flat=True)) == [PAYLOAD, PAYLOAD]
    assert Forecast.objects.count() == 2  # the DROP TABLE was only ever text

    shown = api.get(f"/api/questions/{question_id}/").json()
    assert (shown["title"], shown["details"], shown["resolution_criteria"], shown["statement"]["quote"]) == (
        PAYLOAD,
    ) * 4
    assert {row["rationale"] for row in api.get(f"/api/questions/{question_id}/forecasts/").json()["results"]} == {
        PAYLOAD
    }
    assert [row["note"] for row in api.get(f"/api/questions/{question_id}/history/").json()["results"]] == [PAYLOAD] * 2
    assert api.get(f"/api/sources/{source.json()['id']}/").json()["description"] == PAYLOAD
    listing = api.get("/api/questions/", {"search": SQL, "tag": "x'--"})
    assert listing.status_code in (200, 400)
    export = b"".join(api.get("/api/forecasts/export.csv").streaming_content).decode()
    assert export.count(SCRIPT) >= 2


@pytest.mark.parametrize(
    "credentials", [{"username": PAYLOAD, "password": SQL}, {"username": SQL, "password": PAYLOAD}]
)
def test_injection_strings_as_credentials_are_refused_cleanly(credentials):
    response = APIClient().post("/api/auth/token/", credentials, format="json")
    assert response.status_code == 400
    assert SCRIPT not in response.content.decode()


def test_admin_pages_escape_injection_strings(client, owner, forecaster):
    source = factories.SourceFactory(name=PAYLOAD[:200], description=PAYLOAD)
    question = factories.QuestionFactory(
        owner=owner, title=PAYLOAD, details=PAYLOAD, resolution_criteria=PAYLOAD, source=source, source_quote=PAYLOAD
    )
    services.forecast_submit(question=question, recorded_by=forecaster, probability=0.3, rationale=PAYLOAD)
    factories.NotificationFactory(user=forecaster, question=question, message=PAYLOAD)
    client.force_login(forecaster)
    pages = [
        reverse("admin:forecasts_question_changelist"),
        reverse("admin:forecasts_question_change", args=[question.pk]),
        reverse("admin:forecasts_question_forecast", args=[question.pk]),
        reverse("admin:forecasts_forecast_changelist"),
        reverse("admin:forecasts_forecast_changelist") + "?q=%3Cscript%3E",
        reverse("admin:forecasts_source_changelist"),
        reverse("admin:forecasts_source_change", args=[source.pk]),
        reverse("admin:forecasts_notification_changelist"),
    ]
    for page in pages:
        response = client.get(page)
        assert response.status_code == 200, page
        html = response.content.decode()
        assert "&lt;script&gt;alert(" in html, page
        assert SCRIPT not in html and IMAGE not in html, page


def test_digest_email_escapes_injection_strings_in_html_and_keeps_text_verbatim(owner, mailoutbox):
    window_end = timezone.now() - timedelta(minutes=5)
    factories.QuestionFactory(
        owner=owner, title=PAYLOAD, window_end=window_end, resolve_by=window_end + timedelta(days=3)
    )
    services.lifecycle_sweep()
    delivery_ids = services.digests_prepare()
    assert len(delivery_ids) == 1
    assert services.digest_deliver(delivery_id=delivery_ids[0])
    [email] = mailoutbox
    html = email.alternatives[0][0]
    assert "&lt;script&gt;alert(" in html and SCRIPT not in html and IMAGE not in html
    assert SCRIPT in email.body  # plain text is not HTML: the title as typed
    assert "\n" not in email.subject and SCRIPT not in email.subject


# CSRF on session-authenticated writes


def test_api_writes_with_a_session_need_the_csrf_token(owner, question):
    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(owner)
    path = f"/api/questions/{question.pk}/forecasts/"
    forged = browser.post(path, {"probability": 0.4}, format="json")
    assert forged.status_code == 403
    assert "CSRF" in forged.json()["detail"][0]
    assert browser.patch("/api/me/", {"digest_period": 30}, format="json").status_code == 403
    assert browser.post("/api/notifications/read-all/").status_code == 403
    assert not Forecast.objects.exists()

    token = browser.get(reverse("admin:forecasts_question_forecast", args=[question.pk])).cookies["csrftoken"].value
    accepted = browser.post(path, {"probability": 0.4}, format="json", HTTP_X_CSRFTOKEN=token)
    assert accepted.status_code == 201
    assert browser.get(path).status_code == 200, "reads need no token"
    # A script with a token is not a browser: no cookie, no CSRF.
    assert client_for(owner).post(path, {"probability": 0.5}, format="json").status_code == 201
    assert Forecast.objects.count() == 2


def test_admin_writes_need_the_csrf_token(owner, question):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(owner)
    forecast_page = reverse("admin:forecasts_question_forecast", args=[question.pk])
    assert browser.post(forecast_page, {"forecast": "30%"}).status_code == 403
    assert browser.post(reverse("admin:forecasts_question_add"), {"title": "Forged"}).status_code == 403
    assert browser.post(reverse("admin:logout")).status_code == 403
    assert not Forecast.objects.exists()

    token = browser.get(forecast_page).cookies["csrftoken"].value
    response = browser.post(forecast_page, {"forecast": "30%", "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert Forecast.objects.count() == 1


def test_the_admin_login_itself_needs_the_csrf_token(forecaster):
    browser = Client(enforce_csrf_checks=True)
    response = browser.post("/admin/login/", {"username": "forecaster", "password": "correct-horse-battery"})
    assert response.status_code == 403
    assert "_auth_user_id" not in browser.session


@pytest.mark.parametrize("formula", ['=HYPERLINK("https://evil.example","x")', "+1+1", "-2+3", "@SUM(A1)"])
def test_formula_injection_is_neutralised_in_the_csv_export_and_kept_verbatim_in_json(owner, formula):
    question = factories.QuestionFactory(owner=owner, title=formula)
    api = client_for(owner)
    assert api.post(f"/api/questions/{question.pk}/forecasts/", {"probability": 0.3}, format="json").status_code == 201
    assert api.get(f"/api/questions/{question.pk}/").json()["title"] == formula
    export = b"".join(api.get("/api/forecasts/export.csv").streaming_content).decode()
    [row] = list(csv.DictReader(io.StringIO(export)))
    assert row["question"] == "'" + formula, "a spreadsheet shows it as text instead of running it"
