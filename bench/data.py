"""The synthetic data set: questions, forecasters with skill, forecasts, and everything derived.

Everything is generated with numpy from one seed and loaded with PostgreSQL COPY. Derived rows
are built in bulk by the services' own code, so they are what the services would leave: the
standing forecasts, counts and crowd medians by `crowd_rebuild` (forecasts/services/crowd.py, the
median forecast submission maintains), scores by the pure function `scores_from_forecasts` over
the forecasts already in memory (no query per question), then COPY.
"""

import math
import multiprocessing
import time
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
from django.contrib.auth.models import Group
from django.db import DatabaseError, connection

from forecasts.models import PROBABILITY_MAX, PROBABILITY_MIN, CrowdHidden, Question, QuestionKind
from forecasts.services import (
    closing_aggregates_rebuild,
    crowd_rebuild,
    question_tally_rebuild,
    score_rollup_rebuild,
    scores_from_forecasts,
)

DAY_US = 86_400 * 1_000_000
BASE_RATE = 0.35
HEAVY_SHARE = 0.4  # of all questions, the heavy forecaster forecasts on this share
TAG_NAMES = [f"region-{index}" for index in range(10)]
SCORE_COLUMNS = [
    "question_id",
    "forecaster_id",
    "source_id",
    "forecast_id",
    "probability",
    "outcome",
    "brier",
    "log_loss",
    "time_averaged_brier",
    "coverage",
    "relative_brier",
    "forecast_count",
    "scored_until",
    "question_kind",
    "team_id",
    "resolved_at",
    "window_end",
    "phrase",
    "yardstick",
    "confidence",
    "made_at",
    "computed_at",
]


@dataclass(frozen=True)
class Sizes:
    questions: int
    resolved: int
    forecasters: int
    forecasts: int
    owners: int

    @classmethod
    def for_scale(cls, scale: float) -> "Sizes":
        """1.0: 20,000 questions (80% resolved), 2,000 forecasters, 1,000,000 forecasts."""
        questions = max(100, round(20_000 * scale))
        return cls(
            questions=questions,
            resolved=round(0.8 * questions),
            forecasters=max(20, round(2_000 * scale)),
            forecasts=max(2_000, round(1_000_000 * scale)),
            owners=max(2, round(20 * scale)),
        )


@dataclass
class BenchData:
    """What the measurements need to know about the loaded data set."""

    sizes: Sizes
    now: datetime
    moderator_id: int
    heavy_id: int
    forecaster_ids: np.ndarray
    owner_ids: list[int]
    tokens: dict[int, str]
    open_question_ids: np.ndarray
    forecast_total: int
    pair_total: int
    heavy_resolved_pairs: int
    score_total: int
    timings: dict[str, float] = field(default_factory=dict)


def iso(microseconds: np.ndarray) -> np.ndarray:
    """Epoch microseconds as ISO 8601 UTC strings, for COPY."""
    return np.datetime_as_string(microseconds.astype("datetime64[us]"), unit="us", timezone="UTC")


def copy_rows(table: str, columns: list[str], rows) -> None:
    """COPY rows (tuples in column order, None for NULL) into a table."""
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)


def copy_text(table: str, columns: list[str], chunks) -> None:
    """COPY already formatted text (tab-separated lines, \\N for NULL) into a table."""
    with connection.cursor() as cursor:
        # The rows are consistent by construction: skip the per-row foreign key triggers. Only a
        # superuser may; anyone else loads a little slower with the triggers on.
        with suppress(DatabaseError):
            cursor.execute("SET session_replication_role = replica")
        try:
            with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for chunk in chunks:
                    copy.write(chunk)
        finally:
            cursor.execute("RESET session_replication_role")


def copy_value(value) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def copy_line(values) -> str:
    return "\t".join(copy_value(value) for value in values) + "\n"


@contextmanager
def indexes_dropped(table: str):
    """Drop the table's secondary indexes for a bulk load and build them again afterwards.

    Building an index once over a million rows is several times faster than maintaining ten of
    them row by row. Indexes behind constraints (the primary key, unique constraints) stay.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT index.indexname, index.indexdef FROM pg_indexes AS index
            WHERE index.tablename = %s AND NOT EXISTS (
                SELECT 1 FROM pg_constraint WHERE pg_constraint.conname = index.indexname)
            """,
            [table],
        )
        definitions = cursor.fetchall()
        for name, _ in definitions:
            cursor.execute(f'DROP INDEX "{name}"')
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            for _, definition in definitions:
                cursor.execute(definition)


