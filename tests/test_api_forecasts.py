"""Forecasts through the API: a question's history and POST, the cursor-paged stream, the CSV export."""

import csv
import io
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from forecasts.api.serializers import ForecastSerializer, ForecastWriteSerializer, forecast_write_data
from forecasts.models import Forecast, Question
from tests import factories
from tests.api_support import ago, client_for, error_fields

pytestmark = pytest.mark.django_db


def forecasts_url(question):
    return f"/api/questions/{question.pk}/forecasts/"


@pytest.mark.parametrize(
    "data",
    [
        {"probability": 0.3}, {"probability": 0.001}, {"probability": 0.999}, {"probability": 0.0009},
        {"probability": 1}, {"probability": 0}, {"probability": True}, {"probability": "0.3"},
        {"probability": None}, {"probability": 0.3, "rationale": ""}, {"percent": 30}, {"status": "open"},
        {"probability": [0.3]}, {}, [0.3], "0.3",
    ],
)  # fmt: skip
def test_forecast_write_data_is_what_the_serializer_validates(data):
    serializer = ForecastWriteSerializer(data=data)
    if serializer.is_valid():
        found = forecast_write_data(data)
        assert found == dict(serializer.validated_data)
        assert [type(value) for value in found.values()] == [
            type(value) for value in serializer.validated_data.values()
        ]
        return
    with pytest.raises(ValidationError) as refused:
        forecast_write_data(data)
    assert refused.value.detail == serializer.errors


@pytest.mark.parametrize(
    "body, probability, phrase",
    [
        ({"probability": 0.7}, 0.7, ""),
        ({"percent": 35}, 0.35, ""),
        ({"phrase": "very likely", "yardstick": "icd203"}, 0.875, "very likely"),
        ({"phrase": "Highly Probable"}, 0.875, "very likely"),
        ({"phrase": "probably not", "yardstick": "kent"}, 0.3, "probably not"),
    ],
)
def test_forecast_with_a_probability_a_percent_or_a_phrase(question, forecaster, body, probability, phrase):
    response = client_for(forecaster).post(
        forecasts_url(question), {**body, "rationale": "Troop build-up."}, format="json"
    )
    assert response.status_code == 201, response.json()
    created = response.json()
    assert created["probability"] == pytest.approx(probability)
    assert created["phrase"] == phrase
    assert created["forecaster"] == {"id": forecaster.pk, "username": "forecaster"}
    assert created["source"] is None and created["rationale"] == "Troop build-up."
    question.refresh_from_db()
    assert question.forecast_count == 1 and question.crowd_probability == pytest.approx(probability)


def test_own_forecast_is_stamped_by_the_server(question, forecaster):
    with time_machine.travel("2026-06-01 09:30:00Z", tick=False):
        question.window_end = timezone.now() + timedelta(days=5)
        question.resolve_by = question.window_end
        question.save()
        response = client_for(forecaster).post(forecasts_url(question), {"percent": 60}, format="json")
    assert response.json()["made_at"] == "2026-06-01T09:30:00Z"


def test_record_a_sources_past_statement(question, forecaster):
    source = factories.SourceFactory(name="US intelligence")
    body = {
        "phrase": "likely",
        "source": source.pk,
        "made_at": ago(3).isoformat(),
        "quote": "Russia could launch an attack at any time.",
        "url": "https://example.org/statement",
    }
    response = client_for(forecaster).post(forecasts_url(question), body, format="json")
    assert response.status_code == 201, response.json()
    created = response.json()
    assert created["forecaster"] is None
    assert created["source"] == {"id": source.pk, "name": "US intelligence", "url": source.url}
    assert created["recorded_by"] == {"id": forecaster.pk, "username": "forecaster"}
    assert created["made_at"] < created["recorded_at"]
    stored = Forecast.objects.select_related("forecaster", "source", "recorded_by").get(pk=created["id"])
    assert created == ForecastSerializer(stored).data  # the hand-built answer is the serializer's


def test_the_answer_to_a_submission_is_what_the_serializer_gives(question, forecaster):
    response = client_for(forecaster).post(forecasts_url(question), {"phrase": "likely"}, format="json")
    assert response.status_code == 201, response.json()
    stored = Forecast.objects.select_related("forecaster", "source", "recorded_by").get(pk=response.json()["id"])
    assert response.json() == ForecastSerializer(stored).data


