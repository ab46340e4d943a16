"""Daily (or any window's) briefings: the window's articles grouped into stories, each
summarized with citations, its outlets, and where their coverage differs.

Briefings are saved under the data dir (briefings/<collection>/<since>_<until>.json and .md).
Asking again for the same window reuses the saved one while the window's articles are unchanged,
so a bot or a cron job can post it again without recomputing; new or changed articles in the
window make a new briefing that replaces it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from rag.answer.citations import check_segments
from rag.briefing.differences import Finding, differences
from rag.briefing.markdown import render_markdown
from rag.briefing.results import Briefing, Story, StoryArticle
from rag.briefing.stories import StoryCluster, build_stories
from rag.components import Components
from rag.llm.chat import ChatLLM
from rag.llm.errors import LLMError
from rag.models import ArticleRecord, Citation, Passage
from rag.search.articles import WindowArticle, article_passages, article_texts, articles_in_window
from rag.summarize.pipeline import summarize_passages

log = logging.getLogger(__name__)

FORMAT_VERSION = 1  # bump when the briefing's content would change for the same articles

_MARKER = re.compile(r"\[(\d+)\]")



def briefing_path(c: Components, since: date, until: date) -> Path:
    """Where the briefing for a window is saved (JSON; the Markdown sits beside it)."""
    return c.data_dir / "briefings" / c.settings.collection / f"{since.isoformat()}_{until.isoformat()}.json"


def _fingerprint(window: list[WindowArticle], llm: ChatLLM | None) -> str:
    h = hashlib.sha256(f"v{FORMAT_VERSION}|llm={llm is not None}|{llm.name if llm else ''}".encode())
    for w in sorted(window, key=lambda w: w.record.article_id):
        r = w.record
        h.update(f"|{r.article_id}:{r.version}:{r.duplicate_of}:{w.dated_by}".encode())
    return h.hexdigest()[:32]


def load_saved(c: Components, since: date, until: date) -> Briefing | None:
    """The saved briefing for this window, if any."""
    path = briefing_path(c, since, until)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Briefing.from_json(data, fingerprint=data.get("fingerprint", ""), reused=True)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save(c: Components, briefing: Briefing) -> Path:
    """Write the briefing (JSON and Markdown) atomically, replacing the window's previous one."""
    path = briefing_path(c, date.fromisoformat(briefing.since), date.fromisoformat(briefing.until))
    path.parent.mkdir(parents=True, exist_ok=True)
    data = briefing.as_json() | {"fingerprint": briefing.fingerprint}
    for target, text in ((path, json.dumps(data, ensure_ascii=False, indent=1)),
                         (path.with_suffix(".md"), briefing.markdown)):
        tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(target)
    return path


def make_briefing(c: Components, since: date, until: date, refresh: bool = False,
                  max_stories: int = 20) -> Briefing:
    """The briefing for [since, until]: reused from disk when its articles are unchanged."""
    tz = ZoneInfo(c.settings.timezone)
    window = articles_in_window(c, since, until, tz)
    fingerprint = _fingerprint(window, c.llm)
    if not refresh:
        saved = load_saved(c, since, until)
        if saved and saved.fingerprint == fingerprint:
            return saved
    failures: list[LLMError] = []
    briefing = compute_briefing(c, since, until, window, max_stories, failures)
    briefing.fingerprint = fingerprint
    if failures:
        return briefing  # the LLM failed: do not keep a fallback as if it were the LLM's briefing
    try:
        save(c, briefing)
    except OSError as exc:
        briefing.warnings.append(f"could not save the briefing under {c.data_dir}: {exc.strerror or exc}")
    return briefing


def compute_briefing(c: Components, since: date, until: date, window: list[WindowArticle],
                     max_stories: int = 20, llm_failures: list[LLMError] | None = None) -> Briefing:
    """Cluster the window's articles into stories and summarize each. LLM failures (unreachable,
    timed out, erroring) are appended to `llm_failures`; after the first, the LLM is not asked
    again. (A summary that cites nothing is a poor answer, not a failure: the next story still
    asks the LLM.)"""
    failures = llm_failures if llm_failures is not None else []
    generated = datetime.now(UTC).isoformat(timespec="seconds")
    llm = c.llm
    b = Briefing(since.isoformat(), until.isoformat(), generated, "llm" if llm else "extractive")
    if not window:
        b.mode = "extractive"
        b.markdown = render_markdown(b, [])
        return b
    info = {w.record.article_id: w for w in window}
    records = [w.record for w in window]
    texts = article_texts(c)
    stories = build_stories(c, records, {a: w.day for a, w in info.items()},
                            {a: texts(a) or "" for a in info})
    ranked = rank_stories(stories, info, since, until)
    if len(ranked) > max_stories:
        b.warnings.append(f"{len(ranked)} stories in this window; the {max_stories} with the widest "
                          "coverage are shown")
        ranked = ranked[:max_stories]
    modes = set()
    for story in ranked:
        entry, mode, warnings = summarize_story(c, story, info, texts, llm, on_llm_error=failures.append)
        modes.add(mode)
        for w in warnings:
            if w not in b.warnings:
                b.warnings.append(w)
        if failures:
            llm = None  # the LLM failed: do not wait on it again for every story
        b.stories.append(entry)
    b.mode = "llm" if modes == {"llm"} else "extractive"
    if modes == {"llm", "extractive"}:
        b.warnings.append("some stories were summarized extractively (see the warnings above)")
    b.markdown = render_markdown(b, window)
    return b


