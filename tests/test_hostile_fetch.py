"""Hostile servers against the fetcher (issue #18, items 2, 5, 7 and 15), each one real, on 127.0.0.1:
decompression bombs, servers that drip bytes, DNS rebinding past the address guard, IPv6 forms
of private IPv4 addresses, and content that points the CLI at private addresses."""

from __future__ import annotations

import gzip
import http.server
import json
import socket
import subprocess
import sys
import textwrap
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from click.testing import CliRunner

from rag.cli import main
from rag.components import Components
from rag.ingest import guard as guards
from rag.ingest.decoding import LoadError
from rag.ingest.fetch import Fetcher
from rag.ingest.guard import PrivateAddressError, refuse_private_address
from rag.ingest.loader import Loader
from rag.models import Article, LoadFailure
from rag.settings import Settings

# Decoded size of each bomb: far past the test's download cap (CAP), and small enough to build
# in a few seconds. Before the fix a 64 KiB network chunk of the gzip bomb became 64 MB at once.
BOMB_BYTES = 128 * 1024 * 1024
CAP = 1_000_000

# Most the fetching process may grow while it is refused a bomb: the body up to the cap, a few
# decoded pieces, the decoders' windows; far under what one undecoded chunk of a bomb becomes.
MAX_GROWTH_BYTES = 40 * 1024 * 1024

WORDS = ("The harbour council met on Monday to weigh the new breakwater plan, which engineers say "
         "would shield the fishing fleet from winter storms for decades. ")


def page(title: str, marker: str) -> bytes:
    """An HTML article of a few hundred words, with `marker` in its text."""
    return (f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
            f"<p>{marker}. {WORDS * 8}</p></article></body></html>").encode()


def rss(items: list[tuple[str, str, str]]) -> bytes:
    """An RSS 2.0 feed of (title, link, description) items."""
    entries = "".join(f"<item><title>{t}</title><link>{link}</link><description>{d}</description></item>"
                      for t, link, d in items)
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Hostile Herald</title>'
            f"{entries}</channel></rss>").encode()


# --------------------------------------------------------------------------- the server


@dataclass
class Route:
    body: bytes = b""
    ctype: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 200
    drip: float = 0.0  # seconds between bytes of the body, when dripping
    drip_headers: float = 0.0  # seconds between bytes of the status line and headers


