"""Nudges that keep forecasts fresh: a standing forecast grown old, and a crowd that has moved.

Both hang off `NudgeState`, one row per user and question, which the sweep keeps in step with
the user's standing forecast on every open question:

1. `nudges_arm` (one INSERT ... SELECT): a standing forecast the state does not name yet (a
   first forecast, or a new one since) arms the state afresh: that forecast, the crowd as it
   stands now, both nudges unsent. This is the re-arming: forecasting again is the only way to
   get either nudge a second time on the same question.
2. `stale_forecasts_nudge`: a forecast older than the user's `stale_forecast_days` (default 14).
3. `crowd_moves_nudge`: the crowd median now differs from the one at arming by at least the
   user's `crowd_move_points` (default 10 points). Never for a user from whom blind forecasting
   hides the crowd (`access.crowd_rule`): the message would give it away.

Each sends once per armed forecast: the state records when (`stale_sent_at`,
`crowd_move_sent_at`), and the dedupe key names the forecast, so a rerun, or two sweeps at once,
sends nothing twice. A setting of 0 turns the nudge off. The crowd at arming is read by the sweep
(every minute), not at the submission itself, which stays as fast as it was.
"""

from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import ExpressionWrapper, F, FloatField, Value
from django.db.models.functions import Abs, Coalesce

from forecasts.access import crowd_rule, row_user_may_see
from forecasts.models import (
    CROWD_MOVE_POINTS_DEFAULT,
    STALE_FORECAST_DAYS_DEFAULT,
    Notification,
    NudgeState,
    Profile,
    Question,
)
from forecasts.services.batches import batch_transaction_configure, in_locked_batches
from forecasts.services.messages import crowd_moved_message, stale_forecast_message
from forecasts.services.notifications import notifications_create

# A move of exactly the threshold counts, whatever the last bit of the float subtraction says.
MOVE_TOLERANCE = 1e-9

ARM_COLUMNS = "(user_id, question_id, forecast_id, crowd_at_forecast, forecast_made_at, armed_at, stale_sent_at, crowd_move_sent_at)"
ARM_CONFLICT = """
    ON CONFLICT (user_id, question_id) DO UPDATE SET
        forecast_id = excluded.forecast_id, crowd_at_forecast = excluded.crowd_at_forecast,
        forecast_made_at = excluded.forecast_made_at, armed_at = excluded.armed_at, stale_sent_at = NULL,
        crowd_move_sent_at = NULL
"""
# Any database: compare every standing forecast on an open question with its state.
ARM_SQL = f"""
    INSERT INTO forecasts_nudgestate {ARM_COLUMNS}
    SELECT standing.forecaster_id, standing.question_id, standing.forecast_id, question.crowd_median,
        standing.made_at, %(now)s, NULL, NULL
    FROM forecasts_latestforecast AS standing
    JOIN forecasts_question AS question ON question.id = standing.question_id
    LEFT JOIN forecasts_nudgestate AS state
        ON state.user_id = standing.forecaster_id AND state.question_id = standing.question_id
    WHERE standing.forecaster_id IS NOT NULL AND question.status = %(open)s
        AND (state.id IS NULL OR state.forecast_id <> standing.forecast_id)
    {ARM_CONFLICT}
"""
ARM_MARK_SQL = """
    UPDATE forecasts_latestforecast SET nudges_armed = true
    WHERE NOT nudges_armed AND forecaster_id IS NOT NULL
        AND question_id IN (SELECT id FROM forecasts_question WHERE status = %(open)s)
"""
# PostgreSQL: only the standing forecasts not armed yet (`nudges_armed`, which every new standing
# forecast resets), looked up in a partial index per open question (OFFSET 0 keeps the planner
# from scanning the whole index, where the forecasts on closed questions wait in case one
# reopens), and marked armed in the same statement. A submission committing after the sweep's
# snapshot leaves its row unarmed for the next sweep; one committing while the sweep waits on its
# row is re-read, and armed as it now stands.
ARM_CHANGED_SQL = f"""
    WITH changed AS (
        UPDATE forecasts_latestforecast AS standing SET nudges_armed = true
        FROM (
            SELECT unarmed.id, question.crowd_median
            FROM (
                SELECT id, crowd_median FROM forecasts_question WHERE status = %(open)s ORDER BY window_end, id OFFSET 0
            ) AS question
            CROSS JOIN LATERAL (
                SELECT id FROM forecasts_latestforecast
                WHERE question_id = question.id AND NOT nudges_armed AND forecaster_id IS NOT NULL
                OFFSET 0
            ) AS unarmed
        ) AS pending
        WHERE standing.id = pending.id AND NOT standing.nudges_armed
        RETURNING standing.forecaster_id, standing.question_id, standing.forecast_id, standing.made_at,
            pending.crowd_median
    )
    INSERT INTO forecasts_nudgestate {ARM_COLUMNS}
    SELECT changed.forecaster_id, changed.question_id, changed.forecast_id, changed.crowd_median,
        changed.made_at, %(now)s, NULL, NULL
    FROM changed
    LEFT JOIN forecasts_nudgestate AS state
        ON state.user_id = changed.forecaster_id AND state.question_id = changed.question_id
    WHERE state.id IS NULL OR state.forecast_id <> changed.forecast_id
    {ARM_CONFLICT}
"""


