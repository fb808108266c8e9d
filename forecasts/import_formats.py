"""Reading forecast files of other trackers (and Forewarn's own export) into one shape; no ORM.

Each reader turns a file's text into `ImportRow`s, one per forecast, and `RowError`s for what it
cannot read, each with the line it came from. Values are checked here only as far as reading
them goes (a date that parses, a number that is a number); the import service checks them
against Forewarn's rules (docs/imports.md describes every format).
"""

import csv
import hashlib
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

FORMATS = ("fatebook", "predictionbook", "forewarn", "csv")
FORMAT_LABELS = {
    "fatebook": "Fatebook CSV export",
    "predictionbook": "PredictionBook JSON (API predictions with their responses)",
    "forewarn": "Forewarn CSV export (/api/forecasts/export.csv)",
    "csv": "Generic CSV (question, window_end, forecaster, probability, made_at, outcome)",
}
# What Forewarn's export prefixes to a cell a spreadsheet would run as a formula.
FORMULA_GUARD = "'"
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
USERNAME_UNSAFE = re.compile(r"[^\w.@+-]+")
USERNAME_MAX = 150
# Fatebook writes seconds (and only they) without a leading zero: "2024-03-05 14:07:5".
UNPADDED_MOMENT = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})[ T](\d{1,2}):(\d{1,2}):(\d{1,2})")


class UnreadableFile(ValueError):
    """The file as a whole is not in the format named (wrong columns, not JSON, empty)."""


@dataclass(frozen=True)
class RowError:
    line: int
    reason: str

    def __str__(self):
        return f"line {self.line}: {self.reason}"


@dataclass
class ImportRow:
    """One forecast on one question, as the file gives it; `line` is where it came from."""

    line: int
    question_key: str
    title: str
    window_end: datetime
    made_at: datetime
    probability: str
    forecaster: str = ""
    forecaster_name: str = ""
    source: str = ""
    window_start: datetime | None = None
    opened_at: datetime | None = None
    closed_at: datetime | None = None
    outcome: str = ""
    resolved_at: datetime | None = None
    occurred_at: datetime | None = None
    phrase: str = ""
    yardstick: str = ""
    quote: str = ""
    url: str = ""
    details: str = ""
    kind: str = ""
    extra: dict = field(default_factory=dict)


@dataclass
class ParsedFile:
    rows: list[ImportRow]
    errors: list[RowError]


def username_from(name: str) -> str:
    """A Forewarn username for a display name: spaces and other unsafe runs become '_'."""
    return USERNAME_UNSAFE.sub("_", name.strip()).strip("_")[:USERNAME_MAX]


def stable_key(fmt: str, *parts) -> str:
    """`format:` plus a hash of the parts: the external key of a question the file gives no id."""
    digest = hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).hexdigest()[:32]
    return f"{fmt}:{digest}"


def unguarded(value: str) -> str:
    """Undo the formula guard Forewarn's export adds ("'=..." back to "=...")."""
    if value.startswith(FORMULA_GUARD) and value[1:2] and value[1:2] in FORMULA_PREFIXES:
        return value[1:]
    return value


def moment(value: str, *, name: str) -> datetime | None:
    """An aware UTC datetime from ISO 8601 (a 'Z', an offset, or none for UTC) or a bare date; '' is None."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)  # Z, offsets, fractions and bare dates alike
    except ValueError:
        match = UNPADDED_MOMENT.fullmatch(value)
        if match is None:
            raise ValueError(f"{name}: {value!r} is not a date and time (YYYY-MM-DDTHH:MM:SSZ).") from None
        parsed = datetime(*map(int, match.groups()))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def csv_records(text: str, required: set[str]) -> list[tuple[int, dict]]:
    """(line number, row) pairs of a CSV file with a header; refuses a file without the required columns."""
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise UnreadableFile("The file is empty.")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = set(reader.fieldnames or [])
    missing = required - header
    if missing:
        raise UnreadableFile(f"Missing columns: {', '.join(sorted(missing))}.")
    records = []
    line = reader.line_num
    for row in reader:
        records.append((line + 1, {key: (value or "").strip() for key, value in row.items() if key}))
        line = reader.line_num
    return records


def read_rows(
    records: list[tuple[int, dict]], build: Callable[[int, dict], ImportRow | list[ImportRow] | None]
) -> ParsedFile:
    """Run `build` on each record; a ValueError it raises becomes that line's error."""
    rows, errors = [], []
    for line, record in records:
        try:
            built = build(line, record)
        except ValueError as error:
            errors.append(RowError(line, str(error)))
            continue
        if built is not None:
            rows.extend(built if isinstance(built, list) else [built])
    return ParsedFile(rows, errors)


