"""The sign-in throttle of /api/auth/token/ and /admin/login/ (forecasts/services/logins.py).

Defaults: 5 attempts a minute per address and username, 20 a minute per address, and a
username locked for 300 seconds after 10 failed attempts from any address.
"""

import logging
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.cache import caches
from django.test import Client
from django.utils import timezone
from redis.exceptions import ConnectionError as RedisConnectionError
from rest_framework.test import APIClient

from config.settings.base import login_cache
from tests import factories
from tests.api_support import client_for, error_fields

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/auth/token/"
ADMIN_LOGIN_URL = "/admin/login/"
RIGHT_PASSWORD = "correct-horse-battery"
# 200 guesses per case give the same figures (docs/reliability.md); 50 keep the fast suite fast and
# still send 30 guesses past the largest limit.
GUESSES = 50


@pytest.fixture
def frozen_clock():
    """Time stands still mid-minute: a slow run never crosses a rate window and gets a fresh count."""
    with time_machine.travel(datetime(2026, 3, 2, 12, 0, 30, tzinfo=UTC), tick=False) as traveller:
        yield traveller


@pytest.fixture
def target(db):
    return factories.ForecasterFactory(username="target", is_staff=True)


@pytest.fixture
def attacker(db):
    return factories.ForecasterFactory(username="attacker")


def api_caller(kind: str, attacker) -> APIClient:
    """An API client with no credentials, the attacker's own token, or the attacker's session."""
    if kind == "token":
        return client_for(attacker)
    client = APIClient()
    if kind == "session":
        client.force_login(attacker)
    return client


def request_headers(pattern: str, attempt: int) -> dict:
    """Where guess number `attempt` comes from: one address, a forged X-Forwarded-For, or many real addresses."""
    if pattern == "rotating forwarded header":
        return {"HTTP_X_FORWARDED_FOR": f"198.51.100.{attempt % 250}", "REMOTE_ADDR": "203.0.113.7"}
    if pattern == "rotating address":
        return {"REMOTE_ADDR": f"10.{attempt // 250}.{attempt % 250}.1"}
    return {"REMOTE_ADDR": "203.0.113.7"}


def guessed_username(pattern: str, attempt: int) -> str:
    return f"user{attempt}" if pattern == "rotating username" else "target"


def token_guess(client, pattern: str, attempt: int, password: str = "wrong"):
    body = {"username": guessed_username(pattern, attempt), "password": password}
    return client.post(TOKEN_URL, body, format="json", **request_headers(pattern, attempt))


def admin_guess(client, pattern: str, attempt: int, password: str = "wrong"):
    body = {"username": guessed_username(pattern, attempt), "password": password, "next": "/admin/"}
    return client.post(ADMIN_LOGIN_URL, body, **request_headers(pattern, attempt))


def answered_before_first_429(statuses: list[int]) -> int:
    return statuses.index(429) if 429 in statuses else len(statuses)


# What GUESSES wrong passwords get, per pattern: the answers before the first 429.
EXPECTED_ANSWERED = {
    "one address": 5,  # 5 a minute per address and username
    "rotating forwarded header": 5,  # the header is ignored: still one address
    "rotating address": 10,  # the username locks after 10 failures from anywhere
    "rotating username": 20,  # 20 a minute per address
}


@pytest.mark.parametrize("pattern", EXPECTED_ANSWERED)
@pytest.mark.parametrize("caller", ["anonymous", "token", "session"])
def test_token_guessing_is_throttled_whoever_calls(target, attacker, caller, pattern, frozen_clock):
    client = api_caller(caller, attacker)
    statuses = [token_guess(client, pattern, attempt).status_code for attempt in range(GUESSES)]
    answered = answered_before_first_429(statuses)
    assert answered == EXPECTED_ANSWERED[pattern], statuses
    assert set(statuses[:answered]) == {400}
    assert statuses.count(429) == GUESSES - answered


@pytest.mark.parametrize(
    "caller, pattern", [*(("anonymous", pattern) for pattern in EXPECTED_ANSWERED), ("session", "one address")]
)
def test_admin_login_guessing_is_throttled(target, attacker, caller, pattern, frozen_clock):
    client = Client()
    if caller == "session":
        client.force_login(attacker)
    statuses = [admin_guess(client, pattern, attempt).status_code for attempt in range(GUESSES)]
    answered = answered_before_first_429(statuses)
    assert answered == EXPECTED_ANSWERED[pattern], statuses
    assert set(statuses[:answered]) == {200}  # the login page again, with its error
    assert statuses.count(429) == GUESSES - answered


def test_a_trusted_proxy_count_makes_the_forwarded_address_count(target, settings, frozen_clock):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    client = APIClient()
    statuses = [token_guess(client, "rotating forwarded header", attempt).status_code for attempt in range(30)]
    assert answered_before_first_429(statuses) == 10  # distinct addresses now: only the lockout stops them


