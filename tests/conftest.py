"""Shared fixtures: users in each role and a question they can act on.

Every other shared fixture lives in one of the plugins below and is found by name; a test module
never imports a fixture. Everything under tests/slow/ is marked `slow`, so `-m "not slow"` is the
fast suite.
"""

from pathlib import Path

import pytest

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
