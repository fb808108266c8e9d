"""A question's story through the API: the one-box `forecast` field, the preview endpoint, the
chart of probability over time and every author's scores, with the question's visibility."""

from datetime import timedelta

import pytest
from django.utils import timezone

from forecasts.models import Forecast, Question, Source
from forecasts.services import forecast_submit, question_resolve, question_scores_recompute
from tests import factories
from tests.api_support import TOKEN_QUERIES, client_for

pytestmark = pytest.mark.django_db

JUNK = "Could not read 'abc' as a probability: type 70%, 0.7, 3:1, 1 in 4 or a phrase like 'likely'."


def resolved_question(owner, *, authors=2, sources=1, forecasts_each=2, outcome="no"):
    """A question whose window ran 10 days ending 5 days ago, forecast by `authors` users and
    `sources` sources, resolved and scored."""
    opened = (timezone.now() - timedelta(days=15)).replace(microsecond=0)
    question = factories.QuestionFactory(
        owner=owner,
        opened_at=opened,
        window_start=opened,
        window_end=opened + timedelta(days=10),
        closed_at=opened + timedelta(days=10),
        status=Question.Status.AWAITING_RESOLUTION,
    )
    people = [owner] + [factories.ForecasterFactory() for _ in range(authors - 1)]
    for index, person in enumerate(people):
        for step in range(forecasts_each):
            made_at = opened + timedelta(days=step + 1, hours=index)
            factories.ForecastFactory(
                question=question, forecaster=person, made_at=made_at, probability=0.2 + 0.1 * ((index + step) % 6)
            )
    for index in range(sources):
        source = Source.objects.filter(name=f"Agency {index}").first() or factories.SourceFactory(
            name=f"Agency {index}"
        )
        factories.source_statement(
            question, source, owner, opened + timedelta(days=2, hours=index), 0.7, phrase="likely", yardstick="icd203"
        )
    question_resolve(question=question, actor=owner, outcome=outcome, note="Nothing happened.")
    question_scores_recompute(question_id=question.pk)
    question.refresh_from_db()
    return question


# The one box in the API ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "probability", "phrase", "yardstick"),
    [
        ("70%", 0.7, "", ""),
        ("70", 0.7, "", ""),
        ("0.7", 0.7, "", ""),
        (".7", 0.7, "", ""),
        ("3:1", 0.75, "", ""),
        ("1 in 4", 0.25, "", ""),
        ("likely", 0.675, "likely", "icd203"),
        ("very unlikely", 0.125, "very unlikely", "icd203"),
        ("probable", 0.675, "likely", "icd203"),
        ("probably not", 0.3, "probably not", "kent"),
    ],
)
def test_the_api_takes_a_typed_forecast(question, forecaster, text, probability, phrase, yardstick):
    response = client_for(forecaster).post(
        f"/api/questions/{question.pk}/forecasts/", {"forecast": text, "rationale": "Why."}, format="json"
    )
    assert response.status_code == 201, response.json()
    created = Forecast.objects.get()
    assert (created.probability, created.phrase, created.yardstick) == (probability, phrase, yardstick)
    assert created.rationale == "Why."


def test_a_yardstick_picks_the_phrase_of_a_typed_forecast(question, forecaster):
    response = client_for(forecaster).post(
        f"/api/questions/{question.pk}/forecasts/", {"forecast": "probable", "yardstick": "kent"}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert Forecast.objects.get().probability == 0.75


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"forecast": "abc"}, "forecast", JUNK),
        ({"forecast": "100%"}, "forecast", "Must be between 0.1 and 99.9."),
        ({"forecast": "0"}, "forecast", "Must be between 0.001 and 0.999."),
        ({"forecast": "70%", "yardstick": "kent"}, "yardstick", "A yardstick goes with a phrase only."),
        (
            {"forecast": "70%", "probability": 0.7},
            "forecast",
            "Give exactly one of forecast, probability, percent or phrase.",
        ),
        ({}, "forecast", "Give exactly one of forecast, probability, percent or phrase."),
        ({"forecast": "7" * 101}, "forecast", "Ensure this field has no more than 100 characters."),
    ],
)
def test_a_typed_forecast_is_refused_naming_the_field(question, forecaster, body, field, message):
    response = client_for(forecaster).post(f"/api/questions/{question.pk}/forecasts/", body, format="json")
    assert response.status_code == 400
    assert message in response.json()[field]
    assert field in response.json()["codes"]
    assert not Forecast.objects.exists()


def test_the_old_fields_still_work(question, forecaster):
    client = client_for(forecaster)
    for body in ({"probability": 0.4}, {"percent": 40}, {"phrase": "likely"}):
        assert client.post(f"/api/questions/{question.pk}/forecasts/", body, format="json").status_code == 201
    assert Forecast.objects.count() == 3


@pytest.mark.parametrize(
    ("text", "description"),
    [("70%", "70%"), ("likely", "67.5% - ICD 203: likely"), ("3:1", "75%"), ("1 in 4", "25%")],
)
def test_the_preview_says_what_it_understood(forecaster, text, description):
    response = client_for(forecaster).get("/api/forecast-input/", {"forecast": text})
    assert response.status_code == 200
    assert response.json()["description"] == description


def test_the_preview_refuses_junk_as_the_submission_does(forecaster):
    response = client_for(forecaster).get("/api/forecast-input/", {"forecast": "abc"})
    assert response.status_code == 400
    assert response.json() == {"forecast": [JUNK], "codes": {"forecast": ["invalid"]}}
    assert client_for().get("/api/forecast-input/", {"forecast": "70%"}).status_code in (401, 403)


# The chart ----------------------------------------------------------------------------------------


