"""Who makes a statement: the attribution in the sentence, resolved against earlier mentions, and
the existing source it matches.

"he" is the last person quoted; a surname alone is the person named in full earlier; "the bloc",
"the alliance" and "the country's" are the organisation or country named last before them; a
title without a name ("the press secretary") is the person who held it in an earlier mention.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process

ATTRIBUTION = re.compile(
    r"\b(?:said|says|say|saying|told|tells|warned|warns|warn|declared|declares|noted|notes|emphasi[sz]ed|"
    r"stressed|added|adds|believes?|believed|thinks?|thought|predicted|predicts?|expects|estimated|estimates?|"
    r"assessed|assesses|assess|concluded|concludes|argued|argues|cautioned|claimed|claims|insisted|insists|"
    r"stated|states|announced|announces|suggested|suggests|forecast|forecasts|projected|projects|wrote|writes|"
    r"judged|judges|judge|fears?|feared|acknowledged|conceded|signal(?:l)?ed|indicated|indicates|confirmed|"
    r"hinted|reckons?|reckoned|see|sees|put the (?:odds|chances?)|gave|give|maintain|maintains|maintained|"
    r"denied|denies|deny|dismissed|rejected|reiterated|repeated|calculated?|calculates|found|find|finds|"
    r"reported|reports|concede|anticipates?|anticipated|agreed|agree|accused|accuses|accuse)\b"
)
DENIAL = re.compile(r"\b(?:denied|denies|deny|dismissed|rejected)\b")
ACCORDING_TO = re.compile(r"\baccording to\s+(?P<who>[^,;.]+)", re.IGNORECASE)
BY_WHOM = re.compile(
    r"\b(?:threats?|warnings?|claims?|assessments?|estimates?|forecasts?|predictions?|statements?|"
    r"projections?|judgements?|judgments?|analysis|expectations?)\s+(?:made\s+)?(?:by|from)\s+(?P<who>[^,;.]+?)"
    r"(?=\s+(?:that|of|on|this|last)\b|[,;.]|$)"
)
REPORTING_WRAPPERS = re.compile(
    r"^(?:the\s+)?(?:latest\s+|new\s+|recent\s+)?(?:conclusions?|assessments?|findings?|estimates?|analysis|"
    r"reports?|statements?|projections?|forecasts?|view|judgements?|words?|an? (?:report|statement|assessment|"
    r"estimate|note|briefing|memo)|sources? close to)\s+(?:of|by|from|to)\s+",
    re.IGNORECASE,
)
TRAILING_PARTICIPLE = re.compile(
    r"\s+(?:announced|cited|quoted|reported|released|published|made|issued|shared|relayed)\b.*$", re.IGNORECASE
)
ADVERBIAL = re.compile(
    r"^(?:however|but|meanwhile|also|too|separately|moreover|still|yet|instead|indeed|now|so|"
    r"speaking (?:on|at|to|in|after|before) .*|on \w+day|(?:earlier|later) (?:this|last|on) \w+|"
    r"in (?:an?|his|her|its|their) [\w-]+(?: [\w-]+){0,3}|yesterday|today|on \w+ \d+|last \w+|this \w+|"
    r"as (?:cited|quoted|reported) by .*|at the same time|in response|in turn|for (?:his|her|its|their) part|"
    r"in (?:the|a) \w+|at (?:the|a) [\w ]+|after [\w ]+|while [\w ]+|earlier|later|privately|publicly)$",
    re.IGNORECASE,
)
LEADING_NOISE = re.compile(
    r"^(?:(?:and|but|while|as|so|also|independently|publicly|privately|separately|repeatedly|too|now|earlier|"
    r"later|again|then|that|on \w+day|on \w+ \d+|last \w+|this \w+|however)\b[\s,]*)+",
    re.IGNORECASE,
)
TRAILING_NOISE = re.compile(
    r"(?:[\s,]+(?:also|too|independently|publicly|privately|repeatedly|now|have|has|had|long|on \w+day|"
    r"earlier|later|again|still|already|recently|last \w+|this \w+))+$",
    re.IGNORECASE,
)
FINITE_VERB = re.compile(r"\b(?:is|are|was|were|has|have|had|will|would|could|may|might|can|does|did)\b")
DESCRIPTIVE_CLAUSE = re.compile(
    r"(?:who|which|whose|both|all|each|having|now|once|until|while|after|before|since|long|still)\b"
)
PRONOUNS = {"he", "she", "him", "her"}
GROUP_PRONOUNS = {"they", "it", "we"}
NAME = re.compile(
    r"\b([A-Z][a-zà-ÿ]+(?:-[A-Z][a-zà-ÿ]+)?(?:\s+(?:al-|bin\s+|de\s+|van\s+|von\s+)?[A-Z][a-zà-ÿ’'-]+){1,2})\b"
)
NOT_NAMES = {
    "House",
    "Department",
    "Ministry",
    "Council",
    "Union",
    "Agency",
    "Office",
    "Intelligence",
    "Forces",
    "Services",
    "Media",
    "Army",
    "Navy",
    "Bank",
    "Commission",
    "Organisation",
    "Organization",
    "Institute",
    "Group",
    "Party",
    "Government",
    "Nations",
    "States",
    "Kingdom",
    "Republic",
    "Federation",
    "Court",
    "Pentagon",
    "Kremlin",
    "Committee",
    "Fund",
    "Security",
    "Affairs",
    "Force",
    "Guard",
    "Corps",
    "Command",
    "Assembly",
    "Parliament",
    "Congress",
    "Senate",
    "Times",
    "Post",
    "News",
    "Press",
    "Reuters",
    "Association",
    "League",
    "Alliance",
    "Community",
    "Sea",
    "Ocean",
    "Strait",
    "Gulf",
    "Peninsula",
    "Island",
    "Islands",
    "River",
    "Mountains",
    "Region",
    "Province",
    "Street",
    "Square",
    "Treaty",
    "Stream",
    "Summit",
    "Conference",
    "Forum",
    "Programme",
    "Program",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
    "Eastern",
    "Western",
    "Northern",
    "Southern",
    "Central",
    "Latin",
    "American",
    "European",
    "African",
    "Asian",
    "Middle",
    "East",
    "West",
    "North",
    "South",
    "Minister",
    "Secretary",
    "President",
    "Prime",
    "Adviser",
    "Advisor",
    "General",
    "Director",
    "Ambassador",
    "Chancellor",
    "Spokesman",
    "Spokeswoman",
}
ROLE_HEADS = {
    "secretary",
    "spokesman",
    "spokeswoman",
    "spokesperson",
    "minister",
    "adviser",
    "advisor",
    "president",
    "chief",
    "general",
    "director",
    "ambassador",
    "envoy",
    "commander",
    "chancellor",
    "head",
    "leader",
    "governor",
    "mayor",
    "admiral",
    "chair",
    "chairman",
    "chairwoman",
    "premier",
    "negotiator",
    "representative",
    "secretary-general",
}
# Words of a title before a name ("deputy foreign minister"): the heads and their modifiers.
ROLE_WORDS = ROLE_HEADS | {
    "analyst",
    "colonel",
    "defence",
    "defense",
    "deputy",
    "economist",
    "emir",
    "for",
    "foreign",
    "king",
    "lieutenant",
    "major",
    "national",
    "of",
    "official",
    "press",
    "prime",
    "queen",
    "security",
    "senior",
    "sheikh",
    "state",
    "strategist",
    "the",
    "vice",
}

BLOC_WORDS = {
    "bloc": ("European Union", "EU", "ASEAN", "ECOWAS", "African Union", "Mercosur", "Gulf Cooperation Council",
             "GCC", "OPEC", "OPEC+", "Shanghai Cooperation Organisation", "BRICS", "G7", "G20", "Arab League",
             "Eurasian Economic Union", "SADC", "East African Community", "Commonwealth", "CARICOM"),
    "alliance": ("NATO", "AUKUS", "Collective Security Treaty Organisation", "CSTO", "Quad"),
    "union": ("European Union", "African Union", "Eurasian Economic Union"),
    "organisation": ("NATO", "OPEC", "World Health Organization", "OSCE", "IAEA", "United Nations", "WTO"),
    "organization": ("NATO", "OPEC", "World Health Organization", "OSCE", "IAEA", "United Nations", "WTO"),
    "agency": ("IAEA", "International Energy Agency", "IEA", "European Space Agency", "CIA", "UNHCR"),
    "body": ("United Nations", "UN Security Council", "IAEA", "OSCE", "WTO", "World Health Organization"),
    "group": ("G7", "G20", "BRICS", "OPEC+", "Hamas", "Hezbollah", "Wagner Group"),
}  # fmt: skip
COUNTRIES = {
    "Ukraine": "Ukrainian", "Russia": "Russian", "Belarus": "Belarusian", "Poland": "Polish", "Germany": "German",
    "France": "French", "Britain": "British", "United Kingdom": "British", "United States": "US", "America": "US",
    "China": "Chinese", "Taiwan": "Taiwanese", "Japan": "Japanese", "India": "Indian", "Pakistan": "Pakistani",
    "Iran": "Iranian", "Iraq": "Iraqi", "Israel": "Israeli", "Syria": "Syrian", "Lebanon": "Lebanese",
    "Turkey": "Turkish", "Egypt": "Egyptian", "Saudi Arabia": "Saudi", "Yemen": "Yemeni", "Sudan": "Sudanese",
    "Ethiopia": "Ethiopian", "Eritrea": "Eritrean", "Somalia": "Somali", "Kenya": "Kenyan", "Nigeria": "Nigerian",
    "Niger": "Nigerien", "Mali": "Malian", "Venezuela": "Venezuelan", "Colombia": "Colombian", "Cuba": "Cuban",
    "Mexico": "Mexican", "Brazil": "Brazilian", "Serbia": "Serbian", "Kosovo": "Kosovan", "Armenia": "Armenian",
    "Azerbaijan": "Azerbaijani", "Georgia": "Georgian", "Moldova": "Moldovan", "Finland": "Finnish",
    "Sweden": "Swedish", "Norway": "Norwegian", "Estonia": "Estonian", "Latvia": "Latvian", "Lithuania": "Lithuanian",
    "North Korea": "North Korean", "South Korea": "South Korean", "Philippines": "Philippine", "Vietnam": "Vietnamese",
    "Afghanistan": "Afghan", "Libya": "Libyan", "Qatar": "Qatari", "Jordan": "Jordanian", "Hungary": "Hungarian",
    "Romania": "Romanian", "Greece": "Greek", "Italy": "Italian", "Spain": "Spanish", "Canada": "Canadian",
    "Australia": "Australian", "Myanmar": "Myanmar", "Thailand": "Thai", "Indonesia": "Indonesian",
    "Chad": "Chadian", "Burkina Faso": "Burkinabe", "Rwanda": "Rwandan", "Congo": "Congolese", "Guyana": "Guyanese",
}  # fmt: skip
DEMONYMS = {demonym: country for country, demonym in COUNTRIES.items()}
COUNTRY_MENTION = re.compile(
    r"\b(" + "|".join(sorted(map(re.escape, [*COUNTRIES, *DEMONYMS]), key=len, reverse=True)) + r")\b"
)
STOPWORDS = {
    "the",
    "of",
    "a",
    "an",
    "via",
    "and",
    "as",
    "by",
    "at",
    "for",
    "to",
    "in",
    "on",
    "s",
    "its",
    "their",
    "his",
    "her",
    "with",
    "from",
}
# Words that say what kind of speaker, not which one: matching ignores them.
GENERIC = {"services", "service", "officials", "official", "sources", "source", "spokesperson", "people", "members"}
MATCH_THRESHOLD = 88


@dataclass(frozen=True)
class CandidateSource:
    """An existing source, as plain data: what statements may be matched to."""

    id: int
    name: str
    aliases: tuple[str, ...] = ()


@dataclass
class Mentions:
    """What the report has named so far, in order: people (with their titles) and who was quoted."""

    people: list[str] = field(default_factory=list)
    last_person_speaker: str | None = None
    last_speaker: str | None = None

    def observe_people(self, sentence: str) -> None:
        for match in CAPITALISED_RUN.finditer(sentence):
            found = name_in_run(match.group())
            if found is None:
                continue
            titles, name = found
            prefix = sentence[: match.start()].split()
            taken = []
            for word in reversed(prefix[-6:]):
                bare = word.strip(",“”\"'’").lower()
                if word.endswith(",") or not (bare in ROLE_WORDS or word[:1].isupper()) or bare in ("according",):
                    break
                taken.insert(0, word)
            while taken and taken[0].lower() in ("of", "the", "for", "state"):
                taken.pop(0)
            self.people.append(" ".join([*taken, *titles, name]))

    def heard(self, speaker: str) -> None:
        self.last_speaker = speaker
        if person_name(speaker):
            self.last_person_speaker = speaker


CAPITALISED_RUN = re.compile(r"\b[A-Z][\wà-ÿ’'.-]*(?:\s+(?:al-|bin\s+|de\s+|van\s+|von\s+)?[A-Z][\wà-ÿ’'.-]*)*")


def name_in_run(run: str) -> tuple[list[str], str] | None:
    """(titles, personal name) of a run of capitalised words: "Defence Minister Anna Berg"."""
    words = [word.rstrip(".,") for word in run.split()]
    # Titles, institutions and possessives ("Biden's") come before the name, never inside it.
    cut = max(
        (index + 1 for index, word in enumerate(words) if word in NOT_NAMES or "’" in word or "'" in word), default=0
    )
    name = words[cut:]
    if not 2 <= len(name) <= 4 or any(word.isupper() and len(word) > 1 for word in name):
        return None
    return words[:cut], " ".join(name)


def person_name(phrase: str) -> str | None:
    """The personal name inside a speaker phrase ("Jake Sullivan" in "adviser Jake Sullivan"), if any."""
    for match in CAPITALISED_RUN.finditer(phrase):
        found = name_in_run(match.group())
        if found is not None:
            return found[1]
    return None


def clean_phrase(phrase: str) -> str:
    phrase = phrase.strip(" ,;:“”\"'’")
    phrase = LEADING_NOISE.sub("", phrase)
    phrase = TRAILING_NOISE.sub("", phrase)
    return phrase.strip(" ,;:“”\"'’")


def phrase_before(span: str) -> str:
    """The noun phrase a span ends with: its last comma segment, with an appositive kept whole."""
    if "“" in span or '"' in span:
        span = re.split(r"[“”\"]", span)[-1]
    span = re.split(r"\bthat\b|;|:|\(|\)", span)[-1]
    segments = [segment.strip() for segment in span.split(",")]
    for index in range(len(segments) - 1, -1, -1):
        segment = clean_phrase(segments[index])
        if not segment or ADVERBIAL.match(segment):
            continue
        previous = clean_phrase(segments[index - 1]) if index else ""
        if re.match(r"(?:the|a|an)\s", segment) and previous[:1].isupper() and person_name(previous):
            return f"{previous}, {segment}"
        # "Mali and Burkina Faso, both run by juntas, warned": the clause describes the name before it.
        if DESCRIPTIVE_CLAUSE.match(segment) and previous[:1].isupper():
            return previous
        return segment
    return ""


def plausible(phrase: str) -> bool:
    words = phrase.split()
    if not words or len(words) > 14:
        return False
    first = words[0].strip("“\"'").lower()
    if first in ("there", "this", "which", "what", "if", "when", "to", "is", "are", "was", "were", "will"):
        return False
    # A speaker is named: a capital, a pronoun, or a noun of people ("officials", "analysts at ...").
    return any(word[:1].isupper() for word in words) or first in PRONOUNS | GROUP_PRONOUNS or bool(
        re.search(r"\b(?:officials?|analysts?|diplomats?|experts?|sources?|authorities|observers?|economists?|"
                  r"investigators?|commanders?|military|government|ministry|spokes\w+|intelligence|agency|envoy|"
                  r"negotiators?|ministers?|leaders?|secretary|adviser|advisor|bloc|alliance|union|country|"
                  r"embassy|army|president|chief)\b", phrase, re.IGNORECASE)
    )  # fmt: skip


@dataclass(frozen=True)
class Attribution:
    speaker: str
    start: int
    end: int
    denial: bool = False


def attributions(sentence: str) -> list[Attribution]:
    """Each attribution in a sentence: "X said", "said X", "according to X", "threats by X"."""
    found = []
    previous_end = 0
    for match in ATTRIBUTION.finditer(sentence):
        before = sentence[previous_end : match.start()]
        denial = bool(DENIAL.match(match.group()))
        if found and found[-1].end == previous_end and re.fullmatch(r".*\b(?:and|but)\s*", before, re.DOTALL):
            # "X said ... and warned that": the same speaker again.
            found.append(Attribution(found[-1].speaker, match.start(), match.end(), denial))
            previous_end = match.end()
            continue
        speaker = phrase_before(before)
        if not plausible(speaker) and re.search(r"[,“”\"]\s*$", before):
            # Inverted: '..., said a US official.' (a short name to the end of the clause, no verb in it).
            after = clean_phrase(re.split(r"[,;.]", sentence[match.end() :], maxsplit=1)[0])
            speaker = "" if len(after.split()) > 8 or FINITE_VERB.search(after) else after
        if plausible(speaker):
            found.append(Attribution(speaker, match.start(), match.end(), denial))
        previous_end = match.end()
    for pattern in (ACCORDING_TO, BY_WHOM):
        for match in pattern.finditer(sentence):
            who = TRAILING_PARTICIPLE.sub("", REPORTING_WRAPPERS.sub("", match.group("who").strip()))
            who = clean_phrase(who)
            if plausible(who):
                found.append(Attribution(who, match.start(), match.end()))
    return found


def subject_before(sentence: str, position: int) -> str:
    """The party a cue belongs to ("Moscow" in "Moscow threatened to ..."), if it names one."""
    speaker = phrase_before(sentence[:position])
    speaker = re.sub(r"\s+(?:is|are|was|were|has|have|had|been|has been|had been|would|will|does|did)$", "", speaker)
    return speaker if plausible(speaker) else ""


def resolve_speaker(phrase: str, *, before: str, mentions: Mentions) -> str:
    """The speaker phrase with pronouns, surnames, "the bloc" and bare titles replaced by who they mean."""
    phrase = re.sub(r"^the\s+(?=[A-Z])", "", phrase)
    phrase = re.sub(r"^(?:The|A|An)\s+(?=[a-z])", lambda article: article.group().lower(), phrase)
    lowered = phrase.lower()
    if lowered in PRONOUNS:
        return mentions.last_person_speaker or mentions.last_speaker or phrase
    if lowered in GROUP_PRONOUNS:
        return mentions.last_speaker or phrase
    if re.fullmatch(r"[A-Z][a-zà-ÿ’'-]+", phrase) and phrase not in COUNTRIES and phrase not in DEMONYMS:
        for person in reversed(mentions.people):
            if person.split()[-1] == phrase and len(person.split()) > 1:
                return person
        return phrase
    for word, names in BLOC_WORDS.items():
        pattern = re.compile(rf"\bthe {word}\b", re.IGNORECASE)
        if pattern.search(phrase):
            named = last_named(before, names)
            if named:
                return pattern.sub(named, phrase, count=1)
    if re.search(r"\bthe country(?:'s|’s)?\b", phrase, re.IGNORECASE):
        countries = COUNTRY_MENTION.findall(before)
        if countries:
            demonym = COUNTRIES.get(countries[-1], countries[-1])
            return re.sub(r"\bthe country(?:'s|’s)?\s*", f"{demonym} ", phrase, count=1, flags=re.IGNORECASE).strip()
    if not person_name(phrase) and re.match(r"(?:the\s|[A-Z][\w-]*(?:'s|’s)\s)", phrase):
        heads = [word for word in re.findall(r"[\w-]+", lowered) if word in ROLE_HEADS]
        if heads:
            role = " ".join(re.findall(r"[\w-]+", lowered)[-2:])
            for person in reversed(mentions.people):
                if role in person.lower() or (len(heads) == 1 and heads[0] in person.lower().split()):
                    return person
    return phrase


def last_named(text: str, names: Iterable[str]) -> str | None:
    best, where = None, -1
    for name in names:
        index = text.rfind(name)
        if index > where and re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", text[index : index + len(name) + 1]):
            best, where = name, index
    return best


def match_tokens(text: str) -> str:
    words = re.findall(r"[\w]+", text.lower().replace("’", "'").replace("'s", ""))
    return " ".join(word for word in words if word not in STOPWORDS and word not in GENERIC)


def distinctive(words: set[str]) -> set[str]:
    """The words that say which source: not a bare nationality, not a two-letter abbreviation."""
    lowered = {name.lower() for name in [*COUNTRIES, *DEMONYMS]}
    return {word for word in words if len(word) > 2 and word not in lowered}


def source_match(speaker: str, candidates: Iterable[CandidateSource]) -> int | None:
    """The id of the existing source the speaker most likely is (names and aliases, fuzzy), or None."""
    choices = {}
    for candidate in candidates:
        for name in (candidate.name, *candidate.aliases):
            processed = match_tokens(name)
            if processed:
                choices[(candidate.id, name)] = processed
    if not choices or not speaker:
        return None
    queries = [match_tokens(speaker)]
    name = person_name(speaker)
    if name:
        queries.insert(0, match_tokens(name))
    for query in queries:
        if not query:
            continue
        query_words = set(query.split())
        best = None
        for choice, score, key in process.extract(query, choices, scorer=fuzz.token_set_ratio, limit=5):
            if score < MATCH_THRESHOLD:
                continue
            shared = distinctive(query_words & set(choice.split()))
            if not shared and score < 100:
                shared = distinctive(query_words)
            if not shared:
                continue
            rank = (score, len(shared), -len(choice))
            if best is None or rank > best[0]:
                best = (rank, key[0])
        if best is not None:
            return best[1]
    return None
