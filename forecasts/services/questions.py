"""Creating and editing questions."""

from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from forecasts.access import user_can_edit_question, user_can_resolve_question, user_may_file_in_team
from forecasts.models import MAX_TAGS, Question, Source, Tag, Team, within_year_bounds

EDITABLE_FIELDS = {
    "title",
    "details",
    "resolution_criteria",
    "kind",
    "team",
    "source",
    "source_quote",
    "source_statement_date",
    "source_url",
    "window_start",
    "window_end",
    "resolve_by",
}
SCHEDULE_FIELDS = {"window_end", "resolve_by"}


def default_resolve_by(window_end: datetime) -> datetime:
    """The window end plus the grace period; a window end out of bounds is left for validation to refuse."""
    if not within_year_bounds(window_end):
        return window_end
    return window_end + timedelta(days=settings.FOREWARN["RESOLVE_GRACE_DAYS"])


def tags_from_names(names) -> list[Tag]:
    """Tag rows for the given names, created on first use; names are slugs, lower case."""
    names = [name for name in dict.fromkeys(str(name).strip().lower() for name in names) if name]
    if len(names) > MAX_TAGS:
        raise ValidationError({"tags": f"At most {MAX_TAGS} tags."})
    tags = []
    for name in names:
        tags.append(Tag.objects.get_or_create(name=name)[0])
    return tags


def check_team(user, team: Team | None) -> None:
    if team is not None and not user_may_file_in_team(user, team):
        raise ValidationError({"team": "You can only file questions for a team you belong to."})


@transaction.atomic
def question_create(
    *,
    owner,
    title: str,
    resolution_criteria: str,
    window_end: datetime,
    kind: str = Question.Kind.OTHER,
    details: str = "",
    tags=(),
    team: Team | None = None,
    source: Source | None = None,
    source_quote: str = "",
    source_statement_date=None,
    source_url: str = "",
    window_start: datetime | None = None,
    resolve_by: datetime | None = None,
    draft: bool = False,
    opened_at: datetime | None = None,
    external_key: str = "",
) -> Question:
    """File a new question, open for forecasts unless saved as a draft.

    `opened_at` defaults to now; a question logged after the fact may start at its statement date.
    """
    check_team(owner, team)
    now = timezone.now()
    question = Question(
        owner=owner,
        title=title,
        resolution_criteria=resolution_criteria,
        kind=kind,
        details=details,
        team=team,
        source=source,
        source_quote=source_quote,
        source_statement_date=source_statement_date,
        source_url=source_url,
        window_start=window_start,
        window_end=window_end,
        resolve_by=resolve_by or (default_resolve_by(window_end) if window_end else None),
        status=Question.Status.DRAFT if draft else Question.Status.OPEN,
        opened_at=None if draft else opened_at or now,
        created_at=now,
        external_key=external_key,
    )
    question.full_clean()
    question.save()
    question.tags.set(tags_from_names(tags))
    return question


@transaction.atomic
def question_update(*, question: Question, actor, tags=None, **changes) -> Question:
    """Edit a draft or open question; moving its dates re-arms the reminder schedule.

    Once the window has closed, the owner or a moderator may still move resolve-by (an
    investigation takes longer than planned): that re-arms the escalation to moderators only.
    """
    question = Question.objects.select_for_update().get(pk=question.pk)
    if question.status == Question.Status.AWAITING_RESOLUTION and set(changes) == {"resolve_by"} and tags is None:
        return resolve_by_extend(question=question, actor=actor, resolve_by=changes["resolve_by"])
    if not user_can_edit_question(actor, question):
        raise PermissionDenied("Only the owner can edit this question, and only while it is open.")
    if question.status not in Question.EDITABLE_STATUSES:
        raise ValidationError(
            {"status": f"A question that is {question.get_status_display().lower()} cannot be edited."}
        )
    unknown = set(changes) - EDITABLE_FIELDS
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "This field cannot be changed here."))
    if "team" in changes and changes["team"] != question.team:
        check_team(actor, changes["team"])
    if "window_end" in changes and "resolve_by" not in changes and changes["window_end"] > question.resolve_by:
        changes["resolve_by"] = default_resolve_by(changes["window_end"])
    for name, value in changes.items():
        setattr(question, name, value)
    question.full_clean()
    if SCHEDULE_FIELDS & set(changes):
        question.next_reminder_at = None
        question.reminder_round = 0
        question.next_escalation_at = None
    question.save()
    if tags is not None:
        question.tags.set(tags_from_names(tags))
    return question


def resolve_by_extend(*, question: Question, actor, resolve_by: datetime) -> Question:
    """Move the resolve-by deadline of a question awaiting resolution (owner or moderator)."""
    if not user_can_resolve_question(actor, question):
        raise PermissionDenied("Only the question's owner or a moderator can move its resolve-by date.")
    question.resolve_by = resolve_by
    question.full_clean()
    question.next_escalation_at = None
    question.save(update_fields=["resolve_by", "next_escalation_at", "updated_at"])
    return question


@transaction.atomic
def question_open(*, question: Question, actor) -> Question:
    """Publish a draft: it starts accepting forecasts now."""
    question = Question.objects.select_for_update().get(pk=question.pk)
    if not user_can_edit_question(actor, question):
        raise PermissionDenied("Only the owner can open this question.")
    if question.status != Question.Status.DRAFT:
        raise ValidationError({"status": "Only a draft can be opened."})
    question.status = Question.Status.OPEN
    question.opened_at = timezone.now()
    question.save(update_fields=["status", "opened_at", "updated_at"])
    return question
