"""The workbench's one box, the question page's story and the track records, through the admin's
real views: what they show, what they save, who may see them, and what they cost in queries."""

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from forecasts.models import Forecast, Question, Score
from forecasts.services import question_resolve, question_scores_recompute
from tests import factories
from tests.test_admin import QUESTION_ADD, QUESTION_LIST, count_queries, question_url
from tests.test_question_story import JUNK, resolved_question

pytestmark = pytest.mark.django_db


def box_url(question):
    return reverse("admin:forecasts_question_forecast_box", args=[question.pk])


def record_url(kind, pk):
    return reverse("admin:forecasts_score_track_record", args=[kind, pk])


def without_tokens(content: bytes) -> bytes:
    """A page without its CSRF tokens, which differ on every render."""
    return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"", content)


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


# The one box ----------------------------------------------------------------------------------------


def test_the_question_page_has_one_text_box_that_previews_through_the_api(client, forecaster, question):
    client.force_login(forecaster)
    page = client.get(question_url(question)).content.decode()
    assert '<input type="text" name="forecast"' in page
    assert 'data-preview-url="/api/forecast-input/"' in page
    assert "forecasts/forecast_box.js" in page
    assert 'name="percent"' not in page and 'type="number"' not in page


@pytest.mark.parametrize(
    ("typed", "probability", "phrase", "said"),
    [("70%", 0.7, "", "70%"), ("likely", 0.675, "likely", "67.5% - ICD 203: likely"), ("1 in 4", 0.25, "", "25%")],
)
def test_one_submit_saves_and_stays_on_the_page(client, forecaster, question, typed, probability, phrase, said):
    client.force_login(forecaster)
    page = question_url(question)
    response = client.post(box_url(question), {"forecast": typed, "rationale": "Talks stalled.", "next": page})
    assert response.status_code == 302 and response.url == page
    forecast = Forecast.objects.get()
    assert (forecast.probability, forecast.phrase, forecast.rationale) == (probability, phrase, "Talks stalled.")
    assert forecast.forecaster == forecaster
    shown = client.get(page)
    assert any(said in message for message in messages_of(shown))


def test_junk_in_the_box_saves_nothing_and_says_why(client, forecaster, question):
    client.force_login(forecaster)
    response = client.post(box_url(question), {"forecast": "abc", "next": QUESTION_LIST}, follow=True)
    assert response.redirect_chain[-1][0] == QUESTION_LIST
    assert any(JUNK in message for message in messages_of(response))
    assert not Forecast.objects.exists()


def test_the_box_goes_back_only_to_this_site(client, forecaster, question):
    client.force_login(forecaster)
    response = client.post(box_url(question), {"forecast": "0.4", "next": "https://elsewhere.example/"})
    assert response.url == question_url(question)


def test_the_box_follows_the_questions_visibility_and_permissions(client, forecaster, owner):
    team = factories.TeamFactory()
    hidden = factories.QuestionFactory(owner=owner, team=team)
    client.force_login(forecaster)
    assert client.post(box_url(hidden), {"forecast": "70%"}).status_code == 404
    reader = factories.UserFactory(is_staff=True)
    client.force_login(reader)
    assert client.post(box_url(factories.QuestionFactory(owner=owner)), {"forecast": "70%"}).status_code == 403
    assert not Forecast.objects.exists()


def test_the_list_has_a_box_per_open_question_posting_its_own_form(client, forecaster, owner):
    open_question = factories.QuestionFactory(owner=owner)
    closed = factories.QuestionFactory(owner=owner, status=Question.Status.AWAITING_RESOLUTION)
    client.force_login(forecaster)
    page = client.get(QUESTION_LIST).content.decode()
    assert f'form="forecast-box-{open_question.pk}"' in page
    assert f'<form id="forecast-box-{open_question.pk}" method="post" action="{box_url(open_question)}"' in page
    assert f"forecast-box-{closed.pk}" not in page


def test_the_list_box_costs_no_query_per_row(client, forecaster, owner):
    factories.QuestionFactory(owner=owner)
    client.force_login(forecaster)
    with_one = count_queries(client, QUESTION_LIST)
    for _ in range(5):
        factories.QuestionFactory(owner=owner)
    assert count_queries(client, QUESTION_LIST) == with_one


# A first forecast when filing ---------------------------------------------------------------------------


def question_form(**fields) -> dict:
    window_end = timezone.now() + timedelta(days=20)
    return {
        "title": "Will the ceasefire hold?",
        "kind": "other",
        "resolution_criteria": "YES if it holds.",
        "window_end_0": window_end.strftime("%Y-%m-%d"),
        "window_end_1": window_end.strftime("%H:%M:%S"),
        **fields,
    }


