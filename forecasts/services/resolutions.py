"""Resolving, annulling and undoing: every change is written to the question's history."""

from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from forecasts.models import Question, ResolutionEvent
from forecasts.access import user_can_resolve_question

RESOLVABLE_STATUSES = (Question.Status.OPEN, Question.Status.AWAITING_RESOLUTION)
ANNULLABLE_STATUSES = (Question.Status.DRAFT, *RESOLVABLE_STATUSES)


def locked_for_resolution(question: Question, actor) -> Question:
    locked = Question.objects.select_for_update().get(pk=question.pk)
    if not user_can_resolve_question(actor, locked):
        raise PermissionDenied("Only the question's owner or a moderator can change its resolution.")
    return locked


def followups_after_commit(event: ResolutionEvent) -> None:
    """Once the change commits, queue the score recompute and (for a resolve or annul) the
    forecasters' notifications. If the broker is down the request still succeeds (robust): the
    next sweep finds stale scores and untold events from database state."""
    from forecasts.tasks import question_scores_recompute_task, resolution_notify  # tasks import services

    # A named function, not a partial: Django logs a robust hook's failure by its __qualname__.
    def queue_followups():
        question_scores_recompute_task.delay(event.question_id)
        if event.action != ResolutionEvent.Action.UNRESOLVE:
            resolution_notify.delay(event.pk)

    transaction.on_commit(queue_followups, robust=True)


def record_event(question: Question, *, action: str, actor, previous_status: str, previous_outcome: str, **details):
    """Write the change to the question's history and queue what follows from it."""
    event = ResolutionEvent.objects.create(
        question=question,
        action=action,
        outcome=question.outcome,
        previous_status=previous_status,
        previous_outcome=previous_outcome,
        actor=actor,
        created_at=question.resolved_at or timezone.now(),
        **details,
    )
    followups_after_commit(event)
    return event


@transaction.atomic
def question_resolve(
    *,
    question: Question,
    actor,
    outcome: str,
    evidence_url: str = "",
    note: str = "",
    occurred_at: datetime | None = None,
) -> Question:
    """Score the outcome: YES or NO once the window has closed, or YES early inside the window."""
    if outcome == Question.Outcome.ANNULLED:
        return question_annul(question=question, actor=actor, evidence_url=evidence_url, note=note)
    question = locked_for_resolution(question, actor)
    now = timezone.now()
    if outcome not in (Question.Outcome.YES, Question.Outcome.NO):
        raise ValidationError({"outcome": "Choose yes, no or annulled."})
    if question.status not in RESOLVABLE_STATUSES:
        raise ValidationError({"outcome": f"This question is {question.get_status_display().lower()}; undo the resolution first to change it."})
    window_open = question.window_end > now
    if window_open and outcome == Question.Outcome.NO:
        raise ValidationError({"outcome": "NO can only be decided once the window has closed."})
    if occurred_at is not None:
        if occurred_at > now:
            raise ValidationError({"occurred_at": "The event cannot have happened in the future."})
        if occurred_at > question.window_end or (question.window_start and occurred_at < question.window_start):
            raise ValidationError({"occurred_at": "For YES the event must have happened inside the window."})
    previous_status, previous_outcome = question.status, question.outcome
    question.status = Question.Status.RESOLVED
    question.outcome = outcome
    question.occurred_at = occurred_at
    question.resolved_at = now
    question.resolved_by = actor
    question.closed_at = question.closed_at or min(now, question.window_end)
    question.next_reminder_at = None
    question.save()
    record_event(
        question,
        action=ResolutionEvent.Action.RESOLVE,
        actor=actor,
        previous_status=previous_status,
        previous_outcome=previous_outcome,
        evidence_url=evidence_url,
        note=note,
        occurred_at=occurred_at,
    )
    return question


@transaction.atomic
def question_annul(*, question: Question, actor, evidence_url: str = "", note: str = "") -> Question:
    """Void a question that is not final yet: it will never be scored."""
    question = locked_for_resolution(question, actor)
    if question.status not in ANNULLABLE_STATUSES:
        raise ValidationError({"outcome": f"This question is {question.get_status_display().lower()}; undo the resolution first to annul it."})
    previous_status, previous_outcome = question.status, question.outcome
    now = timezone.now()
    question.status = Question.Status.ANNULLED
    question.outcome = Question.Outcome.ANNULLED
    question.resolved_at = now
    question.resolved_by = actor
    question.closed_at = question.closed_at or min(now, question.window_end)
    question.next_reminder_at = None
    question.save()
    record_event(
        question,
        action=ResolutionEvent.Action.ANNUL,
        actor=actor,
        previous_status=previous_status,
        previous_outcome=previous_outcome,
        evidence_url=evidence_url,
        note=note,
    )
    return question


@transaction.atomic
def question_unresolve(*, question: Question, actor, note: str = "") -> Question:
    """Undo a resolution or annulment: back to awaiting resolution, or open if the window still runs."""
    question = locked_for_resolution(question, actor)
    if question.status not in Question.FINAL_STATUSES:
        raise ValidationError({"status": "Only a resolved or annulled question can be un-resolved."})
    previous_status, previous_outcome = question.status, question.outcome
    now = timezone.now()
    window_open = question.window_end > now
    question.status = Question.Status.OPEN if window_open else Question.Status.AWAITING_RESOLUTION
    question.outcome = ""
    question.occurred_at = None
    question.resolved_at = None
    question.resolved_by = None
    question.closed_at = None if window_open else question.closed_at or question.window_end
    question.next_reminder_at = None if window_open else now
    question.save()
    record_event(
        question,
        action=ResolutionEvent.Action.UNRESOLVE,
        actor=actor,
        previous_status=previous_status,
        previous_outcome=previous_outcome,
        note=note,
    )
    return question
