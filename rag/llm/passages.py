"""Untrusted text as numbered, delimited data for a prompt: retrieved passages and thread history.

Everything that comes from an article or a conversation (body, title, outlet, date, a turn's
text) is defused before it goes in, so none of it can close its block and open a forged one
(issue #18 item 11):
- a bracket that starts something tag-like (`<`, `< /`, `<\u200b/`, and look-alikes such as
  `＜`, `﹤`, `‹`, `〈`, followed by a letter of any script) becomes `(`, whatever the tag's name
  or its spelling (case, spaces, Cyrillic letters);
- a citation-like `[n]` becomes `(n)`, so article text never reads as one of our markers;
- metadata is one line (all whitespace collapsed) of bounded length.
Ordinary text (`3 < 5`, `[sic]`, quotes, arrows) is left as it is.
"""

from __future__ import annotations

import re

from rag.models import Passage

# Characters a model may read as "<": ASCII, its NFKC compatibility forms (fullwidth, small),
# and the angle-bracket look-alikes of Unicode's confusables list.
_OPEN_BRACKETS = "<＜﹤‹〈〈《⟨ᐸ˂❮❬⧼⦉⦑⧘"
# Invisible characters that may sit between a bracket and the tag's name: format characters
# (zero-width, bidi controls, soft hyphen, word joiner, BOM, tag characters).
_INVISIBLE = "\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\U000e0000-\U000e007f"
_SLASHES = "/／⁄∕⧸\\\\"
_TAG_START = re.compile(rf"[{_OPEN_BRACKETS}](?=[\s{_INVISIBLE}{_SLASHES}!?]*[^\W\d_])")
_MARKER = re.compile(r"\[(\d+)\]")
# Twice a long news headline (about 150 characters; the seed articles' longest is 70); a longer
# field is cut, with an ellipsis.
_META_CHARS = 300


def defuse(text: str) -> str:
    """Untrusted text that cannot open or close a prompt delimiter nor forge a [n] marker."""
    return _MARKER.sub(r"(\1)", _TAG_START.sub("(", text))


def defuse_line(text: str | None, limit: int = _META_CHARS) -> str:
    """A metadata field defused, on one line (every whitespace run one space; `|`, the field
    separator, becomes `/`), at most `limit` characters."""
    line = " ".join(defuse(text or "").replace("|", "/").split())
    return line if len(line) <= limit else line[:limit - 1] + "…"


def format_passages(passages: list[Passage], first: int = 1) -> str:
    """Numbered passages (from `first`) delimited as data, each with its outlet, date and title
    on its [n] line; every field defused. (The URL is not sent: it costs tokens and says nothing
    the outlet and date do not.)"""
    blocks = []
    for n, p in enumerate(passages, first):
        meta = " | ".join((f"outlet: {defuse_line(p.source) or 'unknown'}",
                           f"published: {defuse_line(p.published) or 'date unknown'}",
                           f"title: {defuse_line(p.title)}"))
        blocks.append(f'<passage id="{n}">\n[{n}] {meta}\n{defuse(p.text)}\n</passage>')
    return "\n\n".join(blocks)


TURN_CHARS = 600  # of each turn: enough for a question and the start of an answer


def format_history(history: list[tuple[str, str]], max_chars: int = TURN_CHARS) -> str:
    """A conversation's turns ((role "user" | "bot", text), oldest first) for a prompt: each in
    its own `<turn role="...">` block, defused and cut to `max_chars`."""
    blocks = []
    for role, text in history:
        name = "user" if role == "user" else "newsdesk"
        blocks.append(f'<turn role="{name}">\n{defuse(text[:max_chars]).strip()}\n</turn>')
    return "\n".join(blocks)
