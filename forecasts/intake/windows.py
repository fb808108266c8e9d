"""The event window a statement gives, as dates resolved against the report's publication date.

The rules are DESIGN section 11's and docs/intake.md's: "mid-<month>" is the 15th, "early" the
1st-10th, "late" the 21st to the last day; "between A and B" runs from A's start to B's end; a
span ("within the next 30 days") runs from publication; a month without a year is the next such
month on or after publication. Vague words get a default length and the vague flag.
"""

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import dateparser

MONTHS = {name.lower(): number for number, name in enumerate(calendar.month_name) if name}
MONTHS |= {name.lower(): number for number, name in enumerate(calendar.month_abbr) if name}
MONTHS["sept"] = 9
MONTH = r"(?P<{0}>january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)\.?"
NUMBERS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "eighteen": 18, "twenty": 20, "thirty": 30,
    "forty-five": 45, "sixty": 60, "ninety": 90, "a couple of": 2, "couple of": 2, "a few": 3, "few": 3,
}  # fmt: skip
NUMBER = r"(?P<count>\d{1,3}|" + "|".join(sorted((re.escape(word) for word in NUMBERS), key=len, reverse=True)) + r")"
UNIT = r"(?P<unit>hours?|days?|weeks?|months?|years?|decades?)"
PART = r"(?:(?P<{0}_part>early|mid|middle of|the middle of|late|the end of|end of|end|the start of|start of|the beginning of|beginning of)[\s-]+)?"
YEAR = r"(?:,?\s+(?P<{0}_year>\d{{4}}))?"
DAY = r"(?P<{0}_day>\d{{1,2}})(?:st|nd|rd|th)?"
SEASON_ENDS = {"spring": (6, 20), "summer": (9, 22), "autumn": (12, 20), "fall": (12, 20), "winter": (3, 20)}
SEASON_STARTS = {"spring": (3, 20), "summer": (6, 21), "autumn": (9, 22), "fall": (9, 22), "winter": (12, 21)}
WEEKDAYS = {name.lower(): number for number, name in enumerate(calendar.day_name)}

# Vague words: (pattern, default length in days). docs/intake.md lists them.
VAGUE = (
    (r"\bin the (?:coming|next (?:few|several)) days\b|\bwithin days\b|\b(?:in|within) a matter of days\b", 10),
    (
        r"\b(?:in|over|within) the (?:coming|next (?:few|several)) weeks\b|\bwithin weeks\b|\b(?:in|within) a matter of weeks\b",
        42,
    ),
    (
        r"\b(?:in|over|within) the (?:coming|next (?:few|several)) months\b|\bwithin months\b|\bin the near (?:term|future)\b",
        91,
    ),
    (r"\b(?:in|over|within) the (?:coming|next (?:few|several)) years\b|\bin the (?:medium|long) term\b", 3 * 365),
    (r"\bimminent(?:ly)?\b|\bsoon\b|\bshortly\b|\bany day now\b|\bat any moment\b|\bany time now\b", 14),
)
# With no words of time at all: a pretext is built for a move planned soon; anything else is
# given until the end of the publication year (or the next one, when fewer than 90 days remain).
UNSTATED_PRETEXT_DAYS = 42
UNSTATED_MIN_DAYS = 90


@dataclass(frozen=True)
class Window:
    start: date | None
    end: date
    text: str
    is_vague: bool = False


def last_day(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year = day.year + month // 12
    month = month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def span_end(published: date, count: int, unit: str) -> date:
    unit = unit.rstrip("s")
    if unit == "hour":
        return published + timedelta(days=max(1, round(count / 24)))
    if unit == "day":
        return published + timedelta(days=count)
    if unit == "week":
        return published + timedelta(weeks=count)
    if unit == "month":
        return add_months(published, count)
    if unit == "decade":
        return add_months(published, 120 * count)
    return add_months(published, 12 * count)


def month_year(published: date, month: int, year: str | None) -> int:
    """The year of a named month: as written, else the next such month on or after publication."""
    if year:
        return int(year)
    return published.year if month >= published.month else published.year + 1


def month_range(published: date, match: re.Match, name: str) -> tuple[date, date]:
    """(first, last day) meant by "[early|mid|late] <month> [year]" as captured under `name`."""
    month = MONTHS[match.group(name).lower().rstrip(".")]
    year = month_year(published, month, match.group(f"{name}_year"))
    part = (match.group(f"{name}_part") or "").replace("the ", "")
    if part == "early" or part in ("start of", "beginning of"):
        return date(year, month, 1), date(year, month, 10)
    if part in ("mid", "middle of"):
        return date(year, month, 15), date(year, month, 15)
    if part == "late":
        return date(year, month, 21), last_day(year, month)
    if part in ("end of", "end"):
        return date(year, month, 21), last_day(year, month)
    return date(year, month, 1), last_day(year, month)


def exact_date(published: date, text: str) -> date | None:
    """A written date ("12 December", "March 3, 2023") read by dateparser, on or after publication."""
    parsed = dateparser.parse(
        text,
        languages=["en"],
        settings={
            "RELATIVE_BASE": _midnight(published),
            "PREFER_DATES_FROM": "future",
            "REQUIRE_PARTS": ["day", "month"],
        },
    )
    return parsed.date() if parsed else None


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day)


