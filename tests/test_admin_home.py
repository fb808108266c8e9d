"""The workbench's home page, the settings page, the lists' columns and filters, the seeds' owner,
"View site" and the favicon, through the real views."""

import re
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token

from forecasts import services
from forecasts.access import user_can_resolve_question
from forecasts.management.commands.load_seeds import PRACTICE_KEY_PREFIX, SEEDS_USERNAME
from forecasts.models import DigestDelivery, Profile, Question
from forecasts.templatetags.forewarn import ago
from tests import factories
from tests.test_admin import count_queries

pytestmark = pytest.mark.django_db

HOME = reverse("admin:index")
SETTINGS = reverse("admin:settings")
QUESTION_LIST = reverse("admin:forecasts_question_changelist")
SCORE_LIST = reverse("admin:forecasts_score_changelist")
FORECAST_LIST = reverse("admin:forecasts_forecast_changelist")
NOTIFICATION_LIST = reverse("admin:forecasts_notification_changelist")


def page(client, url=HOME, status=200) -> str:
    response = client.get(url)
    assert response.status_code == status
    return response.content.decode()


def section_html(html: str, section: str) -> str:
    """The HTML of one home page section (by its id), up to the next section."""
    match = re.search(
        rf'<div class="module" id="{section}">(.*?)(?=<div class="module" id=|<div class="home-apps")', html, re.S
    )
    assert match, f"no section {section}"
    return match.group(1)


def title_of(html: str) -> str:
    return re.search(r"<title>(.*?)</title>", html, re.S).group(1)


def closed_question(owner, *, days_ago: int = 1, resolve_in: timedelta = timedelta(days=3), **fields) -> Question:
    window_end = timezone.now() - timedelta(days=days_ago)
    return factories.QuestionFactory(
        owner=owner,
        window_end=window_end,
        resolve_by=window_end + resolve_in,
        status=Question.Status.AWAITING_RESOLUTION,
        closed_at=window_end,
        **fields,
    )


def busy_day(user, size: int) -> None:
    """`size` rows in every section of the user's home page, and as many of other people's."""
    now = timezone.now()
    other = factories.ForecasterFactory()
    for index in range(size):
        mine = factories.QuestionFactory(owner=user, window_end=now + timedelta(days=3 + index % 3))
        factories.StandingForecastFactory(question=mine, forecaster=user, probability=0.7)
        factories.StandingForecastFactory(question=mine, forecaster=other, probability=0.4)
        factories.QuestionFactory(owner=other, window_end=now + timedelta(days=2))
        closed_question(user, days_ago=5, resolve_in=timedelta(days=1))  # overdue as well
        factories.NotificationFactory(user=user, question=mine, message=f"Notice {index}.")
        resolved = factories.QuestionFactory(
            owner=other,
            status=Question.Status.RESOLVED,
            outcome=Question.Outcome.YES,
            window_end=now - timedelta(days=10),
            resolve_by=now - timedelta(days=7),
            resolved_at=now - timedelta(days=9),
        )
        factories.ScoreFactory(question=resolved, forecaster=user, probability=0.1 + index / (2 * size), brier=0.105624)


# The home page -------------------------------------------------------------------------------------


def test_home_page_shows_my_questions_with_my_forecast_beside_the_crowds(client, forecaster):
    other = factories.ForecasterFactory()
    question = factories.QuestionFactory(
        owner=other, title="Will talks resume?", window_end=timezone.now() + timedelta(days=3)
    )
    factories.StandingForecastFactory(
        question=question, forecaster=forecaster, probability=0.7, made_at=timezone.now() - timedelta(days=2)
    )
    factories.StandingForecastFactory(question=question, forecaster=other, probability=0.3)
    Question.objects.filter(pk=question.pk).update(crowd_probability=0.5)
    factories.QuestionFactory(title="Someone else's far question", window_end=timezone.now() + timedelta(days=60))
    client.force_login(forecaster)
    html = page(client)
    mine = section_html(html, "home-open")
    assert "Will talks resume?" in mine and "70%" in mine and "50%" in mine and "2\xa0days ago" in mine
    assert "Someone else" not in mine
    closing = section_html(html, "home-closing")
    assert "Will talks resume?" in closing and "Someone else" not in closing
    assert 'id="home-overdue"' not in html, "only moderators see the team's overdue resolutions"
    assert 'id="home-apps"' in html and reverse("admin:forecasts_question_changelist") in html