class HostileServer:
    """A threaded HTTP server on 127.0.0.1 answering each path with its Route, and recording the
    paths asked for and their Host headers."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.seen: list[tuple[str, str]] = []  # (path, Host header)
        self.httpd = _Server(("127.0.0.1", 0), _Handler)
        self.httpd.app = self  # type: ignore[attr-defined]
        self.port = self.httpd.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def paths(self) -> list[str]:
        return [p for p, _ in self.seen]


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that hung up, as it should
            super().handle_error(request, client_address)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        app: HostileServer = self.server.app  # type: ignore[attr-defined]
        app.seen.append((self.path, self.headers.get("Host", "")))
        route = app.routes.get(self.path)
        if route is None:
            route = Route(b"not found", "text/plain", status=404)
        try:
            self._answer(route)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up, as it should

    def _answer(self, route: Route) -> None:
        head = [f"HTTP/1.1 {route.status} X", f"Content-Type: {route.ctype}"]
        head += [f"{k}: {v}" for k, v in route.headers.items()]
        if not route.drip:
            head.append(f"Content-Length: {len(route.body)}")
        raw = ("\r\n".join(head) + "\r\n\r\n").encode()
        if route.drip_headers:
            for i in range(len(raw)):
                self.wfile.write(raw[i:i + 1])
                self.wfile.flush()
                time.sleep(route.drip_headers)
        else:
            self.wfile.write(raw)
        if route.drip:
            for i in range(len(route.body)):
                self.wfile.write(route.body[i:i + 1])
                self.wfile.flush()
                time.sleep(route.drip)
            self.close_connection = True
        else:
            self.wfile.write(route.body)


@pytest.fixture
def server() -> Iterator[HostileServer]:
    srv = HostileServer()
    try:
        yield srv
    finally:
        srv.httpd.shutdown()
        srv.httpd.server_close()


def make_settings(tmp_path, **kw) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path / "data", **kw)


# --------------------------------------------------------------------------- bombs (item 2)


def _zstd():
    """The zstandard module (httpx decodes zstd only with it), or None."""
    try:
        import zstandard
    except ImportError:
        return None
    return zstandard


def _need(encoding: str) -> None:
    if "zstd" in encoding and _zstd() is None:
        pytest.skip("zstandard is not installed: zstd is neither asked for nor read")


@pytest.fixture(scope="module")
def bombs() -> dict[str, bytes]:
    return make_bombs()


def make_bombs() -> dict[str, bytes]:
    """BOMB_BYTES of zeros as gzip, zlib deflate, raw deflate and zstd. The deflate data is made
    once and framed three ways (RFC 1950 and 1952 headers and trailers) to save seconds."""
    import struct

    zero = bytes(1024 * 1024)
    raw = zlib.compressobj(9, zlib.DEFLATED, -15)
    deflated = b"".join(raw.compress(zero) for _ in range(BOMB_BYTES // len(zero))) + raw.flush()
    crc, adler = 0, 1
    for _ in range(BOMB_BYTES // len(zero)):
        crc, adler = zlib.crc32(zero, crc), zlib.adler32(zero, adler)
    return {
        "raw-deflate": deflated,
        "deflate": b"\x78\xda" + deflated + struct.pack(">I", adler),
        "gzip": b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + deflated + struct.pack("<II", crc, BOMB_BYTES % 2**32),
    } | ({"zstd": _zstd().ZstdCompressor(level=3).compress(bytes(BOMB_BYTES))} if _zstd() else {})


# Runs in a fresh process, so that its peak memory (ru_maxrss) is the fetch's alone.
_MEASURE = textwrap.dedent("""
    import json, resource, sys, time
    from rag.ingest.fetch import Fetcher
    from rag.ingest.decoding import LoadError
    from rag.settings import Settings
    import httpx, rag.ingest.decompress  # imported before the baseline
    try:
        import zstandard
    except ImportError:
        pass
    settings = Settings(_env_file=None, http_max_bytes=int(sys.argv[2]), http_timeout=10)
    fetcher = Fetcher(settings)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    start = time.monotonic()
    try:
        fetcher.get(sys.argv[1])
        error = None
    except LoadError as exc:
        error = str(exc)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"error": error, "growth": after - before, "seconds": time.monotonic() - start}))
