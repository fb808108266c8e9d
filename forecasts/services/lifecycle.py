"""The lifecycle: closing ended windows, and the sweep that runs everything time makes due.

The sweep runs every step once, each found from database state and done in locked batches
(`batches.py`): close ended windows here, then the reminders, escalations and nudges of
`reminders.py`, the forecast nudges of `nudges.py`, stale scores, and the resolution notices the broker missed. `lifecycle_run` is
the whole sequence (sweep, then digests, then webhooks) that beat runs every minute and
`manage.py sweep` runs once; only the way digests and webhooks are sent differs, and the caller
passes it in (beat queues one task per delivery, the command sends inline).
"""

import contextlib
import functools
import gc
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection
from django.db.models import Case, DurationField, F, IntegerField, QuerySet, Value, When
from django.db.models.expressions import RawSQL
from django.utils import timezone

from forecasts.access import row_user_may_see_column
from forecasts.models import Notification, Question, QuestionGroup
from forecasts.services.batches import in_batches, in_locked_batches
from forecasts.services.deliveries import DeliveryTally, webhook_deliveries_due
from forecasts.services.notifications import notifications_create
from forecasts.services.nudges import crowd_moves_nudge, nudges_arm, stale_forecasts_nudge
from forecasts.services.reminders import (
    closing_soon_notify,
    escalations_send,
    group_speakers,
    ready_to_resolve_notification,
    reminder_offset,
    reminder_round_due,
    resolutions_notify,
    resolver_reminders_send,
)
from forecasts.services.scores import crowd_calibration_stale, stale_scores_recompute

logger = logging.getLogger(__name__)


@dataclass
class SweepReport:
    """What one sweep did: the questions it closed and rescored, the notices it created."""

    now: datetime
    closed: list[int] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)
    webhook_deliveries: list[int] = field(default_factory=list)
    rescored: list[int] = field(default_factory=list)
    failed_steps: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        """The counts a task result or a log line carries."""
        kinds: dict[str, int] = {}
        for notification in self.notifications:
            kinds[notification.kind] = kinds.get(notification.kind, 0) + 1
        return {
            "closed": len(self.closed),
            "notifications": kinds,
            "webhook_deliveries": len(self.webhook_deliveries),
            "rescored": len(self.rescored),
            "failed_steps": self.failed_steps,
        }


@dataclass
class LifecycleRun:
    """A sweep and what became of the digests and webhooks after it."""

    report: SweepReport
    digests: DeliveryTally
    webhooks: DeliveryTally


def per_round(by_round: dict[int, list[int]], value_of, output_field):
    """SQL for `value_of(round)` of each row, given the ids in each round: a constant when the batch
    has one round (the usual case), else a CASE over the few distinct rounds, never one branch per row."""
    if len(by_round) == 1:
        return Value(value_of(next(iter(by_round))), output_field=output_field)
    whens = [When(pk__in=ids, then=Value(value_of(number))) for number, ids in by_round.items()]
    return Case(*whens, output_field=output_field)


class ClosingRow(NamedTuple):
    """What the close reads of each question it locks: plain values, no model instance per row."""

    pk: int
    title: str
    owner_id: int
    window_end: datetime
    resolve_by: datetime
    group_id: int | None
    owner_may_see: bool