def test_the_chart_is_an_svg_with_the_questions_visibility(access_world):
    public, team = access_world.questions["public"], access_world.questions["team_a"]
    member, outsider = access_world.users["member_a"], access_world.users["outsider"]
    response = client_for(member).get(f"/api/questions/{team.pk}/chart.svg")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert response.content.startswith(b"<?xml")
    assert client_for(outsider).get(f"/api/questions/{public.pk}/chart.svg").status_code == 200
    hidden = client_for(outsider).get(f"/api/questions/{team.pk}/chart.svg")
    missing = client_for(outsider).get("/api/questions/999999/chart.svg")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json() == missing.json()
    draft = access_world.questions["public_draft"]
    assert client_for(outsider).get(f"/api/questions/{draft.pk}/chart.svg").status_code == 404
    assert client_for(access_world.users["owner"]).get(f"/api/questions/{draft.pk}/chart.svg").status_code == 200
    assert client_for().get(f"/api/questions/{public.pk}/chart.svg").status_code in (401, 403)


def test_the_chart_names_sources_but_no_other_forecaster(owner):
    question = resolved_question(owner, authors=3, sources=2)
    svg = client_for(owner).get(f"/api/questions/{question.pk}/chart.svg").content.decode()
    for text in ("Agency 0", "Agency 1", "crowd median", "your forecasts", "question window", "closed"):
        assert f"<!-- {text} -->" in svg
    other = Forecast.objects.exclude(forecaster=owner).exclude(forecaster=None).first().forecaster
    assert other.username not in svg


def test_the_chart_of_a_question_without_forecasts(question, forecaster):
    svg = client_for(forecaster).get(f"/api/questions/{question.pk}/chart.svg").content.decode()
    assert "<!-- No forecasts yet -->" in svg


def test_a_blind_questions_chart_shows_the_crowd_only_once_the_viewer_has_forecast(owner, forecaster):
    question = factories.QuestionFactory(owner=owner, crowd_hidden="until_forecast")
    forecast_submit(question=question, recorded_by=owner, probability=0.9)
    made_at = max(question.window_start or question.opened_at, timezone.now() - timedelta(hours=1))
    factories.source_statement(question, factories.SourceFactory(name="Agency"), owner, made_at, 0.8)
    chart = f"/api/questions/{question.pk}/chart.svg"

    before = client_for(forecaster).get(chart).content.decode()
    forecast_submit(question=question, recorded_by=forecaster, probability=0.3)
    after = client_for(forecaster).get(chart).content.decode()

    assert "<!-- crowd median -->" not in before and "<!-- Agency -->" in before
    assert "<!-- Crowd hidden (blind forecasting) -->" in before
    assert "<!-- crowd median -->" in after and "<!-- your forecasts -->" in after and "hidden" not in after
    assert "<!-- crowd median -->" in client_for(owner).get(chart).content.decode()


@pytest.mark.parametrize("size", [1, 4])
def test_the_chart_costs_the_same_queries_whatever_the_forecasts(owner, django_assert_num_queries, size):
    question = resolved_question(owner, authors=size + 1, sources=size, forecasts_each=size)
    client = client_for(owner)
    # The token with its user and permissions, the question, its forecasts.
    with django_assert_num_queries(TOKEN_QUERIES + 2):
        assert client.get(f"/api/questions/{question.pk}/chart.svg").status_code == 200


# Scores -------------------------------------------------------------------------------------------


def test_every_authors_score_with_mine_marked(owner):
    question = resolved_question(owner, authors=3, sources=1)
    rows = client_for(owner).get(f"/api/questions/{question.pk}/scores/").json()
    assert len(rows) == 4
    assert [row["brier"] for row in rows] == sorted(row["brier"] for row in rows)
    mine = [row for row in rows if row["is_mine"]]
    assert len(mine) == 1 and mine[0]["forecaster"]["username"] == "owner"
    source = next(row for row in rows if row["author_type"] == "source")
    assert source["source"]["name"] == "Agency 0" and source["phrase"] == "likely"
    assert source["probability"] == 0.7 and source["brier"] == pytest.approx(0.49)
    assert set(rows[0]) >= {"log_loss", "time_averaged_brier", "relative_brier", "coverage", "made_at", "outcome"}


def test_scores_before_resolution_are_empty(question, forecaster):
    assert client_for(forecaster).get(f"/api/questions/{question.pk}/scores/").json() == []


def test_scores_of_a_hidden_question_are_the_same_404_as_a_missing_one(owner):
    team = factories.TeamFactory()
    factories.TeamMembershipFactory(team=team, user=owner)
    question = resolved_question(owner)
    Question.objects.filter(pk=question.pk).update(team=team)
    outsider = factories.ForecasterFactory()
    hidden = client_for(outsider).get(f"/api/questions/{question.pk}/scores/")
    assert hidden.status_code == 404
    assert hidden.json() == client_for(outsider).get("/api/questions/999999/scores/").json()


@pytest.mark.parametrize("size", [1, 5])
def test_scores_cost_the_same_queries_whatever_the_authors(owner, django_assert_num_queries, size):
    question = resolved_question(owner, authors=size + 1, sources=size)
    client = client_for(owner)
    with django_assert_num_queries(TOKEN_QUERIES + 2):
        assert len(client.get(f"/api/questions/{question.pk}/scores/").json()) == 2 * size + 1


def test_a_phone_gets_a_chart_drawn_for_its_width(owner):
    question = resolved_question(owner)
    client = client_for(owner)
    wide = client.get(f"/api/questions/{question.pk}/chart.svg").content
    narrow = client.get(f"/api/questions/{question.pk}/chart.svg", {"size": "narrow"}).content
    assert narrow.startswith(b"<?xml") and narrow != wide
    assert b"<!-- Agency 0 -->" in narrow
