"""The database itself rejects rows that break Forewarn's invariants, even past validation."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from forecasts.models import Forecast
from tests import factories

pytestmark = pytest.mark.django_db


def assert_rejected(build):
    with pytest.raises(IntegrityError), transaction.atomic():
        build()


@pytest.mark.parametrize("probability", [0.0, 0.0009, 0.9991, 1.0, -0.5])
def test_probability_outside_range_is_rejected(probability):
    assert_rejected(lambda: factories.ForecastFactory(probability=probability))


@pytest.mark.parametrize("probability", [0.001, 0.5, 0.999])
def test_probability_on_the_bounds_is_stored(probability):
    assert factories.ForecastFactory(probability=probability).pk


def test_forecast_needs_exactly_one_author():
    user = factories.UserFactory()
    source = factories.SourceFactory()
    assert_rejected(lambda: factories.ForecastFactory(forecaster=None, recorded_by=user))
    assert_rejected(lambda: factories.ForecastFactory(forecaster=user, source=source, quote="q", url="https://x.org"))


def test_source_statement_needs_quote_and_url():
    user = factories.UserFactory()
    source = factories.SourceFactory()
    assert_rejected(lambda: factories.ForecastFactory(forecaster=None, source=source, recorded_by=user))


def test_phrase_needs_its_yardstick():
    assert_rejected(lambda: factories.ForecastFactory(phrase="likely", yardstick=""))


def test_forecast_cannot_be_made_after_it_was_recorded():
    now = timezone.now()
    assert_rejected(lambda: factories.ForecastFactory(made_at=now, recorded_at=now - timedelta(hours=1)))


def test_window_end_before_start_is_rejected():
    end = timezone.now()
    assert_rejected(lambda: factories.QuestionFactory(window_start=end + timedelta(days=1), window_end=end))


def test_resolve_by_before_window_end_is_rejected():
    end = timezone.now()
    assert_rejected(lambda: factories.QuestionFactory(window_end=end, resolve_by=end - timedelta(days=1)))


@pytest.mark.parametrize(
    "status, outcome, resolved",
    [
        ("resolved", "", True),
        ("resolved", "yes", False),
        ("resolved", "annulled", True),
        ("open", "yes", True),
        ("awaiting_resolution", "no", False),
        ("annulled", "yes", True),
    ],
)
def test_outcome_is_set_exactly_when_final(status, outcome, resolved):
    resolved_at = timezone.now() if resolved else None
    assert_rejected(lambda: factories.QuestionFactory(status=status, outcome=outcome, resolved_at=resolved_at))


def test_unknown_status_and_kind_are_rejected():
    assert_rejected(lambda: factories.QuestionFactory(status="pending"))
    assert_rejected(lambda: factories.QuestionFactory(kind="weather"))


def test_duplicate_notification_is_rejected():
    notification = factories.NotificationFactory()
    assert_rejected(
        lambda: factories.NotificationFactory(
            user=notification.user, dedupe_key=notification.dedupe_key, channel=notification.channel
        )
    )


def test_forecasts_are_append_only():
    forecast = factories.ForecastFactory()
    forecast.probability = 0.9
    with pytest.raises(ValidationError):
        forecast.save()
    with pytest.raises(ValidationError):
        forecast.delete()
    assert Forecast.objects.get(pk=forecast.pk).probability == 0.6
