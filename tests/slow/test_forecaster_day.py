"""A forecaster's day in a real browser (Debian's chromium through Playwright), on a server started as
`make run` starts it: migrated, seeds loaded, demo accounts made, `manage.py serve`.

The demo forecaster signs in, reads the home page, forecasts "70%" then "likely" in a practice question's
one box (reading what the box understood before saving, staying on the page, the chart redrawn each time),
files a question with a first forecast, resolves a practice question from the home page once its window
has closed, reads their own track record and a source's, and changes the digest period in the settings.
Every page is screenshotted at 1440 and 390 px wide into test-artifacts/forecaster-day/ (printed).
Without chromium the test skips loudly; under CI=true it fails.
"""

import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.support.browser import CHROMIUM_ARGS, chromium_or_skip
from tests.support.serve import (
    BASE_DIR,
    ServeProcess,
    admin_login_status,
    any_free_port,
    demo_password,
    make_run_var_dir,
    subprocess_environment,
    wait_until,
)

pytestmark = pytest.mark.browser

ARTIFACTS = BASE_DIR / "test-artifacts" / "forecaster-day"
WIDTHS = (1440, 390)
# The sweep closes windows every second instead of every minute (seeded into beat at migrate time).
FAST_SWEEP = {"FOREWARN_SWEEP_INTERVAL_SECONDS": "1"}
FORECAST_TITLE = "Practice: Will the UN Security Council hold a formal meeting on Ukraine in the next 14 days?"
RESOLVE_TITLE = "Practice: Will the Council of the EU adopt new sanctions against Russia in the next 30 days?"
SOURCE_NAME = "US intelligence, via the White House press secretary (Jen Psaki)"
NEW_TITLE = "Will the grain corridor reopen before the end of next month?"


def database(var_dir: Path) -> sqlite3.Connection:
    return sqlite3.connect(var_dir / "forewarn.sqlite3", timeout=30)


