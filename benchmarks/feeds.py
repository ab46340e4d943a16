"""Feed polling benchmark: one poll cycle over many subscribed feeds, against a real HTTP server on
127.0.0.1 (a child process, so that serving shares no interpreter lock with the poller).

1. `--feeds` RSS feeds of `--items` entries each (about 70 words an entry, every entry linking to
   an HTML page with its text, served too), subscribed in one collection. A first poll, with
   everything new, warms up the index (its time and articles are reported). Then, for each of
   `--cycles` cycles, a share `--changed` of the feeds gets one new entry (the oldest drops out)
   and every feed is polled again: the cycle's total time, its time without the embedding of the
   new entries (the embedder is wrapped to time its calls), the time spent indexing (the poll's
   ingests, embedding included; the rest is fetching and bookkeeping), the requests the server
   answered and how many of them were 304s, and the feeds polled per second.
2. The embedding rate of new passages inside those polls, against the bare rate: the same
   embedder on the same passage texts, called directly, batched as the pipeline batches
   (NEWSDESK_INGEST_BATCH_CHUNKS a call; the embedder splits them into NEWSDESK_EMBED_BATCH_SIZE),
   and, for comparison, one passage a call (what a poll does with one new entry a feed).

No shared data needed.

    .venv/bin/python benchmarks/feeds.py [--feeds 200] [--items 20] [--changed 0.1] [--cycles 3] [--work DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import http.server
import json
import multiprocessing
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Timer, components  # noqa: E402

WORDS = (
    "harbour council budget minister river school strike vote court bridge tariff drought museum "
    "election airport vaccine festival border refinery railway startup orchestra glacier wildfire "
    "protest satellite harvest treaty factory lawsuit stadium reservoir subway hospital senate union "
    "ferry copper lithium census embassy pension tunnel forest summit festival ceasefire reactor"
).split()
BARE_REPEATS = 5

# --------------------------------------------------------------------------- feed content


@dataclass
class Item:
    slug: str
    title: str
    text: str
    published: datetime


def make_item(prefix: str, i: int) -> Item:
    """Entry i of a feed: a distinct text of six sentences (about 70 words)."""
    rng = random.Random(f"{prefix}-{i}")
    sentences = [" ".join(rng.sample(WORDS, 9)).capitalize() + f" in district {rng.randint(1, 999)}."
                 for _ in range(6)]
    return Item(f"{prefix}-{i}", f"{prefix.title()} story number {i}", " ".join(sentences),
                datetime(2024, 6, 1, 8, tzinfo=UTC) + timedelta(hours=i))


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
        f"<description><![CDATA[<p>{it.text}</p>]]></description></item>" for it in reversed(items))
    return ('<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
            f"<title>{title}</title><link>{base}/</link><description>Benchmark feed</description>{entries}"
            "</channel></rss>")


# --------------------------------------------------------------------------- the feed server (child process)


@dataclass
class Site:
    """The feeds and pages served, and a count of the responses given."""

    base: str
    feeds: dict[str, tuple[bytes, str, str]] = field(default_factory=dict)  # path: body, ETag, Last-Modified
    pages: dict[str, bytes] = field(default_factory=dict)
    items: dict[int, list[Item]] = field(default_factory=dict)
    counts: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def publish(self, n: int) -> None:
        items = self.items[n]
        body = rss(f"Feed {n}", items, self.base).encode()
        digest = hashlib.sha1(body).hexdigest()
        stamp = datetime(2024, 6, 1, tzinfo=UTC) + timedelta(minutes=int(digest[:6], 16) % 100_000)
        self.feeds[f"/feed/{n}.rss"] = (body, f'"{digest[:16]}"', format_datetime(stamp, usegmt=True))
        for it in items:
            self.pages[f"/story/{it.slug}.html"] = page_html(it).encode()

    def add_entry(self, n: int) -> None:
        """One new entry at the top of feed n; the oldest drops out."""
        items = self.items[n]
        last = int(items[-1].slug.rsplit("-", 1)[1])
        self.items[n] = items[1:] + [make_item(f"feed{n}", last + 1)]
        self.publish(n)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real server: a feed's requests share a connection

    def log_message(self, *args):
        pass

    def do_GET(self):
        site: Site = self.server.site  # type: ignore[attr-defined]
        path, _, query = self.path.partition("?")
        if path.startswith("/_"):
            self._control(site, path, query)
        elif path in site.feeds:
            self._feed(site, path)
        elif path in site.pages:
            self._count(site, "page 200")
            self._send(200, site.pages[path], "text/html; charset=utf-8")
        else:
            self._count(site, "404")
            self._send(404, b"not found", "text/plain")

    def _feed(self, site: Site, path: str) -> None:
        body, etag, modified = site.feeds[path]
        tag, since = self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since")
        if (tag == etag) if tag is not None else (since == modified):
            self._count(site, "feed 304")
            self._send(304, b"", None, {"ETag": etag, "Last-Modified": modified})
            return
        self._count(site, "feed 200")
        self._send(200, body, "application/rss+xml", {"ETag": etag, "Last-Modified": modified})

    def _control(self, site: Site, path: str, query: str) -> None:
        with site.lock:
            if path == "/_change":
                for n in (int(v) for v in query.split(",") if v):
                    site.add_entry(n)
            answer = dict(site.counts)
            if path == "/_reset":
                site.counts.clear()
        answer["cpu_seconds"] = time.process_time()
        self._send(200, json.dumps(answer).encode(), "application/json")

    @staticmethod
    def _count(site: Site, key: str) -> None:
        with site.lock:
            site.counts[key] += 1

    def _send(self, status: int, body: bytes, ctype: str | None, headers: dict | None = None) -> None:
        self.send_response(status)
        if ctype:
            self.send_header("Content-Type", ctype)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


def serve(feeds: int, items: int, conn) -> None:
    """The child process: serve `feeds` feeds of `items` entries until terminated."""
    httpd = _Server(("127.0.0.1", 0), _Handler)
    site = Site(f"http://127.0.0.1:{httpd.server_address[1]}")
    for n in range(feeds):
        site.items[n] = [make_item(f"feed{n}", i) for i in range(items)]
        site.publish(n)
    httpd.site = site  # type: ignore[attr-defined]
    conn.send(site.base)
    httpd.serve_forever(poll_interval=0.05)


def control(base: str, path: str) -> dict:
    """Ask the server to change feeds, or for its counts (no proxy: it is on 127.0.0.1)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(base + path, timeout=30) as response:
        return json.loads(response.read())


