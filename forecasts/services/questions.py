"""Creating and editing questions."""

from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from forecasts.access import (
    user_can_edit_question,
    user_can_resolve_question,
    user_is_moderator,
    user_may_file_in_team,
)
from forecasts.exceptions import StateConflict
from forecasts.models import (
    MAX_TAGS,
    Forecast,
    Question,
    QuestionGroup,
    Source,
    Tag,
    Team,
    WindowChange,
    within_year_bounds,
)
from forecasts.services.reminders import reminder_offset

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
    "crowd_hidden",
}
SCHEDULE_FIELDS = {"window_end", "resolve_by"}
WINDOW_FIELDS = ("window_start", "window_end")

TEAM_CHANGE_NEEDS_MODERATOR = (
    "Only a moderator can make a team question public or move it to another team:"
    " its forecasts and rationales would reach people outside the team."
)
WINDOW_CUTS_OFF_FORECASTS = (
    "The window cannot end at or before the latest forecast ({made_at}): that would leave existing"
    " forecasts unscored. Ask a moderator if it must."
)
WINDOW_ENDS_BEFORE_OPENING = "The window cannot end before the question opened ({opened_at})."
HISTORICAL_OPENED_TOO_LATE = "A question filed after its window ended must have opened before that end."


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


def check_team_change(question: Question, *, actor, team: Team | None) -> None:
    """A team question keeps its team unless a moderator moves it: moving it exposes its forecasts."""
    if question.team_id is not None and not user_is_moderator(actor):
        raise ValidationError({"team": TEAM_CHANGE_NEEDS_MODERATOR})
    check_team(actor, team)


def check_window_end(question: Question, *, actor, window_end: datetime) -> int:
    """Refuse, except for moderators, a window end that cuts off forecasts or precedes the opening.

    Returns how many existing forecasts the new end cuts off (non-zero only for a moderator).
    """
    forecasts = Forecast.objects.filter(question_id=question.pk)
    cut_off = forecasts.filter(made_at__gte=window_end).count()
    if user_is_moderator(actor):
        return cut_off
    if cut_off:
        latest = forecasts.aggregate(latest=Max("made_at"))["latest"]
        raise ValidationError({"window_end": WINDOW_CUTS_OFF_FORECASTS.format(made_at=latest.isoformat())})
    if question.opened_at is not None and window_end < question.opened_at:
        raise ValidationError(
            {"window_end": WINDOW_ENDS_BEFORE_OPENING.format(opened_at=question.opened_at.isoformat())}
        )
    return 0


def close_at_window_end(question: Question) -> None:
    """Assign the fields of a question closed at its window end, its first reminder due (unsaved)."""
    question.status = Question.Status.AWAITING_RESOLUTION
    question.closed_at = question.window_end
    question.next_reminder_at = question.window_end + reminder_offset(0)
    question.reminder_round = 0
    question.next_escalation_at = question.resolve_by


def historical_opening(*, window_start: datetime | None, window_end: datetime, opened_at: datetime | None):
    """When a question filed after its window ended opened: as given, else at the window start.

    With neither there is no open span, and its statements count from their own dates.
    """
    opened_at = opened_at or window_start
    if opened_at is not None and opened_at > window_end:
        raise ValidationError({"window_end": HISTORICAL_OPENED_TOO_LATE})
    return opened_at


def question_build(
    *,
    owner,
    title: str,
    resolution_criteria: str,
    window_end: datetime,
    kind: str = Question.Kind.OTHER,
    details: str = "",
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
    crowd_hidden: str | None = None,
) -> Question:
    """An unsaved, unchecked question as `question_create` would file it (imports save many at once).

    `crowd_hidden` (blind forecasting) defaults to the team's `crowd_hidden_default`, `never` without a team.

    `opened_at` defaults to now; a question logged after the fact may start at its statement date.
    A question filed after its window ended is a historical record: it is closed at once at its
    window end, ready to resolve, and takes only source statements dated before that end.
    """
    now = timezone.now()
    historical = not draft and window_end is not None and window_end <= now
    if historical:
        opened_at = historical_opening(window_start=window_start, window_end=window_end, opened_at=opened_at)
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
        opened_at=None if draft or historical else opened_at or now,
        created_at=now,
        external_key=external_key,
        crowd_hidden=crowd_hidden or (team.crowd_hidden_default if team else Question.CrowdHidden.NEVER),
    )
    if historical:
        question.opened_at = opened_at
        close_at_window_end(question)
    return question


@transaction.atomic
def question_create(*, owner, tags=(), team: Team | None = None, **fields) -> Question:
    """File a new question, open for forecasts unless saved as a draft (see `question_build`)."""
    check_team(owner, team)
    question = question_build(owner=owner, team=team, **fields)
    question.full_clean()
    question.save()
    question.tags.set(tags_from_names(tags))
    return question


