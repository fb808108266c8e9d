"""Who is reminded, nudged or told, and when: the notices the sweep and the resolutions create.

- Resolver reminders go to the owner. Rounds count from the close: round 0 at the close ("ready
  to resolve"), then after REMINDER_DAYS (1, 3, 7 days), then every REMINDER_REPEAT_DAYS.
  `Question.reminder_round` is the next round to send and `next_reminder_at` when it is due. A
  sweep that runs late (after downtime) sends only the latest round due and schedules the one
  after it: never a burst.
- Escalations go to the moderators once a week while a question is past its resolve-by date.
- Closing-soon nudges go to the question's forecasters CLOSING_SOON_HOURS before the window ends.
- A question group has one ladder, not one per member: of its members awaiting resolution, the
  first (lowest position) speaks for the group; the others' schedules move on silently. Every
  sweep asks the database who the first is, so concurrent sweeps holding different members
  agree, and the dedupe key (the speaker's) stays the one a lone question has.
- Resolution notices go to the question's forecasters, with their score, for the question's
  current resolution (`Question.current_resolution`).

Every recipient is checked with `access.row_user_may_see` when the notice is created (in SQL,
one query per batch), so nobody is told about a question they may not see; deliveries check
again when they send. Moderators see every question, so an escalation needs no further check.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from forecasts.access import moderators, row_user_may_see
from forecasts.models import LatestForecast, Notification, Question, QuestionGroup, ResolutionEvent
from forecasts.services.batches import in_locked_batches
from forecasts.services.deliveries import webhook_deliveries_due, webhooks_queue
from forecasts.services.messages import (
    closing_soon_message,
    escalation_message,
    ready_to_resolve_message,
    reminder_message,
    resolution_message,
)
from forecasts.services.notifications import NotificationRow, key_moment, notifications_create
from forecasts.services.scores import question_scores_recompute, score_summaries_for

logger = logging.getLogger(__name__)


# Resolver reminders ---------------------------------------------------------------------------------


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


def group_speakers(rows: list[Question], *, now: datetime) -> set[int]:
    """The rows that send their own reminders: every lone question, and for a group only its first
    member whose window has ended and that is not yet resolved (one query, and only when a row
    belongs to a group). The rule reads window ends, not statuses, so two sweeps closing different
    members at once agree on the one that speaks."""
    group_ids = {question.group_id for question in rows if question.group_id is not None}
    speakers = {question.pk for question in rows if question.group_id is None}
    if group_ids:
        first = Question.objects.filter(
            group_id=OuterRef("pk"),
            status__in=[Question.Status.OPEN, Question.Status.AWAITING_RESOLUTION],
            window_end__lte=now,
        )
        speakers |= set(
            QuestionGroup.objects.filter(pk__in=group_ids)
            .annotate(first=Subquery(first.order_by("group_position").values("pk")[:1]))
            .values_list("first", flat=True)
        )
    return speakers


def resolver_notification(
    question: Question, *, closed_at: datetime, round_due: int, kind, message: str
) -> NotificationRow:
    """The owner's notice of reminder round `round_due` (unsaved), with the round's dedupe key."""
    return NotificationRow(
        user_id=question.owner_id,
        question_id=question.pk,
        kind=kind,
        round=round_due,
        dedupe_key=f"resolve:{question.pk}:{key_moment(closed_at)}:{round_due}",
        message=message,
    )


def ready_to_resolve_notification(question: Question, *, closed_at: datetime, round_due: int) -> NotificationRow:
    """The owner's first notice after the close (unsaved): sent by the close itself, or by the
    reminder step for a question whose schedule was re-armed. `question` may be any row with the
    question's pk, owner_id, title, window_end and resolve_by."""
    return resolver_notification(
        question,
        closed_at=closed_at,
        round_due=round_due,
        kind=Notification.Kind.READY_TO_RESOLVE,
        message=ready_to_resolve_message(question),
    )


def resolver_reminders_send(*, now: datetime, batch_size: int) -> list[Notification]:
    """Remind each resolver whose reminder is due: the latest round due only, then schedule the next.

    A question with no schedule (`next_reminder_at` empty: just re-armed) gets one now. An owner
    who may no longer see the question (removed from its team) is not reminded; the schedule
    still moves on.
    """

    def remind(rows: list[Question]) -> list[Notification]:
        owner_may_see = set(
            row_user_may_see(
                Question.objects.filter(pk__in=[question.pk for question in rows]), user="owner_id", question=""
            ).values_list("pk", flat=True)
        )
        speakers = group_speakers(rows, now=now)
        notifications = []
        for question in rows:
            closed_at = question.closed_at or question.window_end
            round_due = reminder_round_due(now - closed_at)
            if round_due >= question.reminder_round:
                first = question.reminder_round == 0
                if question.pk in owner_may_see and question.pk in speakers and first:
                    notifications.append(
                        ready_to_resolve_notification(question, closed_at=closed_at, round_due=round_due)
                    )
                elif question.pk in owner_may_see and question.pk in speakers:
                    notifications.append(
                        resolver_notification(
                            question,
                            closed_at=closed_at,
                            round_due=round_due,
                            kind=Notification.Kind.REMINDER,
                            message=reminder_message(question, closed_at=closed_at, now=now),
                        )
                    )
                question.reminder_round = round_due + 1
        reminder_schedule_save(rows)  # the next reminder time follows from the close and the round
        return notifications_create(notifications=notifications, now=now)

    due = (
        Question.objects.filter(status=Question.Status.AWAITING_RESOLUTION)
        .filter(Q(next_reminder_at__lte=now) | Q(next_reminder_at__isnull=True))
        .only("pk", "title", "owner_id", "window_end", "resolve_by", "closed_at", "reminder_round", "group_id")
        .order_by("next_reminder_at", "id")
    )
    return in_locked_batches(due, remind, batch_size=batch_size)


