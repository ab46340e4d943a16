"""Dates: parse metadata values, and find a published date at the very top of an article.

Only a date in metadata, a dateline, or an explicit "date ..." line at the top counts as the
published date; a date merely mentioned in the body never does.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_MONTHS = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
    r"Sept?(?:ember)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
)

_DATE_PATTERNS = [
    re.compile(r"\b(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})\b"),
    re.compile(rf"\b({_MONTHS})\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b", re.I),
    re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+({_MONTHS}),?\s+(\d{{4}})\b", re.I),
]

# "date 2023-11-12", "Date: June 19, 2024", "Published: ..." as the first thing in the text.
_EXPLICIT = re.compile(r"^\s*(?:date|published|published on|dated)\s*:?\s+", re.I)

# A dateline: optional place in capitals, then the date, e.g. "WASHINGTON, June 19, 2024 —"
# or "Jan. 22, 2026 Updated March 12, 2026, 11:21 a.m. ET".
_DATELINE_PREFIX = re.compile(r"^\s*(?:\(?[A-Z][A-Z .'’-]{1,40}\)?\s*[,—–-]\s*)?")


def parse_date(value: object) -> date | None:
    """A date from a metadata value: date/datetime, ISO or common written forms, epoch seconds."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(float(value), tz=UTC).date()
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, (tuple, list)) and len(value) >= 3:  # feedparser's struct_time
        try:
            return date(int(value[0]), int(value[1]), int(value[2]))
        except (TypeError, ValueError, OverflowError):  # [1e30, 1, 1] overflows date's C int
            return None
    text = str(value).strip()
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError:
        pass
    found = _match_date(text, anchored=False)
    if found:
        return found[0]
    try:
        from dateutil import parser as dateutil_parser

        # dateutil fills a missing year, month or day from its default, and reads "Monday" as a
        # day near it: parse with two defaults and accept only a date that depends on neither.
        first = dateutil_parser.parse(text, fuzzy=False, default=datetime(2001, 1, 1)).date()
        second = dateutil_parser.parse(text, fuzzy=False, default=datetime(2002, 2, 2)).date()
    except (ValueError, OverflowError, ImportError):
        return None
    return first if first == second else None


def _match_date(text: str, anchored: bool) -> tuple[date, int] | None:
    best: tuple[date, int, int] | None = None
    for pattern in _DATE_PATTERNS:
        m = pattern.match(text) if anchored else pattern.search(text)
        if not m:
            continue
        parsed = _build(m.groups())
        if parsed and (best is None or m.start() < best[2]):
            best = (parsed, m.end(), m.start())
    return (best[0], best[1]) if best else None


def _build(groups: tuple[str, ...]) -> date | None:
    try:
        if groups[0].isdigit() and len(groups[0]) == 4:
            return date(int(groups[0]), int(groups[1]), int(groups[2]))
        if groups[0].isdigit():
            day, month, year = groups
        else:
            month, day, year = groups
        return date(int(year), _month_number(month), int(day))
    except (ValueError, KeyError):
        return None


def _month_number(name: str) -> int:
    return {
        "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
        "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
    }[name.lower()[:3]]


def leading_date(text: str) -> tuple[date, int] | None:
    """A published date stated at the top of `text` and where it ends, or None.

    Accepts an explicit "date ..." line or a dateline; looks only at the first line.
    """
    head = text[:160]
    explicit = _EXPLICIT.match(head)
    if explicit:
        found = _match_date(head[explicit.end():], anchored=True)
        if found:
            return found[0], explicit.end() + found[1]
        return None
    prefix = _DATELINE_PREFIX.match(head)
    offset = prefix.end() if prefix else 0
    found = _match_date(head[offset:], anchored=True)
    if found:
        return found[0], offset + found[1]
    return None


def parse_cli_date(value: str) -> date:
    """A YYYY-MM-DD date given on the command line (raises ValueError with a clear message)."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"not a date: {value!r} (use YYYY-MM-DD)") from None


def day_number(d: date) -> int:
    """A date as the integer YYYYMMDD, for range filters in the vector store."""
    return d.year * 10000 + d.month * 100 + d.day


def today(tz: ZoneInfo) -> date:
    """Today in the configured time zone."""
    return datetime.now(tz).date()


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def start_of(d: date) -> datetime:
    """Midnight UTC at the start of `d`."""
    return datetime.combine(d, time.min, tzinfo=UTC)


# Relative time in a question, and how far back it reaches from the day it is asked.
_RECENCY = [
    (re.compile(r"\b(?:today|tonight|yesterday)\b", re.I), 2),
    (re.compile(r"\blast week(?:end)?\b", re.I), 15),
    (re.compile(r"\b(?:this|past) week(?:end)?\b|\bon (?:mon|tues|wednes|thurs|fri|satur|sun)day\b", re.I), 8),
    (re.compile(r"\b(?:recent(?:ly)?|latest|newly|(?:this|past|last) month)\b", re.I), 31),
]

_THIS_YEAR = re.compile(r"\bthis year\b", re.I)


def recency_window(question: str, as_of: date) -> date | None:
    """The first day of the period a question's own words point to ("this week", "recently",
    "yesterday", "this year"), counted back from `as_of`; None when it names no such period."""
    for pattern, days in _RECENCY:
        if pattern.search(question):
            return as_of - timedelta(days=days)
    if _THIS_YEAR.search(question):
        return date(as_of.year, 1, 1)
    return None
