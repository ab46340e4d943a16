"""JSON documents and JSON Lines files as articles: one record an article (fields: records.py).
A JSON Feed is a feed, not records: feeds.py reads it.

A JSONL file is streamed a line at a time; a bad line fails alone, the rest still load, and a
line over MAX_JSONL_LINE_BYTES is one such failure, skipped without being held whole. A JSON
document is parsed whole, so one over MAX_JSON_DOCUMENT_CHARS is refused. The articles are not
yet checked against the article limit: the loader does that.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from rag.ingest.decoding import (
    BINARY_SNIFF_BYTES,
    UTF16_BOMS,
    LoadError,
    decode_bytes,
    refuse_binary,
    unexpected_error_reason,
)
from rag.ingest.records import record_to_article
from rag.models import Article, LoadFailure

# The longest JSONL line read, in bytes. A record holding an article at the default limit
# (NEWSDESK_MAX_ARTICLE_CHARS, 2,000,000 characters) takes at most 24 MB even when every character
# is written as an escaped surrogate pair ("\\ud83d\\ude00": 12 bytes a character); 32 MiB leaves
# room for its other fields. A longer line holds no article Newsdesk would accept.
MAX_JSONL_LINE_BYTES = 32 << 20

# The largest JSON document parsed, in characters. json.loads holds the text and every parsed
# value at once, and one astral character makes Python store a string at 4 bytes a character:
# 64 Mi characters take up to ~0.6 GB while parsing, inside the 1 GB an input may use (issue #18).
# A corpus larger than that belongs in a .jsonl file, which is streamed.
MAX_JSON_DOCUMENT_CHARS = 64 << 20

# Read size while skipping the rest of a JSONL line that is too long.
_SKIP_READ_BYTES = 1 << 20

# The keys under which a JSON document may hold its list of articles ({"articles": [...]}).
_LIST_KEYS = ("articles", "items", "data", "documents", "results")


def parse_json(raw: str) -> Any:
    """A JSON document, parsed; LoadError with the line and column when it is malformed, or when
    it is too large to parse whole (MAX_JSON_DOCUMENT_CHARS)."""
    if len(raw) > MAX_JSON_DOCUMENT_CHARS:
        raise LoadError(
            f"JSON document too large: {len(raw):,} characters (limit {MAX_JSON_DOCUMENT_CHARS:,}; "
            "a .json file is parsed whole in memory). Write a large corpus as JSON Lines "
            "(.jsonl, one record a line), which is streamed")
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise LoadError(f"malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise LoadError("malformed JSON: nested too deeply to read") from None
    except ValueError as exc:  # e.g. an integer over Python's 4,300-digit limit
        raise LoadError(f"malformed JSON: {str(exc)[:200]}") from None


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


def jsonl_articles(path: Path, origin: str, resolved: str,
                   max_line_bytes: int = MAX_JSONL_LINE_BYTES) -> Iterator[Article | LoadFailure]:
    """The articles of a JSON Lines file, one a line, read as a stream; `resolved` is the path
    the articles keep. A line over `max_line_bytes` is that line's failure."""
    seen_any = False
    with path.open("rb") as fh:
        # A binary file fails once, not once per "line". Only a check for binary content: a
        # decode of the head could cut a multi-byte character and fail a good file.
        head = fh.read(BINARY_SNIFF_BYTES)
        if head.startswith(UTF16_BOMS):
            raise LoadError("UTF-16 .jsonl is not supported; save it as UTF-8")
        refuse_binary(head)
        fh.seek(0)
        for lineno, line in enumerate(_bounded_lines(fh, max_line_bytes), start=1):
            if line is None:
                seen_any = True
                yield LoadFailure(f"{origin}:{lineno}", f"line {lineno} too long: over {max_line_bytes:,} "
                                  "bytes (the longest record a JSONL line may hold); skipped")
                continue
            if not line.strip():
                continue
            seen_any = True
            yield from _jsonl_line(line, lineno, f"{origin}:{lineno}", resolved)
    if not seen_any:
        raise LoadError("empty file")


def _bounded_lines(fh: BinaryIO, max_bytes: int) -> Iterator[bytes | None]:
    """The lines of a binary file, each at most `max_bytes` long before its newline; None for a
    longer line, whose rest is read and dropped a piece at a time (never held whole)."""
    while line := fh.readline(max_bytes + 1):
        if len(line) <= max_bytes or line.endswith(b"\n"):
            yield line
            continue
        while (piece := fh.readline(_SKIP_READ_BYTES)) and not piece.endswith(b"\n"):
            pass
        yield None


def _jsonl_line(line: bytes, lineno: int, where: str, resolved: str) -> Iterator[Article | LoadFailure]:
    try:
        record = json.loads(decode_bytes(line, "line"))
    except LoadError as exc:
        yield LoadFailure(where, str(exc))
        return
    except json.JSONDecodeError as exc:
        yield LoadFailure(where, f"malformed JSON on line {lineno}: {exc.msg} (column {exc.colno})")
        return
    except (RecursionError, ValueError) as exc:  # nested too deep, an int over 4,300 digits
        yield LoadFailure(where, unexpected_error_reason(exc))
        return
    yield from _record(record, where, resolved, f"{resolved}:{lineno}")


def _record(record: Any, where: str, path: str | None, locator: str | None) -> Iterator[Article | LoadFailure]:
    try:
        art = record_to_article(record, where)
    except LoadError as exc:
        yield LoadFailure(where, str(exc))
        return
    except (ValueError, OverflowError, RecursionError, TypeError) as exc:
        yield LoadFailure(where, unexpected_error_reason(exc))
        return
    art.path = path
    art.locator = locator
    yield art
