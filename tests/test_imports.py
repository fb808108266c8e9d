"""forecasts_import, the import_forecasts command and the admin upload page, one fixture file per format."""

from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection

from forecasts.import_formats import file_read
from forecasts.models import Forecast, LatestForecast, Profile, Question, ResolutionEvent, Score, Source
from forecasts.services import ImportFailed, forecasts_import
from forecasts.services.imports import AFTER_WINDOW, FOREIGN_QUESTION, IN_THE_FUTURE
from tests import factories

pytestmark = pytest.mark.django_db

FILES = Path(__file__).parent / "imports"
FIXTURES = {
    "fatebook": "fatebook.csv",
    "predictionbook": "predictionbook.json",
    "csv": "generic.csv",
    "forewarn": "forewarn.csv",  # the seeds' export: the statements of the seed report and their outcomes
}


def fixture_text(fmt: str) -> str:
    return (FILES / FIXTURES[fmt]).read_text()


def snapshot() -> dict:
    """Every row an import can write, as comparable values."""
    return {
        "questions": sorted(
            Question.objects.values_list(
                "external_key", "title", "status", "outcome", "window_end", "opened_at", "closed_at", "resolved_at",
                "forecast_count", "forecaster_count", "crowd_probability",
            ),
            key=repr,
        ),
        "forecasts": sorted(
            Forecast.objects.values_list("question__external_key", "forecaster__username", "source__name", "made_at",
                                         "probability"),
            key=repr,
        ),
        "scores": sorted(Score.objects.values_list("question__external_key", "forecaster_id", "source_id", "brier",
                                                   "time_averaged_brier", "relative_brier"),
                         key=repr),
        "events": ResolutionEvent.objects.count(),
        "users": get_user_model().objects.count(),
        "sources": Source.objects.count(),
        "standing": LatestForecast.objects.count(),
    }  # fmt: skip


# --- each format -----------------------------------------------------------------------------


def test_fatebook_export_imports_with_times_authors_and_resolutions(owner):
    report = forecasts_import(text=fixture_text("fatebook"), fmt="fatebook", owner=owner)
    assert report.errors == [] and report.forecasts_created == 9 and report.questions_created == 6
    ceasefire = Question.objects.get(title__startswith="Will the ceasefire")
    assert ceasefire.status == "resolved" and ceasefire.outcome == "no" and ceasefire.owner == owner
    assert ceasefire.external_key.startswith("fatebook:") and ceasefire.details == "Tracking the January truce."
    # Resolved after its resolve-by date: the window is the resolve-by date, resolved when Fatebook did.
    assert ceasefire.window_end.isoformat() == "2024-03-01T00:00:00+00:00"
    assert ceasefire.resolved_at.isoformat() == "2024-03-02T10:00:00+00:00"
    made = list(ceasefire.forecasts.order_by("made_at").values_list("forecaster__username", "made_at", "probability"))
    assert [(name, at.isoformat(), p) for name, at, p in made] == [
        ("Dana_Ortiz", "2024-01-10T09:15:03+00:00", 0.35),
        ("Sam_Lee", "2024-01-12T18:40:12+00:00", 0.2),
        ("Dana_Ortiz", "2024-02-01T08:00:00+00:00", 0.25),
    ]
    # Resolved before its resolve-by date: closed at the resolution.
    sanctions = Question.objects.get(title__startswith="Will the EU")
    assert sanctions.outcome == "yes" and sanctions.window_end.isoformat() == "2024-02-23T16:30:00+00:00"
    assert Question.objects.get(title__startswith="Will the summit").status == "annulled"
    assert set(Question.objects.filter(title__startswith="Who will chair").values_list("title", "outcome")) == {
        ("Who will chair the talks in May?: Norway", "yes"),
        ("Who will chair the talks in May?: Qatar", "no"),
    }
    assert Question.objects.get(title__startswith="Will the border").status == "open"
    # Scored like any other: one score per forecaster on each yes/no question.
    assert Score.objects.filter(question=ceasefire).count() == 2
    assert Score.objects.count() == 2 + 2 + 1 + 1
    dana = get_user_model().objects.get(username="Dana_Ortiz")
    assert dana.first_name == "Dana Ortiz" and not dana.is_active and not dana.has_usable_password()
    assert Profile.objects.get(user=dana).is_imported


