"""Question groups through the API: filing, forecasting, resolving and scoring `when` ladders and
`which` sets, with every 400, the visibility rule, the leaderboard filter and constant query counts."""

import math
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from forecasts import scoring, services
from forecasts.models import Forecast, Question, QuestionGroup, ResolutionEvent, Score
from tests import factories
from tests.api_support import TOKEN_QUERIES, ago, client_for, error_fields, soon

pytestmark = pytest.mark.django_db


def iso(moment: datetime) -> str:
    return moment.isoformat()


def when_body(ends=(5, 10, 20), **extra) -> dict:
    base = soon(0).replace(microsecond=0)
    return {
        "kind": "when",
        "title": "Will the offensive begin",
        "resolution_criteria": "YES once regular forces cross the border.",
        "window_start": iso(ago(1)),
        "window_ends": [iso(base + timedelta(days=days)) for days in ends],
        **extra,
    }


def which_body(options=("North", "East", "South"), **extra) -> dict:
    return {
        "kind": "which",
        "title": "Where will the main thrust come from",
        "resolution_criteria": "The axis major agencies report first.",
        "window_end": iso(soon(10)),
        "options": list(options),
        **extra,
    }


def filed(user, body) -> dict:
    response = client_for(user).post("/api/groups/", body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def historical_when(owner, *, ends=((2022, 2, 16), (2022, 3, 1), (2022, 4, 1))) -> QuestionGroup:
    """A ladder whose windows all ended long ago (a historical record, awaiting resolution)."""
    return services.group_create(
        owner=owner,
        kind="when",
        title="Invasion",
        resolution_criteria="A full-scale offensive.",
        window_start=datetime(2022, 1, 14, tzinfo=UTC),
        window_ends=[datetime(*end, tzinfo=UTC) for end in ends],
    )


def closed_which(owner) -> QuestionGroup:
    """A set of three options whose window closed two days ago."""
    return services.group_create(
        owner=owner,
        kind="which",
        title="Axis",
        resolution_criteria="First reported.",
        window_end=ago(2),
        options=["North", "East", "South"],
        opened_at=ago(10),
    )


# Filing ---------------------------------------------------------------------------------------


def test_a_when_ladder_is_filed_with_one_member_per_window_end(owner):
    body = filed(owner, when_body())
    assert body["kind"] == "when" and body["status"] == "open" and len(body["members"]) == 3
    assert [member["position"] for member in body["members"]] == [0, 1, 2]
    assert all(member["group"]["id"] == body["id"] and member["group"]["kind"] == "when" for member in body["members"])
    assert body["members"][0]["title"].startswith("Will the offensive begin: by ")
    ends = [member["window_end"] for member in body["members"]]
    assert ends == sorted(ends)
    assert len({member["window_start"] for member in body["members"]}) == 1
    # Members are ordinary questions: in the question list, marked with their group.
    listed = client_for(owner).get("/api/questions/").json()["results"]
    assert {row["group"]["position"] for row in listed if row["group"]} == {0, 1, 2}


def test_a_which_set_is_filed_with_one_member_per_option(owner):
    body = filed(owner, which_body())
    assert [member["option_label"] for member in body["members"]] == ["North", "East", "South"]
    assert len({member["window_end"] for member in body["members"]}) == 1
    assert body["distribution"]["raw"] == [None, None, None]


@pytest.mark.parametrize(
    "body, field, code",
    [
        (when_body(ends=(10, 5, 20)), "window_ends.1", "not_increasing"),
        (when_body(ends=(10, 10)), "window_ends.1", "not_increasing"),
        (when_body(ends=(10,)), "window_ends", "too_few_members"),
        (when_body(ends=range(1, 52)), "window_ends", "too_many_members"),
        (when_body(window_start=iso(soon(6))), "window_ends.0", "before_start"),
        (which_body(options=("North", "north ", "South")), "options.1", "duplicate_option"),
        (which_body(options=("North",)), "options", "too_few_members"),
        (which_body(options=[f"Option {n}" for n in range(51)]), "options", "too_many_members"),
        (which_body(options=("North", "  ")), "options.1", "blank"),
        ({**which_body(), "window_end": None}, "window_end", "null"),
        ({key: value for key, value in which_body().items() if key != "window_end"}, "window_end", "required"),
        (when_body(colour="red"), "colour", "unknown_field"),
        (when_body(kind="how"), "kind", "invalid_choice"),
    ],
)
def test_every_bad_group_is_a_400_naming_the_field_and_files_nothing(owner, body, field, code):
    response = client_for(owner).post("/api/groups/", body, format="json")
    assert response.status_code == 400, response.json()
    assert field in error_fields(response)
    assert response.json()["codes"][field] == [code]
    assert not QuestionGroup.objects.exists() and not Question.objects.exists()


def test_a_group_for_a_team_one_is_not_in_is_refused_whole(owner):
    team = factories.TeamFactory()
    response = client_for(owner).post("/api/groups/", when_body(team=team.pk), format="json")
    assert response.status_code == 400 and "team" in error_fields(response)
    assert not QuestionGroup.objects.exists() and not Question.objects.exists()


def test_a_draft_group_is_its_owners_until_opened(owner, forecaster):
    group = filed(owner, when_body(draft=True))
    assert group["status"] == "draft" and {member["status"] for member in group["members"]} == {"draft"}
    assert client_for(forecaster).get(f"/api/groups/{group['id']}/").status_code == 404
    refused = client_for(owner).patch(f"/api/groups/{group['id']}/", {"draft": True}, format="json")
    assert refused.status_code == 400 and "draft" in error_fields(refused)
    opened = client_for(owner).patch(f"/api/groups/{group['id']}/", {"draft": False}, format="json")
    assert opened.status_code == 200 and opened.json()["status"] == "open"
    assert client_for(forecaster).get(f"/api/groups/{group['id']}/").status_code == 200
    again = client_for(owner).patch(f"/api/groups/{group['id']}/", {"draft": False}, format="json")
    assert again.status_code == 409 and again.json()["codes"] == {"draft": ["group_not_draft"]}


# Forecasting ----------------------------------------------------------------------------------


def test_a_coherent_ladder_forecast_records_one_forecast_per_member(owner, forecaster):
    group = filed(owner, when_body())
    response = client_for(forecaster).post(
        f"/api/groups/{group['id']}/forecasts/", {"probabilities": [0.2, 0.5, 0.5]}, format="json"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert [member["my_probability"] for member in body["members"]] == [0.2, 0.5, 0.5]
    assert body["distribution"]["raw"] == [0.2, 0.5, 0.5]
    assert body["distribution"]["masses"] == [0.2, 0.3, 0.0, 0.5]
    assert not body["distribution"]["incoherent"]
    assert Forecast.objects.count() == 3


def test_a_decreasing_ladder_is_a_400_naming_the_first_offending_index(owner, forecaster):
    group = filed(owner, when_body(ends=(5, 10, 20, 30)))
    response = client_for(forecaster).post(
        f"/api/groups/{group['id']}/forecasts/", {"probabilities": [0.2, 0.5, 0.4, 0.3]}, format="json"
    )
    assert response.status_code == 400
    assert error_fields(response) == {"probabilities.2"}
    assert response.json()["codes"]["probabilities.2"] == ["not_monotone"]
    assert not Forecast.objects.exists()


def test_which_probabilities_must_sum_to_one_or_be_normalised(owner, forecaster):
    group = filed(owner, which_body())
    path = f"/api/groups/{group['id']}/forecasts/"
    client = client_for(forecaster)
    refused = client.post(path, {"probabilities": [0.5, 0.3, 0.3]}, format="json")
    assert refused.status_code == 400 and refused.json()["codes"] == {"probabilities": ["not_summing_to_one"]}
    assert client.post(path, {"probabilities": [0.5, 0.3, 0.204]}, format="json").status_code == 201  # within 0.005
    normalised = client.post(path, {"probabilities": [2, 1, 1], "normalize": True}, format="json")
    assert normalised.status_code == 400  # each probability is still one: 2 is not
    normalised = client.post(path, {"percent_list": [1]}, format="json")
    assert normalised.status_code == 400 and "percent_list" in error_fields(normalised)
    scaled = client.post(path, {"probabilities": [0.4, 0.2, 0.2], "normalize": True}, format="json")
    assert scaled.status_code == 201
    assert [member["my_probability"] for member in scaled.json()["members"]] == pytest.approx([0.5, 0.25, 0.25])


def test_forecasts_take_every_input_form_of_the_question_api(owner, forecaster):
    group = filed(owner, when_body())
    forecasts = [{"percent": 10}, {"phrase": "roughly even chance"}, {"phrase": "likely", "yardstick": "icd203"}]
    response = client_for(forecaster).post(
        f"/api/groups/{group['id']}/forecasts/", {"forecasts": forecasts, "rationale": "Build-up."}, format="json"
    )
    assert response.status_code == 201, response.json()
    rows = list(Forecast.objects.order_by("question__group_position").values_list("probability", "phrase"))
    assert rows[0] == (0.1, "") and rows[1][1] == "roughly even chance" and rows[2][1] == "likely"


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"forecasts": [{"percent": 10}, {"phrase": "no idea"}, {"percent": 90}]}, "forecasts.1.phrase"),
        ({"forecasts": [{"percent": 10}, {}, {"percent": 90}]}, "forecasts.1.forecast"),
        ({"probabilities": [0.1, 0.2]}, "probabilities"),
        ({"probabilities": [0.1, 0.2, 1.5]}, "probabilities.2"),
        ({}, "probabilities"),
        ({"probabilities": [0.1, 0.2, 0.3], "forecasts": [{"percent": 1}] * 3}, "probabilities"),
    ],
)
def test_bad_group_forecasts_are_400s_naming_the_field_and_record_nothing(owner, forecaster, payload, field):
    group = filed(owner, when_body())
    response = client_for(forecaster).post(f"/api/groups/{group['id']}/forecasts/", payload, format="json")
    assert response.status_code == 400, response.json()
    assert field in error_fields(response)
    assert not Forecast.objects.exists()


