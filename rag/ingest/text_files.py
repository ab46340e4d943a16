"""Plain text and Markdown articles: front matter, title, byline, dateline."""

from __future__ import annotations

import functools
import re
from typing import Any

from rag.ingest.decoding import LoadError
from rag.ingest.fields import (
    AUTHOR_FIELDS,
    DATE_FIELDS,
    FIELD_GROUPS,
    ID_FIELDS,
    SOURCE_FIELDS,
    TITLE_FIELDS,
    URL_FIELDS,
    as_name,
    first_field,
    first_sentence_title,
)
from rag.models import Article
from rag.text.dates import leading_date, parse_date
from rag.text.sentences import normalize_text

_HEADER_LINE = re.compile(
    r"^(title|headline|source|outlet|publisher|author|by|date|published|url|link)\s*:\s*(.+)$", re.I
)

# A byline: "By" and one to four capitalised words ("By Mary Ann Van Dyke"); a longer line is a
# sentence that starts with "By".
_BYLINE = re.compile(r"^(?i:by)\s+([A-Z][\w.'’-]+(?:\s+[A-Z][\w.'’-]+){0,3})\s*$")

# An outlet the article names itself, 2 to 41 characters (a site's name, "Reuters", "NYTimes.com"):
# a longer span is a phrase of the text, not a name.
_OUTLET_LEAD = re.compile(r"^\(\s*([A-Z][\w.&' -]{1,40}?)\s*\)\s*[–—-]\s*")

_APPEARED = re.compile(
    r"^this (?:article|story|piece) (?:first |originally )?appeared (?:in|on) (?:the website of )?"
    r"([A-Z][\w.&' -]{1,40}?)(?: and .*)?\.?$", re.I
)

_COPYRIGHT = re.compile(r"^(?:copyright|©)\s*(?:©\s*)?\d{4},?\s+([A-Z][\w.&' -]{1,40}?)\.?\s*$", re.I)

# A first line of more than 150 characters is taken for the start of the text, not a title: one and
# a half times a long headline (fields.MADE_TITLE_MAX_CHARS) leaves room for a headline with a
# subtitle on its line, while a paragraph written on one line runs longer.
TITLE_LINE_MAX_CHARS = 150

_MARKDOWN_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*$")

# A header line's label as the article's metadata key ("By: ..." is the author).
_HEADER_KEYS = {"by": "author", "outlet": "source", "publisher": "source", "link": "url",
                "date": "published", "headline": "title"}

_DATE_MARKER = re.compile(r"^\s*(?:date|published|dated)\b", re.I)

_FENCE_OPEN = "---\n"  # YAML front matter opens on the first line...
_FENCE_CLOSE = "\n---"  # ...and closes on a line that starts with these three dashes


# How deep front matter may nest: its values are strings, dates and lists of names (a list of
# {"name": ...} objects is three levels under the top mapping); 20 leaves room for any real use,
# while PyYAML's recursive reader ends in a RecursionError near 300 (600 nested lists, issue #18).
FRONT_MATTER_MAX_DEPTH = 20


@functools.cache
def _front_matter_loader() -> Any:
    """PyYAML's safe loader, made once, that refuses aliases (`*name`, which expand ten-fold a level: an
    888-byte file became a 50,000,000-character title, issue #18) and deep nesting, and reads an
    impossible date (2024-02-30) as the string it is rather than raising."""
    import yaml

    class Loader(yaml.SafeLoader):
        depth = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                raise LoadError("front matter uses YAML aliases (*name), which are not allowed")
            self.depth += 1
            if self.depth > FRONT_MATTER_MAX_DEPTH:
                raise LoadError(f"front matter nested over {FRONT_MATTER_MAX_DEPTH} levels deep")
            try:
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

        def construct_yaml_timestamp(self, node: Any) -> Any:
            try:
                return super().construct_yaml_timestamp(node)
            except (ValueError, OverflowError):
                return self.construct_scalar(node)

    Loader.add_constructor("tag:yaml.org,2002:timestamp", Loader.construct_yaml_timestamp)
    return Loader


def _front_matter(raw: str) -> tuple[dict[str, Any], str]:
    """The YAML front matter of a text ({} if none) and the text after it."""
    if not raw.startswith(_FENCE_OPEN):
        return {}, raw
    end = raw.find(_FENCE_CLOSE, len(_FENCE_OPEN))
    if end < 0:
        return {}, raw
    import yaml

    try:
        # A SafeLoader subclass: it makes no Python objects.
        meta = yaml.load(raw[len(_FENCE_OPEN):end], Loader=_front_matter_loader()) or {}
    except yaml.YAMLError as exc:
        raise LoadError(f"malformed front matter: {(str(exc).splitlines() or ['YAML error'])[0]}") from None
    except (ValueError, OverflowError, RecursionError) as exc:  # an int of 5,000 digits, ...
        raise LoadError(f"malformed front matter: {type(exc).__name__}") from None
    if not isinstance(meta, dict):
        raise LoadError("malformed front matter: expected 'key: value' lines")
    rest = raw[end + len(_FENCE_CLOSE):]
    return meta, rest[rest.find("\n") + 1:] if "\n" in rest else ""


