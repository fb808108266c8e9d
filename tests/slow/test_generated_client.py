"""A client generated from the live schema drives a dashboard's whole flow against a live server.

openapi-python-client (a dev dependency) generates the typed client into a temporary folder, with
every proxy pointed at a closed port so that any attempt to reach the network would fail. Each
call then goes through the generated code with `raise_on_unexpected_status`: a status the schema
does not name, or a body its models cannot parse, fails the test.
"""

import importlib
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.utils import timezone

from tests import factories
from tests.support.roles import roles_restore

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PACKAGE = "forewarn_generated_client"
GENERATOR_CONFIG = f"""\
project_name_override: forewarn-generated-client
package_name_override: {PACKAGE}
post_hooks: []
# The charts are SVG: read them as bytes, as for any image.
content_type_overrides:
  image/svg+xml: application/octet-stream
"""
NO_NETWORK = {
    "HTTP_PROXY": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "ALL_PROXY": "http://127.0.0.1:9",
}


def generator_command() -> str:
    script = Path(sys.executable).parent / "openapi-python-client"
    assert script.exists(), "openapi-python-client is in requirements-dev.txt"
    return str(script)


@pytest.fixture
def generated(live_server, tmp_path):
    """The generated package, imported from the temporary folder."""
    schema = httpx.get(f"{live_server.url}/api/schema/", params={"format": "json"}, timeout=30)
    assert schema.status_code == 200
    (tmp_path / "schema.json").write_bytes(schema.content)
    (tmp_path / "config.yaml").write_text(GENERATOR_CONFIG)
    environment = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **NO_NETWORK}
    command = [generator_command(), "generate", "--path", "schema.json", "--config", "config.yaml"]
    result = subprocess.run(
        [*command, "--meta", "none", "--output-path", PACKAGE],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # Every operation is generated: the generator warns about any part of the schema it skipped.
    assert "Warning" not in result.stdout, result.stdout
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [name for name in sys.modules if name == PACKAGE or name.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def api(name: str):
    return importlib.import_module(f"{PACKAGE}.api.{name}")


def models():
    return importlib.import_module(f"{PACKAGE}.models")


def parsed(response, model):
    """The typed body of a successful answer; anything else fails with what the server said."""
    assert 200 <= response.status_code < 300, (response.status_code, response.content)
    assert isinstance(response.parsed, model), (type(response.parsed), response.content)
    return response.parsed


def test_dashboard_flow_through_the_generated_client(generated, live_server):
    roles_restore()  # an earlier transactional test may have flushed the groups
    forecaster = factories.ForecasterFactory(username="dashboard")
    forecaster.set_password("a long dashboard password")
    forecaster.save()
    source = factories.SourceFactory(name="Ministry of Defence")
    factories.NotificationFactory(user=forecaster)
    m = models()
    anonymous = generated.Client(base_url=live_server.url, raise_on_unexpected_status=True)

    token_api = api("auth.auth_token_create")
    stale = generated.AuthenticatedClient(
        base_url=live_server.url, token="0" * 40, prefix="Token", raise_on_unexpected_status=True
    )
    refused = token_api.sync_detailed(
        client=stale, body=m.TokenRequestRequest(username="dashboard", password="a long dashboard password")
    )
    assert refused.status_code == 401 and isinstance(refused.parsed, m.Error)
    assert refused.parsed.codes.additional_properties == {"detail": ["authentication_failed"]}
    token = parsed(
        token_api.sync_detailed(
            client=anonymous, body=m.TokenRequestRequest(username="dashboard", password="a long dashboard password")
        ),
        m.Token,
    ).token
    client = generated.AuthenticatedClient(
        base_url=live_server.url, token=token, prefix="Token", raise_on_unexpected_status=True
    )

    create = importlib.import_module(f"{PACKAGE}.api.questions.questions_create")
    created = []
    for index in range(3):
        body = m.QuestionWriteRequest(
            title=f"Will the border crossing {index} close this month?",
            resolution_criteria="YES if two outlets report it closed.",
            window_end=timezone.now() + timedelta(days=20 + index),
            tags=["border"],
            source=source.pk,
            statement=m.StatementRequest(quote="could close at any point", url="https://example.org/statement"),
        )
        created.append(parsed(create.sync_detailed(client=client, body=body), m.Question))
    question = created[0]
    assert question.status == m.QuestionStatusEnum.OPEN and question.updated_at is not None

    forecast_create = importlib.import_module(f"{PACKAGE}.api.questions.questions_forecasts_create")
    bodies = [
        m.ForecastWriteRequest(probability=0.3),
        m.ForecastWriteRequest(percent=57.7),
        m.ForecastWriteRequest(phrase="very likely", yardstick="icd203"),
        m.ForecastWriteRequest(
            source=source.pk,
            phrase="likely",
            made_at=timezone.now() - timedelta(days=2),
            quote="could close at any point",
            url="https://example.org/statement",
        ),
    ]
    for body in bodies:
        parsed(forecast_create.sync_detailed(question.id, client=client, body=body), m.Forecast)
    invalid = forecast_create.sync_detailed(question.id, client=client, body=m.ForecastWriteRequest(probability=1.5))
    assert invalid.status_code == 400 and invalid.parsed.additional_properties == {
        "probability": ["Ensure this value is less than or equal to 0.999."]
    }

    question_list = importlib.import_module(f"{PACKAGE}.api.questions.questions_list")
    first = parsed(
        question_list.sync_detailed(
            client=client,
            tag="border",
            status=m.QuestionsListStatus.OPEN,
            ordering=m.QuestionsListOrdering("-window_end"),
            page_size=2,
            updated_after=timezone.now() - timedelta(hours=1),
        ),
        m.PaginatedQuestionList,
    )
    assert first.count == 3 and len(first.results) == 2 and first.next_
    second = parsed(
        question_list.sync_detailed(client=client, tag="border", page=2, page_size=2), m.PaginatedQuestionList
    )
    assert len(second.results) == 1
    question_forecasts = importlib.import_module(f"{PACKAGE}.api.questions.questions_forecasts_list")
    page = parsed(question_forecasts.sync_detailed(question.id, client=client, page_size=3), m.PaginatedForecastList)
    assert page.count == 4 and len(page.results) == 3

    forecast_list = importlib.import_module(f"{PACKAGE}.api.forecasts.forecasts_list")
    seen, cursor = [], None
    while True:
        stream = parsed(
            forecast_list.sync_detailed(
                client=client, question=question.id, page_size=1, **({"cursor": cursor} if cursor else {})
            ),
            m.CursorForecastPage,
        )
        seen += [forecast.id for forecast in stream.results]
        if not stream.next_:
            break
        cursor = parse_qs(urlsplit(stream.next_).query)["cursor"][0]
    assert len(seen) == 4 == len(set(seen))
    recorded = parsed(
        forecast_list.sync_detailed(client=client, recorded_after=timezone.now() - timedelta(hours=1)),
        m.CursorForecastPage,
    )
    assert len(recorded.results) == 4

    notifications = importlib.import_module(f"{PACKAGE}.api.notifications.notifications_list")
    unread = parsed(notifications.sync_detailed(client=client, unread=True), m.PaginatedNotificationList)
    assert unread.count == 1
    read_one = importlib.import_module(f"{PACKAGE}.api.notifications.notifications_read_create")
    parsed(read_one.sync_detailed(unread.results[0].id, client=client), m.Notification)
    read_all = importlib.import_module(f"{PACKAGE}.api.notifications.notifications_read_all_create")
    assert parsed(read_all.sync_detailed(client=client), m.ReadAllResult).marked == 0

    resolve = importlib.import_module(f"{PACKAGE}.api.questions.questions_resolve_create")
    resolution = m.ResolveRequest(
        outcome=m.OutcomeEnum.YES, occurred_at=timezone.now()
    )  # after every forecast: none is cut off
    resolved = parsed(resolve.sync_detailed(question.id, client=client, body=resolution), m.Question)
    assert resolved.status == m.QuestionStatusEnum.RESOLVED
    again = resolve.sync_detailed(question.id, client=client, body=resolution)
    assert again.status_code == 409 and again.parsed.codes.additional_properties == {"outcome": ["status_conflict"]}
    edit = importlib.import_module(f"{PACKAGE}.api.questions.questions_partial_update")
    conflict = edit.sync_detailed(question.id, client=client, body=m.PatchedQuestionWriteRequest(title="Renamed"))
    assert conflict.status_code == 409 and isinstance(conflict.parsed, m.Error)

    calibration = importlib.import_module(f"{PACKAGE}.api.stats.stats_calibration_retrieve")
    parsed(calibration.sync_detailed(client=client, forecaster="me"), m.Calibration)
    leaderboard = importlib.import_module(f"{PACKAGE}.api.stats.stats_leaderboard_list")
    parsed(leaderboard.sync_detailed(client=client), m.PaginatedLeaderboardEntryList)
    phrases = importlib.import_module(f"{PACKAGE}.api.stats.stats_phrases_list")
    rows = parsed(phrases.sync_detailed(client=client), list)
    assert rows and all(isinstance(row, m.PhraseCalibration) for row in rows)
    chart = importlib.import_module(f"{PACKAGE}.api.stats.stats_calibration_chart")
    image = chart.sync_detailed(client=client)
    assert image.status_code == 200 and image.content.lstrip().startswith((b"<?xml", b"<svg"))
    bad = calibration.sync_detailed(client=client, bins=0)
    assert bad.status_code == 400 and set(bad.parsed.additional_properties) == {"bins"}