def test_a_member_that_refuses_rolls_back_the_whole_group_forecast(owner, forecaster):
    group = filed(owner, when_body())
    member = Question.objects.get(group_id=group["id"], group_position=2)
    services.question_annul(question=member, actor=owner)
    response = client_for(forecaster).post(
        f"/api/groups/{group['id']}/forecasts/", {"probabilities": [0.1, 0.2, 0.3]}, format="json"
    )
    assert response.status_code == 409 and "probabilities.2.question" in error_fields(response)
    assert not Forecast.objects.exists()


# Resolving ------------------------------------------------------------------------------------


def test_a_ladder_resolves_by_the_date_the_event_occurred(owner):
    group = historical_when(owner)
    response = client_for(owner).post(
        f"/api/groups/{group.pk}/resolve/", {"occurred_on": "2022-02-24", "note": "Invasion."}, format="json"
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert [member["outcome"] for member in body["members"]] == ["no", "yes", "yes"]
    assert body["status"] == "resolved"
    events = ResolutionEvent.objects.filter(question__group=group)
    assert events.count() == 3 and set(events.values_list("action", flat=True)) == {"resolve"}
    occurred = set(Question.objects.filter(group=group, outcome="yes").values_list("occurred_at", flat=True))
    assert occurred == {datetime(2022, 2, 24, tzinfo=UTC)}


def test_not_by_resolves_every_rung_no_and_undo_and_annul_apply_to_the_whole_group(owner):
    group = historical_when(owner)
    client = client_for(owner)
    assert client.post(f"/api/groups/{group.pk}/resolve/", {"not_by": True}, format="json").status_code == 200
    assert set(Question.objects.filter(group=group).values_list("outcome", flat=True)) == {"no"}
    undone = client.post(f"/api/groups/{group.pk}/unresolve/", {"note": "Wrong."}, format="json")
    assert undone.status_code == 200 and undone.json()["status"] == "awaiting_resolution"
    annulled = client.post(f"/api/groups/{group.pk}/resolve/", {"annul": True}, format="json")
    assert annulled.status_code == 200 and annulled.json()["status"] == "annulled"
    history = ResolutionEvent.objects.filter(question__group=group).order_by("question__group_position", "id")
    assert [event.action for event in history if event.question.group_position == 0] == [
        "resolve",
        "unresolve",
        "annul",
    ]
    assert history.count() == 9


def test_a_which_set_resolves_with_the_winning_option(owner):
    group = closed_which(owner)
    response = client_for(owner).post(f"/api/groups/{group.pk}/resolve/", {"option": 1}, format="json")
    assert response.status_code == 200
    assert [member["outcome"] for member in response.json()["members"]] == ["no", "yes", "no"]


def test_a_member_resolved_on_its_own_moves_the_groups_status(owner):
    group = closed_which(owner)
    first, second, third = Question.objects.filter(group=group).order_by("group_position")
    assert group.status == Question.Status.AWAITING_RESOLUTION
    services.question_resolve(question=first, actor=owner, outcome="no", note="Not this one.")
    group.refresh_from_db()
    assert group.status == Question.Status.AWAITING_RESOLUTION  # two members still wait
    services.question_resolve(question=second, actor=owner, outcome="yes", note="This one.")
    services.question_annul(question=third, actor=owner, note="Withdrawn.")
    group.refresh_from_db()
    assert group.status == Question.Status.RESOLVED
    assert client_for(owner).get(f"/api/groups/{group.pk}/").json()["status"] == "resolved"
    services.question_unresolve(question=second, actor=owner, note="Misreported.")
    group.refresh_from_db()
    assert group.status == Question.Status.AWAITING_RESOLUTION


@pytest.mark.parametrize(
    "payload, field",
    [
        ({}, "occurred_on"),
        ({"occurred_on": "2022-02-24", "not_by": True}, "occurred_on"),
        ({"option": 1}, "option"),
        ({"occurred_on": "24 Feb"}, "occurred_on"),
        ({"annul": True, "not_by": True}, "not_by"),
    ],
)
def test_bad_ladder_resolutions_are_400s_naming_the_field(owner, payload, field):
    group = historical_when(owner)
    response = client_for(owner).post(f"/api/groups/{group.pk}/resolve/", payload, format="json")
    assert response.status_code == 400 and field in error_fields(response), response.json()
    assert not ResolutionEvent.objects.exists()


def test_an_open_ladder_cannot_resolve_not_by_and_nothing_is_half_resolved(owner):
    group = filed(owner, when_body(ends=(-1, 5), window_start=iso(ago(3))))
    response = client_for(owner).post(f"/api/groups/{group['id']}/resolve/", {"not_by": True}, format="json")
    assert response.status_code == 400 and "members.1.outcome" in error_fields(response)
    assert not ResolutionEvent.objects.exists()


def test_only_the_owner_or_a_moderator_resolves_a_group(owner, forecaster, editor):
    group = historical_when(owner)
    assert (
        client_for(forecaster).post(f"/api/groups/{group.pk}/resolve/", {"not_by": True}, format="json").status_code
        == 403
    )
    assert (
        client_for(editor).post(f"/api/groups/{group.pk}/resolve/", {"not_by": True}, format="json").status_code == 200
    )


# Visibility ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method, suffix, payload",
    [
        ("get", "", None),
        ("get", "scores/", None),
        ("post", "forecasts/", {"probabilities": [0.1, 0.2, 0.3]}),
        ("post", "resolve/", {"not_by": True}),
        ("post", "unresolve/", {}),
    ],
)
def test_a_hidden_group_answers_exactly_like_a_missing_one(owner, team, outsider, method, suffix, payload):
    hidden = filed(owner, when_body(team=team.pk))
    draft = filed(owner, when_body(draft=True))
    client = client_for(outsider)

    def answer(group_id):
        response = getattr(client, method)(f"/api/groups/{group_id}/{suffix}", payload, format="json")
        return response.status_code, response.content.replace(str(group_id).encode(), b"<id>")

    missing = answer(9_999_999)
    assert missing[0] == 404
    assert answer(hidden["id"]) == missing and answer(draft["id"]) == missing
    assert client.get("/api/groups/").json()["count"] == 0
    assert not Forecast.objects.exists() and not ResolutionEvent.objects.exists()


