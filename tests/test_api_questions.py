"""/api/questions/ and /api/questions/{id}/: list, filters, create, read, edit, delete."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from forecasts.models import LatestForecast, Question
from tests import factories
from tests.api_support import client_for, error_fields, soon

pytestmark = pytest.mark.django_db

QUESTIONS = "/api/questions/"


def new_question_body(**overrides):
    body = {
        "title": "Will Russia launch a full-scale invasion of Ukraine by mid-February?",
        "details": "Statement of 18 January 2022.",
        "resolution_criteria": "YES if regular Russian forces cross into Ukrainian territory.",
        "kind": "invasion_window",
        "tags": ["ukraine", "Russia"],
        "window_start": soon(1).isoformat(),
        "window_end": soon(20).isoformat(),
        "statement": {
            "quote": "could launch an attack at any point",
            "date": "2022-01-18",
            "url": "https://example.org/briefing",
        },
    }
    body.update(overrides)
    return body


def test_create_question_returns_it_with_every_field(owner):
    source = factories.SourceFactory(name="White House press secretary")
    response = client_for(owner).post(QUESTIONS, new_question_body(source=source.pk), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    question = Question.objects.get(pk=body["id"])
    assert body["status"] == "open"
    assert sorted(body["tags"]) == ["russia", "ukraine"]
    assert body["owner"] == {"id": owner.pk, "username": "owner"}
    assert body["source"] == {"id": source.pk, "name": "White House press secretary", "url": source.url}
    assert body["statement"] == {
        "quote": "could launch an attack at any point",
        "date": "2022-01-18",
        "url": "https://example.org/briefing",
    }
    assert body["team"] is None and body["outcome"] is None and body["my_probability"] is None
    assert body["forecast_count"] == 0 and body["crowd_probability"] is None
    assert question.resolve_by == question.window_end + timedelta(days=3)
    for field in (
        "window_start",
        "window_end",
        "resolve_by",
        "resolved_at",
        "created_at",
        "closed_at",
        "forecaster_count",
    ):
        assert field in body


def test_create_question_as_draft(owner):
    response = client_for(owner).post(QUESTIONS, new_question_body(draft=True), format="json")
    assert response.status_code == 201
    assert response.json()["status"] == "draft"


def test_create_question_needs_credentials():
    response = client_for().post(QUESTIONS, new_question_body(), format="json")
    assert response.status_code == 401
    assert error_fields(response) == {"detail"}


def test_create_question_needs_the_forecasters_permission(reader):
    response = client_for(reader).post(QUESTIONS, new_question_body(), format="json")
    assert response.status_code == 403
    assert error_fields(response) == {"detail"}
    assert not Question.objects.exists()


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"window_start": soon(10).isoformat(), "window_end": soon(5).isoformat()}, "window_end"),
        ({"window_end": "next tuesday"}, "window_end"),
        ({"window_end": "9999-12-31T23:59:59Z"}, "window_end"),
        ({"resolve_by": soon(1).isoformat()}, "resolve_by"),
        ({"kind": "coup"}, "kind"),
        ({"title": ""}, "title"),
        ({"title": "x" * 301}, "title"),
        ({"tags": "ukraine"}, "tags"),
        ({"tags": ["not a slug!"]}, "tags.0"),
        ({"source": 999999}, "source"),
        ({"source": "abc"}, "source"),
        ({"statement": {"url": "not a url"}}, "statement.url"),
        ({"draft": "perhaps"}, "draft"),
    ],
)
def test_create_question_rejects_bad_input_field_by_field(owner, overrides, field):
    response = client_for(owner).post(QUESTIONS, new_question_body(**overrides), format="json")
    assert response.status_code == 400, response.content
    assert field in error_fields(response)
    assert not Question.objects.exists()


def test_create_question_for_a_team_you_are_not_in_is_a_400(owner):
    other_team = factories.TeamFactory()
    response = client_for(owner).post(QUESTIONS, new_question_body(team=other_team.pk), format="json")
    assert response.status_code == 400
    assert error_fields(response) == {"team"}


def test_list_paginates_and_shows_my_probability(owner, forecaster):
    questions = factories.QuestionFactory.create_batch(3, owner=owner)
    forecast = factories.ForecastFactory(question=questions[1], forecaster=forecaster, probability=0.35)
    LatestForecast.objects.create(
        question=questions[1], forecaster=forecaster, forecast=forecast, probability=0.35, made_at=forecast.made_at
    )
    response = client_for(forecaster).get(QUESTIONS, {"page_size": 2})
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3 and len(body["results"]) == 2 and body["next"]
    second_page = client_for(forecaster).get(body["next"]).json()
    listed = {row["id"]: row["my_probability"] for row in body["results"] + second_page["results"]}
    assert listed == {questions[0].pk: None, questions[1].pk: 0.35, questions[2].pk: None}


def test_list_page_size_is_capped_at_200(owner):
    factories.QuestionFactory.create_batch(3, owner=owner)
    response = client_for(owner).get(QUESTIONS, {"page_size": 5000})
    assert response.status_code == 200 and len(response.json()["results"]) == 3


def test_list_filters(owner):
    source = factories.SourceFactory()
    sanctions = factories.QuestionFactory(
        owner=owner, kind="sanctions", source=source, window_end=soon(5), resolve_by=soon(6)
    )
    sanctions.tags.add(factories.TagFactory(name="ukraine"))
    pretext = factories.QuestionFactory(
        kind="pretext_operation", title="False-flag pretext in the Donbas?", window_end=soon(40), resolve_by=soon(41)
    )
    draft = factories.QuestionFactory(owner=owner, status="draft", window_end=soon(60), resolve_by=soon(61))
    client = client_for(owner)

    def ids(**params):
        response = client.get(QUESTIONS, params)
        assert response.status_code == 200, response.json()
        return [row["id"] for row in response.json()["results"]]

    assert ids(kind="sanctions") == [sanctions.pk]
    assert ids(status="draft") == [draft.pk]
    assert ids(tag="Ukraine") == [sanctions.pk]
    assert ids(source=source.pk) == [sanctions.pk]
    assert ids(owner=owner.pk) == [sanctions.pk, draft.pk]
    assert ids(search="false-flag donbas") == [pretext.pk]
    assert ids(window_end_after=soon(30).isoformat()) == [pretext.pk, draft.pk]
    assert ids(window_end_before=soon(30).isoformat()) == [sanctions.pk]
    assert ids(resolve_by_before=soon(50).isoformat()) == [sanctions.pk, pretext.pk]
    assert ids(ordering="-window_end") == [draft.pk, pretext.pk, sanctions.pk]


def test_team_filter(owner, team):
    mine = factories.QuestionFactory(owner=owner, team=team)
    factories.QuestionFactory(owner=owner)
    response = client_for(owner).get(QUESTIONS, {"team": team.pk})
    assert [row["id"] for row in response.json()["results"]] == [mine.pk]
    assert response.json()["results"][0]["team"] == {"id": team.pk, "name": "Analysts"}


@pytest.mark.parametrize(
    "params, field",
    [
        ({"status": "pending"}, "status"),
        ({"owner": "me"}, "owner"),
        ({"owner": "1.5"}, "owner"),
        ({"source": str(2**70)}, "source"),
        ({"window_end_after": "yesterday"}, "window_end_after"),
        ({"search": "nul\x00byte"}, "search"),
        # found by schemathesis: an offset PostgreSQL cannot store used to be a 500
        ({"window_end_before": "0571-08-23T17:46:28-19:23"}, "window_end_before"),
        ({"window_end_after": "0001-01-01T00:00:00+19:04"}, "window_end_after"),
    ],
)
def test_list_rejects_malformed_filters(owner, params, field):
    response = client_for(owner).get(QUESTIONS, params)
    assert response.status_code == 400
    assert error_fields(response) == {field}


def test_list_needs_credentials():
    response = client_for().get(QUESTIONS)
    assert response.status_code == 401
    assert response.json() == {
        "detail": ["Authentication credentials were not provided."],
        "codes": {"detail": ["not_authenticated"]},
    }


def test_invalid_token_is_a_401():
    client = client_for()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = client.get(QUESTIONS)
    assert response.status_code == 401
    assert error_fields(response) == {"detail"}


def test_detail(question, owner):
    response = client_for(owner).get(f"{QUESTIONS}{question.pk}/")
    assert response.status_code == 200
    assert response.json()["id"] == question.pk and response.json()["title"] == question.title


def test_detail_of_a_missing_question_is_a_404(owner):
    response = client_for(owner).get(f"{QUESTIONS}987654/")
    assert response.status_code == 404
    assert error_fields(response) == {"detail"}


def test_detail_needs_credentials(question):
    assert client_for().get(f"{QUESTIONS}{question.pk}/").status_code == 401


def test_owner_edits_an_open_question_and_moving_the_window_rearms_reminders(question, owner):
    question.next_reminder_at = timezone.now()
    question.reminder_round = 2
    question.save()
    new_end = soon(45)
    response = client_for(owner).patch(
        f"{QUESTIONS}{question.pk}/",
        {"title": "Will the invasion begin before March?", "window_end": new_end.isoformat(), "tags": ["war"]},
        format="json",
    )
    assert response.status_code == 200, response.json()
    question.refresh_from_db()
    assert question.title == "Will the invasion begin before March?"
    assert question.window_end == new_end
    assert question.resolve_by == new_end + timedelta(days=3)
    assert question.next_reminder_at is None and question.reminder_round == 0
    assert response.json()["tags"] == ["war"]


def test_patch_statement_keeps_the_parts_not_sent(owner):
    question = factories.QuestionFactory(owner=owner, source_quote="original quote", source_url="https://example.org/a")
    response = client_for(owner).patch(
        f"{QUESTIONS}{question.pk}/", {"statement": {"url": "https://example.org/b"}}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["statement"] == {"quote": "original quote", "date": None, "url": "https://example.org/b"}


def test_patch_with_draft_false_opens_a_draft(owner):
    draft = factories.QuestionFactory(owner=owner, status="draft", opened_at=None)
    response = client_for(owner).patch(f"{QUESTIONS}{draft.pk}/", {"draft": False}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "open" and response.json()["opened_at"]


def test_patch_cannot_turn_an_open_question_back_into_a_draft(question, owner):
    response = client_for(owner).patch(f"{QUESTIONS}{question.pk}/", {"draft": True}, format="json")
    assert response.status_code == 400
    assert error_fields(response) == {"draft"}


def test_moderator_edits_someone_elses_question(question, editor):
    response = client_for(editor).patch(f"{QUESTIONS}{question.pk}/", {"details": "Clarified."}, format="json")
    assert response.status_code == 200
    assert response.json()["details"] == "Clarified."


def test_patch_by_another_forecaster_is_a_403(question, forecaster):
    response = client_for(forecaster).patch(f"{QUESTIONS}{question.pk}/", {"title": "Hijacked"}, format="json")
    assert response.status_code == 403
    assert error_fields(response) == {"detail"}
    question.refresh_from_db()
    assert question.title != "Hijacked"


def test_patch_rejects_an_inverted_window(question, owner):
    response = client_for(owner).patch(
        f"{QUESTIONS}{question.pk}/",
        {"window_start": (question.window_end + timedelta(days=1)).isoformat()},
        format="json",
    )
    assert response.status_code == 400
    assert error_fields(response) == {"window_end"}


def test_patch_a_resolved_question_is_refused(owner, editor):
    resolved = factories.QuestionFactory(
        owner=owner,
        status="resolved",
        outcome="yes",
        resolved_at=timezone.now(),
        window_end=timezone.now() - timedelta(days=1),
        resolve_by=timezone.now(),
    )
    for user in (owner, editor):
        response = client_for(user).patch(f"{QUESTIONS}{resolved.pk}/", {"title": "x"}, format="json")
        assert response.status_code == 409
        assert error_fields(response) == {"status"}
        assert response.json()["codes"] == {"status": ["question_not_editable"]}


def test_patch_extends_resolve_by_after_the_window_closed(owner, forecaster):
    closed = factories.QuestionFactory(
        owner=owner,
        status="awaiting_resolution",
        window_end=timezone.now() - timedelta(days=5),
        resolve_by=timezone.now() - timedelta(days=1),
        closed_at=timezone.now() - timedelta(days=5),
    )
    later = (timezone.now() + timedelta(days=7)).replace(microsecond=0)
    assert (
        client_for(forecaster)
        .patch(f"{QUESTIONS}{closed.pk}/", {"resolve_by": later.isoformat()}, format="json")
        .status_code
        == 403
    )
    assert client_for(owner).patch(f"{QUESTIONS}{closed.pk}/", {"title": "x"}, format="json").status_code == 409

    response = client_for(owner).patch(f"{QUESTIONS}{closed.pk}/", {"resolve_by": later.isoformat()}, format="json")

    assert response.status_code == 200
    closed.refresh_from_db()
    assert (closed.status, closed.resolve_by, closed.next_escalation_at) == ("awaiting_resolution", later, None)


def test_patch_needs_credentials(question):
    assert client_for().patch(f"{QUESTIONS}{question.pk}/", {"title": "x"}, format="json").status_code == 401


def test_put_is_not_offered(question, owner):
    response = client_for(owner).put(f"{QUESTIONS}{question.pk}/", {"title": "x"}, format="json")
    assert response.status_code == 405
    assert error_fields(response) == {"detail"}


def test_owner_deletes_a_draft(owner):
    draft = factories.QuestionFactory(owner=owner, status="draft", opened_at=None)
    response = client_for(owner).delete(f"{QUESTIONS}{draft.pk}/")
    assert response.status_code == 204
    assert not Question.objects.filter(pk=draft.pk).exists()


def test_deleting_an_open_question_is_a_409_conflict(question, owner):
    response = client_for(owner).delete(f"{QUESTIONS}{question.pk}/")
    assert response.status_code == 409
    assert error_fields(response) == {"status"}
    assert Question.objects.filter(pk=question.pk).exists()


def test_deleting_someone_elses_draft_is_a_404_like_a_missing_question(owner, forecaster):
    draft = factories.QuestionFactory(owner=owner, status="draft", opened_at=None)
    hidden = client_for(forecaster).delete(f"{QUESTIONS}{draft.pk}/")
    missing = client_for(forecaster).delete(f"{QUESTIONS}{draft.pk + 1000}/")
    assert (hidden.status_code, hidden.json()) == (404, NO_SUCH_QUESTION)
    assert (missing.status_code, missing.json()) == (hidden.status_code, hidden.json())
    assert client_for().delete(f"{QUESTIONS}{draft.pk}/").status_code == 401
    assert Question.objects.filter(pk=draft.pk).exists()


def test_an_unusual_utc_offset_is_read_as_utc(owner):
    response = client_for(owner).get(QUESTIONS, {"window_end_after": "2030-01-01T00:00:00+19:04"})
    assert response.status_code == 200
    created = client_for(owner).post(
        QUESTIONS, new_question_body(window_start=None, window_end="2999-01-01T00:00:00+19:04"), format="json"
    )
    assert created.status_code == 201 and created.json()["window_end"] == "2998-12-31T04:56:00Z"


# Someone else's drafts do not exist -------------------------------------------------------------

# Roles that may not see the owner's drafts (see the `access_world` fixture); owner and moderators may.
DRAFT_HIDDEN_FROM = ["no_group", "outsider", "member_a", "removed"]
DRAFTS = ["public_draft", "team_a_draft"]
NO_SUCH_QUESTION = {"detail": ["No such question."], "codes": {"detail": ["not_found"]}}


def missing_question_id() -> int:
    return Question.objects.order_by("-pk").first().pk + 1000


@pytest.mark.parametrize("role", DRAFT_HIDDEN_FROM)
def test_someone_elses_drafts_are_in_no_list_and_no_count(access_world, role):
    client = client_for(access_world.users[role])
    listed = client.get(QUESTIONS).json()
    drafts = client.get(QUESTIONS, {"status": "draft"}).json()
    visible = {access_world.questions[row].pk for row in ("public", "team_a") if row != "team_a" or role == "member_a"}
    assert {row["id"] for row in listed["results"]} == visible
    assert listed["count"] == len(visible)
    assert (drafts["count"], drafts["results"]) == (0, [])


@pytest.mark.parametrize("role", ["owner", "editor", "superuser"])
def test_drafts_are_listed_for_their_owner_and_moderators(access_world, role):
    drafts = client_for(access_world.users[role]).get(QUESTIONS, {"status": "draft"}).json()
    assert drafts["count"] == 2
    assert {row["id"] for row in drafts["results"]} == {access_world.questions[row].pk for row in DRAFTS}


@pytest.mark.parametrize("role", DRAFT_HIDDEN_FROM)
def test_reading_someone_elses_draft_answers_as_for_a_missing_question(access_world, role):
    client = client_for(access_world.users[role])
    for row in DRAFTS:
        for suffix in ("", "forecasts/", "history/"):
            hidden = client.get(f"{QUESTIONS}{access_world.questions[row].pk}/{suffix}")
            missing = client.get(f"{QUESTIONS}{missing_question_id()}/{suffix}")
            assert (
                (hidden.status_code, hidden.json()) == (missing.status_code, missing.json()) == (404, NO_SUCH_QUESTION)
            )


@pytest.mark.parametrize("row", DRAFTS)
def test_the_owner_reads_their_draft(access_world, row):
    client = client_for(access_world.users["owner"])
    for suffix in ("", "forecasts/", "history/"):
        assert client.get(f"{QUESTIONS}{access_world.questions[row].pk}/{suffix}").status_code == 200


DRAFT_WRITES = [
    ("patch", "", {"details": "Edited by someone else."}),
    ("patch", "", {"draft": False}),  # publish
    ("delete", "", None),
    ("post", "forecasts/", {"percent": 40}),
    ("post", "resolve/", {"outcome": "yes"}),
    ("post", "resolve/", {"outcome": "annulled"}),
    ("post", "unresolve/", {}),
]


@pytest.mark.parametrize("role", ["outsider", "member_a", "removed"])
@pytest.mark.parametrize("row", DRAFTS)
def test_writing_to_someone_elses_draft_answers_as_for_a_missing_question(access_world, role, row):
    draft = access_world.questions[row]
    client = client_for(access_world.users[role])
    for method, suffix, body in DRAFT_WRITES:
        hidden = getattr(client, method)(f"{QUESTIONS}{draft.pk}/{suffix}", body, format="json")
        missing = getattr(client, method)(f"{QUESTIONS}{missing_question_id()}/{suffix}", body, format="json")
        assert (hidden.status_code, hidden.json()) == (missing.status_code, missing.json()) == (404, NO_SUCH_QUESTION)
    draft.refresh_from_db()
    assert (draft.status, draft.details, draft.forecasts.count(), draft.history.count()) == ("draft", "", 1, 0)


def test_a_reader_in_no_group_gets_the_same_answer_for_a_hidden_draft_and_a_missing_question(access_world):
    client = client_for(access_world.users["no_group"])
    draft = access_world.questions["public_draft"]
    for method, suffix, body in DRAFT_WRITES:
        hidden = getattr(client, method)(f"{QUESTIONS}{draft.pk}/{suffix}", body, format="json")
        missing = getattr(client, method)(f"{QUESTIONS}{missing_question_id()}/{suffix}", body, format="json")
        assert (hidden.status_code, hidden.json()) == (missing.status_code, missing.json())
    assert Question.objects.get(pk=draft.pk).status == "draft"


def test_the_list_built_by_hand_is_what_the_serializer_gives(owner, forecaster, team):
    """The list serializes row dicts by hand; each row must equal QuestionSerializer's for the question."""
    import json

    from rest_framework.renderers import JSONRenderer

    from forecasts.api.serializers import QuestionSerializer
    from forecasts.selectors import question_list_for

    factories.TeamMembershipFactory(team=team, user=forecaster)
    tags = [factories.TagFactory(name=name) for name in ("nato", "russia", "ukraine")]
    source = factories.SourceFactory(name="Ministry", url="https://example.org/m")
    plain = factories.QuestionFactory(owner=owner)
    rich = factories.QuestionFactory(
        owner=owner, team=team, source=source, source_quote="could attack", source_url="https://example.org/q",
        source_statement_date=timezone.now().date(), details="Details.", crowd_probability=0.25,
        forecast_count=3, forecaster_count=2, closed_at=timezone.now(),
    )  # fmt: skip
    rich.tags.set([tags[2], tags[0]])
    plain.tags.set([tags[1]])
    resolved = factories.QuestionFactory(
        owner=owner, status=Question.Status.RESOLVED, outcome="yes", resolved_at=timezone.now(),
        occurred_at=timezone.now(), window_start=timezone.now() - timedelta(days=3),
    )  # fmt: skip
    forecast = factories.ForecastFactory(question=rich, forecaster=forecaster, probability=0.4)
    LatestForecast.objects.create(
        question=rich, forecaster=forecaster, forecast=forecast, probability=0.4, made_at=forecast.made_at
    )
    served = client_for(forecaster).get(QUESTIONS, {"page_size": 200}).json()["results"]
    expected = QuestionSerializer(question_list_for(forecaster).order_by("window_end", "id"), many=True).data
    assert served == json.loads(JSONRenderer().render(expected))
    assert {row["id"] for row in served} == {plain.pk, rich.pk, resolved.pk}
    assert next(row for row in served if row["id"] == rich.pk)["tags"] == ["nato", "ukraine"]


