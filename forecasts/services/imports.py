"""Importing forecasts from other trackers and from another Forewarn: one service for the command and the admin.

Historic forecasts cannot go through `forecast_submit` (a user's own forecast is stamped now), so
an import is a bulk path with the same checks of values: probabilities through
`probability_from_input` (the same bounds), no forecast in the future or at or after its
question's window end, a source's statement with its quote and URL. Questions are built by
`question_build` (the rules of `question_create`: team, historical records closed at their
window end, resolve-by) and resolved through the resolution service's transition table, at the
time the file says; scores come from the scoring service's `scores_from_forecasts`.

A question is matched by its external key (the format and the file's id for it, or a hash of
what identifies it), a forecast by its author, time and probability, a user by username (an
unknown one is created inactive and flagged as imported), a source by name: importing the same
file twice changes nothing. Every bad row is reported with its line; unless `partial`, a file
with any bad row writes nothing.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import connection, transaction
from django.utils import timezone

from forecasts.access import user_can_resolve_question
from forecasts.import_formats import ImportRow, RowError, UnreadableFile, file_read
from forecasts.models import Forecast, Profile, Question, ResolutionEvent, Score, Source, Team, within_year_bounds
from forecasts.services.crowd import questions_crowd_rebuild
from forecasts.services.forecasts import probability_from_input
from forecasts.services.questions import check_team, question_build
from forecasts.services.resolutions import ACTION_FOR_OUTCOME, TRANSITIONS, ResolutionDetails, question_resolve
from forecasts.services.scores import is_scored, question_scores_recompute, scores_from_forecasts, scoring_cutoff

BATCH_SIZE = 2_000
CRITERIA = "Imported from {fmt}: resolves as it was resolved there."
NOTE = "Imported from {fmt}."
FOREIGN_QUESTION = "A question with this key exists and only its owner or a moderator may import into it."
IN_THE_FUTURE = "made_at: a forecast cannot be dated in the future."
AFTER_WINDOW = "made_at: made at or after the question's window end ({window_end}), so it could never count."
DISAGREES = "The question's {name} differs from line {line} of the same question."
CONFLICTING_OUTCOME = "The question is already {status} here ({outcome}); the file says {file_outcome}."
check_url = URLValidator(schemes=["http", "https"])


class ImportFailed(Exception):
    """The file had bad rows (or could not be read at all) and nothing was written."""

    def __init__(self, report: "ImportReport"):
        super().__init__(f"{len(report.errors)} bad rows; nothing imported.")
        self.report = report


@dataclass
class ImportReport:
    """What an import did (or, with dry_run, would do), and each bad row."""

    fmt: str
    dry_run: bool = False
    partial: bool = False
    rows: int = 0
    questions_created: int = 0
    questions_matched: int = 0
    questions_resolved: int = 0
    forecasts_created: int = 0
    forecasts_present: int = 0
    users_created: int = 0
    sources_created: int = 0
    scores_stored: int = 0
    errors: list[RowError] = field(default_factory=list)

    def summary(self) -> str:
        verb = "Would import" if self.dry_run else "Imported"
        text = (
            f"{verb} {self.forecasts_created} forecasts from {self.fmt} ({self.forecasts_present} already here) on "
            f"{self.questions_created} new and {self.questions_matched} existing questions; "
            f"{self.questions_resolved} questions resolved, {self.scores_stored} scores; "
            f"{self.users_created} new imported users, {self.sources_created} new sources."
        )
        if self.errors:
            text += f" {len(self.errors)} bad rows {'skipped' if self.partial else 'found'}."
        return text


@dataclass
class Candidate:
    """A row that passed its own checks: its probability and phrase as Forewarn stores them."""

    row: ImportRow
    probability: float
    phrase: str
    yardstick: str


def message_of(error: ValidationError) -> str:
    if hasattr(error, "error_dict"):
        return "; ".join(f"{name}: {' '.join(messages)}" for name, messages in error.message_dict.items())
    return " ".join(error.messages)


def row_checked(row: ImportRow, *, now: datetime, window_end: datetime) -> Candidate:
    """The row's own values checked by Forewarn's rules; raises ValidationError with the reason."""
    text = row.probability.strip()
    percent = text.endswith("%")
    value, phrase, yardstick = probability_from_input(
        probability=None if percent else text, percent=text[:-1] if percent else None
    )
    if row.phrase and row.yardstick in Forecast.Yardstick.values and len(row.phrase) <= 60:
        phrase, yardstick = row.phrase, row.yardstick
    for name in ("made_at", "window_end", "window_start", "resolved_at", "opened_at"):
        moment = getattr(row, name)
        if moment is not None and not within_year_bounds(moment):
            raise ValidationError({name: "Must be between the years 1900 and 2999."})
    if row.made_at > now:
        raise ValidationError(IN_THE_FUTURE)
    if row.made_at >= window_end:
        raise ValidationError(AFTER_WINDOW.format(window_end=window_end.isoformat()))
    if row.source:
        if not row.quote or not row.url:
            raise ValidationError("A source's statement needs its quote and URL.")
        check_url(row.url)
    elif not row.forecaster:
        raise ValidationError("forecaster: required.")
    return Candidate(row, value, phrase, yardstick)


def groups_of(rows: list[ImportRow], errors: list[RowError]) -> dict[str, list[ImportRow]]:
    """Rows by question key, in file order; a row disagreeing with its question's first row is an error."""
    groups: dict[str, list[ImportRow]] = {}
    for row in rows:
        group = groups.setdefault(row.question_key, [])
        if group:
            first = group[0]
            for name in ("title", "window_end", "outcome"):
                if getattr(row, name) != getattr(first, name):
                    errors.append(RowError(row.line, DISAGREES.format(name=name.replace("_", " "), line=first.line)))
                    break
            else:
                group.append(row)
        else:
            group.append(row)
    return groups