def test_members_of_a_hidden_group_are_hidden_like_any_team_question(owner, team, outsider, teammate):
    group = filed(owner, when_body(team=team.pk))
    member_id = group["members"][0]["id"]
    assert client_for(outsider).get(f"/api/questions/{member_id}/").status_code == 404
    assert client_for(teammate).get(f"/api/questions/{member_id}/").status_code == 200
    assert client_for(teammate).get(f"/api/groups/{group['id']}/").status_code == 200


# Scores ----------------------------------------------------------------------------------------


def scored_ladder(owner, forecasters, probabilities):
    """A historical ladder forecast by each forecaster (made before the first end), resolved 24 Feb 2022."""
    group = historical_when(owner)
    members = services.members_of(group)
    for forecaster, values in zip(forecasters, probabilities, strict=True):
        for member, value in zip(members, values, strict=True):
            factories.StandingForecastFactory(
                question=member, forecaster=forecaster, probability=value, made_at=datetime(2022, 1, 20, tzinfo=UTC)
            )
    services.group_resolve(group=group, actor=owner, occurred_on=datetime(2022, 2, 24, 3, tzinfo=UTC))
    for member in members:
        services.question_scores_recompute(question_id=member.pk)
    return group


def test_ladder_scores_are_the_rps_which_equals_the_mean_member_brier(owner, forecaster, editor):
    group = scored_ladder(owner, [forecaster, editor], [[0.2, 0.6, 0.9], [0.5, 0.5, 0.5]])
    response = client_for(forecaster).get(f"/api/groups/{group.pk}/scores/")
    assert response.status_code == 200
    rows = {row["name"]: row for row in response.json()}
    mine = rows["forecaster"]
    expected = ((0.2 - 0) ** 2 + (0.6 - 1) ** 2 + (0.9 - 1) ** 2) / 3
    assert mine["ranked_probability_score"] == pytest.approx(expected)
    member_briers = Score.objects.filter(question__group=group, forecaster=forecaster).values_list("brier", flat=True)
    assert mine["ranked_probability_score"] == pytest.approx(sum(member_briers) / 3)
    assert mine["mean_brier"] == pytest.approx(mine["ranked_probability_score"]) and mine["complete"]
    assert [row["name"] for row in response.json()] == ["forecaster", "editor"]  # best first


