"""The sweep closing expired windows with their notifications vs one raw SQL UPDATE of the same rows."""

import statistics
import time

import numpy as np
from django.conf import settings
from django.db import connection
from django.test.utils import override_settings
from django.utils import timezone

from bench.data import DAY_US, BenchData, copy_rows, iso, sequences_reset
from bench.measure import Figure
from forecasts.models import Notification, Question
from forecasts.services import lifecycle_sweep

BATCH_SIZES = (100, 250, 500, 1000, 2000)  # FOREWARN_SWEEP_BATCH_SIZE values timed besides the configured one

RAW_CLOSE_SQL = """
    UPDATE forecasts_question
    SET status = 'awaiting_resolution', closed_at = window_end, next_reminder_at = window_end,
        reminder_round = 0, next_escalation_at = resolve_by, updated_at = %s
    WHERE status = 'open' AND window_end <= %s
"""


def expired_windows_create(data: BenchData, *, count: int, seed: int) -> tuple[int, int]:
    """Open questions whose windows ended in the last two days (resolve-by still ahead); their id range."""
    rng = np.random.default_rng(seed)
    now_us = int(timezone.now().timestamp() * 1_000_000)
    first = Question.objects.order_by("-pk").values_list("pk", flat=True).first() + 1
    window_end = now_us - rng.integers(3_600_000_000, 2 * DAY_US, count)
    start_text, end_text, resolve_by_text = map(
        iso, (window_end - 30 * DAY_US, window_end, np.full(count, now_us + 3 * DAY_US))
    )
    owners = data.owner_ids
    columns = [
        "id", "title", "external_key", "details", "resolution_criteria", "kind", "owner_id", "source_quote",
        "source_url", "window_start", "window_end", "resolve_by", "status", "outcome", "created_at", "updated_at",
        "opened_at", "reminder_round", "forecast_count", "forecaster_count", "crowd_hidden", "option_label",
    ]  # fmt: skip
    copy_rows(
        "forecasts_question",
        columns,
        (
            (first + index, f"Bench sweep question {first + index}: will the step happen?", "", "",
             "Resolves YES if it is reported.", "other", owners[index % len(owners)], "", "", start_text[index],
             end_text[index], resolve_by_text[index], "open", "", start_text[index], start_text[index],
             start_text[index], 0, 0, 0, "never", "")
            for index in range(count)
        ),
    )  # fmt: skip
    sequences_reset(["forecasts_question"])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE forecasts_question")
    return first, first + count - 1


def expired_windows_reset(first: int, last: int) -> None:
    """Put the expired windows back as the sweep found them: open, unreminded, no notifications."""
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM forecasts_notification WHERE question_id BETWEEN %s AND %s", [first, last])
        cursor.execute(
            """
            UPDATE forecasts_question SET status = 'open', closed_at = NULL, next_reminder_at = NULL,
                reminder_round = 0, next_escalation_at = NULL
            WHERE id BETWEEN %s AND %s
            """,
            [first, last],
        )
        cursor.execute("VACUUM ANALYZE forecasts_question")
        cursor.execute("VACUUM ANALYZE forecasts_notification")


def sweep_figures(data: BenchData, *, runs: int, count: int, seed: int) -> tuple[list[Figure], dict]:
    """Median time of lifecycle_sweep over `count` expired windows vs the raw UPDATE, reset between runs."""
    first, last = expired_windows_create(data, count=count, seed=seed)
    sweep_times, raw_times, details = [], [], {}
    for _ in range(runs):
        expired_windows_reset(first, last)
        began = time.perf_counter()
        report = lifecycle_sweep(now=timezone.now())
        sweep_times.append(time.perf_counter() - began)
        details = report.summary()
        notified = Notification.objects.filter(question_id__gte=first, question_id__lte=last).count()
        if len(report.closed) != count or notified != count:
            raise RuntimeError(f"the sweep closed {len(report.closed)} and notified {notified} of {count} windows")
        expired_windows_reset(first, last)
        began = time.perf_counter()
        with connection.cursor() as cursor:
            now = timezone.now()
            cursor.execute(RAW_CLOSE_SQL, [now, now])
            if cursor.rowcount != count:
                raise RuntimeError(f"the raw UPDATE closed {cursor.rowcount} of {count} windows")
        raw_times.append(time.perf_counter() - began)
    by_batch_size = {}
    for batch_size in BATCH_SIZES:
        times = []
        with override_settings(FOREWARN={**settings.FOREWARN, "SWEEP_BATCH_SIZE": batch_size}):
            for _ in range(runs):
                expired_windows_reset(first, last)
                began = time.perf_counter()
                closed = len(lifecycle_sweep(now=timezone.now()).closed)
                times.append(time.perf_counter() - began)
                if closed != count:
                    raise RuntimeError(f"at batch size {batch_size} the sweep closed {closed} of {count} windows")
        by_batch_size[batch_size] = statistics.median(times) * 1000
    expired_windows_reset(first, last)
    sweep_seconds, raw_seconds = statistics.median(sweep_times), statistics.median(raw_times)
    figures = [
        Figure(f"sweep closing {count:,} expired windows + notifications", sweep_seconds * 1000, "ms",
               "one raw SQL UPDATE of the same rows", raw_seconds * 1000, "<= 5x", sweep_seconds <= 5 * raw_seconds,
               f"{count:,} notifications; the whole sweep (every step) is timed"),
    ]  # fmt: skip
    return figures, details | {
        "sweep_seconds_runs": sweep_times,
        "raw_seconds_runs": raw_times,
        "batch_size": settings.FOREWARN["SWEEP_BATCH_SIZE"],
        "median_ms_by_batch_size": by_batch_size,
    }
