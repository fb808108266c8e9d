"""The sweep: everything that time makes due, found from database state and done in bulk.

Each step selects rows by state in batches, locks them with SELECT ... FOR UPDATE SKIP LOCKED
(PostgreSQL; SQLite's IMMEDIATE transactions serialize writers instead), writes the whole
batch with a constant number of queries and commits. A second sweep running at the same time
skips the rows the first one holds, a rerun finds nothing left to do, and the notifications'
unique (user, channel, dedupe_key) constraint is the last line against duplicates. A worker
killed mid-sweep loses only its open batch, which rolls back and is found again next time.

Reminder rounds count from the close: round 0 at the close ("ready to resolve"), then after
REMINDER_DAYS (1, 3, 7 days), then every REMINDER_REPEAT_DAYS. `Question.reminder_round` is
the next round to send and `next_reminder_at` when it is due. A sweep that runs late (after
downtime) sends only the latest round due and schedules the one after it: never a burst.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import F, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from forecasts.models import LatestForecast, Notification, Question
from forecasts.services.deliveries import webhook_deliveries_due
from forecasts.services.scores import stale_scores_recompute
from forecasts.services.notifications import (
    closing_soon_message,
    escalation_message,
    key_moment,
    notifications_create,
    ready_to_resolve_message,
    reminder_message,
    resolutions_notify,
)

logger = logging.getLogger(__name__)

MAX_BATCHES_PER_STEP = 100_000


@dataclass
class SweepReport:
    now: datetime
    closed: list[int] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)
    webhook_deliveries: list[int] = field(default_factory=list)
    rescored: list[int] = field(default_factory=list)
    failed_steps: list[str] = field(default_factory=list)

    def summary(self) -> dict:
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


def reminder_offset(round_number: int) -> timedelta:
    """How long after the close reminder round `round_number` is due."""
    days = settings.FOREWARN["REMINDER_DAYS"]
    if round_number < len(days):
        return timedelta(days=days[round_number])
    extra_rounds = round_number - len(days) + 1
    return timedelta(days=days[-1] + extra_rounds * settings.FOREWARN["REMINDER_REPEAT_DAYS"])


def reminder_round_due(elapsed: timedelta) -> int:
    """The latest reminder round due `elapsed` after the close; -1 when none is due yet."""
    days = settings.FOREWARN["REMINDER_DAYS"]
    last_listed = timedelta(days=days[-1])
    if elapsed >= last_listed:
        repeat = timedelta(days=settings.FOREWARN["REMINDER_REPEAT_DAYS"])
        return len(days) - 1 + int((elapsed - last_listed) // repeat)
    return max((index for index, day in enumerate(days) if timedelta(days=day) <= elapsed), default=-1)


def in_locked_batches(queryset: QuerySet, handle: Callable[[list], list], *, batch_size: int) -> list:
    """Lock up to `batch_size` rows at a time, skipping rows another sweep holds, and let `handle`
    write them in the same transaction; `handle` must make the rows no longer match the queryset."""
    results = []
    pause = settings.FOREWARN["SWEEP_BATCH_DELAY_SECONDS"]
    for _ in range(MAX_BATCHES_PER_STEP):
        with transaction.atomic():
            rows = list(queryset.select_for_update(skip_locked=True, of=("self",))[:batch_size])
            if rows:
                results.extend(handle(rows))
                if pause:
                    time.sleep(pause)  # test-only: holds the batch open so a kill lands inside it
        if len(rows) < batch_size:
            break
    return results


def questions_close_due(*, now: datetime, batch_size: int) -> list[int]:
    """Close every open question whose window has ended; `closed_at` is the window's end.

    The window end, not the sweep's clock, is when the question closed: calibration and the
    reminder schedule then do not depend on how late the sweep ran. The first reminder round
    ("ready to resolve") is left due for `resolver_reminders_send`, which runs next.
    """

    def close(ids: list[int]) -> list[int]:
        Question.objects.filter(pk__in=ids, status=Question.Status.OPEN).update(
            status=Question.Status.AWAITING_RESOLUTION,
            closed_at=F("window_end"),
            next_reminder_at=F("window_end") + reminder_offset(0),
            reminder_round=0,
            next_escalation_at=F("resolve_by"),
            updated_at=now,
        )
        return ids

    due = Question.objects.due_to_close(now).order_by("window_end", "id").values_list("pk", flat=True)
    return in_locked_batches(due, close, batch_size=batch_size)


def reminder_schedule_save(questions: list[Question]) -> None:
    """Store each question's reminder round and next reminder time: one UPDATE per round, in SQL.

    The same values `bulk_update` would write (the close plus the round's offset), without the
    CASE over every row that made bulk_update most of the sweep's time.
    """
    by_round: dict[int, list[int]] = {}
    for question in questions:
        by_round.setdefault(question.reminder_round, []).append(question.pk)
    for round_number, ids in by_round.items():
        Question.objects.filter(pk__in=ids).update(
            reminder_round=round_number,
            next_reminder_at=Coalesce("closed_at", "window_end") + reminder_offset(round_number),
        )


def resolver_reminders_send(*, now: datetime, batch_size: int) -> list[Notification]:
    """Remind each resolver whose reminder is due: the latest round due only, then schedule the next.

    A question with no schedule (`next_reminder_at` empty: just re-armed) gets one now.
    """

    def remind(rows: list[Question]) -> list[Notification]:
        notifications = []
        for question in rows:
            closed_at = question.closed_at or question.window_end
            round_due = reminder_round_due(now - closed_at)
            if round_due >= question.reminder_round:
                first = question.reminder_round == 0
                notifications.append(
                    Notification(
                        user_id=question.owner_id,
                        question_id=question.pk,
                        kind=Notification.Kind.READY_TO_RESOLVE if first else Notification.Kind.REMINDER,
                        round=round_due,
                        dedupe_key=f"resolve:{question.pk}:{key_moment(closed_at)}:{round_due}",
                        message=(
                            ready_to_resolve_message(question)
                            if first
                            else reminder_message(question, closed_at=closed_at, now=now)
                        ),
                    )
                )
                question.reminder_round = round_due + 1
        reminder_schedule_save(rows)  # the next reminder time follows from the close and the round
        return notifications_create(notifications=notifications, now=now)

    due = (
        Question.objects.filter(status=Question.Status.AWAITING_RESOLUTION)
        .filter(Q(next_reminder_at__lte=now) | Q(next_reminder_at__isnull=True))
        .only("pk", "title", "owner_id", "window_end", "resolve_by", "closed_at", "reminder_round")
        .order_by("next_reminder_at", "id")
    )
    return in_locked_batches(due, remind, batch_size=batch_size)


def moderator_ids() -> list[int]:
    """Active superusers and holders of the moderate permission (the Editors group)."""
    moderate = Permission.objects.filter(codename="moderate_question", content_type__app_label="forecasts")
    return list(
        get_user_model()
        .objects.filter(is_active=True)
        .filter(Q(is_superuser=True) | Q(groups__permissions__in=moderate) | Q(user_permissions__in=moderate))
        .order_by("pk")
        .values_list("pk", flat=True)
        .distinct()
    )


def escalations_send(*, now: datetime, batch_size: int) -> list[Notification]:
    """Tell the moderators about each question past its resolve-by date, once a week until resolved."""
    repeat = timedelta(days=settings.FOREWARN["ESCALATION_REPEAT_DAYS"])
    recipients: list[int] | None = None

    def escalate(rows: list[Question]) -> list[Notification]:
        nonlocal recipients
        if recipients is None:
            recipients = moderator_ids()
            if not recipients:
                logger.warning("No active moderator to escalate %d overdue question(s) to.", len(rows))
        notifications = []
        questions_by_week: dict[int, list[int]] = {}
        for question in rows:
            week = int((now - question.resolve_by) // repeat)
            questions_by_week.setdefault(week, []).append(question.pk)
            for moderator_id in recipients:
                notifications.append(
                    Notification(
                        user_id=moderator_id,
                        question_id=question.pk,
                        kind=Notification.Kind.ESCALATION,
                        round=week,
                        dedupe_key=f"escalate:{question.pk}:{key_moment(question.resolve_by)}:{week}",
                        message=escalation_message(question),
                    )
                )
            question.next_escalation_at = question.resolve_by + repeat * (week + 1)
        # One UPDATE per week in SQL: the values bulk_update would write, without its CASE per row.
        for week, ids in questions_by_week.items():
            Question.objects.filter(pk__in=ids).update(next_escalation_at=F("resolve_by") + repeat * (week + 1))
        return notifications_create(notifications=notifications, now=now)

    due = (
        Question.objects.filter(status=Question.Status.AWAITING_RESOLUTION, resolve_by__lte=now)
        .filter(Q(next_escalation_at__isnull=True) | Q(next_escalation_at__lte=now))
        .select_related("owner")
        .only("pk", "title", "resolve_by", "next_escalation_at", "owner__username")
        .order_by("resolve_by", "id")
    )
    return in_locked_batches(due, escalate, batch_size=batch_size)


def closing_soon_notify(*, now: datetime, batch_size: int) -> list[Notification]:
    """Nudge each forecaster of a question closing within CLOSING_SOON_HOURS, once per window end."""
    lead = timedelta(hours=settings.FOREWARN["CLOSING_SOON_HOURS"])

    def nudge(rows: list[Question]) -> list[Notification]:
        by_id = {question.pk: question for question in rows}
        forecasters = (
            LatestForecast.objects.filter(question_id__in=by_id, forecaster__isnull=False, forecaster__is_active=True)
            .exclude(forecaster__forewarn_profile__closing_soon_opt_in=False)
            .values_list("question_id", "forecaster_id")
        )
        notifications = [
            Notification(
                user_id=forecaster_id,
                question_id=question_id,
                kind=Notification.Kind.CLOSING_SOON,
                dedupe_key=f"closing-soon:{question_id}:{key_moment(by_id[question_id].window_end)}",
                message=closing_soon_message(by_id[question_id]),
            )
            for question_id, forecaster_id in forecasters
        ]
        Question.objects.filter(pk__in=by_id).update(closing_soon_notified_for=F("window_end"))
        return notifications_create(notifications=notifications, now=now)

    due = (
        Question.objects.filter(status=Question.Status.OPEN, window_end__gt=now, window_end__lte=now + lead)
        .filter(Q(closing_soon_notified_for__isnull=True) | ~Q(closing_soon_notified_for=F("window_end")))
        .only("pk", "title", "window_end")
        .order_by("window_end", "id")
    )
    return in_locked_batches(due, nudge, batch_size=batch_size)


def lifecycle_sweep(*, now: datetime | None = None) -> SweepReport:
    """Run every step of the sweep once; a failing step is logged and the others still run."""
    now = now or timezone.now()
    batch_size = settings.FOREWARN["SWEEP_BATCH_SIZE"]
    report = SweepReport(now=now)
    steps = [
        ("close", questions_close_due, report.closed),
        ("remind", resolver_reminders_send, report.notifications),
        ("escalate", escalations_send, report.notifications),
        ("closing_soon", closing_soon_notify, report.notifications),
        ("scores", stale_scores_recompute, report.rescored),
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