def required(record: dict, name: str) -> str:
    value = record.get(name, "")
    if not value:
        raise ValueError(f"{name}: required.")
    return value


# Fatebook --------------------------------------------------------------------------------------

FATEBOOK_OUTCOMES = {"YES": "yes", "NO": "no", "AMBIGUOUS": "annulled", "": ""}
FATEBOOK_REQUIRED = {
    "Question title",
    "Forecast created by",
    "Forecast (scale = 0-1)",
    "Forecast created at",
    "Question resolve by",
    "Resolution",
    "Resolved at",
}


def fatebook_row(line: int, record: dict) -> ImportRow:
    """One line of Fatebook's export: one forecast, the question's fields repeated on each."""
    title = required(record, "Question title")
    option = record.get("Multiple choice option", "")
    if option:
        title = f"{title}: {option}"
    resolution = record.get("Resolution", "").upper()
    if resolution not in FATEBOOK_OUTCOMES:
        raise ValueError(f"Resolution: {record['Resolution']!r} is not YES, NO or AMBIGUOUS.")
    resolve_by = moment(required(record, "Question resolve by"), name="Question resolve by")
    resolved_at = moment(record.get("Resolved at", ""), name="Resolved at")
    if FATEBOOK_OUTCOMES[resolution] and resolved_at is None:
        raise ValueError("Resolved at: required for a resolved question.")
    created_at = moment(record.get("Question created at", ""), name="Question created at")
    name = required(record, "Forecast created by")
    # A question resolved before its resolve-by date closed then: its window ends there.
    window_end = min(resolve_by, resolved_at) if resolved_at else resolve_by
    return ImportRow(
        line=line,
        question_key=stable_key(
            "fatebook",
            record["Question title"],
            record.get("Question created at", ""),
            record.get("Question created by", ""),
            option,
        ),
        title=title,
        window_end=window_end,
        made_at=moment(required(record, "Forecast created at"), name="Forecast created at"),
        probability=required(record, "Forecast (scale = 0-1)"),
        forecaster=username_from(name),
        forecaster_name=name,
        opened_at=created_at,
        outcome=FATEBOOK_OUTCOMES[resolution],
        resolved_at=resolved_at,
        details=record.get("Question notes", ""),
    )


def fatebook_read(text: str) -> ParsedFile:
    """Fatebook's CSV export (see docs/imports.md for the columns read)."""
    return read_rows(csv_records(text, FATEBOOK_REQUIRED), fatebook_row)


# PredictionBook ---------------------------------------------------------------------------------


def json_array_items(text: str) -> list[tuple[int, object]]:
    """(line, item) for each item of the top-level array, or of the "predictions" array of an object."""
    decoder = json.JSONDecoder()
    stripped = text.lstrip("\ufeff")
    match = re.match(r"\s*\[", stripped) or re.search(r'"predictions"\s*:\s*\[', stripped)
    try:
        json.loads(stripped)
    except ValueError as error:
        raise UnreadableFile(f"Not JSON: {error}.") from None
    if match is None:
        raise UnreadableFile('Expected a list of predictions, or an object with a "predictions" list.')
    position, items = match.end(), []
    while True:
        while stripped[position] in " \t\r\n,":
            position += 1
        if stripped[position] == "]":
            return items
        item, end = decoder.raw_decode(stripped, position)
        items.append((stripped.count("\n", 0, position) + 1, item))
        position = end


def predictionbook_rows(line: int, prediction) -> list[ImportRow]:
    """A prediction with its responses: one row per response that carries a confidence."""
    if not isinstance(prediction, dict):
        raise ValueError("Each prediction must be a JSON object.")
    for name in ("id", "description", "deadline"):
        if prediction.get(name) in (None, ""):
            raise ValueError(f"{name}: required.")
    outcome = {True: "yes", False: "no", None: ""}.get(prediction.get("outcome"))
    if outcome is None:
        raise ValueError(f"outcome: {prediction.get('outcome')!r} is not true, false or null.")
    if prediction.get("withdrawn"):
        outcome = "annulled"
    deadline = moment(str(prediction["deadline"]), name="deadline")
    created_at = moment(str(prediction.get("created_at") or ""), name="created_at")
    rows = []
    for index, response in enumerate(prediction.get("responses") or []):
        if not isinstance(response, dict) or response.get("confidence") is None:
            continue  # a comment without a wager
        name = str(response.get("user_label") or "").strip() or f"predictionbook-user-{response.get('user_id')}"
        rows.append(
            ImportRow(
                line=line,
                question_key=f"predictionbook:{prediction['id']}",
                title=str(prediction["description"]),
                window_end=deadline,
                made_at=moment(str(response.get("created_at") or ""), name=f"responses[{index}].created_at")
                or created_at,
                probability=f"{response['confidence']}%",
                forecaster=username_from(name),
                forecaster_name=name,
                opened_at=created_at,
                outcome=outcome,
                details=str(response.get("comment") or "") if index == 0 else "",
                extra={"response": index},
            )
        )
    return rows


