"""The forecaster's whole workflow in a real browser (Debian's chromium through Playwright).

Against a live server: sign in to the admin, file a question whose window ends a minute later,
add a forecast by estimative phrase, see the crowd median, resolve the question as its owner once
the window has ended, and read the calibration chart filtered to oneself. Screenshots of every
step go to test-artifacts/browser/. Without chromium the test skips loudly; under CI=true it fails.
"""

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from forecasts import services
from forecasts.admin.support import as_percent
from forecasts.models import Forecast, Question, ResolutionEvent, Score
from tests import factories
from tests.support.browser import CHROMIUM_ARGS, chromium_or_skip
from tests.support.roles import roles_restore

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts" / "browser"
WINDOW_SECONDS = 60


def in_another_thread(function, *args, **kwargs):
    """ORM work while Playwright's event loop owns this thread (Django refuses it here)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(function, *args, **kwargs).result()


# eager_tasks: resolving queues the score recompute after commit; it runs in the request instead of a worker.
def test_forecaster_files_forecasts_resolves_and_reads_calibration_in_chromium(
    groups_back_after_flush, live_server, eager_tasks
):
    chromium = chromium_or_skip()
    from playwright.sync_api import expect, sync_playwright

    roles_restore()  # an earlier transactional test's flush removed the groups
    analyst = factories.ForecasterFactory(username="analyst")
    colleague = factories.ForecasterFactory(username="colleague")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    window_end = (timezone.now() + timedelta(seconds=WINDOW_SECONDS)).replace(microsecond=0)
    title = "Will the ceasefire hold through the weekend?"
    shots = []

    def shot(page, name: str) -> None:
        path = ARTIFACTS / f"{len(shots) + 1:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        shots.append(path)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(60_000)
        try:
            # Sign in.
            page.goto(f"{live_server.url}/admin/login/?next=/admin/")
            page.fill("#id_username", "analyst")
            page.fill("#id_password", "correct-horse-battery")
            with page.expect_navigation():
                page.click("input[type=submit]")
            expect(page.locator("#user-tools")).to_contain_text("analyst")
            shot(page, "signed-in")

            # File a question whose window ends shortly.
            page.goto(live_server.url + reverse("admin:forecasts_question_add"))
            page.fill("#id_title", title)
            page.fill("#id_resolution_criteria", "The ceasefire holds: no shelling reported by the monitors.")
            page.fill("#id_window_end_0", window_end.strftime("%Y-%m-%d"))
            page.fill("#id_window_end_1", window_end.strftime("%H:%M:%S"))
            shot(page, "question-form")
            with page.expect_navigation():
                page.click("input[name=_continue]")
            expect(page.locator(".messagelist .success")).to_be_visible()
            question_id = int(page.url.rstrip("/").split("/")[-2])
            shot(page, "question-filed")

            # A colleague has a standing forecast too, so the median is a real median.
            in_another_thread(
                lambda: services.forecast_submit(
                    question=Question.objects.get(pk=question_id), recorded_by=colleague, probability=0.2
                )
            )

            # Forecast by estimative phrase in the question page's one box; the server says what it read.
            page.fill("#id_box_forecast", "likely")
            expect(page.locator("#id_box_forecast-preview")).to_have_text("= 67.5% - ICD 203: likely")
            page.fill("#id_box_rationale", "Both sides need the pause.")
            shot(page, "forecast-form")
            with page.expect_navigation():
                page.click("text=Save forecast")
            recorded = page.locator(".messagelist .success").inner_text()
            crowd = page.locator(".crowd-summary").inner_text()
            shot(page, "crowd-median")

            # The window ends; the owner resolves.
            remaining = (window_end - timezone.now()).total_seconds()
            if remaining > 0:
                time.sleep(remaining + 1)
            page.reload()
            page.click("text=Resolve…")
            page.check("input[name=outcome][value=no]")
            page.fill("#id_note", "Monitors reported shelling on Saturday.")
            shot(page, "resolve-form")
            with page.expect_navigation():
                page.click("input[type=submit]")
            resolved_summary = page.locator(".crowd-summary").inner_text()
            shot(page, "resolved")

            # The calibration chart, filtered to the analyst.
            page.goto(live_server.url + reverse("admin:forecasts_calibrationreport_changelist"))
            page.select_option("#id_forecaster", label="analyst")
            with page.expect_navigation():
                page.click("input[type=submit][value=Show]")
            chart = page.locator("img.calibration-chart[alt='Calibration chart']")
            expect(chart).to_be_visible()
            page.wait_for_function("document.querySelector(\"img[alt='Calibration chart']\").naturalWidth > 0")
            chart_width = chart.evaluate("image => image.naturalWidth")
            scored = page.locator("tr", has_text="Scored forecasts (n)").locator("td").inner_text()
            calibration_url = page.url
            shot(page, "calibration")
        except Exception:
            shot(page, "failure")
            raise
        finally:
            browser.close()

    question = Question.objects.get(pk=question_id)
    forecast = Forecast.objects.get(question=question, forecaster=analyst)
    assert (question.title, question.owner, question.window_end) == (title, analyst, window_end)
    assert (forecast.phrase, forecast.yardstick, forecast.probability) == ("likely", "icd203", 0.675)
    assert recorded == f"Saved your forecast on “{title}”: 67.5% - ICD 203: likely."
    expected_median = as_percent((0.675 + 0.2) / 2)
    assert f"Crowd median {expected_median} from 2 forecasters" in crowd
    assert (question.status, question.outcome, question.resolved_by) == ("resolved", "no", analyst)
    assert "Resolved: NO" in resolved_summary or "Resolved: No" in resolved_summary
    assert ResolutionEvent.objects.get(question=question).actor == analyst
    assert Score.objects.filter(question=question).count() == 2
    assert f"forecaster={analyst.pk}" in calibration_url
    assert scored.strip() == "1" and chart_width > 0
    assert all(path.stat().st_size > 0 for path in shots)
    print(f"\nbrowser workflow: {len(shots)} screenshots in {ARTIFACTS}")


def test_forecaster_adds_a_forecast_by_phrase_in_chromium(live_server):
    chromium = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    roles_restore()  # an earlier transactional test may have flushed the groups

    factories.ForecasterFactory(username="analyst")
    question = factories.QuestionFactory(title="Will the talks collapse?")
    forecast_page = f"{live_server.url}{reverse('admin:forecasts_question_forecast', args=[question.pk])}"

    # The ORM is not used while the browser runs: Playwright keeps an event loop in this thread.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(
            f"{live_server.url}/admin/login/?next={reverse('admin:forecasts_question_change', args=[question.pk])}"
        )
        page.fill("#id_username", "analyst")
        page.fill("#id_password", "correct-horse-battery")
        page.click("input[type=submit]")
        page.click("text=Record a source's statement")
        assert page.url == forecast_page
        page.fill("#id_forecast", "thirty")
        with page.expect_navigation():
            page.click("input[name=_save]")
        junk_errors = page.locator(".errors .errorlist").all_inner_texts()
        page.fill("#id_forecast", "unlikely")
        with page.expect_navigation():
            page.click("input[name=_save]")
        success = page.locator(".messagelist .success").inner_text()
        history = page.locator("#forecasts-group").inner_text()
        browser.close()

    assert len(junk_errors) == 1 and "Could not read 'thirty' as a probability" in junk_errors[0]
    assert success == "Recorded analyst's forecast: 32.5% - ICD 203: unlikely."
    assert "unlikely (ICD 203)" in history
    forecast = Forecast.objects.get()
    assert (forecast.phrase, forecast.forecaster.username) == ("unlikely", "analyst")