# PostgreSQL: lock a batch and close it in one statement. `{due}` is the locking SELECT (ids, the
# owner's visibility and each row's new round); the rounds' offsets come in as an interval array.
# The id array lets the planner reach the batch by primary key rather than hash the whole table.
CLOSE_SQL = """
    WITH due AS ({due})
    UPDATE forecasts_question AS question SET
        status = %s, closed_at = question.window_end, reminder_round = due.new_round,
        next_reminder_at = question.window_end + (%s::interval[])[due.new_round + 1],
        next_escalation_at = question.resolve_by, updated_at = %s
    FROM due
    WHERE question.id = due.id AND question.id = ANY(ARRAY(SELECT id FROM due))
    RETURNING question.id, question.title, question.owner_id,
        (extract(epoch FROM question.window_end) * 1000000)::bigint,
        (extract(epoch FROM question.resolve_by) * 1000000)::bigint,
        question.group_id, due.owner_may_see, question.reminder_round
"""
# The two moments come back as microseconds since the epoch: exact, and an integer is read in a
# fraction of the time psycopg takes to parse an ISO timestamp (20,000 of them in a large close).
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def questions_close_due(
    *, now: datetime, batch_size: int, notifications: list[Notification] | None = None
) -> list[int]:
    """Close every open question whose window has ended, and send its first reminder round.

    `closed_at` is the window's end, not the sweep's clock: calibration and the reminder schedule
    then do not depend on how late the sweep ran. The owner's "ready to resolve" notice (the latest
    round due since the close, as `resolver_reminders_send` would send it) is created in the same
    batch, and the row is written once: its status, close, round and next reminder in one UPDATE
    (on PostgreSQL the same statement as the lock). The notices created are appended to `notifications`.
    """
    due = row_user_may_see_column(
        Question.objects.due_to_close(now), name="owner_may_see", user="owner_id", question=""
    ).order_by("window_end", "id")

    def notify(rows: list[ClosingRow], new_round: dict[int, int]) -> list[int]:
        group_ids = {row.group_id for row in rows if row.group_id is not None}
        if group_ids:  # a group whose members closed waits for its resolution too
            QuestionGroup.objects.filter(pk__in=group_ids).statuses_sync()
        speakers = group_speakers(rows, now=now)  # a group speaks through its first member due
        ready = [
            ready_to_resolve_notification(row, closed_at=row.window_end, round_due=new_round[row.pk] - 1)
            for row in rows
            if new_round[row.pk] >= 1 and row.owner_may_see and row.pk in speakers
        ]
        created = notifications_create(notifications=ready, now=now)
        if notifications is not None:
            notifications.extend(created)
        return list(new_round)

    def close(values: list[tuple]) -> list[int]:
        rows = [ClosingRow._make(row) for row in values]
        new_round = {row.pk: reminder_round_due(now - row.window_end) + 1 for row in rows}
        closed_rounds_save(Question.objects.filter(pk__in=new_round, status=Question.Status.OPEN), new_round, now=now)
        return notify(rows, new_round)

    if connection.vendor != "postgresql":
        return in_locked_batches(due.values_list(*ClosingRow._fields), close, batch_size=batch_size)

    oldest = due.values_list("window_end", flat=True).first()
    if oldest is None:
        return []
    # Round k is due once the window is reminder_offset(k) old: the new round of a row is one more
    # than the last k whose moment (now - offset) its window end has reached. No row is older than
    # the oldest, so the rounds that can be due are known before the batch.
    last_round = max(reminder_round_due(now - oldest), len(settings.FOREWARN["REMINDER_DAYS"]) - 1)
    moments = [now - reminder_offset(number) for number in range(last_round + 1)]
    offsets = [reminder_offset(number) for number in range(last_round + 2)]
    rounds = RawSQL(
        "SELECT COALESCE(MAX(due_round.position), 0) FROM unnest(%s::timestamptz[]) WITH ORDINALITY"
        " AS due_round (moment, position) WHERE forecasts_question.window_end <= due_round.moment",
        [moments],
    )

    statement: list = []  # compiled in the first batch (a locking query compiles only in a transaction)

    def take(size: int) -> list[tuple]:
        if not statement:
            locked = due.annotate(new_round=rounds).values("id", "owner_may_see", "new_round")
            sql, params = locked.select_for_update(skip_locked=True, of=("self",))[:size].query.sql_with_params()
            statement.extend(
                [CLOSE_SQL.format(due=sql), [*params, Question.Status.AWAITING_RESOLUTION.value, offsets, now]]
            )
        with connection.cursor() as cursor:
            cursor.execute(*statement)
            return cursor.fetchall()

    def close_returned(values: list[tuple]) -> list[int]:
        rows = [
            ClosingRow(
                pk,
                title,
                owner_id,
                EPOCH + timedelta(microseconds=window_end),
                EPOCH + timedelta(microseconds=resolve_by),
                group_id,
                owner_may_see,
            )
            for pk, title, owner_id, window_end, resolve_by, group_id, owner_may_see, _ in values
        ]
        new_round = {row.pk: value[-1] for row, value in zip(rows, values, strict=True)}
        # A window older than `oldest` (a question reopened meanwhile) may be due a later round than
        # the statement knew of: store its round as the portable path does.
        older = [row for row in rows if row.window_end < oldest]
        wrong = {row.pk: reminder_round_due(now - row.window_end) + 1 for row in older}
        wrong = {pk: number for pk, number in wrong.items() if number != new_round[pk]}
        if wrong:
            closed_rounds_save(Question.objects.filter(pk__in=wrong), wrong, now=now)
            new_round |= wrong
        return notify(rows, new_round)

    return in_batches(take, close_returned, batch_size=batch_size)