def test_home_page_offers_one_click_resolve_and_comes_back(client, owner):
    question = closed_question(owner, title="Did the ceasefire hold?")
    client.force_login(owner)
    awaiting = section_html(page(client), "home-awaiting")
    assert "Did the ceasefire hold?" in awaiting
    resolve_url = reverse("admin:forecasts_question_resolve", args=[question.pk])
    assert f'action="{resolve_url}"' in awaiting
    response = client.post(resolve_url, {"outcome": "no", "note": "https://example.org/report", "next": HOME})
    assert response.status_code == 302 and response.url == HOME
    question.refresh_from_db()
    assert question.status == Question.Status.RESOLVED and question.outcome == Question.Outcome.NO
    assert "Did the ceasefire hold?" not in section_html(page(client), "home-awaiting")


def test_resolve_goes_back_only_to_a_page_of_this_site(client, owner):
    question = closed_question(owner)
    client.force_login(owner)
    response = client.post(
        reverse("admin:forecasts_question_resolve", args=[question.pk]),
        {"outcome": "yes", "note": "Seen.", "next": "https://evil.example/"},
    )
    assert response.status_code == 302
    assert response.url == reverse("admin:forecasts_question_change", args=[question.pk])


def test_home_page_shows_unread_notifications_and_my_record(client, forecaster):
    question = factories.QuestionFactory()
    for index in range(7):
        factories.NotificationFactory(user=forecaster, question=question, message=f"Unread notice {index}.")
    factories.NotificationFactory(user=forecaster, question=question, message="Old news.", read_at=timezone.now())
    resolved = factories.QuestionFactory(
        title="A scored question",
        status=Question.Status.RESOLVED,
        outcome=Question.Outcome.YES,
        window_end=timezone.now() - timedelta(days=3),
        resolved_at=timezone.now() - timedelta(days=2),
    )
    factories.ScoreFactory(
        question=resolved, forecaster=forecaster, probability=0.675, brier=0.10562499999999997, relative_brier=-0.04
    )
    client.force_login(forecaster)
    html = page(client)
    notices = section_html(html, "home-notifications")
    assert "(7)" in notices and "Unread notice 6." in notices and "Old news." not in notices
    assert notices.count("<li>") == 5
    assert "just now" in notices and "0 minutes" not in notices
    record = section_html(html, "home-record")
    assert "0.106" in record and "-0.040" in record
    assert reverse("admin:forecasts_calibrationreport_chart") + f"?forecaster={forecaster.pk}" in record
    scores = section_html(html, "home-scores")
    assert "A scored question" in scores and "Yes" in scores and "67.5%" in scores and "0.106" in scores
    assert "0.10562499999999997" not in html


def test_ago_says_just_now_under_a_minute_and_the_time_after():
    now = timezone.now()
    assert ago(now - timedelta(seconds=30), now) == "just now"
    assert ago(now - timedelta(hours=3, minutes=5), now) == "3\xa0hours, 5\xa0minutes ago"
    assert ago(None, now) == "–"


def test_moderators_also_see_the_teams_overdue_resolutions(client, editor, owner):
    team = factories.TeamFactory()
    factories.TeamMembershipFactory(team=team, user=owner)
    closed_question(owner, days_ago=10, resolve_in=timedelta(days=2), title="An overdue team question", team=team)
    closed_question(owner, days_ago=1, title="Not yet overdue")
    client.force_login(editor)
    overdue = section_html(page(client), "home-overdue")
    assert "An overdue team question" in overdue and "Not yet overdue" not in overdue and "owner" in overdue
    client.force_login(owner)
    html = page(client)
    assert 'id="home-overdue"' not in html
    assert "An overdue team question" in section_html(html, "home-awaiting")


