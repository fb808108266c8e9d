"""Resolving, annulling and undoing: one state machine, every change written to the question's history.

`TRANSITIONS` lists the allowed (status, action) pairs and what each does to the question. Every
change takes the one path of `resolution_change`: lock the question, check the actor and the
table, remember the previous state, apply the change, record the event, save, and queue what
follows once it commits. A resolve or annul event becomes the question's `current_resolution`;
an undo clears it. Callers never branch on the status or on annul-or-resolve themselves.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from forecasts.access import user_can_resolve_question, user_is_moderator
from forecasts.exceptions import StateConflict
from forecasts.models import Forecast, Notification, Question, QuestionGroup, ResolutionEvent
from forecasts.tasks import question_scores_recompute_task, resolution_notify_task

Action = ResolutionEvent.Action
Status = Question.Status

NOT_ALLOWED_TO_RESOLVE = "Only the question's owner or a moderator can change its resolution."
UNKNOWN_OUTCOME = "Choose yes, no or annulled."
OCCURRED_CUTS_OFF_FORECASTS = (
    "The event cannot be dated at or before the latest forecast ({made_at}): that would leave existing"
    " forecasts unscored. Ask a moderator if it must."
)
OCCURRED_BEFORE_OPENING = "The event cannot be dated before the question opened ({opened_at})."


@dataclass(frozen=True)
class ResolutionDetails:
    """What the actor says about a change: the outcome, the evidence, a note, when it happened."""

    outcome: str = ""
    evidence_url: str = ""
    note: str = ""
    occurred_at: datetime | None = None


def resolved(question: Question, details: ResolutionDetails, *, actor, now: datetime) -> None:
    """YES or NO once the window has closed, or YES early with the event inside the window."""
    if question.window_end > now and details.outcome == Question.Outcome.NO:
        raise ValidationError({"outcome": "NO can only be decided once the window has closed."})
    occurred_at = details.occurred_at
    if occurred_at is not None:
        if occurred_at > now:
            raise ValidationError({"occurred_at": "The event cannot have happened in the future."})
        if occurred_at > question.window_end or (question.window_start and occurred_at < question.window_start):
            raise ValidationError({"occurred_at": "For YES the event must have happened inside the window."})
        if not user_is_moderator(actor):
            check_occurred_at(question, occurred_at)
    question.status = Status.RESOLVED
    question.outcome = details.outcome
    question.occurred_at = occurred_at
    mark_final(question, actor=actor, now=now)


def check_occurred_at(question: Question, occurred_at: datetime) -> None:
    """The event's date may not cut off existing forecasts nor precede the opening (moderators excepted).

    Forecasts made from the event on are hindsight and never count; an owner who could date the
    event early could choose whose forecasts count, so only a moderator may cut any off.
    """
    latest = (
        Forecast.objects.filter(question_id=question.pk, made_at__gte=occurred_at)
        .order_by("-made_at")
        .values_list("made_at", flat=True)
        .first()
    )
    if latest is not None:
        raise ValidationError({"occurred_at": OCCURRED_CUTS_OFF_FORECASTS.format(made_at=latest.isoformat())})
    if question.opened_at is not None and occurred_at < question.opened_at:
        raise ValidationError({"occurred_at": OCCURRED_BEFORE_OPENING.format(opened_at=question.opened_at.isoformat())})


def annulled(question: Question, details: ResolutionDetails, *, actor, now: datetime) -> None:
    """Void the question: it will never be scored."""
    question.status = Status.ANNULLED
    question.outcome = Question.Outcome.ANNULLED
    mark_final(question, actor=actor, now=now)


def mark_final(question: Question, *, actor, now: datetime) -> None:
    """What resolving and annulling share: who and when, the close, no more reminders."""
    question.resolved_at = now
    question.resolved_by = actor
    question.closed_at = question.closed_at or min(now, question.window_end)
    question.next_reminder_at = None


def reopened(question: Question, details: ResolutionDetails, *, actor, now: datetime) -> None:
    """Back to awaiting resolution, or open if the window still runs."""
    window_open = question.window_end > now
    question.status = Status.OPEN if window_open else Status.AWAITING_RESOLUTION
    question.outcome = ""
    question.occurred_at = None
    question.resolved_at = None
    question.resolved_by = None
    question.closed_at = None if window_open else question.closed_at or question.window_end
    question.next_reminder_at = None if window_open else now


Apply = Callable[..., None]  # (question, details, *, actor, now): checks the details, assigns the fields

# The allowed (status, action) pairs and what each does; any other pair is refused.
TRANSITIONS: dict[tuple[str, str], Apply] = {
    (Status.OPEN, Action.RESOLVE): resolved,
    (Status.AWAITING_RESOLUTION, Action.RESOLVE): resolved,
    (Status.DRAFT, Action.ANNUL): annulled,
    (Status.OPEN, Action.ANNUL): annulled,
    (Status.AWAITING_RESOLUTION, Action.ANNUL): annulled,
    (Status.RESOLVED, Action.UNRESOLVE): reopened,
    (Status.ANNULLED, Action.UNRESOLVE): reopened,
}

# Why an action is refused from a status the table does not list: (field, message).
REFUSALS = {
    Action.RESOLVE: ("outcome", "This question is {status}; undo the resolution first to change it."),
    Action.ANNUL: ("outcome", "This question is {status}; undo the resolution first to annul it."),
    Action.UNRESOLVE: ("status", "Only a resolved or annulled question can be un-resolved."),
}

# The one place an outcome picks between resolving and annulling.
ACTION_FOR_OUTCOME = {
    Question.Outcome.YES: Action.RESOLVE,
    Question.Outcome.NO: Action.RESOLVE,
    Question.Outcome.ANNULLED: Action.ANNUL,
}


def followups_after_commit(event: ResolutionEvent, *, tell_forecasters: bool) -> None:
    """Once the change commits, queue the score recompute and (for a resolve or annul) the
    forecasters' notifications. If the broker is down the request still succeeds (robust): the
    next sweep finds stale scores and untold events from database state."""

    # A named function, not a partial: Django logs a robust hook's failure by its __qualname__.
    def queue_followups():
        question_scores_recompute_task.delay(event.question_id)
        if tell_forecasters:
            resolution_notify_task.delay(event.pk)

    transaction.on_commit(queue_followups, robust=True)


# The notices that ask for a resolution, read once the question is resolved or annulled.
ASKS_TO_RESOLVE = (Notification.Kind.READY_TO_RESOLVE, Notification.Kind.REMINDER, Notification.Kind.ESCALATION)


@transaction.atomic
def resolution_change(*, question: Question, actor, action: str | None, details: ResolutionDetails) -> Question:
    """Make one change of the table to the question, as `actor`, and record it; returns the saved question.

    `action` is None for an outcome Forewarn does not know (refused once the actor is checked).
    """
    question = Question.objects.select_for_update().get(pk=question.pk)
    if not user_can_resolve_question(actor, question):
        raise PermissionDenied(NOT_ALLOWED_TO_RESOLVE)
    if action is None:
        raise ValidationError({"outcome": UNKNOWN_OUTCOME})
    apply = TRANSITIONS.get((question.status, action))
    if apply is None:
        field, message = REFUSALS[action]
        raise StateConflict(field, message.format(status=question.get_status_display().lower()), code="status_conflict")
    previous_status, previous_outcome = question.status, question.outcome
    now = timezone.now()
    apply(question, details, actor=actor, now=now)
    event = ResolutionEvent.objects.create(
        question=question,
        action=action,
        outcome=question.outcome,
        previous_status=previous_status,
        previous_outcome=previous_outcome,
        actor=actor,
        created_at=now,
        evidence_url=details.evidence_url,
        note=details.note,
        occurred_at=question.occurred_at,
    )
    question.current_resolution = event if question.is_final else None
    question.scores_due = True  # until the recompute queued below (or the sweep's) has run
    question.save()
    if question.group_id is not None:  # a member resolved alone moves its group's status too
        QuestionGroup.objects.filter(pk=question.group_id).statuses_sync()
    if question.is_final:
        # "Please resolve" is done with: it leaves the unread list (and the digest) with the resolution.
        Notification.objects.filter(question=question, kind__in=ASKS_TO_RESOLVE, read_at__isnull=True).update(
            read_at=now
        )
    followups_after_commit(event, tell_forecasters=question.is_final)
    return question


def question_resolve(
    *,
    question: Question,
    actor,
    outcome: str,
    evidence_url: str = "",
    note: str = "",
    occurred_at: datetime | None = None,
) -> Question:
    """Score the outcome: YES or NO once the window has closed, YES early inside the window, or annulled."""
    return resolution_change(
        question=question,
        actor=actor,
        action=ACTION_FOR_OUTCOME.get(outcome),
        details=ResolutionDetails(outcome=outcome, evidence_url=evidence_url, note=note, occurred_at=occurred_at),
    )


def question_annul(*, question: Question, actor, evidence_url: str = "", note: str = "") -> Question:
    """Void a question that is not final yet: it will never be scored."""
    return resolution_change(
        question=question,
        actor=actor,
        action=Action.ANNUL,
        details=ResolutionDetails(outcome=Question.Outcome.ANNULLED, evidence_url=evidence_url, note=note),
    )


def question_unresolve(*, question: Question, actor, note: str = "") -> Question:
    """Undo a resolution or annulment: back to awaiting resolution, or open if the window still runs."""
    return resolution_change(
        question=question, actor=actor, action=Action.UNRESOLVE, details=ResolutionDetails(note=note)
    )
