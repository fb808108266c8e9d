"""Accepting a report's statements: draft questions, their sources, and each source's statement."""

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from forecasts.access import sources_visible_to
from forecasts.estimative import YARDSTICKS
from forecasts.intake.speakers import person_name
from forecasts.models import Question, Source
from forecasts.services.forecasts import forecast_submit
from forecasts.services.questions import question_create
from forecasts.services.sources import source_create

KEY_PREFIX = "intake-"
NO_SPEAKER = "Name who made the statement, or choose an existing source."
NO_URL = "Give the report's URL: each statement is recorded with where it was published."
PUBLISHED_IN_FUTURE = "A report cannot be published in the future."
UNKNOWN_SOURCE = "No such source."
WINDOW_BEFORE_PUBLICATION = "The window must end after the report was published."


@dataclass
class ReportAcceptance:
    """What accepting a report's statements did: every statement's question, and which were new."""

    question_ids: list[int] = field(default_factory=list)
    created_ids: list[int] = field(default_factory=list)
    closed_ids: list[int] = field(default_factory=list)  # created closed: their windows had ended
    sources_created: int = 0


def intake_key(*, owner, url: str, text: str, quote: str) -> str:
    """The stable key of one statement of one report accepted by one analyst (so a repeat is a no-op)."""
    report = url.strip() or hashlib.sha256(text.encode()).hexdigest()
    wanted = " ".join(quote.split()).lower()
    digest = hashlib.sha256(f"{owner.pk}|{report}|{wanted}".encode()).hexdigest()
    return f"{KEY_PREFIX}{digest[:40]}"


def start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def statement_source(*, owner, statement: dict, publisher: str, cache: dict) -> tuple[Source, bool]:
    """The chosen source, or the one named by the speaker (added if new): (source, created)."""
    chosen = statement.get("source")
    if chosen is not None:
        source = sources_visible_to(owner).filter(pk=getattr(chosen, "pk", chosen)).first()
        if source is None:
            raise ValidationError({"source": UNKNOWN_SOURCE})
        return source, False
    speaker = " ".join((statement.get("speaker") or "").split())[:200]
    if not speaker:
        raise ValidationError({"speaker": NO_SPEAKER})
    if speaker.lower() in cache:
        return cache[speaker.lower()], False
    source = sources_visible_to(owner).filter(name__iexact=speaker).first()
    created = source is None
    if created:
        kind = Source.Kind.PERSON if person_name(speaker) else Source.Kind.ORGANISATION
        description = f"Added from a report by {publisher}." if publisher else "Added from a report."
        source = source_create(created_by=owner, name=speaker, kind=kind, description=description)
    cache[speaker.lower()] = source
    return source, created


def statement_probability(statement: dict) -> dict:
    """forecast_submit's probability arguments: a yardstick phrase as such, a hedge as its number."""
    yardstick = (statement.get("yardstick") or "").strip()
    if yardstick in YARDSTICKS and statement.get("phrase"):
        return {"phrase": statement["phrase"], "yardstick": yardstick}
    if statement.get("probability") is None:
        raise ValidationError({"probability": "Give a probability, or a phrase of the icd203 or kent yardstick."})
    return {"probability": statement["probability"]}


def statement_rationale(statement: dict, publisher: str) -> str:
    origin = f"Recorded from a report by {publisher}." if publisher else "Recorded from a report."
    if (statement.get("yardstick") or "") not in YARDSTICKS and statement.get("phrase"):
        return f"{origin} Its words were the hedge “{statement['phrase']}”: no yardstick defines it."
    return origin


def statement_accept(*, owner, report: dict, statement: dict, cache: dict, acceptance: ReportAcceptance) -> None:
    """One statement: its question (a draft, or a closed record if its window has ended) and forecast."""
    published = report["published_at"]
    key = intake_key(owner=owner, url=report["url"], text=report["text"], quote=statement["quote"])
    existing = Question.objects.filter(external_key=key).values_list("pk", flat=True).first()
    if existing is not None:
        acceptance.question_ids.append(existing)
        return
    source, created = statement_source(owner=owner, statement=statement, publisher=report["publisher"], cache=cache)
    window_end = start_of(statement["window_end"]) + timedelta(days=1)
    if window_end <= start_of(published):
        raise ValidationError({"window_end": WINDOW_BEFORE_PUBLICATION})
    window_start = statement.get("window_start")
    ended = window_end <= timezone.now()
    publisher = report["publisher"]
    question = question_create(
        owner=owner,
        title=statement["title"],
        resolution_criteria=statement["resolution_criteria"],
        kind=statement.get("kind") or Question.Kind.OTHER,
        details=f"From {publisher}'s report of {published.isoformat()}: {report['url']}"
        if publisher
        else f"From the report of {published.isoformat()}: {report['url']}",
        source=source,
        source_quote=statement["quote"],
        source_statement_date=published,
        source_url=report["url"],
        window_start=start_of(window_start) if window_start else None,
        window_end=window_end,
        draft=not ended,
        opened_at=start_of(published) if ended else None,
        external_key=key,
    )
    forecast_submit(
        question=question,
        recorded_by=owner,
        source=source,
        made_at=start_of(published),
        quote=statement["quote"],
        url=report["url"],
        rationale=statement_rationale(statement, publisher),
        **statement_probability(statement),
    )
    acceptance.question_ids.append(question.pk)
    acceptance.created_ids.append(question.pk)
    if ended:
        acceptance.closed_ids.append(question.pk)
    acceptance.sources_created += created


@transaction.atomic
def report_accept(
    *, owner, text: str, published_at: date, url: str, publisher: str = "", statements: list[dict]
) -> ReportAcceptance:
    """Accept a report's chosen statements at once: missing sources, one question and one source forecast each.

    A question is a draft owned by the caller, or, when its window has already ended, a record
    closed at its window end and ready to resolve. The same statement of the same report accepted
    again by the same analyst is found by its key and creates nothing. Errors name the statement:
    `{"statements": {index: {field: [...]}}}`, and nothing is written.
    """
    report = {"text": text, "published_at": published_at, "url": url.strip(), "publisher": publisher.strip()}
    errors = {}
    if not report["url"]:
        errors["url"] = NO_URL
    if published_at > timezone.now().date():
        errors["published_at"] = PUBLISHED_IN_FUTURE
    if errors:
        raise ValidationError(errors)
    acceptance = ReportAcceptance()
    cache: dict = {}
    failures = {}
    for index, statement in enumerate(statements):
        try:
            with transaction.atomic():
                statement_accept(owner=owner, report=report, statement=statement, cache=cache, acceptance=acceptance)
        except ValidationError as error:
            messages = error.message_dict if hasattr(error, "error_dict") else {"non_field_errors": error.messages}
            failures |= {f"statements.{index}.{name}": texts for name, texts in messages.items()}
            cache.clear()  # a source added inside the failed statement was rolled back with it
    if failures:
        raise ValidationError(failures)
    return acceptance
