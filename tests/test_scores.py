"""Stored scores: which forecast counts, time-averaged and relative Brier, recompute on every change."""

import math
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from forecasts.models import Question, Score
from forecasts.services import (
    question_annul,
    question_resolve,
    question_scores_recompute,
    question_unresolve,
    questions_missing_scores,
    questions_scores_due,
    score_summaries_for,
    scores_recompute_all,
    stale_scores_recompute,
)
from forecasts.tasks import question_scores_recompute_task, resolution_notify_task
from tests import factories

EXACT = 1e-12


@pytest.fixture
def opened():
    return (timezone.now() - timedelta(days=30)).replace(microsecond=0)


def closed_question(owner, opened, *, days_open=10, **fields):
    """A question whose window ran `days_open` days from `opened` and now awaits its outcome."""
    window_end = opened + timedelta(days=days_open)
    return factories.QuestionFactory(
        owner=owner,
        opened_at=opened,
        window_end=window_end,
        closed_at=window_end,
        status=Question.Status.AWAITING_RESOLUTION,
        **fields,
    )


def forecast(question, author, made_at, probability, **fields):
    return factories.ForecastFactory(
        question=question, forecaster=author, made_at=made_at, recorded_at=made_at, probability=probability, **fields
    )


def resolve(question, actor, outcome="yes", **details) -> Question:
    """Resolve and recompute, as the on-commit task will once it is wired into the service."""
    question = question_resolve(question=question, actor=actor, outcome=outcome, **details)
    question_scores_recompute(question_id=question.pk)
    return question


def test_design_vector_time_averaged_and_relative_brier(owner, forecaster, opened):
    """0.3 for 5 days then 0.8 for 5 days, YES -> 0.265; against a steady 0.5 the crowd is 0.24125."""
    steady = factories.ForecasterFactory(username="steady")
    question = closed_question(owner, opened, days_open=10)
    forecast(question, forecaster, opened, 0.3)
    forecast(question, forecaster, opened + timedelta(days=5), 0.8)
    forecast(question, steady, opened, 0.5)

    resolve(question, owner)

    mine = Score.objects.get(question=question, forecaster=forecaster)
    theirs = Score.objects.get(question=question, forecaster=steady)
    # Crowd median: 0.4 for days 0-5 (0.3, 0.5), 0.65 for days 5-10 (0.8, 0.5):
    # (0.6² · 5 + 0.35² · 5) / 10 = 0.24125.
    assert mine.time_averaged_brier == pytest.approx(0.265, abs=EXACT)
    assert mine.relative_brier == pytest.approx(0.265 - 0.24125, abs=EXACT)
    assert theirs.time_averaged_brier == pytest.approx(0.25, abs=EXACT)
    assert theirs.relative_brier == pytest.approx(0.25 - 0.24125, abs=EXACT)
    assert (mine.probability, mine.outcome, mine.forecast_count) == (0.8, 1, 2)
    assert mine.brier == pytest.approx(0.04, abs=EXACT)
    assert mine.log_loss == pytest.approx(-math.log(0.8), abs=EXACT)
    assert mine.coverage == pytest.approx(1.0)
    assert mine.scored_until == question.window_end


def test_one_author_has_no_relative_brier_and_partial_coverage(owner, forecaster, opened):
    question = closed_question(owner, opened, days_open=10)
    forecast(question, forecaster, opened + timedelta(days=6), 0.2)

    resolve(question, owner, outcome="no")

    score = Score.objects.get(question=question)
    assert score.relative_brier is None
    assert score.coverage == pytest.approx(0.4)
    assert score.time_averaged_brier == pytest.approx(0.04, abs=EXACT)
    assert score.outcome == 0


def test_forecasts_after_the_close_never_count(owner, forecaster, opened):
    question = closed_question(owner, opened, days_open=10)
    counted = forecast(question, forecaster, opened + timedelta(days=9), 0.7)
    forecast(question, forecaster, question.window_end, 0.999)  # at the close: too late
    forecast(question, forecaster, question.window_end + timedelta(days=1), 0.999)

    resolve(question, owner)

    score = Score.objects.get(question=question)
    assert (score.forecast_id, score.probability, score.forecast_count) == (counted.pk, 0.7, 1)


def test_early_yes_counts_forecasts_made_before_the_event_only(owner, forecaster, editor, opened):
    """Closed at resolution, but a forecast made after the event happened is hindsight.

    Dating the event before a forecast cuts that forecast off, so only a moderator may.
    """
    question = factories.QuestionFactory(owner=owner, opened_at=opened, window_end=timezone.now() + timedelta(days=20))
    occurred = opened + timedelta(days=10)
    before = forecast(question, forecaster, opened + timedelta(days=2), 0.4)
    forecast(question, forecaster, occurred + timedelta(hours=1), 0.99)

    question = resolve(question, editor, occurred_at=occurred)

    score = Score.objects.get(question=question)
    assert question.closed_at > occurred
    assert score.scored_until == occurred
    assert (score.forecast_id, score.probability) == (before.pk, 0.4)
    assert score.time_averaged_brier == pytest.approx(0.36, abs=EXACT)
    assert score.window_end == question.window_end  # kept so calibration can wait for it


