"""Secrets a user can revoke: the calendar feed's token and the API token rotate on request and on
every password change, API tokens expire, tokens stay out of the logs, and one-click links die
with the resolution state they were issued for."""

import logging
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.template.loader import render_to_string
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token

from forecasts import services
from forecasts.log_masking import GunicornLogger, secret_paths_mask
from forecasts.models import Profile, Question
from forecasts.services.action_links import action_link_url
from tests import factories
from tests.api_support import client_for

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"


def feed_path(user) -> str:
    return f"/calendar/{Profile.objects.for_user(user).calendar_token}.ics"


def awaiting_question(owner):
    window_end = timezone.now() - timedelta(days=1)
    return factories.QuestionFactory(
        owner=owner, status=Question.Status.AWAITING_RESOLUTION, window_end=window_end, closed_at=window_end
    )


def link_path(user, question, action: str) -> str:
    url = action_link_url(user_id=user.pk, question_id=question.pk, action=action)
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


# --- rotation on request ------------------------------------------------------------------------


def test_the_api_rotates_the_calendar_token_and_the_old_feed_is_gone(owner):
    old_feed = feed_path(owner)
    response = client_for(owner).post("/api/me/calendar-token/")
    assert response.status_code == 200
    new_feed = feed_path(owner)
    assert new_feed != old_feed
    assert response.json()["calendar_url"].endswith(new_feed)
    assert Client().get(old_feed).status_code == 404
    assert Client().get(new_feed).status_code == 200


def test_calendar_rotation_needs_credentials():
    assert client_for().post("/api/me/calendar-token/").status_code == 401


def test_revoke_then_issue_rotates_the_api_token(owner):
    old_key = client_for(owner)._credentials["HTTP_AUTHORIZATION"].split()[1]
    client = client_for(owner)
    assert client.delete("/api/auth/token/").status_code == 204
    assert client.get("/api/me/").status_code == 401
    new_key = client_for().post("/api/auth/token/", {"username": "owner", "password": PASSWORD}, format="json")
    assert new_key.json()["token"] != old_key


def test_the_settings_page_rotates_the_calendar_token_and_keeps_it_out_of_the_title(client, owner):
    client.force_login(owner)
    old_token = Profile.objects.for_user(owner).calendar_token
    page = client.get("/admin/settings/").content.decode()
    assert old_token in page
    title = page.split("<title>", 1)[1].split("</title>", 1)[0]
    assert old_token not in title
    assert old_token not in client.get("/admin/forecasts/notification/").content.decode()
    response = client.post("/admin/settings/", {"action": "rotate-calendar"})
    assert response.status_code == 302
    new_token = Profile.objects.for_user(owner).calendar_token
    assert new_token != old_token
    assert new_token in client.get("/admin/settings/").content.decode()


def test_the_settings_page_rotates_the_api_token_and_shows_the_new_key_once(client, owner):
    old_key = services.api_token_issue(user=owner).key
    client.force_login(owner)
    response = client.post("/admin/settings/", {"action": "rotate-token"})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    new_key = Token.objects.get(user=owner).key
    assert new_key != old_key
    assert new_key in response.content.decode()
    assert new_key not in client.get("/admin/settings/").content.decode()
    assert client_for().get("/api/me/", HTTP_AUTHORIZATION=f"Token {old_key}").status_code == 401


# --- rotation on a password change --------------------------------------------------------------


def test_the_admin_password_form_rotates_both_secrets(client, owner):
    superuser = factories.UserFactory(username="root", is_staff=True, is_superuser=True)
    old_key, old_feed = services.api_token_issue(user=owner).key, feed_path(owner)
    client.force_login(superuser)
    response = client.post(
        f"/admin/auth/user/{owner.pk}/password/",
        {"password1": "a-new-long-passphrase-9", "password2": "a-new-long-passphrase-9", "usable_password": "true"},
    )
    assert response.status_code == 302, response.content
    assert not Token.objects.filter(key=old_key).exists()
    assert feed_path(owner) != old_feed
    assert Client().get(old_feed).status_code == 404


def test_set_password_and_changepassword_rotate_both_secrets(owner, monkeypatch):
    services.api_token_issue(user=owner)
    old_feed = feed_path(owner)
    owner.set_password("another-long-passphrase-7")
    owner.save()
    assert not Token.objects.filter(user=owner).exists()
    assert feed_path(owner) != old_feed

    services.api_token_issue(user=owner)
    second_feed = feed_path(owner)
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "yet-another-passphrase-5")
    call_command("changepassword", "owner", stdout=StringIO())
    assert not Token.objects.filter(user=owner).exists()
    assert feed_path(owner) != second_feed


def test_saving_a_user_without_a_new_password_keeps_the_secrets(owner):
    key, feed = services.api_token_issue(user=owner).key, feed_path(owner)
    owner.first_name = "Ada"
    owner.save()
    owner.check_password(PASSWORD)  # a login may rehash the password: not a change
    assert Token.objects.get(user=owner).key == key
    assert feed_path(owner) == feed


# --- expiry -------------------------------------------------------------------------------------


