"""JSON documents and JSON Lines files as articles: one record an article (fields: records.py).
A JSON Feed is a feed, not records: feeds.py reads it.

A JSONL file is streamed a line at a time; a bad line fails alone, the rest still load. The
articles are not yet checked against the article limit: the loader does that.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rag.ingest.decoding import BINARY_SNIFF_BYTES, UTF16_BOMS, LoadError, decode_bytes, refuse_binary
from rag.ingest.records import record_to_article
from rag.models import Article, LoadFailure

# The keys under which a JSON document may hold its list of articles ({"articles": [...]}).
_LIST_KEYS = ("articles", "items", "data", "documents", "results")


def parse_json(raw: str) -> Any:
    """A JSON document, parsed; LoadError with the line and column when it is malformed."""
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise LoadError(f"malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None


def json_records_articles(data: Any, origin: str, path: str | None) -> Iterator[Article | LoadFailure]:
    """The articles of a parsed JSON document: one record, a list of them, or a list under a key
    such as "articles". `path` (None for a URL) becomes each article's path."""
    if isinstance(data, dict):
        for key in _LIST_KEYS:
            if isinstance(data.get(key), list):
                data = data[key]
                break
    records = data if isinstance(data, list) else [data]
    if not records:
        raise LoadError("JSON holds no articles")
    for n, record in enumerate(records):
        where = f"{origin}[{n}]" if isinstance(data, list) else origin
        locator = f"{path or origin}[{n}]" if isinstance(data, list) else None
        yield from _record(record, where, path, locator)


def jsonl_articles(path: Path, origin: str, resolved: str) -> Iterator[Article | LoadFailure]:
    """The articles of a JSON Lines file, one a line, read as a stream; `resolved` is the path
    the articles keep."""
    seen_any = False
    with path.open("rb") as fh:
        # A binary file fails once, not once per "line". Only a check for binary content: a
        # decode of the head could cut a multi-byte character and fail a good file.
        head = fh.read(BINARY_SNIFF_BYTES)
        if head.startswith(UTF16_BOMS):
            raise LoadError("UTF-16 .jsonl is not supported; save it as UTF-8")
        refuse_binary(head)
        fh.seek(0)
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            seen_any = True
            yield from _jsonl_line(line, lineno, f"{origin}:{lineno}", resolved)
    if not seen_any:
        raise LoadError("empty file")


def _jsonl_line(line: bytes, lineno: int, where: str, resolved: str) -> Iterator[Article | LoadFailure]:
    try:
        record = json.loads(decode_bytes(line, "line"))
    except LoadError as exc:
        yield LoadFailure(where, str(exc))
        return
    except json.JSONDecodeError as exc:
        yield LoadFailure(where, f"malformed JSON on line {lineno}: {exc.msg} (column {exc.colno})")
        return
    yield from _record(record, where, resolved, f"{resolved}:{lineno}")


def _record(record: Any, where: str, path: str | None, locator: str | None) -> Iterator[Article | LoadFailure]:
    try:
        art = record_to_article(record, where)
    except LoadError as exc:
        yield LoadFailure(where, str(exc))
        return
    art.path = path
    art.locator = locator
    yield art
