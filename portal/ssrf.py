"""The SSRF guard: the only way the portal connects to a URL that a user wrote (introspecting a deployment).

A user who may publish a service chooses the URL the portal fetches its schema from, so the portal must not become
their proxy into the cloud's metadata service or the platform's private network. The guard resolves the host
itself, checks every address, and connects to the checked address (so a DNS answer that changes between check and
connect cannot smuggle in another one). Redirects are followed by hand, each hop checked again.

Always refused: link-local (169.254.0.0/16, fe80::/10), cloud metadata (169.254.169.254, fd00:ec2::254,
metadata.google.internal), unspecified, multicast and reserved addresses. Refused unless the cluster allows them:
loopback (``allow_loopback``: the local demo clusters) and private ranges (``allowed_hosts``: CIDR networks or
host names).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

import httpx
from graphql import build_client_schema, get_introspection_query, print_schema

from portal.errors import Invalid

__all__ = [
    "EgressPolicy",
    "RefusedTarget",
    "check_address",
    "check_url",
    "introspect",
    "resolve",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata.goog", "metadata", "instance-data"})
_METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "169.254.170.2", "100.100.100.200")
)
_LINK_LOCAL = (ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fe80::/10"))
# Private ranges beyond what ``is_private`` covers for our purpose (carrier-grade NAT).
_SHARED = (ipaddress.ip_network("100.64.0.0/10"),)
_MAX_REDIRECTS = 3
_DEFAULT_MAX_BYTES = 2 * 1024 * 1024


class RefusedTarget(Invalid):
    """The guard refused a URL: the message names the host, the address and why."""


@dataclass(frozen=True, slots=True)
class EgressPolicy:
    """What a cluster allows beyond public addresses. Build it from a Cluster row with :meth:`for_cluster`."""

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
        """From an object with ``allow_loopback`` and ``allowed_hosts`` (a :class:`portal.models.Cluster`)."""
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
    """Raise :class:`RefusedTarget` unless ``policy`` lets the portal connect to ``address`` (resolved from ``host``).

    Pure: no I/O, so every decision can be tested with any address.
    """
    ip = _unwrap(address)
    shown = f"{host} ({ip})" if host != str(ip) else str(ip)
    if ip in _METADATA_ADDRESSES:
        raise RefusedTarget(f"{shown} is a cloud metadata address; the portal never connects there")
    if any(ip in net for net in _LINK_LOCAL):
        raise RefusedTarget(f"{shown} is link-local; the portal never connects there")
    if ip.is_unspecified or ip.is_multicast:
        raise RefusedTarget(f"{shown} is not a unicast address")
    if any(ip in net for net in policy.allowed_networks if net.version == ip.version):
        return
    if ip.is_loopback:
        if policy.allow_loopback:
            return
        raise RefusedTarget(
            f"{shown} is a loopback address; allowed only when the cluster sets spec.introspection.allowLoopback"
        )
    if host.lower().rstrip(".") in policy.allowed_host_names:
        return
    if ip.is_private or ip.is_reserved or any(ip in net for net in _SHARED if net.version == ip.version):
        raise RefusedTarget(
            f"{shown} is a private or reserved address; list its network in the cluster's "
            "spec.introspection.allowedHosts to allow it"
        )


def check_url(url: str) -> tuple[str, str, int]:
    """Validate the shape of ``url``: ``(scheme, host, port)``. Refuses non-HTTP schemes, credentials and metadata
    host names before anything is resolved."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise RefusedTarget(f"{url!r} is not a valid URL: {exc}") from exc
    if parts.scheme not in {"http", "https"}:
        raise RefusedTarget(f"{url!r}: only http and https URLs can be introspected")
    if parts.username or parts.password:
        raise RefusedTarget(f"{url!r}: credentials in the URL are not allowed")
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        raise RefusedTarget(f"{url!r} has no host")
    if host in _METADATA_HOSTS:
        raise RefusedTarget(f"{host} is a cloud metadata host; the portal never connects there")
    return parts.scheme, host, port or (443 if parts.scheme == "https" else 80)


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (an IP literal resolves to itself)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise RefusedTarget(f"cannot resolve {host}: {exc.strerror}") from exc
    addresses: list[IPAddress] = []
    for info in infos:
        sockaddr = info[4]
        candidate = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if candidate not in addresses:
            addresses.append(candidate)
    if not addresses:
        raise RefusedTarget(f"{host} resolves to no address")
    return addresses


