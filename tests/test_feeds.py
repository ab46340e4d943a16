"""Feed subscriptions and polling (issue #17): `newsdesk feeds add/list/remove/poll`, against a real
HTTP server on 127.0.0.1 serving RSS and Atom feeds whose entries change between polls, with
ETags, Last-Modified and 304s, a 429 with Retry-After, 500s and slow responses."""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import WORDS, assert_consistent

import rag
from rag.cli.app import main
from rag.components import Components
from rag.ingest.fetch import Fetcher, FetchStatusError, parse_retry_after
from rag.ingest.polling import backoff, next_due, open_subscriptions, poll
from rag.text.dates import utc_now

# --------------------------------------------------------------------------- the feed server


@dataclass
class Route:
    """What the server answers for one path."""

    body: bytes
    ctype: str = "application/rss+xml"
    status: int = 200
    etag: str | None = None
    last_modified: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    sleep: float = 0.0  # before answering
    drip: float = 0.0  # seconds between the body's bytes


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    at: float


class FeedServer:
    """A ThreadingHTTPServer with routes the test changes as it goes, recording every request."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Seen] = []
        self.release = threading.Event()  # set at teardown: sleeping and dripping handlers stop
        self.httpd = _Server(("127.0.0.1", 0), _Handler)
        self.httpd.app = self  # type: ignore[attr-defined]
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    def seen(self, path: str) -> list[Seen]:
        return [r for r in self.requests if r.path == path]

    def publish(self, path: str, title: str, items: list[Item], kind: str = "rss", *, etag: bool = True,
                last_modified: bool = True, page_sleep: float = 0.0) -> str:
        """Serve a feed of `items` at `path` (and each item's page), with validators that change
        with its content; the feed's URL."""
        body = (rss(title, items, self.base) if kind == "rss" else atom(title, items, self.base)).encode()
        digest = hashlib.sha1(body).hexdigest()
        stamp = datetime(2024, 6, 1, tzinfo=UTC) + timedelta(minutes=int(digest[:6], 16) % 100_000)
        self.routes[path] = Route(body, "application/atom+xml" if kind == "atom" else "application/rss+xml",
                                  etag=f'"{digest[:16]}"' if etag else None,
                                  last_modified=format_datetime(stamp, usegmt=True) if last_modified else None)
        for it in items:
            self.routes[f"/story/{it.slug}.html"] = Route(page_html(it).encode(), "text/html; charset=utf-8",
                                                          sleep=page_sleep)
        return self.base + path


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):  # a client that gave up (the budget) is fine
        pass


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep test output quiet
        pass

    def do_GET(self):
        app: FeedServer = self.server.app  # type: ignore[attr-defined]
        app.requests.append(Seen(self.path, dict(self.headers.items()), time.monotonic()))
        route = app.routes.get(self.path)
        if route is None:
            self.send_error(404, "Not Found")
            return
        if route.sleep:
            app.release.wait(route.sleep)
        if route.status == 200 and self._unchanged(route):
            self.send_response(304)
            self._validators(route)
            self.end_headers()
            return
        self.send_response(route.status)
        self.send_header("Content-Type", route.ctype)
        self.send_header("Content-Length", str(len(route.body)))
        for name, value in route.headers.items():
            self.send_header(name, value)
        self._validators(route)
        self.end_headers()
        self._write(route, app.release)

    def _unchanged(self, route: Route) -> bool:
        tag, since = self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since")
        if tag is not None and route.etag:
            return tag == route.etag
        return since is not None and since == route.last_modified

    def _validators(self, route: Route) -> None:
        if route.etag:
            self.send_header("ETag", route.etag)
        if route.last_modified:
            self.send_header("Last-Modified", route.last_modified)

    def _write(self, route: Route, release: threading.Event) -> None:
        if not route.drip:
            self.wfile.write(route.body)
            return
        for i in range(len(route.body)):
            if release.is_set():
                return
            self.wfile.write(route.body[i:i + 1])
            self.wfile.flush()
            time.sleep(route.drip)


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    """Local HTTP must not go through a proxy configured in the environment."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture
def server() -> Iterator[FeedServer]:
    srv = FeedServer()
    srv.thread.start()
    try:
        yield srv
    finally:
        srv.release.set()
        srv.httpd.shutdown()
        srv.httpd.server_close()
        srv.thread.join(timeout=5)


# --------------------------------------------------------------------------- feed content


@dataclass
class Item:
    slug: str
    title: str
    text: str  # over 40 words: long enough to count as an article
    published: datetime


def make_items(prefix: str, n: int, start: int = 0) -> list[Item]:
    """n entries with distinct texts of about 65 words each."""
    items = []
    for i in range(start, start + n):
        rng = random.Random(f"{prefix}-{i}")
        sentences = [" ".join(rng.sample(WORDS, 9)).capitalize() + f" in district {rng.randint(1, 999)}."
                     for _ in range(6)]
        items.append(Item(f"{prefix}-{i}", f"{prefix.title()} story number {i}", " ".join(sentences),
                          datetime(2024, 6, 1, 8, tzinfo=UTC) + timedelta(hours=i)))
    return items


def page_html(it: Item) -> str:
    half = len(it.text) // 2
    cut = it.text.index(". ", half) + 1
    return (f"<html><head><title>{it.title}</title><meta property='og:title' content='{it.title}'></head>"
            f"<body><nav><a href='/'>Home</a></nav><article><h1>{it.title}</h1>"
            f"<p>{it.text[:cut]}</p><p>{it.text[cut:].strip()}</p></article><footer>Footer</footer></body></html>")


def rss(title: str, items: list[Item], base: str) -> str:
    entries = "".join(
        f"<item><title>{it.title}</title><link>{base}/story/{it.slug}.html</link>"
        f"<guid isPermaLink='false'>{it.slug}</guid><pubDate>{format_datetime(it.published)}</pubDate>"
        f"<description><![CDATA[<p>{it.text}</p>]]></description></item>" for it in items)
    return ('<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
            f"<title>{title}</title><link>{base}/</link><description>Test feed</description>{entries}"
            "</channel></rss>")


def atom(title: str, items: list[Item], base: str) -> str:
    entries = "".join(
        f"<entry><title>{it.title}</title><link href='{base}/story/{it.slug}.html'/>"
        f"<id>urn:test:{it.slug}</id><updated>{it.published.isoformat()}</updated>"
        f"<summary>{it.text}</summary></entry>" for it in items)
    return ('<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>{title}</title><id>urn:test:{title}</id><updated>2024-06-01T00:00:00Z</updated>"
            f"{entries}</feed>")


# --------------------------------------------------------------------------- helpers


def components_with(components: Components, **settings) -> Components:
    """Components over the same data dir and model, with some settings changed."""
    return Components(components.settings.model_copy(update=settings), embedder=components.embedder,
                      tokenizer=components.tokenizer)


def subscribe(components: Components, url: str, every: int = 1, name: str | None = None) -> None:
    subs = open_subscriptions(components)
    try:
        subs.add(url, utc_now(), name=name, every_minutes=every)
    finally:
        subs.close()


def feed_row(components: Components, url: str) -> dict:
    subs = open_subscriptions(components)
    try:
        feed = subs.get(url)
    finally:
        subs.close()
    assert feed is not None
    return {**feed.as_json(), "etag": feed.etag, "last_modified": feed.last_modified}


def only(report, url: str):
    [result] = [f for f in report.feeds if f.url == url]
    return result


@pytest.fixture
def cli(components, monkeypatch):
    """The CLI in-process, with the session's model and the address guard relaxed for 127.0.0.1."""
    monkeypatch.setenv("NEWSDESK_FEED_PRIVATE_ADDRESSES", "true")
    obj = {"components": lambda s: Components(s, embedder=components.embedder, tokenizer=components.tokenizer)}

    def run(*args: str):
        return CliRunner().invoke(main, [*args, "--data-dir", str(components.settings.data_dir)], obj=obj,
                                  catch_exceptions=False)

    return run