@transaction.atomic
def question_update(*, question: Question, actor, tags=None, **changes) -> Question:
    """Edit a draft or open question; moving its dates re-arms the reminder schedule.

    Once the window has closed, the owner or a moderator may still move resolve-by (an
    investigation takes longer than planned): that re-arms the escalation to moderators only.
    Only a moderator may end an open question's window at or before an existing forecast or
    before its opening, or move a team question out of its team; every window move of an open
    question is kept in its history (`WindowChange`). A window moved into the past closes it.
    """
    question = Question.objects.select_for_update().get(pk=question.pk)
    if question.status == Question.Status.AWAITING_RESOLUTION and set(changes) == {"resolve_by"} and tags is None:
        return resolve_by_extend(question=question, actor=actor, resolve_by=changes["resolve_by"])
    # Owner and moderator alike learn that the state is the obstacle, not who they are.
    if question.status not in Question.EDITABLE_STATUSES and user_can_resolve_question(actor, question):
        message = f"A question that is {question.get_status_display().lower()} cannot be edited."
        raise StateConflict("status", message, code="question_not_editable")
    if not user_can_edit_question(actor, question):
        raise PermissionDenied("Only the owner can edit this question, and only while it is open.")
    unknown = set(changes) - EDITABLE_FIELDS
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "This field cannot be changed here."))
    if "team" in changes and changes["team"] != question.team:
        check_team_change(question, actor=actor, team=changes["team"])
    is_open = question.status == Question.Status.OPEN
    window_moved = is_open and any(
        name in changes and changes[name] != getattr(question, name) for name in WINDOW_FIELDS
    )
    forecasts_cut_off = 0
    if is_open and "window_end" in changes and changes["window_end"] != question.window_end:
        forecasts_cut_off = check_window_end(question, actor=actor, window_end=changes["window_end"])
    if "window_end" in changes and "resolve_by" not in changes and changes["window_end"] > question.resolve_by:
        changes["resolve_by"] = default_resolve_by(changes["window_end"])
    previous_window = {name: getattr(question, name) for name in WINDOW_FIELDS}
    for name, value in changes.items():
        setattr(question, name, value)
    question.full_clean()
    if SCHEDULE_FIELDS & set(changes):
        question.next_reminder_at = None
        question.reminder_round = 0
        question.next_escalation_at = None
    if is_open and question.window_end <= timezone.now():
        close_at_window_end(question)
    question.save()
    if window_moved:
        WindowChange.objects.create(
            question=question,
            actor=actor,
            previous_window_start=previous_window["window_start"],
            previous_window_end=previous_window["window_end"],
            window_start=question.window_start,
            window_end=question.window_end,
            forecasts_cut_off=forecasts_cut_off,
        )
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
    """Publish a draft: it starts accepting forecasts now, or is a historical record if its window has ended."""
    question = Question.objects.select_for_update().get(pk=question.pk)
    if not user_can_edit_question(actor, question):
        raise PermissionDenied("Only the owner can open this question.")
    if question.status != Question.Status.DRAFT:
        raise StateConflict("status", "Only a draft can be opened.", code="question_not_draft")
    now = timezone.now()
    if question.window_end <= now:
        question.opened_at = historical_opening(
            window_start=question.window_start, window_end=question.window_end, opened_at=None
        )
        close_at_window_end(question)
    else:
        question.status = Question.Status.OPEN
        question.opened_at = now
    question.save()
    if question.group_id is not None:
        QuestionGroup.objects.filter(pk=question.group_id).statuses_sync()
    return question


@transaction.atomic
def question_tally_rebuild() -> None:
    """Rebuild the question tally from the questions (PostgreSQL; elsewhere there is none).

    Triggers on the question table keep it in step with every write; this is for data loaded with
    triggers off (the bench's COPY).
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT forecasts_question_tally_rebuild()")


@transaction.atomic
def seed_questions_hand_over(*, external_key_prefix: str, from_owner, to_owner) -> int:
    """Give the seed questions (by key prefix) still owned by `from_owner` to `to_owner`; how many moved.

    For the practice questions, which the seeds' system user files and the demo forecaster then owns:
    so the forecaster may resolve them and their reminders reach someone. A rerun moves nothing.
    """
    if not to_owner.is_active:
        raise ValidationError({"owner": "An inactive account cannot own questions: nobody would resolve them."})
    questions = Question.objects.select_for_update().filter(
        external_key__startswith=external_key_prefix, owner=from_owner
    )
    return questions.update(owner=to_owner, updated_at=timezone.now())
