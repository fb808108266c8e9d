"""Load the seed questions of seeds/*.json through the services; a second run changes nothing."""

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from forecasts.models import Question, QuestionGroup, Source
from forecasts.services import (
    forecast_submit,
    group_create,
    group_resolve,
    members_of,
    question_create,
    question_resolve,
    question_scores_recompute,
    seed_questions_hand_over,
    source_create,
)

SEEDS_USERNAME = "forewarn-seeds"
# The practice questions belong to the demo forecaster (`demo_users` creates it) once it exists:
# whichever of the two commands runs last hands them over.
PRACTICE_KEY_PREFIX = "practice-"
PRACTICE_OWNER_USERNAME = "forecaster"


@dataclass
class LoadSummary:
    created: int = 0
    already_present: int = 0
    statements: int = 0
    resolved: int = 0
    groups_created: int = 0
    groups_present: int = 0


def seeds_user():
    """The inactive system user that owns, records and resolves the seed questions."""
    user, created = get_user_model().objects.get_or_create(
        username=SEEDS_USERNAME,
        defaults={"is_active": False, "first_name": "Forewarn", "last_name": "seed data"},
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def practice_questions_hand_over() -> int:
    """Give the practice questions still owned by the seeds' user to the demo forecaster, if it exists."""
    owner = get_user_model().objects.filter(username=PRACTICE_OWNER_USERNAME, is_active=True).first()
    if owner is None:
        return 0
    return seed_questions_hand_over(external_key_prefix=PRACTICE_KEY_PREFIX, from_owner=seeds_user(), to_owner=owner)


def moment(value: str) -> datetime:
    """An aware UTC datetime from an ISO 8601 string such as 2022-01-14T17:00:00Z."""
    parsed = parse_datetime(value)
    if parsed is None or timezone.is_naive(parsed):
        raise ValueError(f"{value!r} is not an ISO 8601 datetime with a time zone.")
    return parsed.astimezone(UTC)


def window_bounds(window: dict, loaded_at: datetime) -> tuple[datetime | None, datetime]:
    """(start, end) of a question's window: absolute dates, or days counted from this load."""
    if "end_days_after_load" in window:
        start_days = window.get("start_days_after_load")
        start = None if start_days is None else loaded_at + timedelta(days=start_days)
        return start, loaded_at + timedelta(days=window["end_days_after_load"])
    return (moment(window["start"]) if window.get("start") else None), moment(window["end"])


def seed_source(definition: dict, recorded_by) -> Source:
    """The source of that name, added through the service if it is new."""
    existing = Source.objects.filter(name=definition["name"]).first()
    if existing is not None:
        return existing
    return source_create(
        created_by=recorded_by,
        name=definition["name"],
        kind=definition.get("kind", Source.Kind.ORGANISATION),
        url=definition.get("url", ""),
        description=definition.get("description", ""),
        aliases=definition.get("aliases", ()),
    )


def seed_statement_record(*, question: Question, statement: dict, made_at: datetime, sources: dict, user) -> None:
    """Record one source's statement on a seed question, with its phrase, quote and link."""
    forecast_submit(
        question=question,
        recorded_by=user,
        source=sources[statement["source"]],
        made_at=made_at,
        phrase=statement["phrase"],
        yardstick=statement["yardstick"],
        quote=statement["quote"],
        url=statement["url"],
        rationale=statement.get("rationale", ""),
    )


def seed_question_load(
    *, entry: dict, source_definitions: dict, user, loaded_at: datetime, summary: LoadSummary
) -> None:
    """File one seed question, record its source statements, then score its historical outcome."""
    statements = entry.get("statements", [])
    for statement in statements:
        if statement["source"] not in source_definitions:
            raise ValueError(f"unknown source {statement['source']!r}")
    sources = {key: seed_source(source_definitions[key], user) for key in {s["source"] for s in statements}}
    window_start, window_end = window_bounds(entry["window"], loaded_at)
    made_at = [moment(statement["made_at"]) for statement in statements]
    primary = statements[0] if statements else None
    question = question_create(
        owner=user,
        external_key=entry["key"],
        title=entry["title"],
        details=entry.get("details", ""),
        resolution_criteria=entry["resolution_criteria"],
        kind=entry.get("kind", Question.Kind.OTHER),
        tags=entry.get("tags", ()),
        window_start=window_start,
        window_end=window_end,
        resolve_by=moment(entry["resolve_by"]) if entry.get("resolve_by") else None,
        source=sources[primary["source"]] if primary else None,
        source_quote=primary["quote"] if primary else "",
        source_statement_date=made_at[0].date() if primary else None,
        source_url=primary["url"] if primary else "",
        opened_at=min(made_at) if made_at else loaded_at,
    )
    for statement, statement_made_at in zip(statements, made_at, strict=False):
        seed_statement_record(
            question=question, statement=statement, made_at=statement_made_at, sources=sources, user=user
        )
        summary.statements += 1
    outcome = entry.get("outcome")
    if outcome:
        question_resolve(
            question=question,
            actor=user,
            outcome=outcome["result"],
            evidence_url=outcome.get("evidence_url", ""),
            note=outcome.get("note", ""),
            occurred_at=moment(outcome["occurred_at"]) if outcome.get("occurred_at") else None,
        )
        summary.resolved += 1


def seed_group_load(*, entry: dict, source_definitions: dict, user, summary: LoadSummary) -> None:
    """File one seed question group, record each member's source statements, then resolve the whole group."""
    statements = entry.get("statements", [])
    keys = {statement["source"] for statement in statements} | (
        {entry["statement"]["source"]} if entry.get("statement") else set()
    )
    unknown = keys - set(source_definitions)
    if unknown:
        raise ValueError(f"unknown source {sorted(unknown)[0]!r}")
    sources = {key: seed_source(source_definitions[key], user) for key in keys}
    statement = entry.get("statement") or {}
    made_at = [moment(statement["made_at"]) for statement in statements]
    group = group_create(
        owner=user,
        external_key=entry["key"],
        kind=entry["kind"],
        title=entry["title"],
        details=entry.get("details", ""),
        resolution_criteria=entry["resolution_criteria"],
        question_kind=entry.get("question_kind", Question.Kind.OTHER),
        tags=entry.get("tags", ()),
        window_start=moment(entry["window_start"]) if entry.get("window_start") else None,
        window_ends=[moment(end) for end in entry.get("window_ends", [])],
        window_end=moment(entry["window_end"]) if entry.get("window_end") else None,
        options=entry.get("options", ()),
        source=sources[statement["source"]] if statement else None,
        source_quote=statement.get("quote", ""),
        source_statement_date=datetime.fromisoformat(statement["date"]).date() if statement.get("date") else None,
        source_url=statement.get("url", ""),
        opened_at=min(made_at) if made_at else None,
    )
    members = members_of(group)
    for statement, statement_made_at in zip(statements, made_at, strict=True):
        question = members[statement["member"]]
        seed_statement_record(
            question=question, statement=statement, made_at=statement_made_at, sources=sources, user=user
        )
        summary.statements += 1
    outcome = entry.get("outcome")
    if outcome:
        group_resolve(
            group=group,
            actor=user,
            occurred_on=moment(outcome["occurred_at"]) if outcome.get("occurred_at") else None,
            not_by=outcome.get("not_by", False),
            option=outcome.get("option"),
            evidence_url=outcome.get("evidence_url", ""),
            note=outcome.get("note", ""),
        )
        summary.resolved += len(members)


def seed_groups_load(*, path: Path, data: dict, source_definitions: dict, user, summary: LoadSummary) -> None:
    """Load a file's question groups; a group already present (by key) is left alone."""
    for entry in data.get("groups", []):
        key = entry.get("key", "")
        if not key:
            raise CommandError(f"{path.name}: every group needs a 'key'.")
        group_summary = LoadSummary()
        try:
            with transaction.atomic():
                if QuestionGroup.objects.filter(external_key=key).exists():
                    summary.groups_present += 1
                    continue
                seed_group_load(entry=entry, source_definitions=source_definitions, user=user, summary=group_summary)
        except IntegrityError as error:
            if not QuestionGroup.objects.filter(external_key=key).exists():
                raise CommandError(f"{path.name}: group {key!r}: {error}") from error
            summary.groups_present += 1
            continue
        except (ValidationError, KeyError, ValueError, TypeError, IndexError) as error:
            raise CommandError(f"{path.name}: group {key!r}: {error}") from error
        summary.groups_created += 1
        summary.statements += group_summary.statements
        summary.resolved += group_summary.resolved


def seed_files(directory: Path) -> list[tuple[Path, dict]]:
    paths = sorted(directory.glob("*.json"))
    if not paths:
        raise CommandError(f"No seed files (*.json) in {directory}.")
    files = []
    for path in paths:
        try:
            files.append((path, json.loads(path.read_text(encoding="utf-8"))))
        except json.JSONDecodeError as error:
            raise CommandError(f"{path.name} is not valid JSON: {error}") from error
    return files


class Command(BaseCommand):
    help = "Load the seed questions in seeds/*.json. Questions already present (by key) are left alone."

    def add_arguments(self, parser):
        parser.add_argument(
            "--seeds-dir",
            type=Path,
            default=Path(settings.BASE_DIR) / "seeds",
            help="Folder of seed JSON files (default: the project's seeds/).",
        )

    def handle(self, *args, seeds_dir: Path, **options):
        summary = LoadSummary()
        loaded_at = timezone.now()
        user = seeds_user()
        for path, data in seed_files(seeds_dir):
            source_definitions = {source["key"]: source for source in data.get("sources", [])}
            for entry in data.get("questions", []):
                key = entry.get("key", "")
                if not key:
                    raise CommandError(f"{path.name}: every question needs a 'key'.")
                question_summary = LoadSummary()
                try:
                    with transaction.atomic():
                        if Question.objects.filter(external_key=key).exists():
                            summary.already_present += 1
                            continue
                        seed_question_load(
                            entry=entry,
                            source_definitions=source_definitions,
                            user=user,
                            loaded_at=loaded_at,
                            summary=question_summary,
                        )
                except IntegrityError as error:
                    # Another loader may have filed the same key between our check and our insert.
                    if not Question.objects.filter(external_key=key).exists():
                        raise CommandError(f"{path.name}: question {key!r}: {error}") from error
                    summary.already_present += 1
                    continue
                except (ValidationError, KeyError, ValueError, TypeError) as error:
                    raise CommandError(f"{path.name}: question {key!r}: {error}") from error
                summary.created += 1
                summary.statements += question_summary.statements
                summary.resolved += question_summary.resolved
                if options["verbosity"] >= 2:
                    self.stdout.write(f"  created {key}")
            seed_groups_load(path=path, data=data, source_definitions=source_definitions, user=user, summary=summary)
        if summary.resolved:
            # Score now rather than wait for the worker, so statistics show from the first page view.
            for question_id in Question.objects.filter(
                external_key__gt="", status=Question.Status.RESOLVED
            ).values_list("pk", flat=True):
                question_scores_recompute(question_id=question_id)
        handed_over = practice_questions_hand_over()
        if handed_over and options["verbosity"] >= 1:
            self.stdout.write(f"  {handed_over} practice question(s) given to {PRACTICE_OWNER_USERNAME!r}.")
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeds: {summary.created} questions created, {summary.already_present} already present"
                f"; {summary.groups_created} question groups created, {summary.groups_present} already present"
                f" ({summary.statements} source statements recorded, {summary.resolved} questions resolved)."
            )
        )
