"""Scores nobody can rig: window moves and event dates that would cut off forecasts, historical
records filed after their window, the open span alone in time-averaged and relative Brier, and team
questions that only a moderator may move out of their team."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from forecasts import scoring
from forecasts.models import Question, Score, WindowChange
from forecasts.services import (
    forecast_submit,
    question_create,
    question_open,
    question_resolve,
    question_scores_recompute,
    question_update,
    reminder_offset,
)
from forecasts.services.questions import (
    TEAM_CHANGE_NEEDS_MODERATOR,
    WINDOW_CUTS_OFF_FORECASTS,
    WINDOW_ENDS_BEFORE_OPENING,
)
from forecasts.services.resolutions import OCCURRED_BEFORE_OPENING, OCCURRED_CUTS_OFF_FORECASTS
from tests import factories
from tests.api_support import ago, client_for, error_fields, soon
from tests.test_admin import form_errors, question_form_data, question_url

pytestmark = pytest.mark.django_db

EXACT = 1e-12


def message_of(excinfo, field: str) -> str:
    return excinfo.value.message_dict[field][0]


def first_words(message: str) -> str:
    """A message template up to its first placeholder, to match a formatted message."""
    return message.split("{")[0]


@pytest.fixture
def running(owner):
    """An open question opened ten days ago, ending in ten days."""
    return factories.QuestionFactory(owner=owner, opened_at=ago(10), window_start=ago(10), window_end=soon(10))


def own_forecast(question, user, made_at, probability=0.7):
    return factories.StandingForecastFactory(
        question=question, forecaster=user, made_at=made_at, recorded_at=made_at, probability=probability
    )


# Finding 8: window moves ---------------------------------------------------------------------


def test_owner_cannot_end_the_window_at_or_before_an_existing_forecast(owner, forecaster, running):
    latest = own_forecast(running, forecaster, ago(2)).made_at

    for window_end in (latest - timedelta(days=1), latest):
        with pytest.raises(ValidationError) as excinfo:
            question_update(question=running, actor=owner, window_end=window_end)
        assert message_of(excinfo, "window_end").startswith(first_words(WINDOW_CUTS_OFF_FORECASTS))

    running.refresh_from_db()
    assert running.status == Question.Status.OPEN and running.window_end > timezone.now()
    assert not WindowChange.objects.exists()


def test_owner_cannot_end_the_window_before_the_opening(owner, running):
    with pytest.raises(ValidationError) as excinfo:
        question_update(question=running, actor=owner, window_end=ago(11), window_start=None)

    assert message_of(excinfo, "window_end").startswith(first_words(WINDOW_ENDS_BEFORE_OPENING))


def test_every_window_move_is_recorded(owner, forecaster, running):
    own_forecast(running, forecaster, ago(2))
    previous_end = running.window_end

    question_update(question=running, actor=owner, window_end=soon(20))
    question_update(question=running, actor=owner, title="Retitled")  # not a window move

    change = WindowChange.objects.get(question=running)
    assert (change.actor, change.previous_window_end, change.forecasts_cut_off) == (owner, previous_end, 0)
    running.refresh_from_db()
    assert change.window_end == running.window_end and change.previous_window_start == change.window_start


def test_a_moderator_may_cut_off_forecasts_and_the_move_is_recorded(owner, forecaster, editor, running):
    own_forecast(running, forecaster, ago(2))
    own_forecast(running, owner, ago(1))

    question = question_update(question=running, actor=editor, window_end=ago(3))

    change = WindowChange.objects.get(question=running)
    assert (change.actor, change.window_end, change.forecasts_cut_off) == (editor, question.window_end, 2)
    # A window moved into the past closes the question at once, at its new end.
    assert question.status == Question.Status.AWAITING_RESOLUTION
    assert question.closed_at == question.window_end


def test_owner_may_shorten_the_window_after_the_last_forecast_and_it_closes_at_once(owner, forecaster, running):
    own_forecast(running, forecaster, ago(5))

    question = question_update(question=running, actor=owner, window_end=ago(4))

    assert question.status == Question.Status.AWAITING_RESOLUTION
    assert question.closed_at == question.window_end
    assert question.next_reminder_at == question.window_end + reminder_offset(0)
    assert WindowChange.objects.get(question=running).forecasts_cut_off == 0


# Finding 8: the event's date -----------------------------------------------------------------


def test_owner_cannot_date_the_event_before_an_existing_forecast(owner, forecaster, running):
    own_forecast(running, forecaster, ago(2))

    with pytest.raises(ValidationError) as excinfo:
        question_resolve(question=running, actor=owner, outcome="yes", occurred_at=ago(3))

    assert message_of(excinfo, "occurred_at").startswith(first_words(OCCURRED_CUTS_OFF_FORECASTS))
    running.refresh_from_db()
    assert running.status == Question.Status.OPEN


def test_owner_cannot_date_the_event_before_the_opening(owner):
    question = factories.QuestionFactory(owner=owner, opened_at=ago(10), window_start=ago(20), window_end=soon(10))

    with pytest.raises(ValidationError) as excinfo:
        question_resolve(question=question, actor=owner, outcome="yes", occurred_at=ago(15))

    assert message_of(excinfo, "occurred_at").startswith(first_words(OCCURRED_BEFORE_OPENING))


def test_a_moderator_may_date_the_event_before_forecasts_and_it_is_in_the_history(editor, forecaster, running):
    own_forecast(running, forecaster, ago(2))

    question = question_resolve(question=running, actor=editor, outcome="yes", occurred_at=ago(3))

    assert question.history.get().occurred_at == question.occurred_at


def test_owner_dates_the_event_after_every_forecast(owner, forecaster, running):
    own_forecast(running, forecaster, ago(3), probability=0.8)

    question = question_resolve(question=running, actor=owner, outcome="yes", occurred_at=ago(2))
    question_scores_recompute(question_id=question.pk)

    assert Score.objects.get(question=question).forecaster == forecaster


# Finding 8: a question filed after its window ended ------------------------------------------


def test_a_question_filed_after_its_window_is_a_historical_record(owner, forecaster):
    window_start, window_end = ago(40), ago(30)
    source = factories.SourceFactory(name="Ministry")

    question = question_create(
        owner=owner,
        title="Did it happen in that month?",
        resolution_criteria="YES if it did.",
        window_start=window_start,
        window_end=window_end,
    )

    assert question.status == Question.Status.AWAITING_RESOLUTION
    assert (question.opened_at, question.closed_at) == (window_start, window_end)
    assert (question.next_reminder_at, question.reminder_round) == (window_end + reminder_offset(0), 0)
    assert question.next_escalation_at == question.resolve_by
    statement = forecast_submit(
        question=question,
        recorded_by=owner,
        source=source,
        made_at=ago(35),
        probability=0.8,
        quote="It will happen this month.",
        url="https://example.org/statement",
    )
    with pytest.raises(ValidationError) as excinfo:
        forecast_submit(
            question=question,
            recorded_by=owner,
            source=source,
            made_at=ago(29),
            probability=0.8,
            quote="Too late.",
            url="https://example.org/late",
        )
    assert "made_at" in excinfo.value.message_dict
    with pytest.raises(ValidationError) as excinfo:
        forecast_submit(question=question, recorded_by=forecaster, probability=0.5)
    assert "question" in excinfo.value.message_dict

    question = question_resolve(question=question, actor=owner, outcome="yes", occurred_at=ago(33))
    question_scores_recompute(question_id=question.pk)
    assert Score.objects.get(question=question).forecast_id == statement.pk


def test_a_historical_record_without_a_window_start_has_no_opening(owner):
    question = question_create(owner=owner, title="Did it?", resolution_criteria="YES if so.", window_end=ago(3))

    assert question.status == Question.Status.AWAITING_RESOLUTION
    assert question.opened_at is None and question.closed_at == question.window_end


def test_opening_a_draft_whose_window_has_ended_makes_a_historical_record(owner):
    draft = question_create(
        owner=owner, title="Did it?", resolution_criteria="YES if so.", window_end=soon(1), draft=True
    )
    Question.objects.filter(pk=draft.pk).update(window_start=ago(9), window_end=ago(2), resolve_by=soon(1))

    question = question_open(question=draft, actor=owner)

    assert question.status == Question.Status.AWAITING_RESOLUTION
    assert question.opened_at == question.window_start and question.closed_at == question.window_end


def test_api_refuses_a_window_end_that_cuts_off_forecasts(owner, forecaster, running):
    own_forecast(running, forecaster, ago(2))
    client = client_for(owner)

    response = client.patch(f"/api/questions/{running.pk}/", {"window_end": "1900-01-20T00:00:00Z"}, format="json")
    assert response.status_code == 400 and error_fields(response) == {"window_end"}

    response = client.post(
        f"/api/questions/{running.pk}/resolve/", {"outcome": "yes", "occurred_at": ago(3).isoformat()}, format="json"
    )
    assert response.status_code == 400 and error_fields(response) == {"occurred_at"}


def test_api_files_a_question_after_its_window_as_a_historical_record(owner):
    response = client_for(owner).post(
        "/api/questions/",
        {
            "title": "Did it happen in January?",
            "resolution_criteria": "YES if it did.",
            "window_start": "2022-01-01T00:00:00Z",
            "window_end": "2022-02-01T00:00:00Z",
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "awaiting_resolution"
    assert body["closed_at"] == body["window_end"] and body["opened_at"] == body["window_start"]


# Finding 9: only the open span counts --------------------------------------------------------


def test_a_statement_made_before_the_opening_is_held_from_the_opening(owner, forecaster, opened_question_pair):
    question, source = opened_question_pair

    question_scores_recompute(question_id=question.pk)

    score = Score.objects.get(question=question, source=source)
    # Over the open span alone: the source's 0.9 (0.81) against the crowd's median 0.6 (0.36).
    assert score.time_averaged_brier == pytest.approx(0.81, abs=EXACT)
    assert score.relative_brier == pytest.approx(0.45, abs=EXACT)
    assert score.coverage == pytest.approx(1.0, abs=EXACT)
    # Counted from its own date it would have looked almost as good as the crowd: 0.15.
    timed = {
        key: [(made_at, probability)]
        for key, made_at, probability in (
            ("source", question.opened_at - timedelta(days=20), 0.9),
            ("a", question.opened_at, 0.5),
            ("b", question.opened_at, 0.6),
        )
    }
    old = scoring.crowd_relative_brier(timed, 0, question.window_end)
    assert old["source"] == pytest.approx(0.15, abs=EXACT)


@pytest.fixture
def opened_question_pair(owner, forecaster):
    """Opened 30 days ago for 10 days, resolved NO: a source said 0.9 twenty days before it opened,
    two forecasters 0.5 and 0.6 at the opening."""
    opened = (timezone.now() - timedelta(days=30)).replace(microsecond=0)
    question = factories.QuestionFactory(
        owner=owner,
        opened_at=opened,
        window_end=opened + timedelta(days=10),
        closed_at=opened + timedelta(days=10),
        status=Question.Status.AWAITING_RESOLUTION,
    )
    source = factories.SourceFactory(name="Early speaker")
    factories.source_statement(question, source, owner, opened - timedelta(days=20), 0.9)
    own_forecast(question, forecaster, opened, 0.5)
    own_forecast(question, factories.ForecasterFactory(username="second"), opened, 0.6)
    question = question_resolve(question=question, actor=owner, outcome="no")
    return question, source


def test_api_stats_expose_coverage(owner, forecaster, editor, opened_question_pair):
    question, _ = opened_question_pair
    question_scores_recompute(question_id=question.pk)
    client = client_for(editor)

    calibration = client.get("/api/stats/calibration/").json()
    leaderboard = client.get("/api/stats/leaderboard/").json()["results"]

    assert calibration["mean_coverage"] == pytest.approx(1.0, abs=EXACT)
    assert calibration["mean_time_averaged_brier"] is not None and calibration["mean_relative_brier"] is not None
    source_row = next(row for row in leaderboard if row["author_type"] == "source")
    assert source_row["mean_coverage"] == pytest.approx(1.0, abs=EXACT)
    assert source_row["mean_relative_brier"] == pytest.approx(0.45, abs=EXACT)


# Finding 10: a team question keeps its team -------------------------------------------------


@pytest.fixture
def other_team(owner):
    team = factories.TeamFactory(name="Desk")
    factories.TeamMembershipFactory(team=team, user=owner)
    return team


@pytest.mark.parametrize("destination", ["public", "other team"])
def test_owner_cannot_move_a_team_question_out_of_its_team(owner, team_question, other_team, destination):
    team = None if destination == "public" else other_team

    with pytest.raises(ValidationError) as excinfo:
        question_update(question=team_question, actor=owner, team=team)

    assert message_of(excinfo, "team") == TEAM_CHANGE_NEEDS_MODERATOR
    team_question.refresh_from_db()
    assert team_question.team.name == "Analysts"


def test_a_moderator_may_make_a_team_question_public(editor, team_question):
    question = question_update(question=team_question, actor=editor, team=None)

    assert question.team is None


def test_owner_may_still_file_a_public_question_in_their_team(owner, question, team):
    assert question_update(question=question, actor=owner, team=team).team == team


def test_api_refuses_making_a_team_question_public(owner, team_question):
    response = client_for(owner).patch(f"/api/questions/{team_question.pk}/", {"team": None}, format="json")

    assert response.status_code == 400 and error_fields(response) == {"team"}


def test_admin_refuses_making_a_team_question_public(client, owner, team_question):
    client.force_login(owner)

    response = client.post(question_url(team_question), question_form_data(team_question, team=""))

    assert "team" in form_errors(response)
    team_question.refresh_from_db()
    assert team_question.team is not None
