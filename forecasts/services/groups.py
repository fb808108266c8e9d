"""Question groups (DESIGN section 13): filing a `when` ladder or a `which` set with its members,
forecasting and resolving the whole group in one transaction.

Members are ordinary questions, written through the question services: `question_create`,
`forecast_submit` and the resolution state machine (`resolution_change`), so every member keeps
its history, scores and notices exactly as a lone question does. A group-level write is all or
nothing: the first member that refuses rolls the whole group back, and the error names the
member's index (`forecasts.2.percent`, `members.1.outcome`).
"""

import math
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from forecasts.access import user_can_resolve_group
from forecasts.exceptions import StateConflict
from forecasts.models import MAX_MEMBERS, MIN_MEMBERS, Forecast, Question, QuestionGroup, Source, Team
from forecasts.services.forecasts import forecast_submit, probability_from_input
from forecasts.services.questions import question_create, question_open
from forecasts.services.resolutions import (
    ACTION_FOR_OUTCOME,
    NOT_ALLOWED_TO_RESOLVE,
    Action,
    ResolutionDetails,
    resolution_change,
)

Kind = QuestionGroup.Kind
Status = Question.Status

# A `which` forecaster's probabilities must sum to 1 within this.
SUM_TOLERANCE = 0.005
NOT_MONOTONE = "A ladder's probabilities cannot decrease: this one is below the one before it ({previous:g})."
NOT_SUMMING_TO_ONE = (
    "The options' probabilities must sum to 1 (within {tolerance:g}); these sum to {total:g}."
    " Ask for them to be scaled to 1 (normalize) if that is what you mean."
)
WRONG_COUNT = "Give one forecast per member: this group has {members}, not {given}."
TOO_FEW = f"A group needs at least {MIN_MEMBERS} members."
TOO_MANY = f"A group has at most {MAX_MEMBERS} members."


def member_error(error: ValidationError, prefix: str, *, keep_fields: bool = True) -> ValidationError:
    """The member's error with each field named under `prefix` (`forecasts.2.percent`), or as
    `prefix` alone without `keep_fields` (`probabilities.2`); 409s stay 409s."""
    fields = error.error_dict if hasattr(error, "error_dict") else {"": error.error_list}
    renamed: dict[str, list] = {}
    for field, messages in fields.items():
        renamed.setdefault(f"{prefix}.{field}" if field and keep_fields else prefix, []).extend(messages)
    if isinstance(error, StateConflict):
        (field, messages), *_ = renamed.items()
        first = messages[0]
        return StateConflict(field, first.messages[0], code=first.code or "status_conflict")
    return ValidationError(renamed)


def members_of(group: QuestionGroup, *, lock: bool = False) -> list[Question]:
    """The group's members in ladder or option order (locked FOR UPDATE when asked)."""
    members = Question.objects.filter(group_id=group.pk).order_by("group_position")
    return list(members.select_for_update(of=("self",)) if lock else members)


def group_status_refresh(group: QuestionGroup) -> None:
    """Store the status the members give the group (visibility reads it: a draft group is its owner's)."""
    QuestionGroup.objects.filter(pk=group.pk).statuses_sync()
    group.refresh_from_db(fields=["status", "updated_at"])


# Filing ---------------------------------------------------------------------------------------


def check_member_count(field: str, values: Sequence) -> None:
    if len(values) < MIN_MEMBERS:
        raise ValidationError({field: ValidationError(TOO_FEW, code="too_few_members")})
    if len(values) > MAX_MEMBERS:
        raise ValidationError({field: ValidationError(TOO_MANY, code="too_many_members")})


def check_window_ends(window_start: datetime | None, window_ends: Sequence[datetime]) -> None:
    """A ladder's ends strictly increase, and the first comes after the shared start."""
    check_member_count("window_ends", window_ends)
    for index in range(1, len(window_ends)):
        if window_ends[index] <= window_ends[index - 1]:
            message = "Each window end must come after the one before it."
            raise ValidationError({f"window_ends.{index}": ValidationError(message, code="not_increasing")})
    if window_start is not None and window_ends[0] <= window_start:
        message = "The first window end must come after the window start."
        raise ValidationError({"window_ends.0": ValidationError(message, code="before_start")})


