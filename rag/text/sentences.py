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


# Lines that are page furniture, not reporting: "Read more", "Where to watch:", credits, bylines,
# comment forms, copyright lines (seen in the seed articles and RealTime QA pages, issue #19).
_FURNITURE = re.compile(
    r"^(?:read (?:more|next|also)|related(?: articles| stories| coverage)?|where to (?:watch|buy|stream)|"
    r"(?:watch|listen|photo|image|video|credit|source|caption)s?\s*(?::|$)|(?:photo|image)s? by\b|"
    r"advertisement|sponsored|subscribe|sign up|follow us|share (?:this|on)|click here|copyright|©|"
    r"all rights reserved|please enter|leave a (?:comment|reply))", re.I)

_BYLINE = re.compile(r"^By\s+[A-Z]")

_CREDIT = re.compile(r"[”\"]\s+by\s+[A-Z]")  # "“Kim Jong-un visiting Berlin” by driver Photographer"

_TERMINAL = re.compile(r"[.!?][\"'”’)\]]*$")

# Verb cues, without a tagger: auxiliaries and common verbs, past forms (-ed) and third-person
# forms after a subject are left to the punctuation test below.
_VERB_CUE = re.compile(
    r"\b(?:is|are|was|were|be|been|being|am|has|have|had|do|does|did|will|would|can|could|may|might|"
    r"must|shall|should|says?|said|told|tells?|made|makes?|took|takes?|gave|gives?|got|gets?|went|goes|"
    r"came|comes?|saw|sees?|met|meets?|held|holds?|left|leaves|sent|sends?|sold|sells?|bought|buys?|"
    r"won|wins?|lost|led|leads?|began|became|rose|fell|paid|kept|brought|built|found|knew|thought|"
    r"spoke|wrote|ran|grew|struck|fought|hit|set|put|cut)\b|\b[a-z]{2,}(?:ed|ing)\b")

FRAGMENT_MAX_WORDS = 10  # headings run to 8-10 words in the seeds and RealTime QA; unpunctuated
# closing lines of a paragraph ("… rebuild its war machine") to 12 and more


def is_question(sentence: str) -> bool:
    """Whether a sentence asks rather than tells ("What airports are ICE agents going to?", a
    subhead of Q&A-style articles): it restates a question and answers none."""
    return sentence.rstrip().rstrip("\"”’')»").endswith("?")


def is_fragment(sentence: str) -> bool:
    """Whether a "sentence" is a heading, caption, byline or page furniture, not a statement:
    never an answer or summary sentence. Furniture ("Read more", "Where to watch:", credits,
    copyright lines) always is; a line without a full stop is when it is short (a heading:
    "North Korea pursues nuclear weaponry") or has no verb; a punctuated line is when it has no
    verb and at most a few words."""
    text = " ".join(sentence.split())
    if not text or _FURNITURE.match(text) or _CREDIT.search(text) or text.endswith(":"):
        return True
    words = text.split()
    has_verb = bool(_VERB_CUE.search(text)) or bool(re.search(r"\d", text) and len(words) > 3)
    if _BYLINE.match(text) and not has_verb:  # "By Jane Smith, Senior Correspondent"
        return True
    if not _TERMINAL.search(text):
        return len(words) <= FRAGMENT_MAX_WORDS or not has_verb
    if text.endswith("!") and len(words) <= 5:  # "Please enter your comment!" style prompts
        return True
    return not has_verb and len(words) <= 6