def test_predictionbook_json_imports_responses_with_confidence(owner):
    report = forecasts_import(text=fixture_text("predictionbook"), fmt="predictionbook", owner=owner)
    assert report.errors == [] and report.questions_created == 4
    assert report.forecasts_created == 6  # the comment without a confidence is not a forecast
    talks = Question.objects.get(external_key="predictionbook:193847")
    assert talks.outcome == "no" and talks.forecaster_count == 2
    assert sorted(talks.forecasts.values_list("forecaster__username", "probability")) == [
        ("Rowan_Hale", 0.3),
        ("mkessler", 0.25),
    ]
    assert Question.objects.get(external_key="predictionbook:193902").outcome == "yes"
    assert Question.objects.get(external_key="predictionbook:194010").status == "annulled"  # withdrawn
    assert Question.objects.get(external_key="predictionbook:194377").status == "open"
    assert Score.objects.filter(question=talks).count() == 2
    rate = Score.objects.get(question__external_key="predictionbook:193902")
    assert rate.forecast_count == 2 and rate.probability == 0.75


def test_generic_csv_imports_users_sources_and_percentages(owner):
    ana = factories.ForecasterFactory(username="ana")
    report = forecasts_import(text=fixture_text("csv"), fmt="csv", owner=owner)
    assert report.errors == [] and report.forecasts_created == 7 and report.users_created == 1  # ben only
    grain = Question.objects.get(external_key="csv:ua-grain-1")
    assert grain.window_start.isoformat() == "2022-06-01T00:00:00+00:00" and grain.outcome == "yes"
    assert grain.forecasts.filter(forecaster=ana).count() == 2  # matched by username, still active
    assert get_user_model().objects.get(username="ana").is_active
    statement = grain.forecasts.get(source__name="UN spokesperson")
    assert statement.quote.startswith("A deal") and statement.url.endswith("2022-06-20")
    assert grain.forecasts.get(forecaster__username="ben").probability == 0.45
    assert Score.objects.filter(question=grain).count() == 3  # ana, ben and the source
    assert Question.objects.get(external_key="csv:ua-talks-3").outcome == "no"


def test_forewarn_export_of_the_seeds_imports_its_statements_and_outcomes(owner):
    report = forecasts_import(text=fixture_text("forewarn"), fmt="forewarn", owner=owner)
    assert report.errors == [] and report.forecasts_created == 13 and report.questions_created == 7
    assert report.users_created == 0 and report.sources_created == Source.objects.count() > 0
    invasion = Question.objects.get(
        title__startswith="Will Russia launch a full-scale military invasion of Ukraine between"
    )
    assert invasion.kind == "invasion_window" and invasion.outcome == "no"
    statement = invasion.forecasts.get(source__name__startswith="Jake Sullivan")
    assert statement.phrase == "chances about even" and statement.yardstick == "kent"
    assert statement.url.startswith("https://bidenwhitehouse.archives.gov/")
    scored = Question.objects.filter(outcome__in=["yes", "no"])
    assert set(Score.objects.values_list("question", flat=True)) == set(scored.values_list("pk", flat=True))


@pytest.mark.parametrize("fmt", sorted(FIXTURES))
def test_a_second_import_changes_nothing(owner, fmt):
    first = forecasts_import(text=fixture_text(fmt), fmt=fmt, owner=owner)
    assert first.forecasts_created > 0
    before = snapshot()
    second = forecasts_import(text=fixture_text(fmt), fmt=fmt, owner=owner)
    assert snapshot() == before
    assert second.forecasts_created == second.questions_created == second.users_created == 0
    assert second.forecasts_present == first.forecasts_created and second.questions_matched == first.questions_created


