"""Report intake's figure: extracting the statements of a 5,000-word report, beside reading its text.

Self-contained: no database. The report is the labelled reports of tests/intake_reports/ and the
seed document, repeated in turn (each copy dated a year later, as a long digest would be) until it
holds 5,000 words; the baseline reads the same text (HTML to text, sentences) without looking
for statements.
"""

import json
from datetime import date
from pathlib import Path

from bench.measure import Figure, median_seconds
from forecasts.intake import extract_statements, report_text
from forecasts.intake.text import sentences

ROOT = Path(__file__).resolve().parent.parent
WORDS = 5_000
TARGET_SECONDS = 1.0


def long_report(words: int = WORDS) -> str:
    """A report of at least `words` words, made of the labelled reports and the seed document."""
    pieces = [
        json.loads(path.read_text())["text"] for path in sorted((ROOT / "tests" / "intake_reports").glob("*.json"))
    ]
    pieces.append((ROOT / "seeds" / "documents" / "000_235179012322d378.txt").read_text())
    text, count, index = [], 0, 0
    while count < words:
        piece = pieces[index % len(pieces)]
        text.append(piece)
        count += len(piece.split())
        index += 1
    return "\n\n".join(text)


def intake_figures(*, runs: int) -> list[Figure]:
    """Extraction of a 5,000-word report (median of `runs`), beside reading the same text."""
    text = long_report()
    published = date(2022, 1, 14)
    extraction = median_seconds(lambda: extract_statements(text, published), runs=max(runs, 3))
    reading = median_seconds(lambda: sentences(report_text(text)), runs=max(runs, 3))
    found = len(extract_statements(text, published))
    return [
        Figure(
            f"intake: statements of a {len(text.split()):,}-word report",
            extraction * 1000,
            "ms",
            "reading the text (to text, sentences)",
            reading * 1000,
            f"< {TARGET_SECONDS * 1000:.0f} ms",
            extraction < TARGET_SECONDS,
            f"{found} statements found",
        )
    ]
