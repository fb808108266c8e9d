"""Notifications: their wording, their dedupe keys, and the webhook deliveries that go with them."""

from datetime import datetime, timezone as dt_timezone

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from forecasts.models import LatestForecast, Notification, Profile, Question, ResolutionEvent, WebhookDelivery
from forecasts.services.scores import question_scores_recompute, score_summaries_for


def question_admin_url(question_id: int) -> str:
    return f"{settings.SITE_URL}/admin/forecasts/question/{question_id}/change/"


def format_moment(moment: datetime) -> str:
    return moment.astimezone(dt_timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def key_moment(moment: datetime) -> str:
    """A datetime as it appears in dedupe keys: moving a date makes a new key."""
    return moment.astimezone(dt_timezone.utc).strftime("%Y%m%dT%H%M%S")


def ready_to_resolve_message(question: Question) -> str:
    return (
        f"The window of “{question.title}” closed on {format_moment(question.window_end)}. "
        f"Score the outcome (yes, no or annulled) by {format_moment(question.resolve_by)}."
    )


def reminder_message(question: Question, *, closed_at: datetime, now: datetime) -> str:
    days = (now - closed_at).days
    waited = "today" if days == 0 else f"{days} day{'s' if days != 1 else ''} ago"
    return (
        f"Reminder: “{question.title}” closed {waited} and still awaits its outcome. "
        f"Resolve by {format_moment(question.resolve_by)}."
    )


def escalation_message(question: Question) -> str:
    return (
        f"“{question.title}” (owner {question.owner}) passed its resolve-by date "
        f"{format_moment(question.resolve_by)} without an outcome. Please resolve it or chase the owner."
    )


def closing_soon_message(question: Question) -> str:
    return (
        f"“{question.title}” closes on {format_moment(question.window_end)}. "
        "Update your forecast if your view has changed."
    )


def resolution_message(*, question: Question, event: ResolutionEvent, score_summary: str | None = None) -> str:
    """What a forecaster is told when a question they forecast on is resolved or annulled, with their score."""
    if event.action == ResolutionEvent.Action.ANNUL:
        text = f"“{question.title}” was annulled: it will not be scored."
    else:
        text = f"“{question.title}” resolved {event.outcome.upper()}."
    if score_summary:
        text += f" {score_summary}"
    if event.note:
        text += f" Note: {event.note}"
    if event.evidence_url:
        text += f" Evidence: {event.evidence_url}"
    return text


def notifications_create(*, notifications: list[Notification], now: datetime) -> list[Notification]:
    """Insert the notifications whose dedupe key is new and queue webhook deliveries for them.

    Returns the new ones. A constant number of queries whatever the list's length; the unique
    (user, channel, dedupe_key) constraint settles any race with a concurrent sweep.
    """
    if not notifications:
        return []
    if connection.vendor == "postgresql":
        new = notifications_insert_new(notifications=notifications, now=now)
        if new:
            webhook_deliveries_create(notifications=new, now=now)
        return new
    keys = {notification.dedupe_key for notification in notifications}
    user_ids = {notification.user_id for notification in notifications}
    existing = set(
        Notification.objects.filter(
            channel=Notification.Channel.IN_APP, dedupe_key__in=keys, user_id__in=user_ids
        ).values_list("user_id", "dedupe_key")
    )
    new = []
    for notification in notifications:
        pair = (notification.user_id, notification.dedupe_key)
        if pair not in existing:
            existing.add(pair)
            notification.channel = Notification.Channel.IN_APP
            notification.created_at = now
            new.append(notification)
    if not new:
        return []
    Notification.objects.bulk_create(new, ignore_conflicts=True)
    webhook_deliveries_create(notifications=new, now=now)
    return new


NOTIFICATIONS_INSERT_SQL = """
    INSERT INTO forecasts_notification (user_id, question_id, kind, channel, round, dedupe_key, message, created_at)
    SELECT new.user_id, new.question_id, new.kind, %(channel)s, new.round, new.dedupe_key, new.message, %(now)s
    FROM unnest(
        %(user_ids)s::bigint[], %(question_ids)s::bigint[], %(kinds)s::text[], %(rounds)s::integer[],
        %(dedupe_keys)s::text[], %(messages)s::text[]
    ) WITH ORDINALITY AS new (user_id, question_id, kind, round, dedupe_key, message, position)
    ORDER BY new.position
    ON CONFLICT (user_id, channel, dedupe_key) DO NOTHING
    RETURNING id, user_id, dedupe_key
"""


def notifications_insert_new(*, notifications: list[Notification], now: datetime) -> list[Notification]:
    """PostgreSQL: insert them all in one statement that skips the (user, channel, dedupe_key) pairs
    already stored or repeated in the list (the first one stays); returns those inserted, with ids.

    The same rows `bulk_create` would write, without building an INSERT parameter by parameter
    and without a first query for the existing keys.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            NOTIFICATIONS_INSERT_SQL,
            {
                "channel": Notification.Channel.IN_APP.value,
                "now": now,
                "user_ids": [notification.user_id for notification in notifications],
                "question_ids": [notification.question_id for notification in notifications],
                "kinds": [str(notification.kind) for notification in notifications],
                "rounds": [notification.round for notification in notifications],
                "dedupe_keys": [notification.dedupe_key for notification in notifications],
                "messages": [notification.message for notification in notifications],
            },
        )
        inserted = {(user_id, dedupe_key): pk for pk, user_id, dedupe_key in cursor.fetchall()}
    new = []
    for notification in notifications:
        pk = inserted.pop((notification.user_id, notification.dedupe_key), None)
        if pk is not None:
            notification.pk = pk
            notification.channel = Notification.Channel.IN_APP
            notification.created_at = now
            notification._state.adding = False
            notification._state.db = connection.alias
            new.append(notification)
    return new


def webhook_deliveries_create(*, notifications: list[Notification], now: datetime) -> None:
    """One pending webhook delivery per notification whose recipient has a webhook URL."""
    webhook_urls = dict(
        Profile.objects.filter(user_id__in={notification.user_id for notification in notifications})
        .exclude(webhook_url="")
        .values_list("user_id", "webhook_url")
    )
    if not webhook_urls:
        return
    wanted = [notification for notification in notifications if notification.user_id in webhook_urls]
    saved = Notification.objects.filter(
        channel=Notification.Channel.IN_APP,
        user_id__in={notification.user_id for notification in wanted},
        dedupe_key__in={notification.dedupe_key for notification in wanted},
        webhook_delivery__isnull=True,
    ).values_list("pk", "user_id")
    WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(notification_id=pk, url=webhook_urls[user_id], created_at=now, next_attempt_at=now)
            for pk, user_id in saved
        ],
        ignore_conflicts=True,
    )


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
    created = []
    while True:
        with transaction.atomic():
            events = list(
                pending.select_for_update(skip_locked=True, of=("self",)).select_related("question")[:batch_size]
            )
            created.extend(resolution_events_notify(events=events, now=now))
        if len(events) < batch_size:
            return created


def resolution_events_notify(*, events: list[ResolutionEvent], now: datetime) -> list[Notification]:
    """Notify the forecasters of the events that are their question's current resolution; mark all told."""
    current = [
        event
        for event in events
        if event.action in (ResolutionEvent.Action.RESOLVE, ResolutionEvent.Action.ANNUL)
        and event.question.is_final
        and event.question.resolved_at == event.created_at
    ]
    question_ids = {event.question_id for event in current}
    # Score first, so the message never runs ahead of the recompute task (it is idempotent).
    for question_id in {event.question_id for event in current if event.action == ResolutionEvent.Action.RESOLVE}:
        question_scores_recompute(question_id=question_id)
    summaries = score_summaries_for(question_ids=question_ids)
    forecasters = LatestForecast.objects.filter(
        question_id__in=question_ids, forecaster__isnull=False
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


@transaction.atomic
def notifications_mark_read(*, user, notification_ids, read: bool = True) -> int:
    """Mark some of the user's own notifications read (or unread again); returns how many changed."""
    own = Notification.objects.filter(user_id=user.pk, pk__in=list(notification_ids))
    if read:
        return own.filter(read_at__isnull=True).update(read_at=timezone.now())
    return own.filter(read_at__isnull=False).update(read_at=None)
