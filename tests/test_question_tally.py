"""The question tally the question list counts with: after every kind of write to the questions,
its sums equal a count of the visible questions, for every role and every filter it answers."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from forecasts import selectors, services
from forecasts.access import questions_visible_to
from forecasts.models import Question, QuestionTally
from tests import factories
from tests.api_support import client_for

pytestmark = pytest.mark.django_db

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the tally is kept by PostgreSQL triggers; elsewhere the list counts"
)


def filter_sets(team) -> list[dict]:
    return [
        {},
        {"status": "open"},
        {"status": "draft"},
        {"status": "awaiting_resolution"},
        {"kind": "escalation"},
        {"team": team.pk},
        {"team": team.pk, "status": "open", "kind": "other"},
    ]


def counted(user, filters: dict) -> int:
    lookups = {{"team": "team_id"}.get(name, name): value for name, value in filters.items()}
    return questions_visible_to(user).filter(**lookups).count()


def assert_tally_counts(world):
    for role, user in world.users.items():
        for filters in filter_sets(world.team):
            assert selectors.question_count_from_tally(user, filters) == counted(user, filters), (role, filters)


def tally_rows() -> set[tuple]:
    return set(QuestionTally.objects.values_list("team_id", "status", "kind", "owner_id", "count"))


@on_postgresql
def test_the_tally_counts_what_each_role_sees_after_every_kind_of_write(access_world):
    world = access_world
    owner, editor = world.users["owner"], world.users["editor"]
    assert_tally_counts(world)

    services.question_create(owner=owner, title="Will talks resume?", resolution_criteria="Reported.",
                             window_end=timezone.now() + timedelta(days=9), kind="escalation", team=world.team)  # fmt: skip
    draft = services.question_create(owner=owner, title="A draft", resolution_criteria="Reported.", draft=True,
                                     window_end=timezone.now() + timedelta(days=9))  # fmt: skip
    assert_tally_counts(world)

    services.question_open(question=draft, actor=owner)
    assert_tally_counts(world)

    moved = world.questions["public"]
    services.question_update(question=moved, actor=editor, team=world.team)
    assert_tally_counts(world)

    Question.objects.filter(pk=moved.pk).update(window_end=timezone.now() - timedelta(hours=1))
    services.lifecycle_sweep()  # closes it: open -> awaiting resolution
    assert Question.objects.get(pk=moved.pk).status == Question.Status.AWAITING_RESOLUTION
    assert_tally_counts(world)

    services.question_resolve(question=moved, actor=owner, outcome="yes", note="It happened.")
    assert_tally_counts(world)

    services.question_delete(question=world.questions["team_a_draft"], actor=owner)
    factories.QuestionFactory.create_batch(3, owner=world.users["member_a"], status="draft", kind="other")
    Question.objects.filter(kind="other", status="open").update(kind="sanctions")
    assert_tally_counts(world)


@on_postgresql
def test_a_forecast_leaves_the_tally_untouched_and_a_rebuild_gives_what_the_triggers_kept(owner, forecaster):
    question = factories.QuestionFactory(owner=owner)
    before = tally_rows()
    services.forecast_submit(question_id=question.pk, recorded_by=forecaster, probability=0.4)
    assert tally_rows() == before
    services.question_tally_rebuild()
    assert tally_rows() == before


def test_the_list_counts_the_same_with_and_without_the_tally(access_world):
    """On PostgreSQL the first request is counted from the tally, the tag one by the questions."""
    client = client_for(access_world.users["member_a"])
    listed = client.get("/api/questions/").json()
    assert listed["count"] == len(listed["results"]) == 2  # the public and the team question, no drafts
    assert client.get("/api/questions/", {"status": "draft"}).json()["count"] == 0
    assert client.get("/api/questions/", {"status": "open", "tag": "tag-public"}).json()["count"] == 1
    owned = client_for(access_world.users["owner"]).get("/api/questions/", {"status": "draft"}).json()
    assert owned["count"] == len(owned["results"]) == 2