def sequences_reset(tables: list[str]) -> None:
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE(MAX(id), 1)) FROM {table}")


def logistic(values: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-values))


def users_load(rng: np.random.Generator, sizes: Sizes, now_us: int) -> tuple[int, int, np.ndarray, list[int], dict]:
    """A moderator, question owners, and forecasters (the first one heavy) with API tokens."""
    joined = iso(np.array([now_us - 800 * DAY_US]))[0]
    moderator_id = 1
    owner_ids = list(range(2, 2 + sizes.owners))
    forecaster_ids = np.arange(2 + sizes.owners, 2 + sizes.owners + sizes.forecasters)
    rows = [(moderator_id, "!", True, "bench-moderator", "", "", "", True, True, joined)]
    rows += [(user_id, "!", False, f"bench-owner-{user_id}", "", "", "", True, True, joined) for user_id in owner_ids]
    rows += [
        (int(user_id), "!", False, f"bench-forecaster-{user_id}", "", "", "", True, True, joined)
        for user_id in forecaster_ids
    ]
    copy_rows(
        "auth_user",
        [
            "id",
            "password",
            "is_superuser",
            "username",
            "first_name",
            "last_name",
            "email",
            "is_staff",
            "is_active",
            "date_joined",
        ],
        rows,
    )
    forecasters_group = Group.objects.get(name="Forecasters").pk
    members = owner_ids + [int(user_id) for user_id in forecaster_ids]
    copy_rows("auth_user_groups", ["user_id", "group_id"], [(user_id, forecasters_group) for user_id in members])
    tokens = {user_id: rng.bytes(20).hex() for user_id in members}
    copy_rows(
        # Issued now: an API token stops working FOREWARN_API_TOKEN_MAX_AGE_DAYS after it was issued.
        "authtoken_token",
        ["key", "user_id", "created"],
        [(key, user_id, iso(np.array([now_us]))[0]) for user_id, key in tokens.items()],
    )
    copy_rows(
        "forecasts_team",
        ["id", "name", "crowd_method", "crowd_hidden_default", "created_at"],
        [(1, "Crisis cell", "median", CrowdHidden.NEVER, joined)],
    )
    copy_rows(
        "forecasts_teammembership",
        ["team_id", "user_id", "joined_at"],
        [(1, user_id, joined) for user_id in members],
    )
    copy_rows("forecasts_tag", ["id", "name"], [(index + 1, name) for index, name in enumerate(TAG_NAMES)])
    sequences_reset(["auth_user", "forecasts_team", "forecasts_tag"])
    return moderator_id, int(forecaster_ids[0]), forecaster_ids, owner_ids, tokens


@dataclass
class QuestionArrays:
    ids: np.ndarray
    resolved: np.ndarray
    outcome: np.ndarray  # the true outcome; open questions have one too, unknown to anybody
    window_start: np.ndarray
    window_end: np.ndarray
    resolved_at: np.ndarray
    kind: np.ndarray
    team_id: np.ndarray


