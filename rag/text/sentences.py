"""Sentence splitting and the text normalizations every stage shares."""

from __future__ import annotations

import re
import unicodedata

_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "sen", "rep", "gov", "gen", "lt", "col", "capt", "sgt", "st",
    "jr", "sr", "mt", "ft", "no", "vs", "etc", "inc", "corp", "co", "ltd", "dept", "univ", "fig",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
    "u.s", "u.k", "u.n", "e.g", "i.e", "a.m", "p.m", "d.c", "u.s.a", "approx", "est", "pres",
}

# A sentence ends at . ! ? (plus closing quotes/brackets) followed by space and an opening
# character that can start a sentence; newlines always end a sentence.
_BOUNDARY = re.compile(r"[.!?][\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])|\n+")

_WORD_BEFORE = re.compile(r"([A-Za-z][A-Za-z.]*)\.$")


def normalize_text(text: str) -> str:
    """Unicode NFC, Unix newlines, no trailing spaces, at most one blank line in a row."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\u00a0", " ").replace("\ufeff", "")
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans (start, end) over `text`, so text[start:end] is each sentence verbatim."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        is_stop = text[match.start()] in ".!?"
        # A full stop keeps its closing quotes/brackets; a newline boundary keeps nothing.
        end = match.start() + _closing_len(match.group(0)) if is_stop else match.start()
        if is_stop:
            word = _WORD_BEFORE.search(text, max(0, match.start() - 12), match.start() + 1)
            if word and _is_abbreviation(word.group(1)):
                continue
        _append_span(text, spans, start, end)
        start = match.end()
    _append_span(text, spans, start, len(text))
    return spans


def _closing_len(boundary: str) -> int:
    n = 1
    while n < len(boundary) and boundary[n] in "\"'”’)]":
        n += 1
    return n


def _is_abbreviation(word: str) -> bool:
    w = word.lower().rstrip(".")
    return w in _ABBREVIATIONS or len(w) == 1  # single initials: "J. Smith"


def _append_span(text: str, spans: list[tuple[int, int]], start: int, end: int) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        spans.append((start, end))


# Openings of a sentence that leans on the one before it ("Moreover, …", "This …", "Since then,
# …"): quoted alone, it reads badly. Summaries also avoid possessives that need an antecedent.
LEANING_OPENERS = ("Moreover|However|Additionally|Also|But|And|Since then|That|This|These|Those|It|They|He|She|"
                   "Such|Instead|Still|Meanwhile|Furthermore|In addition|As a result|Therefore|Thus|Yet|Then|"
                   "Later")


def opener_pattern(*extra: str) -> re.Pattern:
    """A regex matching a sentence that opens with one of LEANING_OPENERS or `extra`."""
    return re.compile(rf"^(?:{'|'.join([LEANING_OPENERS, *extra])})\b")


def round_brackets(text: str) -> str:
    """Square brackets shown as round ones, so article text never reads as a [n] marker."""
    return text.replace("[", "(").replace("]", ")")
