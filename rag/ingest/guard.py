"""The address guard: fetches from untrusted requests reach public addresses only."""

from __future__ import annotations

from urllib.parse import urlparse

from rag.ingest.decoding import LoadError


class PrivateAddressError(LoadError):
    """A URL refused because its host is not a public internet address."""


def refuse_private_address(url: str) -> None:
    """Raise PrivateAddressError when a URL's host resolves to a loopback, private, link-local or
    other non-public address: a front end open to strangers (the Discord bot) must not make its
    host fetch its own internal services (cloud metadata, local admin pages) and read them back.

    The check resolves the name itself, so a name that resolves differently moments later (DNS
    rebinding) is not caught; it guards against plain internal URLs and redirects to them."""
    import ipaddress
    import socket

    host = urlparse(url).hostname
    if not host:
        raise PrivateAddressError("give an http(s) URL with a host name")
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        raise PrivateAddressError(f"cannot resolve {host}") from None
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%")[0])  # "fe80::1%eth0": no zone
        if not ip.is_global:
            raise PrivateAddressError(f"{host} is a private or local address; only public sites are fetched")
