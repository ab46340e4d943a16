"""Briefings of what arrived lately, and briefings narrowed to a topic and/or outlets.

- A recent window is by arrival: the articles first ingested in the last N hours (published dates
  are days, too coarse for hours; an article is never ingested before it is published). Each is
  still placed and shown by its published date when it has one.
- Narrowing keeps the articles of the outlets named (case-insensitive), then, for a topic, the
  articles whose passages pass the relevance gate of `ask` and topic summaries: each article's
  passages are ranked by their stored embeddings against the topic (no retrieval over the whole
  collection, which could miss the window's articles in a large one), and its best ones gated.
Both are rendered by the ordinary briefing code; narrowed briefings are not saved (the saved
briefing of a day is the whole day's).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from rag.answer.extractive import ExtractiveAnswerer
from rag.briefing.pipeline import compute_briefing
from rag.briefing.results import Briefing
from rag.components import Components
from rag.models import ArticleRecord, Passage
from rag.search.articles import WindowArticle, articles_in_window

MAX_HOURS = 168          # a week: /news goes no further back
TOPIC_ARTICLES = 60      # articles gated for a topic, the closest first (the gate embeds their sentences)
PASSAGES_PER_ARTICLE = 2  # an article's best passages the gate reads


def ingested_at(record: ArticleRecord) -> datetime:
    """When the article was first ingested, timezone-aware (a stamp without offset is UTC)."""
    stamp = datetime.fromisoformat(record.ingested_at)
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def recent_window(c: Components, hours: int, now: datetime | None = None) -> list[WindowArticle]:
    """The articles first ingested in the `hours` before `now` (default: now), duplicates included;
    each dated by its published day, or (none known) the day it was ingested."""
    if not 1 <= hours <= MAX_HOURS:
        raise ValueError(f"hours must be 1 to {MAX_HOURS}, not {hours}")
    if not c.registry_exists():
        return []
    tz = ZoneInfo(c.settings.timezone)
    now = _aware(now, tz)
    cutoff = now - timedelta(hours=hours)
    out = []
    for rec in c.registry.articles():
        arrived = ingested_at(rec)
        if not cutoff <= arrived <= now:
            continue
        if rec.published:
            out.append(WindowArticle(rec, date.fromisoformat(rec.published[:10]), "published"))
        else:
            out.append(WindowArticle(rec, arrived.astimezone(tz).date(), "ingested"))
    return out


def keep_sources(window: list[WindowArticle], sources: Iterable[str]) -> list[WindowArticle]:
    """The window's articles from one of `sources` (outlet names, case-insensitive); all without any."""
    wanted = {s.strip().casefold() for s in sources if s.strip()}
    if not wanted:
        return list(window)
    return [w for w in window if (w.record.source or "").casefold() in wanted]


def keep_topic(c: Components, window: list[WindowArticle], topic: str) -> list[WindowArticle]:
    """The window's articles about `topic`: an article is kept when its passages closest to the
    topic pass the relevance gate (a near-copy goes with its original)."""
    topic = " ".join(topic.split())
    if not topic or not window:
        return list(window)
    originals = list(dict.fromkeys(_original(w.record) for w in window))
    candidates = _closest_passages(c, originals, topic)
    gate = ExtractiveAnswerer(c)
    kept = {aid for aid, passages in candidates.items()
            if gate.relevant(topic, passages, gate.score(topic, passages))}
    return [w for w in window if _original(w.record) in kept]


def narrow_window(c: Components, window: list[WindowArticle], topic: str | None = None,
                  sources: Sequence[str] = ()) -> list[WindowArticle]:
    """The window narrowed to the outlets named, then to the topic (each optional)."""
    window = keep_sources(window, sources)
    return keep_topic(c, window, topic) if topic else window


def recent_briefing(c: Components, hours: int = 24, topic: str | None = None, sources: Sequence[str] = (),
                    now: datetime | None = None, max_stories: int = 5) -> Briefing:
    """A short briefing of what arrived in the last `hours` (1..168), optionally narrowed."""
    tz = ZoneInfo(c.settings.timezone)
    now, topic = _aware(now, tz), _clean(topic)
    window = narrow_window(c, recent_window(c, hours, now), topic, sources)
    since = (now - timedelta(hours=hours)).astimezone(tz).date()
    span = "the last hour" if hours == 1 else f"the last {hours} hours"
    why = "no article first ingested in this window matches" if topic or sources else \
        "no article in this collection was first ingested in this window"
    empty = f"Nothing arrived in {span}{_about(topic, sources)}: {why}."
    return _briefing(c, since, now.astimezone(tz).date(), window, f"News of {span}{_label(topic, sources)}",
                     empty, max_stories)