@pytest.mark.parametrize("fmt", sorted(FIXTURES))
def test_dry_run_counts_but_writes_nothing(owner, fmt):
    before = snapshot()
    report = forecasts_import(text=fixture_text(fmt), fmt=fmt, owner=owner, dry_run=True)
    assert report.forecasts_created > 0 and report.questions_created > 0
    assert snapshot() == before


def test_imported_scores_count_in_calibration(owner, editor):
    from tests.api_support import client_for

    forecasts_import(text=fixture_text("csv"), fmt="csv", owner=owner)
    calibration = client_for(editor).get("/api/stats/calibration/").json()
    assert calibration["n"] == Score.objects.count() == 6 and calibration["questions"] == 3


# --- bad rows --------------------------------------------------------------------------------

BAD_CSV = """question,window_end,forecaster,probability,made_at,outcome
Will it rain on the parade?,2022-05-01T00:00:00Z,ana,0.3,2022-04-01T00:00:00Z,yes
Will it rain on the parade?,2022-05-01T00:00:00Z,ben,1.5,2022-04-02T00:00:00Z,yes
Will it rain on the parade?,2022-05-01T00:00:00Z,cy,0.4,yesterday,yes
Will it rain on the parade?,2022-05-01T00:00:00Z,dee,0.4,2022-06-01T00:00:00Z,yes
Will the bridge reopen?,2030-05-01T00:00:00Z,ana,0.5,2029-06-01T00:00:00Z,
Will the bridge reopen?,2030-05-01T00:00:00Z,ana,0.6,2024-01-01T00:00:00Z,maybe
Will the talks fail?,2022-05-01T00:00:00Z,ana,0.5,2022-04-01T00:00:00Z,yes
Will the talks fail?,2022-05-01T00:00:00Z,ben,0.5,2022-04-01T00:00:00Z,no
"""


def test_every_bad_row_is_reported_with_its_line_and_nothing_is_written(owner):
    before = snapshot()
    with pytest.raises(ImportFailed) as failure:
        forecasts_import(text=BAD_CSV, fmt="csv", owner=owner)
    errors = {error.line: error.reason for error in failure.value.report.errors}
    assert sorted(errors) == [3, 4, 5, 6, 7, 9]
    assert "between 0.001 and 0.999" in errors[3]
    assert "made_at" in errors[4] and "'yesterday'" in errors[4]
    assert errors[5] == AFTER_WINDOW.format(window_end="2022-05-01T00:00:00+00:00")
    assert errors[6] == IN_THE_FUTURE
    assert "'maybe'" in errors[7]
    assert "outcome differs from line 8" in errors[9]
    assert snapshot() == before


def test_partial_keeps_the_good_rows(owner):
    report = forecasts_import(text=BAD_CSV, fmt="csv", owner=owner, partial=True)
    assert [error.line for error in report.errors] == [3, 4, 5, 6, 7, 9]
    assert sorted(Forecast.objects.values_list("forecaster__username", "question__title")) == [
        ("ana", "Will it rain on the parade?"),
        ("ana", "Will the talks fail?"),
    ]
    assert Question.objects.count() == 2  # the bridge question had no good row


def test_an_unreadable_file_is_one_error():
    with pytest.raises(Exception) as failure:
        file_read("title,when\nx,y\n", fmt="fatebook")
    assert "Missing columns" in str(failure.value)


def test_predictionbook_errors_name_the_line_of_the_prediction(owner):
    text = '[\n  {"id": 1, "description": "A", "deadline": "2022-01-01T00:00:00Z", "outcome": true,\n   "responses": []},\n  {"id": 2, "description": "B", "deadline": "soon", "outcome": null, "responses": []}\n]\n'
    with pytest.raises(ImportFailed) as failure:
        forecasts_import(text=text, fmt="predictionbook", owner=owner)
    assert [(error.line, "deadline" in error.reason) for error in failure.value.report.errors] == [(4, True)]


