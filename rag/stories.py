"""Grouping articles into stories, and finding where their coverage differs.

- Clustering: each article is the mean of its passages' stored embeddings (no model run);
  average-linkage agglomerative clustering joins articles while the mean cosine between two
  groups is at least `STORY_THRESHOLD`; near-duplicates found at ingestion are always in their
  original's story.
- Opinion: a cue score (first person, second person, evaluative and prescriptive words,
  rhetorical questions, outside quotation marks) per sentence; an URL under /opinion also counts.
- Differences: opinion pieces, and sentences of different outlets that report the same fact
  (MiniLM cosine) with different figures, each cited.
Thresholds come from benchmarks/briefing.py (see benchmarks/README.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from .components import Components
from .models import ArticleRecord
from .text import round_brackets

# Similarity above which two groups of articles are one story. Measured with
# benchmarks/briefing.py on RealTime QA (2,240 articles): of article pairs published within 3 days
# of each other, 80 % of those found for the same quiz question (same story) reach 0.60 and 1.0 %
# of those found only for different questions (different stories) do; 0.65 keeps the same 1.0 %
# and finds 75 %, 0.55 lets 1.6 % through. Mixing in TF-IDF cosine of the texts did not separate
# them better at any threshold (same table), so KEYWORD_WEIGHT is 0.
STORY_THRESHOLD = 0.60
KEYWORD_WEIGHT = 0.0
# Opinion cues per sentence above which an article reads as opinion; same benchmark, on
# RealTime QA's articles whose URL is under /opinion vs the rest.
OPINION_THRESHOLD = 0.35

# Reported speech is not the outlet's opinion: quoted spans (which may run over several
# sentences) are removed before counting.
_QUOTED = re.compile(r"[“\"][^”\"]{0,1500}[”\"]")
# (pattern, weight): weights follow how much more often each cue appears in RealTime QA's
# opinion articles than in its news articles (first person plural/possessive ~7x, evaluative
# words 3-20x, "you" only 1.5x).
_CUES = (
    (re.compile(r"\b(our|ours|my|us|let['’]s)\b"), 2.0),
    (re.compile(r"\b(we|we['’]re|we['’]ve)\b", re.I), 1.0),
    (re.compile(r"\b(I|I['’]m|I['’]ve|I['’]d)\b"), 1.0),
    (re.compile(r"\byou(r|['’]re)?\b", re.I), 0.25),
    (re.compile(r"\b(should|ought to|needs? to)\b", re.I), 1.0),
    (re.compile(r"\b(clearly|obviously|simply|merely|of course|surely|sadly|unfortunately|fortunately|frankly|"
                r"absurd\w*|ridiculous\w*|outrageous\w*|shameful\w*|shameless\w*|disgrace|disgraceful|"
                r"pathetic|nonsense|non-issue|hypocri\w*|laughable|disastrous|terrible|horrible|"
                r"nothing short of|almost as if|in my (?:view|opinion)|i believe)\b", re.I), 1.5),
)
_NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?(?:\s?(?:%|percent|million|billion|trillion|thousand))?")
_UNITS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
          "sixteen seventeen eighteen nineteen").split()
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
_WORD_NUMBER = re.compile(
    r"\b(?:(" + "|".join(_TENS) + r")(?:[- ](" + "|".join(_UNITS[1:10]) + r"))?|(" + "|".join(_UNITS[2:]) + r"))\b"
    r"(?:\s+(hundred|thousand|million|billion))?", re.I)
_SCALE = {"hundred": 100, "thousand": 1000, "million": 10**6, "billion": 10**9}


def figures(sentence: str) -> dict[str, set[str]]:
    """The figures a sentence states, by what they count: {unit: {value}}, the unit being the
    stem of the next word that is not a number word or adjective-like filler ("Fourteen people" and
    "14 people" are both {"peopl": {"14"}}). Years are dates, not figures; numbers glued to a
    name by a hyphen (Shahed-136, F-16) are model names, not figures."""
    from .answer import content_words

    found: dict[str, set[str]] = {}

    def add(value: str, end: int) -> None:
        following = content_words(sentence[end:end + 60])
        unit = next((w for w in following if not w.isdigit() and w not in _SCALE), None)
        if unit:
            found.setdefault(unit, set()).add(value)

    for m in _NUMBER.finditer(sentence):
        if m.start() > 0 and sentence[m.start() - 1] == "-":
            continue
        value = m.group(0).replace(",", "").lower()
        for word, scale in _SCALE.items():
            value = value.replace(f" {word}", f"e{scale}").replace(word, f"e{scale}")
        if not re.fullmatch(r"(19|20)\d\d", value):
            add(value, m.end())
    for m in _WORD_NUMBER.finditer(sentence):
        tens, unit, single, scale = (g.lower() if g else None for g in m.groups())
        n = (_TENS.index(tens) + 2) * 10 + (_UNITS.index(unit) if unit else 0) if tens else _UNITS.index(single)
        add(f"{n}e{_SCALE[scale]}" if scale else str(n), m.end())
    return found


def opinion_cues(sentence: str) -> float:
    """Weighted opinion cues of a sentence (quoted speech already removed)."""
    total = sum(w * len(rx.findall(sentence)) for rx, w in _CUES)
    return total + (0.5 if sentence.rstrip().endswith("?") else 0.0)


def unquoted(text: str) -> str:
    """The text with quoted spans blanked out (same length, so offsets still hold)."""
    return _QUOTED.sub(lambda m: " " * len(m.group(0)), text)


def opinion_score(text: str, title: str = "") -> float:
    """Opinion cues per sentence of an article (title included), outside quotations."""
    from .text import split_sentences

    plain = unquoted(text)
    sentences = [plain[s:e] for s, e in split_sentences(plain)]
    if title:
        sentences.append(title)
    if not sentences:
        return 0.0
    return sum(opinion_cues(s) for s in sentences) / len(sentences)


def is_opinion(record: ArticleRecord, text: str) -> bool:
    """Whether an article reads as opinion rather than reporting."""
    if record.url and re.search(r"/opinions?/", record.url, re.I):
        return True
    return opinion_score(text, record.title) >= OPINION_THRESHOLD


@dataclass
class Story:
    """A group of articles about the same news; `members` are article ids, central first."""

    members: list[str]
    centroid: np.ndarray
    duplicates: list[str] = field(default_factory=list)  # near-copies that joined via ingestion links


def article_vectors(c: Components, records: list[ArticleRecord]) -> dict[str, np.ndarray]:
    """Unit-length mean passage embedding per indexed article (from the store, no model run)."""
    chunk_ids: dict[str, list[str]] = {}
    for rec in records:
        chunk_ids[rec.article_id] = [r["chunk_id"] for r in c.registry.article_chunks(rec.article_id)]
    all_ids = [cid for ids in chunk_ids.values() for cid in ids]
    vectors: dict[str, np.ndarray] = {}
    for i in range(0, len(all_ids), 2000):
        vectors.update(c.store.vectors(all_ids[i:i + 2000]))
    out = {}
    for aid, ids in chunk_ids.items():
        vecs = [vectors[cid] for cid in ids if cid in vectors]
        if vecs:
            mean = np.mean(vecs, axis=0)
            out[aid] = mean / (np.linalg.norm(mean) or 1.0)
    return out


@dataclass
class StoryConfig:
    """How articles are judged to be the same story (defaults from benchmarks/briefing.py)."""

    threshold: float = STORY_THRESHOLD
    keyword_weight: float = KEYWORD_WEIGHT  # share of TF-IDF cosine (names, figures) in the similarity
    # Time: a story runs for days, the same topic months later is a new story. (Not measured:
    # the benchmark's pairs are all within 3 days; these keep same-topic articles of different
    # months apart, as in examples/articles.)
    grace_days: int = 2           # articles this close in time are not kept apart by time
    day_penalty: float = 0.02     # similarity lost per day beyond the grace...
    max_penalty: float = 0.3      # ...up to this much


def story_similarity(ids: list[str], vectors: dict[str, np.ndarray], days: dict[str, date],
                     texts: dict[str, str], config: StoryConfig) -> np.ndarray:
    """Pairwise similarity of articles: embedding cosine mixed with TF-IDF cosine of their texts,
    less a penalty for being far apart in time (same topic months apart is not the same story)."""
    from .summarize import tfidf_matrix

    m = np.stack([vectors[a] for a in ids])
    sim = m @ m.T
    if config.keyword_weight:
        t = tfidf_matrix([texts.get(a, "") for a in ids])
        sim = (1 - config.keyword_weight) * sim + config.keyword_weight * (t @ t.T)
    if config.day_penalty:
        ordinal = np.array([days[a].toordinal() for a in ids], dtype=np.float32)
        gap = np.abs(ordinal[:, None] - ordinal[None, :])
        sim = sim - np.minimum(config.max_penalty, config.day_penalty * np.maximum(0, gap - config.grace_days))
    return sim


def cluster(ids: list[str], sim: np.ndarray, threshold: float) -> list[list[str]]:
    """Average-linkage agglomerative clusters of ids (merge while the mean pairwise similarity
    between two groups is at least `threshold`)."""
    if not ids:
        return []
    sim = np.array(sim, dtype=np.float64)
    np.fill_diagonal(sim, -np.inf)
    groups: list[list[str] | None] = [[a] for a in ids]
    while len(ids) > 1:
        i, j = np.unravel_index(np.argmax(sim), sim.shape)
        if sim[i, j] < threshold:
            break
        ni, nj = len(groups[i]), len(groups[j])
        # Lance-Williams update for average linkage: the mean similarity of the merged group.
        merged = (ni * sim[i] + nj * sim[j]) / (ni + nj)
        sim[i, :] = merged
        sim[:, i] = merged
        sim[i, i] = -np.inf
        sim[j, :] = -np.inf
        sim[:, j] = -np.inf
        groups[i] = groups[i] + groups[j]
        groups[j] = None
    return [g for g in groups if g]


def build_stories(c: Components, records: list[ArticleRecord], days: dict[str, date],
                  texts: dict[str, str], config: StoryConfig | None = None) -> list[Story]:
    """Stories over the records: indexed articles clustered, duplicates with their original
    (or, when the original is not among the records, standing in for it). `days` is each
    article's day in the window, `texts` its full text."""
    config = config or StoryConfig()
    by_id = {r.article_id: r for r in records}
    originals = [r for r in records if not r.duplicate_of or r.duplicate_of not in by_id]
    # A duplicate whose original is outside the window is clustered on the original's vectors.
    proxy = {r.article_id: r.duplicate_of or r.article_id for r in originals}
    source_vecs = article_vectors(c, [c.registry.get(p) or by_id[a] for a, p in proxy.items()])
    vectors = {a: source_vecs[p] for a, p in proxy.items() if p in source_vecs}
    ids = list(vectors)
    groups = cluster(ids, story_similarity(ids, vectors, days, texts, config), config.threshold) if ids else []
    # Articles with no vector (no passages: empty text) still get a story of their own.
    groups += [[a] for a in proxy if a not in vectors]
    stories = []
    for group in groups:
        vecs = [vectors[a] for a in group if a in vectors]
        centroid = np.mean(vecs, axis=0) if vecs else np.zeros(1)
        if vecs:
            centroid /= np.linalg.norm(centroid) or 1.0
            group = sorted(group, key=lambda a: -float(vectors[a] @ centroid) if a in vectors else 0.0)
        dups = [r.article_id for r in records if r.duplicate_of in group and r.article_id not in proxy]
        stories.append(Story(group, centroid, dups))
    return stories