def narrowed_briefing(c: Components, since: date, until: date, topic: str | None = None,
                      sources: Sequence[str] = (), max_stories: int = 20) -> Briefing:
    """The briefing of [since, until] (by published date, as `make_briefing`'s) narrowed to a topic
    and/or outlets. Not saved: the saved briefing of a window is the whole window's."""
    tz, topic = ZoneInfo(c.settings.timezone), _clean(topic)
    window = narrow_window(c, articles_in_window(c, since, until, tz), topic, sources)
    title = since.isoformat() if since == until else f"{since.isoformat()} to {until.isoformat()}"
    empty = (f"No news for {title}{_about(topic, sources)}: none of the articles published (or, with no known "
             "date, ingested) in this window matches.")
    return _briefing(c, since, until, window, f"News briefing: {title}{_label(topic, sources)}", empty,
                     max_stories)


def _briefing(c: Components, since: date, until: date, window: list[WindowArticle], heading: str,
              empty: str, max_stories: int) -> Briefing:
    """The window's briefing under its own heading (the rest as `compute_briefing` renders it)."""
    b = compute_briefing(c, since, until, window, max_stories)
    if not b.stories:
        b.markdown = f"# {heading}\n\n{empty}\n"
    else:
        _, _, rest = b.markdown.partition("\n")
        b.markdown = f"# {heading}\n{rest}"
    return b


def _closest_passages(c: Components, article_ids: list[str], topic: str) -> dict[str, list[Passage]]:
    """Each article's passages closest to the topic (by stored embeddings), for the articles
    closest to it (at most TOPIC_ARTICLES)."""
    rows = {aid: c.registry.article_chunks(aid) for aid in article_ids}
    vectors = c.store.vectors([r["chunk_id"] for chunks in rows.values() for r in chunks])
    qvec = np.asarray(c.embedder.embed([topic])[0], dtype=np.float32)
    ranked: list[tuple[float, str, list[Passage]]] = []
    for aid, chunks in rows.items():
        record = c.registry.get(aid)
        scored = [(float(vectors[r["chunk_id"]] @ qvec), r) for r in chunks if r["chunk_id"] in vectors]
        if record is None or not scored:
            continue
        scored.sort(key=lambda pair: pair[0], reverse=True)
        best = [_passage(record, row, cosine) for cosine, row in scored[:PASSAGES_PER_ARTICLE]]
        ranked.append((scored[0][0], aid, best))
    ranked.sort(key=lambda item: item[0], reverse=True)
    return {aid: passages for _, aid, passages in ranked[:TOPIC_ARTICLES]}


def _passage(rec: ArticleRecord, row, cosine: float) -> Passage:
    return Passage(chunk_id=row["chunk_id"], article_id=rec.article_id, title=rec.title, source=rec.source,
                   published=rec.published, url=rec.url, path=rec.path, text=row["text"], score=cosine,
                   ord=row["ord"], start=row["start"], end=row["end"], relevance=cosine)


def _original(record: ArticleRecord) -> str:
    return record.duplicate_of or record.article_id


def _clean(topic: str | None) -> str | None:
    """The topic with its spaces tidied; None for none or a blank one."""
    return " ".join((topic or "").split()) or None


def _aware(now: datetime | None, tz: ZoneInfo) -> datetime:
    """`now` (default: the current time), timezone-aware (a naive one is in `tz`)."""
    if now is None:
        return datetime.now(UTC)
    return now if now.tzinfo else now.replace(tzinfo=tz)


def _about(topic: str | None, sources: Sequence[str]) -> str:
    """' about “energy” from Reuters, AP' for the empty message."""
    return (f" about “{topic}”" if topic else "") + (f" from {', '.join(sources)}" if sources else "")


def _label(topic: str | None, sources: Sequence[str]) -> str:
    """' · about “energy” · from Reuters, AP' for the heading."""
    return (f" · about “{topic}”" if topic else "") + (f" · from {', '.join(sources)}" if sources else "")