async def _guarded_target(url: str, policy: EgressPolicy) -> tuple[str, dict[str, str], dict[str, Any]]:
    """Check ``url`` and return the URL to connect to (host replaced by the checked address), headers and
    request extensions (TLS server name), so the connection goes exactly where the check looked."""
    scheme, host, port = check_url(url)
    addresses = await resolve(host, port)
    for address in addresses:  # every answer must pass: the resolver may hand any of them to the connection
        check_address(host, address, policy)
    address = addresses[0]
    parts = urlsplit(url)
    literal = f"[{address}]" if address.version == 6 else str(address)
    netloc = f"{literal}:{parts.port}" if parts.port else literal
    pinned = parts._replace(netloc=netloc).geturl()
    host_header = parts.netloc.rsplit("@", 1)[-1]
    extensions: dict[str, Any] = {"sni_hostname": host} if scheme == "https" else {}
    return pinned, {"host": host_header}, extensions


async def _fetch(
    client: httpx.AsyncClient,
    method: Literal["GET", "POST"],
    url: str,
    *,
    policy: EgressPolicy,
    body: Any = None,
    max_bytes: int,
) -> str:
    current = url
    for _ in range(_MAX_REDIRECTS + 1):
        pinned, headers, extensions = await _guarded_target(current, policy)
        request = client.build_request(
            method,
            pinned,
            headers={**headers, "accept": "application/json, application/yaml, text/plain, */*"},
            json=body,
            extensions=extensions,
        )
        try:
            response = await client.send(request, stream=True, follow_redirects=False)
        except httpx.HTTPError as exc:
            raise Invalid(f"cannot fetch {current}: {type(exc).__name__}: {exc}") from exc
        try:
            if response.is_redirect and "location" in response.headers:
                current = urljoin(current, response.headers["location"])
                continue
            if response.status_code >= 400:
                raise Invalid(f"{current} answered HTTP {response.status_code}")
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise Invalid(f"{current} sent more than {max_bytes} bytes; the schema is too large")
                chunks.append(chunk)
            return b"".join(chunks).decode(response.encoding or "utf-8", errors="replace")
        finally:
            await response.aclose()
    raise RefusedTarget(f"{url} redirected more than {_MAX_REDIRECTS} times")


def _graphql_data(text: str, url: str) -> dict[str, Any]:
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        raise Invalid(f"{url} did not answer with JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise Invalid(f"{url} did not answer with a GraphQL response object")
    if payload.get("errors") and not payload.get("data"):
        first = payload["errors"][0]
        message = first.get("message") if isinstance(first, dict) else first
        raise Invalid(f"{url} answered the introspection query with an error: {message}")
    data = payload.get("data")
    if not isinstance(data, dict):
        raise Invalid(f"{url} answered without data")
    return data


async def introspect(
    url: str,
    *,
    client: httpx.AsyncClient,
    policy: EgressPolicy,
    protocol: Literal["federation", "graphql", "openapi"] = "graphql",
    max_bytes: int = _DEFAULT_MAX_BYTES,
) -> str:
    """Fetch a service's schema text from ``url`` through the guard.

    ``openapi``: GET the document (JSON or YAML) as it is. ``federation``: POST ``{ _service { sdl } }`` and return
    the subgraph SDL. ``graphql``: POST the standard introspection query and return the schema printed as SDL.
    Raises :class:`RefusedTarget` for a forbidden target and :class:`Invalid` for a bad answer.
    """
    if protocol == "openapi":
        return await _fetch(client, "GET", url, policy=policy, max_bytes=max_bytes)
    if protocol == "federation":
        text = await _fetch(
            client, "POST", url, policy=policy, body={"query": "{ _service { sdl } }"}, max_bytes=max_bytes
        )
        service = _graphql_data(text, url).get("_service")
        sdl = service.get("sdl") if isinstance(service, dict) else None
        if not isinstance(sdl, str):
            raise Invalid(f"{url} is not a Federation subgraph: it has no _service {{ sdl }}")
        return sdl
    query = get_introspection_query(descriptions=True)
    text = await _fetch(client, "POST", url, policy=policy, body={"query": query}, max_bytes=max_bytes)
    data = _graphql_data(text, url)
    try:
        schema = build_client_schema(data)  # type: ignore[arg-type]
    except (TypeError, ValueError, KeyError) as exc:
        raise Invalid(f"{url} answered with an unusable introspection result: {exc}") from exc
    return print_schema(schema)
