"""What a briefing is made of, typed: `Briefing`, its `Story`s and their `StoryArticle`s; their
`as_json()` is the `briefing --json` shape of docs/contract.md, and a saved briefing reads back
through `from_json()`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from rag.models import Citation


@dataclass
class StoryArticle:
    """One article of a story, with how it was placed in the window (`dated_by`)."""

    article_id: str
    title: str
    source: str | None
    published: str | None
    dated_by: str  # "published" or "ingested" (no known published date)
    day: str
    url: str | None
    path: str | None
    duplicate_of: str | None


@dataclass
class Story:
    """One story of a briefing: headline, cited summary, its outlets, and where they differ."""

    headline: str
    summary: str
    article_ids: list[str]
    sources: list[str]
    citations: list[Citation]
    differences: list[str]
    articles: list[StoryArticle]

    def as_json(self) -> dict[str, Any]:
        """The story object of `briefing --json`."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Story:
        """A story as `as_json()` wrote it."""
        fields = {k: data[k] for k in ("headline", "summary", "article_ids", "sources", "differences")}
        return cls(**fields, citations=[Citation(**c) for c in data["citations"]],
                   articles=[StoryArticle(**a) for a in data["articles"]])


@dataclass
class Briefing:
    """A briefing in the shape of docs/contract.md's `briefing --json`."""

    since: str
    until: str
    generated_at: str
    mode: str
    stories: list[Story] = field(default_factory=list)
    markdown: str = ""
    warnings: list[str] = field(default_factory=list)
    fingerprint: str = ""
    reused: bool = False

    def as_json(self) -> dict[str, Any]:
        """The JSON object of docs/contract.md."""
        return {"since": self.since, "until": self.until, "generated_at": self.generated_at,
                "mode": self.mode, "stories": [s.as_json() for s in self.stories], "markdown": self.markdown,
                "warnings": self.warnings}

    @classmethod
    def from_json(cls, data: dict[str, Any], fingerprint: str = "", reused: bool = False) -> Briefing:
        """A briefing as `as_json()` wrote it (a saved one)."""
        return cls(data["since"], data["until"], data["generated_at"], data["mode"],
                   [Story.from_json(s) for s in data["stories"]], data["markdown"], data["warnings"],
                   fingerprint, reused)
