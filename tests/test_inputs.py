"""Hostile inputs answer with a 400 or a form error, never a 500: dates out of bounds, too many tags,
null bytes anywhere, percent conversions and ids that are not integers."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from forecasts import charts, services
from forecasts.models import MAX_TAGS, YEAR_BOUNDS_MESSAGE, Forecast, Profile, Question
from forecasts.views_actions import calendar_for_user
from tests import factories
from tests.api_support import client_for

pytestmark = pytest.mark.django_db

QUESTION_ADD = reverse("admin:forecasts_question_add")
CALIBRATION_BRIER_CHART = reverse("admin:forecasts_calibrationreport_brier_over_time")
LAST_MOMENT = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
YEAR_ONE = datetime(1, 1, 20, tzinfo=UTC)


def split_datetime(name: str, value) -> dict:
    if value is None:
        return {f"{name}_0": "", f"{name}_1": ""}
    return {f"{name}_0": value.date().isoformat(), f"{name}_1": value.strftime("%H:%M:%S")}


def admin_question_add(client, **overrides):
    data = {
        "title": "Will the ceasefire hold?",
        "kind": Question.Kind.OTHER,
        "resolution_criteria": "YES if it holds.",
        **split_datetime("window_end", timezone.now() + timedelta(days=30)),
        **split_datetime("resolve_by", None),
    }
    data.update(overrides)
    return client.post(QUESTION_ADD, data)


def form_errors(response) -> dict:
    assert response.status_code == 200, response.status_code
    return response.context["adminform"].form.errors


# Finding 5: dates out of bounds and too many tags -------------------------------------------------


def test_the_admin_refuses_dates_outside_the_years_the_api_allows(client, owner):
    client.force_login(owner)
    year_one = admin_question_add(client, **split_datetime("window_end", datetime(1, 1, 20, tzinfo=UTC)))
    assert form_errors(year_one)["window_end"] == [YEAR_BOUNDS_MESSAGE]
    far = admin_question_add(client, **split_datetime("window_end", LAST_MOMENT))
    assert form_errors(far)["window_end"] == [YEAR_BOUNDS_MESSAGE]
    resolve_by = admin_question_add(client, **split_datetime("resolve_by", LAST_MOMENT))
    assert form_errors(resolve_by)["resolve_by"] == [YEAR_BOUNDS_MESSAGE]
    statement = admin_question_add(client, source_statement_date="0001-01-01")
    assert form_errors(statement)["source_statement_date"] == [YEAR_BOUNDS_MESSAGE]
    assert not Question.objects.exists()


def test_the_admin_refuses_an_event_in_year_one(client, owner):
    question = factories.QuestionFactory(owner=owner)
    client.force_login(owner)
    posted = {"outcome": "yes", "note": "Seen.", **split_datetime("occurred_at", YEAR_ONE)}
    response = client.post(reverse("admin:forecasts_question_resolve", args=[question.pk]), posted)
    assert form_errors(response)["occurred_at"] == [YEAR_BOUNDS_MESSAGE]
    question.refresh_from_db()
    assert question.status == Question.Status.OPEN


def test_the_admin_refuses_more_tags_than_the_api(client, owner):
    client.force_login(owner)
    tags = ", ".join(f"tag-{number}" for number in range(MAX_TAGS + 1))
    assert "tags" in form_errors(admin_question_add(client, tags=tags))
    assert not Question.objects.exists()


def test_the_services_share_the_bounds_with_every_entry_point(owner):
    with pytest.raises(ValidationError) as error:
        services.question_create(owner=owner, title="t", resolution_criteria="c", window_end=LAST_MOMENT)
    assert error.value.message_dict["window_end"] == [YEAR_BOUNDS_MESSAGE]
    with pytest.raises(ValidationError) as error:
        services.question_create(
            owner=owner, title="t", resolution_criteria="c", window_end=timezone.now(), tags=range(MAX_TAGS + 1)
        )
    assert "tags" in error.value.message_dict
    question = factories.QuestionFactory(owner=owner, window_end=timezone.now() + timedelta(days=3))
    with pytest.raises(ValidationError) as error:
        services.forecast_submit(
            question=question,
            recorded_by=owner,
            probability=0.4,
            source=factories.SourceFactory(),
            made_at=YEAR_ONE,
            quote="q",
            url="https://example.org/",
        )
    assert error.value.message_dict["made_at"] == [YEAR_BOUNDS_MESSAGE]
    assert not Forecast.objects.exists()


def test_the_api_refuses_a_window_end_out_of_bounds(owner):
    body = {"title": "t", "resolution_criteria": "c", "window_end": "9999-12-31T23:59:59Z"}
    response = client_for(owner).post("/api/questions/", body, format="json")
    assert response.status_code == 400
    assert response.json()["window_end"] == [YEAR_BOUNDS_MESSAGE]


def test_a_score_dated_year_one_still_draws_the_brier_chart(client, owner):
    """A row from before the bounds (written straight to the database) cannot take the chart down."""
    question = factories.QuestionFactory(owner=owner, window_end=YEAR_ONE, resolve_by=YEAR_ONE)
    factories.ScoreFactory(question=question, forecaster=owner)
    factories.ScoreFactory(forecaster=owner)
    response = client_for(owner).get("/api/stats/brier-over-time.svg")
    assert response.status_code == 200
    client.force_login(owner)
    assert client.get(CALIBRATION_BRIER_CHART).status_code == 200


def test_the_chart_leaves_out_months_it_cannot_draw():
    months = [
        {"month": datetime(1, 1, 1, tzinfo=UTC), "n": 1, "mean_brier": 0.2, "mean_relative_brier": None},
        {"month": datetime(9999, 12, 1, tzinfo=UTC), "n": 1, "mean_brier": 0.2, "mean_relative_brier": None},
    ]
    assert charts.brier_over_time_chart_svg(months).startswith(b"<?xml")


def test_a_resolve_by_at_the_end_of_time_still_serves_the_calendar(client, owner):
    """A row from before the bounds: the feed's half-hour events stop at the last representable moment."""
    factories.QuestionFactory(owner=owner, window_end=LAST_MOMENT, resolve_by=LAST_MOMENT)
    feed = f"/calendar/{Profile.objects.for_user(owner).calendar_token}.ics"
    response = client.get(feed)
    assert response.status_code == 200
    assert b"99991231T235959Z" in response.content
    assert calendar_for_user(owner).to_ical()


