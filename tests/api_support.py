"""Fixtures and helpers the API tests share: callers in every role, each with a real API token.

A plugin of tests/conftest.py: test modules import the helpers, never the fixtures (found by name).
"""

from datetime import timedelta

import factory
import pytest
from django.core.cache import caches
from django.db import connection
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests import factories

# What a token-authenticated request spends on authentication: on PostgreSQL one query (the
# token with its user and the user's permissions); elsewhere the permissions are two more queries
# (Django's ModelBackend), asked as soon as a view checks whether the user is a moderator.
TOKEN_QUERIES = 1 if connection.vendor == "postgresql" else 3


class TokenFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Token
        django_get_or_create = ("user",)

    user = factory.SubFactory(factories.ForecasterFactory)


def client_for(user=None) -> APIClient:
    """An API client that authenticates like a script does: `Authorization: Token <key>`."""
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {TokenFactory(user=user).key}")
    return client


def error_fields(response) -> set[str]:
    """The field names of an error body, after checking it has the one error shape."""
    body = dict(response.json())
    assert isinstance(body, dict) and body, body
    codes = body.pop("codes")
    assert body, body
    for name, messages in body.items():
        assert isinstance(messages, list) and messages and all(isinstance(m, str) for m in messages), body
        assert len(codes[name]) == len(messages) and all(isinstance(c, str) and c for c in codes[name]), codes
    assert list(codes) == list(body), codes
    return set(body)


def soon(days: float = 10):
    return timezone.now() + timedelta(days=days)


def ago(days: float = 1):
    return timezone.now() - timedelta(days=days)


@pytest.fixture(autouse=True)
def fresh_throttle_counts():
    """Request and sign-in counts live in the caches: start every test from zero."""
    for alias in caches:
        caches[alias].clear()
    yield
    for alias in caches:
        caches[alias].clear()


@pytest.fixture
def team(owner):
    team = factories.TeamFactory(name="Analysts")
    factories.TeamMembershipFactory(team=team, user=owner)
    return team


@pytest.fixture
def teammate(team):
    user = factories.ForecasterFactory(username="teammate")
    factories.TeamMembershipFactory(team=team, user=user)
    return user


@pytest.fixture
def outsider(db):
    return factories.ForecasterFactory(username="outsider")


@pytest.fixture
def reader(db):
    """A signed-in account in no group: a dashboard's read-only login."""
    return factories.UserFactory(username="dashboard")


@pytest.fixture
def team_question(owner, team):
    return factories.QuestionFactory(owner=owner, team=team, title="Will the team's event happen?")
