"""The HTTP fetcher: size and time limits, redirects checked by the address guard, and the manners
of a polite poller: a User-Agent naming Newsdesk, conditional GETs, and Retry-After honoured.

The size cap holds for the decompressed body as it streams (`rag.ingest.decompress`), the time
limit for each download in all (`rag.ingest.transport`), and a guarded fetch connects only to an
address the guard checked (no DNS rebinding)."""

from __future__ import annotations

import functools
import math
import re
import ssl
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

from rag.ingest.decoding import LoadError
from rag.ingest.decompress import ACCEPT_ENCODING, decoded
from rag.ingest.guard import AddressGuard
from rag.settings import Settings

if TYPE_CHECKING:
    import httpx

    from rag.ingest.transport import PinnedBackend

# Redirects followed for one request at most: httpx's own default.
MAX_REDIRECTS = 20

# Statuses by which a server asks a client to come back later, usually with a Retry-After.
RETRY_LATER_STATUSES = frozenset({429, 503})

_CHARSET = re.compile(r"""charset\s*=\s*["']?([\w.:-]+)""", re.I)


@functools.lru_cache(maxsize=1)
def tls_context() -> ssl.SSLContext:
    """One TLS context for every client of the process. Each httpx.Client otherwise loads the CA
    bundle again: 30-130 ms here, which made a poll of 200 mostly unchanged feeds spend most of
    its time building clients (benchmarks/feeds.py); with the context shared a client takes 0.1 ms."""
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


@dataclass(frozen=True)
class FetchResult:
    """One response: its body (empty for a 304), type, final URL and the headers a poller keeps."""

    status: int
    body: bytes
    content_type: str  # the media type, lower case, without parameters
    url: str
    charset: str | None = None  # the Content-Type's charset parameter, if it had one
    etag: str | None = None
    last_modified: str | None = None
    retry_after: float | None = None  # seconds the server asked us to wait, if it said

    @property
    def not_modified(self) -> bool:
        """Whether the server answered a conditional GET with 304: nothing changed."""
        return self.status == 304