def test_the_right_password_is_refused_during_the_lockout_and_accepted_after_it(target, settings):
    settings.FOREWARN = {**settings.FOREWARN, "LOGINS": {**settings.FOREWARN["LOGINS"], "LOCKOUT_SECONDS": 60}}
    client = APIClient()
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        for attempt in range(10):
            assert token_guess(client, "rotating address", attempt).status_code == 400
        refused = token_guess(client, "rotating address", 10, password=RIGHT_PASSWORD)
        assert refused.status_code == 429
        assert error_fields(refused) == {"detail"}
        assert "Too many failed sign-ins for this username" in refused.json()["detail"][0]
        assert refused["Retry-After"] == "60"
        traveller.shift(timedelta(seconds=59))
        assert token_guess(client, "rotating address", 11, password=RIGHT_PASSWORD)["Retry-After"] == "1"
        traveller.shift(timedelta(seconds=1))
        accepted = token_guess(client, "rotating address", 12, password=RIGHT_PASSWORD)
        assert accepted.status_code == 200 and accepted.json()["token"]


def test_the_admin_login_refuses_the_right_password_during_the_lockout_with_a_message(target, settings):
    settings.FOREWARN = {**settings.FOREWARN, "LOGINS": {**settings.FOREWARN["LOGINS"], "LOCKOUT_SECONDS": 60}}
    client = Client()
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        for attempt in range(10):
            assert admin_guess(client, "rotating address", attempt).status_code == 200
        refused = admin_guess(client, "rotating address", 10, password=RIGHT_PASSWORD)
        assert refused.status_code == 429 and refused["Retry-After"] == "60"
        assert "Too many failed sign-ins for this username. Try again in 60 seconds." in refused.content.decode()
        assert "_auth_user_id" not in client.session
        traveller.shift(timedelta(seconds=60))
        accepted = admin_guess(client, "rotating address", 11, password=RIGHT_PASSWORD)
        assert accepted.status_code == 302 and accepted["Location"] == "/admin/"
        assert client.session["_auth_user_id"] == str(target.pk)


def test_the_api_and_the_admin_count_failures_together(target, frozen_clock):
    for attempt in range(5):
        assert token_guess(APIClient(), "rotating address", attempt).status_code == 400
    for attempt in range(5, 10):
        assert admin_guess(Client(), "rotating address", attempt).status_code == 200
    assert token_guess(APIClient(), "rotating address", 10, password=RIGHT_PASSWORD).status_code == 429


def test_a_successful_sign_in_forgets_earlier_failures(target, frozen_clock):
    client = APIClient()
    for attempt in range(9):
        token_guess(client, "rotating address", attempt)
    assert token_guess(client, "rotating address", 9, password=RIGHT_PASSWORD).status_code == 200
    statuses = [token_guess(client, "rotating address", attempt).status_code for attempt in range(10, 20)]
    assert statuses == [400] * 10


def test_the_lockout_is_logged_with_username_and_address_never_the_password(target, caplog, frozen_clock):
    caplog.set_level(logging.INFO, logger="forecasts.services.logins")
    for attempt in range(10):
        token_guess(APIClient(), "rotating address", attempt, password=f"secret-guess-{attempt}")
    warnings = [
        record
        for record in caplog.records
        if record.name == "forecasts.services.logins" and record.levelno == logging.WARNING
    ]
    assert len(warnings) == 1
    message = warnings[0].getMessage()
    assert "'target'" in message and "10.0.9.1" in message and "300 seconds" in message
    assert not any("secret-guess" in record.getMessage() for record in caplog.records)


def test_a_broken_login_cache_lets_sign_ins_through_and_logs_it(target, monkeypatch, caplog):
    def unavailable(*args, **kwargs):
        raise RedisConnectionError("Connection refused")

    cache = caches["logins"]
    for method in ("get", "add", "incr", "set", "delete"):
        monkeypatch.setattr(cache, method, unavailable)
    client = APIClient()
    assert token_guess(client, "one address", 0).status_code == 400
    assert token_guess(client, "one address", 1, password=RIGHT_PASSWORD).status_code == 200
    assert any("cache error" in record.getMessage() for record in caplog.records if record.levelno == logging.ERROR)


def test_the_login_cache_is_redis_when_the_broker_is():
    config = login_cache("redis://redis:6379/0")
    assert config["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    assert config["OPTIONS"] == {"socket_connect_timeout": 1, "socket_timeout": 1}
    assert login_cache("filecache:///srv/forewarn/var/logins")["BACKEND"].endswith("FileBasedCache")


@pytest.mark.parametrize("body", [[], ["target", "wrong"], "target", 7])
def test_a_token_request_that_is_not_an_object_is_a_400(body):
    response = APIClient().post(TOKEN_URL, body, format="json")
    assert response.status_code == 400
    assert set(error_fields(response)) == {"non_field_errors"}