# --------------------------------------------------------------------------- instrumentation


class TimedEmbedder:
    """The real embedder, with its calls timed and their texts kept (the poll's embedding)."""

    def __init__(self, inner):
        self.inner = inner
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.seconds, self.calls, self.texts = 0.0, 0, []

    def embed(self, texts):
        t = time.perf_counter()
        vectors = self.inner.embed(texts)
        with self._lock:
            self.seconds += time.perf_counter() - t
            self.calls += 1
            self.texts.extend(texts)
        return vectors

    def __getattr__(self, name):  # name, dimension, token_vectors, ...: the real embedder's
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)


def timed_ingests():
    """Make polling's Ingestor time its ingests (each fetched feed's indexing, embedding included)."""
    from rag.ingest import polling

    class TimedIngestor(polling.Ingestor):
        seconds = 0.0

        def ingest(self, inputs, loader=None):
            t = time.perf_counter()
            try:
                return super().ingest(inputs, loader)
            finally:
                TimedIngestor.seconds += time.perf_counter() - t

    polling.Ingestor = TimedIngestor
    return TimedIngestor


# --------------------------------------------------------------------------- measuring


@dataclass
class Cycle:
    label: str
    feeds: int
    statuses: Counter
    served: dict
    new: int
    chunks: int
    seconds: float
    embed_seconds: float
    embed_calls: int
    index_seconds: float
    cpu_seconds: float
    server_cpu_seconds: float
    texts: list[str]

    @property
    def requests(self) -> int:
        return sum(v for k, v in self.served.items() if k != "cpu_seconds")