# Finding 6: null bytes -------------------------------------------------------------------------

NUL_GETS = [
    "/calendar/%00.ics",
    "/admin/forecasts/question/?status__exact=%00",
    "/admin/forecasts/forecast/?yardstick__exact=%00",
    "/admin/autocomplete/?app_label=forecasts&model_name=question&field_name=tags&term=%00",
    "/admin/autocomplete/?app_label=forecasts&model_name=question&field_name=source&term=%00",
    "/api/questions/?search=%00",
    "/api/questions/?sea%00rch=1",
    "/api/questions/?tag=a%00b",
    "/api/sources/?search=%00",
]


@pytest.mark.parametrize("url", NUL_GETS)
def test_a_null_byte_anywhere_in_the_url_is_a_400(client, editor, url):
    client.force_login(editor)
    response = client.get(url)
    assert response.status_code == 400
    if url.startswith("/api/"):
        body = response.json()
        assert list(body.pop("codes").values()) == [["null_byte"]]
        assert list(body.values()) == [["The request contains a null byte."]]
    else:
        assert b"null byte" in response.content


def test_a_null_byte_in_a_form_field_or_a_json_body_is_a_400(client, owner, question):
    client.force_login(owner)
    assert admin_question_add(client, title="Ceasefire\x00").status_code == 400
    api = client_for(owner)
    body = {"title": "t\x00", "resolution_criteria": "c", "window_end": "2030-01-01T00:00:00Z"}
    response = api.post("/api/questions/", body, format="json")
    assert response.status_code == 400
    assert response.json() == {"title": ["The request contains a null byte."], "codes": {"title": ["null_byte"]}}
    # The JSON escape \u0000 decodes to a null byte as well.
    raw = b'{"title": "t\\u0000", "resolution_criteria": "c", "window_end": "2030-01-01T00:00:00Z"}'
    assert api.post("/api/questions/", raw, content_type="application/json").status_code == 400
    header = api.get("/api/questions/", HTTP_X_FORWARDED_FOR="1.2.3.4\x00")
    assert header.json() == {"detail": ["The request contains a null byte."], "codes": {"detail": ["null_byte"]}}
    assert not Question.objects.exclude(pk=question.pk).exists()


