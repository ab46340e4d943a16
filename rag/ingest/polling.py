"""Polling subscribed feeds: one pass over the feeds that are due, for `newsdesk feeds poll` (cron,
a timer) and the scheduler of `newsdesk run`.

A few feeds are fetched at a time, in threads (the work is network-bound): a conditional GET with
the validators of the feed's last response (a 304 costs no parsing and no embedding), then its
entries (read by the loader, as `newsdesk ingest URL` reads a feed: RSS, Atom, JSON Feed)
and the pages they link to, at most NEWSDESK_FEED_MAX_ITEMS of them, all within the feed's
time budget (NEWSDESK_FEED_POLL_BUDGET, every request together). Each fetched feed is then indexed
through the ordinary write path, under the write lock, and its subscription updated afterwards:
a process killed in between re-reads the feed next time (its validators were not saved yet), and
the re-ingest finds its articles unchanged, so nothing is lost or indexed twice.

A failed poll backs off: the feed waits its interval, then twice that, four times, ... up to
NEWSDESK_FEED_MAX_BACKOFF_MINUTES, and never less than a server's Retry-After (HTTP 429 or 503).
Every request, redirects and entries' links included, goes to public addresses only, as for the
bot's /ingest, unless NEWSDESK_FEED_PRIVATE_ADDRESSES is set.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from rag.components import Components
from rag.ingest.decoding import LoadError
from rag.ingest.feeds import looks_like_feed
from rag.ingest.fetch import Fetcher, FetchResult, FetchStatusError
from rag.ingest.guard import refuse_private_address
from rag.ingest.loader import Loader
from rag.ingest.pipeline import Ingestor, IngestReport
from rag.models import Article, LoadFailure
from rag.settings import Settings
from rag.store.subscriptions import Feed, Subscriptions
from rag.text.dates import utc_now

log = logging.getLogger(__name__)

__all__ = ["FeedPoll", "PollReport", "backoff", "next_due", "open_subscriptions", "poll"]


@dataclass
class FeedPoll:
    """What polling one feed did, in the shape of an item of docs/contract.md's `feeds poll --json`.

    status: `ok` (read and indexed), `not_modified` (304), `failed`, or `backing_off` (the server
    asked us to wait, or the feed is not retried yet after failures)."""

    url: str
    status: str
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0
    skipped: int = 0
    error: str | None = None
    next_poll: datetime | None = None
    entries: int = 0  # feed entries read
    failed_entries: list[LoadFailure] = field(default_factory=list)  # entries that gave no article
    chunks_embedded: int = 0

    def as_json(self) -> dict:
        """The JSON object of docs/contract.md, plus `next_poll`."""
        return {
            "url": self.url, "status": self.status, "new": self.new, "updated": self.updated,
            "unchanged": self.unchanged, "duplicates": self.duplicates, "skipped": self.skipped,
            "error": self.error,
            "next_poll": self.next_poll.isoformat(timespec="seconds") if self.next_poll else None,
        }


@dataclass
class PollReport:
    """One pass over the feeds: a FeedPoll for each feed polled or backing off, in subscription order."""

    feeds: list[FeedPoll] = field(default_factory=list)

    @property
    def added(self) -> int:
        """New articles, all feeds together."""
        return sum(f.new for f in self.feeds)

    @property
    def failed(self) -> bool:
        """Whether any polled feed failed (a feed backing off has not failed this time)."""
        return any(f.status == "failed" for f in self.feeds)

    @property
    def chunks_embedded(self) -> int:
        """Passages embedded, all feeds together (0 when every feed answered 304)."""
        return sum(f.chunks_embedded for f in self.feeds)

    def as_json(self) -> dict:
        """The JSON object of docs/contract.md."""
        return {"added": self.added, "feeds": [f.as_json() for f in self.feeds]}


@dataclass
class _Fetched:
    """A feed as its fetch left it: the response and entries read, or why there are none."""

    feed: Feed
    result: FetchResult | None = None
    items: list[Article | LoadFailure] = field(default_factory=list)
    complete: bool = True  # every entry up to the cap was read: the validators may be kept
    error: str | None = None
    retry_after: float | None = None
    throttled: bool = False  # HTTP 429/503: the server asked us to come back later


def open_subscriptions(components: Components) -> Subscriptions:
    """The subscriptions of the components' collection (creating its registry if need be)."""
    registry = components.registry  # opened first: its migrations bring the feeds table
    path = getattr(registry, "path", None)
    if path is None:
        path = components.data_dir / "registry" / f"{components.settings.collection}.sqlite3"
    return Subscriptions(path)


def subscribed_feeds(components: Components) -> list[Feed]:
    """The collection's subscriptions, oldest first (nothing is created to list none)."""
    if not components.registry_exists():
        return []
    subs = open_subscriptions(components)
    try:
        return subs.all()
    finally:
        subs.close()


def unsubscribe(components: Components, url: str) -> bool:
    """Remove a subscription (its articles stay indexed); False when it was not subscribed."""
    if not components.registry_exists():
        return False
    subs = open_subscriptions(components)
    try:
        return subs.remove(url)
    finally:
        subs.close()