""")


def measure_fetch(url: str, cap: int = CAP) -> dict:
    """The error, peak memory growth (bytes) and seconds of one fetch, in a process of its own."""
    done = subprocess.run([sys.executable, "-c", _MEASURE, url, str(cap)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "raw-deflate", "zstd"])
def test_decompression_bomb_is_refused_in_bounded_memory(server, bombs, encoding):
    _need(encoding)
    wire = "deflate" if encoding == "raw-deflate" else encoding
    server.routes["/bomb"] = Route(bombs[encoding], "text/html", {"Content-Encoding": wire})
    result = measure_fetch(server.base + "/bomb")
    assert result["growth"] < MAX_GROWTH_BYTES, f"{encoding}: grew {result['growth'] / 2**20:.0f} MiB"
    assert result["error"] is not None and "too large" in result["error"] and "decompressed" in result["error"]


def test_bomb_in_a_redirect_body_is_never_decoded(server, bombs):
    """httpx reads (and decodes) the body of each redirect it follows: a 302 carrying a bomb."""
    _need("zstd")
    server.routes["/moved"] = Route(bombs["zstd"], "text/html",
                                    {"Content-Encoding": "zstd", "Location": "/article.html"}, status=302)
    server.routes["/article.html"] = Route(page("Breakwater plan", "REDIRECTED"))
    result = measure_fetch(server.base + "/moved")
    assert result["error"] is None
    assert result["growth"] < MAX_GROWTH_BYTES, f"grew {result['growth'] / 2**20:.0f} MiB"


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "raw-deflate", "zstd", "gzip, zstd", "identity"])
def test_compressed_pages_are_read_whole(tmp_path, server, encoding):
    _need(encoding)
    body = page("Breakwater plan", "COMPRESSED") * 20
    codecs: dict[str, Callable[[bytes], bytes]] = {
        "gzip": gzip.compress, "deflate": zlib.compress, "identity": lambda b: b,
        "raw-deflate": lambda b: zlib.compress(b, wbits=-15),
        "zstd": lambda b: _zstd().ZstdCompressor().compress(b),
    }
    wire = body
    for name in [n.strip() for n in encoding.split(",")]:
        wire = codecs[name](wire)
    server.routes["/p"] = Route(wire, headers={"Content-Encoding": encoding.replace("raw-", "")})
    got, ctype, _ = Fetcher(make_settings(tmp_path)).get(server.base + "/p")
    assert got == body and ctype == "text/html"


def test_unreadable_encodings_are_refused_by_name(tmp_path, server):
    server.routes["/br"] = Route(b"\x8b\x02\x80hello\x03", headers={"Content-Encoding": "br"})
    server.routes["/corrupt"] = Route(b"\x1f\x8b\x08\x00garbage-not-gzip", headers={"Content-Encoding": "gzip"})
    fetcher = Fetcher(make_settings(tmp_path))
    with pytest.raises(LoadError, match="compressed as 'br'"):
        fetcher.get(server.base + "/br")
    with pytest.raises(LoadError, match="cannot decode the gzip response"):
        fetcher.get(server.base + "/corrupt")
    server.routes["/ok"] = Route(page("Fine", "STILL-FINE"))
    assert b"STILL-FINE" in fetcher.get(server.base + "/ok")[0]  # the next fetch is unharmed


def test_only_bounded_encodings_are_asked_for(tmp_path, server):
    """Accept-Encoding lists what the fetcher decodes with bounded output, and not br."""
    seen = {}

    class Recording(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            seen.update(self.headers)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args) -> None:
            pass

    httpd = http.server.HTTPServer(("127.0.0.1", 0), Recording)
    threading.Thread(target=httpd.handle_request, daemon=True).start()
    try:
        Fetcher(make_settings(tmp_path)).get(f"http://127.0.0.1:{httpd.server_address[1]}/")
    finally:
        httpd.server_close()
    offered = {e.strip() for e in seen["Accept-Encoding"].split(",")}
    assert offered == {"gzip", "deflate"} | ({"zstd"} if _zstd() else set())


# --------------------------------------------------------------------------- slow servers (item 5)


def test_a_dripping_body_is_cut_off_at_the_deadline(tmp_path, server):
    """One byte every 0.2 s never times out a read of 2 s; the deadline of 1.5 s ends the fetch."""
    server.routes["/drip"] = Route(page("Slow", "DRIP")[:200], drip=0.2)
    fetcher = Fetcher(make_settings(tmp_path, http_timeout=2, http_deadline=1.5))
    start = time.monotonic()
    with pytest.raises(LoadError, match="over 1.5 s in all"):
        fetcher.get(server.base + "/drip")
    assert time.monotonic() - start < 3


def test_dripping_headers_are_cut_off_at_the_deadline(tmp_path, server):
    server.routes["/slowhead"] = Route(page("Slow", "HEAD"), drip_headers=0.2)
    fetcher = Fetcher(make_settings(tmp_path, http_timeout=2, http_deadline=1.5))
    start = time.monotonic()
    with pytest.raises(LoadError, match="NEWSDESK_HTTP_DEADLINE"):
        fetcher.get(server.base + "/slowhead")
    assert time.monotonic() - start < 3
    server.routes["/fast"] = Route(page("Fast", "FAST"))
    assert b"FAST" in fetcher.get(server.base + "/fast")[0]  # each request has its own deadline


def _subscribe(components: Components, url: str) -> None:
    from rag.ingest.polling import open_subscriptions
    from rag.text.dates import utc_now

    subs = open_subscriptions(components)
    try:
        subs.add(url, utc_now(), default_every=60)
    finally:
        subs.close()


def test_a_poll_reads_at_most_the_items_cap(tmp_path, server, embedder, tokenizer):
    from rag.ingest.polling import poll

    items = [(f"Story {n}", f"{server.base}/s{n}.html", f"Story number {n}. {WORDS * 4}") for n in range(30)]
    server.routes["/big.rss"] = Route(rss(items), "application/rss+xml")
    for n in range(30):
        server.routes[f"/s{n}.html"] = Route(page(f"Story {n}", f"S{n}"))
    c = Components(make_settings(tmp_path, feed_max_items=5, feed_private_addresses=True),
                   embedder=embedder, tokenizer=tokenizer)
    _subscribe(c, server.base + "/big.rss")
    [result] = poll(c, all_feeds=True).feeds
    assert result.status == "ok" and result.entries == 5  # the pages are alike: 1 new, 4 duplicates
    assert len([p for p in server.paths() if p.startswith("/s")]) == 5
    c.close()


def test_a_poll_of_dripping_pages_ends_in_its_budget(tmp_path, server, embedder, tokenizer):
    from rag.ingest.polling import poll

    items = [(f"Slow {n}", f"{server.base}/slow{n}.html", f"Slow story {n}. {WORDS * 4}") for n in range(10)]
    server.routes["/slow.rss"] = Route(rss(items), "application/rss+xml")
    for n in range(10):
        server.routes[f"/slow{n}.html"] = Route(page(f"Slow {n}", "SLOW"), drip=0.1)
    c = Components(make_settings(tmp_path, feed_poll_budget=2, http_timeout=5, feed_private_addresses=True),
                   embedder=embedder, tokenizer=tokenizer)
    _subscribe(c, server.base + "/slow.rss")
    start = time.monotonic()
    [result] = poll(c, all_feeds=True).feeds
    assert time.monotonic() - start < 6  # the budget, and the indexing of what was read
    assert result.status == "failed" and "time budget of 2 s ran out" in result.error
    c.close()


def test_a_feed_url_gives_at_most_the_items_cap(tmp_path, server):
    """`newsdesk ingest URL` and the bot's /ingest read a feed through the loader: capped too."""
    items = [(f"Story {n}", f"{server.base}/s{n}.html", f"Story number {n}. {WORDS * 4}") for n in range(30)]
    server.routes["/big.rss"] = Route(rss(items), "application/rss+xml")
    for n in range(30):
        server.routes[f"/s{n}.html"] = Route(page(f"Story {n}", f"S{n}"))
    results = list(Loader(make_settings(tmp_path, feed_max_items=5)).load([server.base + "/big.rss"]))
    assert [type(r) for r in results] == [Article] * 5 + [LoadFailure]
    assert results[-1].skipped and "NEWSDESK_FEED_MAX_ITEMS" in results[-1].error
    assert len([p for p in server.paths() if p.startswith("/s")]) == 5