def test_filing_a_question_with_a_first_forecast(client, forecaster):
    client.force_login(forecaster)
    response = client.post(QUESTION_ADD, question_form(first_forecast="3:1"))
    assert response.status_code == 302
    question = Question.objects.get()
    forecast = Forecast.objects.get()
    assert (forecast.question, forecast.forecaster, forecast.probability) == (question, forecaster, 0.75)
    question.refresh_from_db()
    assert question.crowd_probability == 0.75


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"first_forecast": "abc"}, JUNK),
        ({"first_forecast": "70%", "draft": "on"}, "A draft takes no forecasts"),
    ],
)
def test_a_bad_first_forecast_files_nothing(client, forecaster, fields, message):
    client.force_login(forecaster)
    response = client.post(QUESTION_ADD, question_form(**fields))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["first_forecast"]
    assert any(message in error for error in errors)
    assert not Question.objects.exists() and not Forecast.objects.exists()


# The question page's story ------------------------------------------------------------------------------


def test_the_question_page_shows_the_chart_and_tells_the_edit_log_from_the_resolution_history(
    client, forecaster, question
):
    client.force_login(forecaster)
    page = client.get(question_url(question)).content.decode()
    assert f'src="/api/questions/{question.pk}/chart.svg?v=' in page
    assert "size=narrow" in page
    assert ">Edit log</a>" in page and ">History</a>" not in page


def test_a_resolved_question_shows_the_resolution_and_every_score_with_mine_highlighted(client, owner):
    question = resolved_question(owner, authors=3, sources=1)
    client.force_login(owner)
    response = client.get(question_url(question))
    page = response.content.decode()
    assert 'class="resolution-panel"' in page and "Nothing happened." in page
    assert page.count('<tr class="mine">') == 1
    mine = Score.objects.get(question=question, forecaster=owner)
    assert f"{mine.brier:.3f}" in page
    assert record_url("forecaster", owner.pk) in page
    assert record_url("source", Score.objects.get(question=question, source__isnull=False).source_id) in page


def test_the_question_page_query_count_does_not_grow(client, owner):
    client.force_login(owner)
    small = count_queries(client, question_url(resolved_question(owner, authors=2, sources=1, forecasts_each=1)))
    large = count_queries(client, question_url(resolved_question(owner, authors=6, sources=4, forecasts_each=4)))
    assert small == large


# Track records ---------------------------------------------------------------------------------------------


def us_intelligence_world(owner):
    """A source with statements made in December 2021, January 2022 and February 2022, each on
    its own resolved question; and one on a question of a team the viewer is not in."""
    source = factories.SourceFactory(name="US intelligence")
    made = {}
    for label, when, outcome in (
        ("december", datetime(2021, 12, 20, tzinfo=UTC), "no"),
        ("january", datetime(2022, 1, 14, tzinfo=UTC), "yes"),
        ("late-january", datetime(2022, 1, 31, 23, tzinfo=UTC), "no"),
        ("february", datetime(2022, 2, 3, tzinfo=UTC), "yes"),
    ):
        question = factories.QuestionFactory(
            owner=owner,
            title=f"The {label} question",
            window_start=when - timedelta(days=1),
            opened_at=when - timedelta(days=1),
            window_end=when + timedelta(days=30),
            closed_at=when + timedelta(days=30),
            status=Question.Status.AWAITING_RESOLUTION,
        )
        factories.source_statement(question, source, owner, when, 0.7, phrase="likely", yardstick="icd203")
        question_resolve(question=question, actor=owner, outcome=outcome, note="As reported.")
        question_scores_recompute(question_id=question.pk)
        made[label] = question
    return source, made


def test_a_sources_january_statements_on_one_page(client, owner, forecaster):
    source, _ = us_intelligence_world(owner)
    client.force_login(forecaster)
    response = client.get(record_url("source", source.pk), {"made_after": "2022-01-01", "made_before": "2022-02-01"})
    page = response.content.decode()
    assert response.status_code == 200
    assert "The january question" in page and "The late-january question" in page
    assert "The december question" not in page and "The february question" not in page
    summary = response.context["summary"]
    assert summary["n"] == 2
    assert summary["mean_brier"] == pytest.approx((0.3**2 + 0.7**2) / 2)
    assert "0.290" in page and "likely (ICD 203)" in page
    # A window ending at midnight shows its last day; one ending at 23:00 shows that day.
    assert "2022-01-13 – 2022-02-12" in page and "– 2022-02-13" not in page
    assert "2022-01-30 – 2022-03-02" in page
    assert "made_after=2022-01-01" in response.context["chart_url"]


