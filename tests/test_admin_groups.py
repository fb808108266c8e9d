"""The workbench's question groups: filing, forecasting on one row, the chart, resolving in one action."""

from datetime import UTC, datetime

import pytest
from django.test import Client

from forecasts import services
from forecasts.admin.forms import one_box_input
from forecasts.models import Forecast, Question, QuestionGroup
from tests.api_support import ago

pytestmark = pytest.mark.django_db

ADD = "/admin/forecasts/questiongroup/add/"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def group_url(group, action="change") -> str:
    return f"/admin/forecasts/questiongroup/{group.pk}/{action}/"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("30%", {"percent": 30.0}),
        ("30", {"percent": 30.0}),
        ("0.3", {"probability": 0.3}),
        (" very  likely ", {"phrase": "very likely"}),
        ("kent: probable", {"phrase": "probable", "yardstick": "kent"}),
    ],
)
def test_one_box_reads_percent_probability_or_phrase(text, expected):
    assert one_box_input(text) == expected


def test_a_forecaster_files_a_ladder_from_a_list_of_dates(forecaster):
    client = signed_in(forecaster)
    assert client.get(ADD).status_code == 200
    data = {
        "kind": "when",
        "title": "When will the ceasefire collapse",
        "resolution_criteria": "Shelling resumes.",
        "question_kind": "other",
        "window_ends": "2030-01-31\n2030-03-31",
    }
    refused = client.post(ADD, {**data, "window_ends": "2030-03-31\n2030-01-31"})
    assert refused.status_code == 200 and "Line 2: Each window end must come after" in refused.content.decode()
    assert not QuestionGroup.objects.exists()
    response = client.post(ADD, data)
    group = QuestionGroup.objects.get()
    assert response.status_code == 302 and response["Location"] == group_url(group)
    ends = list(Question.objects.filter(group=group).order_by("group_position").values_list("window_end", flat=True))
    assert ends == [datetime(2030, 2, 1, tzinfo=UTC), datetime(2030, 4, 1, tzinfo=UTC)]
    page = client.get(group_url(group)).content.decode()
    assert "by 31 Jan 2030" in page and "Forecast the group" in page


def test_a_whole_group_is_forecast_on_one_row_and_shown_as_a_chart(owner, forecaster):
    group = services.group_create(
        owner=owner,
        kind="which",
        title="Axis",
        resolution_criteria="First reported.",
        window_end=datetime(2030, 5, 1, tzinfo=UTC),
        options=["North", "East"],
    )
    client = signed_in(forecaster)
    form = client.get(group_url(group, "forecast"))
    assert form.status_code == 200 and 'name="member_0"' in form.content.decode()
    refused = client.post(group_url(group, "forecast"), {"member_0": "60%", "member_1": "60%"})
    assert refused.status_code == 200 and "must sum to 1" in refused.content.decode()
    assert not Forecast.objects.exists()
    done = client.post(group_url(group, "forecast"), {"member_0": "60%", "member_1": "likely", "normalize": "on"})
    assert done.status_code == 302
    assert Forecast.objects.filter(forecaster=forecaster).count() == 2
    chart = client.get(f"/admin/forecasts/questiongroup/{group.pk}/chart.svg")
    assert chart.status_code == 200 and chart["Content-Type"] == "image/svg+xml"


def test_the_owner_resolves_a_ladder_in_one_action(owner, forecaster):
    group = services.group_create(
        owner=owner,
        kind="when",
        title="Invasion",
        resolution_criteria="Offensive.",
        window_start=datetime(2022, 1, 14, tzinfo=UTC),
        window_ends=[datetime(2022, 2, 16, tzinfo=UTC), datetime(2022, 3, 1, tzinfo=UTC)],
    )
    assert signed_in(forecaster).get(group_url(group, "resolve")).status_code == 403
    client = signed_in(owner)
    refused = client.post(group_url(group, "resolve"), {"occurred_on": "2022-02-24"})
    assert refused.status_code == 200 and "Give the evidence" in refused.content.decode()
    response = client.post(group_url(group, "resolve"), {"occurred_on": "2022-02-24", "note": "Invasion began."})
    assert response.status_code == 302
    assert list(Question.objects.filter(group=group).order_by("group_position").values_list("outcome", flat=True)) == [
        "no",
        "yes",
    ]
    page = client.get(group_url(group)).content.decode()
    assert "the event occurred on 24 February 2022" in page and "Undo resolution" in page
    assert "Resolve the group" not in page
    again = client.get(group_url(group, "resolve"), follow=True)
    assert again.redirect_chain[-1][0].endswith(group_url(group)) and "already resolved" in again.content.decode()
    resent = client.post(group_url(group, "resolve"), {"occurred_on": "2022-02-10", "note": "Changed my mind."})
    assert resent.status_code == 302
    assert Question.objects.filter(group=group, outcome="yes").count() == 1


def test_a_hidden_group_is_the_admin_404_page(owner, team, outsider):
    group = services.group_create(
        owner=owner,
        kind="which",
        title="Secret",
        resolution_criteria="First reported.",
        window_end=ago(-30),
        options=["North", "East"],
        team=team,
    )
    client = signed_in(outsider)
    for action in ("change", "forecast", "resolve", "unresolve"):
        assert client.get(group_url(group, action)).status_code == 404
    assert client.get(f"/admin/forecasts/questiongroup/{group.pk}/chart.svg").status_code == 404
    assert "Secret" not in client.get("/admin/forecasts/questiongroup/").content.decode()
