"""Services enforce Forewarn's rules: no back-dating, no late forecasts, owner-only resolution."""

import importlib
from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.utils import timezone

from forecasts import services
from forecasts.access import NO_SUCH_QUESTION
from forecasts.exceptions import StateConflict
from forecasts.models import Forecast, LatestForecast, Question, ResolutionEvent
from tests import factories

pytestmark = pytest.mark.django_db


def error_fields(excinfo) -> set[str]:
    return set(excinfo.value.message_dict)


def test_question_create_defaults_resolve_by_to_window_end_plus_grace(owner):
    window_end = timezone.now() + timedelta(days=10)
    question = services.question_create(
        owner=owner,
        title="Will Russia invade?",
        resolution_criteria="Regular forces cross the border.",
        window_end=window_end,
        tags=["Ukraine", "ukraine", "invasion"],
    )
    assert question.status == Question.Status.OPEN
    assert question.resolve_by == window_end + timedelta(days=3)
    assert sorted(question.tags.values_list("name", flat=True)) == ["invasion", "ukraine"]


def test_question_create_rejects_inverted_window(owner):
    now = timezone.now()
    with pytest.raises(ValidationError) as excinfo:
        services.question_create(
            owner=owner,
            title="t",
            resolution_criteria="c",
            window_start=now + timedelta(days=2),
            window_end=now + timedelta(days=1),
        )
    assert "window_end" in error_fields(excinfo)
    assert not Question.objects.exists()


def test_question_create_for_a_team_needs_membership(owner):
    team = factories.TeamFactory()
    with pytest.raises(ValidationError) as excinfo:
        services.question_create(
            owner=owner, title="t", resolution_criteria="c", window_end=timezone.now() + timedelta(days=1), team=team
        )
    assert "team" in error_fields(excinfo)


def test_own_forecast_is_stamped_now(question, forecaster):
    with time_machine.travel("2026-01-10 12:00:00Z", tick=False):
        question.window_end = timezone.now() + timedelta(days=5)
        question.resolve_by = question.window_end
        question.save()
        forecast = services.forecast_submit(question=question, recorded_by=forecaster, percent=70)
    assert forecast.made_at.isoformat() == "2026-01-10T12:00:00+00:00"
    assert forecast.probability == pytest.approx(0.7)
    assert forecast.forecaster == forecaster


def test_own_forecast_cannot_be_back_dated(question, forecaster):
    with pytest.raises(ValidationError) as excinfo:
        services.forecast_submit(
            question=question, recorded_by=forecaster, probability=0.4, made_at=timezone.now() - timedelta(days=1)
        )
    assert "made_at" in error_fields(excinfo)
    assert not Forecast.objects.exists()


def test_forecast_by_phrase_stores_phrase_yardstick_and_midpoint(question, forecaster):
    forecast = services.forecast_submit(question=question, recorded_by=forecaster, phrase="Very Likely")
    assert (forecast.phrase, forecast.yardstick, forecast.probability) == ("very likely", "icd203", 0.875)
    kent = services.forecast_submit(question=question, recorded_by=forecaster, phrase="probably not", yardstick="kent")
    assert kent.probability == 0.3


@pytest.mark.parametrize(
    "given, field",
    [
        ({"probability": 1.0}, "probability"),
        ({"probability": 0.0}, "probability"),
        ({"percent": 99.95}, "percent"),
        ({"phrase": "a sure thing"}, "phrase"),
        ({"phrase": "likely", "yardstick": "tarot"}, "yardstick"),
        ({"probability": 0.5, "percent": 50}, "probability"),
        ({}, "forecast"),
        ({"probability": "lots"}, "probability"),
    ],
)
def test_bad_probability_input_names_the_field(question, forecaster, given, field):
    with pytest.raises(ValidationError) as excinfo:
        services.forecast_submit(question=question, recorded_by=forecaster, **given)
    assert field in error_fields(excinfo)
    assert not Forecast.objects.exists()


def test_source_statement_keeps_its_past_date_and_needs_quote_and_url(question, forecaster):
    source = factories.SourceFactory()
    said_at = timezone.now() - timedelta(days=20)
    with pytest.raises(ValidationError) as excinfo:
        services.forecast_submit(
            question=question, recorded_by=forecaster, source=source, made_at=said_at, phrase="likely"
        )
    assert error_fields(excinfo) == {"quote", "url"}
    forecast = services.forecast_submit(
        question=question,
        recorded_by=forecaster,
        source=source,
        made_at=said_at,
        phrase="likely",
        quote="Russia could invade",
        url="https://example.org/briefing",
    )
    assert forecast.made_at == said_at and forecast.recorded_at > said_at
    assert forecast.forecaster is None and forecast.recorded_by == forecaster


