"""The OpenAPI schema is true to what the API answers: schemathesis fuzzes every operation.

Schemathesis generates requests from the schema (valid and invalid) and calls the WSGI app in
process: as the owner of the data, as an outsider (a forecaster in no team) and anonymously; no
response may be a 500 or break the schema it documents, and neither the outsider nor an
anonymous caller may ever see the team question. The schema is loaded by a fixture when a test
runs (each operation a subtest), so collecting the suite builds nothing.
"""

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from forecasts.models import Question
from tests import factories
from tests.api_support import TokenFactory, ago, soon

# The lazy schema resolves `api_data` only when the test runs, so pytest-django cannot see that it
# uses the database: the mark sorts it with the other database tests, before any flush.
pytestmark = [pytest.mark.slow, pytest.mark.django_db]

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
TEAM_SECRET = "Team-only question 7d1f"
FUZZ_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)


@pytest.fixture(scope="module")
def api_schema():
    """The schema the app serves, read through the WSGI app in process (no database needed)."""
    return schemathesis.openapi.from_wsgi("/api/schema/?format=json", WSGIHandler())


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture(autouse=True)
def node_id_for_the_lazy_schema(request):
    """schemathesis 4.32 labels each operation's subtest through `Node._nodeid`, which pytest 9 no
    longer has: give it the node id it expects."""
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


@pytest.fixture
def api_data(db, owner, editor):
    """The app kept inside the test's transaction (as Django's test client does), with a little data."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    team = factories.TeamFactory()
    factories.TeamMembershipFactory(team=team, user=owner)
    source = factories.SourceFactory()
    for index in range(3):
        question = factories.QuestionFactory(owner=owner, team=team if index == 1 else None, source=source)
        factories.ForecastFactory(question=question, forecaster=owner, made_at=ago(1))
        factories.NotificationFactory(user=owner, question=question)
        factories.ResolutionEventFactory(question=question, actor=editor)
    factories.QuestionFactory(owner=owner, status="draft", opened_at=None, window_end=soon(5), resolve_by=soon(6))
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def team_question_never_shown(ctx, response, case):
    """The outsider's and the anonymous caller's answers never mention the team question."""
    if TEAM_SECRET in response.text:
        raise AssertionError(f"{case.method} {case.formatted_path} leaked the team question")


@pytest.fixture
def team_secret(api_data):
    assert Question.objects.filter(team__isnull=False).update(title=TEAM_SECRET) == 1


@schema.parametrize()
@FUZZ_SETTINGS
def test_fuzz_signed_in(case, api_data, owner):
    """As a forecaster with a token: no 500s, and every answer matches the schema."""
    token = TokenFactory(user=owner).key
    case.call_and_validate(headers={"Authorization": f"Token {token}"}, checks=CHECKS)


@schema.parametrize()
@FUZZ_SETTINGS
def test_fuzz_anonymous(case, api_data, team_secret):
    """Without credentials: 401s (or public answers) in the documented shape, never a 500, no leak."""
    case.call_and_validate(checks=[*CHECKS, team_question_never_shown])


@schema.parametrize()
@FUZZ_SETTINGS
def test_fuzz_outsider(case, api_data, team_secret):
    """As a forecaster outside the owner's team: no 500s, the schema holds, the team question stays hidden."""
    token = TokenFactory(user=factories.ForecasterFactory(username="fuzz-outsider")).key
    case.call_and_validate(headers={"Authorization": f"Token {token}"}, checks=[*CHECKS, team_question_never_shown])
