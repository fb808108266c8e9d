"""Words of likelihood in a sentence: the yardsticks' phrases, and the hedges reports use instead.

A hedge has no yardstick of its own: it maps to a documented range (docs/intake.md), its midpoint
is the suggested probability, and it is marked so the analyst confirms it.
"""

import re
from dataclasses import dataclass

from forecasts.estimative import YARDSTICKS, Phrase, phrase_lookup

HEDGE = "hedge"


@dataclass(frozen=True)
class Cue:
    """One word of likelihood found in a sentence: where, and what it implies."""

    entry: Phrase
    start: int
    end: int
    # Intent cues ("plans to", "threatened to") are the party's own statement when nobody else is quoted.
    intent: bool = False
    # Reported-speech cues ("will", "would") count only beside an attribution ("officials said").
    needs_attribution: bool = False

    @property
    def is_hedge(self) -> bool:
        return self.entry.yardstick == HEDGE


def hedge(phrase: str, low: float, high: float) -> Phrase:
    return Phrase(HEDGE, phrase, low, high)


# (pattern, entry, intent, needs attribution): the first pattern that matches wins, so the more
# specific come first ("no plans to" before "plans to", "will probably" before "will").
HEDGES: tuple[tuple[str, Phrase, bool, bool], ...] = (
    (r"\bno chance\b", hedge("no chance", 0.01, 0.05), False, False),
    (
        r"\b(?:no|not any) (?:plans?|intention|intent)s? (?:to|of)\b|\bnot (?:planning|intending|going) to\b"
        r"|\b(?:does|do|did)(?: not|n't) (?:plan|intend) to\b|\brul(?:ed|es|ing) out\b",
        hedge("no plans to", 0.05, 0.20),
        True,
        False,
    ),
    (r"\bvery credible\b|\bhighly credible\b", hedge("very credible", 0.80, 0.95), False, False),
    (
        r"\b(?:will|would) (?:most )?probably\b|\bprobably (?:will|would)\b|\bwill almost certainly\b",
        hedge("will probably", 0.60, 0.80),
        False,
        False,
    ),
    (r"\bpoised to\b|\bon the verge of\b|\bon course to\b", hedge("is poised to", 0.70, 0.90), False, False),
    (r"\b(?:widely |fully )?expect(?:ed|s)? (?:\w+ ){0,4}?to\b", hedge("is expected to", 0.65, 0.85), False, False),
    (
        r"\b(?:plans?|planning|intends?|intending|aims?|aiming) to\b|\bplans for\b",
        hedge("plans to", 0.60, 0.85),
        True,
        False,
    ),
    (
        r"\b(?:preparing|prepping|gearing up|making preparations|readying)\b",
        hedge("is preparing", 0.55, 0.80),
        True,
        False,
    ),
    (r"\bworking (?:to|on|toward|towards)\b", hedge("is working to", 0.55, 0.80), True, False),
    (r"\bthreat(?:en(?:ed|s|ing)?)? to\b", hedge("threatened to", 0.30, 0.60), True, False),
    (r"\bhop(?:e|es|ed|ing) to\b", hedge("hopes to", 0.40, 0.70), True, False),
    (r"\b(?:vow|pledg|promis)(?:ed|es|e|ing|s)? to\b", hedge("vowed to", 0.60, 0.85), True, False),
    (
        r"\b(?:is|are|was|were) (?:going|set|about|due|scheduled) to\b|\bon track to\b",
        hedge("is going to", 0.75, 0.95),
        False,
        False,
    ),
    (r"\b(?:will|would) (?:not|never)\b|\bwon't\b|\bwouldn't\b", hedge("will not", 0.05, 0.20), False, True),
    (
        r"\b(?:could|may|might)\b(?! have\b)(?! not be (?:reached|verified|confirmed)\b)",
        hedge("could", 0.20, 0.60),
        False,
        False,
    ),
    (
        r"(?<!\bas )(?<!\bmade )\bpossibl[ey]\b|\ba possibility\b|\b(?:the )?risk (?:of|that)\b",
        hedge("possible", 0.20, 0.60),
        False,
        False,
    ),
    (r"\b(?:will|would)\b(?! have\b)|\b'll\b", hedge("will", 0.75, 0.95), False, True),
)
COMPILED_HEDGES = tuple(
    (re.compile(pattern), entry, intent, attributed) for pattern, entry, intent, attributed in HEDGES
)

# Kent's and ICD 203's words, longest first so "very unlikely" wins over "unlikely" and "likely".
YARDSTICK_WORDS = sorted(
    ((name, entry) for entries in YARDSTICKS.values() for entry in entries for name in (entry.phrase, *entry.synonyms)),
    key=lambda pair: (-len(pair[0]), pair[1].yardstick != "icd203"),
)
YARDSTICK_PATTERN = re.compile(
    r"\b(" + "|".join(re.escape(name).replace(r"\ ", r"[\s-]+") for name, _ in YARDSTICK_WORDS) + r")\b"
)
WORD_ENTRY = {}
for name, entry in YARDSTICK_WORDS:
    WORD_ENTRY.setdefault(name, entry)
# "not likely" is ICD 203's "unlikely", and so on: the yardstick's own opposite.
OPPOSITES = {
    "likely": "unlikely",
    "very likely": "very unlikely",
    "almost certain": "almost no chance",
    "unlikely": "likely",
    "very unlikely": "very likely",
    "roughly even chance": "roughly even chance",
}
# Hedges that are negative already: a "not" before them is part of their own words.
NEVER_NEGATED = ("no plans to", "will not", "no chance")
NEGATION_BEFORE = re.compile(r"(?:\bnot|n't|\bnever|\bno longer)\s+(?:\w+\s+)?$")


def negated(entry: Phrase) -> Phrase:
    """The opposite of a phrase: a yardstick's own opposite word, or a hedge's range turned round."""
    if entry.yardstick == "icd203" and entry.phrase in OPPOSITES:
        return phrase_lookup(phrase=OPPOSITES[entry.phrase], yardstick="icd203")
    if entry.yardstick == "kent":
        return Phrase("kent", "probably not", 0.30, 0.30) if entry.probability > 0.5 else entry
    return Phrase(entry.yardstick, f"not {entry.phrase}", round(1 - entry.high, 6), round(1 - entry.low, 6))


def likelihood_cues(sentence: str) -> list[Cue]:
    """Every word of likelihood in the sentence, in order of preference: yardstick words, then hedges."""
    lowered = sentence.lower()
    cues = []
    for match in YARDSTICK_PATTERN.finditer(lowered):
        entry = WORD_ENTRY[" ".join(match.group(1).replace("-", " ").split())]
        if NEGATION_BEFORE.search(lowered[: match.start()][-20:]):
            entry = negated(entry)
        cues.append(Cue(entry, match.start(), match.end()))
    for pattern, entry, intent, attributed in COMPILED_HEDGES:
        # "May" with a capital is the month; the modal is written in lower case.
        source = sentence if entry.phrase == "could" else lowered
        for match in pattern.finditer(source):
            found = entry
            if entry.phrase not in NEVER_NEGATED and NEGATION_BEFORE.search(lowered[: match.start()][-20:]):
                found = negated(entry)
            cues.append(Cue(found, match.start(), match.end(), intent, attributed))
    return cues