def test_a_feed_of_many_entries_is_parsed_only_as_far_as_the_cap(tmp_path, server):
    """100,000 entries in one feed (8 MB): the document is cut after the entries to be read, so
    the cap costs no parsing of the rest (before: about 86 s on 2 cores for a 50-entry result)."""
    own = f"Own text. {WORDS * 4}"
    items = "".join(f"<item><title>T{n}</title><guid>g{n}</guid><description>{own}</description></item>"
                    for n in range(100_000))
    server.routes["/huge.rss"] = Route(f'<?xml version="1.0"?><rss version="2.0"><channel><title>Huge</title>'
                                       f"{items}</channel></rss>".encode(), "application/rss+xml")
    settings = make_settings(tmp_path, feed_max_items=5, http_max_bytes=200_000_000)
    start = time.monotonic()
    results = list(Loader(settings).load([server.base + "/huge.rss"]))
    assert time.monotonic() - start < 20
    assert [type(r) for r in results] == [Article] * 5 + [LoadFailure]
    assert results[-1].skipped and "NEWSDESK_FEED_MAX_ITEMS" in results[-1].error


def test_cut_entries_keeps_short_feeds_whole():
    from rag.ingest.feeds import cut_entries

    doc = "<rss><channel>" + "<item>a</item>" * 3 + "</channel></rss>"
    assert cut_entries(doc, 3) == (doc, False)
    assert cut_entries(doc, 5) == (doc, False)
    cut, more = cut_entries(doc, 2)
    assert more and cut == "<rss><channel><item>a</item><item>a</item>"
    atom = "<feed>" + "<entry>e</entry>" * 4 + "</feed>"
    assert cut_entries(atom, 1) == ("<feed><entry>e</entry>", True)


def test_a_feed_url_of_dripping_links_ends_in_its_budget(tmp_path, server):
    """Ten links dripping a byte every 0.1 s: links are followed for the budget, then each entry
    keeps its own text; nothing is lost and the ingest ends in time."""
    items = [(f"Slow {n}", f"{server.base}/slow{n}.html", f"SLOW-OWN-{n}. {WORDS * 4}") for n in range(10)]
    server.routes["/slow.rss"] = Route(rss(items), "application/rss+xml")
    for n in range(10):
        server.routes[f"/slow{n}.html"] = Route(page(f"Slow {n}", "SLOW"), drip=0.1)
    settings = make_settings(tmp_path, feed_poll_budget=2, http_timeout=5, http_deadline=1)
    start = time.monotonic()
    results = list(Loader(settings).load([server.base + "/slow.rss"]))
    assert time.monotonic() - start < 5
    assert [type(r) for r in results] == [Article] * 10
    assert all(f"SLOW-OWN-{n}" in art.text for n, art in enumerate(results))
    assert len([p for p in server.paths() if p.startswith("/slow") and p.endswith(".html")]) <= 3


