"""The egress policy: where a Loom process may connect when a user chose the address.

A team admin chooses a deployment's address, and both planes connect there for them: the portal to introspect the
schema, the gateway to serve consumers (GraphQL fetches and the REST pass-through). Without a policy either would be a
proxy into the cloud's metadata service or the platform's private network. One policy per cluster, owned by platform
admins (``spec.introspection.allowedHosts`` and ``allowLoopback``), travels in the gateway snapshot with each source.

Always refused: link-local (169.254.0.0/16, fe80::/10), cloud metadata (169.254.169.254, fd00:ec2::254,
metadata.google.internal), unspecified, multicast and reserved addresses. Refused unless the policy allows them:
loopback (``allow_loopback``: the local demo clusters) and private ranges (``allowed_hosts``: CIDR networks or host
names).

A check is only as good as the connection that follows it: callers resolve with :func:`resolve`, check every
address with :func:`check_address` and connect to a checked address (never to the name again: DNS can change between
check and connect). :func:`checked_address` does all three steps' checking part for one URL.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from stitcher.errors import StitcherError

__all__ = [
    "AsyncResolver",
    "EgressPolicy",
    "EgressRefused",
    "IPAddress",
    "Resolver",
    "check_address",
    "check_url",
    "checked_address",
    "resolve",
    "split_url",
    "system_resolver",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[IPAddress] | None]
"""A blocking resolver: host name and port -> its addresses, or None when the name does not resolve."""

_METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata.goog", "metadata", "instance-data"})
_METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "169.254.170.2", "100.100.100.200")
)
_LINK_LOCAL = (ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fe80::/10"))
# Private ranges beyond what ``is_private`` covers for our purpose (carrier-grade NAT).
_SHARED = (ipaddress.ip_network("100.64.0.0/10"),)


class EgressRefused(StitcherError):
    """The egress policy refused a URL or an address: the message names the host, the address and why.

    The message is for operators and for the admin who applied the address; the gateway logs it and tells consumers
    only which service could not be reached.
    """


@dataclass(frozen=True, slots=True)
class EgressPolicy:
    """What a cluster allows beyond public addresses. ``EgressPolicy()`` is the strict policy."""

    allow_loopback: bool = False
    allowed_networks: tuple[IPNetwork, ...] = ()
    allowed_host_names: frozenset[str] = frozenset()

    @classmethod
    def from_hosts(cls, *, allow_loopback: bool, allowed_hosts: Iterable[str] = ()) -> EgressPolicy:
        """``allowed_hosts`` holds CIDR networks (``10.20.0.0/16``), addresses or host names."""
        networks: list[IPNetwork] = []
        names: set[str] = set()
        for item in allowed_hosts:
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                names.add(item.lower().rstrip("."))
        return cls(allow_loopback=allow_loopback, allowed_networks=tuple(networks), allowed_host_names=frozenset(names))

    @classmethod
    def for_cluster(cls, cluster: Any) -> EgressPolicy:
        """From an object with ``allow_loopback`` and ``allowed_hosts`` (the portal's Cluster row)."""
        return cls.from_hosts(allow_loopback=bool(cluster.allow_loopback), allowed_hosts=cluster.allowed_hosts or ())


def _unwrap(address: IPAddress) -> IPAddress:
    # ::ffff:127.0.0.1 and 2002::/16 wrappers carry an IPv4 address that the kernel connects to.
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
    return address


def check_address(host: str, address: IPAddress, policy: EgressPolicy) -> None:
    """Raise :class:`EgressRefused` unless ``policy`` allows connecting to ``address`` (resolved from ``host``).

    Pure: no I/O, so every decision can be tested with any address.
    """
    ip = _unwrap(address)
    shown = f"{host} ({ip})" if host != str(ip) else str(ip)
    if ip in _METADATA_ADDRESSES:
        raise EgressRefused(f"{shown} is a cloud metadata address; Loom never connects there")
    if any(ip in net for net in _LINK_LOCAL):
        raise EgressRefused(f"{shown} is link-local; Loom never connects there")
    if ip.is_unspecified or ip.is_multicast:
        raise EgressRefused(f"{shown} is not a unicast address")
    if any(ip in net for net in policy.allowed_networks if net.version == ip.version):
        return
    if ip.is_loopback:
        if policy.allow_loopback:
            return
        raise EgressRefused(
            f"{shown} is a loopback address; allowed only when the cluster sets spec.introspection.allowLoopback"
        )
    if host.lower().rstrip(".") in policy.allowed_host_names:
        return
    if ip.is_private or ip.is_reserved or any(ip in net for net in _SHARED if net.version == ip.version):
        raise EgressRefused(
            f"{shown} is a private or reserved address; list its network in the cluster's "
            "spec.introspection.allowedHosts to allow it"
        )


def split_url(url: str) -> tuple[str, str, int]:
    """Validate the shape of ``url``: ``(scheme, host, port)``. Refuses non-HTTP schemes, credentials and metadata
    host names before anything is resolved."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise EgressRefused(f"{url!r} is not a valid URL: {exc}") from exc
    if parts.scheme not in {"http", "https"}:
        raise EgressRefused(f"{url!r}: only http and https URLs are allowed")
    if parts.username or parts.password:
        raise EgressRefused(f"{url!r}: credentials in the URL are not allowed")
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        raise EgressRefused(f"{url!r} has no host")
    if host in _METADATA_HOSTS:
        raise EgressRefused(f"{host} is a cloud metadata host; Loom never connects there")
    return parts.scheme, host, port or (443 if parts.scheme == "https" else 80)


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _unique(infos: Iterable[Any]) -> list[IPAddress]:
    addresses: list[IPAddress] = []
    for info in infos:
        candidate = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if candidate not in addresses:
            addresses.append(candidate)
    return addresses


def system_resolver(host: str, port: int) -> list[IPAddress] | None:
    """The operating system's resolver (blocking: call it from a worker thread)."""
    try:
        return _unique(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)) or None
    except (socket.gaierror, UnicodeError):
        return None


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (an IP literal resolves to itself); :class:`EgressRefused` if none."""
    literal = _literal(host)
    if literal is not None:
        return [literal]
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise EgressRefused(f"cannot resolve {host}: {getattr(exc, 'strerror', None) or exc}") from exc
    addresses = _unique(infos)
    if not addresses:
        raise EgressRefused(f"{host} resolves to no address")
    return addresses


def check_url(url: str, policy: EgressPolicy, *, resolver: Resolver | None = system_resolver) -> None:
    """Raise :class:`EgressRefused` when ``policy`` forbids connecting to ``url`` (the apply-time check).

    An IP literal is checked as it is; a host name on every address ``resolver`` gives. A name that does not resolve
    here (or ``resolver=None``) passes: the gateway checks again on every connection, where it matters.
    Blocking when it resolves: call it from a worker thread.
    """
    _scheme, host, port = split_url(url)
    literal = _literal(host)
    addresses = [literal] if literal is not None else (resolver(host, port) if resolver is not None else None)
    for address in addresses or ():
        check_address(host, address, policy)


AsyncResolver = Callable[[str, int], Awaitable[list[IPAddress]]]
"""An async resolver: host name and port -> its addresses (:func:`resolve` is the system's)."""


async def checked_address(
    host: str, port: int, policy: EgressPolicy, *, resolver: AsyncResolver | None = None
) -> IPAddress:
    """Resolve ``host``, check every address it resolves to (the resolver may hand any of them to a connection) and
    return the one to connect to. Connect to exactly that address, not to ``host`` again."""
    addresses = await (resolver or resolve)(host, port)
    for address in addresses:
        check_address(host, address, policy)
    return addresses[0]
