"""A draft for the analyst: the kind of event, a yes/no title and resolution criteria."""

import re
from datetime import date

# The first kind whose words appear wins: a pretext is about an invasion, but it is a pretext.
KIND_WORDS = (
    ("pretext_operation", r"pretext|false[\s-]flag|provocation|staged|stage an?|sabotage|disinformation|"
                          r"justification|fabricat\w+|information operations"),
    ("sanctions", r"sanction\w*|embargo\w*|tariffs?|export controls?|asset freezes?|price cap|blacklist\w*"),
    ("invasion_window", r"invad\w+|invasion|incursion|ground offensive|cross the border|all-out assault|"
                        r"ground assault|annex\w*|occupy|occupation"),
    ("escalation", r"strikes?|missiles?|mobili[sz]\w+|deploy\w*|troops|station\w*|nuclear|escalat\w+|"
                   r"retaliat\w+|blockade|shelling|clash\w*|drones?|attack\w*|offensive|bomb\w*|military|war\b|"
                   r"fighting|hostilities|seize|blockade|incursions?|border"),
    ("diplomatic", r"talks|summit|ceasefire|cease-fire|truce|agreement|accord|deal|treaty|negotiat\w+|recogni[sz]\w+|"
                   r"accession|membership|join|admit\w*|elections?|vote|referendum|ambassador|embassy|"
                   r"diplomat\w*|resolution|peace|visit|meet\w*|sign\w*"),
)  # fmt: skip
COMPILED_KINDS = tuple((kind, re.compile(rf"\b(?:{words})", re.IGNORECASE)) for kind, words in KIND_WORDS)
MODALS = re.compile(
    r"\b(?:will|would|could|may|might|can|shall|is going to|are going to|is set to|are set to|is about to|is due to)\b"
    r"(?:\s+(?:not|never))?(?:\s+(?:probably|likely|almost certainly|soon|still|also|only))?\s+",
    re.IGNORECASE,
)
TO_CUE = re.compile(
    r"\b(?:(?:un)?likely|expected|poised|set|plans?|planning|intends?|aims?|preparing|threat\w*|vow\w*|pledg\w*|"
    r"promis\w*|working|ready|about|going|due|no plans?|no intention)\s+(?:\w+\s+){0,3}?to\s+",
    re.IGNORECASE,
)
PREPARING_NOUN = re.compile(
    r"\b(?:preparing|prepping|readying|working on|planning)\s+(?=[“\"]?(?:an?|the|for)\b)", re.IGNORECASE
)
PRONOUN_SUBJECTS = ("it", "they", "he", "she", "we")
CREDIBLE = re.compile(
    r"(?:that\s+)?(?P<what>[^,“”\"]+?)\s+(?:is|are|was|were)\s+[“\"]?(?:very|highly)\s+credible", re.IGNORECASE
)


def kind_for(text: str) -> str:
    """The kind of event the statement is about, from Forewarn's list; `other` when unsure."""
    for kind, pattern in COMPILED_KINDS:
        if pattern.search(text):
            return kind
    return "other"


def day_text(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def window_words(start: date | None, end: date, published: date) -> str:
    if start and start > published:
        return f"between {day_text(start)} and {day_text(end)}"
    return f"by {day_text(end)}"


def event_clause(sentence: str, cue_start: int, window_text: str, speaker: str) -> tuple[str, str] | None:
    """(subject, predicate in the base form) of the event a statement is about, when the grammar shows it."""
    clause = sentence[cue_start:] if cue_start else sentence
    head = sentence[:cue_start]
    if window_text:
        clause = clause.replace(window_text, " ")
    clause = re.split(
        r"[;:]|,\s+(?:according|said|says|a\s|an\s|the\s\w+\s(?:said|says)|as\s|officials?|analysts?)", clause
    )[0]
    clause = clause.strip(' ,.“”"')
    for pattern, noun in ((TO_CUE, False), (MODALS, False), (PREPARING_NOUN, True)):
        match = pattern.match(clause) or pattern.search(clause[:40])
        if match:
            predicate = clause[match.end() :].strip()
            if noun:
                predicate = "carry out " + re.sub(r"^for\s+", "", predicate)
            subject = subject_of(head + clause[: match.start()])
            if subject.lower() in PRONOUN_SUBJECTS:
                subject = speaker
            if predicate and subject:
                return subject, tidy(predicate)
    return None


def subject_of(text: str) -> str:
    text = re.split(
        r"\b(?:that|said|says|told|believes?|think|thinks|warned|declared|noted|expects?|according to [^,]+,)\s+", text
    )[-1]
    text = re.split(r",\s*", text.strip(" ,"))[-1]
    text = re.sub(r"(?:\s+(?:already|still|now|also|reportedly|actively|quietly|itself))+$", "", text.strip())
    text = re.sub(r"\s+(?:is|are|was|were|has|have|had|been|has been|had been|is not|are not|isn't|aren't)$", "", text)
    text = text.strip(' “”"')
    if not text or len(text.split()) > 8 or text.lower() in ("this", "there"):
        return ""
    return text


def tidy(predicate: str) -> str:
    predicate = re.sub(r"\s+", " ", predicate).strip(' ,.“”"')
    predicate = re.sub(r"[“”\"]", "", predicate)
    predicate = re.sub(r"\s+(?:in order to|so as to|to give|as part of)\b.*$", "", predicate)
    predicate = re.sub(r",?\s+(?:and|but) (?:could|may|might|would|will|can)\b.*$", "", predicate)
    predicate = re.sub(r",\s+(?:in the event|if|unless|once|should)\b.*$", "", predicate)
    return predicate[:200].rstrip(" ,")


def draft_title(
    *,
    sentence: str,
    speaker: str,
    cue_phrase: str,
    cue_start: int,
    window_start,
    window_end,
    window_text: str,
    published: date,
) -> str:
    """A yes/no question about the statement's event inside its window."""
    when = window_words(window_start, window_end, published)
    parts = event_clause(sentence, cue_start, window_text, speaker)
    credible = CREDIBLE.search(sentence) if cue_phrase == "very credible" else None
    if credible:
        what = re.split(r"\b(?:declared|said|says|called|described|that)\s+", credible.group("what"))[-1]
        title = f"Will {tidy(what)} prove correct {when}?"
    elif parts:
        subject, predicate = parts
        if subject.split()[0] in ("The", "A", "An"):
            subject = subject[0].lower() + subject[1:]
        title = f"Will {subject} {predicate} {when}?"
    else:
        gist = tidy(
            re.split(r"\b(?:said|says|declared|warned|noted|believes?|thinks?|that)\s+", sentence[:cue_start])[-1]
            + sentence[cue_start:]
        )
        title = f"Will this come true {when}: “{gist}”?"
    title = re.sub(r"\s+", " ", title)
    return title if len(title) <= 300 else title[:296].rstrip() + "...?"


def draft_criteria(*, title: str, speaker: str, quote: str, window_start, window_end, published: date) -> str:
    """Resolution criteria that make the draft title decidable: the window, the evidence, the default."""
    start = window_start or published
    event = re.sub(r"^Will\s+", "", title).rstrip("?")
    event = re.sub(r"\s+(?:by|between)\s+\d.*$", "", event)
    return (
        f"YES if, between {day_text(start)} 00:00 UTC and {day_text(window_end)} 23:59 UTC, the following "
        f"happens, as reported by at least two major news organisations or confirmed officially: {event}. "
        f"NO otherwise. From a statement by {speaker}: “{quote}”"
    )
