"""The contract a generated client and a polling dashboard rely on.

Unknown and read-only fields are refused by name, every error message has a stable code, state
conflicts are a 409, the schema names every page and status apart, and pollers can ask for what
was recorded or changed since their last look.
"""

import csv
import io
from datetime import timedelta

import pandas
import pytest
from django.utils import timezone

from forecasts.models import Question
from tests import factories
from tests.api_support import ago, client_for, error_fields

pytestmark = pytest.mark.django_db

QUESTIONS = "/api/questions/"
EXPORT_TIMESTAMP_COLUMNS = ["made_at", "recorded_at", "window_start", "window_end", "occurred_at"]


# --- writes refuse what they do not take ---------------------------------------------------


def test_patch_with_a_read_only_and_an_unknown_field_is_a_400_naming_both(question, owner):
    response = client_for(owner).patch(
        f"{QUESTIONS}{question.pk}/", {"status": "resolved", "bogus": 1, "title": "Renamed"}, format="json"
    )
    assert response.status_code == 400
    assert error_fields(response) == {"status", "bogus"}
    assert response.json()["codes"] == {"status": ["read_only"], "bogus": ["unknown_field"]}
    question.refresh_from_db()
    assert (question.status, question.title) == ("open", question.title)
    assert question.title != "Renamed"


def test_unknown_fields_are_named_beside_other_errors_and_inside_nested_objects(question, owner):
    response = client_for(owner).patch(
        f"{QUESTIONS}{question.pk}/", {"title": "", "statement": {"quote": "q", "colour": "red"}}, format="json"
    )
    assert response.status_code == 400
    assert error_fields(response) == {"title", "statement.colour"}
    assert response.json()["codes"]["statement.colour"] == ["unknown_field"]


@pytest.mark.parametrize(
    "path, body, refused",
    [
        (
            "/api/questions/{id}/forecasts/",
            {"probability": 0.4, "question": 9, "made_by": "me"},
            {"question", "made_by"},
        ),
        ("/api/questions/{id}/resolve/", {"outcome": "annulled", "resolved_at": "2026-01-01"}, {"resolved_at"}),
        ("/api/sources/", {"name": "New source", "id": 5}, {"id"}),
        (
            "/api/me/",
            {"settings": {"digest_period": 60, "digest_period_minutes": 5}},
            {"settings.digest_period_minutes"},
        ),
        ("/api/auth/token/", {"username": "owner", "password": "x", "remember": True}, {"remember"}),
    ],
)
def test_every_write_refuses_unknown_and_read_only_fields(question, owner, path, body, refused):
    method = "patch" if path == "/api/me/" else "post"
    response = getattr(client_for(owner), method)(path.format(id=question.pk), body, format="json")
    assert response.status_code == 400, response.content
    assert refused <= error_fields(response)


def test_a_client_field_called_codes_cannot_clash_with_the_codes_map(question, owner):
    response = client_for(owner).patch(f"{QUESTIONS}{question.pk}/", {"codes": 1}, format="json")
    assert response.status_code == 400
    assert error_fields(response) == {"non_field_errors"}
    assert response.json()["codes"] == {"non_field_errors": ["unknown_field"]}


# --- every error has codes; state conflicts are 409 for owners and moderators alike ---------


def test_every_kind_of_error_carries_a_code_per_message(question, owner):
    client = client_for(owner)
    cases = [
        (client_for().get(QUESTIONS), 401, "not_authenticated"),
        (client.get("/api/nowhere/"), 404, "not_found"),
        (client.put(f"{QUESTIONS}{question.pk}/", {}, format="json"), 405, "method_not_allowed"),
        (
            client.post(QUESTIONS, "x=1", content_type="application/x-www-form-urlencoded"),
            415,
            "unsupported_media_type",
        ),
        (client.get(QUESTIONS, HTTP_ACCEPT="application/xml"), 406, "not_acceptable"),
    ]
    for response, status, code in cases:
        assert response.status_code == status, response.content
        error_fields(response)
        assert response.json()["codes"]["detail"] == [code]


def test_editing_a_resolved_question_is_the_same_409_for_owner_and_moderator(owner, editor):
    resolved = factories.QuestionFactory(
        owner=owner, status="resolved", outcome="no", resolved_at=ago(0), window_end=ago(1), resolve_by=ago(0)
    )
    answers = []
    for user in (owner, editor):
        response = client_for(user).patch(f"{QUESTIONS}{resolved.pk}/", {"title": "x"}, format="json")
        answers.append((response.status_code, response.json()))
    assert answers[0] == answers[1]
    assert answers[0][0] == 409 and answers[0][1]["codes"] == {"status": ["question_not_editable"]}


# --- ordering --------------------------------------------------------------------------------


def test_unknown_ordering_is_a_400_naming_ordering(question, owner):
    response = client_for(owner).get(QUESTIONS, {"ordering": "-popularity"})
    assert response.status_code == 400
    assert error_fields(response) == {"ordering"}
    assert response.json()["codes"] == {"ordering": ["invalid_choice"]}
    assert client_for(owner).get(QUESTIONS, {"ordering": "-updated_at,title"}).status_code == 200


# --- pollers ---------------------------------------------------------------------------------


