"""Bounded in-memory state of the bot: thread conversations (an LRU whose entries also expire)
and per-user cooldowns (expiring, with a size cap). Both are only touched on the event loop
thread, so no locks."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, MutableMapping
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# Threads whose turns are remembered. An evicted thread loses nothing but speed: its history is
# read back from Discord on its next question (`NewsdeskBot._history`). Each entry is at most
# 2 x history_turns short texts (a few KB), so 1,000 threads stay within a few MB, and far more
# threads than that are rarely active within the same few hours on one bot.
MAX_CONVERSATIONS = 1000
# A thread not asked in this long is forgotten (read back from Discord if it is asked again): a
# day covers a conversation picked up again after a night, and idle threads hold no memory.
CONVERSATION_TTL = 24 * 3600.0
# Characters kept of each remembered turn: the follow-up rewrite reads 600 of each
# (BotCore._condense_with_llm), and the previous question is added to a follow-up without one.
MAX_TURN_CHARS = 1000

# Users x actions under a cooldown at once. Entries expire after the cooldown (10 s by default),
# so this cap only matters under a flood; dropping the oldest then merely lets that user ask again
# a little early, which is harmless.
MAX_COOLDOWNS = 10_000


class LRUCache(MutableMapping[K, V], Generic[K, V]):
    """A dict of at most `maxsize` entries; reading or writing an entry makes it the newest, and
    adding one beyond the size drops the least recently used. With `ttl`, an entry not used for
    `ttl` seconds is dropped too."""

    def __init__(self, maxsize: int, ttl: float | None = None, clock: Callable[[], float] = time.monotonic):
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.maxsize = maxsize
        self.ttl = ttl
        self.clock = clock
        self._data: OrderedDict[K, tuple[float, V]] = OrderedDict()  # least recently used first

    def _expire(self) -> float:
        now = self.clock()
        if self.ttl is not None:
            while self._data and now - next(iter(self._data.values()))[0] > self.ttl:
                self._data.popitem(last=False)
        return now

    def __getitem__(self, key: K) -> V:
        now = self._expire()
        value = self._data[key][1]
        self._data[key] = (now, value)
        self._data.move_to_end(key)
        return value

    def __setitem__(self, key: K, value: V) -> None:
        self._data[key] = (self._expire(), value)
        self._data.move_to_end(key)
        while len(self._data) > self.maxsize:
            self._data.popitem(last=False)

    def __delitem__(self, key: K) -> None:
        del self._data[key]

    def __contains__(self, key: object) -> bool:  # a membership test does not count as a use
        self._expire()
        return key in self._data

    def __iter__(self) -> Iterator[K]:
        self._expire()
        return iter(list(self._data))

    def __len__(self) -> int:
        self._expire()
        return len(self._data)


class Cooldowns(Generic[K]):
    """When each key (user, action) last started its cooldown; entries older than the cooldown
    are dropped, and beyond `maxsize` entries the oldest go."""

    def __init__(self, maxsize: int = MAX_COOLDOWNS, clock: Callable[[], float] = time.monotonic):
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.maxsize = maxsize
        self.clock = clock
        self._started: OrderedDict[K, float] = OrderedDict()  # oldest start first

    def wait_left(self, key: K, seconds: float) -> float:
        """Seconds `key` must still wait; 0 when it may act, which starts a new cooldown."""
        now = self.clock()
        self._expire(now, seconds)
        last = self._started.get(key)
        if last is not None and now - last < seconds:
            return seconds - (now - last)
        if seconds > 0:
            self._started[key] = now
            self._started.move_to_end(key)
            while len(self._started) > self.maxsize:
                self._started.popitem(last=False)
        return 0.0

    def _expire(self, now: float, seconds: float) -> None:
        while self._started:
            key, started = next(iter(self._started.items()))
            if now - started < seconds:
                break
            del self._started[key]

    def __contains__(self, key: object) -> bool:
        return key in self._started

    def __len__(self) -> int:
        return len(self._started)
