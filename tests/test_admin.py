"""The admin workbench through its real views: visibility (as forecasts/access.py decides it),
permissions, services behind every form."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from forecasts import services
from forecasts.models import Forecast, Question, ResolutionEvent, Source, Team, TeamMembership
from tests import factories

pytestmark = pytest.mark.django_db

QUESTION_LIST = reverse("admin:forecasts_question_changelist")
QUESTION_ADD = reverse("admin:forecasts_question_add")
FORECAST_LIST = reverse("admin:forecasts_forecast_changelist")
TAG_LIST = reverse("admin:forecasts_tag_changelist")
NOTIFICATION_LIST = reverse("admin:forecasts_notification_changelist")
CALIBRATION_PAGE = reverse("admin:forecasts_calibrationreport_changelist")
CALIBRATION_CHART = reverse("admin:forecasts_calibrationreport_chart")


def question_url(question, action: str = "change") -> str:
    return reverse(f"admin:forecasts_question_{action}", args=[question.pk])


def forecast_url(forecast, action: str = "change") -> str:
    return reverse(f"admin:forecasts_forecast_{action}", args=[forecast.pk])


def notification_url(notification_id: int) -> str:
    return reverse("admin:forecasts_notification_change", args=[notification_id])


def split_datetime(name: str, value) -> dict:
    """The two inputs of the admin's date + time widget."""
    if value is None:
        return {f"{name}_0": "", f"{name}_1": ""}
    return {f"{name}_0": value.strftime("%Y-%m-%d"), f"{name}_1": value.strftime("%H:%M:%S")}


def question_form_data(question, **overrides) -> dict:
    """What the change form posts back for an unchanged question, with overrides."""
    data = {
        "title": question.title,
        "kind": question.kind,
        "tags": ", ".join(question.tags.values_list("name", flat=True)),
        "team": question.team_id or "",
        "crowd_hidden": question.crowd_hidden,
        "details": question.details,
        "resolution_criteria": question.resolution_criteria,
        "source": question.source_id or "",
        "source_quote": question.source_quote,
        "source_statement_date": "",
        "source_url": question.source_url,
        **split_datetime("window_start", question.window_start),
        **split_datetime("window_end", question.window_end),
        **split_datetime("resolve_by", question.resolve_by),
    }
    data.update(overrides)
    return data


def listed(response) -> set:
    assert response.status_code == 200
    return set(response.context["cl"].result_list)


def form_errors(response) -> dict:
    assert response.status_code == 200, "a rejected form is shown again, not redirected"
    assert "errornote" in response.content.decode()
    return response.context["adminform"].form.errors


def count_queries(client, url) -> int:
    client.get(url)  # warm the per-process caches (content types) so only per-request queries count
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def closed_question(days_ago: int = 1, **fields):
    window_end = timezone.now() - timedelta(days=days_ago)
    return factories.QuestionFactory(
        window_end=window_end, status=Question.Status.AWAITING_RESOLUTION, closed_at=window_end, **fields
    )


@pytest.fixture
def superuser(db):
    return factories.UserFactory(username="root", is_staff=True, is_superuser=True)


# Lists and visibility


def test_admin_is_branded_forewarn(client, forecaster):
    client.force_login(forecaster)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 200
    assert '<a href="/admin/">Forewarn</a>' in response.content.decode()


def test_forecaster_sees_public_and_own_team_questions_only(client, forecaster):
    own_team = factories.TeamMembershipFactory(user=forecaster).team
    other_team = factories.TeamFactory(name="Other desk")
    public = factories.QuestionFactory(title="Public question")
    ours = factories.QuestionFactory(title="Our desk's question", team=own_team)
    factories.QuestionFactory(title="Hidden desk question", team=other_team)
    client.force_login(forecaster)

    response = client.get(QUESTION_LIST)

    assert listed(response) == {public, ours}
    page = response.content.decode()
    assert "Hidden desk question" not in page
    assert "Other desk" not in page, "the team filter offers only teams of visible questions"


