"""Reading a forecast typed in one box: `70%`, `70`, `0.7`, `.7`, odds `3:1`, `1 in 4`, or an
estimative phrase of either yardstick (`likely`, `very unlikely`, `probable`).

Pure functions, no database: the API's `forecast` field, the admin's one box, the preview
endpoint and the service's probability, percent and phrase fields all read through here, so a
text means the same everywhere and is refused with the same words.

A bare number below 1 is a probability (`0.7`), from 1 up a percent (`70`); `70%` is always a
percent. Odds `a:b` are `a / (a + b)`; `a in b` is `a / b`. A phrase is looked up in ICD 203
first, then in Sherman Kent's yardstick, unless a yardstick is named (`kent: probable`).
"""

import re
from dataclasses import dataclass
from decimal import Context, Decimal, InvalidOperation

from forecasts.estimative import YARDSTICKS, UnknownPhrase, normalise, phrase_lookup
from forecasts.models.forecasts import PROBABILITY_MAX, PROBABILITY_MIN

# A float64 round-trips 15 significant decimal digits exactly.
STORED_PRECISION = Context(prec=15)
MAX_INPUT_LENGTH = 100
YARDSTICK_LABELS = {"icd203": "ICD 203", "kent": "Sherman Kent"}
EXAMPLES = "type 70%, 0.7, 3:1, 1 in 4 or a phrase like 'likely'"

NUMBER = r"(\d+(?:\.\d*)?|\.\d+)"
PERCENT_PATTERN = re.compile(rf"^{NUMBER}\s*%$")
NUMBER_PATTERN = re.compile(rf"^{NUMBER}$")
ODDS_PATTERN = re.compile(rf"^{NUMBER}\s*:\s*{NUMBER}$")
ONE_IN_PATTERN = re.compile(rf"^{NUMBER}\s+in\s+{NUMBER}$")
YARDSTICK_PREFIX = re.compile(r"^(icd\s*203|kent)\s*[:,]?\s+(.+)$")


class UnreadableForecast(ValueError):
    """The text is not a probability Forewarn can read, or is outside the allowed bounds."""


@dataclass(frozen=True)
class ForecastReading:
    """What a typed forecast was understood as."""

    probability: float
    phrase: str = ""
    yardstick: str = ""

    @property
    def description(self) -> str:
        """'70% - ICD 203: likely', or '75%' for a number."""
        percent = f"{self.probability * 100:.1f}".rstrip("0").rstrip(".") + "%"
        if not self.phrase:
            return percent
        return f"{percent} - {YARDSTICK_LABELS.get(self.yardstick, self.yardstick)}: {self.phrase}"


def bounds_message(*, scale: int) -> str:
    """The one wording of the allowed range, as a probability (scale 1) or a percent (scale 100)."""
    return f"Must be between {PROBABILITY_MIN * scale:g} and {PROBABILITY_MAX * scale:g}."


def probability_from_number(number: Decimal, *, scale: int = 1) -> float:
    """A probability (scale 1) or a percent (scale 100) as a stored probability, within the bounds.

    Divided in decimal and rounded to the digits a stored double keeps: 99.9 / 100 is then 0.999,
    not the 0.9990000000000001 binary division gives (which fell outside the bounds).
    """
    if not number.is_finite():
        raise UnreadableForecast("Must be a number.")
    value = float(STORED_PRECISION.divide(number, Decimal(scale)))
    if not PROBABILITY_MIN <= value <= PROBABILITY_MAX:
        raise UnreadableForecast(bounds_message(scale=scale))
    return value


def ratio_probability(part: Decimal, whole: Decimal, text: str) -> float:
    """part / whole as a probability; the bounds are said as percents, since no unit was typed."""
    if whole <= 0 or part > whole:
        raise UnreadableForecast(f"{text!r} is not a chance between 0 and 1: {EXAMPLES}.")
    value = float(STORED_PRECISION.divide(part, whole))
    if not PROBABILITY_MIN <= value <= PROBABILITY_MAX:
        percent = f"{value * 100:.4g}%"
        raise UnreadableForecast(f"{text!r} is {percent}: {bounds_message(scale=100)[:-1]} percent.")
    return value


def phrase_reading(text: str, *, yardstick: str | None) -> ForecastReading | None:
    """The phrase's entry in the named yardstick, or in ICD 203 then Kent; None if no yardstick has it."""
    wanted = normalise(text)
    prefixed = YARDSTICK_PREFIX.match(wanted)
    if prefixed and yardstick is None:
        yardstick, wanted = prefixed.group(1).replace(" ", ""), prefixed.group(2)
    if yardstick:
        try:
            entry = phrase_lookup(phrase=wanted, yardstick=yardstick)
        except UnknownPhrase as error:
            raise UnreadableForecast(str(error)) from error
        return ForecastReading(entry.probability, entry.phrase, entry.yardstick)
    for name in YARDSTICKS:
        try:
            entry = phrase_lookup(phrase=wanted, yardstick=name)
        except UnknownPhrase:
            continue
        return ForecastReading(entry.probability, entry.phrase, entry.yardstick)
    return None


def forecast_read(text, *, yardstick: str | None = None) -> ForecastReading:
    """The probability, phrase and yardstick a typed forecast means; UnreadableForecast says why not."""
    if not isinstance(text, str):
        raise UnreadableForecast(f"Give the forecast as text: {EXAMPLES}.")
    cleaned = " ".join(text.strip().split())
    if not cleaned:
        raise UnreadableForecast(f"Type a forecast: {EXAMPLES}.")
    if len(cleaned) > MAX_INPUT_LENGTH:
        raise UnreadableForecast(f"At most {MAX_INPUT_LENGTH} characters: {EXAMPLES}.")
    lowered = cleaned.lower()
    try:
        if match := PERCENT_PATTERN.match(lowered):
            return ForecastReading(probability_from_number(Decimal(match.group(1)), scale=100))
        if match := NUMBER_PATTERN.match(lowered):
            number = Decimal(match.group(1))
            return ForecastReading(probability_from_number(number, scale=1 if number < 1 else 100))
        if match := ODDS_PATTERN.match(lowered):
            for_, against = Decimal(match.group(1)), Decimal(match.group(2))
            return ForecastReading(ratio_probability(for_, for_ + against, cleaned))
        if match := ONE_IN_PATTERN.match(lowered):
            return ForecastReading(ratio_probability(Decimal(match.group(1)), Decimal(match.group(2)), cleaned))
    except InvalidOperation as error:
        raise UnreadableForecast(f"Could not read {cleaned!r} as a probability: {EXAMPLES}.") from error
    reading = phrase_reading(cleaned, yardstick=yardstick)
    if reading is None:
        raise UnreadableForecast(f"Could not read {cleaned!r} as a probability: {EXAMPLES}.")
    return reading