@pytest.mark.parametrize("role", ["outsider", "member_b", "removed", "no_group"])
def test_home_page_shows_nothing_of_other_teams(client, access_world, role):
    user = access_world.users[role]
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    closed_question(access_world.users["owner"], team=access_world.team, title="The team's awaiting question")
    client.force_login(user)
    html = page(client)
    for hidden in ("The team a question", "The team a draft question", "The public draft question"):
        assert hidden not in html
    assert "About team_a" not in html and "About public_draft" not in html
    assert "The team's awaiting question" not in html
    assert "About public." in section_html(html, "home-notifications")


def test_the_owner_sees_the_teams_questions_on_their_home_page(client, access_world):
    client.force_login(access_world.users["owner"])
    html = page(client)
    assert "The team a question" in section_html(html, "home-open")
    assert "About team_a." in section_html(html, "home-notifications")


@pytest.mark.parametrize("who", ["forecaster", "editor"])
def test_home_page_query_count_does_not_grow_with_the_data(client, forecaster, editor, who):
    user = {"forecaster": forecaster, "editor": editor}[who]
    client.force_login(user)
    busy_day(user, 1)
    few = count_queries(client, HOME)
    busy_day(user, 14)
    html = page(client)
    assert "more</a>" in html, "every section is full and says how many more there are"
    assert count_queries(client, HOME) == few


# The settings page -------------------------------------------------------------------------------


def test_a_forecaster_opens_their_settings_page(client, forecaster):
    client.force_login(forecaster)
    assert client.get(reverse("admin:auth_user_change", args=[forecaster.pk])).status_code == 403
    html = page(client, SETTINGS)
    profile = Profile.objects.for_user(forecaster)
    calendar_url = services.calendar_feed_url(profile=profile)
    assert calendar_url in html and calendar_url not in title_of(html)
    assert 'id="copy-calendar"' in html
    assert f'href="{SETTINGS}"' in page(client), "every page links to the settings"


def test_settings_save_like_the_api(client, forecaster):
    client.force_login(forecaster)
    response = client.post(SETTINGS, {"action": "save", "digest_period": "PT2H", "webhook_url": ""})
    assert response.status_code == 302 and response.url == SETTINGS
    profile = Profile.objects.for_user(forecaster)
    assert profile.digest_period == timedelta(hours=2) and profile.closing_soon_opt_in is False
    client.post(SETTINGS, {"action": "save", "digest_period": "90", "closing_soon_opt_in": "on"})
    profile.refresh_from_db()
    assert profile.digest_period == timedelta(minutes=90) and profile.closing_soon_opt_in is True
    assert 'value="90"' in page(client, SETTINGS)


@pytest.mark.parametrize(
    ("posted", "field", "message"),
    [
        ({"digest_period": "soon"}, "Digest period", "Give whole minutes"),
        ({"digest_period": "0"}, "Digest period", "between one minute and 31 days"),
        ({"digest_period": "P40D"}, "Digest period", "between one minute and 31 days"),
        ({"webhook_url": "ftp://example.org/hook"}, "Webhook URL", "http or https"),
        ({"webhook_url": "http://10.0.0.7/hook"}, "Webhook URL", ""),
    ],
)
def test_bad_settings_name_the_field_and_save_nothing(client, forecaster, posted, field, message):
    client.force_login(forecaster)
    before = Profile.objects.for_user(forecaster)
    data = {"action": "save", "digest_period": "45", "closing_soon_opt_in": "on", "webhook_url": "", **posted}
    response = client.post(SETTINGS, data)
    assert response.status_code == 400
    html = response.content.decode()
    assert "nothing was saved" in html
    assert re.search(rf'<ul class="errorlist"><li>{field}: [^<]*{message}', html)
    after = Profile.objects.get(pk=before.pk)
    assert (after.digest_period, after.closing_soon_opt_in, after.webhook_url) == (
        before.digest_period,
        before.closing_soon_opt_in,
        before.webhook_url,
    )


