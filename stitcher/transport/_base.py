"""The contract every upstream client serves, its errors, and the one retry that is always safe."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

from stitcher.errors import StitcherError
from stitcher.options import Limits

log = logging.getLogger("stitcher.transport")

UpstreamErrorKind = Literal["timeout", "connection", "protocol", "too_large", "refused"]
DEFAULT_MAX_RESPONSE_BYTES = Limits().max_response_bytes  # the one default, on GatewayOptions


class UpstreamError(StitcherError):
    """An upstream could not be reached, did not answer in time or in HTTP, answered too much, or the egress policy
    refused it. ``kind`` says which. ``str(exc)`` names the URL (log it); ``reason`` says the same without any URL
    or address (tell consumers, with the service name)."""

    def __init__(self, message: str, *, kind: UpstreamErrorKind, url: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.kind: UpstreamErrorKind = kind
        self.url = url
        self.reason = reason or _REASONS[kind]


_REASONS: dict[UpstreamErrorKind, str] = {
    "timeout": "did not answer in time",
    "connection": "cannot be reached",
    "protocol": "broke the HTTP exchange",
    "too_large": "answered more than the gateway accepts",
    "refused": "is outside the cluster's egress policy; the gateway does not connect there",
}


def _too_large(method: str, url: str, max_bytes: int) -> UpstreamError:
    return UpstreamError(
        f"{method} {url}: the response is larger than {max_bytes} bytes",
        kind="too_large",
        url=url,
        reason=f"answered more than the gateway's limit of {max_bytes} bytes (LOOM_GATEWAY_MAX_RESPONSE_BYTES)",
    )


class _Unanswered(UpstreamError):
    """The upstream closed the connection before any byte of an answer: most often a pooled keep-alive connection
    that it closed (its idle timeout, 5 s in uvicorn and Node) just as this request went out on it."""


# The header the executor puts on queries (read-only, so safe to send twice); Envoy's retry policy matches it too.
SAFE_RETRY = ("x-loom-retry", "safe")
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _repeatable(method: str, headers: Mapping[str, str] | None) -> bool:
    """Whether a request is safe to send twice: a safe method, or marked so by the executor (a query)."""
    return method in _SAFE_METHODS or (headers is not None and headers.get(SAFE_RETRY[0]) == SAFE_RETRY[1])


async def _once_more_if_unanswered(
    exchange: Callable[[float], Awaitable[UpstreamResponse]],
    method: str,
    headers: Mapping[str, str] | None,
    seconds: float,
) -> UpstreamResponse:
    """``exchange(seconds)``, and for a request that is safe to repeat, once more on a new connection when the first
    went unanswered, within what is left of ``seconds``. Never for a mutation: it may have run."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    try:
        return await exchange(seconds)
    except _Unanswered:
        remaining = deadline - loop.time()
        if not _repeatable(method, headers) or remaining <= 0:
            raise
        log.debug("%s: the upstream closed a pooled connection unanswered; sending once more", method)
        return await exchange(remaining)


@dataclass(frozen=True, slots=True)
class UpstreamResponse:
    status: int
    headers: Mapping[str, str]
    body: bytes


class Transport(Protocol):
    """What the executor needs from upstream HTTP. Tests pass a real transport to real servers on loopback."""

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        timeout: float,  # noqa: ASYNC109 - the contract: each fetch carries its own deadline
        max_bytes: int | None = None,
        tls_server_name: str | None = None,
    ) -> UpstreamResponse:
        """``max_bytes``: abandon a response body past it (:class:`UpstreamError`, kind ``too_large``).
        ``tls_server_name``: the name to verify an https upstream's certificate against when ``url`` carries an
        address (the URL was pinned to a checked address)."""
        ...

    async def aclose(self) -> None: ...
