"""Feed subscriptions of one collection, kept in its registry file (the `feeds` table, schema
version 2): each feed's schedule, the validators of its last response for a conditional GET, and
its failure and retry state. Polling (rag/ingest/polling.py) reads and updates them."""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from rag.store.migrations import check_version, migrate

# Columns a poll writes (never name or interval: a `feeds add` meanwhile must not be undone).
_POLL_STATE = ("last_poll", "last_success", "last_error", "failures", "next_poll", "retry_after",
               "etag", "last_modified", "items_seen", "articles_added")
_TIMES = frozenset({"added_at", "last_poll", "last_success", "next_poll", "retry_after"})


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value is not None else None


@dataclass
class Feed:
    """One subscribed feed. Times are timezone-aware (UTC). `next_poll` None: due now."""

    url: str
    name: str | None
    every_minutes: int
    added_at: datetime
    last_poll: datetime | None = None
    last_success: datetime | None = None
    last_error: str | None = None
    failures: int = 0  # consecutive failed polls; 0 after a good one
    next_poll: datetime | None = None
    retry_after: datetime | None = None  # the server asked not to be polled before this
    etag: str | None = None
    last_modified: str | None = None
    items_seen: int = 0  # feed entries read, all polls together
    articles_added: int = 0  # new articles indexed from them

    def due(self, now: datetime) -> bool:
        """Whether the feed should be polled at `now`."""
        return self.next_poll is None or self.next_poll <= now

    def backing_off(self, now: datetime) -> bool:
        """Whether the feed would be due by its interval but waits longer after failures or a
        server's Retry-After."""
        if self.due(now) or not (self.failures or self.retry_after):
            return False
        return self.last_poll is None or self.last_poll + timedelta(minutes=self.every_minutes) <= now

    def asked_to_wait(self, now: datetime) -> bool:
        """Whether the server asked (Retry-After) not to be polled before a time still to come."""
        return self.retry_after is not None and self.retry_after > now

    @property
    def status(self) -> str:
        """`new` (never polled), `ok`, or `backing_off` (after a failure or a Retry-After)."""
        if self.last_poll is None:
            return "new"
        return "backing_off" if self.failures else "ok"

    def as_json(self) -> dict:
        """docs/contract.md's `feeds list` item, plus its `status`."""
        return {
            "url": self.url, "name": self.name, "every_minutes": self.every_minutes,
            "last_poll": _iso(self.last_poll), "last_success": _iso(self.last_success),
            "last_error": self.last_error, "failures": self.failures, "next_poll": _iso(self.next_poll),
            "items_seen": self.items_seen, "articles_added": self.articles_added, "status": self.status,
        }

    def subscription_json(self) -> dict:
        """docs/contract.md's `feeds add` answer."""
        return {"url": self.url, "name": self.name, "every_minutes": self.every_minutes}


_COLUMNS = tuple(f.name for f in fields(Feed))


def _feed(row: sqlite3.Row) -> Feed:
    values: dict[str, Any] = {k: (datetime.fromisoformat(row[k]) if k in _TIMES and row[k] else row[k])
                              for k in _COLUMNS}
    return Feed(**values)


class Subscriptions:
    """The `feeds` table of one registry file, over a connection of its own."""

    def __init__(self, path: Path):
        """Open the registry file at `path` (creating it if need be) and bring its schema up to date."""
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self.db = sqlite3.connect(str(self.path), timeout=60, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        try:
            where = f"the registry {self.path}"
            self.db.execute("PRAGMA busy_timeout=60000")
            check_version(self.db, where=where)  # before anything may write to a file too new
            self.db.execute("PRAGMA journal_mode=WAL")
            migrate(self.db, where=where)
        except BaseException:
            self.db.close()
            raise

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    def get(self, url: str) -> Feed | None:
        """The subscription to `url`, or None."""
        with self._lock:
            row = self.db.execute(f"SELECT {', '.join(_COLUMNS)} FROM feeds WHERE url=?", (url,)).fetchone()
        return _feed(row) if row else None

    def all(self) -> list[Feed]:
        """Every subscription, oldest first."""
        with self._lock:
            rows = self.db.execute(f"SELECT {', '.join(_COLUMNS)} FROM feeds ORDER BY added_at, rowid").fetchall()
        return [_feed(r) for r in rows]

    def add(self, url: str, now: datetime, name: str | None = None, every_minutes: int | None = None,
            default_every: int = 60) -> Feed:
        """Subscribe to `url`; for a feed already there, change the name and interval given (a new
        interval moves the next poll of a healthy feed to match)."""
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                feed = self.get(url)
                if feed is None:
                    feed = Feed(url, name, every_minutes or default_every, now)
                    self.db.execute(f"INSERT INTO feeds ({', '.join(_COLUMNS)}) VALUES "
                                    f"({', '.join('?' * len(_COLUMNS))})", self._values(feed, _COLUMNS))
                else:
                    feed.name = name if name is not None else feed.name
                    if every_minutes and every_minutes != feed.every_minutes:
                        feed.every_minutes = every_minutes
                        if feed.last_poll and not feed.failures:
                            feed.next_poll = feed.last_poll + timedelta(minutes=every_minutes)
                    self.db.execute("UPDATE feeds SET name=?, every_minutes=?, next_poll=? WHERE url=?",
                                    (feed.name, feed.every_minutes, _iso(feed.next_poll), url))
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")
        return feed

    def remove(self, url: str) -> bool:
        """Unsubscribe from `url`; False when it was not subscribed."""
        with self._lock:
            return self.db.execute("DELETE FROM feeds WHERE url=?", (url,)).rowcount > 0

    def save_poll(self, feed: Feed) -> None:
        """Record a poll's outcome (the poll state columns only); nothing if it was unsubscribed."""
        sets = ", ".join(f"{c}=?" for c in _POLL_STATE)
        with self._lock:
            self.db.execute(f"UPDATE feeds SET {sets} WHERE url=?", (*self._values(feed, _POLL_STATE), feed.url))

    @staticmethod
    def _values(feed: Feed, columns: tuple[str, ...]) -> tuple:
        return tuple(_iso(getattr(feed, c)) if c in _TIMES else getattr(feed, c) for c in columns)