HIDDEN_QUESTIONS = {
    "another team's question": lambda owner: factories.QuestionFactory(team=factories.TeamFactory()),
    "someone else's draft": lambda owner: factories.QuestionFactory(
        owner=owner, status=Question.Status.DRAFT, opened_at=None
    ),
}


@pytest.mark.parametrize("hidden_kind", HIDDEN_QUESTIONS)
@pytest.mark.parametrize("page", ["change", "delete", "history", "forecast", "resolve", "unresolve"])
def test_a_hidden_question_and_a_missing_one_are_the_same_404(client, forecaster, owner, hidden_kind, page):
    hidden = HIDDEN_QUESTIONS[hidden_kind](owner)
    missing_id = hidden.pk + 1000
    client.force_login(forecaster)
    for send in (client.get, client.post):
        seen = send(reverse(f"admin:forecasts_question_{page}", args=[hidden.pk]))
        unknown = send(reverse(f"admin:forecasts_question_{page}", args=[missing_id]))
        assert seen.status_code == unknown.status_code == 404
        assert without_csrf_token(seen) == without_csrf_token(unknown)


def without_csrf_token(response) -> str:
    """The page with its CSRF token (new on every page) masked."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "csrf", response.content.decode())


def test_editor_sees_every_team_question(client, editor):
    secret = factories.QuestionFactory(team=factories.TeamFactory())
    client.force_login(editor)
    assert listed(client.get(QUESTION_LIST)) == {secret}


def test_question_list_shows_crowd_median_count_and_my_forecast(client, forecaster, owner, question):
    services.forecast_submit(question=question, recorded_by=forecaster, probability=0.4)
    services.forecast_submit(question=question, recorded_by=owner, percent=70)
    services.forecast_submit(question=question, recorded_by=owner, percent=80)
    client.force_login(forecaster)

    response = client.get(QUESTION_LIST)

    row = response.content.decode().split(question.title)[1].split("</tr>")[0]
    assert '<td class="field-crowd">60%</td>' in row
    assert '<td class="field-forecast_total">3</td>' in row
    assert '<td class="field-my_forecast">40%</td>' in row


def test_question_changelist_query_count_does_not_grow_with_questions(client, forecaster):
    own_team = factories.TeamMembershipFactory(user=forecaster).team

    def add_questions(count):
        for number in range(count):
            question = factories.QuestionFactory(
                team=own_team if number % 2 else None,
                owner=factories.ForecasterFactory(),
                source=factories.SourceFactory(),
            )
            question.tags.add(factories.TagFactory())
            services.forecast_submit(question=question, recorded_by=forecaster, probability=0.3)

    pages = [QUESTION_LIST, f"{QUESTION_LIST}?status__exact=open&q=event&resolution=mine"]
    client.force_login(forecaster)
    add_questions(1)
    with_one = [count_queries(client, url) for url in pages]
    add_questions(19)
    with_twenty = [count_queries(client, url) for url in pages]
    assert len(listed(client.get(QUESTION_LIST))) == 20
    assert with_twenty == with_one


def test_forecast_changelist_query_count_does_not_grow_with_forecasts(client, forecaster, question):
    def add_forecasts(count):
        for _ in range(count):
            services.forecast_submit(question=question, recorded_by=factories.ForecasterFactory(), phrase="likely")

    client.force_login(forecaster)
    add_forecasts(1)
    with_one = count_queries(client, FORECAST_LIST)
    add_forecasts(19)
    assert count_queries(client, FORECAST_LIST) == with_one


def test_awaiting_my_resolution_filter(client, owner, editor):
    mine = closed_question(owner=owner)
    someone_elses = closed_question()
    factories.QuestionFactory(owner=owner)  # still open
    url = f"{QUESTION_LIST}?resolution=mine"

    overdue = closed_question(days_ago=5, owner=owner)

    client.force_login(owner)
    assert listed(client.get(url)) == {mine, overdue}
    assert listed(client.get(f"{QUESTION_LIST}?resolution=overdue")) == {overdue}
    client.force_login(editor)
    assert listed(client.get(url)) == {mine, overdue, someone_elses}


def test_forecast_and_resolution_lists_hide_other_teams(client, forecaster, editor):
    public = closed_question()
    hidden = closed_question(team=factories.TeamFactory())
    visible_forecast = factories.ForecastFactory(question=public, made_at=public.window_end - timedelta(days=2))
    factories.ForecastFactory(question=hidden, made_at=hidden.window_end - timedelta(days=2))
    for question in (public, hidden):
        services.question_resolve(question=question, actor=editor, outcome="no", evidence_url="https://example.org/e")
    client.force_login(forecaster)

    assert listed(client.get(FORECAST_LIST)) == {visible_forecast}
    events = listed(client.get(reverse("admin:forecasts_resolutionevent_changelist")))
    assert {event.question for event in events} == {public}


# Forecasts are append-only


def test_nobody_can_edit_or_delete_a_forecast_through_the_admin(client, forecaster, editor, superuser, question):
    forecast = services.forecast_submit(question=question, recorded_by=forecaster, probability=0.3)
    for user in (forecaster, editor, superuser):
        client.force_login(user)
        page = client.get(forecast_url(forecast))
        assert page.status_code == 200, "a forecast can be viewed"
        assert 'name="probability"' not in page.content.decode()
        assert client.post(forecast_url(forecast), {"probability": "0.9"}).status_code == 403
        assert client.get(forecast_url(forecast, "delete")).status_code == 403
        assert client.post(forecast_url(forecast, "delete"), {"post": "yes"}).status_code == 403
        client.post(FORECAST_LIST, {"action": "delete_selected", "_selected_action": [forecast.pk], "post": "yes"})
        assert client.get(reverse("admin:forecasts_forecast_add")).status_code == 403
    forecast.refresh_from_db()
    assert forecast.probability == 0.3
    assert Forecast.objects.count() == 1


def test_opened_question_cannot_be_deleted_only_annulled(client, editor, question):
    services.forecast_submit(question=question, recorded_by=editor, probability=0.3)
    client.force_login(editor)
    assert client.post(question_url(question, "delete"), {"post": "yes"}).status_code == 403
    assert Question.objects.filter(pk=question.pk).exists()


def test_owner_discards_their_draft(client, owner, forecaster):
    draft = factories.QuestionFactory(owner=owner, status=Question.Status.DRAFT, opened_at=None)
    client.force_login(forecaster)
    assert client.post(question_url(draft, "delete"), {"post": "yes"}).status_code == 404, "a draft is the owner's"
    client.force_login(owner)
    assert client.post(question_url(draft, "delete"), {"post": "yes"}).status_code == 302
    assert not Question.objects.exists()


def test_change_page_shows_history_read_only_with_crowd_median(client, forecaster, owner, question):
    services.forecast_submit(question=question, recorded_by=owner, phrase="very likely", rationale="Troops massing.")
    source = factories.SourceFactory(name="Ministry of Defence")
    services.forecast_submit(
        question=question,
        recorded_by=forecaster,
        source=source,
        made_at=timezone.now() - timedelta(days=3),
        percent=30,
        quote="We see no sign of it.",
        url="https://example.org/statement",
    )
    client.force_login(forecaster)

    response = client.get(question_url(question))

    page = response.content.decode()
    assert response.status_code == 200
    assert "Forecast history" in page
    assert "very likely (ICD 203)" in page and "Troops massing." in page
    assert "Ministry of Defence (source)" in page
    assert "Crowd median <strong>58.8%</strong>" in page
    assert 'name="forecasts-0-probability"' not in page
    assert question_url(question, "forecast") in page


def test_change_page_query_count_does_not_grow_with_forecasts(client, owner, question):
    client.force_login(owner)
    services.forecast_submit(question=question, recorded_by=owner, probability=0.2)
    with_one = count_queries(client, question_url(question))
    for _ in range(9):
        services.forecast_submit(question=question, recorded_by=factories.ForecasterFactory(), probability=0.6)
    assert count_queries(client, question_url(question)) == with_one


# Adding forecasts


@pytest.mark.parametrize(
    "given, probability, phrase, yardstick",
    [
        ({"forecast": "very likely"}, 0.875, "very likely", "icd203"),
        ({"forecast": "probably not"}, 0.30, "probably not", "kent"),
        ({"forecast": "62.5%"}, 0.625, "", ""),
        ({"forecast": "0.2"}, 0.2, "", ""),
    ],
)
def test_forecaster_adds_a_forecast_stamped_now(client, forecaster, question, given, probability, phrase, yardstick):
    client.force_login(forecaster)
    before = timezone.now()

    response = client.post(question_url(question, "forecast"), {**given, "rationale": "Logistics in place."})

    assert response.status_code == 302
    assert response.url == question_url(question)
    forecast = Forecast.objects.get()
    assert forecast.probability == pytest.approx(probability)
    assert (forecast.phrase, forecast.yardstick) == (phrase, yardstick)
    assert forecast.forecaster == forecast.recorded_by == forecaster
    assert forecast.source is None
    assert before <= forecast.made_at <= timezone.now()
    assert forecast.rationale == "Logistics in place."
    question.refresh_from_db()
    assert (question.forecast_count, question.crowd_probability) == (1, pytest.approx(probability))


def test_add_forecast_page_has_one_text_box(client, forecaster, question):
    client.force_login(forecaster)
    response = client.get(question_url(question, "forecast"))
    page = response.content.decode()
    assert response.status_code == 200
    assert '<input type="text" name="forecast"' in page
    assert 'name="probability"' not in page and 'name="percent"' not in page and "<optgroup" not in page


@pytest.mark.parametrize(
    "posted, field",
    [
        ({"forecast": "100%"}, "forecast"),
        ({"forecast": "0"}, "forecast"),
        ({"forecast": "abc"}, "forecast"),
        ({"forecast": "fairly sure"}, "forecast"),
        ({}, "forecast"),
        ({"forecast": "0.4", "made_at_0": "2022-01-20", "made_at_1": "10:00"}, "made_at"),
        ({"forecast": "0.4", "quote": "It will happen."}, "source"),
    ],
)
def test_bad_forecast_input_is_shown_on_its_field_and_saves_nothing(client, forecaster, question, posted, field):
    client.force_login(forecaster)
    response = client.post(question_url(question, "forecast"), posted)
    assert field in form_errors(response)
    assert 'class="errorlist' in response.content.decode()
    assert not Forecast.objects.exists()


def test_forecaster_records_a_source_statement_with_its_past_date(client, forecaster, question):
    source = factories.SourceFactory(name="White House press secretary")
    said_at = (timezone.now() - timedelta(days=5)).replace(microsecond=0)
    client.force_login(forecaster)

    response = client.post(
        question_url(question, "forecast"),
        {
            "forecast": "likely",
            "source": source.pk,
            **split_datetime("made_at", said_at),
            "quote": "An invasion could begin at any time.",
            "url": "https://example.org/briefing",
        },
    )

    assert response.status_code == 302
    forecast = Forecast.objects.get()
    assert (forecast.source, forecast.forecaster, forecast.recorded_by) == (source, None, forecaster)
    assert forecast.made_at == said_at
    assert forecast.recorded_at > said_at
    assert forecast.probability == pytest.approx(0.675)


def test_source_statement_needs_a_quote_and_a_past_date(client, forecaster, question):
    client.force_login(forecaster)
    response = client.post(
        question_url(question, "forecast"),
        {
            "forecast": "80%",
            "source": factories.SourceFactory().pk,
            **split_datetime("made_at", timezone.now() + timedelta(days=1)),
            "url": "https://example.org/briefing",
        },
    )
    assert {"made_at", "quote"} <= set(form_errors(response))
    assert not Forecast.objects.exists()


def test_closed_question_takes_no_forecasts(client, forecaster):
    question = closed_question()
    client.force_login(forecaster)
    assert client.get(question_url(question, "forecast")).status_code == 302
    assert client.post(question_url(question, "forecast"), {"percent": "50"}).status_code == 302
    assert not Forecast.objects.exists()
    assert question_url(question, "forecast") not in client.get(question_url(question)).content.decode()


# Filing and editing questions


def test_forecaster_files_a_question_owned_by_them(client, forecaster):
    window_end = (timezone.now() + timedelta(days=20)).replace(microsecond=0)
    client.force_login(forecaster)

    response = client.post(
        QUESTION_ADD,
        {
            "title": "Will Russia launch a full-scale invasion of Ukraine by 15 February?",
            "kind": Question.Kind.INVASION_WINDOW,
            "tags": "Ukraine, Black Sea",
            "resolution_criteria": "YES if regular forces cross the border in force.",
            **split_datetime("window_end", window_end),
            **split_datetime("resolve_by", None),
        },
    )

    assert response.status_code == 302
    question = Question.objects.get()
    assert question.owner == forecaster
    assert question.status == Question.Status.OPEN
    assert question.resolve_by == window_end + timedelta(days=3)
    assert sorted(question.tags.values_list("name", flat=True)) == ["black-sea", "ukraine"]


def test_question_saved_as_draft_then_published(client, forecaster):
    window_end = (timezone.now() + timedelta(days=20)).replace(microsecond=0)
    client.force_login(forecaster)
    client.post(
        QUESTION_ADD,
        {
            "title": "Draft",
            "kind": "other",
            "resolution_criteria": "c",
            "draft": "on",
            **split_datetime("window_end", window_end),
        },
    )
    question = Question.objects.get()
    assert question.status == Question.Status.DRAFT

    response = client.post(question_url(question), question_form_data(question, publish="on"))

    assert response.status_code == 302
    question.refresh_from_db()
    assert question.status == Question.Status.OPEN
    assert question.opened_at is not None


def test_service_validation_errors_appear_on_the_question_form(client, forecaster):
    now = timezone.now()
    client.force_login(forecaster)
    response = client.post(
        QUESTION_ADD,
        {
            "title": "Inverted",
            "kind": "other",
            "resolution_criteria": "c",
            **split_datetime("window_start", now + timedelta(days=5)),
            **split_datetime("window_end", now + timedelta(days=2)),
        },
    )
    assert "window_end" in form_errors(response)
    assert not Question.objects.exists()


def test_forecaster_cannot_file_for_a_team_they_are_not_in(client, forecaster):
    client.force_login(forecaster)
    response = client.post(
        QUESTION_ADD,
        {
            "title": "For another desk",
            "kind": "other",
            "resolution_criteria": "c",
            "team": factories.TeamFactory().pk,
            **split_datetime("window_end", timezone.now() + timedelta(days=2)),
        },
    )
    assert "team" in form_errors(response)
    assert not Question.objects.exists()


def test_forecaster_edits_their_own_open_question(client, owner, question):
    client.force_login(owner)
    response = client.post(
        question_url(question), question_form_data(question, title="Sharper title", tags="escalation")
    )
    assert response.status_code == 302
    question.refresh_from_db()
    assert question.title == "Sharper title"
    assert list(question.tags.values_list("name", flat=True)) == ["escalation"]


def test_forecaster_cannot_edit_someone_elses_question(client, forecaster, question):
    client.force_login(forecaster)
    page = client.get(question_url(question))
    assert page.status_code == 200, "they can read it and forecast on it"
    assert 'name="title"' not in page.content.decode()
    response = client.post(question_url(question), question_form_data(question, title="Hijacked"))
    assert response.status_code == 403
    question.refresh_from_db()
    assert question.title != "Hijacked"


def test_editor_edits_anyones_open_question(client, editor, question):
    client.force_login(editor)
    response = client.post(question_url(question), question_form_data(question, title="Edited by the desk"))
    assert response.status_code == 302
    question.refresh_from_db()
    assert question.title == "Edited by the desk"


# Resolving, annulling, undoing


def test_forecaster_cannot_resolve_someone_elses_question(client, forecaster):
    question = closed_question()
    client.force_login(forecaster)
    assert "Resolve…" not in client.get(question_url(question)).content.decode()
    assert client.get(question_url(question, "resolve")).status_code == 403
    response = client.post(question_url(question, "resolve"), {"outcome": "no", "note": "Nothing happened."})
    assert response.status_code == 403
    question.refresh_from_db()
    assert question.status == Question.Status.AWAITING_RESOLUTION
    assert not ResolutionEvent.objects.exists()


def test_owner_resolves_with_evidence(client, owner):
    question = closed_question(owner=owner)
    client.force_login(owner)
    assert question_url(question, "resolve") in client.get(question_url(question)).content.decode()

    response = client.post(
        question_url(question, "resolve"),
        {"outcome": "no", "evidence_url": "https://example.org/timeline", "note": "No crossing in the window."},
    )

    assert response.status_code == 302
    assert response.url == question_url(question)
    question.refresh_from_db()
    assert (question.status, question.outcome, question.resolved_by) == ("resolved", "no", owner)
    event = ResolutionEvent.objects.get()
    assert (event.action, event.outcome, event.actor) == ("resolve", "no", owner)
    assert event.evidence_url == "https://example.org/timeline"
    page = client.get(question_url(question)).content.decode()
    assert "Resolution history" in page and "https://example.org/timeline" in page


def test_editor_resolves_anyones_question_early(client, editor, question):
    client.force_login(editor)
    happened = timezone.now() - timedelta(hours=2)
    response = client.post(
        question_url(question, "resolve"),
        {"outcome": "yes", "evidence_url": "https://example.org/news", **split_datetime("occurred_at", happened)},
    )
    assert response.status_code == 302
    question.refresh_from_db()
    assert (question.status, question.outcome, question.resolved_by) == ("resolved", "yes", editor)


@pytest.mark.parametrize(
    "posted, field",
    [
        ({"outcome": "no", "note": "Too early."}, "outcome"),
        ({"outcome": "yes"}, "evidence_url"),
        ({"outcome": "maybe", "note": "?"}, "outcome"),
        ({"outcome": "yes", "evidence_url": "not a url"}, "evidence_url"),
    ],
)
def test_bad_resolution_is_shown_on_its_field(client, owner, question, posted, field):
    client.force_login(owner)
    assert field in form_errors(client.post(question_url(question, "resolve"), posted))
    question.refresh_from_db()
    assert question.status == Question.Status.OPEN
    assert not ResolutionEvent.objects.exists()


def test_annul_then_undo(client, owner, forecaster):
    question = closed_question(owner=owner)
    client.force_login(owner)

    annulled = client.post(
        question_url(question, "resolve"), {"outcome": "annulled", "note": "The wording was ambiguous."}
    )
    assert annulled.status_code == 302
    question.refresh_from_db()
    assert (question.status, question.outcome) == ("annulled", "annulled")
    assert question_url(question, "unresolve") in client.get(question_url(question)).content.decode()

    client.force_login(forecaster)
    assert client.post(question_url(question, "unresolve"), {"note": "Mine now"}).status_code == 403

    client.force_login(owner)
    assert "note" in form_errors(client.post(question_url(question, "unresolve"), {}))
    undone = client.post(question_url(question, "unresolve"), {"note": "Annulled by mistake."})
    assert undone.status_code == 302
    question.refresh_from_db()
    assert (question.status, question.outcome) == ("awaiting_resolution", "")
    assert list(ResolutionEvent.objects.values_list("action", flat=True)) == ["annul", "unresolve"]


def test_resolved_question_is_read_only_even_for_editors(client, editor):
    question = closed_question()
    services.question_resolve(question=question, actor=editor, outcome="yes", evidence_url="https://example.org/e")
    client.force_login(editor)
    assert 'name="title"' not in client.get(question_url(question)).content.decode()
    assert client.post(question_url(question), question_form_data(question, title="Rewritten")).status_code == 403
    assert client.get(question_url(question, "resolve")).status_code == 302, "undo first"


# Sources


def test_forecaster_adds_a_source(client, forecaster):
    client.force_login(forecaster)
    response = client.post(
        reverse("admin:forecasts_source_add"),
        {"name": "US intelligence", "kind": "organisation", "url": "https://example.org", "description": ""},
    )
    assert response.status_code == 302
    source = Source.objects.get()
    assert (source.name, source.created_by) == ("US intelligence", forecaster)
    assert client.get(reverse("admin:forecasts_source_change", args=[source.pk])).status_code == 200


def test_resolution_history_is_read_only(client, editor):
    question = closed_question()
    services.question_resolve(question=question, actor=editor, outcome="no", evidence_url="https://example.org/e")
    event = ResolutionEvent.objects.get()
    url = reverse("admin:forecasts_resolutionevent_change", args=[event.pk])
    client.force_login(editor)
    assert client.get(url).status_code == 200
    assert client.post(url, {"note": "rewritten"}).status_code == 403
    assert (
        client.post(reverse("admin:forecasts_resolutionevent_delete", args=[event.pk]), {"post": "yes"}).status_code
        == 403
    )
    event.refresh_from_db()
    assert event.note == ""


# Teams


def test_editor_builds_a_team_and_forecasters_see_only_their_own(client, editor, forecaster, owner):
    client.force_login(editor)
    response = client.post(
        reverse("admin:forecasts_team_add"),
        {
            "name": "Eastern Europe desk",
            "crowd_hidden_default": "until_forecast",
            "crowd_method": "median",
            "memberships-TOTAL_FORMS": "1",
            "memberships-INITIAL_FORMS": "0",
            "memberships-MIN_NUM_FORMS": "0",
            "memberships-MAX_NUM_FORMS": "1000",
            "memberships-0-user": forecaster.pk,
        },
    )
    assert response.status_code == 302
    team = Team.objects.get()
    assert list(team.members.all()) == [forecaster]
    assert team.crowd_hidden_default == "until_forecast"
    factories.TeamFactory(name="Sanctions desk")

    client.force_login(forecaster)
    assert listed(client.get(reverse("admin:forecasts_team_changelist"))) == {team}
    assert client.get(reverse("admin:forecasts_team_add")).status_code == 403
    client.force_login(owner)
    assert listed(client.get(reverse("admin:forecasts_team_changelist"))) == set()


# Tags


def tag_autocomplete(client, term: str = "") -> set[str]:
    """The tag names the admin's autocomplete offers for a question's tags."""
    params = {"app_label": "forecasts", "model_name": "question", "field_name": "tags", "term": term}
    response = client.get(reverse("admin:autocomplete"), params)
    assert response.status_code == 200
    return {result["text"] for result in response.json()["results"]}


def test_a_tag_used_only_on_a_teams_questions_shows_only_inside_the_team(client, forecaster):
    member = factories.ForecasterFactory(username="member")
    team = factories.TeamMembershipFactory(user=member).team
    factories.QuestionFactory(team=team).tags.add(factories.TagFactory(name="covert-desk"))
    shared = factories.TagFactory(name="black-sea")
    factories.QuestionFactory().tags.add(shared)
    factories.QuestionFactory(team=team).tags.add(shared)
    draft = factories.QuestionFactory(owner=member, status=Question.Status.DRAFT, opened_at=None)
    draft.tags.add(factories.TagFactory(name="draft-only"))

    client.force_login(forecaster)
    assert {tag.name for tag in listed(client.get(TAG_LIST))} == {"black-sea"}
    assert tag_autocomplete(client) == {"black-sea"}
    assert tag_autocomplete(client, "covert") == set()
    assert "covert-desk" not in client.get(QUESTION_LIST).content.decode(), "nor in the tag filter"

    client.force_login(member)
    assert {tag.name for tag in listed(client.get(TAG_LIST))} == {"black-sea", "covert-desk", "draft-only"}
    assert tag_autocomplete(client, "covert") == {"covert-desk"}


# Notifications


def test_a_member_removed_from_a_team_stops_seeing_its_notices_at_once(client, forecaster):
    team = factories.TeamMembershipFactory(user=forecaster).team
    team_notice = factories.NotificationFactory(
        user=forecaster, question=factories.QuestionFactory(team=team), message="The desk's window has closed."
    )
    public_notice = factories.NotificationFactory(user=forecaster, question=factories.QuestionFactory())
    client.force_login(forecaster)
    assert listed(client.get(NOTIFICATION_LIST)) == {team_notice, public_notice}

    TeamMembership.objects.filter(team=team, user=forecaster).delete()

    response = client.get(NOTIFICATION_LIST)
    assert listed(response) == {public_notice}
    assert "Your notifications: 1 unread" in response.content.decode()
    hidden = client.get(notification_url(team_notice.pk))
    missing = client.get(notification_url(team_notice.pk + 1000))
    assert (hidden.status_code, hidden.url) == (missing.status_code, missing.url) == (302, reverse("admin:index"))
    assert "The desk's window has closed." not in client.get(hidden.url).content.decode()


# Calibration


def forecasters_in_and_out_of_sight() -> tuple:
    """(colleague, insider): one with a forecast on a public question, one only on a team's."""
    colleague = factories.ForecasterFactory(username="colleague")
    insider = factories.ForecasterFactory(username="insider")
    team = factories.TeamMembershipFactory(user=insider).team
    factories.ForecasterFactory(username="bystander")  # no forecast anywhere
    services.forecast_submit(question=factories.QuestionFactory(), recorded_by=colleague, probability=0.3)
    services.forecast_submit(question=factories.QuestionFactory(team=team), recorded_by=insider, probability=0.6)
    return colleague, insider