def author_key(question_key, forecaster: str, source: str, made_at: datetime, probability: float) -> tuple:
    return (question_key, "source" if source else "forecaster", source or forecaster, made_at, probability)


def resolution_moment(first: ImportRow, *, now: datetime) -> datetime:
    """When the question was resolved: as the file says, else at its window end (or now if that is later)."""
    return first.resolved_at or min(first.window_end, now)


def question_new(
    fmt: str, rows: list[ImportRow], *, owner, team: Team | None, now: datetime
) -> tuple[Question, ResolutionEvent | None]:
    """The unsaved question for a group of rows, resolved as the file says; raises ValidationError."""
    first = rows[0]
    if first.resolved_at is not None and first.resolved_at > now:
        raise ValidationError({"resolved_at": "A resolution cannot be dated in the future."})
    opened_at = first.opened_at
    if opened_at is None and not first.extra.get("exact_opening"):
        opened_at = min(row.made_at for row in rows)
    question = question_build(
        owner=owner,
        team=team,
        title=first.title,
        kind=first.kind or Question.Kind.OTHER,
        resolution_criteria=CRITERIA.format(fmt=fmt),
        details=first.details,
        window_start=first.window_start,
        window_end=first.window_end,
        resolve_by=None,
        opened_at=opened_at,
        external_key=first.question_key,
    )
    if first.extra.get("exact_opening") and question.status == Question.Status.OPEN:
        question.opened_at = first.opened_at or question.opened_at
    if first.closed_at is not None:
        question.closed_at = first.closed_at
    question.full_clean(exclude=["owner", "team", "source"], validate_unique=False, validate_constraints=False)
    if not first.outcome:
        return question, None
    action = ACTION_FOR_OUTCOME[first.outcome]
    previous_status = question.status
    at = resolution_moment(first, now=now)
    TRANSITIONS[(question.status, action)](
        question,
        ResolutionDetails(outcome=first.outcome, note=NOTE.format(fmt=fmt), occurred_at=first.occurred_at),
        actor=owner,
        now=at,
    )
    event = ResolutionEvent(
        action=action,
        outcome=question.outcome,
        previous_status=previous_status,
        previous_outcome="",
        actor=owner,
        created_at=at,
        note=NOTE.format(fmt=fmt),
        occurred_at=question.occurred_at,
        notified_at=now,  # history: nobody is told of a resolution made elsewhere long ago
    )
    return question, event


def users_for(candidates: list[Candidate]) -> tuple[dict[str, object], list]:
    """{username: user} for every forecaster named, and the unsaved inactive users still to create."""
    names = {c.row.forecaster: c.row.forecaster_name for c in candidates if not c.row.source}
    User = get_user_model()
    users = {user.username: user for user in User.objects.filter(username__in=list(names))}
    missing = [
        User(username=name, first_name=names[name][:150], is_active=False, password=make_password(None))
        for name in names
        if name not in users
    ]
    return users, missing


