"""Gateway metrics: a registry per app, and the metered transport against a real upstream on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from stitcher.metrics import GatewayMetrics, MeteredTransport
from stitcher.transport import AiohttpTransport, UpstreamError
from tests.stitcher.gateway_upstreams import ServerThread, inventory_app


def _samples(metrics: GatewayMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(metrics.render().decode())
        for sample in family.samples
    }


@pytest.fixture(scope="module")
def inventory() -> Iterator[str]:
    calls: list[dict[str, Any]] = []
    with ServerThread(inventory_app(calls)) as server:
        yield server.url


@pytest.fixture
async def transport() -> AsyncIterator[AiohttpTransport]:
    inner = await AiohttpTransport.create()
    yield inner
    await inner.aclose()


def test_each_app_has_its_own_registry() -> None:
    first, second = GatewayMetrics(), GatewayMetrics()
    first.observe_request("shop", "graphql", 200, 0.01)
    first.error("shop", "auth")
    assert (
        _samples(first)[("loom_gateway_requests_total", (("kind", "graphql"), ("product", "shop"), ("status", "200")))]
        == 1
    )
    assert _samples(first)[("loom_gateway_errors_total", (("product", "shop"), ("reason", "auth")))] == 1
    assert not any(name == "loom_gateway_requests_total" for name, _ in _samples(second))


async def test_upstream_fetches_are_counted_per_subgraph(inventory: str, transport: AiohttpTransport) -> None:
    metrics = GatewayMetrics()
    metered = MeteredTransport(transport, metrics)
    metered.set_subgraphs({f"{inventory}/": "inventory"})
    ok = await metered.request("GET", f"{inventory}/stock/3", timeout=5)
    assert ok.status == 200
    missing = await metered.request("GET", f"{inventory}/stock/x", timeout=5)
    assert missing.status == 404
    with pytest.raises(UpstreamError):
        await metered.request("GET", "http://127.0.0.1:1/nothing", timeout=5)
    samples = _samples(metrics)
    fetches = "loom_gateway_upstream_fetches_total"
    assert samples[(fetches, (("outcome", "ok"), ("subgraph", "inventory")))] == 1
    assert samples[(fetches, (("outcome", "http_error"), ("subgraph", "inventory")))] == 1
    assert samples[(fetches, (("outcome", "connection"), ("subgraph", "127.0.0.1:1")))] == 1
    assert samples[("loom_gateway_upstream_duration_seconds_count", (("subgraph", "inventory"),))] == 2