def check_options(options: Sequence[str]) -> list[str]:
    """Options are distinct (ignoring case and surrounding spaces) and not empty."""
    check_member_count("options", options)
    labels, seen = [], {}
    for index, option in enumerate(options):
        label = " ".join(str(option).split())
        if not label:
            raise ValidationError({f"options.{index}": ValidationError("An option needs a label.", code="blank")})
        if label.casefold() in seen:
            message = f"Duplicates option {seen[label.casefold()]}."
            raise ValidationError({f"options.{index}": ValidationError(message, code="duplicate_option")})
        seen[label.casefold()] = index
        labels.append(label)
    return labels


def last_day(window_end: datetime) -> date:
    """The last day a window covers: a window ending at 00:00 UTC ends with the day before."""
    moment = window_end.astimezone(UTC)
    return (
        (moment - timedelta(microseconds=1)).date()
        if moment.timetz() == time.min.replace(tzinfo=UTC)
        else moment.date()
    )


def member_title(title: str, *, window_end: datetime | None = None, option: str = "") -> str:
    """`<group title>: by 15 Feb 2022` for a rung of a ladder, `<group title>: <option>` for an option."""
    suffix = option or f"by {last_day(window_end):%-d %b %Y}"
    base = title.rstrip().removesuffix("?").rstrip()  # the member's suffix ends the sentence
    room = 300 - len(suffix) - 2
    return f"{base[:room]}: {suffix}"


@transaction.atomic
def group_create(
    *,
    owner,
    kind: str,
    title: str,
    resolution_criteria: str,
    window_ends: Sequence[datetime] = (),
    window_end: datetime | None = None,
    options: Sequence[str] = (),
    window_start: datetime | None = None,
    details: str = "",
    question_kind: str = Question.Kind.OTHER,
    tags=(),
    team: Team | None = None,
    source: Source | None = None,
    source_quote: str = "",
    source_statement_date: date | None = None,
    source_url: str = "",
    draft: bool = False,
    opened_at: datetime | None = None,
    external_key: str = "",
) -> QuestionGroup:
    """File a group and its members: one question per window end (`when`) or per option (`which`)."""
    if kind == Kind.WHEN:
        if options:
            raise ValidationError({"options": "A `when` group takes window_ends, not options."})
        check_window_ends(window_start, window_ends)
        members = [{"window_end": end, "title": member_title(title, window_end=end)} for end in window_ends]
    elif kind == Kind.WHICH:
        if window_ends:
            raise ValidationError({"window_ends": "A `which` group takes one window_end and options."})
        if window_end is None:
            raise ValidationError({"window_end": ValidationError("This field is required.", code="required")})
        labels = check_options(options)
        members = [
            {"window_end": window_end, "title": member_title(title, option=label), "option_label": label}
            for label in labels
        ]
    else:
        raise ValidationError({"kind": "Choose when or which."})
    group = QuestionGroup(
        kind=kind,
        title=title,
        details=details,
        resolution_criteria=resolution_criteria,
        owner=owner,
        team=team,
        status=Status.DRAFT if draft else Status.OPEN,
        source=source,
        source_quote=source_quote,
        source_statement_date=source_statement_date,
        source_url=source_url,
        external_key=external_key,
    )
    group.full_clean()
    group.save()
    created = []
    for position, member in enumerate(members):
        criteria = (
            f"{resolution_criteria}\n\nThis member resolves YES if the event happens by the end of"
            f" {last_day(member['window_end']):%-d %B %Y} (the window ends {member['window_end']:%-d %B %Y %H:%M} UTC)."
            if kind == Kind.WHEN
            else f"{resolution_criteria}\n\nThis member resolves YES if the outcome is: {member['option_label']}."
        )
        try:
            question = question_create(
                owner=owner,
                title=member["title"],
                resolution_criteria=criteria,
                window_start=window_start,
                window_end=member["window_end"],
                kind=question_kind,
                details=details,
                tags=tags,
                team=team,
                source=source,
                source_quote=source_quote,
                source_statement_date=source_statement_date,
                source_url=source_url,
                draft=draft,
                opened_at=opened_at,
                external_key=f"{external_key}:{position}" if external_key else "",
            )
        except ValidationError as error:
            # A field of the group itself (team, title...), except the dates, which are the member's.
            if hasattr(error, "error_dict") and set(error.error_dict) & {"window_end", "resolve_by"}:
                raise member_error(error, "window_ends" if kind == Kind.WHEN else "window_end") from error
            raise
        question.group = group
        question.group_position = position
        question.option_label = member.get("option_label", "")
        question.save(update_fields=["group", "group_position", "option_label"])
        created.append(question)
    group_status_refresh(group)
    return group