def rank_stories(stories: list[StoryCluster], info: dict[str, WindowArticle], since: date,
                 until: date) -> list[StoryCluster]:
    """Wider coverage first (outlets, then articles), newer first among equals."""
    span = max(1, (until - since).days)

    def key(story: StoryCluster) -> float:
        members = story.members + story.duplicates
        outlets = {info[a].record.source or a for a in members}
        newest = max(info[a].day for a in members)
        recency = 1 - min(1.0, (until - newest).days / span)
        return len(outlets) + 0.5 * (len(members) - 1) + 0.5 * recency

    return sorted(stories, key=key, reverse=True)


def summarize_story(c: Components, story: StoryCluster, info: dict[str, WindowArticle], texts,
                    llm: ChatLLM | None, max_articles: int = 8,
                    on_llm_error: Callable[[LLMError], None] | None = None) -> tuple[Story, str, list[str]]:
    """A story (headline, summary, sources, citations, differences), its mode, and warnings."""
    members = [info[a].record for a in story.members]
    everyone = members + [info[a].record for a in story.duplicates]
    used = members[:max_articles]
    warnings = []
    if len(members) > max_articles:
        warnings.append(f"a story of {len(members)} articles is summarized from its {max_articles} most central")
    passages: list[Passage] = []
    for rec in used:
        passages += article_passages(c, rec)
    n_sent = 2 if len(members) == 1 else 3 if len(members) == 2 else 4
    task = "Summarize this news story, as covered by these articles." if llm else ""
    summary, mode, citations, sw = summarize_passages(c, task, passages, llm, n_sent,
                                                      order=[r.article_id for r in used], on_llm_error=on_llm_error)
    warnings += sw
    full = {r.article_id: texts(r.article_id) or "" for r in everyone}
    # A near-copy repeats its original: comparing the two would only find the copy's edits.
    distinct = [r for r in everyone if not (r.duplicate_of and r.duplicate_of in full)]
    found = differences(distinct, full, c.embedder.embed)
    diff_texts, citations = _merge_findings(summary, citations, found, everyone, full, texts)
    reporting = [r for r in members if not any(f.kind == "opinion" and f.quotes[0][0] == r.article_id
                                               for f in found)]
    # The most central reporting article with a real title (not a first line cut short).
    titled = [r for r in reporting if not r.title.endswith("…")]
    headline = (titled or reporting or members)[0].title
    sources = list(dict.fromkeys(r.source for r in everyone if r.source))
    articles = [StoryArticle(r.article_id, r.title, r.source, r.published, info[r.article_id].dated_by,
                             info[r.article_id].day.isoformat(), r.url, r.path, r.duplicate_of) for r in everyone]
    story_entry = Story(headline, summary, [r.article_id for r in everyone], sources, citations, diff_texts, articles)
    return story_entry, mode, warnings


def _relabel(text: str, numbers: dict[int, int]) -> str:
    """`text` with each [k] marker as [numbers[k]]."""
    return _MARKER.sub(lambda m: f"[{numbers[int(m.group(1))]}]", text)


def _merge_findings(summary: str, citations: list[Citation], found: list[Finding], records: list[ArticleRecord],
                    full: dict[str, str], texts) -> tuple[list[str], list[Citation]]:
    """Differences renumbered after the summary's citations, all through the citation check."""
    if not found:
        return [], citations
    by_id = {r.article_id: r for r in records}
    passages: list[Passage] = []
    quotes: dict[int, str] = {}
    parts = []
    for f in found:
        local: dict[int, int] = {}
        for k, (aid, s, e) in enumerate(f.quotes, 1):
            rec = by_id[aid]
            passages.append(Passage(chunk_id=f"{aid}:{s}", article_id=aid, title=rec.title, source=rec.source,
                                    published=rec.published, url=rec.url, path=rec.path,
                                    text=full[aid][s:e], score=0.0, start=s, end=e))
            local[k] = len(passages)
            quotes[len(passages)] = full[aid][s:e]
        parts.append(_relabel(f.text, local))
    checked = check_segments(parts, passages, texts, quotes)
    merged = list(citations)
    known = {(cit.article_id, cit.quote): cit.n for cit in citations}
    renumber: dict[int, int] = {}
    for cit in checked.citations:
        key = (cit.article_id, cit.quote)
        if key not in known:  # a sentence the summary already cites keeps its number
            known[key] = len(merged) + 1
            merged.append(cit.renumbered(known[key]))
        renumber[cit.n] = known[key]
    diff_texts = [_MARKER.sub(lambda m: f"[{renumber[int(m.group(1))]}]", t).strip() for t in checked.texts]
    return [t for t in diff_texts if t], merged
