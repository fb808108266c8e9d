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


@pytest.fixture
def eager_tasks():
    """Celery tasks run in the calling process (`.delay()` runs the task at once): no worker, no broker."""
    from config.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous
