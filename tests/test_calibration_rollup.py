"""The calibration rollup answers exactly what reading the scores answers, for every filter and
caller, and the triggers keep it equal to a rebuild through every kind of score write."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone

from forecasts.models import Forecast, Question, Score, ScoreRollup, Source
from forecasts.selectors import ScoreFilters, calibration_for
from forecasts.selectors.calibration import calibration_from_scores, rollup_answers
from forecasts.services import question_scores_recompute, score_rollup_rebuild
from tests import factories

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif("connection.vendor != 'postgresql'", reason="the rollup is kept by PostgreSQL triggers"),
]
User = get_user_model()


def month(moment: datetime, shift: int = 0) -> datetime:
    """The first instant (UTC) of the month `shift` months from `moment`'s."""
    index = moment.year * 12 + moment.month - 1 + shift
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def random_world(seed: int):
    """Resolved questions over a year in two teams and none, every kind, users and sources; one
    question resolved YES before its window ends; probabilities with all their digits, some on edges."""
    rng = np.random.default_rng(seed)
    now = timezone.now()
    owner = factories.UserFactory(username=f"rollup-owner-{seed}")
    teams = [factories.TeamFactory(name=f"Rollup team {seed} {n}") for n in range(2)]
    users = User.objects.bulk_create([User(username=f"rollup-{seed}-{n}") for n in range(8)])
    sources = Source.objects.bulk_create([Source(name=f"Rollup {seed} source {n}") for n in range(2)])
    factories.TeamMembershipFactory(team=teams[0], user=owner)
    factories.TeamMembershipFactory(team=teams[0], user=users[0])
    questions = []
    for number in range(40):
        window_end = now - timedelta(days=int(rng.integers(2, 360)), minutes=int(rng.integers(0, 1440)))
        early = number == 0  # resolved YES while its window still runs: counts only once it has ended
        if early:
            window_end = now + timedelta(days=5)
        questions.append(
            Question(
                title=f"Rollup {seed} question {number}",
                resolution_criteria="Generated.",
                kind=Question.Kind.values[number % len(Question.Kind.values)],
                owner=owner,
                team=[None, None, teams[0], teams[1]][number % 4],
                opened_at=window_end - timedelta(days=20),
                window_end=window_end,
                resolve_by=window_end + timedelta(days=3),
                closed_at=None if early else window_end,
                status=Question.Status.RESOLVED,
                outcome="yes" if early or rng.random() < 0.4 else "no",
                occurred_at=now - timedelta(days=1) if early else None,
                resolved_at=now - timedelta(hours=1)
                if early
                else window_end + timedelta(days=int(rng.integers(0, 40))),
            )
        )
    questions = Question.objects.bulk_create(questions)
    authors = [("forecaster", user) for user in users] + [("source", source) for source in sources]
    forecasts = []
    for question in questions:
        chosen = rng.choice(len(authors), size=int(rng.integers(1, 7)), replace=False)
        for index in chosen:
            kind, author = authors[index]
            for _ in range(int(rng.integers(1, 3))):
                draw = rng.random()
                probability = (
                    float(rng.integers(1, 10)) / 10 if draw < 0.2 else float(f"{0.001 + 0.998 * rng.random():.15g}")
                )
                forecasts.append(
                    Forecast(
                        question=question,
                        forecaster=author if kind == "forecaster" else None,
                        source=author if kind == "source" else None,
                        recorded_by=owner,
                        made_at=min(
                            question.opened_at + timedelta(minutes=int(rng.integers(-1440, 18 * 1440))),
                            now - timedelta(minutes=1),
                        ),
                        recorded_at=now,
                        probability=probability,
                        quote="Generated." if kind == "source" else "",
                        url="https://example.org/generated" if kind == "source" else "",
                    )
                )
    Forecast.objects.bulk_create(forecasts)
    for question in questions:
        question_scores_recompute(question_id=question.pk)
    return {"now": now, "owner": owner, "teams": teams, "users": users, "sources": sources, "questions": questions}