@transaction.atomic
def forecasts_import(
    *, text: str, fmt: str, owner, team: Team | None = None, dry_run: bool = False, partial: bool = False
) -> ImportReport:
    """Import a file of forecasts in `fmt` as `owner`; raises ImportFailed (nothing written) on bad rows unless partial."""
    report = ImportReport(fmt=fmt, dry_run=dry_run, partial=partial)
    try:
        parsed = file_read(text, fmt=fmt)
    except UnreadableFile as error:
        report.errors.append(RowError(1, str(error)))
        raise ImportFailed(report) from error
    try:
        check_team(owner, team)
    except ValidationError as error:
        report.errors.append(RowError(1, message_of(error)))
        raise ImportFailed(report) from error
    now = timezone.now()
    errors = list(parsed.errors)
    report.rows = len(parsed.rows) + len(parsed.errors)
    groups = groups_of(parsed.rows, errors)
    existing = {q.external_key: q for q in Question.objects.filter(external_key__in=list(groups))}
    present = {
        author_key(key, username or "", name or "", made_at, probability)
        for key, username, name, made_at, probability in Forecast.objects.filter(
            question__external_key__in=list(existing)
        ).values_list("question__external_key", "forecaster__username", "source__name", "made_at", "probability")
    }

    new_questions: dict[str, tuple[Question, ResolutionEvent | None]] = {}
    to_resolve: dict[str, str] = {}
    candidates: list[Candidate] = []
    for key, rows in groups.items():
        question = existing.get(key)
        try:
            if question is None:
                new_questions[key] = question_new(fmt, rows, owner=owner, team=team, now=now)
            else:
                check_existing(question, rows[0], owner=owner, to_resolve=to_resolve)
        except ValidationError as error:
            errors += [RowError(row.line, message_of(error)) for row in rows]
            new_questions.pop(key, None)
            continue
        window_end = (question or new_questions[key][0]).window_end
        for row in rows:
            try:
                candidates.append(row_checked(row, now=now, window_end=window_end))
            except ValidationError as error:
                errors.append(RowError(row.line, message_of(error)))
    report.errors = sorted(errors, key=lambda error: error.line)
    if report.errors and not partial:
        raise ImportFailed(report)

    fresh, seen = [], set(present)
    for candidate in candidates:
        row = candidate.row
        key = author_key(row.question_key, row.forecaster, row.source, row.made_at, candidate.probability)
        if key in seen:
            report.forecasts_present += 1
            continue
        seen.add(key)
        fresh.append(candidate)
    # A question is written only with at least one good row (with partial, its other rows may be bad).
    wanted = {c.row.question_key for c in candidates}
    new_questions = {key: value for key, value in new_questions.items() if key in wanted}
    report.questions_matched = len(wanted & set(existing))
    to_resolve = {key: outcome for key, outcome in to_resolve.items() if key in wanted}
    write(report, fresh, new_questions, existing, to_resolve, owner=owner, fmt=fmt, now=now)
    if dry_run:
        transaction.set_rollback(True)
    return report


def check_existing(question: Question, first: ImportRow, *, owner, to_resolve: dict) -> None:
    """A matched question takes the file's forecasts if the importer may change it; its outcome must agree."""
    if not user_can_resolve_question(owner, question):
        raise ValidationError(FOREIGN_QUESTION)
    if question.status == Question.Status.DRAFT:
        raise ValidationError("The question with this key is a draft here: open it first.")
    if not first.outcome:
        return
    if question.is_final:
        if question.outcome != first.outcome:
            raise ValidationError(
                CONFLICTING_OUTCOME.format(
                    status=question.get_status_display().lower(), outcome=question.outcome, file_outcome=first.outcome
                )
            )
        return
    if first.outcome == Question.Outcome.NO and question.window_end > timezone.now():
        raise ValidationError({"outcome": "NO can only be decided once the window has closed."})
    to_resolve[question.external_key] = first.outcome