def predictionbook_read(text: str) -> ParsedFile:
    """PredictionBook's API JSON: a list of predictions (or {"user", "predictions"}), each with responses."""
    return read_rows(json_array_items(text), predictionbook_rows)


# Forewarn --------------------------------------------------------------------------------------

FOREWARN_REQUIRED = {
    "question_id",
    "question",
    "forecaster",
    "source",
    "probability",
    "made_at",
    "outcome",
    "window_end",
}


def forewarn_row(line: int, record: dict) -> ImportRow:
    """One line of Forewarn's export; times in UTC, as the export writes them."""
    title = unguarded(required(record, "question"))
    forecaster, source = unguarded(record.get("forecaster", "")), unguarded(record.get("source", ""))
    if bool(forecaster) == bool(source):
        raise ValueError("Give exactly one of forecaster or source.")
    outcome = record.get("outcome", "")
    return ImportRow(
        line=line,
        question_key=stable_key("forewarn", required(record, "question_id"), title)[:100],
        title=title,
        window_end=moment(required(record, "window_end"), name="window_end"),
        window_start=moment(record.get("window_start", ""), name="window_start"),
        made_at=moment(required(record, "made_at"), name="made_at"),
        probability=required(record, "probability"),
        forecaster=forecaster,
        source=source,
        phrase=unguarded(record.get("phrase", "")),
        yardstick=record.get("yardstick", ""),
        outcome=outcome,
        occurred_at=moment(record.get("occurred_at", ""), name="occurred_at"),
        opened_at=moment(record.get("opened_at", ""), name="opened_at"),
        closed_at=moment(record.get("closed_at", ""), name="closed_at"),
        resolved_at=moment(record.get("resolved_at", ""), name="resolved_at"),
        quote=unguarded(record.get("quote", "")),
        url=record.get("url", ""),
        kind=record.get("kind", ""),
        extra={"exact_opening": True},
    )


def forewarn_read(text: str) -> ParsedFile:
    """Forewarn's own /api/forecasts/export.csv."""
    return read_rows(csv_records(text, FOREWARN_REQUIRED), forewarn_row)


# Generic CSV -----------------------------------------------------------------------------------

GENERIC_REQUIRED = {"question", "window_end", "forecaster", "probability", "made_at", "outcome"}
GENERIC_OUTCOMES = {"yes": "yes", "no": "no", "annulled": "annulled", "": ""}


def generic_row(line: int, record: dict) -> ImportRow:
    """One forecast of the generic format; optional columns in docs/imports.md."""
    title = required(record, "question")
    outcome = record.get("outcome", "").lower()
    if outcome not in GENERIC_OUTCOMES:
        raise ValueError(f"outcome: {record['outcome']!r} is not yes, no, annulled or empty.")
    window_end = moment(required(record, "window_end"), name="window_end")
    forecaster, source = record.get("forecaster", ""), record.get("source", "")
    if bool(forecaster) == bool(source):
        raise ValueError("Give exactly one of forecaster or source.")
    question_id = record.get("question_id", "")
    return ImportRow(
        line=line,
        question_key=f"csv:{question_id}"[:100] if question_id else stable_key("csv", title, window_end.isoformat()),
        title=title,
        window_end=window_end,
        window_start=moment(record.get("window_start", ""), name="window_start"),
        made_at=moment(required(record, "made_at"), name="made_at"),
        probability=required(record, "probability"),
        forecaster=username_from(forecaster) if forecaster else "",
        forecaster_name=forecaster,
        source=source,
        outcome=outcome,
        resolved_at=moment(record.get("resolved_at", ""), name="resolved_at"),
        quote=record.get("quote", ""),
        url=record.get("url", ""),
        details=record.get("details", ""),
    )


def generic_read(text: str) -> ParsedFile:
    """The generic CSV: question, window_end, forecaster, probability, made_at, outcome (+ optional)."""
    return read_rows(csv_records(text, GENERIC_REQUIRED), generic_row)


READERS = {
    "fatebook": fatebook_read,
    "predictionbook": predictionbook_read,
    "forewarn": forewarn_read,
    "csv": generic_read,
}


def file_read(text: str, *, fmt: str) -> ParsedFile:
    """Every forecast row of a file in format `fmt`, and an error per line it cannot read."""
    if fmt not in READERS:
        raise UnreadableFile(f"Unknown format {fmt!r}: choose one of {', '.join(FORMATS)}.")
    return READERS[fmt](text)