def parse_text_article(raw: str, origin: str, markdown: bool, meta: dict[str, Any] | None = None) -> Article:
    """A plain-text or Markdown article: title from front matter, a heading or the first line."""
    raw = raw.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    front, body = _front_matter(raw)
    meta = {**(meta or {}), **{str(k).lower(): v for k, v in front.items()}}
    lines = body.split("\n")
    title, i = _title_line(lines, _skip_blank(lines, 0), as_name(first_field(meta, TITLE_FIELDS)), markdown)
    i = _header_lines(lines, i, meta)
    return _article("\n".join(lines[i:]), title, meta, origin)


def _skip_blank(lines: list[str], i: int) -> int:
    """The index of the first non-blank line from `i` on (len(lines) if none)."""
    while i < len(lines) and not lines[i].strip():
        i += 1
    return i


def _title_line(lines: list[str], i: int, title: str | None, markdown: bool) -> tuple[str | None, int]:
    """The title, taken from line `i` when that line is one, and the index of the line after it.

    A Markdown heading always is (a title from front matter wins over it); a plain first line is
    when it is short, is no date or header line, has text after it, and front matter gave no other
    title."""
    if i >= len(lines):
        return title, i
    line = lines[i].strip()
    heading = _MARKDOWN_HEADING.match(line) if markdown else None
    if heading:
        return title or heading.group(1).strip(), i + 1
    if (leading_date(line) is None and not _HEADER_LINE.match(line) and len(line) <= TITLE_LINE_MAX_CHARS
            and any(rest.strip() for rest in lines[i + 1:]) and (title is None or line == title)):
        return title or line, i + 1
    return title, i


def _header_lines(lines: list[str], i: int, meta: dict[str, Any]) -> int:
    """Read the labelled header lines ("Outlet: ...", "Date: ...") and bylines from line `i` on into
    `meta`; the index of the first line of the text."""
    while (i := _skip_blank(lines, i)) < len(lines) and _header_line(lines[i].strip(), meta):
        i += 1
    return i


def _header_line(line: str, meta: dict[str, Any]) -> bool:
    """Record one header line or byline in `meta` (front matter wins); False if the line is text."""
    labelled = _HEADER_LINE.match(line)
    if labelled:
        label, value = labelled.group(1).lower(), labelled.group(2)
        key = _HEADER_KEYS.get(label, label)
        if key == "published" and (found := leading_date(value)) and value[found[1]:].strip():
            return False  # "Date: 2023-11-12 The story begins..." : the body starts on this line
        if first_field(meta, FIELD_GROUPS[key]) is None:
            meta[key] = value.strip()
        return True
    byline = _BYLINE.match(line)
    if byline:
        if first_field(meta, AUTHOR_FIELDS) is None:
            meta["author"] = byline.group(1)
        return True
    return False


def _article(text: str, title: str | None, meta: dict[str, Any], origin: str) -> Article:
    """The article of the text after the title and header lines, with the metadata found."""
    title = title or as_name(first_field(meta, TITLE_FIELDS))
    published = parse_date(first_field(meta, DATE_FIELDS))
    top = leading_date(text)
    if top and _DATE_MARKER.match(text):
        text = text[top[1]:]  # an explicit "date ..." marker is metadata, not article text
    if published is None and top:
        published = top[0]
    text = normalize_text(text)
    source = as_name(first_field(meta, SOURCE_FIELDS))
    if source is None:
        source = _outlet_hint(text)
    if not text.strip():
        raise LoadError("empty article: no text after the title and metadata")
    return Article(
        text=text,
        title=title or first_sentence_title(text),
        source=source,
        author=as_name(first_field(meta, AUTHOR_FIELDS)),
        url=as_name(first_field(meta, URL_FIELDS)),
        published=published,
        given_id=as_name(first_field(meta, ID_FIELDS)),
        origin=origin,
    )


def _outlet_hint(text: str) -> str | None:
    """An outlet named by the article itself: "(Outlet.com) – ..." or a closing copyright line."""
    lead = _OUTLET_LEAD.match(text)
    if lead:
        return lead.group(1)
    last = text.rstrip().rsplit("\n", 1)[-1].strip()
    tail = _COPYRIGHT.match(last) or _APPEARED.match(last)
    return tail.group(1) if tail else None