def write(report, fresh, new_questions, existing, to_resolve, *, owner, fmt, now) -> None:
    """Every write of an import, in bulk: users, sources, questions, resolutions, forecasts, crowd, scores."""
    users, missing_users = users_for(fresh)
    if missing_users:
        created = get_user_model().objects.bulk_create(missing_users, batch_size=BATCH_SIZE)
        Profile.objects.bulk_create([Profile(user=user, is_imported=True) for user in created], batch_size=BATCH_SIZE)
        users |= {user.username: user for user in created}
        report.users_created = len(created)
    source_names = {c.row.source for c in fresh if c.row.source}
    sources = {source.name: source for source in Source.objects.filter(name__in=source_names)}
    missing_sources = [Source(name=name, created_by=owner) for name in source_names if name not in sources]
    if missing_sources:
        sources |= {source.name: source for source in Source.objects.bulk_create(missing_sources)}
        report.sources_created = len(missing_sources)

    questions = dict(existing)
    created_questions = Question.objects.bulk_create([q for q, _ in new_questions.values()], batch_size=BATCH_SIZE)
    questions |= {question.external_key: question for question in created_questions}
    report.questions_created = len(created_questions)
    events = []
    for key, (_, event) in new_questions.items():
        if event is not None:
            event.question = questions[key]
            events.append(event)
    ResolutionEvent.objects.bulk_create(events, batch_size=BATCH_SIZE)
    for event in events:
        event.question.current_resolution = event
    Question.objects.bulk_update([event.question for event in events], ["current_resolution"], batch_size=BATCH_SIZE)

    rows = [
        (
            questions[c.row.question_key].pk,
            None if c.row.source else users[c.row.forecaster].pk,
            sources[c.row.source].pk if c.row.source else None,
            c.row.made_at,
            c.probability,
            c.phrase,
            c.yardstick,
            c.row.quote if c.row.source else "",
            c.row.url if c.row.source else "",
        )
        for c in fresh
    ]
    forecasts = forecasts_insert(rows, recorded_by_id=owner.pk, now=now)
    report.forecasts_created = len(forecasts)
    touched = {forecast["question_id"] for forecast in forecasts}
    questions_crowd_rebuild(question_ids=sorted(touched))

    by_question = defaultdict(list)
    for forecast in forecasts:
        by_question[forecast["question_id"]].append(forecast)
    scores = []
    for question in created_questions:
        if is_scored(question):
            cutoff = scoring_cutoff(question)
            counted = sorted((f for f in by_question[question.pk] if f["made_at"] < cutoff), key=forecast_order)
            scores += scores_from_forecasts(question, counted, computed_at=now)
    models_insert(Score, scores)
    report.scores_stored = len(scores)
    report.questions_resolved = len(events)
    for key, question in existing.items():
        if key in to_resolve:
            question_resolve(question=question, actor=owner, outcome=to_resolve[key], note=NOTE.format(fmt=fmt))
            report.questions_resolved += 1
        elif question.pk in touched and is_scored(question):
            report.scores_stored += question_scores_recompute(question_id=question.pk)


def forecast_order(forecast: dict) -> tuple:
    return forecast["made_at"], forecast["id"]


FORECAST_COLUMNS = (
    "question_id",
    "forecaster_id",
    "source_id",
    "made_at",
    "probability",
    "phrase",
    "yardstick",
    "quote",
    "url",
)


def forecasts_insert(rows: list[tuple], *, recorded_by_id: int, now: datetime) -> list[dict]:
    """Insert forecasts given as FORECAST_COLUMNS tuples; returns each as a dict with its id.

    On PostgreSQL the ids are reserved from the table's sequence in one query and the rows COPYed
    (several times faster than INSERT for 100,000 rows); elsewhere they go through bulk_create.
    Either way the database checks every constraint of every row.
    """
    if not rows:
        return []
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [Forecast._meta.db_table, len(rows)],
            )
            ids = [row[0] for row in cursor.fetchall()]
        columns = ("id", *FORECAST_COLUMNS, "recorded_by_id", "recorded_at", "rationale")
        rows_copy(
            Forecast._meta.db_table,
            columns,
            ((pk, *row, recorded_by_id, now, "") for pk, row in zip(ids, rows, strict=True)),
        )
    else:
        created = Forecast.objects.bulk_create(
            [
                Forecast(
                    **dict(zip(FORECAST_COLUMNS, row, strict=True)), recorded_by_id=recorded_by_id, recorded_at=now
                )
                for row in rows
            ],
            batch_size=BATCH_SIZE,
        )
        ids = [forecast.pk for forecast in created]
    return [{"id": pk, **dict(zip(FORECAST_COLUMNS, row, strict=True))} for pk, row in zip(ids, rows, strict=True)]


def models_insert(model, objects: list) -> None:
    """Insert unsaved rows whose ids nobody needs: COPY on PostgreSQL, bulk_create elsewhere."""
    if not objects:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_create(objects, batch_size=BATCH_SIZE)
        return
    fields = [field.attname for field in model._meta.concrete_fields if not field.primary_key]
    rows_copy(model._meta.db_table, fields, ([getattr(obj, name) for name in fields] for obj in objects))


def rows_copy(table: str, columns, rows) -> None:
    """PostgreSQL COPY of value tuples into `table`."""
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