def sqlite_time(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")


def window_passes(var_dir: Path, title: str) -> None:
    """What two weeks do to a practice question: its window is behind it (the sweep closes it)."""
    now = datetime.now(UTC)
    with database(var_dir) as connection:
        changed = connection.execute(
            "UPDATE forecasts_question SET window_start = ?, opened_at = ?, window_end = ?, resolve_by = ?"
            " WHERE title = ?",
            (
                sqlite_time(now - timedelta(days=14)),
                sqlite_time(now - timedelta(days=14)),
                sqlite_time(now - timedelta(minutes=1)),
                sqlite_time(now + timedelta(days=3)),
                title,
            ),
        ).rowcount
    assert changed == 1


def row(var_dir: Path, sql: str, *parameters):
    with database(var_dir) as connection:
        return connection.execute(sql, parameters).fetchone()


def status_of(var_dir: Path, title: str) -> str:
    return row(var_dir, "SELECT status FROM forecasts_question WHERE title = ?", title)[0]


@pytest.fixture
def served(tmp_path):
    """`make run` on the embedded defaults in a var dir of the test's own: its base URL, var dir, process."""
    var_dir = make_run_var_dir(tmp_path / "var", **FAST_SWEEP)
    port = any_free_port()
    base_url = f"http://127.0.0.1:{port}"
    serve = ServeProcess(subprocess_environment(var_dir, FOREWARN_SITE_URL=base_url, **FAST_SWEEP), port)
    try:
        wait_until(lambda: admin_login_status(port) == 200, timeout=90, what="/admin/login/ to answer", serve=serve)
        serve.wait_for("beat: Starting", timeout=60)
        yield base_url, var_dir, serve
    finally:
        serve.kill_everything()


def test_a_forecasters_day_in_chromium(served):
    chromium = chromium_or_skip()
    from playwright.sync_api import expect, sync_playwright

    base_url, var_dir, serve = served
    started = time.monotonic()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("*.png"):
        old.unlink()
    shots: list[Path] = []

    def shot(page, name: str) -> None:
        """The page at each width, full length; back at the first width afterwards."""
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            path = ARTIFACTS / f"{len(shots) // len(WIDTHS) + 1:02d}-{name}-{width}.png"
            page.screenshot(path=str(path), full_page=True)
            shots.append(path)
        page.set_viewport_size({"width": WIDTHS[0], "height": 900})

    def chart_source(page) -> str:
        """The chart's address, once it has loaded (the page's CSP refuses wait_for_function's eval)."""
        chart = page.locator("img.question-chart")
        deadline = time.monotonic() + 30
        while not chart.evaluate("image => image.complete && image.naturalWidth > 0"):
            assert time.monotonic() < deadline, "the chart did not load"
            time.sleep(0.1)
        return chart.get_attribute("src")

    def one_box(page, typed: str, understood: str) -> str:
        """Type in the question page's one box, read the preview, save; the success message."""
        before = chart_source(page)
        page.fill("#id_box_forecast", typed)
        expect(page.locator("#id_box_forecast-preview")).to_have_text(f"= {understood}")
        with page.expect_navigation():
            page.click("text=Save forecast")
        assert page.url.split("?")[0].endswith(f"/admin/forecasts/question/{forecast_id}/change/"), page.url
        assert chart_source(page) != before, "the chart was not redrawn"
        return page.locator(".messagelist .success").inner_text()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": WIDTHS[0], "height": 900})
        page.set_default_timeout(60_000)
        try:
            # Sign in as the demo forecaster: the home page.
            page.goto(f"{base_url}/admin/")
            shot(page, "sign-in")
            page.fill("#id_username", "forecaster")
            page.fill("#id_password", demo_password(var_dir, "forecaster"))
            with page.expect_navigation():
                page.click("input[type=submit]")
            expect(page.locator("#user-tools")).to_contain_text("forecaster")
            expect(page.locator("#home-open")).to_contain_text(FORECAST_TITLE)
            shot(page, "home")

            # One box on a practice question: "70%", then "likely".
            with page.expect_navigation():
                page.locator("#home-open a", has_text=FORECAST_TITLE).click()
            forecast_id = int(page.url.rstrip("/").split("/")[-2])
            shot(page, "question")
            saved_percent = one_box(page, "70%", "70%")
            expect(page.locator(".crowd-summary")).to_contain_text("70%")
            shot(page, "question-after-70")
            saved_phrase = one_box(page, "likely", "67.5% - ICD 203: likely")
            shot(page, "question-after-likely")

            # File a question with a first forecast.
            page.goto(f"{base_url}/admin/forecasts/question/")
            shot(page, "question-list")
            with page.expect_navigation():
                page.click("text=Add question")
            window_end = datetime.now(UTC) + timedelta(days=30)
            page.fill("#id_title", NEW_TITLE)
            page.fill("#id_resolution_criteria", "YES if ships leave Odesa under the corridor's terms.")
            page.fill("#id_window_end_0", window_end.strftime("%Y-%m-%d"))
            page.fill("#id_window_end_1", "12:00:00")
            page.fill("#id_first_forecast", "1 in 4")
            expect(page.locator("#id_first_forecast-preview")).to_have_text("= 25%")
            shot(page, "question-add")
            with page.expect_navigation():
                page.click("input[name=_continue]")
            filed = page.locator(".messagelist .success").inner_text()
            standing = page.locator(".crowd-summary").inner_text()
            shot(page, "question-filed")

            # Two weeks pass for another practice question; the sweep closes it and the home page offers it.
            window_passes(var_dir, RESOLVE_TITLE)
            wait_until(
                lambda: status_of(var_dir, RESOLVE_TITLE) == "awaiting_resolution",
                timeout=60,
                what="the sweep to close the practice question",
                serve=serve,
            )
            with page.expect_navigation():
                page.click("#site-name a")
            expect(page.locator("#home-notifications")).to_contain_text(RESOLVE_TITLE)  # "ready to resolve"
            awaiting = page.locator("#home-awaiting tr", has_text=RESOLVE_TITLE)
            awaiting.locator("input[name=note]").fill("https://www.consilium.europa.eu/en/press/press-releases/")
            shot(page, "home-awaiting")
            with page.expect_navigation():
                awaiting.locator("button[value=yes]").click()
            resolved = page.locator(".messagelist .success").inner_text()
            expect(page.locator("#home-awaiting")).to_contain_text("Nothing to resolve.")
            expect(page.locator("#home-notifications")).to_contain_text("No unread notifications.")
            shot(page, "home-resolved")

            # The own track record, from the home page; a source's, from the Sources list.
            with page.expect_navigation():
                page.click("#home-record >> text=My track record")
            own_record = page.locator("#content").inner_text()
            shot(page, "my-track-record")
            page.goto(f"{base_url}/admin/forecasts/source/")
            with page.expect_navigation():
                page.locator("#result_list tr", has_text=SOURCE_NAME).locator("text=Track record").click()
            source_record = page.locator("#content").inner_text()
            shot(page, "source-track-record")

            # The digest period, in the settings.
            with page.expect_navigation():
                page.click("#user-tools >> text=Settings")
            shot(page, "settings")
            page.fill("#id_digest_period", "120")
            with page.expect_navigation():
                page.click("input[value='Save settings']")
            settings_saved = page.locator(".messagelist .success").inner_text()
            digest_shown = page.input_value("#id_digest_period")
            shot(page, "settings-saved")
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "failure.png"), full_page=True)
            raise
        finally:
            browser.close()

    assert saved_percent == f"Saved your forecast on “{FORECAST_TITLE}”: 70%.", saved_percent
    assert saved_phrase == f"Saved your forecast on “{FORECAST_TITLE}”: 67.5% - ICD 203: likely.", saved_phrase
    probabilities = row(
        var_dir,
        "SELECT group_concat(f.probability, ' ') FROM (SELECT probability FROM forecasts_forecast"
        " WHERE question_id = ? ORDER BY id) f",
        forecast_id,
    )[0]
    assert probabilities == "0.7 0.675"
    assert NEW_TITLE in filed and "25%" in standing, (filed, standing)
    new_question = row(
        var_dir,
        "SELECT q.status, u.username, f.probability FROM forecasts_question q JOIN auth_user u ON u.id = q.owner_id"
        " JOIN forecasts_forecast f ON f.question_id = q.id WHERE q.title = ?",
        NEW_TITLE,
    )
    assert new_question == ("open", "forecaster", 0.25)
    assert RESOLVE_TITLE in resolved, resolved
    outcome = row(
        var_dir,
        "SELECT q.status, q.outcome, u.username FROM forecasts_question q JOIN auth_user u ON u.id = q.resolved_by_id"
        " WHERE q.title = ?",
        RESOLVE_TITLE,
    )
    assert outcome == ("resolved", "yes", "forecaster")
    assert "forecaster" in own_record
    assert SOURCE_NAME in source_record and "Brier" in source_record
    assert settings_saved == "Your settings are saved." and digest_shown == "120"
    digest = row(
        var_dir,
        "SELECT p.digest_period FROM forecasts_profile p JOIN auth_user u ON u.id = p.user_id WHERE u.username = ?",
        "forecaster",
    )[0]
    assert digest == 120 * 60 * 1_000_000  # microseconds, as Django stores a duration in SQLite
    assert len(shots) == 2 * 14 and all(path.stat().st_size > 0 for path in shots)
    browsing = time.monotonic() - started
    print(f"\nforecaster's day: {len(shots)} screenshots in {ARTIFACTS}; {browsing:.1f} s in the browser")