def closed_rounds_save(questions: QuerySet, new_round: dict[int, int], *, now: datetime) -> None:
    """Store `questions` as closed with their reminder rounds (`new_round` by pk): one UPDATE, a
    CASE only over the few distinct rounds."""
    by_round: dict[int, list[int]] = {}
    for pk, number in new_round.items():
        by_round.setdefault(number, []).append(pk)
    questions.update(
        status=Question.Status.AWAITING_RESOLUTION,
        closed_at=F("window_end"),
        next_reminder_at=F("window_end") + per_round(by_round, reminder_offset, DurationField()),
        reminder_round=per_round(by_round, lambda number: number, IntegerField()),
        next_escalation_at=F("resolve_by"),
        updated_at=now,
    )


@contextlib.contextmanager
def garbage_collection_paused() -> Iterator[None]:
    """No cyclic garbage collection inside the block (unless it was off already).

    A large close allocates tens of thousands of rows and notices, enough to set off a collection
    of the oldest generation, which walks every object of a process with Django loaded (about
    130 ms) to find no cycles: the sweep's objects die by reference count. The cycles it does
    leave are collected after the block, as they would have been.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def lifecycle_sweep(*, now: datetime | None = None) -> SweepReport:
    """Run every step of the sweep once; a failing step is logged and the others still run."""
    with garbage_collection_paused():
        return sweep_steps_run(now=now or timezone.now())


def sweep_steps_run(*, now: datetime) -> SweepReport:
    """The sweep's steps, in order, then the webhook deliveries they made due."""
    batch_size = settings.FOREWARN["SWEEP_BATCH_SIZE"]
    report = SweepReport(now=now)
    steps = [
        ("close", functools.partial(questions_close_due, notifications=report.notifications), report.closed),
        ("remind", resolver_reminders_send, report.notifications),
        ("escalate", escalations_send, report.notifications),
        ("closing_soon", closing_soon_notify, report.notifications),
        # Nudges: arm from the standing forecasts first, so a new forecast re-arms before the checks.
        ("nudges_arm", nudges_arm, report.notifications),
        ("stale", stale_forecasts_nudge, report.notifications),
        ("crowd_moved", crowd_moves_nudge, report.notifications),
        ("scores", stale_scores_recompute, report.rescored),
        ("crowd_factor", crowd_calibration_stale, []),
        ("resolved", resolutions_notify, report.notifications),
    ]
    for name, step, results in steps:
        try:
            results.extend(step(now=now, batch_size=batch_size))
        except (OperationalError, InterfaceError):
            raise
        except Exception:
            logger.exception("Sweep step %s failed; the next sweep retries it.", name)
            report.failed_steps.append(name)
    report.webhook_deliveries = webhook_deliveries_due(now=now)
    return report


def lifecycle_run(
    *,
    digests_deliver: Callable[..., DeliveryTally],
    webhooks_deliver: Callable[..., DeliveryTally],
    now: datetime | None = None,
) -> LifecycleRun:
    """Sweep, then send the digests, then the webhooks the sweep found due: beat's work each
    minute (`digests_tick_queue`, `webhooks_queue`) and `manage.py sweep`'s once
    (`digests_deliver_inline`, `webhooks_deliver_inline`)."""
    report = lifecycle_sweep(now=now)
    digests = digests_deliver(now=report.now, anyone_notified=bool(report.notifications))
    webhooks = webhooks_deliver(delivery_ids=report.webhook_deliveries)
    return LifecycleRun(report=report, digests=digests, webhooks=webhooks)