@pytest.mark.parametrize("ordering", [None, "-crowd_probability", "title,-window_end", "-forecast_count"])
def test_every_page_is_its_slice_of_the_whole_list(owner, forecaster, team, outsider, ordering):
    """A page's rows are picked by id first and read after; page by page, the list is the whole list,
    in its order, with no row twice, none missing and none the caller may not see."""
    factories.TeamMembershipFactory(team=team, user=forecaster)
    for index in range(11):
        factories.QuestionFactory(
            owner=owner, team=team if index % 3 else None, title=f"Question {index % 4}",
            crowd_probability=None if index % 5 == 0 else (index % 4) / 10, forecast_count=index % 3,
            window_end=soon(5 + index % 2), resolve_by=soon(7),
        )  # fmt: skip
    factories.QuestionFactory(owner=owner, team=factories.TeamFactory())  # another team's: never listed
    factories.QuestionFactory(owner=outsider, status="draft")  # someone else's draft: never listed
    params = {"ordering": ordering} if ordering else {}
    client = client_for(forecaster)
    whole = client.get(QUESTIONS, {**params, "page_size": 200}).json()
    pages = [client.get(QUESTIONS, {**params, "page_size": 4, "page": page}).json() for page in (1, 2, 3)]
    assert whole["count"] == 11 and [page["count"] for page in pages] == [11, 11, 11]
    assert [row for page in pages for row in page["results"]] == whole["results"]


