"""Estimative language: words of likelihood as intelligence statements use them, as probabilities."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Phrase:
    yardstick: str
    phrase: str
    low: float
    high: float
    synonyms: tuple[str, ...] = ()

    @property
    def probability(self) -> float:
        """The midpoint of the phrase's range: what Forewarn stores as the forecast."""
        return round((self.low + self.high) / 2, 6)


YARDSTICKS: dict[str, tuple[Phrase, ...]] = {
    # Intelligence Community Directive 203, Analytic Standards (2015).
    "icd203": (
        Phrase("icd203", "almost no chance", 0.01, 0.05, ("remote",)),
        Phrase("icd203", "very unlikely", 0.05, 0.20, ("highly improbable",)),
        Phrase("icd203", "unlikely", 0.20, 0.45, ("improbable",)),
        Phrase("icd203", "roughly even chance", 0.45, 0.55, ("roughly even odds",)),
        Phrase("icd203", "likely", 0.55, 0.80, ("probable",)),
        Phrase("icd203", "very likely", 0.80, 0.95, ("highly probable",)),
        Phrase("icd203", "almost certain", 0.95, 0.99, ("nearly certain",)),
    ),
    # Sherman Kent, "Words of Estimative Probability" (1964): point values.
    "kent": (
        Phrase("kent", "almost certainly not", 0.07, 0.07),
        Phrase("kent", "probably not", 0.30, 0.30),
        Phrase("kent", "chances about even", 0.50, 0.50),
        Phrase("kent", "probable", 0.75, 0.75),
        Phrase("kent", "almost certain", 0.93, 0.93),
    ),
}


class UnknownPhrase(ValueError):
    """The phrase or the yardstick is not one Forewarn knows."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


def normalise(text: str) -> str:
    return " ".join(text.lower().replace("-", " ").split())


def phrase_lookup(*, phrase: str, yardstick: str = "icd203") -> Phrase:
    """The yardstick's entry for a phrase or one of its synonyms, case and spacing ignored."""
    entries = YARDSTICKS.get(normalise(yardstick or "icd203").replace(" ", ""))
    if entries is None:
        known = ", ".join(sorted(YARDSTICKS))
        raise UnknownPhrase(f"Unknown yardstick {yardstick!r}; use one of: {known}.", "yardstick")
    wanted = normalise(phrase)
    for entry in entries:
        if wanted == entry.phrase or wanted in entry.synonyms:
            return entry
    known = ", ".join(entry.phrase for entry in entries)
    raise UnknownPhrase(
        f"{phrase!r} is not a phrase of the {entries[0].yardstick} yardstick; use one of: {known}.",
        "phrase",
    )


def phrase_choices() -> list[tuple[str, str]]:
    """(value, label) pairs for forms: value is 'yardstick:phrase'."""
    return [
        (f"{entry.yardstick}:{entry.phrase}", f"{entry.phrase} ({entry.yardstick}, {entry.probability:.0%})")
        for entries in YARDSTICKS.values()
        for entry in entries
    ]
