"""What an article record is made of: the common field names of news corpora, helpers that read
a value from them, and the shortest text accepted as an article."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rag.text.sentences import split_sentences

TEXT_FIELDS = ("text", "body", "content", "article", "maintext", "full_text")

TITLE_FIELDS = ("title", "headline")

URL_FIELDS = ("url", "link", "href")

SOURCE_FIELDS = ("source", "source_domain", "outlet", "publisher", "site_name", "sitename")

DATE_FIELDS = ("published", "published_date", "published_at", "publishedAt", "date", "pubDate",
                "publish_date", "datePublished")

AUTHOR_FIELDS = ("author", "authors", "byline")

ID_FIELDS = ("id", "doc_id", "article_id", "uuid")

FIELD_GROUPS = {"title": TITLE_FIELDS, "source": SOURCE_FIELDS, "author": AUTHOR_FIELDS, "published": DATE_FIELDS,
                 "url": URL_FIELDS}

MIN_ARTICLE_CHARS = 40  # less than this after extraction is no article

# A title made from an article's first sentence is cut to the length of a long headline; past
# about 100 characters a first sentence reads as text, not as a title.
MADE_TITLE_MAX_CHARS = 100

# The first sentence is looked for in the article's first 2,000 characters only: splitting a whole
# article into sentences would cost more, and a first sentence longer than that is cut to
# MADE_TITLE_MAX_CHARS anyway.
FIRST_SENTENCE_SCAN_CHARS = 2000


def first_sentence_title(text: str, limit: int = MADE_TITLE_MAX_CHARS) -> str:
    """A title made from the first sentence, for articles that have none."""
    spans = split_sentences(text[:FIRST_SENTENCE_SCAN_CHARS])
    title = text[spans[0][0]:spans[0][1]] if spans else text[:limit]
    title = " ".join(title.split())
    return title if len(title) <= limit else title[: limit - 1].rsplit(" ", 1)[0] + "…"


def first_field(record: dict[str, Any], fields: Iterable[str]) -> Any:
    """The value of the first of `fields` that the record has and that is not empty."""
    for name in fields:
        value = record.get(name)
        if value not in (None, "", [], {}):
            return value
    return None


def as_name(value: Any) -> str | None:
    """A one-line name from a string, a {"name": ...} object or a list of them; None if empty."""
    if value is None:
        return None
    if isinstance(value, dict):
        value = value.get("name") or value.get("title") or value.get("id")
    if isinstance(value, (list, tuple)):
        names = [as_name(v) for v in value]
        value = ", ".join(n for n in names if n)
    value = " ".join(str(value).split())
    return value or None