def test_someone_elses_question_is_not_imported_into(owner, forecaster):
    forecasts_import(text=fixture_text("csv"), fmt="csv", owner=owner)
    with pytest.raises(ImportFailed) as failure:
        forecasts_import(text=fixture_text("csv"), fmt="csv", owner=forecaster)
    assert {error.reason for error in failure.value.report.errors} == {FOREIGN_QUESTION}


def test_a_team_the_owner_is_not_in_is_refused(owner):
    team = factories.TeamFactory()
    with pytest.raises(ImportFailed) as failure:
        forecasts_import(text=fixture_text("csv"), fmt="csv", owner=owner, team=team)
    assert "team" in failure.value.report.errors[0].reason
    assert not Question.objects.exists()


def test_new_forecasts_on_a_matched_question_are_added_and_rescored(owner):
    forecasts_import(text=fixture_text("csv"), fmt="csv", owner=owner)
    more = fixture_text("csv") + (
        "ua-power-2,Will the power plant be disconnected from the grid before October 2022?,,"
        "2022-10-01T00:00:00Z,cy,,0.7,2022-09-01T00:00:00Z,yes,2022-10-02T09:00:00Z,,\n"
    )
    report = forecasts_import(text=more, fmt="csv", owner=owner)
    assert report.forecasts_created == 1 and report.forecasts_present == 7
    power = Question.objects.get(external_key="csv:ua-power-2")
    assert power.forecaster_count == 3 and Score.objects.filter(question=power).count() == 3


# --- the command -----------------------------------------------------------------------------


def test_command_imports_and_reports(owner):
    out = StringIO()
    call_command(
        "import_forecasts", str(FILES / "fatebook.csv"), "--format", "fatebook", "--owner", "owner", stdout=out
    )
    assert "Imported 9 forecasts" in out.getvalue()
    assert Question.objects.filter(owner=owner).count() == 6


def test_command_dry_run_and_bad_rows(owner, tmp_path):
    out = StringIO()
    call_command("import_forecasts", str(FILES / "generic.csv"), "--format", "csv", "--owner", "owner", "--dry-run",
                 stdout=out)  # fmt: skip
    assert "Would import 7 forecasts" in out.getvalue() and not Forecast.objects.exists()
    bad = tmp_path / "bad.csv"
    bad.write_text(BAD_CSV)
    err = StringIO()
    with pytest.raises(CommandError, match="6 bad rows"):
        call_command("import_forecasts", str(bad), "--format", "csv", "--owner", "owner", stderr=err)
    assert "line 3:" in err.getvalue() and not Forecast.objects.exists()
    call_command("import_forecasts", str(bad), "--format", "csv", "--owner", "owner", "--partial", stdout=out,
                 stderr=err)  # fmt: skip
    assert Forecast.objects.count() == 2


def test_command_needs_an_owner_when_there_is_no_single_superuser(db):
    with pytest.raises(CommandError, match="--owner"):
        call_command("import_forecasts", str(FILES / "generic.csv"), "--format", "csv")


# --- a round trip through Forewarn's own export -----------------------------------------------


def numbers_of(client) -> dict:
    """Every calibration and leaderboard number the API gives, authors named rather than numbered."""
    numbers = {}
    for params in (
        {},
        {"bins": 5},
        {"strategy": "quantile", "bins": 4},
        {"kind": "escalation"},
        {"resolved_after": "2000-01-01"},
    ):
        numbers[f"calibration {params}"] = client.get("/api/stats/calibration/", params).json()
    for params in ({}, {"authors": "sources"}, {"authors": "forecasters"}):
        board = client.get("/api/stats/leaderboard/", params).json()
        numbers[f"leaderboard {params}"] = [{k: v for k, v in row.items() if k != "id"} for row in board["results"]]
    numbers["phrases"] = client.get("/api/stats/phrases/").json()
    numbers["scores"] = sorted(
        Score.objects.values_list(
            "question__title", "forecaster__username", "source__name", "probability", "outcome", "brier", "log_loss",
            "time_averaged_brier", "coverage", "relative_brier", "forecast_count", "scored_until", "resolved_at",
            "window_end", "question_kind",
        ),
        key=repr,
    )  # fmt: skip
    return numbers