# --------------------------------------------------------------------------- subscriptions


def test_add_list_remove(cli, components):
    listed = cli("feeds", "list", "--json")
    assert listed.exit_code == 0 and json.loads(listed.stdout) == {"feeds": []}
    assert not components.registry_exists()  # listing nothing creates nothing

    added = cli("feeds", "add", "https://news.example.com/rss", "--name", "Example", "--every", "15", "--json")
    assert added.exit_code == 0, added.output
    assert json.loads(added.stdout) == {"url": "https://news.example.com/rss", "name": "Example", "every_minutes": 15}
    default = json.loads(cli("feeds", "add", "https://wire.example.org/atom", "--json").stdout)
    assert default == {"url": "https://wire.example.org/atom", "name": None, "every_minutes": 60}
    again = json.loads(cli("feeds", "add", "https://news.example.com/rss", "--every", "30", "--json").stdout)
    assert again == {"url": "https://news.example.com/rss", "name": "Example", "every_minutes": 30}

    feeds = json.loads(cli("feeds", "list", "--json").stdout)["feeds"]
    assert [f["url"] for f in feeds] == ["https://news.example.com/rss", "https://wire.example.org/atom"]
    keys = {"url", "name", "every_minutes", "last_poll", "last_success", "last_error", "failures", "next_poll",
            "items_seen", "articles_added"}
    assert all(keys <= set(f) for f in feeds)
    assert feeds[0] | {"status": None} == {"url": "https://news.example.com/rss", "name": "Example",
                                           "every_minutes": 30, "last_poll": None, "last_success": None,
                                           "last_error": None, "failures": 0, "next_poll": None,
                                           "items_seen": 0, "articles_added": 0, "status": None}
    assert "news.example.com" in cli("feeds", "list").stdout

    assert cli("feeds", "remove", "https://news.example.com/rss").exit_code == 0
    gone = cli("feeds", "remove", "https://news.example.com/rss")
    assert gone.exit_code == 1 and "not subscribed" in gone.stderr and gone.stdout == ""
    assert [f["url"] for f in json.loads(cli("feeds", "list", "--json").stdout)["feeds"]] == [
        "https://wire.example.org/atom"]
    assert cli("feeds", "add", "ftp://example.com/feed").exit_code == 2
    assert cli("feeds", "add", "https://example.com/feed", "--every", "0").exit_code == 2


