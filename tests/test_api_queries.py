"""Every list endpoint runs the same number of SQL queries for a page of 1 row and a page of 100.

The numbers are pinned, so an N+1 (or a new per-request query) shows up as a failing test. A
request authenticated by token costs one query (the token with its user and the user's
permissions, so asking whether a non-moderator is a moderator costs nothing more).
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from forecasts.models import LatestForecast
from tests import factories
from tests.api_support import TOKEN_QUERIES, ago, client_for

pytestmark = pytest.mark.django_db

ROWS = 110


@pytest.fixture
def busy(owner, forecaster, team):
    """A team with many questions (tagged, sourced), forecasts, notifications and a long history."""
    factories.TeamMembershipFactory(team=team, user=forecaster)
    tags = [factories.TagFactory(name=name) for name in ("ukraine", "russia", "nato")]
    sources = factories.SourceFactory.create_batch(ROWS)
    questions = []
    for index in range(ROWS):
        question = factories.QuestionFactory(owner=owner, team=team if index % 2 else None, source=sources[index])
        question.tags.set(tags[: 1 + index % 3])
        questions.append(question)
    hot = questions[1]
    for index in range(ROWS):
        factories.ForecastFactory(
            question=hot, forecaster=forecaster if index % 3 else owner, made_at=ago(ROWS - index)
        )
        factories.ForecastFactory(question=questions[index], forecaster=owner, made_at=ago(ROWS - index))
    forecast = factories.ForecastFactory(question=hot, forecaster=forecaster, made_at=ago(0.1), probability=0.42)
    LatestForecast.objects.create(
        question=hot, forecaster=forecaster, forecast=forecast, probability=0.42, made_at=forecast.made_at
    )
    for index in range(ROWS):
        factories.NotificationFactory(user=forecaster, question=questions[index])
        factories.ResolutionEventFactory(
            question=hot,
            actor=owner,
            action="unresolve" if index % 2 else "resolve",
            outcome="" if index % 2 else "yes",
        )
    return {"hot": hot}


LIST_ENDPOINTS = [
    # (path, expected queries, page parameter): the token (with the permissions) + the view's own
    ("/api/questions/", TOKEN_QUERIES + 2, "page_size"),  # count, page (with its tags)
    ("/api/questions/{hot}/forecasts/", TOKEN_QUERIES + 3, "page_size"),  # the question (visible?), count, page
    ("/api/questions/{hot}/history/", TOKEN_QUERIES + 3, "page_size"),  # the question (visible?), count, page
    ("/api/forecasts/", TOKEN_QUERIES + 1, "page_size"),  # page only: the cursor never counts
    ("/api/sources/", 1 + 2, "page_size"),  # sources are public (no moderator check): count, page
    ("/api/notifications/", TOKEN_QUERIES + 2, "page_size"),  # count, page
]


@pytest.mark.parametrize("path, expected, page_parameter", LIST_ENDPOINTS)
def test_list_query_count_does_not_grow_with_the_page(
    busy, forecaster, django_assert_num_queries, path, expected, page_parameter
):
    url = path.format(hot=busy["hot"].pk)
    for page_size in (1, 100):
        client = client_for(forecaster)
        with django_assert_num_queries(expected):
            response = client.get(url, {page_parameter: page_size})
        assert response.status_code == 200
        assert len(response.json()["results"]) == page_size


def test_a_late_question_page_costs_what_the_first_does(busy, forecaster, django_assert_num_queries):
    """A late page picks its ids inside the page query: no query more than page 1."""
    client = client_for(forecaster)
    for page in (1, 11):
        with django_assert_num_queries(TOKEN_QUERIES + 2):
            response = client.get("/api/questions/", {"page_size": 10, "page": page})
        assert response.status_code == 200 and len(response.json()["results"]) == 10


def test_export_is_one_streaming_query_whatever_its_length(busy, forecaster):
    client = client_for(forecaster)
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/forecasts/export.csv")
        lines = b"".join(response.streaming_content).decode().splitlines()
    assert len(lines) == 1 + 2 * ROWS + 1
    assert len(queries) == TOKEN_QUERIES + 1


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="the one statement is PostgreSQL's")
def test_a_submission_is_four_queries(question, forecaster, django_assert_num_queries):
    """Token, user and permissions in one; then, in the service's transaction, the question locked
    through the visibility filter, and the insert with the standing forecast and the question's
    counts and crowd in one statement (the savepoint pair is the test's transaction around the service's)."""
    client = client_for(forecaster)
    with django_assert_num_queries(1 + 1 + 1 + 2) as captured:
        response = client.post(f"/api/questions/{question.pk}/forecasts/", {"probability": 0.3}, format="json")
    assert response.status_code == 201, response.content
    statements = [query["sql"].split()[0] for query in captured.captured_queries]
    assert statements == ["SELECT", "SAVEPOINT", "SELECT", "WITH", "RELEASE"], statements
    assert "INSERT INTO forecasts_forecast" in captured.captured_queries[3]["sql"]