def test_sources_are_scored_and_copy_the_phrase_and_filters(owner, forecaster, opened):
    team = factories.TeamFactory()
    factories.TeamMembershipFactory(team=team, user=owner)
    source = factories.SourceFactory(name="US intelligence")
    question = closed_question(owner, opened, team=team, kind=Question.Kind.INVASION_WINDOW)
    factories.source_statement(
        question, source, owner, opened - timedelta(days=1), 0.5, phrase="roughly even chance", yardstick="icd203"
    )
    forecast(question, forecaster, opened + timedelta(days=1), 0.9)

    question = resolve(question, owner, outcome="no")

    score = Score.objects.get(question=question, source=source)
    assert score.forecaster_id is None
    assert (score.phrase, score.yardstick) == ("roughly even chance", "icd203")
    assert (score.team_id, score.question_kind) == (team.pk, Question.Kind.INVASION_WINDOW)
    assert score.resolved_at == question.resolved_at
    assert score.made_at == opened - timedelta(days=1) == score.forecast.made_at
    assert Score.objects.get(question=question, forecaster=forecaster).made_at == opened + timedelta(days=1)
    assert score.coverage == 1.0  # a statement older than the question covers all of it
    assert score.relative_brier is not None  # users and sources make one crowd


def test_unresolve_removes_and_re_resolve_restores(owner, forecaster, opened):
    question = closed_question(owner, opened)
    forecast(question, forecaster, opened + timedelta(days=1), 0.8)
    question = resolve(question, owner)
    first = Score.objects.get(question=question)

    question_unresolve(question=question, actor=owner)
    assert question_scores_recompute(question_id=question.pk) == 0
    assert not Score.objects.filter(question=question).exists()

    resolve(question, owner, outcome="no")
    again = Score.objects.get(question=question)
    assert (first.outcome, first.brier) == (1, pytest.approx(0.04))
    assert (again.outcome, again.brier) == (0, pytest.approx(0.64))


def test_annulled_questions_have_no_scores(owner, forecaster, opened):
    question = closed_question(owner, opened)
    forecast(question, forecaster, opened + timedelta(days=1), 0.8)

    question_annul(question=question, actor=owner)

    assert question_scores_recompute(question_id=question.pk) == 0
    assert not Score.objects.exists()


def test_recompute_is_idempotent(owner, forecaster, opened):
    question = closed_question(owner, opened)
    forecast(question, forecaster, opened + timedelta(days=1), 0.8)
    forecast(question, factories.ForecasterFactory(), opened + timedelta(days=2), 0.3)
    resolve(question, owner)
    fields = ["forecaster_id", "probability", "brier", "log_loss", "time_averaged_brier", "relative_brier"]
    first = list(Score.objects.order_by("forecaster_id").values(*fields))

    assert question_scores_recompute(question_id=question.pk) == 2
    assert question_scores_recompute_task.apply(args=[question.pk]).get() == 2

    assert list(Score.objects.order_by("forecaster_id").values(*fields)) == first


def test_recompute_of_a_missing_question_is_a_no_op(db):
    assert question_scores_recompute(question_id=987654) == 0


def test_missing_and_stale_scores_are_found_and_fixed(owner, forecaster, opened):
    question = closed_question(owner, opened)
    forecast(question, forecaster, opened + timedelta(days=1), 0.8)
    silent = closed_question(owner, opened)  # resolved without forecasts: nothing to score
    question_resolve(question=silent, actor=owner, outcome="no")

    question_resolve(question=question, actor=owner, outcome="yes")  # its task was lost
    assert list(questions_missing_scores()) == [question]
    assert stale_scores_recompute(batch_size=10) == [question.pk]
    assert list(questions_missing_scores()) == []

    question_unresolve(question=question, actor=owner)  # the un-resolve's task was lost too
    assert list(questions_missing_scores()) == [question]
    stale_scores_recompute()
    assert not Score.objects.exists()

    question_resolve(question=question, actor=owner, outcome="no")
    stale_scores_recompute()
    Score.objects.filter(question=question).update(computed_at=opened)  # older than the resolution
    assert list(questions_missing_scores()) == [question]