def test_migration_2_adds_the_feeds_table(components):
    assert components.registry.schema_version() >= 2
    tables = {r[0] for r in components.registry.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "feeds" in tables


def test_backoff_and_retry_after_parsing():
    assert [backoff(10, n, 1440).total_seconds() / 60 for n in (1, 2, 3, 4)] == [10, 20, 40, 80]
    assert backoff(60, 20, 1440) == timedelta(hours=24)  # capped
    assert backoff(3000, 3, 1440) == timedelta(minutes=3000)  # never sooner than the interval
    now = datetime(2024, 6, 1, 12, tzinfo=UTC)
    assert parse_retry_after("120") == 120
    assert parse_retry_after("Sat, 01 Jun 2024 12:05:00 GMT", now) == 300
    assert parse_retry_after("Sat, 01 Jun 2024 11:00:00 GMT", now) == 0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


# --------------------------------------------------------------------------- polling


def test_unchanged_feed_is_304_and_embeds_nothing(server, components):
    url = server.publish("/news.rss", "Harbour Herald", make_items("harbour", 3))
    subscribe(components, url)
    first = poll(components, all_feeds=True, allow_private=True)
    result = only(first, url)
    assert (result.status, result.new, result.error) == ("ok", 3, None), result
    assert first.added == 3 and first.chunks_embedded > 0 and not first.failed
    assert components.registry.counts()["articles"] == 3
    [request] = server.seen("/news.rss")
    assert request.headers["User-Agent"].startswith(f"Newsdesk/{rag.__version__}")
    assert "If-None-Match" not in request.headers
    assert len(server.seen("/story/harbour-0.html")) == 1  # full text from the linked page
    assert "Harbour story number 0" in {r.title for r in components.registry.articles()}

    second = poll(components, all_feeds=True, allow_private=True)
    result = only(second, url)
    assert (result.status, result.new, result.unchanged) == ("not_modified", 0, 0)
    assert second.chunks_embedded == 0 and second.added == 0
    again = server.seen("/news.rss")[-1]
    assert again.headers["If-None-Match"] == server.routes["/news.rss"].etag
    assert again.headers["If-Modified-Since"] == server.routes["/news.rss"].last_modified
    assert len(server.seen("/story/harbour-0.html")) == 1  # a 304 reads no entries
    assert components.registry.counts()["articles"] == 3
    row = feed_row(components, url)
    assert row["items_seen"] == 3 and row["articles_added"] == 3 and row["failures"] == 0
    assert row["last_success"] and datetime.fromisoformat(row["next_poll"]) > datetime.fromisoformat(row["last_poll"])
    assert_consistent(components)


def test_new_entries_are_indexed_by_the_next_poll(server, components):
    atom_url = server.publish("/wire.atom", "Wire Service", make_items("wire", 2), kind="atom")
    rss_url = server.publish("/dated.rss", "Dated Daily", make_items("dated", 2), etag=False)
    subscribe(components, atom_url)
    subscribe(components, rss_url)
    first = poll(components, all_feeds=True, allow_private=True)
    assert [(f.url, f.status, f.new) for f in first.feeds] == [(atom_url, "ok", 2), (rss_url, "ok", 2)]

    server.publish("/wire.atom", "Wire Service", make_items("wire", 3, start=2) + make_items("wire", 2), kind="atom")
    second = poll(components, all_feeds=True, allow_private=True)
    wire = only(second, atom_url)
    assert (wire.status, wire.new, wire.unchanged) == ("ok", 3, 2)
    dated = only(second, rss_url)  # Last-Modified alone: If-Modified-Since gets the 304
    assert dated.status == "not_modified"
    assert "If-None-Match" not in server.seen("/dated.rss")[-1].headers
    titles = sorted(r.title for r in components.registry.articles())
    assert titles == sorted([f"Wire story number {i}" for i in range(5)] + [f"Dated story number {i}" for i in range(2)])
    assert components.registry.counts()["duplicates"] == 0
    assert feed_row(components, atom_url)["articles_added"] == 5
    assert_consistent(components)


def test_json_feed_headlines_and_pages(server, components, cli):
    """A JSON Feed is read as the loader reads one; a headline too short to be an article is
    skipped, not failed; a web page is not a feed."""
    import rag.ingest.feeds

    if not hasattr(rag.ingest.feeds, "json_feed_articles"):
        pytest.skip("this tree's rag/ingest/feeds.py has no JSON Feed support yet")
    items = make_items("json", 2)
    doc = {"version": "https://jsonfeed.org/version/1.1", "title": "Json Journal", "items": [
        *({"id": it.slug, "title": it.title, "content_text": it.text,
           "date_published": it.published.isoformat()} for it in items),
        {"id": "brief", "title": "Brief", "content_text": "Council meets on Tuesday about the budget."}]}
    server.routes["/feed.json"] = Route(json.dumps(doc).encode(), "application/feed+json", etag='"j1"')
    server.routes["/page.html"] = Route(page_html(items[0]).encode(), "text/html; charset=utf-8")
    for path in ("/feed.json", "/page.html"):
        assert cli("feeds", "add", server.base + path).exit_code == 0
    polled = cli("feeds", "poll", "--json")
    assert polled.exit_code == 1  # the page failed
    data = json.loads(polled.stdout)
    assert set(data) == {"added", "feeds"} and data["added"] == 2
    journal, page = data["feeds"]
    assert {"url", "status", "new", "updated", "unchanged", "duplicates", "skipped", "error"} <= set(journal)
    assert (journal["status"], journal["new"], journal["skipped"], journal["error"]) == ("ok", 2, 1, None)
    assert page["status"] == "failed" and "not a feed" in page["error"]
    assert sorted(r.title for r in components.registry.articles()) == [it.title for it in items]


def test_a_feed_not_due_is_not_fetched(server, components):
    url = server.publish("/hourly.rss", "Hourly", make_items("hourly", 1))
    subscribe(components, url, every=60)
    assert next_due(components) <= utc_now()
    assert only(poll(components, allow_private=True), url).status == "ok"
    assert poll(components, allow_private=True).feeds == []  # due again in an hour
    assert len(server.seen("/hourly.rss")) == 1
    assert next_due(components) > utc_now() + timedelta(minutes=59)


def test_failing_feed_backs_off(server, components, cli):
    url = server.base + "/broken.rss"
    server.routes["/broken.rss"] = Route(b"oops", "text/plain", status=500)
    assert cli("feeds", "add", url, "--every", "1").exit_code == 0
    gaps = []
    for n in (1, 2, 3):
        polled = cli("feeds", "poll", "--all", "--json")
        assert polled.exit_code == 1
        data = json.loads(polled.stdout)
        assert data["added"] == 0
        [item] = data["feeds"]
        assert {k: item[k] for k in ("url", "status", "new", "error")} == {
            "url": url, "status": "failed", "new": 0, "error": "HTTP 500 Internal Server Error"}
        [feed] = json.loads(cli("feeds", "list", "--json").stdout)["feeds"]
        assert feed["failures"] == n and feed["last_error"] == "HTTP 500 Internal Server Error"
        assert feed["last_success"] is None and feed["status"] == "backing_off"
        gaps.append(datetime.fromisoformat(feed["next_poll"]) - datetime.fromisoformat(feed["last_poll"]))
    assert gaps == [timedelta(minutes=1), timedelta(minutes=2), timedelta(minutes=4)]

    # Its interval has passed but its backoff has not: a plain poll leaves it alone, and says so.
    hour_ago = (utc_now() - timedelta(hours=1)).isoformat(timespec="seconds")
    with sqlite3.connect(components.registry.path) as db:
        db.execute("UPDATE feeds SET last_poll=? WHERE url=?", (hour_ago, url))
    requests = len(server.seen("/broken.rss"))
    held = cli("feeds", "poll", "--json")
    assert held.exit_code == 0  # nothing polled, nothing failed
    [item] = json.loads(held.stdout)["feeds"]
    assert (item["status"], item["error"]) == ("backing_off", "HTTP 500 Internal Server Error")
    assert len(server.seen("/broken.rss")) == requests

    server.publish("/broken.rss", "Mended", make_items("mended", 1))
    fixed = cli("feeds", "poll", "--all", "--json")
    assert fixed.exit_code == 0 and json.loads(fixed.stdout)["added"] == 1
    [feed] = json.loads(cli("feeds", "list", "--json").stdout)["feeds"]
    assert (feed["failures"], feed["last_error"], feed["status"]) == (0, None, "ok")
    assert feed["last_success"] == feed["last_poll"]


def test_429_and_503_retry_after_are_honoured(server, components):
    c = components_with(components, feed_max_backoff_minutes=600)
    throttled = server.base + "/busy.rss"
    server.routes["/busy.rss"] = Route(b"slow down", "text/plain", status=429, headers={"Retry-After": "3600"})
    down = server.base + "/down.rss"
    later = (utc_now() + timedelta(hours=2)).replace(microsecond=0)
    server.routes["/down.rss"] = Route(b"", "text/plain", status=503,
                                       headers={"Retry-After": format_datetime(later, usegmt=True)})
    subscribe(c, throttled)
    subscribe(c, down)
    before = utc_now()
    report = poll(c, all_feeds=True, allow_private=True)
    assert not report.failed  # asked to wait is not a failure
    busy = only(report, throttled)
    assert busy.status == "backing_off" and busy.error.startswith("HTTP 429 Too Many Requests")
    assert timedelta(minutes=59) < busy.next_poll - before < timedelta(minutes=61)  # not the 1-minute interval
    unavailable = only(report, down)
    assert unavailable.status == "backing_off" and "503" in unavailable.error
    assert abs(unavailable.next_poll - later) < timedelta(seconds=5)
    assert feed_row(c, throttled)["failures"] == 1
    assert poll(c, allow_private=True).feeds == []  # neither is asked again before its time
    forced = poll(c, all_feeds=True, allow_private=True)  # not even by --all
    assert [f.status for f in forced.feeds] == ["backing_off", "backing_off"] and not forced.failed
    assert len(server.seen("/busy.rss")) == len(server.seen("/down.rss")) == 1
    c.close()


def test_time_budget_stops_a_slow_feed(server, components):
    c = components_with(components, feed_poll_budget=1.0)
    dripping = server.base + "/drip.rss"
    server.routes["/drip.rss"] = Route(rss("Drip", make_items("drip", 3), server.base).encode(), drip=0.05)
    subscribe(c, dripping)
    started = time.monotonic()
    report = poll(c, all_feeds=True, allow_private=True)
    assert time.monotonic() - started < 5  # the read timeout (20 s) never fires: the budget does
    result = only(report, dripping)
    assert result.status == "failed" and "time budget of 1 s" in result.error
    assert report.failed and c.registry.counts()["articles"] == 0
    c.close()


def test_budget_covers_the_entries_pages_and_the_rest_come_next_poll(server, components):
    c = components_with(components, feed_poll_budget=2.0)
    url = server.publish("/pages.rss", "Slow Pages", make_items("pages", 5), page_sleep=0.8)
    subscribe(c, url)
    started = time.monotonic()
    first = only(poll(c, all_feeds=True, allow_private=True), url)
    assert time.monotonic() - started < 2.0 + 10  # fetching stopped at the budget (indexing is extra)
    assert first.status == "failed" and "ran out after" in first.error
    assert 1 <= first.new < 5
    assert feed_row(c, url)["etag"] is None  # not all read: no validators kept, the next poll reads it all

    for it in make_items("pages", 5):
        server.routes[f"/story/{it.slug}.html"].sleep = 0
    second = only(poll(c, all_feeds=True, allow_private=True), url)
    assert (second.status, second.new, second.unchanged) == ("ok", 5 - first.new, first.new)
    assert c.registry.counts()["articles"] == 5 and c.registry.counts()["duplicates"] == 0
    assert_consistent(c)
    c.close()


def test_entries_per_poll_are_capped(server, components):
    c = components_with(components, feed_max_items=3)
    url = server.publish("/big.rss", "Big Feed", make_items("big", 6))
    subscribe(c, url)
    result = only(poll(c, all_feeds=True, allow_private=True), url)
    assert (result.status, result.new, result.entries) == ("ok", 3, 3)
    assert [len(server.seen(f"/story/big-{i}.html")) for i in range(6)] == [1, 1, 1, 0, 0, 0]
    assert feed_row(c, url)["items_seen"] == 3
    c.close()


def test_feeds_are_fetched_in_parallel(server, components):
    c = components_with(components, feed_parallel=3)
    urls = []
    for n in range(3):
        urls.append(server.publish(f"/p{n}.rss", f"Parallel {n}", make_items(f"par{n}", 1)))
        server.routes[f"/p{n}.rss"].sleep = 1.0
        subscribe(c, urls[-1])
    report = poll(c, all_feeds=True, allow_private=True)
    assert [f.status for f in report.feeds] == ["ok"] * 3 and report.added == 3
    arrivals = sorted(server.seen(f"/p{n}.rss")[0].at for n in range(3))
    assert arrivals[-1] - arrivals[0] < 0.9  # all three asked before the first answered
    c.close()


def test_private_addresses_are_refused_unless_allowed(server, components):
    url = server.publish("/local.rss", "Local", make_items("local", 1))
    subscribe(components, url)
    result = only(poll(components, all_feeds=True), url)  # the default: NEWSDESK_FEED_PRIVATE_ADDRESSES off
    assert result.status == "failed" and "private or local address" in result.error
    assert server.seen("/local.rss") == []


def test_fetcher_conditional_get_and_status_errors(server, tmp_path):
    from rag.settings import Settings

    url = server.publish("/plain.rss", "Plain", make_items("plain", 1))
    fetcher = Fetcher(Settings(_env_file=None, data_dir=tmp_path))
    full = fetcher.fetch(url)
    assert full.status == 200 and full.body and full.etag == server.routes["/plain.rss"].etag
    assert fetcher.fetch(url, etag=full.etag).not_modified
    assert fetcher.fetch(url, last_modified=full.last_modified).body == b""
    server.routes["/limited"] = Route(b"", status=429, headers={"Retry-After": "7"})
    with pytest.raises(FetchStatusError) as err:
        fetcher.get(server.base + "/limited")
    assert (err.value.status, err.value.retry_after, err.value.retry_later) == (429, 7.0, True)
    fetcher.close()


# --------------------------------------------------------------------------- a killed poll


def _committed(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as con:
            return con.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
    except sqlite3.Error:
        return 0


@pytest.mark.slow
def test_sigkill_mid_poll_then_repoll_loses_and_duplicates_nothing(server, components):
    feeds, per_feed = 3, 8
    for n in range(feeds):
        subscribe(components, server.publish(f"/k{n}.rss", f"Kill Feed {n}", make_items(f"kill{n}", per_feed)))
    components.close()
    data = components.settings.data_dir
    db = data / "registry" / "news.sqlite3"
    env = {**os.environ, "NEWSDESK_FEED_PRIVATE_ADDRESSES": "true", "NEWSDESK_INGEST_BATCH_CHUNKS": "1",
           "NEWSDESK_LOG_LEVEL": "ERROR", "NO_PROXY": "127.0.0.1,localhost"}
    cmd = [sys.executable, "-m", "rag.cli", "feeds", "poll", "--all", "--json", "--data-dir", str(data)]
    kills = 0
    for wait_for in (1, 9, 17):  # kill after this many articles were committed (or earlier)
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while proc.poll() is None and _committed(db) < wait_for and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(random.Random(wait_for).uniform(0.0, 0.2))  # land somewhere inside a write
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
    assert kills >= 2, "the poll finished before it could be killed; give the feeds more entries"

    final = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stderr
    assert all(f["status"] in ("ok", "not_modified") for f in json.loads(final.stdout)["feeds"])
    again = json.loads(subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300).stdout)
    assert again["added"] == 0 and {f["status"] for f in again["feeds"]} == {"not_modified"}

    c = Components(components.settings, embedder=components.embedder, tokenizer=components.tokenizer)
    try:
        counts = c.registry.counts()
        assert counts["articles"] == feeds * per_feed and counts["duplicates"] == 0
        assert_consistent(c)
        titles = sorted(r.title for r in c.registry.articles())
        assert titles == sorted(f"Kill{n} story number {i}" for n in range(feeds) for i in range(per_feed))
        assert all(feed_row(c, server.base + f"/k{n}.rss")["etag"] for n in range(feeds))
    finally:
        c.close()