def test_an_expired_api_token_is_a_401_saying_so_and_the_next_request_gets_a_new_one(owner, settings):
    settings.FOREWARN = {**settings.FOREWARN, "API_TOKEN_MAX_AGE_DAYS": 30}
    token = services.api_token_issue(user=owner)
    Token.objects.filter(pk=token.pk).update(created=timezone.now() - timedelta(days=30, seconds=1))
    response = client_for().get("/api/me/", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 401
    assert "expired" in response.content.decode()
    assert "30 days" in response.content.decode()
    fresh = client_for().post("/api/auth/token/", {"username": "owner", "password": PASSWORD}, format="json")
    assert fresh.json()["token"] != token.key
    assert client_for().get("/api/me/", HTTP_AUTHORIZATION=f"Token {fresh.json()['token']}").status_code == 200


def test_a_token_younger_than_the_maximum_age_works(owner, settings):
    settings.FOREWARN = {**settings.FOREWARN, "API_TOKEN_MAX_AGE_DAYS": 30}
    token = services.api_token_issue(user=owner)
    Token.objects.filter(pk=token.pk).update(created=timezone.now() - timedelta(days=29))
    assert client_for().get("/api/me/", HTTP_AUTHORIZATION=f"Token {token.key}").status_code == 200
    assert services.api_token_issue(user=owner).key == token.key


# --- logs and emails ----------------------------------------------------------------------------


def test_request_logs_mask_the_calendar_token(owner, caplog):
    token = Profile.objects.for_user(owner).calendar_token
    with caplog.at_level(logging.INFO):
        Client().get("/calendar/not-a-real-token.ics")
        logging.getLogger("django.server").info('"GET %s HTTP/1.1" 200 1234', feed_path(owner))
    assert caplog.records
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert token not in logged and "not-a-real-token" not in logged
    assert "/calendar/<hidden>.ics" in logged


def test_gunicorn_access_lines_mask_the_calendar_and_link_tokens():
    assert secret_paths_mask("GET /calendar/abc_DEF-123.ics HTTP/1.1") == "GET /calendar/<hidden>.ics HTTP/1.1"
    assert secret_paths_mask("/actions/eyJ1Ijo:1abc:sig/") == "/actions/<hidden>/"

    class Response:
        status, sent, headers = "200 OK", 10, []

    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/calendar/s3cret.ics?x=1",
        "PATH_INFO": "/calendar/s3cret.ics",
        "SERVER_PROTOCOL": "HTTP/1.1",
    }
    atoms = GunicornLogger.atoms(
        GunicornLogger.__new__(GunicornLogger), Response(), [], environ, timedelta(milliseconds=3)
    )
    assert "s3cret" not in repr(atoms)
    assert atoms["U"] == "/calendar/<hidden>.ics"


def test_the_digest_email_points_to_the_signed_in_page_instead_of_carrying_the_calendar_token(owner):
    token = Profile.objects.for_user(owner).calendar_token
    context = {"user": owner, "items": [], "notifications_url": "http://forewarn.test/admin/forecasts/notification/"}
    for name in ("digest.txt", "digest.html"):
        text = render_to_string(f"forecasts/email/{name}", context)
        assert token not in text and "/calendar/" not in text
        assert "calendar" in text and "sign in" in text


# --- one-click links ----------------------------------------------------------------------------


def test_an_annul_link_issued_before_an_annul_and_undo_is_refused(client, owner):
    question = awaiting_question(owner)
    annul_link, no_link = link_path(owner, question, "annul"), link_path(owner, question, "no")
    services.question_resolve(question=question, actor=owner, outcome=Question.Outcome.ANNULLED)
    services.question_unresolve(question=question, actor=owner)
    for link in (annul_link, no_link):
        for method in ("get", "post"):
            page = getattr(client, method)(link)
            assert page.status_code == 410, page.content
            assert b"has expired" in page.content
    question.refresh_from_db()
    assert question.status == Question.Status.AWAITING_RESOLUTION
    fresh = link_path(owner, question, "no")
    assert client.post(fresh).status_code == 200
    question.refresh_from_db()
    assert question.outcome == Question.Outcome.NO


def test_a_link_issued_before_a_resolve_undo_and_resolve_again_is_refused(client, owner):
    question = awaiting_question(owner)
    link = link_path(owner, question, "yes")
    services.question_resolve(question=question, actor=owner, outcome=Question.Outcome.NO)
    services.question_unresolve(question=question, actor=owner)
    assert client.get(link).status_code == 410
    services.question_resolve(question=question, actor=owner, outcome=Question.Outcome.NO)
    services.question_unresolve(question=question, actor=owner)
    assert client.post(link).status_code == 410
    question.refresh_from_db()
    assert question.status == Question.Status.AWAITING_RESOLUTION


def test_the_calendar_token_endpoint_describes_itself_to_options(owner):
    response = client_for(owner).options("/api/me/calendar-token/")
    assert response.status_code == 200


def test_no_admin_page_lists_the_api_keys_even_to_a_superuser(client, owner):
    superuser = factories.UserFactory(is_staff=True, is_superuser=True)
    key = services.api_token_issue(user=owner).key
    client.force_login(superuser)
    assert client.get("/admin/authtoken/tokenproxy/").status_code == 404
    index = client.get("/admin/").content.decode()
    assert key not in index and "tokenproxy" not in index