def test_round_trip_through_the_forewarn_export_gives_identical_numbers(editor, eager_tasks):
    from datetime import timedelta

    from django.utils import timezone

    from forecasts.services import crowd_rebuild, question_annul, question_resolve, scores_recompute_all
    from tests.api_support import client_for

    now = timezone.now()
    days = lambda n: now - timedelta(days=n)  # noqa: E731
    owner = factories.ForecasterFactory(username="analyst")
    people = [factories.ForecasterFactory(username=name) for name in ("ana", "ben", "cy")]
    source = factories.SourceFactory(name="Ministry of Defence")
    plans = [  # (window end, outcome, occurred_at, [(author, days ago, probability)])
        (days(30), "yes", None, [(0, 55, 0.6), (1, 50, 0.3), (0, 40, 0.8), (2, 35, 0.55), ("source", 58, 0.7)]),
        (days(20), "no", None, [(0, 50, 0.2), (1, 45, 0.35), (2, 25, 0.1), ("source", 44, 0.4)]),
        (days(-10), "yes", days(10), [(0, 30, 0.4), (1, 20, 0.65), (2, 5, 0.9)]),
        (days(15), "annulled", None, [(0, 30, 0.5), (1, 28, 0.5)]),
        (days(-20), "", None, [(2, 10, 0.3)]),
        (days(12), "yes", None, [(1, 40, 0.999), (2, 30, 0.001)]),
    ]
    for index, (window_end, outcome, occurred_at, forecasts) in enumerate(plans):
        past = window_end < now
        question = factories.QuestionFactory(
            owner=owner,
            title="=SUM(1)" if index == 0 else f"Round trip question {index}",
            window_end=window_end,
            opened_at=days(60),
            status="awaiting_resolution" if past else "open",
            closed_at=window_end if past else None,
        )
        for author, ago_days, probability in forecasts:
            statement = {"forecaster": None, "source": source, "quote": "We expect it.", "url": "https://example.org/m"}
            factories.ForecastFactory(
                question=question,
                recorded_by=owner,
                made_at=days(ago_days),
                probability=probability,
                **(statement if author == "source" else {"forecaster": people[author]}),
            )
        if outcome == "annulled":
            question_annul(question=question, actor=editor)
        elif outcome:
            question_resolve(question=question, actor=editor, outcome=outcome, occurred_at=occurred_at)
    crowd_rebuild()
    scores_recompute_all()
    client = client_for(editor)
    before = numbers_of(client)
    # Calibration counts ended windows: 4 + 4 + 2 pairs; the leaderboard also has the early YES (2 pairs).
    assert before["calibration {}"]["n"] == 10 and len(before["leaderboard {}"]) == 4
    export = b"".join(client.get("/api/forecasts/export.csv").streaming_content).decode()

    # A fresh instance: nothing but the importer.
    Score.objects.all().delete()
    LatestForecast.objects.all().delete()
    Question.objects.all().delete()
    Source.objects.all().delete()
    get_user_model().objects.exclude(pk=editor.pk).delete()
    report = forecasts_import(text=export, fmt="forewarn", owner=editor)
    assert report.errors == [] and report.forecasts_created == 17 and report.users_created == 3
    assert Question.objects.get(title="=SUM(1)")  # the export's formula guard is undone
    assert numbers_of(client) == before
    again = forecasts_import(text=export, fmt="forewarn", owner=editor)
    assert again.forecasts_created == 0 and numbers_of(client) == before


# --- the admin upload page -------------------------------------------------------------------

IMPORT_URL = "/admin/forecasts/forecast/import/"