@pytest.mark.parametrize(
    "body, field",
    [
        ({"probability": 1.0}, "probability"),
        ({"probability": 0.0005}, "probability"),
        ({"percent": 100}, "percent"),
        ({"probability": "high"}, "probability"),
        ({"probability": [0.5]}, "probability"),
        ({"phrase": "a racing certainty"}, "phrase"),
        ({"phrase": "likely", "yardstick": "nato"}, "yardstick"),
        ({"probability": 0.5, "percent": 50}, "probability"),
        ({}, "forecast"),  # the one box is the field to fill
        ({"probability": 0.5, "made_at": "2022-01-01T00:00:00Z"}, "made_at"),
        ({"rationale": 42, "probability": {"value": 1}}, "probability"),
    ],
)
def test_forecast_validation(question, forecaster, body, field):
    response = client_for(forecaster).post(forecasts_url(question), body, format="json")
    assert response.status_code == 400, response.content
    assert field in error_fields(response)
    assert not Forecast.objects.exists()


def test_source_statement_in_the_future_is_a_400(question, forecaster):
    source = factories.SourceFactory()
    body = {
        "probability": 0.6,
        "source": source.pk,
        "made_at": (timezone.now() + timedelta(hours=2)).isoformat(),
        "quote": "q",
        "url": "https://example.org/s",
    }
    response = client_for(forecaster).post(forecasts_url(question), body, format="json")
    assert response.status_code == 400
    assert error_fields(response) == {"made_at"}


def test_source_statement_needs_quote_and_url(question, forecaster):
    source = factories.SourceFactory()
    response = client_for(forecaster).post(
        forecasts_url(question), {"probability": 0.6, "source": source.pk, "made_at": ago(2).isoformat()}, format="json"
    )
    assert response.status_code == 400
    assert error_fields(response) == {"quote", "url"}


def test_forecast_on_a_closed_question_is_a_409_conflict(owner, forecaster):
    closed = factories.QuestionFactory(
        owner=owner, status=Question.Status.AWAITING_RESOLUTION, window_end=ago(1), resolve_by=timezone.now()
    )
    response = client_for(forecaster).post(forecasts_url(closed), {"probability": 0.5}, format="json")
    assert response.status_code == 409
    assert error_fields(response) == {"question"}
    assert response.json()["codes"] == {"question": ["question_not_open"]}


def test_malformed_json_is_a_400(question, forecaster):
    response = client_for(forecaster).post(
        forecasts_url(question), data='{"probability": 0.7', content_type="application/json"
    )
    assert response.status_code == 400
    assert error_fields(response) == {"detail"}
    assert "JSON parse error" in response.json()["detail"][0]


