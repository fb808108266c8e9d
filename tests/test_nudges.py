"""Stale-forecast and crowd-moved nudges: armed by the sweep, sent once per forecast, re-armed by
a new forecast, off at 0, and never telling a blind forecaster where the crowd stands."""

from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from forecasts import services
from forecasts.models import LatestForecast, Notification, NudgeState, Profile, Question
from tests import factories
from tests.support.lifecycle import T0, at

pytestmark = pytest.mark.django_db

STALE = Notification.Kind.STALE_FORECAST
MOVED = Notification.Kind.CROWD_MOVED


def sweep(moment) -> list[Notification]:
    with at(moment):
        return services.lifecycle_sweep().notifications


def forecast(question, user, probability, moment):
    with at(moment):
        return services.forecast_submit(question=question, recorded_by=user, probability=probability)


def nudges(kind, **filters) -> list[tuple]:
    rows = Notification.objects.filter(kind=kind, **filters).order_by("id")
    return list(rows.values_list("user__username", "question_id"))


@pytest.fixture
def open_question(owner):
    return factories.QuestionFactory(owner=owner, window_end=T0 + timedelta(days=90), opened_at=T0 - timedelta(days=1))


def people(*names):
    return [factories.ForecasterFactory(username=name) for name in names]


# Arming -------------------------------------------------------------------------------------------


def test_the_sweep_arms_each_standing_forecast_once_and_again_after_a_new_one(open_question):
    ana, ben = people("ana", "ben")
    forecast(open_question, ana, 0.4, T0)
    forecast(open_question, ben, 0.6, T0)
    sweep(T0)
    assert set(LatestForecast.objects.values_list("nudges_armed", flat=True)) == {True}
    armed_at = dict(NudgeState.objects.values_list("user_id", "armed_at"))
    forecast(open_question, ana, 0.5, T0 + timedelta(days=1))
    assert dict(LatestForecast.objects.values_list("forecaster_id", "nudges_armed")) == {ana.pk: False, ben.pk: True}
    sweep(T0 + timedelta(days=1))
    states = {state.user_id: state for state in NudgeState.objects.select_related("forecast")}
    assert states[ana.pk].forecast.probability == 0.5 and states[ana.pk].armed_at > armed_at[ana.pk]
    assert states[ana.pk].forecast_made_at == states[ana.pk].forecast.made_at
    assert states[ben.pk].armed_at == armed_at[ben.pk], "an unchanged forecast is not read again"


def test_a_standing_forecast_on_a_question_closed_before_arming_is_armed_if_it_reopens(open_question):
    (ana,) = people("ana")
    forecast(open_question, ana, 0.4, T0)
    Question.objects.filter(pk=open_question.pk).update(status=Question.Status.AWAITING_RESOLUTION)
    sweep(T0)
    assert not NudgeState.objects.exists()
    Question.objects.filter(pk=open_question.pk).update(status=Question.Status.OPEN)
    sweep(T0 + timedelta(minutes=1))
    assert NudgeState.objects.get().user_id == ana.pk


# Stale forecasts --------------------------------------------------------------------------------


def test_stale_nudge_after_the_default_14_days_once_however_often_the_sweep_runs(open_question):
    (ana,) = people("ana")
    forecast(open_question, ana, 0.4, T0)
    assert sweep(T0) == []
    assert [n for n in sweep(T0 + timedelta(days=13, hours=23)) if n.kind == STALE] == []
    moment = T0 + timedelta(days=14)
    first = sweep(moment)
    assert [(n.kind, n.user_id) for n in first] == [(STALE, ana.pk)]
    assert "40%" in first[0].message and "14 days old" in first[0].message
    assert sweep(moment) == [], "the same instant again: nothing new"
    assert sweep(moment + timedelta(days=30)) == [], "once per forecast, not every day"
    assert nudges(STALE) == [("ana", open_question.pk)]


def test_a_new_forecast_re_arms_the_stale_nudge(open_question):
    (ana,) = people("ana")
    forecast(open_question, ana, 0.4, T0)
    sweep(T0)
    sweep(T0 + timedelta(days=14))
    forecast(open_question, ana, 0.5, T0 + timedelta(days=15))
    assert sweep(T0 + timedelta(days=15)) == []
    assert sweep(T0 + timedelta(days=28, hours=23)) == []
    assert [n.kind for n in sweep(T0 + timedelta(days=29))] == [STALE]
    assert len(nudges(STALE)) == 2
    assert NudgeState.objects.get().forecast.probability == 0.5


