"""The SSRF guard: the only way the portal connects to a URL that a user wrote (introspecting a deployment).

A user who may publish a service chooses the URL the portal fetches its schema from, so the portal must not become
their proxy into the cloud's metadata service or the platform's private network. The guard resolves the host
itself, checks every address, and connects to the checked address (so a DNS answer that changes between check and
connect cannot smuggle in another one). Redirects are followed by hand, each hop checked again.

The policy itself (what is always refused, what the cluster may allow) is :mod:`stitcher.egress`, shared with the
gateway, which enforces it again on every upstream connection; this module translates its refusals into the
portal's :class:`RefusedTarget` (an :class:`~portal.errors.Invalid`).
"""

from __future__ import annotations

import json
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

import httpx
from graphql import build_client_schema, get_introspection_query, print_schema

from portal.errors import Invalid
from portal.settings import DEFAULT_MAX_DOCUMENT_BYTES
from stitcher import egress as _egress

__all__ = [
    "EgressPolicy",
    "RefusedTarget",
    "check_address",
    "check_url",
    "introspect",
    "resolve",
]

IPAddress = _egress.IPAddress
EgressPolicy = _egress.EgressPolicy
_MAX_REDIRECTS = 3
_DEFAULT_MAX_BYTES = DEFAULT_MAX_DOCUMENT_BYTES  # a fetched schema is a document: LOOM_AUTH_MAX_DOCUMENT_BYTES


class RefusedTarget(Invalid):
    """The guard refused a URL: the message names the host, the address and why."""


def check_address(host: str, address: IPAddress, policy: EgressPolicy) -> None:
    """Raise :class:`RefusedTarget` unless ``policy`` lets the portal connect to ``address`` (resolved from ``host``).

    Pure: no I/O. The decision is :func:`stitcher.egress.check_address`, the one the gateway makes on connect.
    """
    try:
        _egress.check_address(host, address, policy)
    except _egress.EgressRefused as exc:
        raise RefusedTarget(str(exc)) from exc


def check_url(url: str) -> tuple[str, str, int]:
    """Validate the shape of ``url``: ``(scheme, host, port)``. Refuses non-HTTP schemes, credentials and metadata
    host names before anything is resolved."""
    try:
        return _egress.split_url(url)
    except _egress.EgressRefused as exc:
        raise RefusedTarget(str(exc)) from exc


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (an IP literal resolves to itself)."""
    try:
        return await _egress.resolve(host, port)
    except _egress.EgressRefused as exc:
        raise RefusedTarget(str(exc)) from exc


async def _guarded_target(url: str, policy: EgressPolicy) -> tuple[str, dict[str, str], dict[str, Any]]:
    """Check ``url`` and return the URL to connect to (host replaced by the checked address), headers and
    request extensions (TLS server name), so the connection goes exactly where the check looked."""
    scheme, host, port = check_url(url)
    try:  # every answer must pass: the resolver may hand any of them to the connection
        address = await _egress.checked_address(host, port, policy)
    except _egress.EgressRefused as exc:
        raise RefusedTarget(str(exc)) from exc
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