def test_settings_send_a_test_message_to_the_webhook(client, forecaster, endpoint):
    from tests.support.lifecycle import Endpoint

    client.force_login(forecaster)
    response = client.post(SETTINGS, {"action": "save", "digest_period": "60", "webhook_url": f"{endpoint}/hook"})
    assert response.status_code == 302
    response = client.post(SETTINGS, {"action": "send-test"}, follow=True)
    assert "Test message delivered" in response.content.decode()
    assert len(Endpoint.received) == 1


def test_settings_send_test_without_a_webhook_says_so(client, forecaster):
    client.force_login(forecaster)
    response = client.post(SETTINGS, {"action": "send-test"}, follow=True)
    assert "Test message refused: No webhook URL is set." in response.content.decode()


def test_settings_rotate_the_api_token_and_the_calendar(client, forecaster):
    client.force_login(forecaster)
    assert "You have no API token" in page(client, SETTINGS)
    response = client.post(SETTINGS, {"action": "rotate-token"})
    first = Token.objects.get(user=forecaster).key
    assert first in response.content.decode() and first not in title_of(response.content.decode())
    assert "You have an API token" in page(client, SETTINGS)
    client.post(SETTINGS, {"action": "rotate-token"})
    assert Token.objects.get(user=forecaster).key != first
    old_feed = Profile.objects.for_user(forecaster).calendar_token
    client.post(SETTINGS, {"action": "rotate-calendar"})
    assert Profile.objects.for_user(forecaster).calendar_token != old_feed


def test_notifications_page_keeps_the_calendar_address_out_of_the_page(client, forecaster):
    client.force_login(forecaster)
    html = page(client, NOTIFICATION_LIST)
    token = Profile.objects.for_user(forecaster).calendar_token
    assert token not in html
    assert f'href="{SETTINGS}"' in html


def test_digest_email_links_to_the_settings_page(forecaster):
    delivery = DigestDelivery.objects.create(user=forecaster)
    message = services.digest_email_build(delivery=delivery, notifications=[], now=timezone.now())
    settings_link = services.settings_page_url()
    assert settings_link.endswith("/admin/settings/")
    assert f"Forewarn settings: {settings_link}" in message.body
    assert f'href="{settings_link}"' in message.alternatives[0][0]


# Lists ----------------------------------------------------------------------------------------------


def test_question_list_puts_open_questions_first_and_shows_the_outcome(client, editor):
    now = timezone.now()
    resolved = factories.QuestionFactory(
        title="Resolved long ago",
        status=Question.Status.RESOLVED,
        outcome=Question.Outcome.YES,
        window_end=now - timedelta(days=40),
        resolve_by=now - timedelta(days=35),
        resolved_at=now - timedelta(days=36),
    )
    annulled = factories.QuestionFactory(
        title="Annulled one",
        status=Question.Status.ANNULLED,
        outcome=Question.Outcome.ANNULLED,
        window_end=now - timedelta(days=50),
        resolve_by=now - timedelta(days=45),
        resolved_at=now - timedelta(days=46),
    )
    awaiting = closed_question(editor, title="Awaiting one")
    late_open = factories.QuestionFactory(title="Open, closes late", window_end=now + timedelta(days=90))
    soon_open = factories.QuestionFactory(title="Open, closes soon", window_end=now + timedelta(days=2))
    client.force_login(editor)
    response = client.get(QUESTION_LIST)
    assert list(response.context["cl"].result_list) == [soon_open, late_open, awaiting, resolved, annulled]
    html = response.content.decode()
    assert re.search(r'<td class="field-outcome_label">Yes</td>', html)
    assert re.search(r'<td class="field-outcome_label">Annulled</td>', html)


@pytest.mark.parametrize(("window", "expected"), [("7", {"in 3 days"}), ("30", {"in 3 days", "in 20 days"})])
def test_question_list_filters_what_closes_in_the_next_days(client, editor, window, expected):
    now = timezone.now()
    for days in (3, 20, 60):
        factories.QuestionFactory(title=f"in {days} days", window_end=now + timedelta(days=days))
    closed_question(editor, days_ago=2, title="closed two days ago")
    client.force_login(editor)
    response = client.get(QUESTION_LIST, {"closes": window})
    assert {question.title for question in response.context["cl"].result_list} == expected
    assert "Closing in the next 7 days" in response.content.decode()


