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


# A name may be a list of names (authors), each a string or a {"name": ...} object; a list inside
# that ("authors": [["Ann", "Bo"]]) is read too. Deeper nesting is no name anyone writes, and
# following it without bound ends in a RecursionError (a title nested 600 lists deep, issue #18).
NAME_MAX_NESTING = 2

# Caps on the metadata an article keeps, in characters. Title, outlet and author are copied into
# every passage row, the keyword index and the vector store's metadata, and shown in replies, so an
# unbounded one multiplies (a 500,000-character title took 344 MB on disk, issue #18).
# A title: twice the longest first line read as one (text_files.TITLE_LINE_MAX_CHARS, 150), room
# for a headline with its subtitle; longer is no headline.
TITLE_MAX_CHARS = 300
# An outlet's name: the longest real ones ("The Atlanta Journal-Constitution") are under 40.
SOURCE_MAX_CHARS = 100
# An author: room for a byline of several names ("Ann Lee, Bo Chen, Cy Diaz and Dee Evans").
AUTHOR_MAX_CHARS = 200


def as_name(value: Any, _depth: int = 0) -> str | None:
    """A one-line name from a string, a {"name": ...} object or a list of them; None if empty.
    Anything else (an object without a name, lists nested deeper than NAME_MAX_NESTING) is None."""
    if isinstance(value, dict):
        value = value.get("name") or value.get("title") or value.get("id")
    if isinstance(value, (list, tuple)):
        if _depth >= NAME_MAX_NESTING:
            return None
        names = [as_name(v, _depth + 1) for v in value]
        value = ", ".join(n for n in names if n)
    if value is None or isinstance(value, (dict, list, tuple)):
        return None
    try:
        value = " ".join(str(value).replace("\x00", "").split())
    except ValueError:  # an int of more digits than Python converts (sys.get_int_max_str_digits)
        return None
    return value or None


def clip(value: str | None, limit: int) -> str | None:
    """`value` cut to at most `limit` characters, on a word boundary, with an ellipsis."""
    if value is None or len(value) <= limit:
        return value
    head = value[: limit - 1]
    cut = head.rsplit(" ", 1)[0] if " " in head else head
    return cut.rstrip(" ,;:-") + "…"
