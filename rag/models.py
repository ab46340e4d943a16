"""Plain data objects shared by the stages and the front ends; the JSON shapes of
docs/contract.md come from their `as_json()`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import date


@dataclass
class Article:
    """One loaded article, before indexing. `text` is the body as stored and quoted."""

    text: str
    title: str
    source: str | None = None
    author: str | None = None
    url: str | None = None
    path: str | None = None
    published: date | None = None
    given_id: str | None = None
    # Where a record sits in a multi-article input ("/abs/file.jsonl:3"): its identity when it
    # has neither an id nor a URL of its own.
    locator: str | None = None
    origin: str = ""  # the input (path, URL, "file:line") it came from, for error messages


@dataclass
class LoadFailure:
    """An input that could not be turned into an article, with a one-line reason. A `skipped` one
    is no failure: it was read, and is not an article (a feed item too short to be one)."""

    input: str
    error: str
    skipped: bool = False


@dataclass
class Chunk:
    """A passage of an article: `text` is article.text[start:end], verbatim."""

    ord: int
    start: int
    end: int
    text: str


@dataclass
class ArticleRecord:
    """An article as the registry holds it."""

    article_id: str
    version: str
    text_hash: str
    title: str
    source: str | None
    author: str | None
    url: str | None
    path: str | None
    published: str | None
    ingested_at: str
    updated_at: str
    chunks: int
    duplicate_of: str | None
    similarity: float | None
    text: str = field(repr=False, default="")

    def public(self) -> dict:
        """The fields docs/contract.md's `articles --json` shows."""
        d = asdict(self)
        for key in ("version", "text_hash", "text", "updated_at", "similarity", "author"):
            d.pop(key)
        return d


@dataclass
class Passage:
    """A retrieved passage with its article's metadata and a retrieval score."""

    chunk_id: str
    article_id: str
    title: str
    source: str | None
    published: str | None
    url: str | None
    path: str | None
    text: str
    score: float
    ord: int = 0
    start: int = 0
    end: int = 0
    relevance: float = 0.0  # cosine similarity of passage and query embeddings

    def as_result(self, rank: int) -> dict:
        """The `search --json` result object of docs/contract.md."""
        return {
            "rank": rank,
            "article_id": self.article_id,
            "title": self.title,
            "source": self.source,
            "published": self.published,
            "url": self.url,
            "path": self.path,
            "text": self.text,
            "score": round(float(self.score), 6),
        }


@dataclass
class Citation:
    """One cited source of an answer, summary or story: the `citations` items of docs/contract.md.
    `quote` is verbatim from the article."""

    n: int
    article_id: str
    title: str
    source: str | None
    published: str | None
    url: str | None
    path: str | None
    quote: str

    @classmethod
    def of(cls, n: int, passage: Passage, quote: str) -> Citation:
        """Citation number n of a passage, quoting `quote`."""
        return cls(n, passage.article_id, passage.title, passage.source, passage.published, passage.url,
                   passage.path, quote)

    def renumbered(self, n: int) -> Citation:
        """The same citation under another number."""
        return replace(self, n=n)

    def as_json(self) -> dict:
        """The JSON object of docs/contract.md (the fields, in order)."""
        return asdict(self)