def test_which_scores_are_multiclass_brier_and_log_score(owner, forecaster):
    group = closed_which(owner)
    for member, value in zip(services.members_of(group), [0.2, 0.7, 0.1], strict=True):
        factories.StandingForecastFactory(question=member, forecaster=forecaster, probability=value, made_at=ago(5))
    services.group_resolve(group=group, actor=owner, option=1)
    for member in services.members_of(group):
        services.question_scores_recompute(question_id=member.pk)
    (row,) = client_for(forecaster).get(f"/api/groups/{group.pk}/scores/").json()
    assert row["multiclass_brier"] == pytest.approx(0.04 + 0.09 + 0.01)
    assert row["log_score"] == pytest.approx(-math.log(0.7))


def test_the_leaderboard_filters_by_group(owner, forecaster, editor):
    group = scored_ladder(owner, [forecaster], [[0.2, 0.6, 0.9]])
    other = factories.QuestionFactory(owner=owner, window_end=ago(3), opened_at=ago(10), status="awaiting_resolution")
    factories.StandingForecastFactory(question=other, forecaster=editor, made_at=ago(5))
    services.question_resolve(question=other, actor=owner, outcome="yes")
    services.question_scores_recompute(question_id=other.pk)
    client = client_for(editor)
    everyone = client.get("/api/stats/leaderboard/").json()["results"]
    in_group = client.get(f"/api/stats/leaderboard/?group={group.pk}").json()["results"]
    assert {row["name"] for row in everyone} == {"forecaster", "editor"}
    assert [(row["name"], row["n"]) for row in in_group] == [("forecaster", 3)]


