"""Opinion and analysis: cue words outside quotations."""

from __future__ import annotations

import re

from rag.models import ArticleRecord

# Opinion cues per sentence above which an article reads as opinion; same benchmark, on
# RealTime QA's articles whose URL is under /opinion vs the rest.
OPINION_THRESHOLD = 0.35

# Reported speech is not the outlet's opinion: quoted spans (which may run over several
# sentences) are removed before counting. A span opens at “ or " and ends at the first ” or "
# after it, at most this many characters later (a long quote is rarely one span: an unclosed
# quote mark must not blank the rest of the article).
MAX_QUOTE_CHARS = 1500
_OPENERS = re.compile("[“\"]")
_CLOSERS = re.compile("[”\"]")

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
    """The text with quoted spans blanked out (same length, so offsets still hold).

    The spans of the regex `[“"][^”"]{0,1500}[”"]`, found in linear time: that regex retried
    every opening mark and scanned up to 1,500 characters from each (10 s for 200,000 marks,
    issue #18 item 17). Here the next closing mark is found once and reused until passed."""
    out: list[str] = []
    done = 0  # text[:done] is in `out`
    closer = -1  # position of the first closing mark after the last search start, or -1: none
    searched = -1  # closing marks were searched for from this position on
    opener = _OPENERS.search(text)
    while opener:
        i = opener.start()
        if closer <= i and searched < len(text):  # the known closer is behind: look further
            found = _CLOSERS.search(text, i + 1)
            closer, searched = (found.start(), i + 1) if found else (-1, len(text))
        if closer == -1:
            break  # no closing mark after this opener, nor after any later one
        if closer - i - 1 <= MAX_QUOTE_CHARS:
            out += [text[done:i], " " * (closer + 1 - i)]
            done = closer + 1
            opener = _OPENERS.search(text, done)
        else:
            opener = _OPENERS.search(text, i + 1)
    out.append(text[done:])
    return "".join(out)


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
