"""Shared fixtures: users in each role and a question they can act on."""

import pytest

from tests import factories


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