def questions_load(
    rng: np.random.Generator, sizes: Sizes, now_us: int, owner_ids: list[int], moderator_id: int
) -> QuestionArrays:
    """Resolved questions with windows over the last two years; open ones ending within six months."""
    count = sizes.questions
    ids = np.arange(1, count + 1)
    resolved = np.zeros(count, dtype=bool)
    resolved[rng.choice(count, sizes.resolved, replace=False)] = True
    outcome = (rng.random(count) < BASE_RATE).astype(np.int64)
    window_end = np.where(
        resolved,
        now_us - rng.integers(5 * DAY_US, 730 * DAY_US, count),
        now_us + rng.integers(2 * DAY_US, 180 * DAY_US, count),
    )
    window_start = np.where(
        resolved,
        window_end - rng.integers(14 * DAY_US, 120 * DAY_US, count),
        now_us - rng.integers(1 * DAY_US, 90 * DAY_US, count),
    )
    resolved_at = window_end + rng.integers(0, 3 * DAY_US, count)
    resolve_by = window_end + 3 * DAY_US
    kinds = np.array(QuestionKind.values)
    kind = kinds[rng.integers(0, len(kinds), count)]
    team_id = np.where(rng.random(count) < 0.1, 1, 0)
    owner = np.array(owner_ids)[rng.integers(0, len(owner_ids), count)]
    start_text, end_text, resolve_by_text, resolved_text = map(iso, (window_start, window_end, resolve_by, resolved_at))
    now_text = iso(np.array([now_us]))[0]
    columns = [
        "id", "title", "external_key", "details", "resolution_criteria", "kind", "owner_id", "team_id",
        "source_quote", "source_url", "window_start", "window_end", "resolve_by", "status", "outcome",
        "resolved_at", "resolved_by_id", "created_at", "updated_at", "opened_at", "closed_at",
        "reminder_round", "forecast_count", "forecaster_count", "crowd_hidden", "option_label",
    ]  # fmt: skip

    def rows():
        for index in range(count):
            done = bool(resolved[index])
            yield (
                int(ids[index]),
                f"Bench question {ids[index]}: will escalation step {ids[index]} happen within the window?",
                "",
                "",
                "Resolves YES if the step is reported by two independent outlets within the window.",
                str(kind[index]),
                int(owner[index]),
                int(team_id[index]) or None,
                "",
                "",
                start_text[index],
                end_text[index],
                resolve_by_text[index],
                Question.Status.RESOLVED if done else Question.Status.OPEN,
                ("yes" if outcome[index] else "no") if done else "",
                resolved_text[index] if done else None,
                moderator_id if done else None,
                start_text[index],
                resolved_text[index] if done else now_text,
                start_text[index],
                end_text[index] if done else None,
                0,
                0,
                0,
                CrowdHidden.NEVER,
                "",
            )

    copy_rows("forecasts_question", columns, rows())
    copy_rows(
        "forecasts_question_tags",
        ["question_id", "tag_id"],
        [(int(question_id), int(question_id) % len(TAG_NAMES) + 1) for question_id in ids],
    )
    sequences_reset(["forecasts_question"])
    return QuestionArrays(ids, resolved, outcome, window_start, window_end, resolved_at, kind, team_id)


@dataclass
class ForecastArrays:
    ids: np.ndarray
    question_index: np.ndarray
    forecaster_id: np.ndarray
    made_at: np.ndarray
    probability: np.ndarray


def forecasts_generate(
    rng: np.random.Generator, sizes: Sizes, now_us: int, questions: QuestionArrays, forecaster_ids: np.ndarray
) -> tuple[ForecastArrays, int]:
    """Forecasts by skilled and unskilled forecasters; ids follow the time they were made."""
    count = sizes.questions
    target_pairs = sizes.forecasts // 2
    heavy_questions = np.flatnonzero(rng.random(count) < HEAVY_SHARE)
    others_per_question = rng.poisson(max(1.0, (target_pairs - heavy_questions.size) / count), count) + 1
    activity = rng.lognormal(0.0, 1.0, forecaster_ids.size - 1)
    other_authors = rng.choice(
        np.arange(1, forecaster_ids.size), others_per_question.sum(), p=activity / activity.sum()
    )
    pair_question = np.concatenate([heavy_questions, np.repeat(np.arange(count), others_per_question)])
    pair_author = np.concatenate([np.zeros(heavy_questions.size, dtype=np.int64), other_authors])
    unique_pairs = np.unique(pair_question * forecaster_ids.size + pair_author)
    pair_question, pair_author = np.divmod(unique_pairs, forecaster_ids.size)
    pairs = unique_pairs.size
    extra = max(0, sizes.forecasts - pairs)
    per_pair = 1 + rng.multinomial(extra, np.full(pairs, 1.0 / pairs)) if extra else np.ones(pairs, dtype=np.int64)
    if pairs > sizes.forecasts:  # a tiny scale: fewer forecasts than pairs drawn
        per_pair = np.ones(pairs, dtype=np.int64)
    question_index = np.repeat(pair_question, per_pair)
    author = np.repeat(pair_author, per_pair)
    start = questions.window_start[question_index]
    end = np.minimum(questions.window_end[question_index], now_us)
    made_at = start + np.floor(rng.random(question_index.size) * (end - start)).astype(np.int64)
    skill = rng.beta(2.0, 2.0, forecaster_ids.size)
    skill[0] = 0.8
    signal = 2 * questions.outcome[question_index] - 1
    # Skill shows more as the window runs out: a forecast late in the window knows more.
    progress = (made_at - start) / np.maximum(end - start, 1)
    logit = math.log(BASE_RATE / (1 - BASE_RATE)) + 2.5 * skill[author] * signal * (0.4 + progress)
    probability = np.round(logit_to_probability(logit + rng.normal(0.0, 1.0, question_index.size)), 3)
    order = np.argsort(made_at, kind="stable")
    forecasts = ForecastArrays(
        ids=np.arange(1, question_index.size + 1),
        question_index=question_index[order],
        forecaster_id=forecaster_ids[author[order]],
        made_at=made_at[order],
        probability=probability[order],
    )
    return forecasts, pairs


