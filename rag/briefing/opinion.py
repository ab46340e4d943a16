"""Opinion and analysis: cue words outside quotations."""

from __future__ import annotations

import re

from rag.models import ArticleRecord

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


def opinion_cues(sentence: str) -> float:
    """Weighted opinion cues of a sentence (quoted speech already removed)."""
    total = sum(w * len(rx.findall(sentence)) for rx, w in _CUES)
    return total + (0.5 if sentence.rstrip().endswith("?") else 0.0)


def unquoted(text: str) -> str:
    """The text with quoted spans blanked out (same length, so offsets still hold)."""
    return _QUOTED.sub(lambda m: " " * len(m.group(0)), text)


def opinion_score(text: str, title: str = "") -> float:
    """Opinion cues per sentence of an article (title included), outside quotations."""
    from rag.text.sentences import split_sentences

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