@transaction.atomic
def group_open(*, group: QuestionGroup, actor) -> QuestionGroup:
    """Publish a draft group: every member opens (or is a historical record if its window has ended)."""
    group = QuestionGroup.objects.select_for_update().get(pk=group.pk)
    for member in members_of(group, lock=True):
        question_open(question=member, actor=actor)
    group_status_refresh(group)
    return group


# Forecasting ----------------------------------------------------------------------------------


def coherent_probabilities(kind: str, values: list[float], *, normalize: bool, field: str) -> list[float]:
    """The forecaster's member probabilities, checked against the group's structure.

    `when`: non-decreasing along the ladder (a 400 naming the first index that drops); `which`:
    summing to 1 within SUM_TOLERANCE, or scaled to 1 when `normalize` is asked for.
    """
    if kind == Kind.WHEN:
        for index in range(1, len(values)):
            if values[index] < values[index - 1]:
                message = NOT_MONOTONE.format(previous=values[index - 1])
                raise ValidationError({f"{field}.{index}": ValidationError(message, code="not_monotone")})
        return values
    total = math.fsum(values)
    if normalize and total > 0:
        return [value / total for value in values]
    if abs(total - 1.0) > SUM_TOLERANCE:
        message = NOT_SUMMING_TO_ONE.format(tolerance=SUM_TOLERANCE, total=round(total, 6))
        raise ValidationError({field: ValidationError(message, code="not_summing_to_one")})
    return values


def member_inputs(inputs: Sequence[dict], *, field: str) -> list[tuple[float, str, str]]:
    """Each member's (probability, phrase, yardstick) from the question API's input forms."""
    parsed = []
    for index, given in enumerate(inputs):
        try:
            parsed.append(probability_from_input(**given))
        except ValidationError as error:
            # A bare number has no field of its own: the error names its place in the list.
            raise member_error(error, f"{field}.{index}", keep_fields=field != "probabilities") from error
    return parsed


@transaction.atomic
def group_forecast_submit(
    *,
    group: QuestionGroup,
    recorded_by,
    inputs: Sequence[dict],
    field: str = "forecasts",
    normalize: bool = False,
    rationale: str = "",
    source: Source | None = None,
    made_at: datetime | None = None,
    quote: str = "",
    url: str = "",
) -> list[Forecast]:
    """Record one forecast per member, all or none; `inputs` are {probability | percent | phrase, yardstick}.

    `field` names the request's list in errors (`probabilities` or `forecasts`).
    """
    members = members_of(group)
    if len(inputs) != len(members):
        message = WRONG_COUNT.format(members=len(members), given=len(inputs))
        raise ValidationError({field: ValidationError(message, code="wrong_count")})
    parsed = member_inputs(inputs, field=field)
    values = coherent_probabilities(group.kind, [value for value, _, _ in parsed], normalize=normalize, field=field)
    forecasts = []
    for index, (member, value, (original, phrase, yardstick)) in enumerate(zip(members, values, parsed, strict=True)):
        # A normalised value is the forecaster's number no longer: the phrase no longer describes it.
        keeps_phrase = value == original
        try:
            forecasts.append(
                forecast_submit(
                    question=member,
                    recorded_by=recorded_by,
                    probability=None if keeps_phrase and phrase else value,
                    phrase=phrase if keeps_phrase and phrase else None,
                    yardstick=yardstick if keeps_phrase and phrase else None,
                    rationale=rationale,
                    source=source,
                    made_at=made_at,
                    quote=quote,
                    url=url,
                )
            )
        except ValidationError as error:
            raise member_error(error, f"{field}.{index}") from error
    return forecasts