def run_poll(c, base: str, label: str, embedder: TimedEmbedder, ingestor) -> Cycle:
    """One poll of every feed, measured."""
    from rag.ingest.polling import poll

    before = control(base, "/_reset")
    embedder.reset()
    ingestor.seconds = 0.0
    cpu = time.process_time()
    with Timer() as t:
        report = poll(c, all_feeds=True, allow_private=True)
    cpu = time.process_time() - cpu
    served = control(base, "/_stats")
    failed = [f for f in report.feeds if f.status == "failed"]
    if failed:
        raise SystemExit(f"{len(failed)} feeds failed, e.g. {failed[0].url}: {failed[0].error}")
    return Cycle(label, len(report.feeds), Counter(f.status for f in report.feeds), served, report.added,
                 report.chunks_embedded, t.seconds, embedder.seconds, embedder.calls, ingestor.seconds, cpu,
                 served["cpu_seconds"] - before["cpu_seconds"], list(embedder.texts))


def bare_rate(embedder, cycles: list[Cycle], per_call: int) -> tuple[int, int, float]:
    """(passages, calls, seconds) of the bare embedder on the cycles' passage texts, `per_call`
    texts a call, each cycle's texts on their own as in its poll; the median of BARE_REPEATS runs."""
    runs = []
    for _ in range(BARE_REPEATS):
        calls, t = 0, time.perf_counter()
        for cycle in cycles:
            for i in range(0, len(cycle.texts), per_call):
                embedder.embed(cycle.texts[i:i + per_call])
                calls += 1
        runs.append(time.perf_counter() - t)
    return sum(len(cy.texts) for cy in cycles), calls, statistics.median(runs)


# --------------------------------------------------------------------------- reporting