def nudges_arm(*, now: datetime, batch_size: int) -> list[int]:
    """(Re-)arm the nudge state of every user's standing forecast on an open question that the state
    does not name yet, in one statement; returns nothing (the count is in the log of the database).

    On PostgreSQL only the standing forecasts written since they were last armed are read.
    """
    parameters = {"now": connection.ops.adapt_datetimefield_value(now), "open": Question.Status.OPEN.value}
    with transaction.atomic(), connection.cursor() as cursor:
        batch_transaction_configure()
        if connection.vendor == "postgresql":
            cursor.execute(ARM_CHANGED_SQL, parameters)
        else:  # writers are serialized: compare everything, then mark what is now armed
            cursor.execute(ARM_SQL, parameters)
            cursor.execute(ARM_MARK_SQL, parameters)
    return []


def settings_in_use(column: str, default: int) -> list[int]:
    """The distinct values of a profile's nudge setting (and the default), without 0 (off), ascending."""
    values = set(Profile.objects.values_list(column, flat=True).distinct())
    return sorted((values | {default}) - {0})


def armed_on_open_questions(*, now: datetime):
    """Nudge states on questions still taking forecasts, whose user is active and may see the question."""
    states = NudgeState.objects.filter(
        question__status=Question.Status.OPEN, question__window_end__gt=now, user__is_active=True
    )
    return row_user_may_see(states, user="user_id", question="question")


def nudges_send(
    due, *, kind: str, key: str, sent_field: str, message: Callable, now: datetime, batch_size: int
) -> list[Notification]:
    """One nudge per due state, in locked batches: the notices (keyed by the forecast, so a copy is
    impossible) and the state marked sent, a constant number of queries per batch."""

    def nudge(rows: list[NudgeState]) -> list[Notification]:
        notifications = [
            Notification(
                user_id=state.user_id,
                question_id=state.question_id,
                kind=kind,
                dedupe_key=f"{key}:{state.question_id}:{state.forecast_id}",
                message=message(state),
            )
            for state in rows
        ]
        NudgeState.objects.filter(pk__in=[state.pk for state in rows]).update(**{sent_field: now})
        return notifications_create(notifications=notifications, now=now)

    return in_locked_batches(due, nudge, batch_size=batch_size)


def stale_forecasts_nudge(*, now: datetime, batch_size: int) -> list[Notification]:
    """Nudge each user whose standing forecast on an open question is older than their setting, once per forecast."""
    days = Coalesce(F("user__forewarn_profile__stale_forecast_days"), Value(STALE_FORECAST_DAYS_DEFAULT))
    in_use = settings_in_use("stale_forecast_days", STALE_FORECAST_DAYS_DEFAULT)
    if not in_use:
        return []
    # By index first, alone: the unsent states older than the shortest setting in use, with each
    # user's setting, compared here (a per-row number of days is not portable SQL, and as a filter
    # beside the rules it made the planner walk every user's states).
    candidates = (
        NudgeState.objects.filter(stale_sent_at__isnull=True, forecast_made_at__lte=now - timedelta(days=in_use[0]))
        .annotate(stale_days=days)
        .values_list("pk", "forecast_made_at", "stale_days")
    )
    old_enough = [pk for pk, made_at, setting in candidates if setting and made_at <= now - timedelta(days=setting)]
    if not old_enough:
        return []
    due = (
        armed_on_open_questions(now=now)
        .filter(pk__in=old_enough, stale_sent_at__isnull=True)
        .select_related("question", "forecast")
        .order_by("pk")
    )

    return nudges_send(
        due,
        kind=Notification.Kind.STALE_FORECAST,
        key="stale",
        sent_field="stale_sent_at",
        message=lambda state: stale_forecast_message(state.question, forecast=state.forecast, now=now),
        now=now,
        batch_size=batch_size,
    )


def crowd_moves_nudge(*, now: datetime, batch_size: int) -> list[Notification]:
    """Nudge each user whose question's crowd moved by their threshold since their last forecast, once
    per forecast; never a user from whom blind forecasting hides that crowd."""
    points = Coalesce(F("user__forewarn_profile__crowd_move_points"), Value(CROWD_MOVE_POINTS_DEFAULT))
    in_use = settings_in_use("crowd_move_points", CROWD_MOVE_POINTS_DEFAULT)
    if not in_use:
        return []
    due = (
        armed_on_open_questions(now=now)
        .filter(crowd_move_sent_at__isnull=True, crowd_at_forecast__isnull=False)
        .filter(question__crowd_median__isnull=False)
        .exclude(user__forewarn_profile__crowd_move_points=0)
        .alias(
            move=Abs(F("question__crowd_median") - F("crowd_at_forecast")),
            threshold=ExpressionWrapper(points * Value(0.01) - Value(MOVE_TOLERANCE), output_field=FloatField()),
        )
        # The smallest threshold in use first, a constant: it drops the states whose crowd has not
        # moved before the per-user threshold and the visibility rules are read for them.
        .filter(move__gte=in_use[0] * 0.01 - MOVE_TOLERANCE)
        .filter(move__gte=F("threshold"))
        .filter(crowd_rule(viewer="user_id", question="question", now=now))
        .select_related("question", "forecast")
        .order_by("pk")
    )

    return nudges_send(
        due,
        kind=Notification.Kind.CROWD_MOVED,
        key="crowd-moved",
        sent_field="crowd_move_sent_at",
        message=lambda state: crowd_moved_message(
            state.question, forecast=state.forecast, crowd_before=state.crowd_at_forecast
        ),
        now=now,
        batch_size=batch_size,
    )