# Escalations -------------------------------------------------------------------------------------------


def moderator_ids() -> list[int]:
    """The active moderators (superusers and the Editors group), who see every question."""
    return list(moderators().order_by("pk").values_list("pk", flat=True))


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
        speakers = group_speakers(rows, now=now)
        for question in rows:
            week = int((now - question.resolve_by) // repeat)
            questions_by_week.setdefault(week, []).append(question.pk)
            for moderator_id in recipients if question.pk in speakers else ():
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
        # One UPDATE per week in SQL: the values bulk_update would write, without its CASE per row.
        for week, ids in questions_by_week.items():
            Question.objects.filter(pk__in=ids).update(next_escalation_at=F("resolve_by") + repeat * (week + 1))
        return notifications_create(notifications=notifications, now=now)

    due = (
        Question.objects.filter(status=Question.Status.AWAITING_RESOLUTION, resolve_by__lte=now)
        .filter(Q(next_escalation_at__isnull=True) | Q(next_escalation_at__lte=now))
        .select_related("owner")
        .only("pk", "title", "resolve_by", "next_escalation_at", "owner__username", "group_id")
        .order_by("resolve_by", "id")
    )
    return in_locked_batches(due, escalate, batch_size=batch_size)


# Closing-soon nudges ------------------------------------------------------------------------------------


def closing_soon_notify(*, now: datetime, batch_size: int) -> list[Notification]:
    """Nudge each forecaster of a question closing within CLOSING_SOON_HOURS, once per window end."""
    lead = timedelta(hours=settings.FOREWARN["CLOSING_SOON_HOURS"])

    def nudge(rows: list[Question]) -> list[Notification]:
        by_id = {question.pk: question for question in rows}
        forecasters = row_user_may_see(
            LatestForecast.objects.filter(
                question_id__in=by_id, forecaster__isnull=False, forecaster__is_active=True
            ).exclude(forecaster__forewarn_profile__closing_soon_opt_in=False),
            user="forecaster_id",
            question="question",
        ).values_list("question_id", "forecaster_id")
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


# Resolution notices ----------------------------------------------------------------------------------------


def resolutions_notify(
    *, now: datetime | None = None, event_ids=None, batch_size: int | None = None
) -> list[Notification]:
    """Tell every forecaster how a question resolved, for each resolution event not yet told.

    Runs from the resolution's on-commit task and from every sweep (which catches up when the
    broker was down). An event that is no longer the question's current resolution (undone,
    or resolved again since) is marked told without a message.
    """
    now = now or timezone.now()
    batch_size = batch_size or settings.FOREWARN["SWEEP_BATCH_SIZE"]
    pending = ResolutionEvent.objects.filter(notified_at__isnull=True).order_by("created_at", "id")
    if event_ids is not None:
        pending = pending.filter(pk__in=event_ids)

    def notify(events: list[ResolutionEvent]) -> list[Notification]:
        return resolution_events_notify(events=events, now=now)

    return in_locked_batches(pending.select_related("question"), notify, batch_size=batch_size)


def resolution_events_notify(*, events: list[ResolutionEvent], now: datetime) -> list[Notification]:
    """Notify the forecasters of the events that are their question's current resolution; mark all told."""
    current = [event for event in events if event.question.current_resolution_id == event.pk]
    question_ids = {event.question_id for event in current}
    # Score first, so the message never runs ahead of the recompute task (it is idempotent).
    for question_id in {event.question_id for event in current if event.action == ResolutionEvent.Action.RESOLVE}:
        question_scores_recompute(question_id=question_id)
    summaries = score_summaries_for(question_ids=question_ids)
    forecasters = row_user_may_see(
        LatestForecast.objects.filter(question_id__in=question_ids, forecaster__isnull=False),
        user="forecaster_id",
        question="question",
    ).values_list("question_id", "forecaster_id")
    forecasters_by_question: dict[int, list[int]] = {}
    for question_id, forecaster_id in forecasters:
        forecasters_by_question.setdefault(question_id, []).append(forecaster_id)
    notifications = [
        Notification(
            user_id=forecaster_id,
            question_id=event.question_id,
            kind=Notification.Kind.RESOLVED,
            dedupe_key=f"resolved:{event.question_id}:{event.pk}",
            message=resolution_message(
                question=event.question,
                event=event,
                score_summary=summaries.get((event.question_id, forecaster_id)),
            ),
        )
        for event in current
        for forecaster_id in forecasters_by_question.get(event.question_id, [])
    ]
    created = notifications_create(notifications=notifications, now=now)
    ResolutionEvent.objects.filter(pk__in=[event.pk for event in events]).update(notified_at=now)
    return created


def resolution_notices_send(*, event_id: int) -> list[Notification]:
    """Tell the forecasters about one resolution event, then queue their webhooks (the on-commit task)."""
    created = resolutions_notify(event_ids=[event_id])
    webhooks_queue(delivery_ids=webhook_deliveries_due())
    return created
