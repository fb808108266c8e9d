"""Discarding drafts: the only questions that may ever be deleted."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from forecasts.access import user_can_edit_question
from forecasts.models import Question


@transaction.atomic
def question_delete(*, question: Question, actor) -> None:
    """Delete a draft; an opened question has a history and can only be annulled."""
    question = Question.objects.select_for_update().get(pk=question.pk)
    if not user_can_edit_question(actor, question):
        raise PermissionDenied("Only the owner or a moderator can delete this question.")
    if question.status != Question.Status.DRAFT:
        raise ValidationError({"status": "Only a draft can be deleted; annul an open question instead."})
    question.delete()
