"""POST /api/intake/extract/ and /api/intake/accept/: a report's statements as draft questions."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from forecasts.intake import MAX_TEXT_LENGTH
from forecasts.models import Forecast, Question, Source
from tests import factories
from tests.api_support import client_for, error_fields

EXTRACT = "/api/intake/extract/"
ACCEPT = "/api/intake/accept/"
SEED_DOCUMENT = Path(__file__).resolve().parent.parent / "seeds" / "documents" / "000_235179012322d378.txt"
SEED_URL = "https://www.morningpress.net/russia-creating-false-pretext-to-invade-ukraine-us-intelligence-finds/"
FIELDS = {
    "quote", "speaker", "source", "phrase", "yardstick", "probability", "window_start", "window_end",
    "window_text", "window_is_vague", "kind", "title", "resolution_criteria",
}  # fmt: skip


def row_counts():
    return Question.objects.count(), Forecast.objects.count(), Source.objects.count()


def seed_report(**extra):
    return {"text": SEED_DOCUMENT.read_text(), "published_at": "2022-01-14", "url": SEED_URL, **extra}


def future_report():
    published = timezone.now().date() - timedelta(days=1)
    text = (
        "Envoys meet as the crisis deepens\n\n"
        "The mediators said a ceasefire could be agreed within the next 30 days.\n\n"
        "Commander Ivo Marsh said the rebels had no plans to withdraw this year."
    )
    return {"text": text, "published_at": published.isoformat(), "url": "https://example.org/r", "publisher": "Wire"}


@pytest.mark.django_db
def test_extract_answers_the_seed_reports_statements_and_writes_nothing(forecaster):
    kirby = factories.SourceFactory(name="John Kirby, Pentagon press secretary")
    before = row_counts()
    response = client_for(forecaster).post(EXTRACT, seed_report(publisher="Morning Press"), format="json")
    assert response.status_code == 200, response.content
    statements = response.json()["statements"]
    assert len(statements) >= 6
    assert all(set(statement) == FIELDS for statement in statements)
    invasion = next(s for s in statements if "between the middle of January" in s["quote"])
    assert (invasion["window_start"], invasion["window_end"], invasion["window_is_vague"]) == (
        "2022-01-15",
        "2022-02-15",
        False,
    )
    assert invasion["kind"] == "invasion_window" and invasion["yardstick"] == "hedge"
    assert next(s for s in statements if "very credible" in s["quote"])["source"] == kirby.pk
    assert row_counts() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": "Officials said it could happen."}, "published_at"),
        ({"published_at": "2022-01-14"}, "text"),
        ({"text": "x" * (MAX_TEXT_LENGTH + 1), "published_at": "2022-01-14"}, "text"),
        ({"text": "x", "published_at": "14/01/2022"}, "published_at"),
        ({"text": "x", "published_at": "2022-01-14", "colour": "red"}, "colour"),
    ],
)
def test_extract_refuses_a_report_naming_the_field(forecaster, body, field):
    response = client_for(forecaster).post(EXTRACT, body, format="json")
    assert response.status_code == 400
    assert error_fields(response) == {field}


@pytest.mark.django_db
def test_intake_needs_the_permission_to_file_questions(reader):
    assert client_for(reader).post(EXTRACT, seed_report(), format="json").status_code == 403
    assert client_for(reader).post(ACCEPT, seed_report(statements=[]), format="json").status_code == 403
    assert client_for().post(EXTRACT, seed_report(), format="json").status_code == 401


def extracted(user, report) -> list[dict]:
    return client_for(user).post(EXTRACT, report, format="json").json()["statements"]


@pytest.mark.django_db
def test_accept_creates_drafts_sources_and_the_sources_statements_once(forecaster):
    report = future_report()
    statements = extracted(forecaster, report)
    assert len(statements) == 2
    response = client_for(forecaster).post(ACCEPT, {**report, "statements": statements}, format="json")
    assert response.status_code == 201, response.content
    ids = response.json()["questions"]
    assert response.json()["created"] == ids and len(ids) == 2
    questions = Question.objects.filter(pk__in=ids).order_by("pk")
    assert {q.status for q in questions} == {Question.Status.DRAFT}
    assert {q.owner for q in questions} == {forecaster}
    assert sorted(Source.objects.values_list("name", flat=True)) == ["Commander Ivo Marsh", "the mediators"]
    for question, statement in zip(questions, statements, strict=True):
        forecast = Forecast.objects.get(question=question)
        assert forecast.source == question.source and forecast.forecaster is None
        assert forecast.made_at.date().isoformat() == report["published_at"]
        assert forecast.quote == statement["quote"] == question.source_quote
        assert forecast.url == report["url"] == question.source_url
        assert forecast.probability == pytest.approx(statement["probability"])
        assert question.window_end.date().isoformat() > statement["window_end"]  # the day after, exclusive
    before = row_counts()
    again = client_for(forecaster).post(ACCEPT, {**report, "statements": statements}, format="json")
    assert again.status_code == 200
    assert again.json() == {"questions": ids, "created": []}
    assert row_counts() == before


@pytest.mark.django_db
def test_past_statements_become_closed_questions_ready_to_resolve(forecaster):
    statements = extracted(forecaster, seed_report())
    chosen = [s for s in statements if "between the middle of January" in s["quote"]]
    chosen[0] = {**chosen[0], "phrase": "roughly even chance", "yardstick": "icd203", "title": "Will Russia invade?"}
    response = client_for(forecaster).post(ACCEPT, {**seed_report(), "statements": chosen}, format="json")
    assert response.status_code == 201, response.content
    question = Question.objects.get(pk=response.json()["questions"][0])
    assert question.status == Question.Status.AWAITING_RESOLUTION
    assert question.closed_at == question.window_end and question.title == "Will Russia invade?"
    forecast = question.forecasts.get()
    assert (forecast.phrase, forecast.yardstick, forecast.probability) == ("roughly even chance", "icd203", 0.5)


@pytest.mark.django_db
def test_accept_errors_name_the_statement_and_field_and_write_nothing(forecaster):
    report = future_report()
    good, other = extracted(forecaster, report)
    bad_window = {**other, "window_end": "2001-01-01"}
    before = row_counts()
    response = client_for(forecaster).post(ACCEPT, {**report, "statements": [good, bad_window]}, format="json")
    assert response.status_code == 400
    assert error_fields(response) == {"statements.1.window_end"}
    assert row_counts() == before
    response = client_for(forecaster).post(
        ACCEPT, {**report, "statements": [good, {**other, "source": 999999, "title": ""}]}, format="json"
    )
    assert response.status_code == 400
    assert error_fields(response) == {"statements.1.source", "statements.1.title"}
    response = client_for(forecaster).post(
        ACCEPT, {**report, "url": "", "statements": [{**good, "speaker": "", "source": None}]}, format="json"
    )
    assert response.status_code == 400 and error_fields(response) == {"url"}
    report["url"] = "https://example.org/other"
    response = client_for(forecaster).post(
        ACCEPT, {**report, "statements": [good, {**other, "speaker": "", "source": None}]}, format="json"
    )
    assert response.status_code == 400 and error_fields(response) == {"statements.1.speaker"}
    assert row_counts() == before


@pytest.mark.django_db
def test_another_analyst_accepting_the_same_report_gets_their_own_drafts(forecaster, outsider):
    report = future_report()
    statements = extracted(forecaster, report)
    mine = client_for(forecaster).post(ACCEPT, {**report, "statements": statements}, format="json").json()
    theirs = client_for(outsider).post(ACCEPT, {**report, "statements": statements}, format="json").json()
    assert set(mine["questions"]).isdisjoint(theirs["questions"])
    assert Source.objects.count() == 2  # the sources are shared


@pytest.mark.django_db
def test_a_draft_takes_a_sources_statement_but_not_its_owners_forecast(owner):
    from forecasts.exceptions import StateConflict
    from forecasts.services import forecast_submit

    draft = factories.QuestionFactory(owner=owner, status=Question.Status.DRAFT, opened_at=None)
    source = factories.SourceFactory()
    made_at = timezone.now() - timedelta(days=1)
    forecast = forecast_submit(
        question=draft,
        recorded_by=owner,
        source=source,
        made_at=made_at,
        probability=0.3,
        quote="q",
        url="https://x.org",
    )
    assert forecast.source == source
    with pytest.raises(StateConflict):
        forecast_submit(question=draft, recorded_by=owner, probability=0.3)