def test_source_statement_cannot_be_dated_in_the_future(question, forecaster):
    with pytest.raises(ValidationError) as excinfo:
        services.forecast_submit(
            question=question,
            recorded_by=forecaster,
            source=factories.SourceFactory(),
            made_at=timezone.now() + timedelta(hours=1),
            probability=0.5,
            quote="q",
            url="https://example.org",
        )
    assert "made_at" in error_fields(excinfo)


@pytest.mark.parametrize("status", ["draft", "awaiting_resolution"])
def test_no_forecasts_unless_open(owner, status):
    question = factories.QuestionFactory(owner=owner, status=status)
    with pytest.raises(ValidationError) as excinfo:
        services.forecast_submit(question=question, recorded_by=owner, probability=0.5)
    assert "question" in error_fields(excinfo)


def test_drafts_are_hidden_from_everyone_but_their_owner(owner, forecaster):
    draft = factories.QuestionFactory(owner=owner, status="draft")
    with pytest.raises(Http404, match=NO_SUCH_QUESTION):  # the same answer as for a missing question
        services.forecast_submit(question=draft, recorded_by=forecaster, probability=0.5)


def test_no_own_forecast_after_the_window_ended_even_before_the_sweep(owner, forecaster):
    question = factories.QuestionFactory(owner=owner, window_end=timezone.now() - timedelta(minutes=1))
    with pytest.raises(ValidationError):
        services.forecast_submit(question=question, recorded_by=forecaster, probability=0.5)


def test_team_question_takes_no_forecast_from_outsiders(owner, forecaster):
    question = factories.QuestionFactory(owner=owner, team=factories.TeamFactory())
    with pytest.raises(Http404, match=NO_SUCH_QUESTION):  # the same answer as for a missing question
        services.forecast_submit(question=question, recorded_by=forecaster, probability=0.5)


def test_aggregates_follow_each_authors_latest_forecast(question, owner, forecaster):
    third = factories.UserFactory()
    services.forecast_submit(question=question, recorded_by=forecaster, probability=0.2)
    services.forecast_submit(question=question, recorded_by=owner, probability=0.6)
    services.forecast_submit(question=question, recorded_by=third, probability=0.9)
    services.forecast_submit(question=question, recorded_by=forecaster, probability=0.8)
    question.refresh_from_db()
    assert (question.forecast_count, question.forecaster_count) == (4, 3)
    assert question.crowd_probability == pytest.approx(0.8)
    assert LatestForecast.objects.get(question=question, forecaster=forecaster).probability == 0.8


def test_older_source_statement_does_not_replace_a_newer_one(question, forecaster):
    source = factories.SourceFactory()
    statement = {"quote": "q", "url": "https://example.org"}
    now = timezone.now()
    services.forecast_submit(
        question=question,
        recorded_by=forecaster,
        source=source,
        made_at=now - timedelta(days=1),
        probability=0.9,
        **statement,
    )
    services.forecast_submit(
        question=question,
        recorded_by=forecaster,
        source=source,
        made_at=now - timedelta(days=5),
        probability=0.1,
        **statement,
    )
    assert LatestForecast.objects.get(question=question, source=source).probability == 0.9


def closed_question(owner):
    return factories.QuestionFactory(
        owner=owner,
        status=Question.Status.AWAITING_RESOLUTION,
        window_end=timezone.now() - timedelta(days=1),
        resolve_by=timezone.now() + timedelta(days=2),
        closed_at=timezone.now() - timedelta(days=1),
    )


def test_owner_resolves_and_history_is_recorded(owner):
    question = closed_question(owner)
    services.question_resolve(
        question=question, actor=owner, outcome="no", evidence_url="https://example.org/e", note="Nothing happened"
    )
    question.refresh_from_db()
    assert (question.status, question.outcome, question.resolved_by) == ("resolved", "no", owner)
    event = ResolutionEvent.objects.get(question=question)
    assert (event.action, event.outcome, event.previous_status, event.evidence_url) == (
        "resolve",
        "no",
        "awaiting_resolution",
        "https://example.org/e",
    )