# Resolving ------------------------------------------------------------------------------------


def start_of_day(day: date | datetime) -> datetime:
    """A date as 00:00 UTC that day; a datetime as it is."""
    if isinstance(day, datetime):
        return day
    return datetime.combine(day, time.min, tzinfo=UTC)


def member_outcomes(
    group: QuestionGroup,
    members: Sequence[Question],
    *,
    occurred_on: date | datetime | None,
    not_by: bool,
    option: int | None,
) -> list[tuple[str, datetime | None]]:
    """(outcome, occurred_at) per member: `when` by the event's date, `which` by the winning option."""
    if group.kind == Kind.WHEN:
        if option is not None:
            raise ValidationError({"option": "A `when` group resolves with occurred_on or not_by."})
        if (occurred_on is None) == (not not_by):
            raise ValidationError({"occurred_on": "Give either the date the event occurred or not_by: true."})
        if not_by:
            return [(Question.Outcome.NO, None)] * len(members)
        occurred_at = start_of_day(occurred_on)
        return [
            (Question.Outcome.YES, occurred_at)
            if occurred_at <= member.window_end and (member.window_start is None or occurred_at >= member.window_start)
            else (Question.Outcome.NO, None)
            for member in members
        ]
    if occurred_on is not None or not_by:
        field = "occurred_on" if occurred_on is not None else "not_by"
        raise ValidationError({field: "A `which` group resolves with the index of the winning option."})
    if option is None:
        raise ValidationError({"option": ValidationError("This field is required.", code="required")})
    if not 0 <= option < len(members):
        raise ValidationError({"option": f"Choose an option from 0 to {len(members) - 1}."})
    return [(Question.Outcome.YES if index == option else Question.Outcome.NO, None) for index in range(len(members))]


def group_change(*, group: QuestionGroup, actor, changes: Sequence[tuple[str, ResolutionDetails]]) -> QuestionGroup:
    """Apply one resolution change per member through the state machine (inside the caller's transaction)."""
    group = QuestionGroup.objects.select_for_update().get(pk=group.pk)
    if not user_can_resolve_group(actor, group):
        raise PermissionDenied(NOT_ALLOWED_TO_RESOLVE)
    members = members_of(group, lock=True)
    for index, (member, (member_action, details)) in enumerate(zip(members, changes, strict=True)):
        try:
            resolution_change(question=member, actor=actor, action=member_action, details=details)
        except ValidationError as error:
            raise member_error(error, f"members.{index}") from error
    group_status_refresh(group)
    return group


@transaction.atomic
def group_resolve(
    *,
    group: QuestionGroup,
    actor,
    occurred_on: date | datetime | None = None,
    not_by: bool = False,
    option: int | None = None,
    evidence_url: str = "",
    note: str = "",
) -> QuestionGroup:
    """Resolve every member at once: by the event's date or `not_by` (`when`), by the winning option (`which`)."""
    members = members_of(group)
    outcomes = member_outcomes(group, members, occurred_on=occurred_on, not_by=not_by, option=option)
    changes = [
        (
            ACTION_FOR_OUTCOME[outcome],
            ResolutionDetails(outcome=outcome, evidence_url=evidence_url, note=note, occurred_at=occurred_at),
        )
        for outcome, occurred_at in outcomes
    ]
    return group_change(group=group, actor=actor, changes=changes)


@transaction.atomic
def group_annul(*, group: QuestionGroup, actor, evidence_url: str = "", note: str = "") -> QuestionGroup:
    """Void every member of the group: none of them will be scored."""
    details = ResolutionDetails(outcome=Question.Outcome.ANNULLED, evidence_url=evidence_url, note=note)
    changes = [(Action.ANNUL, details)] * len(members_of(group))
    return group_change(group=group, actor=actor, changes=changes)


@transaction.atomic
def group_unresolve(*, group: QuestionGroup, actor, note: str = "") -> QuestionGroup:
    """Undo the resolution or annulment of every member: each awaits resolution again (or reopens)."""
    changes = [(Action.UNRESOLVE, ResolutionDetails(note=note))] * len(members_of(group))
    return group_change(group=group, actor=actor, changes=changes)