class FetchStatusError(LoadError):
    """An HTTP error status (4xx/5xx); `retry_after` holds the seconds the server asked us to wait."""

    def __init__(self, message: str, status: int, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after

    @property
    def retry_later(self) -> bool:
        """Whether the server asked to be asked again later (429 Too Many Requests, 503)."""
        return self.status in RETRY_LATER_STATUSES


def _origin(url: httpx.URL) -> tuple[str, str, int]:
    """(scheme, host as sent on the wire, port) of a URL."""
    port = url.port or (443 if url.scheme == "https" else 80)
    return url.scheme, url.raw_host.decode("ascii"), port


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from now that a Retry-After header asks for: delay-seconds or an HTTP date; None
    when absent or unreadable, 0 for a date already past."""
    if not value or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class Fetcher:
    """HTTP(S) GET with a timeout, a size cap and a clear error for each failure.

    `url_guard` (e.g. `refuse_private_address`) sees every request before it is sent: the first,
    each redirect and each feed item's link. It refuses one by raising LoadError. When it is an
    `AddressGuard` the connection also goes to an address it checked (no DNS rebinding).

    `trusted_urls` are URLs a user named, which may be private whatever the guard (a local feed
    server): the guard passes them, and their redirects on the same scheme, host and port; the
    links and other redirects found in what they serve are guarded.

    Each request, its redirects and body together, ends by NEWSDESK_HTTP_DEADLINE. `deadline` (a
    `time.monotonic()` value) bounds all the requests of this fetcher together: a request is
    refused once it has passed, and one under way is cut off at it (a server dripping a byte a
    second never times out a read). `out_of_time` tells a caller that a request failed for it."""

    def __init__(self, settings: Settings, url_guard: Callable[[str], None] | None = None,
                 deadline: float | None = None, trusted_urls: Iterable[str] = ()):
        self.settings = settings
        self.url_guard = url_guard
        self.deadline = deadline
        self.trusted_urls = frozenset(trusted_urls)
        self.out_of_time = False
        self._client: httpx.Client | None = None
        self._backend: PinnedBackend | None = None
        self._trusted_origin: tuple[str, str, int] | None = None  # of the named URL being fetched
        self._request_deadline = 0.0

    def _http(self) -> tuple[httpx.Client, PinnedBackend]:
        if self._client is None or self._backend is None:
            import httpx

            from rag.ingest.transport import PinnedBackend, pinned_transport

            guard = self.url_guard if isinstance(self.url_guard, AddressGuard) else None
            self._backend = PinnedBackend(guard)
            self._client = httpx.Client(
                transport=pinned_transport(tls_context(), self._backend),
                timeout=self.settings.http_timeout,
                follow_redirects=False,  # followed by `_send`, so a redirect's body is never read
                headers={"User-Agent": self.settings.user_agent, "Accept-Encoding": ACCEPT_ENCODING},
            )
        return self._client, self._backend

    def get(self, url: str) -> tuple[bytes, str, str]:
        """(body, content type, final URL) of `url`; raises LoadError on any failure."""
        result = self.fetch(url)
        return result.body, result.content_type, result.url

    def fetch(self, url: str, etag: str | None = None, last_modified: str | None = None) -> FetchResult:
        """GET `url`, conditionally when given the validators of an earlier response (a 304 comes
        back as a result with an empty body); FetchStatusError for an error status, LoadError for
        any other failure."""
        import httpx

        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        client, backend = self._http()
        timeout = self._timeout()
        self._request_deadline = time.monotonic() + self.settings.http_deadline
        backend.deadline = min(self._request_deadline, self.deadline or math.inf)
        self._trusted_origin = _origin(httpx.URL(url)) if url in self.trusted_urls else None
        backend.trusted = self._trusted_origin[1:] if self._trusted_origin else None
        try:
            return self._send(client, client.build_request("GET", url, headers=headers, timeout=timeout))
        except httpx.TimeoutException:
            raise self._timed_out() from None
        except httpx.TooManyRedirects:
            raise LoadError(f"too many redirects (more than {MAX_REDIRECTS})") from None
        except httpx.HTTPError as exc:
            raise LoadError(f"unreachable: {exc.__class__.__name__}: {exc}".strip()) from None
        finally:
            self._trusted_origin, backend.trusted = None, None

    def _send(self, client: httpx.Client, request: httpx.Request) -> FetchResult:
        """The result of `request`, its redirects followed (each checked by the guard first)."""
        import httpx

        for _ in range(MAX_REDIRECTS + 1):
            self._check(request.url)
            response = client.send(request, stream=True)
            try:
                if response.next_request is None:
                    return self._read(response)
                request = response.next_request
            finally:
                response.close()
        raise httpx.TooManyRedirects("too many redirects", request=request)

    def _check(self, url: httpx.URL) -> None:
        """The guard's word on a request: the URL a user named, and its redirects on the same
        origin, may be private; any other URL is checked."""
        if self._trusted_origin is not None and _origin(url) == self._trusted_origin:
            return
        if self.url_guard:
            self.url_guard(str(url))

    def _timeout(self) -> float:
        """Seconds the next request may take: the timeout, or less when the deadline is nearer."""
        if self.deadline is None:
            return self.settings.http_timeout
        left = self.deadline - time.monotonic()
        if left <= 0:
            self.out_of_time = True
            raise LoadError("out of time: the time budget ran out before this request")
        return min(self.settings.http_timeout, left)

    def _timed_out(self) -> LoadError:
        now = time.monotonic()
        if self.deadline is not None and now >= self.deadline - 0.05:
            self.out_of_time = True
            return LoadError("out of time: the time budget ran out during this request")
        if now >= self._request_deadline - 0.05:
            return LoadError(f"took too long: over {self.settings.http_deadline:g} s in all "
                             "(NEWSDESK_HTTP_DEADLINE)")
        return LoadError(f"timed out after {self.settings.http_timeout:g} s")

    def _read(self, response: httpx.Response) -> FetchResult:
        """The result of a response whose headers have arrived, its body read under the caps."""
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        if response.status_code >= 400:
            raise FetchStatusError(f"HTTP {response.status_code} {response.reason_phrase}",
                                   response.status_code, retry_after)
        body = b"" if response.status_code == 304 else self._body(response)
        media, _, params = response.headers.get("content-type", "").partition(";")
        charset = _CHARSET.search(params)
        return FetchResult(response.status_code, body, media.strip().lower(), str(response.url),
                           charset.group(1) if charset else None, response.headers.get("etag"),
                           response.headers.get("last-modified"), retry_after)

    def _body(self, response: httpx.Response) -> bytes:
        """The body, decoded as it streams: at most NEWSDESK_HTTP_MAX_BYTES bytes on the wire
        and at most that many once decompressed (a small gzip or zstd bomb is refused early)."""
        limit = self.settings.http_max_bytes
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise LoadError(f"response too large: {int(declared)} bytes (limit {limit})")
        received = 0

        def raw() -> Iterator[bytes]:
            nonlocal received
            for chunk in response.iter_raw():
                received += len(chunk)
                if received > limit:
                    raise LoadError(f"response too large: over {limit} bytes")
                yield chunk

        body = bytearray()
        for piece in decoded(raw(), response.headers.get("content-encoding")):
            body.extend(piece)
            if len(body) > limit:
                raise LoadError(f"response too large: over {limit} bytes once decompressed "
                                f"({received} bytes received)")
            if self.deadline is not None and time.monotonic() > self.deadline:
                self.out_of_time = True
                raise LoadError("out of time: the time budget ran out while reading the response")
        return bytes(body)

    def close(self) -> None:
        """Close the HTTP connection pool."""
        if self._client is not None:
            self._client.close()
            self._client = None
            self._backend = None