def season_end(published: date, season: str) -> date:
    """The end of the season under way or next ("this winter" ends on 20 March)."""
    month, day = SEASON_ENDS[season]
    end = date(published.year, month, day)
    return end if end >= published else date(published.year + 1, month, day)


def season_start(published: date, season: str) -> date:
    """The day a season begins ("before the summer" ends on 21 June): the next such day."""
    month, day = SEASON_STARTS[season]
    start = date(published.year, month, day)
    return start if start >= published else date(published.year + 1, month, day)


def build(pattern: str) -> re.Pattern:
    return re.compile(pattern, re.IGNORECASE)


MONTH_A = PART.format("a") + MONTH.format("a") + YEAR.format("a")
MONTH_B = PART.format("b") + MONTH.format("b") + YEAR.format("b")
DATE_TEXT = (
    r"(?:(?:on\s+)?(?:mon|tues|wednes|thurs|fri|satur|sun)day,?\s+)?(?:\d{1,2}(?:st|nd|rd|th)?\s+" + MONTH.format("dm")
    + r"|" + MONTH.format("md") + r"\s+\d{1,2}(?:st|nd|rd|th)?)(?:,?\s+\d{4})?"
)  # fmt: skip
BETWEEN = build(r"\b(?:between|from)\s+(?:the\s+)?" + MONTH_A + r"\s+(?:and|to|until|through)\s+(?:the\s+)?" + MONTH_B)
BETWEEN_DAYS = build(
    r"\bbetween\s+(?P<d1>\d{1,2})(?:st|nd|rd|th)?\s+and\s+(?P<d2>\d{1,2})(?:st|nd|rd|th)?\s+" + MONTH.format("m")
    + YEAR.format("m")
)  # fmt: skip
SPAN = build(
    r"\b(?:within|in|over|during|inside|for)\s+(?:(?:at\s+least|up\s+to|as\s+many\s+as|about|around|roughly)\s+)?"
    r"(?:the\s+)?(?:next|coming|following)?\s*(?:\d{1,3}\s*(?:to|-|–|or)\s*)?" + NUMBER + r"\s+" + UNIT
    + r"(?!\s+ago)"
)  # fmt: skip
WITHIN_UNIT = build(r"\bwithin\s+(?:a|one|the\s+next)\s+(?P<unit>day|week|month|year)\b")
END_OF_MONTH = build(r"\b(?:by|before|until)\s+(?:the\s+)?end[\s-]+(?:of\s+)?" + MONTH.format("a") + YEAR.format("a"))
END_OF_YEAR = build(r"\b(?:by|before)\s+(?:the\s+)?end\s+of\s+(?:(?P<this>this|the|next)\s+year|(?P<year>\d{4}))")
END_OF_RELATIVE = build(r"\bby\s+(?:the\s+)?end\s+of\s+(?P<which>this|the|next)\s+(?P<unit>week|month|quarter)")
BY_DATE = build(
    r"\b(?P<word>by|before|until|ahead of|no later than|from|starting|as of|as from|beginning)\s+(?:the\s+\w+\s+(?:on|of)\s+)?(?P<date>"
    + DATE_TEXT
    + r")"
)
BY_MONTH = build(r"\b(?P<word>by|before|until|ahead of)\s+" + MONTH_A)
BEFORE_SEASON = build(r"\b(?P<word>before|by)\s+(?:the\s+)?(?P<season>spring|summer|autumn|fall|winter)\b")
THIS_SEASON = build(r"\b(?P<which>this|next|the coming)\s+(?P<season>spring|summer|autumn|fall|winter)\b")
DATED_EVENT = build(r"\bon\s+(?P<date>" + DATE_TEXT + r")")
IN_MONTH = build(r"\b(?:in|during|throughout|from)\s+(?:the\s+)?" + MONTH_A)
THIS_PERIOD = build(r"\b(?P<which>this|next)\s+(?P<unit>week|month|year)\b")
IN_YEAR = build(r"\b(?:in|during|by|before)\s+(?:the\s+(?P<half>first|second)\s+half\s+of\s+)?(?P<year>20\d\d)\b")
WEEKDAY = build(
    r"\b(?:on|by|next|this|until|before)\s+(?P<day>monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b"
)
TOMORROW = build(r"\btomorrow\b")


