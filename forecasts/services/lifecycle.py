"""The lifecycle: closing ended windows, and the sweep that runs everything time makes due.

The sweep runs every step once, each found from database state and done in locked batches
(`batches.py`): close ended windows here, then the reminders, escalations and nudges of
`reminders.py`, the forecast nudges of `nudges.py`, stale scores, and the resolution notices the broker missed. `lifecycle_run` is
the whole sequence (sweep, then digests, then webhooks) that beat runs every minute and
`manage.py sweep` runs once; only the way digests and webhooks are sent differs, and the caller
passes it in (beat queues one task per delivery, the command sends inline).
"""

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.db.models import Case, DurationField, F, IntegerField, Value, When
from django.utils import timezone

from forecasts.access import row_user_may_see_column
from forecasts.models import Notification, Question
from forecasts.services.batches import in_locked_batches
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


def questions_close_due(
    *, now: datetime, batch_size: int, notifications: list[Notification] | None = None
) -> list[int]:
    """Close every open question whose window has ended, and send its first reminder round.

    `closed_at` is the window's end, not the sweep's clock: calibration and the reminder schedule
    then do not depend on how late the sweep ran. The owner's "ready to resolve" notice (the latest
    round due since the close, as `resolver_reminders_send` would send it) is created in the same
    batch, and the row is written once: its status, close, round and next reminder in one UPDATE.
    The notices created are appended to `notifications`.
    """

    def close(rows: list[Question]) -> list[int]:
        new_round = {question.pk: reminder_round_due(now - question.window_end) + 1 for question in rows}
        by_round: dict[int, list[int]] = {}
        for pk, number in new_round.items():
            by_round.setdefault(number, []).append(pk)
        Question.objects.filter(pk__in=new_round, status=Question.Status.OPEN).update(
            status=Question.Status.AWAITING_RESOLUTION,
            closed_at=F("window_end"),
            next_reminder_at=F("window_end") + per_round(by_round, reminder_offset, DurationField()),
            reminder_round=per_round(by_round, lambda number: number, IntegerField()),
            next_escalation_at=F("resolve_by"),
            updated_at=now,
        )
        speakers = group_speakers(rows, now=now)  # a group speaks through its first member due
        ready = [
            ready_to_resolve_notification(question, closed_at=question.window_end, round_due=new_round[question.pk] - 1)
            for question in rows
            if new_round[question.pk] >= 1 and question.owner_may_see and question.pk in speakers
        ]
        created = notifications_create(notifications=ready, now=now)
        if notifications is not None:
            notifications.extend(created)
        return list(new_round)

    due = row_user_may_see_column(
        Question.objects.due_to_close(now).only("pk", "title", "owner_id", "window_end", "resolve_by", "group_id"),
        name="owner_may_see",
        user="owner_id",
        question="",
    ).order_by("window_end", "id")
    return in_locked_batches(due, close, batch_size=batch_size)


def lifecycle_sweep(*, now: datetime | None = None) -> SweepReport:
    """Run every step of the sweep once; a failing step is logged and the others still run."""
    now = now or timezone.now()
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
