"""From a report's text and publication date, the predictive statements an analyst would log."""

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import date

from forecasts.intake.drafting import draft_criteria, draft_title, kind_for
from forecasts.intake.likelihood import Cue, hedge, likelihood_cues
from forecasts.intake.speakers import (
    Attribution,
    CandidateSource,
    Mentions,
    attributions,
    person_name,
    resolve_speaker,
    source_match,
    subject_before,
)
from forecasts.intake.text import report_text, sentences
from forecasts.intake.windows import default_window, window_from_text

# A party's own statement of intent counts without anyone else being quoted.
OWN_WORD_CUES = ("threatened to", "vowed to", "no plans to", "not no plans to")
DENIED_INTENT = hedge("no plans to", 0.05, 0.20)
PAST_MODAL = re.compile(r"\b(?:could|may|might|would|should|must) have\b", re.IGNORECASE)


@dataclass(frozen=True)
class Statement:
    """One candidate statement, in the shape the intake API answers (dates as date objects)."""

    quote: str
    speaker: str
    source: int | None
    phrase: str
    yardstick: str
    probability: float
    window_start: date | None
    window_end: date
    window_text: str
    window_is_vague: bool
    kind: str
    title: str
    resolution_criteria: str
    start: int
    end: int

    @property
    def is_hedge(self) -> bool:
        return self.yardstick == "hedge"

    def as_dict(self) -> dict:
        return asdict(self)


def speaker_for(cue: Cue, sentence: str, found: list[Attribution]) -> tuple[str, bool] | None:
    """(who makes the statement, whether they deny it): the attribution nearest before the cue,
    else "according to", else one after it; a party's own threat or vow speaks for itself."""
    before = [item for item in found if item.end <= cue.start]
    after = [item for item in found if item.start >= cue.end]
    if before:
        before.sort(key=lambda item: item.end)
        chosen = before[-1]
        # "The envoy, Sung Kim, said Washington believes": a person speaking for a capital or a country.
        if len(before) > 1 and re.fullmatch(r"[A-Z][\w-]+", chosen.speaker) and person_name(before[-2].speaker):
            chosen = before[-2]
        return chosen.speaker, chosen.denial
    if after:
        chosen = min(after, key=lambda item: item.start)
        return chosen.speaker, chosen.denial
    if cue.intent and cue.entry.phrase in OWN_WORD_CUES:
        subject = subject_before(sentence, cue.start)
        if subject:
            return subject, False
    return None


def extract_statements(text: str, published: date, sources: Iterable[CandidateSource | dict] = ()) -> list[Statement]:
    """Every predictive statement of the report, in reading order, with speaker, source, window and draft."""
    text = report_text(text)
    candidates = [item if isinstance(item, CandidateSource) else CandidateSource(**item) for item in sources]
    mentions = Mentions()
    statements = []
    for sentence in sentences(text):
        words = sentence.text
        found = attributions(words)
        statement = None
        if not sentence.is_heading and not words.rstrip("”\"' ").endswith("?"):
            statement = statement_in(words, sentence.start, found, published, text, mentions, candidates)
        mentions.observe_people(words)
        for item in found:
            mentions.heard(resolve_speaker(item.speaker, before=text[: sentence.start], mentions=mentions))
        if statement is not None:
            statements.append(statement)
    return statements


def statement_in(words, offset, found, published, text, mentions, candidates) -> Statement | None:
    """The statement a sentence makes, if it makes one: its strongest word of likelihood with a speaker."""
    for cue in likelihood_cues(words):
        if PAST_MODAL.match(words, cue.start):
            continue
        if cue.needs_attribution and not found:
            continue
        who = speaker_for(cue, words, found)
        if who is None:
            continue
        speaker_phrase, denial = who
        entry = cue.entry
        if denial and entry.probability > 0.5:
            entry = DENIED_INTENT
        kind = kind_for(words)
        window = window_from_text(words, published, event_at=cue.start) or default_window(published, kind=kind)
        if window.end < published:
            return None  # about the past: already decided when the report came out
        mentions.observe_people(words)
        speaker = resolve_speaker(speaker_phrase, before=text[: offset + words.find(speaker_phrase)], mentions=mentions)
        title = draft_title(
            sentence=words,
            speaker=speaker,
            cue_phrase=entry.phrase,
            cue_start=cue.start,
            window_start=window.start,
            window_end=window.end,
            window_text=window.text,
            published=published,
        )
        return Statement(
            quote=words,
            speaker=speaker,
            source=source_match(speaker, candidates),
            phrase=entry.phrase,
            yardstick=entry.yardstick,
            probability=entry.probability,
            window_start=window.start,
            window_end=window.end,
            window_text=window.text,
            window_is_vague=window.is_vague,
            kind=kind,
            title=title,
            resolution_criteria=draft_criteria(
                title=title,
                speaker=speaker,
                quote=words,
                window_start=window.start,
                window_end=window.end,
                published=published,
            ),
            start=offset,
            end=offset + len(words),
        )
    return None