def window_from_text(text: str, published: date, *, event_at: int = 0) -> Window | None:
    """The window the text states, or None; vague words give a flagged default.

    Words of time after `event_at` (where the statement's word of likelihood is) describe the
    event; before it, only a full expression counts: "on Friday" there is when it was said.
    """
    for part, resolvers in ((text[event_at:], RESOLVERS), (text[:event_at], LEADING_RESOLVERS)):
        for resolver in resolvers:
            try:
                found = resolver(part, published)
            except (ValueError, OverflowError):  # "within 999 decades": past the calendar's end
                continue
            if found is not None:
                return Window(found.start, found.end, found.text.strip(" ,.;:"), found.is_vague)
    return None


def between_months(text, published):
    match = BETWEEN.search(text)
    if not match:
        return None
    start, _ = month_range(published, match, "a")
    _, end = month_range(published, match, "b")
    if end < start:
        end = end.replace(year=end.year + 1)
    return Window(start, end, match.group())


def between_days(text, published):
    match = BETWEEN_DAYS.search(text)
    if not match:
        return None
    month = MONTHS[match.group("m").lower().rstrip(".")]
    year = month_year(published, month, match.group("m_year"))
    try:
        return Window(
            date(year, month, int(match.group("d1"))), date(year, month, int(match.group("d2"))), match.group()
        )
    except ValueError:
        return None


def span(text, published):
    match = SPAN.search(text)
    if match:
        count = match.group("count").lower()
        count = int(count) if count.isdigit() else NUMBERS[count]
        return Window(published, span_end(published, count, match.group("unit").lower()), match.group())
    match = WITHIN_UNIT.search(text)
    if match:
        return Window(published, span_end(published, 1, match.group("unit").lower()), match.group())
    return None


def end_of_month(text, published):
    match = END_OF_MONTH.search(text)
    if not match:
        return None
    month = MONTHS[match.group("a").lower().rstrip(".")]
    return Window(published, last_day(month_year(published, month, match.group("a_year")), month), match.group())


def end_of_year(text, published):
    match = END_OF_YEAR.search(text)
    if not match:
        return None
    year = int(match.group("year")) if match.group("year") else published.year + (match.group("this") == "next")
    return Window(published, date(year, 12, 31), match.group())


