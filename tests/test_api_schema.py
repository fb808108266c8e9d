"""The OpenAPI schema: valid, exactly the contract's paths, and true to what the API answers.

Schemathesis generates requests from the schema (valid and invalid) and calls the WSGI app in
process: as the owner of the data, as an outsider (a forecaster in no team) and anonymously; no
response may be a 500 or break the schema it documents, and neither the outsider nor an
anonymous caller may ever see the team question.
"""

from pathlib import Path

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.management import call_command
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
from tests.api_support import TokenFactory, ago, fresh_throttle_counts, soon  # noqa: F401

CONTRACT_PATHS = {
    "/api/auth/token/",
    "/api/questions/",
    "/api/questions/{id}/",
    "/api/questions/{id}/forecasts/",
    "/api/questions/{id}/resolve/",
    "/api/questions/{id}/unresolve/",
    "/api/questions/{id}/history/",
    "/api/forecasts/",
    "/api/forecasts/export.csv",
    "/api/sources/",
    "/api/sources/{id}/",
    "/api/notifications/",
    "/api/notifications/{id}/read/",
    "/api/notifications/read-all/",
    "/api/me/",
    "/api/health/",
}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def test_schema_passes_drf_spectaculars_validation_without_warnings(tmp_path: Path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert "openapi: 3.0" in (tmp_path / "schema.yaml").read_text()


@pytest.mark.django_db
def test_schema_has_exactly_the_contract_paths(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    ours = {path: item for path, item in schema["paths"].items() if not path.startswith("/api/stats/")}
    assert set(ours) == CONTRACT_PATHS
    operations = sum(len([m for m in item if m in ("get", "post", "patch", "delete")]) for item in ours.values())
    assert operations == 23  # plus /api/schema/ and /api/docs/ themselves
    assert {"tokenAuth", "cookieAuth"} <= set(schema["components"]["securitySchemes"])
    assert schema["components"]["schemas"]["Error"]["additionalProperties"]["type"] == "array"


WSGI_APP = WSGIHandler()
# Loaded once at import: serving the schema needs no database.
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", WSGI_APP)


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


TEAM_SECRET = "Team-only question 7d1f"


def team_question_never_shown(ctx, response, case):
    """The outsider's and the anonymous caller's answers never mention the team question."""
    if TEAM_SECRET in response.text:
        raise AssertionError(f"{case.method} {case.formatted_path} leaked the team question")


@pytest.fixture
def team_secret(api_data):
    assert Question.objects.filter(team__isnull=False).update(title=TEAM_SECRET) == 1


FUZZ_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)


@pytest.mark.slow
@schema.parametrize()
@FUZZ_SETTINGS
def test_fuzz_signed_in(case, api_data, owner):
    """As a forecaster with a token: no 500s, and every answer matches the schema."""
    token = TokenFactory(user=owner).key
    case.call_and_validate(headers={"Authorization": f"Token {token}"}, checks=CHECKS)


@pytest.mark.slow
@schema.parametrize()
@FUZZ_SETTINGS
def test_fuzz_anonymous(case, api_data, team_secret):
    """Without credentials: 401s (or public answers) in the documented shape, never a 500, no leak."""
    case.call_and_validate(checks=[*CHECKS, team_question_never_shown])


@pytest.mark.slow
@schema.parametrize()
@FUZZ_SETTINGS
def test_fuzz_outsider(case, api_data, team_secret):
    """As a forecaster outside the owner's team: no 500s, the schema holds, the team question stays hidden."""
    token = TokenFactory(user=factories.ForecasterFactory(username="fuzz-outsider")).key
    case.call_and_validate(
        headers={"Authorization": f"Token {token}"}, checks=[*CHECKS, team_question_never_shown]
    )

