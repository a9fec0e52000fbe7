"""Gateway metrics: a registry per app, and the metered transport against a real upstream on loopback."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from stitcher.metrics import BUCKETS, GatewayMetrics, MeteredTransport
from stitcher.transport import AiohttpTransport, UpstreamError
from tests._conditions import until
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


def _without_created(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> dict[Any, float]:
    return {key: value for key, value in samples.items() if not key[0].endswith("_created")}


def _hot(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> dict[Any, float]:
    """The hot path's samples (requests and fetches), without prometheus_client's ``_created`` timestamps."""
    hot = ("loom_gateway_requests", "loom_gateway_request_duration", "loom_gateway_upstream")
    return {key: value for key, value in _without_created(samples).items() if key[0].startswith(hot)}


def _reference() -> tuple[CollectorRegistry, Any]:
    """prometheus_client's own metrics of the same names, labels and buckets: the oracle of what ours expose."""
    registry = CollectorRegistry()
    requests = Counter("loom_gateway_requests", "", ["product", "kind", "status"], registry=registry)
    latency = Histogram("loom_gateway_request_duration_seconds", "", ["product", "kind"], buckets=BUCKETS,
                        registry=registry)  # fmt: skip
    fetches = Counter("loom_gateway_upstream_fetches", "", ["subgraph", "outcome"], registry=registry)
    fetch_latency = Histogram("loom_gateway_upstream_duration_seconds", "", ["subgraph"], buckets=BUCKETS,
                              registry=registry)  # fmt: skip

    class Observe:
        def observe_request(self, product: str, kind: str, status: int, seconds: float) -> None:
            requests.labels(product, kind, str(status)).inc()
            latency.labels(product, kind).observe(seconds)

        def observe_fetch(self, subgraph: str, outcome: str | None, seconds: float) -> None:
            if outcome is not None:
                fetches.labels(subgraph, outcome).inc()
            fetch_latency.labels(subgraph).observe(seconds)

    return registry, Observe()


def _observe_all(sinks: list[Any]) -> None:
    """The same observations, spread over ``sinks`` in turn (one worker or several)."""
    calls: list[tuple[str, tuple[Any, ...]]] = [
        *(
            ("observe_request", ("shop", "graphql", 200, s))
            for s in (0.0005, 0.001, 0.0011, 0.0025, 0.3, 1.0, 10.0, 11.0)
        ),
        ("observe_request", ("shop", "rest", 404, 0.02)),
        ("observe_request", ("other", "graphql", 200, 0.004)),
        ("observe_fetch", ("books", "ok", 0.002)),
        ("observe_fetch", ("books", "ok", 0.07)),
        ("observe_fetch", ("books", "timeout", 5.0)),
        ("observe_fetch", ("authors", None, 0.5)),
    ]
    for i, (method, arguments) in enumerate(calls):
        getattr(sinks[i % len(sinks)], method)(*arguments)


def _parsed(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text.decode())
        for sample in family.samples
    }


def test_the_hot_path_s_numbers_expose_what_prometheus_client_s_metrics_expose() -> None:
    """The hot path's metrics are plain numbers behind a collector. The same observations must give the samples
    prometheus_client's own metrics give (their ``_created`` timestamps aside): counts per label set, every bucket
    with its bound included, +Inf, sums, a cancelled fetch timed but not counted."""
    registry, reference = _reference()
    tallies = GatewayMetrics()
    _observe_all([tallies])
    _observe_all([reference])
    samples = _hot(_samples(tallies))
    assert samples == _hot(_parsed(generate_latest(registry)))
    graphql = (("kind", "graphql"), ("product", "shop"))

    def bucket(le: str) -> float:
        return samples[("loom_gateway_request_duration_seconds_bucket", (graphql[0], ("le", le), graphql[1]))]

    assert (bucket("0.001"), bucket("0.0025"), bucket("10.0"), bucket("+Inf")) == (2, 4, 7, 8)
    assert samples[("loom_gateway_request_duration_seconds_sum", graphql)] == pytest.approx(22.3051)
    assert samples[("loom_gateway_upstream_duration_seconds_count", (("subgraph", "authors"),))] == 1
    assert not any(
        key[0] == "loom_gateway_upstream_fetches_total" and ("subgraph", "authors") in key[1] for key in samples
    )


def test_workers_sharing_a_directory_render_everyone_s_numbers_and_a_dead_worker_s_stay(tmp_path: Any) -> None:
    """Under --workers each worker writes its numbers to its own file in the shared directory; a scrape served by
    any worker sums every file (a worker gone keeps counting: counters never go back) and equals what one process
    that saw every observation exposes."""
    alone = GatewayMetrics()
    _observe_all([alone])
    first, second = (GatewayMetrics(directory=str(tmp_path), worker=name) for name in ("1", "2"))
    _observe_all([first, second])  # outside an event loop: each observation is written at once
    expected = _hot(_samples(alone))
    for worker in (first, second):
        assert _hot(_samples(worker)) == pytest.approx(expected)  # sums added in another order
    del second
    third = GatewayMetrics(directory=str(tmp_path), worker="3")  # the dead worker's replacement
    third.observe_request("shop", "graphql", 200, 0.01)
    total = ("loom_gateway_requests_total", (("kind", "graphql"), ("product", "shop"), ("status", "200")))
    assert _samples(first)[total] == expected[total] + 1


async def test_a_worker_writes_its_numbers_soon_after_a_change_not_on_every_one(tmp_path: Any) -> None:
    """In the event loop a worker's observations are written together, ``FLUSH_SECONDS`` after the first of them
    (a write per request would cost what prometheus_client's multiprocess values did)."""
    worker = GatewayMetrics(directory=str(tmp_path), worker="1")
    for _ in range(100):
        worker.observe_request("shop", "graphql", 200, 0.01)
    path = tmp_path / "loom-tallies-1.json"
    assert not path.exists()  # nothing written yet: one write is scheduled for the whole burst
    await until(path.exists)
    total = ("loom_gateway_requests_total", (("kind", "graphql"), ("product", "shop"), ("status", "200")))
    other = GatewayMetrics(directory=str(tmp_path), worker="2")
    assert _samples(other)[total] == 100
    shutil.rmtree(tmp_path)  # what a killed supervisor leaves its workers: no directory; they go on serving
    worker.observe_request("shop", "graphql", 200, 0.01)
    worker.flush()
    assert not tmp_path.exists()
