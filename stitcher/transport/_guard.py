"""Each upstream's egress policy and response cap, around whichever client."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from stitcher.egress import AsyncResolver, EgressPolicy, EgressRefused, IPAddress, checked_address, resolve, split_url
from stitcher.transport._base import DEFAULT_MAX_RESPONSE_BYTES, Transport, UpstreamError, UpstreamResponse


@dataclass(frozen=True, slots=True)
class Upstream:
    """What the gateway knows about one upstream base URL: the service's name, the egress policy of the cluster its
    address is in (``None``: not checked — the snapshot named none, e.g. the URL is the cluster's own Envoy) and the
    response size cap."""

    service: str
    egress: EgressPolicy | None = None
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES


class GuardedTransport:
    """A :class:`Transport` that applies each upstream's egress policy and response cap, then calls ``inner``.

    The URL's upstream is found by the longest base URL that prefixes it (:meth:`set_upstreams`, from the snapshot).
    With a policy, the host is resolved, every address checked, and the request sent to the checked address (Host
    header and TLS server name keep the original name). A checked answer is reused for ``dns_ttl_seconds``, so a name
    is not resolved on every request; what is reused was checked under the same policy. A URL no upstream claims gets
    ``default``.
    """

    def __init__(
        self,
        inner: Transport,
        *,
        default: Upstream | None = None,
        dns_ttl_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        resolver: AsyncResolver = resolve,
    ) -> None:
        self.inner = inner
        self._default = default or Upstream(service="")
        self._bases: list[tuple[str, Upstream]] = []
        self._cache: dict[str, Upstream] = {}
        self._dns_ttl = dns_ttl_seconds
        self._clock = clock
        self._resolver = resolver
        self._resolved: dict[tuple[str, int, EgressPolicy], tuple[float, IPAddress]] = {}

    def set_upstreams(self, upstreams: Mapping[str, Upstream]) -> None:
        """``upstreams``: base URL -> what applies to it (over all products being served)."""
        self._bases = sorted(((u.rstrip("/"), up) for u, up in upstreams.items()), key=lambda b: -len(b[0]))
        self._cache = {}
        self._resolved = {}

    def upstream(self, url: str) -> Upstream:
        found = self._cache.get(url)
        if found is None:
            found = next((up for base, up in self._bases if _under(url, base)), self._default)
            if len(self._cache) < 10_000:  # REST URLs carry ids; keep the cache bounded
                self._cache[url] = found
        return found

    async def _address(self, host: str, port: int, policy: EgressPolicy) -> IPAddress:
        key = (host, port, policy)
        now = self._clock()
        hit = self._resolved.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        address = await checked_address(host, port, policy, resolver=self._resolver)
        if len(self._resolved) >= 10_000:
            self._resolved.clear()
        self._resolved[key] = (now + self._dns_ttl, address)
        return address

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        timeout: float,  # noqa: ASYNC109 - passed through to the inner transport
        max_bytes: int | None = None,
        tls_server_name: str | None = None,
    ) -> UpstreamResponse:
        upstream = self.upstream(url)
        limit = upstream.max_response_bytes if max_bytes is None else min(max_bytes, upstream.max_response_bytes)
        policy = upstream.egress
        if policy is None:
            return await self.inner.request(
                method, url, headers=headers, body=body, timeout=timeout, max_bytes=limit, tls_server_name=None
            )
        try:
            scheme, host, port = split_url(url)
            address = await self._address(host, port, policy)
        except EgressRefused as exc:
            raise UpstreamError(f"{method} {url}: {exc}", kind="refused", url=url) from exc
        parts = urlsplit(url)
        literal = f"[{address}]" if address.version == 6 else str(address)
        pinned = parts._replace(netloc=f"{literal}:{parts.port}" if parts.port else literal).geturl()
        pinned_headers = {**(headers or {}), "host": parts.netloc}
        return await self.inner.request(
            method,
            pinned,
            headers=pinned_headers,
            body=body,
            timeout=timeout,
            max_bytes=limit,
            tls_server_name=host if scheme == "https" else None,
        )

    async def aclose(self) -> None:
        await self.inner.aclose()


def _under(url: str, base: str) -> bool:
    return url == base or (url.startswith(base) and url[len(base)] in "/?#")