def test_the_last_link_of_a_feed_is_cut_off_at_the_feeds_budget(tmp_path, server):
    """A link started just before the feed's link budget ends is cut off at the budget, not one
    whole NEWSDESK_HTTP_DEADLINE later (a feed of dead links held one ingest for 67 s)."""
    items = [(f"Slow {n}", f"{server.base}/late{n}.html", f"LATE-OWN-{n}. {WORDS * 4}") for n in range(3)]
    server.routes["/late.rss"] = Route(rss(items), "application/rss+xml")
    for n in range(3):
        server.routes[f"/late{n}.html"] = Route(page(f"Slow {n}", "SLOW"), drip=0.2)
    settings = make_settings(tmp_path, feed_poll_budget=1.5, http_timeout=5, http_deadline=8)
    start = time.monotonic()
    results = list(Loader(settings).load([server.base + "/late.rss"]))
    assert time.monotonic() - start < 4
    assert [type(r) for r in results] == [Article] * 3
    assert all(f"LATE-OWN-{n}" in art.text for n, art in enumerate(results))


# --------------------------------------------------------------------------- DNS rebinding (item 7)

PUBLIC = "93.184.215.14"  # a public address (example.com's); never connected to here


def _answer(address: str, port: int | None) -> list[tuple]:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sockaddr = (address, port or 0, 0, 0) if family == socket.AF_INET6 else (address, port or 0)
    return [(family, socket.SOCK_STREAM, 6, "", sockaddr)]


class Rebinder:
    """A resolver for one name: a public address the first time it is asked, then 127.0.0.1; other
    names go to the real resolver."""

    def __init__(self, name: str, real: Callable = socket.getaddrinfo):
        self.name, self.real, self.asked = name, real, 0

    def __call__(self, host, port, *args, **kwargs):
        if host != self.name:
            return self.real(host, port, *args, **kwargs)
        self.asked += 1
        return _answer(PUBLIC if self.asked == 1 else "127.0.0.1", port)


def test_dns_rebinding_does_not_reach_a_local_server(tmp_path, server, monkeypatch):
    """The system resolver answers public for the guard's check and 127.0.0.1 for the connect."""
    server.routes["/admin"] = Route(page("Internal admin", "SECRET"))
    monkeypatch.setattr(socket, "getaddrinfo", Rebinder("rebind.test"))
    loader = Loader(make_settings(tmp_path, http_timeout=2), Fetcher(make_settings(tmp_path, http_timeout=2),
                                                                      url_guard=refuse_private_address))
    [result] = list(loader.load([f"http://rebind.test:{server.port}/admin"]))
    assert isinstance(result, LoadFailure) and "private or local address" in result.error
    assert server.seen == []


def test_an_injected_rebinding_resolver_is_held_to_the_checked_address(tmp_path, server):
    server.routes["/admin"] = Route(page("Internal admin", "SECRET"))
    guard = guards.AddressGuard(resolve=Rebinder("rebind.test"))
    fetcher = Fetcher(make_settings(tmp_path, http_timeout=2), url_guard=guard)
    with pytest.raises(PrivateAddressError, match=r"rebind.test \(127.0.0.1\)"):
        fetcher.get(f"http://rebind.test:{server.port}/admin")
    assert server.seen == []


def test_one_private_answer_among_public_ones_is_refused(tmp_path, server):
    def mixed(host, port, *args, **kwargs):
        return _answer(PUBLIC, port) + _answer("127.0.0.1", port)

    fetcher = Fetcher(make_settings(tmp_path, http_timeout=2), url_guard=guards.AddressGuard(resolve=mixed))
    with pytest.raises(PrivateAddressError):
        fetcher.get(f"http://mixed.test:{server.port}/")
    assert server.seen == []