def next_due(components: Components) -> datetime | None:
    """When the next feed is due (now or earlier for one due already); None without subscriptions.
    A scheduler sleeps until then and calls `poll`."""
    if not components.registry_exists():
        return None
    subs = open_subscriptions(components)
    try:
        feeds = subs.all()
    finally:
        subs.close()
    if not feeds:
        return None
    now = utc_now()
    return min(f.next_poll or now for f in feeds)


def backoff(every_minutes: int, failures: int, cap_minutes: int) -> timedelta:
    """The wait after `failures` failed polls in a row: the interval, doubled with each failure
    after the first, at most `cap_minutes` (but never less than the interval)."""
    minutes = every_minutes * 2 ** min(max(failures - 1, 0), 30)
    return timedelta(minutes=max(every_minutes, min(minutes, cap_minutes)))


def poll(components: Components, all_feeds: bool = False, *, allow_private: bool | None = None,
         on_feed: Callable[[FeedPoll], None] | None = None,
         on_wait: Callable[[str], None] | None = None) -> PollReport:
    """One pass over the feeds that are due (`all_feeds`: every feed, now, backoff or not, but for
    one whose server asked for a wait, with Retry-After, that has not passed).

    `allow_private` (default: NEWSDESK_FEED_PRIVATE_ADDRESSES) lets requests reach loopback and
    private addresses; `on_feed` sees each feed's result as it is done; `on_wait` is told when the
    write lock is held by another process. Feed failures are reported, never raised; a failure of
    the index itself (store, lock timeout) is raised."""
    if not components.registry_exists():
        return PollReport()
    subs = open_subscriptions(components)
    try:
        now = utc_now()
        feeds = subs.all()
        # `all_feeds` overrides the schedule and the backoff, not a server's Retry-After.
        waiting = {f.url for f in feeds if (f.asked_to_wait(now) if all_feeds else f.backing_off(now))}
        due = [f for f in feeds if f.url not in waiting and (all_feeds or f.due(now))]
        held = [FeedPoll(f.url, "backing_off", error=f.last_error, next_poll=f.next_poll)
                for f in feeds if f.url in waiting]
        results = held + list(_poll_feeds(components, subs, due, now, allow_private, on_wait, on_feed))
    finally:
        subs.close()
    order = {f.url: n for n, f in enumerate(feeds)}
    return PollReport(sorted(results, key=lambda r: order.get(r.url, len(order))))


def _poll_feeds(components: Components, subs: Subscriptions, due: list[Feed], now: datetime,
                allow_private: bool | None, on_wait: Callable[[str], None] | None,
                on_feed: Callable[[FeedPoll], None] | None) -> Iterator[FeedPoll]:
    """Fetch the due feeds a few at a time; index each as its fetch completes."""
    if not due:
        return
    settings = components.settings
    private = settings.feed_private_addresses if allow_private is None else allow_private
    guard = None if private else refuse_private_address
    pool = ThreadPoolExecutor(max_workers=min(settings.feed_parallel, len(due)), thread_name_prefix="feed")
    try:
        futures: list[Future[_Fetched]] = [pool.submit(_fetch, settings, f, guard) for f in due]
        for future in as_completed(futures):
            result = _finish(components, subs, future.result(), now, on_wait)
            if on_feed:
                on_feed(result)
            yield result
    finally:  # stopped early (an error, an interrupt): fetches not started are dropped
        pool.shutdown(wait=True, cancel_futures=True)


# --- fetching (worker threads) -------------------------------------------------------------------


def _fetch(settings: Settings, feed: Feed, guard: Callable[[str], None] | None) -> _Fetched:
    """Fetch one feed and read its entries (following their links) within its time budget."""
    budget = settings.feed_poll_budget
    fetcher = _FeedFetcher(settings, url_guard=guard, deadline=time.monotonic() + budget)
    try:
        result = fetcher.fetch(feed.url, feed.etag, feed.last_modified)
        if result.not_modified:
            return _Fetched(feed, result)
        if not result.body.strip():
            raise LoadError("empty response")
        if "html" in result.content_type and not looks_like_feed(result.body):
            raise LoadError("an HTML page, not a feed: subscribe to the feed's own URL")
        items, complete = _read_entries(settings, feed, fetcher, result)
        error = None if complete else (f"time budget of {budget:g} s ran out after {len(items)} entries; "
                                       "the others are read by the next poll")
        return _Fetched(feed, result, items, complete, error)
    except FetchStatusError as exc:
        wait = f"; asked to wait {exc.retry_after:g} s" if exc.retry_after is not None else ""
        return _Fetched(feed, error=f"{exc}{wait}", retry_after=exc.retry_after, throttled=exc.retry_later)
    except LoadError as exc:
        if fetcher.out_of_time:
            return _Fetched(feed, error=f"time budget of {budget:g} s ran out fetching the feed")
        return _Fetched(feed, error=str(exc))
    except Exception as exc:  # a feed that breaks the parser must not stop the others
        log.warning("%s: unexpected error", feed.url, exc_info=True)
        return _Fetched(feed, error=f"{exc.__class__.__name__}: {exc}")
    finally:
        fetcher.close()