@pytest.mark.parametrize("days, nudged_on_day", [(0, None), (3, 3), (30, 30)])
def test_stale_nudge_follows_each_users_setting(open_question, days, nudged_on_day):
    ana, ben = people("ana", "ben")
    Profile.objects.create(user=ana, stale_forecast_days=days)
    forecast(open_question, ana, 0.4, T0)
    forecast(open_question, ben, 0.4, T0)  # no profile: the default, 14 days
    sweep(T0)
    told_on = {}
    for day in (1, 2, 3, 4, 13, 14, 15, 29, 30, 31, 60):
        for notification in sweep(T0 + timedelta(days=day)):
            if notification.kind == STALE:
                told_on.setdefault(notification.user_id, day)
    assert told_on.get(ana.pk) == nudged_on_day
    assert told_on[ben.pk] == 14


def test_no_stale_nudge_once_the_window_has_closed(owner):
    (ana,) = people("ana")
    question = factories.QuestionFactory(owner=owner, window_end=T0 + timedelta(days=10))
    forecast(question, ana, 0.4, T0)
    sweep(T0)
    assert [n for n in sweep(T0 + timedelta(days=20)) if n.kind == STALE] == []


# Crowd moves --------------------------------------------------------------------------------------


def test_crowd_move_nudges_once_per_move_and_re_arms_after_a_new_forecast(open_question):
    ana, ben, cem, dan, eve = people("ana", "ben", "cem", "dan", "eve")
    forecast(open_question, ana, 0.30, T0)
    sweep(T0)  # armed at the crowd of ana alone: 30%
    forecast(open_question, ben, 0.90, T0 + timedelta(hours=1))  # crowd 60%: 30 points
    moved = sweep(T0 + timedelta(hours=1))
    assert [(n.kind, n.user_id) for n in moved] == [(MOVED, ana.pk)]
    assert "from 30% to 60%" in moved[0].message and "your forecast of 30%" in moved[0].message
    assert sweep(T0 + timedelta(hours=1)) == [], "the same instant again: nothing new"
    forecast(open_question, cem, 0.95, T0 + timedelta(hours=2))  # crowd 90%
    told = sweep(T0 + timedelta(hours=2))
    assert [(n.kind, n.user_id) for n in told] == [(MOVED, ben.pk)], "ana was told already; ben armed at 60%"

    forecast(open_question, ana, 0.80, T0 + timedelta(hours=3))  # ana re-armed at the crowd of 90%
    assert sweep(T0 + timedelta(hours=3)) == []
    forecast(open_question, dan, 0.10, T0 + timedelta(hours=4))  # crowd 85%: 5 points
    assert sweep(T0 + timedelta(hours=4)) == []
    forecast(open_question, eve, 0.05, T0 + timedelta(hours=5))  # crowd 80%: exactly 10 points from 90%
    again = sweep(T0 + timedelta(hours=5))
    assert sorted((n.kind, n.user_id) for n in again) == [(MOVED, ana.pk), (MOVED, cem.pk)]
    assert nudges(MOVED, user=ana) == [("ana", open_question.pk)] * 2


@pytest.mark.parametrize("points, nudged", [(0, False), (30, True), (31, False)])
def test_crowd_move_follows_each_users_threshold(open_question, points, nudged):
    ana, ben = people("ana", "ben")
    Profile.objects.create(user=ana, crowd_move_points=points)
    forecast(open_question, ana, 0.30, T0)
    sweep(T0)
    forecast(open_question, ben, 0.90, T0 + timedelta(hours=1))  # 30 points
    assert bool(nudges(MOVED, user=ana)) is False
    sweep(T0 + timedelta(hours=1))
    assert bool(nudges(MOVED, user=ana)) is nudged