def end_of_relative(text, published):
    match = END_OF_RELATIVE.search(text)
    if not match:
        return None
    unit, later = match.group("unit").lower(), match.group("which").lower() == "next"
    if unit == "week":
        end = published + timedelta(days=6 - published.weekday() + 7 * later)
    elif unit == "month":
        first = add_months(published.replace(day=1), int(later))
        end = last_day(first.year, first.month)
    else:
        quarter_end = ((published.month - 1) // 3 + 1 + later) * 3
        first = add_months(date(published.year, 1, 1), quarter_end - 1)
        end = last_day(first.year, first.month)
    return Window(published, end, match.group())


def by_date(text, published):
    match = BY_DATE.search(text)
    if not match:
        return None
    day = exact_date(published, match.group("date"))
    if day is None:
        return None
    if match.group("word").lower() in ("before", "ahead of"):
        day -= timedelta(days=1)
    return Window(published, max(day, published), match.group())


def by_month(text, published):
    match = BY_MONTH.search(text)
    if not match:
        return None
    first, last = month_range(published, match, "a")
    part = match.group("a_part")
    word = match.group("word").lower()
    # "by late March" ends with late March; "by March" and "before March" the day before it begins.
    end = last if part and word in ("by", "until") else first - timedelta(days=1)
    return Window(published, max(end, published), match.group())


def before_season(text, published):
    match = BEFORE_SEASON.search(text)
    if not match:
        return None
    return Window(published, season_start(published, match.group("season").lower()), match.group())


def this_season(text, published):
    match = THIS_SEASON.search(text)
    if not match:
        return None
    season = match.group("season").lower()
    end = season_end(published, season)
    start = published
    if match.group("which").lower() == "next":
        start = season_start(published, season)
        end = season_end(start, season)
    return Window(start, end, match.group())


def dated_event(text, published):
    match = DATED_EVENT.search(text)
    if not match:
        return None
    day = exact_date(published, match.group("date"))
    if day is None or day < published:
        return None
    return Window(published, day, match.group())


def in_month(text, published):
    match = IN_MONTH.search(text)
    if not match:
        return None
    start, end = month_range(published, match, "a")
    # "before the harvest in October" ends as October begins; "by ... in October" with it.
    deadline = re.search(r"\b(before|by|until|ahead of)\b", text[: match.start()], re.IGNORECASE)
    if deadline:
        end = end if deadline.group(1).lower() in ("by", "until") else start - timedelta(days=1)
        start = published
    return Window(max(start, published) if start <= published <= end else start, max(end, published), match.group())


def this_period(text, published):
    match = THIS_PERIOD.search(text)
    if not match:
        return None
    unit, later = match.group("unit").lower(), match.group("which").lower() == "next"
    if unit == "week":
        start = published + timedelta(days=7 - published.weekday()) if later else published
        end = published + timedelta(days=6 - published.weekday() + 7 * later)
    elif unit == "month":
        first = add_months(published.replace(day=1), int(later))
        start, end = (first if later else published), last_day(first.year, first.month)
    else:
        year = published.year + later
        start, end = (date(year, 1, 1) if later else published), date(year, 12, 31)
    return Window(start, end, match.group())


def in_year(text, published):
    match = IN_YEAR.search(text)
    if not match:
        return None
    year = int(match.group("year"))
    if year < published.year:
        return None
    half = match.group("half")
    start, end = date(year, 1, 1), date(year, 12, 31)
    if half == "first":
        end = date(year, 6, 30)
    elif half == "second":
        start = date(year, 7, 1)
    if match.group().lower().startswith(("by", "before")):
        start = published
        if match.group().lower().startswith("before"):
            end = date(year - 1, 12, 31)
    return Window(max(start, published), end, match.group())


SAID_ON = re.compile(r"\b(?:said|says|told\s+\w+|announced|warned|added|confirmed|reported|declared|stated)\s*$")


def weekday(text, published):
    match = next((found for found in WEEKDAY.finditer(text) if not SAID_ON.search(text[: found.start()])), None)
    if not match:
        return None
    wanted = WEEKDAYS[match.group("day").lower()]
    ahead = (wanted - published.weekday()) % 7 or 7
    return Window(published, published + timedelta(days=ahead), match.group())


def tomorrow(text, published):
    match = TOMORROW.search(text)
    return Window(published, published + timedelta(days=1), match.group()) if match else None


def vague(text, published):
    for pattern, days in COMPILED_VAGUE:
        match = pattern.search(text)
        if match:
            return Window(published, published + timedelta(days=days), match.group(), is_vague=True)
    return None


COMPILED_VAGUE = tuple((build(pattern), days) for pattern, days in VAGUE)
RESOLVERS = (
    between_months,
    between_days,
    end_of_month,
    end_of_year,
    end_of_relative,
    before_season,
    this_season,
    span,
    by_date,
    by_month,
    dated_event,
    in_month,
    this_period,
    in_year,
    weekday,
    tomorrow,
    vague,
)


def default_window(published: date, *, kind: str) -> Window:
    """The window of a statement that names no time: flagged vague, a documented default."""
    if kind == "pretext_operation":
        return Window(published, published + timedelta(days=UNSTATED_PRETEXT_DAYS), "", is_vague=True)
    end = date(published.year, 12, 31)
    if (end - published).days < UNSTATED_MIN_DAYS:
        end = date(published.year + 1, 12, 31)
    return Window(published, end, "", is_vague=True)


LEADING_RESOLVERS = tuple(
    resolver for resolver in RESOLVERS if resolver not in (weekday, tomorrow, dated_event, this_period)
)