def test_only_owner_or_moderator_resolves(owner, forecaster, editor):
    question = closed_question(owner)
    with pytest.raises(PermissionDenied):
        services.question_resolve(question=question, actor=forecaster, outcome="yes")
    assert not ResolutionEvent.objects.exists()
    services.question_resolve(question=question, actor=editor, outcome="yes")
    assert Question.objects.get(pk=question.pk).outcome == "yes"


def test_resolving_twice_is_refused_until_undone(owner):
    question = closed_question(owner)
    services.question_resolve(question=question, actor=owner, outcome="yes")
    with pytest.raises(ValidationError):
        services.question_resolve(question=question, actor=owner, outcome="no")
    services.question_unresolve(question=question, actor=owner, note="wrong evidence")
    question.refresh_from_db()
    assert (question.status, question.outcome, question.resolved_at) == ("awaiting_resolution", "", None)
    services.question_resolve(question=question, actor=owner, outcome="no")
    assert list(ResolutionEvent.objects.filter(question=question).values_list("action", "outcome")) == [
        ("resolve", "yes"),
        ("unresolve", ""),
        ("resolve", "no"),
    ]


def test_early_resolution_only_for_yes(owner):
    question = factories.QuestionFactory(owner=owner, opened_at=timezone.now() - timedelta(days=1))
    with pytest.raises(ValidationError) as excinfo:
        services.question_resolve(question=question, actor=owner, outcome="no")
    assert "outcome" in error_fields(excinfo)
    occurred = timezone.now() - timedelta(hours=2)
    services.question_resolve(question=question, actor=owner, outcome="yes", occurred_at=occurred)
    question.refresh_from_db()
    assert question.status == "resolved" and question.closed_at is not None and question.occurred_at == occurred


def test_undoing_an_early_resolution_reopens_the_question(owner):
    question = factories.QuestionFactory(owner=owner)
    services.question_resolve(question=question, actor=owner, outcome="yes")
    services.question_unresolve(question=question, actor=owner)
    question.refresh_from_db()
    assert (question.status, question.closed_at) == ("open", None)


def test_annul_from_any_non_final_state_and_undo(owner):
    question = closed_question(owner)
    services.question_annul(question=question, actor=owner, note="criteria ambiguous")
    question.refresh_from_db()
    assert (question.status, question.outcome) == ("annulled", "annulled")
    with pytest.raises(ValidationError):
        services.question_annul(question=question, actor=owner)
    services.question_unresolve(question=question, actor=owner)
    assert Question.objects.get(pk=question.pk).status == "awaiting_resolution"


def test_the_transition_table_refuses_every_pair_it_does_not_list_with_the_same_messages(owner):
    expected = {
        ("draft", "resolve"): {"outcome": ["This question is draft; undo the resolution first to change it."]},
        ("resolved", "resolve"): {"outcome": ["This question is resolved; undo the resolution first to change it."]},
        ("annulled", "annul"): {"outcome": ["This question is annulled; undo the resolution first to annul it."]},
        ("open", "unresolve"): {"status": ["Only a resolved or annulled question can be un-resolved."]},
        ("draft", "unresolve"): {"status": ["Only a resolved or annulled question can be un-resolved."]},
    }
    calls = {
        "resolve": lambda question: services.question_resolve(question=question, actor=owner, outcome="yes"),
        "annul": lambda question: services.question_annul(question=question, actor=owner),
        "unresolve": lambda question: services.question_unresolve(question=question, actor=owner),
    }
    final = {
        "resolved": {"outcome": "yes", "resolved_at": timezone.now()},
        "annulled": {"outcome": "annulled", "resolved_at": timezone.now()},
    }
    for (status, action), message in expected.items():
        assert (status, action) not in services.TRANSITIONS
        question = factories.QuestionFactory(owner=owner, status=status, **final.get(status, {}))
        with pytest.raises(ValidationError) as excinfo:
            calls[action](question)
        assert excinfo.value.message_dict == message
    with pytest.raises(ValidationError) as excinfo:
        services.question_resolve(question=closed_question(owner), actor=owner, outcome="maybe")
    assert excinfo.value.message_dict == {"outcome": ["Choose yes, no or annulled."]}
    assert not ResolutionEvent.objects.exists()


def test_resolving_with_the_annulled_outcome_annuls(owner):
    question = services.question_resolve(question=closed_question(owner), actor=owner, outcome="annulled", note="void")
    assert (question.status, question.outcome) == ("annulled", "annulled")
    assert ResolutionEvent.objects.get().action == "annul"