def test_a_members_scores_count_in_calibration_like_any_question(owner, forecaster):
    scored_ladder(owner, [forecaster], [[0.2, 0.6, 0.9]])
    calibration = client_for(forecaster).get("/api/stats/calibration/?forecaster=me").json()
    assert calibration["n"] == 3


# Query counts -----------------------------------------------------------------------------------


def group_with(owner, forecasters, members: int) -> QuestionGroup:
    group = services.group_create(
        owner=owner,
        kind="when",
        title="Ladder",
        resolution_criteria="It happens.",
        window_start=ago(1),
        window_ends=[soon(days) for days in range(1, members + 1)],
    )
    for member in services.members_of(group):
        member.tags.add(factories.TagFactory(name=f"tag-{member.pk}"))
        for forecaster in forecasters:
            factories.StandingForecastFactory(question=member, forecaster=forecaster, made_at=ago(0.5))
    return group


GROUP_QUERIES = {
    # the token with its user and permissions + the view's own
    "/api/groups/": TOKEN_QUERIES + 4,  # count, page, members, their tags
    "/api/groups/{id}/": TOKEN_QUERIES + 3,  # the group, its members, their tags
    "/api/groups/{id}/scores/": TOKEN_QUERIES + 3 + 1,  # the group as above, then the scores
}


