"""The address guard: fetches from untrusted requests reach public addresses only.

A name is resolved once, every address it resolves to is checked, and the connection is made to
an address that was checked (`AddressGuard.addresses`, used by the fetcher's network backend): a
name that resolves to a public address for the check and to 127.0.0.1 moments later (DNS
rebinding) cannot send the request anywhere but where the check allowed."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlparse

from rag.ingest.decoding import LoadError

# socket.getaddrinfo's signature, and what it returns: (family, type, proto, canonname, sockaddr).
Resolve = Callable[..., Sequence[tuple[Any, ...]]]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# IPv6 prefixes that carry an IPv4 address, which a gateway or the host's own stack may reach:
# NAT64's well-known prefix (RFC 6052 §2.1; the IPv4 address is the last 32 bits) and the
# IPv4-compatible addresses (RFC 4291 §2.5.5.1, deprecated but still routed by some stacks).
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
# NAT64 for local use (RFC 8215): its IPv4 addresses are a site's own, never public.
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")


class PrivateAddressError(LoadError):
    """A URL refused because its host is not a public internet address."""


def embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for: IPv4-mapped (::ffff:a.b.c.d), NAT64
    (64:ff9b::a.b.c.d), 6to4 (2002:AABB:CCDD::) or IPv4-compatible (::a.b.c.d); None otherwise."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64 or (ip in _IPV4_COMPATIBLE and int(ip) > 1):  # :: and ::1 are not IPv4
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public(ip: IPAddress) -> bool:
    """Whether an address is a public internet address, the IPv4 address inside an IPv6 one included."""
    if not ip.is_global or ip in _NAT64_LOCAL:
        return False
    inner = embedded_ipv4(ip)
    return inner is None or inner.is_global


class AddressGuard:
    """Refuses URLs and connections whose host is a loopback, private, link-local or otherwise
    non-public address: a front end open to strangers (the Discord bot) must not make its host
    fetch its own internal services (cloud metadata, local admin pages) and read them back.

    Calling it with a URL checks the URL (a clear error before any request). `addresses` resolves
    a host once and checks every address it gets; the fetcher connects only to those. `resolve`
    (default `socket.getaddrinfo`, looked up at each call) is injectable for tests."""

    def __init__(self, resolve: Resolve | None = None):
        self.resolve = resolve

    def __call__(self, url: str) -> None:
        """Raise PrivateAddressError when the URL's host is not public (or gives no address)."""
        host = urlparse(url).hostname
        if not host:
            raise PrivateAddressError("give an http(s) URL with a host name")
        self.addresses(host, None)

    def addresses(self, host: str, port: int | None) -> list[str]:
        """Every address `host` resolves to, once, in the resolver's order; PrivateAddressError
        when any is not public (one private answer among public ones is refused too)."""
        found = resolve_host(host, port, self.resolve or socket.getaddrinfo)
        for address in found:
            if not is_public(ipaddress.ip_address(address)):
                shown = host if host == address else f"{host} ({address})"
                raise PrivateAddressError(f"{shown} is a private or local address; only public sites are fetched")
        return found


def resolve_host(host: str, port: int | None, resolve: Resolve) -> list[str]:
    """The distinct addresses a host resolves to (an IP literal is itself), without zone ids;
    PrivateAddressError when it resolves to none."""
    literal = host.strip("[]")
    try:
        return [str(ipaddress.ip_address(literal))]
    except ValueError:
        pass
    try:
        infos = resolve(host, port, 0, socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise PrivateAddressError(f"cannot resolve {host}") from None
    found: list[str] = []
    for info in infos:
        address = str(info[4][0]).split("%")[0]  # "fe80::1%eth0": no zone
        if address not in found:
            found.append(address)
    if not found:
        raise PrivateAddressError(f"cannot resolve {host}")
    return found


# The guard front ends use: public addresses only, resolved by the system's resolver.
refuse_private_address = AddressGuard()
