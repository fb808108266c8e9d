"""Shared fixtures: users in each role and a question they can act on.

Every other shared fixture lives in one of the plugins below and is found by name; a test module
never imports a fixture. Everything under tests/slow/ is marked `slow`, so `-m "not slow"` is the
fast suite.
"""

from pathlib import Path
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from forecasts import models
from tests import factories

pytest_plugins = [
    "tests.api_support",  # fresh_throttle_counts (autouse), team, teammate, outsider, reader, team_question
    "tests.support.lifecycle",  # eager_tasks, endpoint
    "tests.support.processes",  # processes, fault_processes
    "tests.support.roles",  # groups_back_after_flush
]

SLOW_DIR = Path(__file__).parent / "slow"


def pytest_collection_modifyitems(items):
    for item in items:
        if SLOW_DIR in item.path.parents:
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def owner(db):
    return factories.ForecasterFactory(username="owner")


@pytest.fixture
def forecaster(db):
    return factories.ForecasterFactory(username="forecaster")


@pytest.fixture
def editor(db):
    return factories.EditorFactory(username="editor")


@pytest.fixture
def question(owner):
    return factories.QuestionFactory(owner=owner)


ACCESS_ROWS = ("public", "team_a", "public_draft", "team_a_draft")


@pytest.fixture
def access_world(db):
    """One user per role and one question per kind of row, each row with a tag, a source and a
    forecast by an author of its own; every signed-in role has a notification on every row.

    Roles: anonymous, a user in no group, a forecaster outside every team, a member of team A, a
    member of team B (in no team here), a member removed from team A, the owner of every row (a
    member of team A), an Editor and a superuser. Rows: public, team A, public draft, team A draft.
    """
    team = factories.TeamFactory(name="Team A")
    users = {"anonymous": AnonymousUser(), **factories.users_in_every_role(prefix="")}
    for role in ("member_a", "removed", "owner"):
        factories.TeamMembershipFactory(team=team, user=users[role])
    questions = {
        row: factories.QuestionFactory(
            owner=users["owner"],
            title=f"The {row.replace('_', ' ')} question",
            team=team if row.startswith("team_a") else None,
            status="draft" if row.endswith("draft") else "open",
            opened_at=None if row.endswith("draft") else timezone.now(),
            source=factories.SourceFactory(name=f"Source of the {row} question"),
        )
        for row in ACCESS_ROWS
    }
    authors = {row: factories.ForecasterFactory(username=f"author-{row}") for row in ACCESS_ROWS}
    forecasts = {}
    for row, question in questions.items():
        question.tags.add(factories.TagFactory(name=f"tag-{row}".replace("_", "-")))
        forecasts[row] = factories.ForecastFactory(question=question, forecaster=authors[row])
    notifications = {
        (role, row): factories.NotificationFactory(user=user, question=questions[row], message=f"About {row}.")
        for role, user in users.items()
        if role != "anonymous"
        for row in ACCESS_ROWS
    }
    # The removed member was notified while still in the team.
    models.TeamMembership.objects.filter(team=team, user=users["removed"]).delete()
    return SimpleNamespace(
        team=team, users=users, questions=questions, authors=authors, forecasts=forecasts, notifications=notifications
    )
