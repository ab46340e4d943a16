"""Figures in a text (numbers with their units), for comparing outlets."""

from __future__ import annotations

import re

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
    from rag.text.words import content_words

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
        tens, unit, single, scale_word = (g.lower() if g else "" for g in m.groups())
        n = (_TENS.index(tens) + 2) * 10 + (_UNITS.index(unit) if unit else 0) if tens else _UNITS.index(single)
        add(f"{n}e{_SCALE[scale_word]}" if scale_word else str(n), m.end())
    return found