@pytest.mark.parametrize("path", list(GROUP_QUERIES))
def test_group_reads_take_the_same_queries_whatever_the_members_and_forecasts(owner, path):
    counts = []
    client = client_for(owner)
    for members, authors in ((2, 1), (12, 6)):
        forecasters = factories.ForecasterFactory.create_batch(authors)
        group = group_with(owner, forecasters, members)
        client.get("/api/groups/")  # warm the token's user
        with CaptureQueriesContext(connection) as queries:
            response = client.get(path.format(id=group.pk))
        assert response.status_code == 200
        counts.append(len(queries))
    assert counts == [GROUP_QUERIES[path]] * 2, counts


def test_a_group_forecast_costs_three_queries_per_member_and_a_constant(owner, forecaster):
    counts = []
    for members in (2, 6):
        group = group_with(owner, [], members)
        client = client_for(forecaster)
        client.get("/api/groups/")
        values = [round(0.1 + 0.05 * index, 2) for index in range(members)]
        with CaptureQueriesContext(connection) as queries:
            response = client.post(f"/api/groups/{group.pk}/forecasts/", {"probabilities": values}, format="json")
        assert response.status_code == 201
        # Savepoints (each member's forecast_submit is atomic) are not round trips worth counting.
        counts.append(sum(1 for query in queries if "SAVEPOINT" not in query["sql"]))
    per_member = (counts[1] - counts[0]) / 4
    print(f"\ngroup forecast queries: {counts[0]} for 2 members, {counts[1]} for 6 ({per_member:g} per member)")
    # Lock the member (with its visibility), then insert the forecast and refresh the crowd (one
    # statement on PostgreSQL; SQLite inserts, moves the standing forecast and recomputes apart).
    assert per_member == (2 if connection.vendor == "postgresql" else 5)


# Pure functions -----------------------------------------------------------------------------------


def test_coherent_distribution_of_the_crowd_is_flagged_when_it_differs_by_more_than_five_points():
    from forecasts.selectors import implied_distribution

    coherent = implied_distribution("when", [0.2, 0.5, 0.52])
    assert not coherent.incoherent and coherent.coherent == [0.2, 0.5, 0.52]
    crossed = implied_distribution("when", [0.2, 0.6, 0.4])
    assert crossed.coherent == pytest.approx([0.2, 0.5, 0.5]) and crossed.incoherent
    assert scoring.coherent_distribution("which", [0.5, None, 0.5]) == [0.5, None, 0.5]
    assert implied_distribution("which", [0.6, 0.6]).coherent == [0.5, 0.5]


def test_a_blind_crowd_stays_hidden_in_the_group_distribution(owner, forecaster, teammate):
    group = filed(owner, when_body())
    Question.objects.filter(group_id=group["id"]).update(crowd_hidden="until_close")
    path = f"/api/groups/{group['id']}/forecasts/"
    assert client_for(forecaster).post(path, {"probabilities": [0.2, 0.5, 0.7]}, format="json").status_code == 201
    seen = client_for(teammate).get(f"/api/groups/{group['id']}/").json()
    assert seen["distribution"]["raw"] == [None, None, None] and seen["distribution"]["coherent"] == [None] * 3
    assert {member["crowd_probability"] for member in seen["members"]} == {None}
    assert client_for(owner).get(f"/api/groups/{group['id']}/").json()["distribution"]["raw"] == [None] * 3
