"""JSON records as articles: the common field names of news corpora."""

from __future__ import annotations

import logging
from typing import Any

from rag.ingest.decoding import LoadError
from rag.ingest.fields import (
    AUTHOR_FIELDS,
    DATE_FIELDS,
    ID_FIELDS,
    SOURCE_FIELDS,
    TEXT_FIELDS,
    TITLE_FIELDS,
    URL_FIELDS,
    as_name,
    first_field,
    first_sentence_title,
)
from rag.models import Article
from rag.text.dates import leading_date, parse_date
from rag.text.sentences import normalize_text

log = logging.getLogger(__name__)


def record_to_article(record: Any, origin: str) -> Article:
    """An article from a JSON record with the common field names of docs/contract.md."""
    if not isinstance(record, dict):
        raise LoadError(f"expected a JSON object (an article), got {type(record).__name__}")
    text = first_field(record, TEXT_FIELDS)
    if isinstance(text, list):
        text = "\n\n".join(str(t) for t in text)
    if not isinstance(text, str) or not text.strip():
        raise LoadError("record has no article text (fields: " + ", ".join(TEXT_FIELDS) + ")")
    text = normalize_text(text)
    raw_date = first_field(record, DATE_FIELDS)
    published = parse_date(raw_date)
    if raw_date is not None and published is None:
        log.warning("%s: published date %r is not a full date (day, month, year), ignored", origin, raw_date)
    if raw_date is None and (top := leading_date(text)):
        published = top[0]  # a dateline ("WASHINGTON, June 19, 2024 — ...") as in text files
    title = as_name(first_field(record, TITLE_FIELDS))
    return Article(
        text=text,
        title=title or first_sentence_title(text),
        source=as_name(first_field(record, SOURCE_FIELDS)),
        author=as_name(first_field(record, AUTHOR_FIELDS)),
        url=as_name(first_field(record, URL_FIELDS)),
        published=published,
        given_id=as_name(first_field(record, ID_FIELDS)),
        origin=origin,
    )