@dataclass
class Finding:
    """A difference between outlets, as text with [k] markers into `quotes` (k is 1-based)."""

    text: str
    quotes: list[tuple[str, int, int]]  # (article_id, start, end) of each quoted sentence


def _short(sentence: str, limit: int = 160) -> str:
    """A sentence shortened for inline quoting (the citation keeps it whole); square brackets
    become round ones, so article text can never read as a citation marker."""
    text = sentence if len(sentence) <= limit else sentence[:limit - 1].rsplit(" ", 1)[0] + "…"
    return round_brackets(text)


def _outlet(rec: ArticleRecord) -> str:
    return rec.source or "an outlet not named"


# Cosine (MiniLM) above which two sentences report the same fact: paraphrases of one fact score
# ~0.6-0.7 ("Fourteen people were injured…" / "Nine people were hurt in the crash…": 0.67), other
# sentences of the same story 0.1-0.3.
SAME_FACT = 0.55


def differences(records: list[ArticleRecord], texts: dict[str, str],
                embed: Callable[[list[str]], np.ndarray], max_figures: int = 2) -> list[Finding]:
    """Opinion pieces, and sentences of different outlets that report the same fact with
    different figures."""
    from .text import split_sentences

    findings: list[Finding] = []
    for rec in records:
        text = texts.get(rec.article_id, "")
        if not is_opinion(rec, text):
            continue
        spans = split_sentences(text)
        if not spans:
            continue
        plain = unquoted(text)
        s, e = max(spans, key=lambda sp: (opinion_cues(plain[sp[0]:sp[1]]), -sp[0]))
        why = "its URL files it under opinion" if opinion_cues(plain[s:e]) == 0 else "it argues rather than reports"
        findings.append(Finding(
            f"Opinion rather than reporting: {_short(_outlet(rec))}'s “{_short(rec.title, 200)}” ({why}), "
            f"e.g. “{_short(text[s:e])}” [1]",
            [(rec.article_id, s, e)]))
    if len({_outlet(r) if r.source else r.article_id for r in records}) < 2:
        return findings
    sents: list[tuple[ArticleRecord, int, int, str, set[str]]] = []
    for rec in records:
        text = texts.get(rec.article_id, "")
        for s, e in split_sentences(text):
            sentence = text[s:e]
            numbers = figures(sentence)
            if numbers and 6 <= len(sentence.split()) <= 80:
                sents.append((rec, s, e, sentence, numbers))
    if len(sents) < 2:
        return findings
    m = embed([x[3] for x in sents])
    sim = m @ m.T
    pairs = []
    for i in range(len(sents)):
        for j in range(i + 1, len(sents)):
            a, b = sents[i], sents[j]
            same_outlet = a[0].source and a[0].source == b[0].source
            if a[0].article_id == b[0].article_id or same_outlet or sim[i, j] < SAME_FACT:
                continue
            # A disagreement: a count of the same thing (unit) with no value in common.
            if not any(a[4][u].isdisjoint(b[4][u]) for u in a[4].keys() & b[4].keys()):
                continue
            pairs.append((float(sim[i, j]), i, j))
    used: set[int] = set()
    for _, i, j in sorted(pairs, reverse=True):
        if len(findings) >= max_figures + 5 or i in used or j in used:
            continue
        used.update((i, j))
        a, b = sents[i], sents[j]
        findings.append(Finding(
            f"Figures differ: {_short(_outlet(a[0]))} reports “{_short(a[3])}” [1], while {_short(_outlet(b[0]))} "
            f"reports “{_short(b[3])}” [2]",
            [(a[0].article_id, a[1], a[2]), (b[0].article_id, b[1], b[2])]))
        if sum(f.text.startswith("Figures") for f in findings) >= max_figures:
            break
    return findings