def upload(client, name: str, text: str, **fields):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(IMPORT_URL, {"file": SimpleUploadedFile(name, text.encode()), **fields})


def test_admin_page_imports_a_file_and_is_linked_from_the_forecast_list(client, owner):
    client.force_login(owner)
    assert IMPORT_URL.encode() in client.get("/admin/forecasts/forecast/").content
    page = client.get(IMPORT_URL)
    assert page.status_code == 200 and b"Fatebook CSV export" in page.content
    response = upload(client, "fatebook.csv", fixture_text("fatebook"), format="fatebook")
    assert response.status_code == 200
    assert "Imported 9 forecasts" in response.content.decode()
    assert Question.objects.filter(owner=owner).count() == 6


def test_admin_page_lists_bad_rows_and_writes_nothing_unless_told(client, owner):
    client.force_login(owner)
    response = upload(client, "bad.csv", BAD_CSV, format="csv")
    page = response.content.decode()
    assert "6 bad rows: nothing was imported." in page and not Forecast.objects.exists()
    assert '<td class="line">3</td>' in page and "between 0.001 and 0.999" in page
    response = upload(client, "bad.csv", BAD_CSV, format="csv", partial="on")
    assert "Imported 2 forecasts" in response.content.decode() and Forecast.objects.count() == 2


def test_admin_page_dry_run_and_team(client, owner):
    team = factories.TeamFactory(name="Desk")
    factories.TeamMembershipFactory(team=team, user=owner)
    client.force_login(owner)
    response = upload(client, "generic.csv", fixture_text("csv"), format="csv", dry_run="on", team=team.pk)
    assert "Would import 7 forecasts" in response.content.decode() and not Question.objects.exists()
    upload(client, "generic.csv", fixture_text("csv"), format="csv", team=team.pk)
    assert set(Question.objects.values_list("team__name", flat=True)) == {"Desk"}


def test_admin_page_needs_the_permission_to_file_a_question(client):
    client.force_login(factories.UserFactory(username="staff-reader", is_staff=True))  # staff, in no group
    assert client.get(IMPORT_URL).status_code == 403
    assert upload(client, "generic.csv", fixture_text("csv"), format="csv").status_code == 403
    forecast_list = client.get("/admin/forecasts/forecast/")
    assert forecast_list.status_code in (200, 403) and IMPORT_URL.encode() not in forecast_list.content
    assert not Question.objects.exists()


# --- the bench figure ------------------------------------------------------------------------


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the benchmark runs on PostgreSQL only (make bench)")
def test_bench_import_figure_runs_at_a_tiny_scale():
    from bench.imports import import_figures

    figures, details = import_figures(scale=0.01, seed=7)
    assert figures[0].name.startswith("import 1,000 forecasts on 20 questions") and figures[0].met
    assert "Imported 1000 forecasts" in details["summary"] and Forecast.objects.count() == 1000


def test_a_later_file_resolves_a_question_imported_unresolved(owner, eager_tasks, django_capture_on_commit_callbacks):
    unresolved = (
        "question,window_end,forecaster,probability,made_at,outcome\nWill it thaw?,2022-03-01,ana,0.7,2022-02-01,\n"
    )
    forecasts_import(text=unresolved, fmt="csv", owner=owner)
    question = Question.objects.get()
    assert question.status == "awaiting_resolution" and not Score.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        report = forecasts_import(text=unresolved.replace(",\n", ",no\n"), fmt="csv", owner=owner)
    assert report.questions_resolved == 1 and report.forecasts_present == 1
    question.refresh_from_db()
    assert question.outcome == "no" and question.history.get().note == "Imported from csv."
    assert Score.objects.get().brier == pytest.approx(0.49)
    with pytest.raises(ImportFailed) as failure:
        forecasts_import(text=unresolved.replace(",\n", ",yes\n"), fmt="csv", owner=owner)
    assert "already resolved" in failure.value.report.errors[0].reason