def logit_to_probability(logit: np.ndarray) -> np.ndarray:
    return np.clip(logistic(logit), PROBABILITY_MIN, PROBABILITY_MAX)


def forecasts_load(forecasts: ForecastArrays, questions: QuestionArrays, *, chunk_rows: int = 100_000) -> None:
    """COPY the forecasts as text, formatted a chunk at a time (a write per row is several times slower)."""
    made_text = iso(forecasts.made_at).tolist()
    question_ids = questions.ids[forecasts.question_index].tolist()
    forecaster_ids = forecasts.forecaster_id.tolist()
    probabilities = forecasts.probability.tolist()
    forecast_ids = forecasts.ids.tolist()
    columns = [
        "id", "question_id", "forecaster_id", "recorded_by_id", "made_at", "recorded_at", "probability",
        "phrase", "yardstick", "confidence", "rationale", "quote", "url",
    ]  # fmt: skip

    def chunks():
        for first in range(0, len(forecast_ids), chunk_rows):
            yield "".join(
                f"{forecast_ids[index]}\t{question_ids[index]}\t{forecaster_ids[index]}\t{forecaster_ids[index]}\t"
                f"{made_text[index]}\t{made_text[index]}\t{probabilities[index]}\t\t\t\t\t\t\n"
                for index in range(first, min(first + chunk_rows, len(forecast_ids)))
            )

    with indexes_dropped("forecasts_forecast"):
        copy_text("forecasts_forecast", columns, chunks())
    sequences_reset(["forecasts_forecast"])


def derived_rows_build(moderator_id: int) -> None:
    """Standing forecasts and question aggregates (the service's bulk rebuild), then resolution events."""
    with indexes_dropped("forecasts_latestforecast"):
        crowd_rebuild()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO forecasts_resolutionevent (question_id, action, outcome, previous_status, previous_outcome,
                actor_id, created_at, evidence_url, note, notified_at)
            SELECT id, 'resolve', outcome, 'awaiting_resolution', '', %s, resolved_at, '', '', resolved_at
            FROM forecasts_question WHERE status = 'resolved'
            """,
            [moderator_id],
        )


def as_datetimes(microseconds: np.ndarray) -> list[datetime]:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return [epoch + timedelta(microseconds=value) for value in microseconds.tolist()]


@dataclass
class ScoreInput:
    """The resolved questions' forecasts, grouped by question, as plain Python values."""

    questions: list[Question]
    spans: list[tuple[int, int]]
    forecasts: list[dict]


# Set before the worker processes fork, so they inherit it instead of receiving it pickled.
_score_input: ScoreInput | None = None


def score_lines(span_range: tuple[int, int]) -> str:
    """COPY text of the scores of questions span_range[0]..span_range[1] (runs in a worker process)."""
    lines = []
    for position in range(*span_range):
        start, end = _score_input.spans[position]
        question = _score_input.questions[position]
        computed = scores_from_forecasts(question, _score_input.forecasts[start:end], computed_at=question.updated_at)
        lines.extend(copy_line(getattr(score, column) for column in SCORE_COLUMNS) for score in computed)
    return "".join(lines)


