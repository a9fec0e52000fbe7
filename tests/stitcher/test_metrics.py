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


def _without_created(metrics: GatewayMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {key: value for key, value in _samples(metrics).items() if not key[0].endswith("_created")}


def test_one_process_tallies_expose_what_prometheus_client_s_metrics_expose() -> None:
    """In one process the hot path's metrics are plain numbers behind a collector; under --workers they are
    prometheus_client's own. The same observations must give the same samples (prometheus_client's ``_created``
    timestamps aside): counts per label set, every bucket with its bound included, +Inf, sums, a cancelled fetch
    timed but not counted."""
    tallies, children = GatewayMetrics(multiprocess=False), GatewayMetrics(multiprocess=True)
    for metrics in (tallies, children):
        for seconds in (0.0005, 0.001, 0.0011, 0.0025, 0.3, 1.0, 10.0, 11.0):
            metrics.observe_request("shop", "graphql", 200, seconds)
        metrics.observe_request("shop", "rest", 404, 0.02)
        metrics.observe_request("other", "graphql", 200, 0.004)
        metrics.observe_fetch("books", "ok", 0.002)
        metrics.observe_fetch("books", "ok", 0.07)
        metrics.observe_fetch("books", "timeout", 5.0)
        metrics.observe_fetch("authors", None, 0.5)
        metrics.error("shop", "auth")
    samples = _without_created(tallies)
    assert samples == _without_created(children)
    graphql = (("kind", "graphql"), ("product", "shop"))

    def bucket(le: str) -> float:
        return samples[("loom_gateway_request_duration_seconds_bucket", (graphql[0], ("le", le), graphql[1]))]

    assert (bucket("0.001"), bucket("0.0025"), bucket("10.0"), bucket("+Inf")) == (2, 4, 7, 8)
    assert samples[("loom_gateway_request_duration_seconds_sum", graphql)] == pytest.approx(22.3051)
    assert samples[("loom_gateway_upstream_duration_seconds_count", (("subgraph", "authors"),))] == 1
    assert not any(
        key[0] == "loom_gateway_upstream_fetches_total" and ("subgraph", "authors") in key[1] for key in samples
    )