def filters_for(world) -> list[ScoreFilters]:
    now, users, teams = world["now"], world["users"], world["teams"]
    return [
        ScoreFilters(),
        ScoreFilters(forecaster_id=users[0].pk),
        ScoreFilters(forecaster_id=users[3].pk),
        ScoreFilters(forecaster_id=world["owner"].pk),
        ScoreFilters(forecaster_id=10**9),
        ScoreFilters(source_id=world["sources"][0].pk),
        ScoreFilters(kind=Question.Kind.ESCALATION),
        ScoreFilters(team_id=teams[0].pk),
        ScoreFilters(team_id=teams[1].pk),
        ScoreFilters(resolved_after=month(now, -6)),
        ScoreFilters(resolved_before=month(now, -3)),
        ScoreFilters(resolved_after=month(now, -9), resolved_before=month(now, -2)),
        ScoreFilters(kind=Question.Kind.DIPLOMATIC, team_id=teams[0].pk),
        ScoreFilters(forecaster_id=users[1].pk, kind=Question.Kind.OTHER, resolved_after=month(now, -8)),
        ScoreFilters(source_id=world["sources"][1].pk, resolved_before=month(now, 1)),
    ]


def test_the_rollup_equals_the_scores_for_every_filter_and_caller():
    world = random_world(seed=7)
    callers = [
        factories.UserFactory(username="rollup-root", is_superuser=True),
        world["owner"],  # a member of the first team
        world["users"][0],  # another member, and a forecaster
        world["users"][5],  # in no team
        factories.EditorFactory(username="rollup-editor"),  # a moderator through the Editors group
    ]
    compared = 0
    for caller in callers:
        for filters in filters_for(world):
            assert rollup_answers(filters, bins=10, strategy="uniform", now=None)
            served = calibration_for(caller, filters=filters)
            direct = calibration_from_scores(caller, filters=filters, bins=10, strategy="uniform")
            assert served == direct, (caller.username, filters)
            compared += served["n"] > 0
    assert compared > 30  # most comparisons are of real numbers, not of two empty reports


def test_what_the_rollup_cannot_answer_falls_back_to_the_scores():
    inside_a_month = datetime(2026, 3, 15, tzinfo=UTC)
    for filters, bins, strategy in [
        (ScoreFilters(tag="ukraine"), 10, "uniform"),
        (ScoreFilters(), 5, "uniform"),
        (ScoreFilters(), 10, "quantile"),
        (ScoreFilters(resolved_after=inside_a_month), 10, "uniform"),
        (ScoreFilters(forecaster_id=1, source_id=1), 10, "uniform"),
    ]:
        assert not rollup_answers(filters, bins=bins, strategy=strategy, now=None)
    assert not rollup_answers(ScoreFilters(), bins=10, strategy="uniform", now=timezone.now())


def rollup_rows() -> list[tuple]:
    columns = [field.attname for field in ScoreRollup._meta.concrete_fields if field.attname != "id"]
    return sorted(ScoreRollup.objects.values_list(*columns), key=repr)


def test_the_triggers_keep_the_rollup_equal_to_a_rebuild_through_every_write():
    world = random_world(seed=11)
    assert ScoreRollup.objects.exists()

    def assert_as_rebuilt():
        kept = rollup_rows()
        score_rollup_rebuild()
        assert kept == rollup_rows()
        assert not ScoreRollup.objects.filter(count=0).exists()

    assert_as_rebuilt()
    question = world["questions"][3]
    question.outcome = "yes" if question.outcome == "no" else "no"
    question.save(update_fields=["outcome"])
    question_scores_recompute(question_id=question.pk)  # delete, then insert the new scores
    assert_as_rebuilt()
    Score.objects.filter(question=world["questions"][4]).update(probability=0.5, brier=0.25)  # an UPDATE
    assert_as_rebuilt()
    Score.objects.filter(forecaster=world["users"][2]).delete()  # some of many questions' scores
    Score.objects.filter(source=world["sources"][0]).delete()
    assert_as_rebuilt()
    Score.objects.all().delete()
    assert not ScoreRollup.objects.exists()


def test_recompute_scores_rebuilds_the_rollup():
    from django.core.management import call_command

    random_world(seed=3)
    kept = rollup_rows()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM forecasts_scorerollup")
    call_command("recompute_scores", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert rollup_rows() == kept
