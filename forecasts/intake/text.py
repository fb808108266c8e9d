"""A report's plain text (pasted pages reduced to their words) and its sentences with offsets."""

import re
from dataclasses import dataclass

from bs4 import BeautifulSoup
from sentencex import segment

MAX_TEXT_LENGTH = 200_000
HTML_HINT = re.compile(r"<(?:html|body|p|div|article|br|h[1-6]|span|section)\b", re.IGNORECASE)
NOT_TEXT = ("script", "style", "noscript", "template", "nav", "footer", "header", "aside", "form", "svg")
BLOCKS = ("p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "article", "section", "blockquote")
# A paragraph that ends without a full stop, question or exclamation mark is a heading.
SENTENCE_END = re.compile(r"[.!?][\"'”’)\]]*\s*$")


@dataclass(frozen=True)
class Sentence:
    text: str
    start: int
    end: int
    paragraph: int
    is_heading: bool


def report_text(raw: str) -> str:
    """The words of a report: HTML (a pasted or uploaded page) reduced to text, spacing tidied."""
    if HTML_HINT.search(raw):
        soup = BeautifulSoup(raw, "html.parser")
        for element in soup(NOT_TEXT):
            element.decompose()
        for element in soup.find_all(BLOCKS):
            element.insert_before("\n\n")
            element.insert_after("\n\n")
        raw = soup.get_text()
    lines = [" ".join(line.split()) for line in raw.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def paragraphs(text: str):
    """(start offset, paragraph) for every non-empty line block of the text."""
    for match in re.finditer(r"[^\n]+(?:\n(?!\n)[^\n]+)*", text):
        if match.group().strip():
            yield match.start(), match.group()


def sentences(text: str) -> list[Sentence]:
    """The text's sentences in order, each with its offsets; headings are marked, not dropped."""
    found = []
    for number, (offset, paragraph) in enumerate(paragraphs(text)):
        heading = not SENTENCE_END.search(paragraph)
        cursor = 0
        for piece in segment("en", paragraph):
            stripped = piece.strip()
            if not stripped:
                continue
            start = paragraph.find(stripped, cursor)
            if start < 0:
                start = cursor
            cursor = start + len(stripped)
            found.append(Sentence(stripped, offset + start, offset + cursor, number, heading))
    return found
