"""Discarding drafts: the only questions that may ever be deleted."""

from django.core.exceptions import PermissionDenied
from django.db import transaction

from forecasts.access import user_can_edit_question, user_can_resolve_question
from forecasts.exceptions import StateConflict
from forecasts.models import Question


@transaction.atomic
def question_delete(*, question: Question, actor) -> None:
    """Delete a draft; an opened question has a history and can only be annulled."""
    question = Question.objects.select_for_update().get(pk=question.pk)
    if question.status != Question.Status.DRAFT and user_can_resolve_question(actor, question):
        message = "Only a draft can be deleted; annul an open question instead."
        raise StateConflict("status", message, code="question_not_draft")
    if not user_can_edit_question(actor, question):
        raise PermissionDenied("Only the owner or a moderator can delete this question.")
    question.delete()