class _FeedFetcher(Fetcher):
    """A fetcher that answers the feed's own URL once with the response already fetched, so that the
    loader reads it as it reads any URL (RSS, Atom, JSON Feed, by content type and content), and
    fetches the entries' links itself, under the same guard and deadline."""

    def __init__(self, settings: Settings, url_guard: Callable[[str], None] | None = None,
                 deadline: float | None = None):
        super().__init__(settings, url_guard, deadline)
        self.prefetched: dict[str, FetchResult] = {}

    def get(self, url: str) -> tuple[bytes, str, str]:
        """The prefetched response for its URL (once), else a real GET."""
        result = self.prefetched.pop(url, None)
        if result is None:
            return super().get(url)
        ctype = result.content_type + (f"; charset={result.charset}" if result.charset else "")
        return result.body, ctype, result.url


def _read_entries(settings: Settings, feed: Feed, fetcher: _FeedFetcher,
                  result: FetchResult) -> tuple[list[Article | LoadFailure], bool]:
    """The feed's first NEWSDESK_FEED_MAX_ITEMS entries as articles (or failures, or skipped
    headlines); False with them when the time budget ran out first (the entry whose page was cut
    short is left out: its full text comes next poll)."""
    fetcher.prefetched = {feed.url: result}
    items: list[Article | LoadFailure] = []
    for item in Loader(settings, fetcher).load([feed.url]):
        if fetcher.out_of_time:
            return items, False
        items.append(item)
        if len(items) >= settings.feed_max_items:
            break
    return items, True


# --- indexing and bookkeeping (the calling thread) -----------------------------------------------


class _Entries(Loader):
    """A loader over entries already read from a feed: they get the loader's checks; nothing is fetched."""

    def __init__(self, settings: Settings, origin: str, items: list[Article | LoadFailure]):
        super().__init__(settings)
        self.origin, self.items = origin, items

    def load(self, inputs: Iterable[str]) -> Iterator[Article | LoadFailure]:
        """The entries read (the inputs are ignored: the entries came from one feed)."""
        yield from self._guard(self.origin, iter(self.items))


def _finish(components: Components, subs: Subscriptions, fetched: _Fetched, now: datetime,
            on_wait: Callable[[str], None] | None) -> FeedPoll:
    """Index a fetched feed's entries, then record the poll in its subscription."""
    report = None
    if fetched.items:
        with components.writing(on_wait=on_wait):
            loader = _Entries(components.settings, fetched.feed.url, fetched.items)
            report = Ingestor(components).ingest([fetched.feed.url], loader)
    result, state = _outcome(fetched, report, now, components.settings)
    subs.save_poll(state)
    log.info("%s: %s, %d new%s", result.url, result.status, result.new,
             f" ({result.error})" if result.error else "")
    return result


def _outcome(fetched: _Fetched, report: IngestReport | None, now: datetime,
             settings: Settings) -> tuple[FeedPoll, Feed]:
    """The poll's result and the feed's new state."""
    feed = replace(fetched.feed, last_poll=now)
    if fetched.error is None and fetched.result is not None:
        _succeeded(feed, fetched.result, now)
        status = "not_modified" if fetched.result.not_modified else "ok"
    else:
        _failed(feed, fetched, now, settings.feed_max_backoff_minutes)
        status = "backing_off" if fetched.throttled else "failed"
    result = FeedPoll(feed.url, status, error=fetched.error, next_poll=feed.next_poll, entries=len(fetched.items))
    if report is not None:
        skipped = getattr(report, "skipped", None)
        result.new, result.updated, result.unchanged = report.added, report.updated, report.unchanged
        result.duplicates, result.failed_entries = report.duplicates, list(report.failed)
        result.skipped = len(skipped) if isinstance(skipped, list) else int(skipped or 0)
        result.chunks_embedded = report.chunks_embedded
    feed.items_seen += len(fetched.items)
    feed.articles_added += result.new
    return result, feed


def _succeeded(feed: Feed, response: FetchResult, now: datetime) -> None:
    """A good poll: failures cleared, the response's validators kept, the next poll an interval on."""
    feed.failures, feed.last_error, feed.retry_after, feed.last_success = 0, None, None, now
    if response.not_modified:  # a 304 may repeat the validators, or leave them out
        feed.etag = response.etag or feed.etag
        feed.last_modified = response.last_modified or feed.last_modified
    else:
        feed.etag, feed.last_modified = response.etag, response.last_modified
    feed.next_poll = now + timedelta(minutes=feed.every_minutes)


def _failed(feed: Feed, fetched: _Fetched, now: datetime, cap_minutes: int) -> None:
    """A failed poll: one more failure, and the next poll after the backoff (or the server's
    Retry-After, if longer; that too at most `cap_minutes`)."""
    feed.failures += 1
    feed.last_error = fetched.error
    wait = backoff(feed.every_minutes, feed.failures, cap_minutes)
    if fetched.retry_after is not None:
        asked = min(timedelta(seconds=fetched.retry_after), timedelta(minutes=cap_minutes))
        feed.retry_after = now + asked
        wait = max(wait, asked)
    feed.next_poll = now + wait
