"""The HTTP fetcher: size and time limits, redirects checked by the address guard, and the manners
of a polite poller: a User-Agent naming Newsdesk, conditional GETs, and Retry-After honoured."""

from __future__ import annotations

import functools
import re
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

from rag.ingest.decoding import LoadError
from rag.settings import Settings

if TYPE_CHECKING:
    import httpx

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
    each redirect and each feed item's link. It refuses one by raising LoadError.

    `deadline` (a `time.monotonic()` value) bounds all the requests of this fetcher together, not
    each read: a request is refused once it has passed, and one under way is cut off at it (a
    server dripping a byte a second never times out a read). `out_of_time` tells a caller that a
    request failed for the deadline."""

    def __init__(self, settings: Settings, url_guard: Callable[[str], None] | None = None,
                 deadline: float | None = None):
        self.settings = settings
        self.url_guard = url_guard
        self.deadline = deadline
        self.out_of_time = False
        self._client: httpx.Client | None = None

    def _http(self) -> httpx.Client:
        if self._client is None:
            import httpx

            hooks: dict[str, list[Callable[[httpx.Request], None]]] = {}
            if self.url_guard:
                guard = self.url_guard
                hooks["request"] = [lambda request: guard(str(request.url))]
            self._client = httpx.Client(
                verify=tls_context(),
                timeout=self.settings.http_timeout,
                follow_redirects=True,
                headers={"User-Agent": self.settings.user_agent},
                event_hooks=hooks,
            )
        return self._client

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
        try:
            with self._http().stream("GET", url, headers=headers, timeout=self._timeout()) as response:
                return self._read(response)
        except httpx.TimeoutException:
            raise self._timed_out() from None
        except httpx.HTTPError as exc:
            raise LoadError(f"unreachable: {exc.__class__.__name__}: {exc}".strip()) from None

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
        if self.deadline is not None and time.monotonic() >= self.deadline - 0.05:
            self.out_of_time = True
            return LoadError("out of time: the time budget ran out during this request")
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
        limit = self.settings.http_max_bytes
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise LoadError(f"response too large: {int(declared)} bytes (limit {limit})")
        body = bytearray()
        for piece in response.iter_bytes():
            body.extend(piece)
            if len(body) > limit:
                raise LoadError(f"response too large: over {limit} bytes")
            if self.deadline is not None and time.monotonic() > self.deadline:
                self.out_of_time = True
                raise LoadError("out of time: the time budget ran out while reading the response")
        return bytes(body)

    def close(self) -> None:
        """Close the HTTP connection pool."""
        if self._client is not None:
            self._client.close()
            self._client = None