def test_calibration_page_offers_only_the_forecasters_the_user_may_see(client, forecaster, editor):
    colleague, insider = forecasters_in_and_out_of_sight()
    client.force_login(forecaster)

    page = client.get(CALIBRATION_PAGE)

    assert set(page.context["form"].fields["forecaster"].queryset) == {forecaster, colleague}
    assert "insider" not in page.content.decode() and "bystander" not in page.content.decode()
    hidden = client.get(CALIBRATION_PAGE, {"forecaster": insider.pk})
    missing = client.get(CALIBRATION_PAGE, {"forecaster": insider.pk + 1000})
    assert hidden.context["form"].errors["forecaster"] == missing.context["form"].errors["forecaster"]
    assert "calibration" not in hidden.context
    hidden_chart = client.get(CALIBRATION_CHART, {"forecaster": insider.pk})
    missing_chart = client.get(CALIBRATION_CHART, {"forecaster": insider.pk + 1000})
    assert hidden_chart.content == missing_chart.content
    assert b"insider" not in hidden_chart.content

    client.force_login(editor)
    offered = client.get(CALIBRATION_PAGE).context["form"].fields["forecaster"].queryset
    assert {colleague, insider} <= set(offered)


def test_user_page_shows_the_calibration_chart_only_of_a_forecaster_the_viewer_may_see(client, forecaster):
    colleague, insider = forecasters_in_and_out_of_sight()
    forecaster.user_permissions.add(Permission.objects.get(content_type__app_label="auth", codename="view_user"))
    client.force_login(forecaster)

    visible = client.get(reverse("admin:auth_user_change", args=[colleague.pk]))
    hidden = client.get(reverse("admin:auth_user_change", args=[insider.pk]))

    assert visible.status_code == hidden.status_code == 200
    assert f"chart.svg?forecaster={colleague.pk}" in visible.content.decode()
    assert "chart.svg?forecaster=" not in hidden.content.decode()