def test_recorded_after_finds_a_backdated_statement_that_made_after_misses(question, owner):
    last_poll = timezone.now() - timedelta(minutes=5)
    source = factories.SourceFactory()
    statement = factories.ForecastFactory(
        question=question,
        forecaster=None,
        source=source,
        recorded_by=owner,
        quote="q",
        url="https://example.org/q",
        made_at=ago(30),
        recorded_at=timezone.now(),
    )
    factories.ForecastFactory(question=question, forecaster=owner, made_at=ago(20), recorded_at=ago(20))
    client = client_for(owner)
    made = client.get("/api/forecasts/", {"made_after": last_poll.isoformat()}).json()["results"]
    recorded = client.get("/api/forecasts/", {"recorded_after": last_poll.isoformat()}).json()["results"]
    assert made == [] and [forecast["id"] for forecast in recorded] == [statement.pk]
    export = client.get("/api/forecasts/export.csv", {"recorded_after": last_poll.isoformat()})
    rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert [int(row["forecast_id"]) for row in rows] == [statement.pk]


def test_questions_show_updated_at_and_filter_on_updated_after(owner):
    stale = factories.QuestionFactory(owner=owner)
    Question.objects.filter(pk=stale.pk).update(updated_at=ago(3))
    fresh = factories.QuestionFactory(owner=owner)
    response = client_for(owner).get(QUESTIONS, {"updated_after": ago(1).isoformat(), "ordering": "-updated_at"})
    assert [row["id"] for row in response.json()["results"]] == [fresh.pk]
    assert response.json()["results"][0]["updated_at"]
    assert client_for(owner).get(QUESTIONS, {"updated_after": "soon"}).status_code == 400


def test_export_has_ids_window_outcome_and_timestamps_pandas_parses(owner, forecaster):
    question = factories.QuestionFactory(
        owner=owner,
        window_start=ago(40),
        window_end=ago(1),
        resolve_by=ago(0),
        status="resolved",
        outcome="yes",
        resolved_at=ago(0),
    )
    Question.objects.filter(pk=question.pk).update(occurred_at=ago(2).replace(microsecond=0))
    source = factories.SourceFactory()
    whole_second = ago(10).replace(microsecond=0)  # once written without the fraction: mixed formats
    factories.ForecastFactory(
        question=question,
        forecaster=None,
        source=source,
        recorded_by=owner,
        quote="q",
        url="https://example.org/q",
        made_at=whole_second,
    )
    factories.ForecastFactory(question=question, forecaster=forecaster, made_at=ago(5))
    export = client_for(forecaster).get("/api/forecasts/export.csv")
    frame = pandas.read_csv(io.StringIO(b"".join(export.streaming_content).decode()))
    assert list(frame["forecaster_id"].fillna(0).astype(int)) == [0, forecaster.pk]
    assert list(frame["source_id"].fillna(0).astype(int)) == [source.pk, 0]
    assert set(frame["question_id"]) == {question.pk} and set(frame["outcome"]) == {"yes"}
    for column in EXPORT_TIMESTAMP_COLUMNS:
        parsed = pandas.to_datetime(frame[column])
        assert parsed.notna().all() and str(parsed.dt.tz) == "UTC", column
    assert pandas.to_datetime(frame["made_at"])[0] == pandas.Timestamp(whole_second)


# --- the schema ------------------------------------------------------------------------------


@pytest.fixture
def schema(client):
    return client.get("/api/schema/", {"format": "json"}).json()


def test_schema_names_the_cursor_page_apart_from_the_page_number_page(schema):
    def page_of(path):
        return schema["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]

    cursor, numbered = page_of("/api/forecasts/"), page_of("/api/questions/{id}/forecasts/")
    assert cursor != numbered
    components = schema["components"]["schemas"]
    assert "count" in components[numbered.rsplit("/", 1)[1]]["properties"]
    assert "count" not in components[cursor.rsplit("/", 1)[1]]["properties"]


def test_schema_documents_every_error_status(schema):
    token = schema["paths"]["/api/auth/token/"]["post"]["responses"]
    assert {"401", "405", "406", "415", "429", "503"} <= set(token)
    assert "Retry-After" in token["503"]["headers"] and "Retry-After" in token["429"]["headers"]
    assert "409" in schema["paths"]["/api/questions/{id}/"]["patch"]["responses"]
    assert "409" in schema["paths"]["/api/questions/{id}/resolve/"]["post"]["responses"]
    error = schema["components"]["schemas"]["Error"]
    assert error["properties"]["codes"]["additionalProperties"]["items"]["type"] == "string"


def test_schema_gives_the_export_its_filters_integer_ids_and_ordering_choices(schema):
    export = {
        parameter["name"]: parameter for parameter in schema["paths"]["/api/forecasts/export.csv"]["get"]["parameters"]
    }
    assert {"question", "forecaster", "source", "made_after", "made_before", "recorded_after"} <= set(export)
    assert "format" not in export
    assert export["question"]["schema"]["type"] == "integer"
    questions = {parameter["name"]: parameter for parameter in schema["paths"]["/api/questions/"]["get"]["parameters"]}
    assert all(questions[name]["schema"]["type"] == "integer" for name in ("owner", "team", "source"))
    assert {"-window_end", "updated_at"} <= set(questions["ordering"]["schema"]["enum"])
    assert "updated_after" in questions


def test_schema_describes_svg_and_forbids_unknown_request_fields(schema):
    chart = schema["paths"]["/api/stats/calibration.svg"]["get"]["responses"]["200"]
    assert chart["description"] and chart["content"]["image/svg+xml"]["schema"]["format"] == "binary"
    assert schema["components"]["schemas"]["PatchedQuestionWriteRequest"]["additionalProperties"] is False