def test_a_track_record_sorts_by_its_columns(client, owner, forecaster):
    source, _ = us_intelligence_world(owner)
    client.force_login(forecaster)
    by_brier = client.get(record_url("source", source.pk), {"o": "brier"}).context["rows"]
    assert [row["brier"] for row in by_brier] == sorted(row["brier"] for row in by_brier)
    by_question = client.get(record_url("source", source.pk), {"o": "-question"}).context["rows"]
    assert [row["question"] for row in by_question] == sorted((row["question"] for row in by_question), reverse=True)
    unknown = client.get(record_url("source", source.pk), {"o": "password"})
    assert unknown.status_code == 200 and len(unknown.context["rows"]) == 4


def test_a_track_record_downloads_as_csv_with_its_filters(client, owner, forecaster):
    source, _ = us_intelligence_world(owner)
    client.force_login(forecaster)
    url = reverse("admin:forecasts_score_track_record_csv", args=["source", source.pk])
    response = client.get(url, {"made_after": "2022-01-01", "made_before": "2022-02-01"})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert sorted(row["question"] for row in rows) == ["The january question", "The late-january question"]
    assert {row["phrase"] for row in rows} == {"likely"}
    assert rows[0]["outcome"] in ("0", "1")


def test_a_track_record_shows_only_what_the_viewer_may_see(client, owner, forecaster):
    source, made = us_intelligence_world(owner)
    team = factories.TeamFactory()
    Question.objects.filter(pk=made["january"].pk).update(team=team)
    Score.objects.filter(question=made["january"]).update(team=team)
    client.force_login(forecaster)
    page = client.get(record_url("source", source.pk)).content.decode()
    assert "The january question" not in page and "The december question" in page
    csv_url = reverse("admin:forecasts_score_track_record_csv", args=["source", source.pk])
    assert b"The january question" not in b"".join(client.get(csv_url).streaming_content)
    factories.TeamMembershipFactory(team=team, user=forecaster)
    assert "The january question" in client.get(record_url("source", source.pk)).content.decode()


def test_a_forecaster_the_viewer_may_not_see_is_the_same_404_as_a_missing_one(client, owner, forecaster):
    team = factories.TeamFactory()
    stranger = factories.ForecasterFactory(username="stranger")
    factories.ForecastFactory(question=factories.QuestionFactory(owner=owner, team=team), forecaster=stranger)
    client.force_login(forecaster)
    hidden = client.get(record_url("forecaster", stranger.pk))
    missing = client.get(record_url("forecaster", 999999))
    assert hidden.status_code == missing.status_code == 404
    assert without_tokens(hidden.content) == without_tokens(missing.content)
    assert "stranger" not in hidden.content.decode()
    assert client.get(record_url("nobody", forecaster.pk)).status_code == 404
    assert client.get(record_url("forecaster", forecaster.pk)).status_code == 200  # their own


def test_my_own_record_lists_my_scored_forecasts(client, owner):
    question = resolved_question(owner)
    client.force_login(owner)
    response = client.get(record_url("forecaster", owner.pk))
    assert question.title in response.content.decode()
    assert response.context["is_me"] and response.context["summary"]["n"] == 1


def test_track_records_are_linked_from_the_sources_list_and_the_calibration_page(client, owner, forecaster):
    source, _ = us_intelligence_world(owner)
    client.force_login(forecaster)
    assert record_url("source", source.pk) in client.get(reverse("admin:forecasts_source_changelist")).content.decode()
    calibration = client.get(reverse("admin:forecasts_calibrationreport_changelist")).content.decode()
    assert record_url("forecaster", forecaster.pk) in calibration and record_url("source", source.pk) in calibration


def test_a_track_record_costs_the_same_queries_whatever_its_length(client, owner, forecaster):
    source, _ = us_intelligence_world(owner)
    client.force_login(forecaster)
    url = record_url("source", source.pk)
    four = count_queries(client, url)
    for index in range(6):
        question = factories.QuestionFactory(
            owner=owner,
            window_end=timezone.now() - timedelta(days=2),
            closed_at=timezone.now() - timedelta(days=2),
            status=Question.Status.AWAITING_RESOLUTION,
        )
        factories.source_statement(question, source, owner, timezone.now() - timedelta(days=3 + index), 0.4)
        question_resolve(question=question, actor=owner, outcome="no", note="No.")
        question_scores_recompute(question_id=question.pk)
    assert count_queries(client, url) == four