def test_non_json_body_is_a_415(question, forecaster):
    response = client_for(forecaster).post(
        forecasts_url(question), data="probability=0.7", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 415
    assert error_fields(response) == {"detail"}


def test_forecast_needs_credentials_and_the_forecasters_permission(question, reader):
    assert client_for().post(forecasts_url(question), {"probability": 0.5}, format="json").status_code == 401
    response = client_for(reader).post(forecasts_url(question), {"probability": 0.5}, format="json")
    assert response.status_code == 403
    assert not Forecast.objects.exists()


def test_forecast_on_a_missing_question_is_a_404(forecaster):
    assert (
        client_for(forecaster).post("/api/questions/424242/forecasts/", {"probability": 0.5}, format="json").status_code
        == 404
    )


def test_question_history_is_oldest_first(question, forecaster, owner):
    later = factories.ForecastFactory(question=question, forecaster=owner, made_at=ago(1), probability=0.4)
    earlier = factories.ForecastFactory(question=question, forecaster=forecaster, made_at=ago(2), probability=0.8)
    factories.ForecastFactory(probability=0.1)  # another question's
    response = client_for(forecaster).get(forecasts_url(question))
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [earlier.pk, later.pk]
    assert client_for().get(forecasts_url(question)).status_code == 401
    assert client_for(forecaster).get("/api/questions/424242/forecasts/").status_code == 404


def test_forecast_stream_pages_by_cursor_without_counting(question, owner, forecaster):
    made = [
        factories.ForecastFactory(question=question, forecaster=forecaster, made_at=ago(10 - day)) for day in range(5)
    ]
    # two forecasts at the very same instant must both appear exactly once
    tie = factories.ForecastFactory(question=question, forecaster=owner, made_at=made[2].made_at)
    client = client_for(forecaster)
    seen, url = [], "/api/forecasts/?page_size=2"
    while url:
        body = client.get(url).json()
        assert "count" not in body
        seen += [row["id"] for row in body["results"]]
        url = body["next"]
    assert seen == [made[0].pk, made[1].pk, made[2].pk, tie.pk, made[3].pk, made[4].pk]


def test_forecast_stream_filters(question, owner, forecaster):
    source = factories.SourceFactory()
    other_question = factories.QuestionFactory(owner=owner)
    mine = factories.ForecastFactory(question=question, forecaster=forecaster, made_at=ago(5))
    theirs = factories.ForecastFactory(question=other_question, forecaster=owner, made_at=ago(3))
    statement = factories.ForecastFactory(
        question=question,
        forecaster=None,
        source=source,
        recorded_by=owner,
        made_at=ago(1),
        quote="q",
        url="https://e.org",
    )
    client = client_for(forecaster)

    def ids(**params):
        response = client.get("/api/forecasts/", params)
        assert response.status_code == 200, response.json()
        return [row["id"] for row in response.json()["results"]]

    assert ids(question=question.pk) == [mine.pk, statement.pk]
    assert ids(forecaster=owner.pk) == [theirs.pk]
    assert ids(source=source.pk) == [statement.pk]
    assert ids(made_after=ago(4).isoformat()) == [theirs.pk, statement.pk]
    assert ids(made_before=ago(2).isoformat()) == [mine.pk, theirs.pk]
    bad = client.get("/api/forecasts/", {"made_after": "soon", "question": "x"})
    assert bad.status_code == 400 and error_fields(bad) == {"made_after", "question"}
    assert client.get("/api/forecasts/", {"cursor": "garbage"}).status_code == 404
    assert client_for().get("/api/forecasts/").status_code == 401


def read_csv(response) -> list[dict]:
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_export_streams_csv_with_filters(question, owner, forecaster):
    question.title = '=HYPERLINK("http://evil")'
    question.save()
    factories.ForecastFactory(question=question, forecaster=forecaster, made_at=ago(2), probability=0.25)
    factories.ForecastFactory(question=question, forecaster=owner, made_at=ago(1), probability=0.75)
    response = client_for(forecaster).get("/api/forecasts/export.csv", {"forecaster": forecaster.pk})
    assert response.status_code == 200
    assert response.streaming
    rows = read_csv(response)
    assert len(rows) == 1
    assert rows[0]["forecaster"] == "forecaster" and rows[0]["probability"] == "0.25"
    assert rows[0]["question"].startswith("'=")  # a spreadsheet must not run it as a formula
    assert rows[0]["source"] == "" and rows[0]["outcome"] == ""


def test_export_accepts_a_csv_accept_header_and_needs_credentials(question, forecaster):
    factories.ForecastFactory(question=question, forecaster=forecaster)
    response = client_for(forecaster).get("/api/forecasts/export.csv", HTTP_ACCEPT="text/csv")
    assert response.status_code == 200 and len(read_csv(response)) == 1
    assert client_for().get("/api/forecasts/export.csv").status_code == 401
    bad = client_for(forecaster).get("/api/forecasts/export.csv", {"made_before": "never"})
    assert bad.status_code == 400 and error_fields(bad) == {"made_before"}


def test_export_errors_are_json_even_when_csv_was_asked_for():
    # found by schemathesis: a 401 used to be rendered as text/csv
    response = client_for().get("/api/forecasts/export.csv", {"format": "csv"}, HTTP_ACCEPT="text/csv")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert error_fields(response) == {"detail"}


@pytest.mark.parametrize("role", ["no_group", "outsider", "member_a", "removed"])
def test_forecasts_on_someone_elses_drafts_are_in_no_stream_and_no_export(access_world, role):
    client = client_for(access_world.users[role])
    draft_forecasts = {access_world.forecasts[row].pk for row in ("public_draft", "team_a_draft")}
    streamed = {row["id"] for row in client.get("/api/forecasts/").json()["results"]}
    exported = {
        row["question"]
        for row in csv.DictReader(
            io.StringIO(b"".join(client.get("/api/forecasts/export.csv").streaming_content).decode())
        )
    }
    assert streamed and not streamed & draft_forecasts
    assert exported and not exported & {access_world.questions[row].title for row in ("public_draft", "team_a_draft")}
    for row in ("public_draft", "team_a_draft"):
        filtered = client.get("/api/forecasts/", {"question": access_world.questions[row].pk}).json()
        assert filtered["results"] == []