def test_the_current_resolution_follows_resolve_undo_and_annul(owner):
    question = closed_question(owner)
    question = services.question_resolve(question=question, actor=owner, outcome="yes")
    first = ResolutionEvent.objects.get(action="resolve")
    assert Question.objects.get(pk=question.pk).current_resolution == first
    services.question_unresolve(question=question, actor=owner)
    assert Question.objects.get(pk=question.pk).current_resolution is None
    services.question_annul(question=question, actor=owner)
    annulment = ResolutionEvent.objects.get(action="annul")
    assert Question.objects.get(pk=question.pk).current_resolution == annulment


def test_the_migration_fills_the_current_resolution_of_existing_final_questions(owner):
    from django.apps import apps

    fill = importlib.import_module("forecasts.migrations.0006_question_current_resolution").current_resolutions_fill
    resolved = closed_question(owner)
    services.question_resolve(question=resolved, actor=owner, outcome="no")
    services.question_unresolve(question=resolved, actor=owner)
    services.question_resolve(question=resolved, actor=owner, outcome="yes")
    undone = closed_question(owner)
    services.question_annul(question=undone, actor=owner)
    services.question_unresolve(question=undone, actor=owner)
    expected = Question.objects.get(pk=resolved.pk).current_resolution_id
    Question.objects.update(current_resolution=None)

    fill(apps, None)

    assert expected == ResolutionEvent.objects.filter(question=resolved).order_by("-id").first().pk
    assert Question.objects.get(pk=resolved.pk).current_resolution_id == expected
    assert Question.objects.get(pk=undone.pk).current_resolution_id is None


def test_occurred_at_must_fall_inside_the_window(owner):
    question = closed_question(owner)
    with pytest.raises(ValidationError) as excinfo:
        services.question_resolve(question=question, actor=owner, outcome="yes", occurred_at=timezone.now())
    assert "occurred_at" in error_fields(excinfo)


def test_owner_edits_open_question_and_moving_window_end_rearms_schedule(owner, forecaster):
    question = factories.QuestionFactory(owner=owner, reminder_round=2, next_reminder_at=timezone.now())
    new_end = question.resolve_by + timedelta(days=10)
    services.question_update(question=question, actor=owner, window_end=new_end, title="Renamed")
    question.refresh_from_db()
    assert question.title == "Renamed" and question.window_end == new_end
    assert question.resolve_by == new_end + timedelta(days=3)
    assert (question.reminder_round, question.next_reminder_at) == (0, None)
    with pytest.raises(PermissionDenied):
        services.question_update(question=question, actor=forecaster, title="Hijacked")


def test_final_question_cannot_be_edited_by_its_owner(owner):
    question = closed_question(owner)
    services.question_resolve(question=question, actor=owner, outcome="no")
    with pytest.raises(StateConflict):
        services.question_update(question=question, actor=owner, title="Changed after the fact")


def test_draft_opens_on_request(owner):
    question = services.question_create(
        owner=owner, title="t", resolution_criteria="c", window_end=timezone.now() + timedelta(days=3), draft=True
    )
    assert question.status == "draft" and question.opened_at is None
    services.question_open(question=question, actor=owner)
    question.refresh_from_db()
    assert question.status == "open" and question.opened_at is not None


def test_crowd_median_follows_every_authors_latest_forecast_through_random_submissions(question):
    random = __import__("random").Random(20220114)
    users = [factories.UserFactory() for _ in range(5)]
    sources = [factories.SourceFactory() for _ in range(3)]
    now = timezone.now()
    latest: dict[tuple[str, int], tuple] = {}
    for step in range(60):
        probability = random.randint(1, 999) / 1000
        if random.random() < 0.6:
            author = random.choice(users)
            forecast = services.forecast_submit(question=question, recorded_by=author, probability=probability)
            key = ("user", author.pk)
        else:
            author = random.choice(sources)
            made_at = now - timedelta(days=random.randint(1, 30), seconds=step)
            forecast = services.forecast_submit(
                question=question,
                recorded_by=users[0],
                source=author,
                made_at=made_at,
                probability=probability,
                quote="q",
                url="https://example.org",
            )
            key = ("source", author.pk)
        latest[key] = max(
            latest.get(key, (forecast.made_at, forecast.pk, probability)), (forecast.made_at, forecast.pk, probability)
        )
        question.refresh_from_db()
        standing = sorted(entry[2] for entry in latest.values())
        middle = len(standing) // 2
        expected = standing[middle] if len(standing) % 2 else (standing[middle - 1] + standing[middle]) / 2
        assert (question.forecast_count, question.forecaster_count) == (step + 1, len(latest))
        assert question.crowd_probability == expected
