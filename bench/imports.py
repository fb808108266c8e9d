"""Importing 100,000 forecasts on 2,000 questions (at scale 1.0) through forecasts_import vs COPY of the same rows.

Self-contained: it writes its own file in the generic CSV format (a mix of resolved, annulled and
open questions; ten forecasters per question, each updating about five times; a few source
statements), imports it as a superuser of its own, then
imports it again (which must change nothing), and COPYs the same forecast rows into a scratch
table as the baseline: the least any import must pay to write them.
"""

import csv
import io
import time
from datetime import UTC, datetime, timedelta

import numpy as np
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone

from bench.measure import Figure
from forecasts.services import forecasts_import

FORECASTS_AT_FULL_SCALE = 100_000
FORECASTS_PER_QUESTION = 50
FORECASTERS = 300
AUTHORS_PER_QUESTION = 10  # each updating five times: a team's tracker, not a public crowd
TARGET_SECONDS = 60.0
HEADER = ["question_id", "question", "window_end", "forecaster", "source", "probability", "made_at", "outcome",
          "resolved_at", "quote", "url"]  # fmt: skip


def import_file_build(*, forecasts: int, seed: int, now: datetime) -> tuple[str, list[tuple]]:
    """The generic CSV text, and its forecast rows as (question key, author, made_at, probability) tuples."""
    rng = np.random.default_rng(seed)
    questions = max(1, forecasts // FORECASTS_PER_QUESTION)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    rows = []
    for index in range(questions):
        window_end = now + timedelta(days=float(rng.uniform(-720, 180)))
        opened = min(window_end - timedelta(days=float(rng.uniform(20, 120))), now - timedelta(days=10))
        resolved = window_end < now
        outcome = ("yes" if rng.random() < 0.35 else "no") if resolved and rng.random() > 0.03 else ""
        outcome = "annulled" if resolved and not outcome else outcome
        latest = min(window_end, now) - timedelta(seconds=1)
        authors = rng.choice(FORECASTERS, AUTHORS_PER_QUESTION, replace=False)
        span = (latest - opened).total_seconds()
        for made in sorted(rng.uniform(0, span, FORECASTS_PER_QUESTION)):
            made_at = opened + timedelta(seconds=float(made))
            probability = round(float(np.clip(rng.beta(2, 3), 0.001, 0.999)), 3)
            statement = rng.random() < 0.02
            author = f"Bench wire service {index % 7}" if statement else f"importer_{rng.choice(authors)}"
            writer.writerow([
                f"bench-{seed}-{index}", f"Bench imported question {index}: will it happen?",
                window_end.isoformat(), "" if statement else author, author if statement else "", probability,
                made_at.isoformat(), outcome, min(window_end + timedelta(days=1), now).isoformat() if resolved else "",
                "It is expected." if statement else "", "https://example.org/wire" if statement else "",
            ])  # fmt: skip
            rows.append((f"bench-{seed}-{index}", author, made_at, probability))
    return out.getvalue(), rows


def copy_baseline_seconds(rows: list[tuple]) -> float:
    """COPY the same forecast rows into a scratch table: the raw cost of writing them."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE bench_import_copy (question text, author text, made_at timestamptz, probability float8)"
        )
        began = time.perf_counter()
        with cursor.cursor.copy("COPY bench_import_copy (question, author, made_at, probability) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        seconds = time.perf_counter() - began
        cursor.execute("DROP TABLE bench_import_copy")
    return seconds


def import_figures(*, scale: float, seed: int) -> tuple[list[Figure], dict]:
    """The import of a generated file (100,000 forecasts at scale 1.0), then the same again (a no-op)."""
    count = max(1_000, round(FORECASTS_AT_FULL_SCALE * min(scale, 1.0)))
    text, rows = import_file_build(forecasts=count, seed=seed, now=timezone.now().astimezone(UTC))
    owner, _ = get_user_model().objects.get_or_create(
        username="bench-importer", defaults={"is_superuser": True, "is_staff": True}
    )
    began = time.perf_counter()
    report = forecasts_import(text=text, fmt="csv", owner=owner)
    import_seconds = time.perf_counter() - began
    began = time.perf_counter()
    again = forecasts_import(text=text, fmt="csv", owner=owner)
    again_seconds = time.perf_counter() - began
    if report.errors or report.forecasts_created != count or again.forecasts_created:
        raise RuntimeError(f"the import went wrong: {report.summary()} / then {again.summary()}")
    baseline = copy_baseline_seconds(rows)
    questions = count // FORECASTS_PER_QUESTION
    figures = [
        Figure(f"import {count:,} forecasts on {questions:,} questions (generic CSV)", import_seconds, "s",
               f"COPY of the same {count:,} rows into a scratch table", baseline, f"< {TARGET_SECONDS:g} s",
               import_seconds < TARGET_SECONDS,
               f"{report.scores_stored:,} scores, {report.users_created} users; the same file again: "
               f"{again_seconds:.1f} s, no change"),
    ]  # fmt: skip
    details = {
        "import_seconds": import_seconds,
        "again_seconds": again_seconds,
        "copy_seconds": baseline,
        "summary": report.summary(),
    }
    return figures, details
