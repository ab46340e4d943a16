"""The HTTP fetcher: size and time limits, redirects checked by the address guard."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from rag.ingest.decoding import LoadError
from rag.settings import Settings

if TYPE_CHECKING:
    import httpx


class Fetcher:
    """HTTP(S) GET with a timeout, a size cap and a clear error for each failure.

    `url_guard` (e.g. `refuse_private_address`) sees every request before it is sent: the first,
    each redirect and each feed item's link. It refuses one by raising LoadError."""

    def __init__(self, settings: Settings, url_guard: Callable[[str], None] | None = None):
        self.settings = settings
        self.url_guard = url_guard
        self._client: httpx.Client | None = None

    def _http(self) -> httpx.Client:
        if self._client is None:
            import httpx

            hooks: dict[str, list[Callable[[httpx.Request], None]]] = {}
            if self.url_guard:
                guard = self.url_guard
                hooks["request"] = [lambda request: guard(str(request.url))]
            self._client = httpx.Client(
                timeout=self.settings.http_timeout,
                follow_redirects=True,
                headers={"User-Agent": self.settings.user_agent},
                event_hooks=hooks,
            )
        return self._client

    def get(self, url: str) -> tuple[bytes, str, str]:
        """(body, content type, final URL) of `url`; raises LoadError on any failure."""
        import httpx

        limit = self.settings.http_max_bytes
        try:
            with self._http().stream("GET", url) as response:
                if response.status_code >= 400:
                    raise LoadError(f"HTTP {response.status_code} {response.reason_phrase}")
                declared = response.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > limit:
                    raise LoadError(f"response too large: {int(declared)} bytes (limit {limit})")
                body = bytearray()
                for piece in response.iter_bytes():
                    body.extend(piece)
                    if len(body) > limit:
                        raise LoadError(f"response too large: over {limit} bytes")
                ctype = response.headers.get("content-type", "").split(";")[0].strip().lower()
                return bytes(body), ctype, str(response.url)
        except httpx.TimeoutException:
            raise LoadError(f"timed out after {self.settings.http_timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise LoadError(f"unreachable: {exc.__class__.__name__}: {exc}".strip()) from None

    def close(self) -> None:
        """Close the HTTP connection pool."""
        if self._client is not None:
            self._client.close()
            self._client = None