def test_the_connection_goes_to_the_address_resolved_with_the_name_kept(tmp_path, server, monkeypatch):
    """Unguarded, a name is resolved once per connection and the request keeps its Host."""
    server.routes["/p"] = Route(page("Named", "NAMED"))
    asked = []

    def resolver(host, port, *args, **kwargs):
        asked.append(host)
        return _answer("127.0.0.1", port) if host == "news.test" else real(host, port, *args, **kwargs)

    real = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    body, _, url = Fetcher(make_settings(tmp_path)).get(f"http://news.test:{server.port}/p")
    assert b"NAMED" in body and url == f"http://news.test:{server.port}/p"
    assert server.seen == [("/p", f"news.test:{server.port}")]
    assert [h for h in asked if not h[0].isdigit()] == ["news.test"]  # the address itself needs no DNS


@pytest.mark.parametrize("address", [
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254, the cloud metadata service
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2002:c0a8:101::",  # 6to4 of 192.168.1.1
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:a9fe:a9fe",
    "::7f00:1",  # IPv4-compatible (deprecated) 127.0.0.1
    "64:ff9b:1::808:808",  # NAT64 for local use (RFC 8215)
])
def test_ipv6_forms_of_private_ipv4_are_refused(address):
    with pytest.raises(PrivateAddressError, match="private or local"):
        refuse_private_address(f"http://[{address}]/")
    guard = guards.AddressGuard(resolve=lambda host, port, *a, **k: _answer(address, port))
    with pytest.raises(PrivateAddressError, match="private or local"):
        guard("http://six.test/")


@pytest.mark.parametrize("address", ["64:ff9b::808:808", "2002:808:808::1", "::ffff:8.8.8.8", "2606:4700::1111"])
def test_ipv6_forms_of_public_addresses_pass(address):
    guards.AddressGuard(resolve=lambda host, port, *a, **k: _answer(address, port))("http://six.test/")


# --------------------------------------------------------------------------- the CLI (item 15)


@pytest.fixture
def cli(components):
    obj = {"components": lambda s: Components(s, embedder=components.embedder, tokenizer=components.tokenizer)}

    def run(*args: str):
        return CliRunner().invoke(main, [*args, "--json", "--data-dir", str(components.settings.data_dir)],
                                  obj=obj, catch_exceptions=False)

    return run


def _link_feed(server: HostileServer) -> str:
    """A feed on 127.0.0.1 whose item links to a page on 127.0.0.1 (and has enough text of its own)."""
    server.routes["/feed.rss"] = Route(rss([("Local story", f"{server.base}/local.html",
                                             f"FEED-OWN-TEXT. {WORDS * 4}")]), "application/rss+xml")
    server.routes["/local.html"] = Route(page("Local story", "LINKED-PAGE"))
    return server.base + "/feed.rss"


def test_cli_reads_a_named_private_feed_but_not_its_private_links(server, cli, components):
    done = cli("ingest", _link_feed(server))
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["added"] == 1
    assert "/feed.rss" in server.paths() and "/local.html" not in server.paths()
    [row] = components.registry.articles(with_text=True)
    assert "FEED-OWN-TEXT" in row.text


def test_cli_follows_private_links_when_allowed(server, cli, components, monkeypatch):
    monkeypatch.setenv("NEWSDESK_ALLOW_PRIVATE_LINKS", "true")
    done = cli("ingest", _link_feed(server))
    assert done.exit_code == 0, done.output
    assert "/local.html" in server.paths()
    [row] = components.registry.articles(with_text=True)
    assert "LINKED-PAGE" in row.text


def test_cli_redirects_stay_on_the_named_server(server, cli):
    """A redirect on the server named is followed; one to another private host is refused."""
    server.routes["/here"] = Route(status=301, headers={"Location": "/article.html"})
    server.routes["/article.html"] = Route(page("Breakwater plan", "SAME-ORIGIN"))
    server.routes["/away"] = Route(status=302, headers={"Location": f"http://localhost:{server.port}/secret"})
    server.routes["/secret"] = Route(page("Secret", "SECRET"))
    done = cli("ingest", server.base + "/here", server.base + "/away")
    assert done.exit_code == 1
    report = json.loads(done.stdout)
    assert report["added"] == 1
    [failed] = report["failed"]
    assert failed["input"] == server.base + "/away" and "private or local address" in failed["error"]
    assert "/secret" not in server.paths()


def test_loader_articles_are_unchanged_by_the_guard(tmp_path, server):
    """An unguarded fetcher (the library's default) still reads a local feed and its pages."""
    url = _link_feed(server)
    [art] = list(Loader(make_settings(tmp_path)).load([url]))
    assert isinstance(art, Article) and "LINKED-PAGE" in art.text