def machine() -> str:
    model = "unknown CPU"
    try:
        model = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (f"{len(os.sched_getaffinity(0))} CPUs usable (nproc), {os.cpu_count()} online, {model}; "
            f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def poll_table(cycles: list[Cycle]) -> None:
    print("| poll | feeds | 200 / 304 | requests (feeds + pages) | new articles | passages embedded | total | "
          "embedding | without embedding | indexing (embedding included) | feeds/s | feeds/s without embedding "
          "| CPU poller / server |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for cy in cycles:
        rest = cy.seconds - cy.embed_seconds
        ok, nm = cy.served.get("feed 200", 0), cy.served.get("feed 304", 0)
        print(f"| {cy.label} | {cy.feeds} | {ok} / {nm} | {cy.requests} ({ok + nm} + {cy.served.get('page 200', 0)}) "
              f"| {cy.new} | {cy.chunks} | {cy.seconds:.2f} s | {cy.embed_seconds:.2f} s | {rest:.2f} s "
              f"| {cy.index_seconds:.2f} s | {cy.feeds / cy.seconds:.1f} | {cy.feeds / rest:.1f} "
              f"| {cy.cpu_seconds:.1f} / {cy.server_cpu_seconds:.1f} s |")


def median_row(cycles: list[Cycle]) -> None:
    if len(cycles) < 2:
        return
    total = statistics.median(cy.seconds for cy in cycles)
    embed = statistics.median(cy.embed_seconds for cy in cycles)
    rest = statistics.median(cy.seconds - cy.embed_seconds for cy in cycles)
    feeds = cycles[0].feeds
    print(f"| **median of the {len(cycles)} change cycles** | {feeds} | | | | | **{total:.2f} s** | {embed:.2f} s "
          f"| **{rest:.2f} s** | {statistics.median(cy.index_seconds for cy in cycles):.2f} s "
          f"| **{feeds / total:.1f}** | {feeds / rest:.1f} | |")


def embed_table(first: Cycle, cycles: list[Cycle], bare_batched: tuple, bare_single: tuple, batch: int) -> None:
    inside = (sum(cy.chunks for cy in cycles), sum(cy.embed_calls for cy in cycles),
              sum(cy.embed_seconds for cy in cycles))
    ref = bare_batched[0] / bare_batched[2]
    rows = [
        (f"inside the change polls ({len(cycles)} cycles together)", inside),
        (f"bare, same texts, batched as the pipeline (up to {batch} a call), median of {BARE_REPEATS}",
         bare_batched),
        (f"bare, same texts, one passage a call, median of {BARE_REPEATS}", bare_single),
        ("inside the first poll (all new)", (first.chunks, first.embed_calls, first.embed_seconds)),
    ]
    print("| embedding | passages | model calls | seconds | passages/s | vs bare batched |")
    print("|---|---|---|---|---|---|")
    for label, (n, calls, seconds) in rows:
        rate = n / seconds if seconds else float("nan")
        print(f"| {label} | {n} | {calls} | {seconds:.3f} | {rate:.1f} | {rate / ref:.0%} |")


# --------------------------------------------------------------------------- main


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser()
    ap.add_argument("--feeds", type=int, default=200)
    ap.add_argument("--items", type=int, default=20, help="entries a feed")
    ap.add_argument("--changed", type=float, default=0.1, help="share of the feeds given a new entry a cycle")
    ap.add_argument("--cycles", type=int, default=3, help="change-and-poll cycles after the first poll")
    ap.add_argument("--work", type=Path, help="build the index in a new folder under DIR (kept)")
    return ap.parse_args()


def subscribe_all(c, base: str, feeds: int) -> None:
    from rag.ingest.polling import open_subscriptions
    from rag.text.dates import utc_now

    subs = open_subscriptions(c)
    try:
        for n in range(feeds):
            subs.add(f"{base}/feed/{n}.rss", utc_now(), name=f"Feed {n}")
    finally:
        subs.close()


def start_server(feeds: int, items: int) -> tuple[multiprocessing.Process, str]:
    ctx = multiprocessing.get_context("fork")  # before any thread or model is loaded here
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=serve, args=(feeds, items, child), daemon=True)
    proc.start()
    if not parent.poll(120):
        proc.terminate()
        raise SystemExit("the feed server did not start")
    return proc, parent.recv()


def measure(args, base: str, data: Path) -> None:
    embedder = TimedEmbedder(components(data).embedder)
    c = components(data, embedder=embedder)
    embedder.inner.embed(["warm up"])
    c.tokenizer.count(["warm up"])
    ingestor = timed_ingests()
    subscribe_all(c, base, args.feeds)
    first = run_poll(c, base, "first (all new)", embedder, ingestor)
    words = statistics.mean(len(t.split()) for t in first.texts) if first.texts else 0
    rng = random.Random(0)
    k = max(1, round(args.feeds * args.changed))
    cycles = []
    for n in range(args.cycles):
        changed = sorted(rng.sample(range(args.feeds), k))
        control(base, "/_change?" + ",".join(map(str, changed)))
        cycles.append(run_poll(c, base, f"cycle {n + 1} ({k} feeds changed)", embedder, ingestor))
    batch = c.settings.ingest_batch_chunks
    bare_batched = bare_rate(embedder.inner, cycles, batch)
    bare_single = bare_rate(embedder.inner, cycles, 1)
    s = c.settings
    print(f"{type(embedder.inner).__name__} (embed batch {s.embed_batch_size}, ingest batches of {batch} "
          f"passages), {s.feed_parallel} feeds fetched at a time; passages of {words:.0f} words on average; "
          f"finished at load average {os.getloadavg()[0]:.2f}\n")
    poll_table([first, *cycles])
    median_row(cycles)
    print()
    embed_table(first, cycles, bare_batched, bare_single, batch)


def main() -> None:
    args = parse_args()
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        os.environ.pop(name, None)
    os.environ["NO_PROXY"] = "127.0.0.1,localhost"
    proc, base = start_server(args.feeds, args.items)
    work = args.work
    if work:
        work.mkdir(parents=True, exist_ok=True)
    data = Path(tempfile.mkdtemp(prefix="newsdesk-feeds-", dir=work))
    print(f"## Feed polling: {args.feeds} feeds x {args.items} entries on {base}, "
          f"{args.changed:.0%} of the feeds changed a cycle\n")
    print(f"Machine: {machine()}\n")
    try:
        measure(args, base, data)
    finally:
        proc.terminate()
        proc.join(5)
        if not work:
            shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
