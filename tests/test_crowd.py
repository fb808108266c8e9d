"""forecasts/services/crowd.py: the standing forecasts, counts and crowd median a submission maintains.

PostgreSQL inserts the forecast and refreshes them in one statement (or, for a forecast already
saved, refreshes them in one), any other database in two steps; the bulk rebuild derives the same
rows from the forecasts alone. Each is checked against the others and against
a plain Python oracle (statistics.median of each author's latest forecast by (made_at, id)).
"""

import random
import statistics
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models.signals import post_save
from django.utils import timezone

from forecasts import services
from forecasts.models import Forecast, LatestForecast, Question
from forecasts.services import crowd
from forecasts.services import forecasts as forecast_services
from tests import factories

pytestmark = pytest.mark.django_db


def saved_then(refresh):
    """A stand-in for the submission's insert: `save()`, then `refresh` the crowd."""

    def insert(*, question, forecast):
        forecast.save()
        refresh(question=question, forecast=forecast)

    return insert


IMPLEMENTATIONS = {
    "one statement": crowd.forecast_insert_in_one_statement,
    "saved, then one statement": saved_then(crowd.crowd_refresh_in_one_statement),
    "two steps": saved_then(crowd.crowd_refresh_in_two_steps),
}


def implementations_here() -> dict:
    """All on PostgreSQL; elsewhere only the portable two steps (the one statements are PostgreSQL's)."""
    if connection.vendor == "postgresql":
        return IMPLEMENTATIONS
    return {"two steps": IMPLEMENTATIONS["two steps"]}


def aggregates(question: Question) -> tuple:
    question.refresh_from_db()
    return question.forecast_count, question.forecaster_count, question.crowd_probability


def standing_rows(question: Question) -> list[tuple]:
    rows = LatestForecast.objects.filter(question=question).order_by("forecast_id")
    return list(rows.values_list("forecaster_id", "source_id", "forecast_id", "probability"))


def random_submissions(questions: dict, monkeypatch, *, seed: int, steps: int) -> list[list[tuple]]:
    """The same random forecasts on each question, each question refreshed by its own implementation.

    Returns, per step, each question's aggregates and the oracle's.
    """
    rng = random.Random(seed)
    users = [factories.ForecasterFactory(username=f"crowd-{n}") for n in range(5)]
    sources = [factories.SourceFactory() for _ in range(3)]
    now = timezone.now()
    latest: dict[tuple, tuple] = {}
    history = []
    for step in range(steps):
        probability = rng.randint(1, 999) / 1000
        by_source = rng.random() < 0.4
        author = rng.choice(sources if by_source else users)
        made_at = now - timedelta(days=rng.randint(1, 30), seconds=step) if by_source else None
        row = []
        for name, question in questions.items():
            monkeypatch.setattr(forecast_services, "forecast_insert", IMPLEMENTATIONS[name])
            if by_source:
                forecast = services.forecast_submit(
                    question=question, recorded_by=users[0], source=author, made_at=made_at,
                    probability=probability, quote="q", url="https://example.org",
                )  # fmt: skip
            else:
                forecast = services.forecast_submit(question=question, recorded_by=author, probability=probability)
            key = (name, "source" if by_source else "user", author.pk)
            latest[key] = max(
                latest.get(key, (forecast.made_at, forecast.pk, probability)),
                (forecast.made_at, forecast.pk, probability),
            )
            standing = [entry[2] for entry_key, entry in latest.items() if entry_key[0] == name]
            row.append((aggregates(question), (step + 1, len(standing), statistics.median(standing))))
        history.append(row)
    return history


def test_every_implementation_keeps_the_oracles_median_through_random_submissions(monkeypatch):
    owner = factories.ForecasterFactory(username="crowd-owner")
    questions = {name: factories.QuestionFactory(owner=owner) for name in implementations_here()}
    history = random_submissions(questions, monkeypatch, seed=20220114, steps=60)
    for row in history:
        assert all(found == expected for found, expected in row), row
        assert len({found for found, _ in row}) == 1, f"the implementations disagree: {row}"