@pytest.mark.parametrize(
    "moment",
    [
        None,
        datetime(2022, 2, 24, 3, 0, tzinfo=UTC),
        datetime(2022, 2, 24, 3, 0, 0, 123456, tzinfo=UTC),
        datetime(2022, 2, 24, 5, 30, 1, tzinfo=timezone.get_fixed_timezone(150)),
    ],
)
def test_the_lists_timestamps_are_what_drf_writes(moment):
    from forecasts.api.serializers import TIMESTAMP, timestamp_text

    assert timestamp_text(moment) == TIMESTAMP.to_representation(moment)


def test_the_list_gives_tags_in_name_order_whatever_order_they_were_made(owner):
    late, early = factories.TagFactory(name="zapad"), factories.TagFactory(name="belarus")
    tagged = factories.QuestionFactory(owner=owner, window_end=soon(5), resolve_by=soon(6))
    tagged.tags.set([late, early])
    untagged = factories.QuestionFactory(owner=owner, window_end=soon(8), resolve_by=soon(9))
    served = client_for(owner).get(QUESTIONS).json()["results"]
    assert [(row["id"], row["tags"]) for row in served] == [(tagged.pk, ["belarus", "zapad"]), (untagged.pk, [])]
    detail = client_for(owner).get(f"{QUESTIONS}{tagged.pk}/").json()
    assert detail["tags"] == served[0]["tags"]
