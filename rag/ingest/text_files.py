"""Plain text and Markdown articles: front matter, title, byline, dateline."""

from __future__ import annotations

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

_BYLINE = re.compile(r"^(?i:by)\s+([A-Z][\w.'’-]+(?:\s+[A-Z][\w.'’-]+){0,3})\s*$")

_OUTLET_LEAD = re.compile(r"^\(\s*([A-Z][\w.&' -]{1,40}?)\s*\)\s*[–—-]\s*")

_APPEARED = re.compile(
    r"^this (?:article|story|piece) (?:first |originally )?appeared (?:in|on) (?:the website of )?"
    r"([A-Z][\w.&' -]{1,40}?)(?: and .*)?\.?$", re.I
)

_COPYRIGHT = re.compile(r"^(?:copyright|©)\s*(?:©\s*)?\d{4},?\s+([A-Z][\w.&' -]{1,40}?)\.?\s*$", re.I)


def _front_matter(raw: str) -> tuple[dict[str, Any], str]:
    if not raw.startswith("---\n"):
        return {}, raw
    end = raw.find("\n---", 4)
    if end < 0:
        return {}, raw
    import yaml

    try:
        meta = yaml.safe_load(raw[4:end]) or {}
    except yaml.YAMLError as exc:
        raise LoadError(f"malformed front matter: {str(exc).splitlines()[0]}") from None
    if not isinstance(meta, dict):
        raise LoadError("malformed front matter: expected 'key: value' lines")
    rest = raw[end + 4:]
    return meta, rest[rest.find("\n") + 1:] if "\n" in rest else ""


def parse_text_article(raw: str, origin: str, markdown: bool, meta: dict[str, Any] | None = None) -> Article:
    """A plain-text or Markdown article: title from front matter, a heading or the first line."""
    raw = raw.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    front, body = _front_matter(raw)
    meta = {**(meta or {}), **{str(k).lower(): v for k, v in front.items()}}
    lines = body.split("\n")
    i = 0
    title = as_name(first_field(meta, TITLE_FIELDS))

    def skip_blank() -> None:
        nonlocal i
        while i < len(lines) and not lines[i].strip():
            i += 1

    skip_blank()
    if i < len(lines):
        line = lines[i].strip()
        heading = re.match(r"^#{1,6}\s+(.+?)\s*#*$", line) if markdown else None
        if heading:
            title = title or heading.group(1).strip()
            i += 1
        elif (leading_date(line) is None and not _HEADER_LINE.match(line) and len(line) <= 150
              and any(rest.strip() for rest in lines[i + 1:])):
            if title is None or line == title:
                title = title or line
                i += 1
    # Labelled header lines ("Outlet: ...", "Date: ...") and a byline right under the title.
    while True:
        skip_blank()
        if i >= len(lines):
            break
        line = lines[i].strip()
        labelled = _HEADER_LINE.match(line)
        byline = _BYLINE.match(line)
        if labelled:
            key = labelled.group(1).lower()
            key = {"by": "author", "outlet": "source", "publisher": "source", "link": "url",
                   "date": "published", "headline": "title"}.get(key, key)
            if key == "published":
                found = leading_date(labelled.group(2))
                if found and labelled.group(2)[found[1]:].strip():
                    break  # "Date: 2023-11-12 The story begins..." : the body starts on this line
            if first_field(meta, FIELD_GROUPS[key]) is None:  # front matter wins over header lines
                meta[key] = labelled.group(2).strip()
        elif byline:
            if first_field(meta, AUTHOR_FIELDS) is None:
                meta["author"] = byline.group(1)
        else:
            break
        i += 1
    text = "\n".join(lines[i:])
    title = title or as_name(first_field(meta, TITLE_FIELDS))
    published = parse_date(first_field(meta, DATE_FIELDS))
    top = leading_date(text)
    if top and re.match(r"^\s*(?:date|published|dated)\b", text, re.I):
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