def test_score_list_rounds_to_three_decimals_and_names_outcomes(client, forecaster):
    resolved = factories.QuestionFactory(
        status=Question.Status.RESOLVED,
        outcome=Question.Outcome.NO,
        window_end=timezone.now() - timedelta(days=2),
        resolved_at=timezone.now() - timedelta(days=1),
    )
    score = factories.ScoreFactory(
        question=resolved, forecaster=forecaster, outcome=0, probability=0.325, brier=0.10562499999999997
    )
    client.force_login(forecaster)
    html = page(client, SCORE_LIST)
    assert "0.106" in html and "0.10562499999999997" not in html
    assert '<td class="field-outcome_label">No</td>' in html
    assert '<a href="?outcome=1">Yes</a>' in html and '<a href="?outcome=0">No</a>' in html
    assert set(client.get(SCORE_LIST, {"outcome": "0"}).context["cl"].result_list) == {score}
    assert not client.get(SCORE_LIST, {"outcome": "1"}).context["cl"].result_list
    detail = page(client, reverse("admin:forecasts_score_change", args=[score.pk]))
    assert "0.106" in detail and "0.10562499999999997" not in detail and "32.5%" in detail


def test_forecast_list_shows_compact_times_and_the_page_a_percentage(client, forecaster):
    forecast = factories.ForecastFactory(forecaster=forecaster, probability=0.625)
    client.force_login(forecaster)
    html = page(client, FORECAST_LIST)
    assert timezone.localtime(forecast.made_at).strftime("%Y-%m-%d %H:%M") in html
    detail = page(client, reverse("admin:forecasts_forecast_change", args=[forecast.pk]))
    assert "62.5%" in detail and "0.625" not in detail


# Seeds, View site, favicon ------------------------------------------------------------------------


def run(command: str) -> str:
    out = StringIO()
    call_command(command, stdout=out)
    return out.getvalue()


@pytest.mark.parametrize("order", [("load_seeds", "demo_users"), ("demo_users", "load_seeds")])
def test_practice_questions_belong_to_the_demo_forecaster(settings, tmp_path, order):
    settings.VAR_DIR = tmp_path
    for command in order:
        run(command)
    practice = Question.objects.filter(external_key__startswith=PRACTICE_KEY_PREFIX)
    assert practice.count() == 3
    assert set(practice.values_list("owner__username", flat=True)) == {"forecaster"}
    historical = Question.objects.exclude(external_key__startswith=PRACTICE_KEY_PREFIX)
    assert set(historical.values_list("owner__username", flat=True)) == {SEEDS_USERNAME}
    forecaster = get_user_model().objects.get(username="forecaster")
    assert user_can_resolve_question(forecaster, practice.first())
    before = list(Question.objects.order_by("pk").values_list("pk", "owner_id", "updated_at"))
    run("load_seeds")
    run("demo_users")
    assert list(Question.objects.order_by("pk").values_list("pk", "owner_id", "updated_at")) == before


def test_the_demo_forecaster_resolves_a_practice_question(client, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    run("load_seeds")
    run("demo_users")
    forecaster = get_user_model().objects.get(username="forecaster")
    question = Question.objects.filter(external_key__startswith=PRACTICE_KEY_PREFIX).first()
    client.force_login(forecaster)
    assert client.get(reverse("admin:forecasts_question_resolve", args=[question.pk])).status_code == 200


def test_view_site_leads_to_the_home_page(client, forecaster):
    client.force_login(forecaster)
    assert f'<a href="{HOME}">View site</a>' in page(client, QUESTION_LIST)
    response = client.get("/")
    assert response.status_code == 302 and response.url == HOME


def test_favicon_is_served_and_linked(client, forecaster):
    response = client.get("/favicon.ico")
    assert response.status_code == 200 and response["Content-Type"] == "image/x-icon"
    assert response.content[:4] == b"\x00\x00\x01\x00"
    client.force_login(forecaster)
    html = page(client)
    assert 'rel="icon"' in html and "favicon.svg" in html