def test_the_rebuild_derives_what_submissions_maintained(monkeypatch):
    owner = factories.ForecasterFactory(username="crowd-owner")
    questions = {name: factories.QuestionFactory(owner=owner) for name in implementations_here()}
    random_submissions(questions, monkeypatch, seed=7, steps=40)
    untouched = factories.QuestionFactory(owner=owner)
    maintained = {question.pk: (aggregates(question), standing_rows(question)) for question in questions.values()}
    Question.objects.filter(pk=untouched.pk).update(forecast_count=3, forecaster_count=2, crowd_probability=0.5)

    services.crowd_rebuild()

    assert {
        question.pk: (aggregates(question), standing_rows(question)) for question in questions.values()
    } == maintained
    assert aggregates(untouched) == (0, 0, None)


@pytest.mark.parametrize("implementation", list(IMPLEMENTATIONS))
def test_an_even_crowd_takes_the_mean_of_the_middle_two_exactly(
    implementation, question, owner, forecaster, monkeypatch
):
    if implementation not in implementations_here():
        pytest.skip("the one statement is PostgreSQL's")
    monkeypatch.setattr(forecast_services, "forecast_insert", IMPLEMENTATIONS[implementation])
    services.forecast_submit(question=question, recorded_by=owner, probability=0.001)
    services.forecast_submit(question=question, recorded_by=forecaster, probability=0.009)
    # percentile_cont would give 0.001 + 0.5 * (0.009 - 0.001), one bit away from the median.
    assert statistics.median([0.001, 0.009]) != 0.001 + 0.5 * (0.009 - 0.001)
    assert aggregates(question) == (2, 2, statistics.median([0.001, 0.009]))


def test_submission_refreshes_through_the_crowd_service_on_every_database(question, forecaster):
    forecast = services.forecast_submit(question=question, recorded_by=forecaster, probability=0.3)
    assert aggregates(question) == (1, 1, 0.3)
    assert standing_rows(question) == [(forecaster.pk, None, forecast.pk, 0.3)]


def stored_values(forecast: Forecast) -> dict:
    return {field.attname: getattr(forecast, field.attname) for field in Forecast._meta.concrete_fields}


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="the one statement is PostgreSQL's")
def test_the_one_statement_inserts_the_row_save_would(question, owner):
    source = factories.SourceFactory()
    made_at = timezone.now() - timedelta(days=2)
    forecast = services.forecast_submit(
        question=question, recorded_by=owner, source=source, made_at=made_at, phrase="likely",
        rationale="Troops are massing.", confidence="moderate", quote="It is likely.", url="https://example.org/a",
    )  # fmt: skip
    assert forecast.pk is not None and not forecast._state.adding and forecast._state.db == "default"
    assert stored_values(Forecast.objects.get(pk=forecast.pk)) == stored_values(forecast)
    assert (forecast.phrase, forecast.yardstick, forecast.made_at) == ("likely", "icd203", made_at)
    assert standing_rows(question) == [(None, source.pk, forecast.pk, forecast.probability)]
    assert aggregates(question) == (1, 1, forecast.probability)


def test_a_save_signal_receiver_still_hears_of_every_forecast(question, forecaster):
    heard = []

    def receiver(sender, instance, created, **kwargs):
        heard.append((instance.pk, created))

    post_save.connect(receiver, sender=Forecast, dispatch_uid="test-forecast-receiver")
    try:
        forecast = services.forecast_submit(question=question, recorded_by=forecaster, probability=0.4)
    finally:
        post_save.disconnect(sender=Forecast, dispatch_uid="test-forecast-receiver")
    assert heard == [(forecast.pk, True)]
    assert aggregates(question) == (1, 1, 0.4)
