"""The fetcher's connections: to the addresses the address guard checked, and within a deadline.

httpx resolves a host itself when it connects, after the guard resolved it for its check, so a
name answering a public address first and 127.0.0.1 next (DNS rebinding) got through (issue #18).
`PinnedBackend` is httpcore's network backend with one change to how it connects: the host is
resolved once, by the guard when there is one (which checks every address), and the socket is
opened to one of those addresses. TLS still verifies, and sends as SNI, the name of the URL:
httpcore passes the origin's host to `start_tls`, not the address.

Every read, write and connect also waits at most until the backend's `deadline`, so a server
dripping a byte a second cannot hold a fetch past it (the timeout of httpx applies to each read).
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

from rag.ingest.guard import AddressGuard, PrivateAddressError, resolve_host

# httpx.HTTPTransport's own pool limits, kept.
_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0)


class PinnedBackend(httpcore.NetworkBackend):
    """Connects to addresses resolved once and checked by `guard` (None: resolved, not checked),
    and bounds every wait by `deadline` (a `time.monotonic()` value; None: no deadline).
    `trusted` is a (host, port) that may be private (the server a user named), or None."""

    def __init__(self, guard: AddressGuard | None = None):
        self.guard = guard
        self.deadline: float | None = None
        self.trusted: tuple[str, int] | None = None
        self._tcp = httpcore.SyncBackend()

    def bounded(self, timeout: float | None, error: type[Exception]) -> float | None:
        """`timeout`, or the time left before the deadline when that is shorter; `error` when none is left."""
        if self.deadline is None:
            return timeout
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise error("the deadline passed")
        return left if timeout is None else min(timeout, left)

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        """A connection to one of the addresses `host` resolved to, each tried in turn."""
        if self.guard is not None and (host, port) != self.trusted:
            addresses = self.guard.addresses(host, port)  # PrivateAddressError reaches the fetcher
        else:
            try:
                addresses = resolve_host(host, port, socket.getaddrinfo)
            except PrivateAddressError as exc:
                raise httpcore.ConnectError(str(exc)) from None
        problem: Exception | None = None
        for address in addresses:  # an IP literal: httpcore's own backend connects without DNS
            try:
                stream = self._tcp.connect_tcp(address, port, self.bounded(timeout, httpcore.ConnectTimeout),
                                               local_address, socket_options)
            except httpcore.ConnectError as exc:
                problem = exc
                continue
            return _DeadlineStream(stream, self)
        raise httpcore.ConnectError(f"cannot connect to {host}: {problem}")

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        """Not used: the fetcher reaches hosts by TCP only."""
        raise httpcore.ConnectError("the fetcher connects by TCP only")

    def sleep(self, seconds: float) -> None:
        """Sleep (httpcore's retries; the fetcher asks for none)."""
        time.sleep(seconds)


class _DeadlineStream(httpcore.NetworkStream):
    """A network stream whose waits end at the backend's deadline."""

    def __init__(self, stream: httpcore.NetworkStream, backend: PinnedBackend):
        self._stream, self._backend = stream, backend

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, self._backend.bounded(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, self._backend.bounded(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        wait = self._backend.bounded(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, wait), self._backend)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


def pinned_transport(ssl_context: ssl.SSLContext, backend: PinnedBackend) -> httpx.HTTPTransport:
    """httpx's transport over a connection pool that connects through `backend`. httpx takes no
    network backend, so its pool is replaced (tests/test_hostile_fetch.py checks that requests
    go through the backend, so an httpx that changed this fails there). No proxy is used: one
    would connect to the host itself, past the addresses checked."""
    transport = httpx.HTTPTransport(verify=ssl_context, trust_env=False)
    transport._pool = httpcore.ConnectionPool(
        ssl_context=ssl_context, max_connections=_LIMITS.max_connections,
        max_keepalive_connections=_LIMITS.max_keepalive_connections,
        keepalive_expiry=_LIMITS.keepalive_expiry, network_backend=backend,
    )
    return transport