def test_text_fields_refuse_a_null_byte_by_name(owner):
    """The serializers say which field held it, for callers that get past the middleware (tests, scripts)."""
    from forecasts.api.serializers import QuestionWriteSerializer

    serializer = QuestionWriteSerializer(
        data={"title": "t\x00", "resolution_criteria": "c", "window_end": "2030-01-01T00:00:00Z"}
    )
    assert not serializer.is_valid()
    assert "title" in serializer.errors


# Finding 7: percents and ids ---------------------------------------------------------------------


@pytest.mark.parametrize(("percent", "stored"), [(99.9, 0.999), (0.1, 0.001), (57.7, 0.577), (33.3, 0.333)])
def test_a_percent_is_converted_in_decimal(question, forecaster, percent, stored):
    response = client_for(forecaster).post(
        f"/api/questions/{question.pk}/forecasts/", {"percent": percent}, format="json"
    )
    assert response.status_code == 201, response.content
    assert Forecast.objects.get().probability == stored


def test_the_admin_takes_a_percent_of_99_9(client, forecaster, question):
    client.force_login(forecaster)
    response = client.post(reverse("admin:forecasts_question_forecast", args=[question.pk]), {"forecast": "99.9%"})
    assert response.status_code == 302
    assert Forecast.objects.get().probability == 0.999


@pytest.mark.parametrize("team", [1.9, True, "1.5", "one", [1], {"id": 1}])
def test_an_id_must_be_an_integer(owner, team):
    team_row = factories.TeamFactory(pk=1)
    factories.TeamMembershipFactory(team=team_row, user=owner)
    body = {"title": "t", "resolution_criteria": "c", "window_end": "2030-01-01T00:00:00Z", "team": team}
    response = client_for(owner).post("/api/questions/", body, format="json")
    assert response.status_code == 400
    assert "team" in response.json()
    assert not Question.objects.exists()


def test_an_integral_id_is_taken(owner):
    team_row = factories.TeamFactory()
    factories.TeamMembershipFactory(team=team_row, user=owner)
    body = {"title": "t", "resolution_criteria": "c", "window_end": "2030-01-01T00:00:00Z", "team": team_row.pk}
    response = client_for(owner).post("/api/questions/", body, format="json")
    assert response.status_code == 201, response.content
    assert Question.objects.get().team == team_row


@pytest.mark.parametrize("source", [2.5, False])
def test_a_forecast_source_id_must_be_an_integer(question, forecaster, source):
    body = {
        "probability": 0.4,
        "source": source,
        "made_at": "2020-01-01T00:00:00Z",
        "quote": "q",
        "url": "https://e.org",
    }
    response = client_for(forecaster).post(f"/api/questions/{question.pk}/forecasts/", body, format="json")
    assert response.status_code == 400
    assert "source" in response.json()


@pytest.mark.parametrize("query", ["team=1.9", "owner=true", "source=1e0", "question=1.5"])
def test_an_id_filter_must_be_an_integer(forecaster, query):
    url = "/api/forecasts/" if query.startswith("question") else "/api/questions/"
    response = client_for(forecaster).get(f"{url}?{query}")
    assert response.status_code == 400
    assert query.split("=")[0] in response.json()


def test_a_date_before_the_bounds_is_refused_on_a_statement_date(owner):
    question = factories.QuestionFactory(owner=owner)
    question.source_statement_date = date(1, 1, 1)
    with pytest.raises(ValidationError) as error:
        question.full_clean()
    assert error.value.message_dict["source_statement_date"] == [YEAR_BOUNDS_MESSAGE]