@pytest.mark.parametrize("crowd_hidden, told", [("never", True), ("until_forecast", True), ("until_close", False)])
def test_a_blind_forecaster_is_never_told_where_the_crowd_went(owner, crowd_hidden, told):
    ana, ben = people("ana", "ben")
    question = factories.QuestionFactory(owner=owner, window_end=T0 + timedelta(days=90), crowd_hidden=crowd_hidden)
    forecast(question, ana, 0.30, T0)
    sweep(T0)
    forecast(question, ben, 0.90, T0 + timedelta(hours=1))
    sweep(T0 + timedelta(hours=1))
    assert bool(nudges(MOVED, user=ana)) is told
    # The stale nudge names no crowd value, so it goes to blind forecasters too.
    stale = [n for n in sweep(T0 + timedelta(days=14)) if n.user_id == ana.pk]
    assert [n.kind for n in stale] == [STALE] and "60%" not in stale[0].message


def test_the_sweep_nudges_in_bulk_with_a_constant_number_of_queries(owner):
    def queries_to_nudge(count: int) -> int:
        question = factories.QuestionFactory(owner=owner, window_end=T0 + timedelta(days=90))
        users = [factories.ForecasterFactory() for _ in range(count)]
        for user in users:
            forecast(question, user, 0.2, T0)
        sweep(T0)
        for _ in range(count + 1):  # the crowd moves from 20% to 99% for all of them
            forecast(question, factories.ForecasterFactory(), 0.99, T0 + timedelta(hours=1))
        with CaptureQueriesContext(connection) as queries:
            told = sweep(T0 + timedelta(days=15))
        assert len([n for n in told if n.question_id == question.pk]) >= 2 * count
        return len(queries)

    assert queries_to_nudge(2) == queries_to_nudge(7)


# Where the nudges show ------------------------------------------------------------------------------


def test_nudges_carry_a_one_click_update_link_in_app_and_in_the_digest(open_question):
    (ana,) = people("ana")
    ana.email = "ana@example.org"
    ana.save()
    forecast(open_question, ana, 0.4, T0)
    sweep(T0)
    sweep(T0 + timedelta(days=14))
    update_url = f"/admin/forecasts/question/{open_question.pk}/forecast/"
    client = APIClient()
    client.force_authenticate(ana)
    listed = client.get("/api/notifications/").json()["results"]
    assert [item["kind"] for item in listed] == ["stale_forecast"]
    assert listed[0]["update_url"].endswith(update_url)
    with at(T0 + timedelta(days=14, minutes=5)):
        services.lifecycle_run(
            digests_deliver=services.digests_deliver_inline, webhooks_deliver=services.webhooks_deliver_inline
        )
    (email,) = mail.outbox
    assert f"Update your forecast: http://testserver{update_url}" in email.body or update_url in email.body
    assert update_url in email.alternatives[0][0]
    client.force_login(ana)
    page = APIClient()
    page.force_login(ana)
    box = page.get(update_url)
    assert box.status_code == 200 and "Record forecast" in box.content.decode()


def test_settings_are_shown_with_their_defaults_and_changed_with_patch(forecaster):
    client = APIClient()
    client.force_authenticate(forecaster)
    shown = client.get("/api/me/").json()["settings"]
    assert (shown["stale_forecast_days"], shown["crowd_move_points"]) == (14, 10)
    changed = client.patch("/api/me/", {"settings": {"stale_forecast_days": 0, "crowd_move_points": 25}}, format="json")
    assert changed.status_code == 200
    assert (changed.json()["settings"]["stale_forecast_days"], changed.json()["settings"]["crowd_move_points"]) == (
        0,
        25,
    )
    for bad in ({"stale_forecast_days": -1}, {"crowd_move_points": 100}, {"crowd_move_points": "x"}):
        refused = client.patch("/api/me/", {"settings": bad}, format="json")
        assert refused.status_code == 400, bad
        assert any(key.startswith("settings.") for key in refused.json()["codes"]), refused.json()
    profile = Profile.objects.get(user=forecaster)
    assert (profile.stale_forecast_days, profile.crowd_move_points) == (0, 25)


def test_team_default_applies_when_a_question_is_filed(owner):
    team = factories.TeamFactory(crowd_hidden_default=Question.CrowdHidden.UNTIL_CLOSE)
    factories.TeamMembershipFactory(team=team, user=owner)
    common = {
        "owner": owner,
        "title": "Will it?",
        "resolution_criteria": "If it does.",
        "window_end": T0 + timedelta(days=9),
    }
    with at(T0):
        assert services.question_create(team=team, **common).crowd_hidden == "until_close"
        assert services.question_create(team=team, crowd_hidden="never", **common).crowd_hidden == "never"
        assert services.question_create(**common).crowd_hidden == "never"
