"""The OpenAPI schema: valid and exactly the contract's paths.

Whether it is true to what the API answers is fuzzed with schemathesis in tests/slow/test_api_fuzz.py.
"""

from pathlib import Path

import pytest
from django.core.management import call_command

CONTRACT_PATHS = {
    "/api/auth/token/",
    "/api/questions/",
    "/api/questions/{id}/",
    "/api/questions/{id}/forecasts/",
    "/api/questions/{id}/resolve/",
    "/api/questions/{id}/unresolve/",
    "/api/questions/{id}/history/",
    "/api/questions/{id}/chart.svg",
    "/api/questions/{id}/scores/",
    "/api/forecast-input/",
    "/api/forecasts/",
    "/api/forecasts/export.csv",
    "/api/sources/",
    "/api/sources/{id}/",
    "/api/notifications/",
    "/api/notifications/{id}/read/",
    "/api/notifications/read-all/",
    "/api/me/",
    "/api/me/webhook/test/",
    "/api/me/calendar-token/",
    "/api/health/",
    "/api/intake/extract/",
    "/api/intake/accept/",
    "/api/groups/",
    "/api/groups/{id}/",
    "/api/groups/{id}/forecasts/",
    "/api/groups/{id}/resolve/",
    "/api/groups/{id}/unresolve/",
    "/api/groups/{id}/scores/",
}


def test_schema_passes_drf_spectaculars_validation_without_warnings(tmp_path: Path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert "openapi: 3.0" in (tmp_path / "schema.yaml").read_text()


@pytest.mark.django_db
def test_schema_has_exactly_the_contract_paths(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    ours = {path: item for path, item in schema["paths"].items() if not path.startswith("/api/stats/")}
    assert set(ours) == CONTRACT_PATHS
    operations = sum(len([m for m in item if m in ("get", "post", "patch", "delete")]) for item in ours.values())
    assert operations == 38  # plus /api/schema/ and /api/docs/ themselves
    assert {"tokenAuth", "cookieAuth"} <= set(schema["components"]["securitySchemes"])
    assert schema["components"]["schemas"]["Error"]["additionalProperties"]["type"] == "array"
