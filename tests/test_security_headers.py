"""Security headers: a Content-Security-Policy on every kind of page, and authenticated API answers
that no browser or proxy stores."""

import re
from urllib.parse import urlsplit

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

from tests.api_support import client_for

pytestmark = pytest.mark.django_db


def policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


def assert_strict(response) -> None:
    directives = policy(response)
    assert directives["script-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert "'unsafe-eval'" not in response["Content-Security-Policy"]


def test_admin_pages_have_a_strict_policy(client, owner):
    assert_strict(client.get("/admin/login/"))
    client.force_login(owner)
    for path in ("/admin/", "/admin/forecasts/question/", "/admin/forecasts/notification/"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert_strict(response)


def test_api_answers_and_docs_have_a_strict_policy(owner):
    assert_strict(client_for(owner).get("/api/me/"))
    assert_strict(client_for().get("/api/me/"))
    assert_strict(Client().get("/api/docs/"))
    assert_strict(Client().get("/api/schema/"))


def test_link_pages_have_a_strict_policy(client):
    assert_strict(client.get("/actions/not-a-token/"))
    assert_strict(client.get("/calendar/not-a-token.ics"))


def test_the_swagger_page_runs_no_inline_script_and_its_assets_exist():
    page = Client().get("/api/docs/")
    html = page.content.decode()
    scripts = re.findall(r"<script([^>]*)>", html)
    assert scripts and all("src=" in attributes for attributes in scripts), scripts
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    static = [urlsplit(url).path for url in assets if url.startswith("/static/")]
    assert len(static) >= 4, assets
    for path in static:
        assert finders.find(path.removeprefix("/static/")), path
    start_up = [url for url in assets if "script" in urlsplit(url).query]
    assert len(start_up) == 1
    script = Client().get(start_up[0].replace("&amp;", "&"))
    assert script.status_code == 200
    assert "javascript" in script["Content-Type"]
    assert b"SwaggerUIBundle" in script.content


@pytest.mark.parametrize("path", ["/api/me/", "/api/questions/", "/api/notifications/", "/api/stats/calibration.svg"])
def test_authenticated_api_answers_are_not_stored(owner, client, path):
    assert client_for(owner).get(path)["Cache-Control"] == "no-store"
    client.force_login(owner)
    assert client.get(path)["Cache-Control"] == "no-store"


def test_token_answers_are_not_stored(owner):
    response = client_for().post(
        "/api/auth/token/", {"username": "owner", "password": "correct-horse-battery"}, format="json"
    )
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