def scores_build(forecasts: ForecastArrays, questions: QuestionArrays, now: datetime, *, processes: int = 2) -> int:
    """Scores of every resolved question by the service's pure function, then COPY; returns how many.

    The same function `question_scores_recompute` calls, fed from the arrays in memory instead
    of one query per question, on `processes` worker processes.
    """
    global _score_input
    resolved_mask = questions.resolved[forecasts.question_index]
    index = np.flatnonzero(resolved_mask)
    # Forecasts are in id order already; a stable sort by question keeps (made_at, id) within each.
    index = index[np.argsort(forecasts.question_index[index], kind="stable")]
    question_of = forecasts.question_index[index]
    made_at = as_datetimes(forecasts.made_at[index])
    ids = forecasts.ids[index].tolist()
    authors = forecasts.forecaster_id[index].tolist()
    probabilities = forecasts.probability[index].tolist()
    rows = [
        {"id": ids[row], "forecaster_id": authors[row], "source_id": None, "made_at": made_at[row],
         "probability": probabilities[row], "phrase": "", "yardstick": ""}
        for row in range(index.size)
    ]  # fmt: skip
    boundaries = np.flatnonzero(np.diff(question_of)) + 1
    starts = np.concatenate([[0], boundaries]).astype(int).tolist()
    ends = np.concatenate([boundaries, [index.size]]).astype(int).tolist()
    window_starts = as_datetimes(questions.window_start)
    window_ends = as_datetimes(questions.window_end)
    resolved_ats = as_datetimes(questions.resolved_at)
    scored = []
    for start in starts:
        position = int(question_of[start])
        scored.append(
            Question(
                pk=int(questions.ids[position]),
                status=Question.Status.RESOLVED,
                outcome="yes" if questions.outcome[position] else "no",
                kind=str(questions.kind[position]),
                team_id=int(questions.team_id[position]) or None,
                opened_at=window_starts[position],
                window_end=window_ends[position],
                closed_at=window_ends[position],
                resolved_at=resolved_ats[position],
                updated_at=now,
            )
        )
    _score_input = ScoreInput(questions=scored, spans=list(zip(starts, ends, strict=False)), forecasts=rows)
    chunk = max(1, len(scored) // (processes * 8))
    ranges = [(first, min(first + chunk, len(scored))) for first in range(0, len(scored), chunk)]
    try:
        if processes > 1 and len(ranges) > 1:
            with multiprocessing.get_context("fork").Pool(processes) as pool:
                texts = pool.map(score_lines, ranges)
        else:
            texts = [score_lines(span_range) for span_range in ranges]
    finally:
        _score_input = None
    with indexes_dropped("forecasts_score"):
        copy_text("forecasts_score", SCORE_COLUMNS, texts)
    return sum(text.count("\n") for text in texts)


def dataset_load(*, scale: float, seed: int, now: datetime, log=print) -> BenchData:
    """Generate and load the whole data set into the current (bench) database."""
    sizes = Sizes.for_scale(scale)
    rng = np.random.default_rng(seed)
    now_us = int(now.timestamp() * 1_000_000)
    timings = {}
    began = time.perf_counter()
    moderator_id, heavy_id, forecaster_ids, owner_ids, tokens = users_load(rng, sizes, now_us)
    questions = questions_load(rng, sizes, now_us, owner_ids, moderator_id)
    forecasts, pairs = forecasts_generate(rng, sizes, now_us, questions, forecaster_ids)
    timings["generate_users_questions"] = time.perf_counter() - began
    step = time.perf_counter()
    forecasts_load(forecasts, questions)
    timings["copy_forecasts"] = time.perf_counter() - step
    step = time.perf_counter()
    derived_rows_build(moderator_id)
    timings["standing_and_aggregates_sql"] = time.perf_counter() - step
    step = time.perf_counter()
    score_total = scores_build(forecasts, questions, now)
    timings["scores"] = time.perf_counter() - step
    step = time.perf_counter()
    closing_aggregates_rebuild()
    timings["closing_aggregates"] = time.perf_counter() - step
    step = time.perf_counter()
    score_rollup_rebuild()  # the COPY ran with triggers off: the calibration rollup, as recompute_scores builds it
    question_tally_rebuild()  # and the question tally the list counts with
    timings["calibration_rollup"] = time.perf_counter() - step
    step = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    timings["analyze"] = time.perf_counter() - step
    timings["total"] = time.perf_counter() - began
    heavy_mask = (forecasts.forecaster_id == heavy_id) & questions.resolved[forecasts.question_index]
    heavy_resolved_pairs = int(np.unique(forecasts.question_index[heavy_mask]).size)
    log(
        f"loaded {sizes.questions:,} questions ({sizes.resolved:,} resolved), {sizes.forecasters:,} forecasters, "
        f"{forecasts.ids.size:,} forecasts ({pairs:,} author-question pairs), {score_total:,} scores "
        f"in {timings['total']:.1f} s"
        f" (forecast COPY {timings['copy_forecasts']:.1f} s, aggregates {timings['standing_and_aggregates_sql']:.1f} s,"
        f" scores {timings['scores']:.1f} s, calibration rollup {timings['calibration_rollup']:.1f} s)"
    )
    return BenchData(
        sizes=sizes,
        now=now,
        moderator_id=moderator_id,
        heavy_id=heavy_id,
        forecaster_ids=forecaster_ids,
        owner_ids=owner_ids,
        tokens=tokens,
        open_question_ids=questions.ids[~questions.resolved],
        forecast_total=int(forecasts.ids.size),
        pair_total=pairs,
        heavy_resolved_pairs=heavy_resolved_pairs,
        score_total=score_total,
        timings=timings,
    )