def test_every_change_of_the_resolution_marks_its_scores_due_until_they_are_written(owner, forecaster, opened):
    question = closed_question(owner, opened)
    forecast(question, forecaster, opened + timedelta(days=1), 0.8)
    assert not question.scores_due

    for change in (
        lambda: question_resolve(question=question, actor=owner, outcome="yes"),
        lambda: question_unresolve(question=question, actor=owner),
        lambda: question_annul(question=question, actor=owner),
    ):
        change()
        assert Question.objects.get(pk=question.pk).scores_due
        question_scores_recompute(question_id=question.pk)  # the queued task
        assert not Question.objects.get(pk=question.pk).scores_due


def test_the_sweep_checks_only_marked_questions_and_clears_the_marks_it_finds_in_order(owner, forecaster, opened):
    lost = closed_question(owner, opened)  # its task was lost
    forecast(lost, forecaster, opened + timedelta(days=1), 0.8)
    question_resolve(question=lost, actor=owner, outcome="yes")
    done = closed_question(owner, opened)  # its task ran, but the mark is still set
    forecast(done, forecaster, opened + timedelta(days=1), 0.4)
    question_resolve(question=done, actor=owner, outcome="no")
    question_scores_recompute(question_id=done.pk)
    Question.objects.filter(pk=done.pk).update(scores_due=True)
    unmarked = closed_question(owner, opened)  # stale without a mark: only the full check sees it
    forecast(unmarked, forecaster, opened + timedelta(days=1), 0.6)
    question_resolve(question=unmarked, actor=owner, outcome="yes")
    Question.objects.filter(pk=unmarked.pk).update(scores_due=False)

    assert questions_scores_due(batch_size=10) == [lost.pk]
    assert not Question.objects.get(pk=done.pk).scores_due
    assert stale_scores_recompute() == [lost.pk]
    assert not Question.objects.filter(scores_due=True).exists()
    assert stale_scores_recompute() == []
    assert list(questions_missing_scores()) == [unmarked]


def test_a_sweep_with_no_scores_due_reads_one_index(owner, opened, django_assert_num_queries):
    for _ in range(3):
        question_resolve(question=closed_question(owner, opened), actor=owner, outcome="yes")
    Question.objects.update(scores_due=False)
    with django_assert_num_queries(1):
        assert stale_scores_recompute() == []


def test_recompute_all_and_the_command(owner, forecaster, opened, capsys):
    questions = [closed_question(owner, opened) for _ in range(3)]
    for question in questions:
        forecast(question, forecaster, opened + timedelta(days=1), 0.6)
        question_resolve(question=question, actor=owner, outcome="yes")
    stray = closed_question(owner, opened)
    factories.ForecastFactory(question=stray, forecaster=forecaster, made_at=opened, recorded_at=opened)

    assert scores_recompute_all(batch_size=2) == (3, 3, [])
    Score.objects.all().delete()
    call_command("recompute_scores", "--batch-size", "2")

    assert Score.objects.count() == 3
    assert "Recomputed 3 questions: 3 scores stored." in capsys.readouterr().out


def test_every_resolution_change_enqueues_a_recompute_after_commit(
    owner, opened, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr(question_scores_recompute_task, "delay", queued.append)
    monkeypatch.setattr(resolution_notify_task, "delay", lambda event_id: None)
    question = closed_question(owner, opened)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        question_resolve(question=question, actor=owner, outcome="yes")
        assert queued == []
    with django_capture_on_commit_callbacks(execute=True):
        question_unresolve(question=question, actor=owner)

    assert (len(callbacks), queued) == (1, [question.pk, question.pk])


def test_broker_outage_does_not_fail_the_resolution(owner, opened, monkeypatch, django_capture_on_commit_callbacks):
    def broker_down(question_id):
        raise ConnectionError("broker down")

    monkeypatch.setattr(question_scores_recompute_task, "delay", broker_down)
    question = closed_question(owner, opened)

    with django_capture_on_commit_callbacks(execute=True):
        question_resolve(question=question, actor=owner, outcome="no")  # robust: logged, not raised

    assert Question.objects.get(pk=question.pk).outcome == "no"


def test_score_summary_for_the_resolution_notification(owner, forecaster, opened):
    question = closed_question(owner, opened)
    forecast(question, forecaster, opened + timedelta(days=1), 0.8)
    forecast(question, owner, opened + timedelta(days=1), 0.5)
    resolve(question, owner)

    summaries = score_summaries_for(question_ids=[question.pk])

    summary = summaries[(question.pk, forecaster.pk)]
    assert summary.startswith(
        "Your forecast of 80% scored Brier 0.040 on the 0-1 scale (0.080 on the 0-2 scale; log loss 0.223"
    )
    assert "against the crowd" in summary
    assert (question.pk, factories.UserFactory().pk) not in summaries
