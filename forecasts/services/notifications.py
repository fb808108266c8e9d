"""Storing notifications: one row per notice (deduplicated), its webhook delivery rows, read marks.

Who is told what, and when, is decided in `reminders.py`; the wording is in `messages.py`; the
sending in `deliveries.py`.
"""

import json
from datetime import UTC, datetime
from typing import NamedTuple

from django.db import connection, transaction
from django.db.models.base import ModelState
from django.utils import timezone

from forecasts.access import notifications_visible_to
from forecasts.models import Notification, Profile, WebhookDelivery


def key_moment(moment: datetime) -> str:
    """A datetime as it appears in dedupe keys: moving a date makes a new key."""
    utc = moment.astimezone(UTC)  # fields, not strftime: twice as fast, and a close makes thousands
    return f"{utc.year:04d}{utc.month:02d}{utc.day:02d}T{utc.hour:02d}{utc.minute:02d}{utc.second:02d}"


NOTIFICATION_UNSET = {field.attname: None for field in Notification._meta.concrete_fields}


class NotificationRow(NamedTuple):
    """An unsaved notice as plain values: what a batch job builds when it makes thousands at once
    (a model instance costs more to build than the row costs to insert)."""

    user_id: int
    question_id: int | None
    kind: str
    round: int
    dedupe_key: str
    message: str


def notifications_create(*, notifications: list[Notification | NotificationRow], now: datetime) -> list[Notification]:
    """Insert the notifications whose dedupe key is new and queue webhook deliveries for them.

    Returns the new ones, as saved Notification instances. A constant number of queries whatever
    the list's length; the unique (user, channel, dedupe_key) constraint settles any race with a
    concurrent sweep.
    """
    if not notifications:
        return []
    if connection.vendor == "postgresql":
        new = notifications_insert_new(notifications=notifications, now=now)
        if new:
            webhook_deliveries_create(notifications=new, now=now)
        return new
    notifications = [
        Notification(**notification._asdict()) if isinstance(notification, NotificationRow) else notification
        for notification in notifications
    ]
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


# The rows travel as one JSON text: psycopg quotes an array element by element in Python, and six
# arrays of a batch's notices cost more to send than the INSERT costs to run.
NOTIFICATIONS_INSERT_SQL = """
    INSERT INTO forecasts_notification (user_id, question_id, kind, channel, round, dedupe_key, message, created_at)
    SELECT new.user_id, new.question_id, new.kind, %(channel)s, new.round, new.dedupe_key, new.message, %(now)s
    FROM ROWS FROM (
        json_to_recordset(%(rows)s::json)
            AS (user_id bigint, question_id bigint, kind text, round integer, dedupe_key text, message text)
    ) WITH ORDINALITY AS new (user_id, question_id, kind, round, dedupe_key, message, position)
    ORDER BY new.position
    ON CONFLICT (user_id, channel, dedupe_key) DO NOTHING
    RETURNING id, user_id, dedupe_key
"""


def notifications_insert_new(
    *, notifications: list[Notification | NotificationRow], now: datetime
) -> list[Notification]:
    """PostgreSQL: insert them all in one statement that skips the (user, channel, dedupe_key) pairs
    already stored or repeated in the list (the first one stays); returns those inserted, with ids.

    The same rows `bulk_create` would write, without building an INSERT parameter by parameter
    and without a first query for the existing keys.
    """
    rows = [
        {
            "user_id": notification.user_id,
            "question_id": notification.question_id,
            "kind": str(notification.kind),
            "round": notification.round,
            "dedupe_key": notification.dedupe_key,
            "message": notification.message,
        }
        for notification in notifications
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            NOTIFICATIONS_INSERT_SQL,
            {"channel": Notification.Channel.IN_APP.value, "now": now, "rows": json.dumps(rows)},
        )
        inserted = {(user_id, dedupe_key): pk for pk, user_id, dedupe_key in cursor.fetchall()}
    new = []
    alias = connection.alias  # once: each read of the proxy's attribute looks up its thread's connection
    for notification in notifications:
        pk = inserted.pop((notification.user_id, notification.dedupe_key), None)
        if pk is not None and isinstance(notification, NotificationRow):
            new.append(notification_loaded(notification, pk=pk, now=now, alias=alias))
        elif pk is not None:
            notification.pk = pk
            notification.channel = Notification.Channel.IN_APP
            notification.created_at = now
            notification._state.adding = False
            notification._state.db = alias
            new.append(notification)
    return new


def notification_loaded(row: NotificationRow, *, pk: int, now: datetime, alias: str) -> Notification:
    """The Notification just inserted from `row` into the database `alias`, built as unpickling
    builds an instance (its attributes set at once, no field-by-field __init__): a close creates
    ten thousand of them."""
    state = ModelState()
    state.adding, state.db = False, alias
    notification = Notification.__new__(Notification)
    notification.__dict__ = {
        **NOTIFICATION_UNSET,
        **row._asdict(),
        "id": pk,
        "channel": Notification.Channel.IN_APP.value,
        "created_at": now,
        "_state": state,
    }
    return notification


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


@transaction.atomic
def notifications_mark_read(*, user, notification_ids, read: bool = True) -> int:
    """Mark some of the user's own notifications read (or unread again); returns how many changed.

    Only those the user may still see: a notice about a question now hidden is left as it is.
    """
    own = notifications_visible_to(user).filter(pk__in=list(notification_ids))
    if read:
        return own.filter(read_at__isnull=True).update(read_at=timezone.now())
    return own.filter(read_at__isnull=False).update(read_at=None)
