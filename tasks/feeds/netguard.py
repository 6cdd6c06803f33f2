"""Where the fetcher may go: http(s) only; never link-local or metadata; private only if allowed.

Checked by resolving the host (so `http://2852039166/` or a DNS name pointing at 169.254.169.254 is
caught too), before every request and every redirect hop; `check_peer` checks the address a
connection actually reached, which closes most of the gap a DNS answer that changes can open.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

ALLOW_PRIVATE_ENV = "NEWSFLOW_ALLOW_PRIVATE_HOSTS"
SCHEMES = frozenset({"http", "https"})

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]

# Instance-metadata endpoints of the big clouds; some sit outside link-local ranges.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean, ...
        "169.254.170.2",  # AWS ECS task metadata
        "fd00:ec2::254",  # AWS IPv6
        "100.100.100.200",  # Alibaba Cloud
        "168.63.129.16",  # Azure wire server
        "192.0.0.192",  # Oracle Cloud (legacy)
    )
)
NAT64 = ipaddress.ip_network("64:ff9b::/96")
METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata", "instance-data"})


class UnsafeURL(ValueError):
    """A URL the fetcher refuses to request, with the reason in the message."""


def private_allowed() -> bool:
    """True when loopback and private destinations are allowed (tests, local setups)."""
    return os.environ.get(ALLOW_PRIVATE_ENV, "").strip().lower() in {"1", "true", "yes"}


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for `host`."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def address_problem(address: IPAddress, *, allow_private: bool) -> str | None:
    """What makes a destination address refused ('link-local', …), or None when it is fine."""
    if isinstance(address, ipaddress.IPv6Address):
        # ::ffff:a.b.c.d, 2002:… (6to4) and 64:ff9b::/96 (NAT64) carry an IPv4 address inside.
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return address_problem(embedded, allow_private=allow_private)
        address = ipaddress.IPv6Address(int(address))  # drop a zone id
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if address.is_link_local:
        return "link-local"
    reserved = address.is_reserved and not address.is_loopback  # ::1 sits inside ::/8
    if address.is_multicast or address.is_unspecified or reserved:
        return "not a unicast destination"
    if address.is_loopback or address.is_private or not address.is_global:
        if allow_private:
            return None
        return f"loopback or private (set {ALLOW_PRIVATE_ENV}=1 to allow)"
    return None


def check_url(
    url: str, *, allow_private: bool | None = None, resolver: Resolver | None = None
) -> None:
    """Raise UnsafeURL unless `url` is http(s) and every address its host resolves to is allowed."""
    allow = private_allowed() if allow_private is None else allow_private
    resolver = resolver or system_resolver  # looked up per call, so tests can swap it
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise UnsafeURL(f"{url!r} is not a valid URL: {error}") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise UnsafeURL(f"{url!r}: scheme {scheme or '(none)'!r} is not allowed (http, https only)")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise UnsafeURL(f"{url!r} has no host")
    if host in METADATA_HOSTS:
        raise UnsafeURL(f"{url!r}: {host} is a cloud metadata host")
    port = port or (443 if scheme == "https" else 80)
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [host]
    else:
        try:
            addresses = list(resolver(host, port))
        except (OSError, UnicodeError) as error:
            raise UnsafeURL(f"{url!r}: cannot resolve {host}: {error}") from None
        if not addresses:
            raise UnsafeURL(f"{url!r}: {host} resolves to no address")
    for text in addresses:
        problem = address_problem(ipaddress.ip_address(text.split("%")[0]), allow_private=allow)
        if problem:
            raise UnsafeURL(f"{url!r} refused: {host} is {text}, {problem}")


def check_peer(address: str, *, url: str, allow_private: bool | None = None) -> None:
    """Raise UnsafeURL when the address a connection reached is not allowed."""
    allow = private_allowed() if allow_private is None else allow_private
    problem = address_problem(ipaddress.ip_address(address.split("%")[0]), allow_private=allow)
    if problem:
        raise UnsafeURL(f"{url!r} refused: the connection reached {address}, {problem}")
