"""The gateway's Prometheus metrics, in a registry of its own per app (two apps in one process never collide).

``loom_gateway_requests_total{product,kind,status}`` and ``loom_gateway_request_duration_seconds{product,kind}``
count and time every request (``kind`` is graphql, rest, openapi or other); ``loom_gateway_errors_total``
counts errors by ``reason`` (auth, rate_limit, request, execution, internal, upstream);
``loom_gateway_upstream_fetches_total{subgraph,outcome}`` and ``loom_gateway_upstream_duration_seconds{subgraph}``
count and time each upstream fetch (:class:`MeteredTransport` wraps the executor's transport to see them).

Under ``loom gateway --workers N`` (:mod:`stitcher.workers`) the workers share a directory
(``PROMETHEUS_MULTIPROC_DIR``, prometheus_client's own switch, set by the supervisor for its workers only), and
:meth:`GatewayMetrics.render` sums every worker's values there, so a scrape served by any worker is the whole
gateway's view. The hot path's requests and fetches stay plain numbers in each worker, written to its own file in
that directory at most every ``FLUSH_SECONDS`` (prometheus_client's multiprocess values took a lock and an mmap write
per update: +9% instructions per request); a dead worker's file stays, so counters never go back. The rare metrics
(errors, snapshot swaps, gauges) are prometheus_client's multiprocess ones; gauges take the highest value among the
live workers (they all serve the same snapshot).
"""

from __future__ import annotations

import asyncio
import glob
import logging
import os
import time
from bisect import bisect_left
from collections.abc import Iterator, Mapping
from itertools import accumulate
from typing import Any
from urllib.parse import urlsplit

import orjson
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from stitcher.transport import Transport, UpstreamError, UpstreamResponse

__all__ = ["BUCKETS", "CONTENT_TYPE_LATEST", "FLUSH_SECONDS", "GatewayMetrics", "MeteredTransport"]

log = logging.getLogger("stitcher.gateway")

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_FETCH_LABELS = ("subgraph", "outcome")
_REQUEST_LABELS = ("product", "kind", "status")


class GatewayMetrics:
    """The gateway's metrics. Per request, the hot path observes one request and 4-5 upstream fetches: those are
    plain numbers (:class:`_Tallies`); under ``--workers`` each worker also writes its own to the shared
    ``directory`` (:class:`_SharedTallies`), which render() sums. ``directory``: None reads prometheus_client's own
    switch, ``PROMETHEUS_MULTIPROC_DIR``; ``worker`` names this process's file (its pid by default)."""

    def __init__(self, *, directory: str | None = None, worker: str | None = None) -> None:
        # Where render() reads every worker's values, and this one writes its own (see above).
        shared = directory if directory is not None else os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        self.registry = CollectorRegistry(auto_describe=True)
        self._sink = (
            _SharedTallies(shared, worker or str(os.getpid())) if shared else _Tallies.registered(self.registry)
        )
        self.errors = Counter("loom_gateway_errors", "Errors by reason", ["product", "reason"], registry=self.registry)
        self.products = Gauge(
            "loom_gateway_products", "Products being served", registry=self.registry, multiprocess_mode="livemax"
        )
        self.snapshot_swaps = Counter(
            "loom_gateway_snapshot_swaps", "Config snapshots swapped in", registry=self.registry
        )
        self.snapshot_failures = Counter(
            "loom_gateway_snapshot_failures", "Snapshot polls or compilations that failed", registry=self.registry
        )

    def observe_request(self, product: str, kind: str, status: int, seconds: float) -> None:
        self._sink.observe_request(product, kind, status, seconds)

    def observe_fetch(self, subgraph: str, outcome: str | None, seconds: float) -> None:
        """One upstream fetch: ``outcome`` is ok, http_error or the :class:`UpstreamError` kind; None (cancelled):
        timed, not counted as an outcome."""
        self._sink.observe_fetch(subgraph, outcome, seconds)

    def error(self, product: str, reason: str) -> None:
        self.errors.labels(product, reason).inc()

    def flush(self) -> None:
        """Write this worker's request and fetch numbers to the shared directory now (at shutdown); in one process,
        nothing to do."""
        if isinstance(self._sink, _SharedTallies):
            self._sink.flush()

    def render(self) -> bytes:
        if not isinstance(self._sink, _SharedTallies):
            return generate_latest(self.registry)
        from prometheus_client import multiprocess

        self._sink.flush()  # this worker's own numbers as of now; the others' as of their last write
        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged, path=self._sink.directory)  # type: ignore[no-untyped-call]
        merged.register(_TallyCollector(self._sink.everyone()))
        return generate_latest(merged)


_REQUESTS = ("loom_gateway_requests", "Requests served")
_LATENCY = ("loom_gateway_request_duration_seconds", "Time to serve a request")
_FETCHES = ("loom_gateway_upstream_fetches", "Upstream fetches")
_FETCH_LATENCY = ("loom_gateway_upstream_duration_seconds", "Time of one upstream fetch")


class _Tallies:
    """The same metrics in one process as plain numbers, exposed through a collector when scraped. The event loop
    is their only writer, so they need no lock; prometheus_client's children took one per value and walked the
    buckets in Python (~2 us per request observed, ~3 us per fetch: 15 of a `top` request's ~200 us)."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, int], int] = {}
        self.latency: dict[tuple[str, str], list[float]] = {}  # per bucket (not cumulative), then +Inf, then sum
        self.fetches: dict[tuple[str, str], int] = {}
        self.fetch_latency: dict[str, list[float]] = {}

    @classmethod
    def registered(cls, registry: CollectorRegistry) -> _Tallies:
        tallies = cls()
        registry.register(_TallyCollector(tallies))
        return tallies

    def observe_request(self, product: str, kind: str, status: int, seconds: float) -> None:
        key = (product, kind, status)
        self.requests[key] = self.requests.get(key, 0) + 1
        _observe(self.latency, (product, kind), seconds)

    def observe_fetch(self, subgraph: str, outcome: str | None, seconds: float) -> None:
        if outcome is not None:
            key = (subgraph, outcome)
            self.fetches[key] = self.fetches.get(key, 0) + 1
        _observe(self.fetch_latency, subgraph, seconds)

    def add(self, other: _Tallies) -> None:
        _add_counts(self.requests, other.requests)
        _add_counts(self.fetches, other.fetches)
        _add_histograms(self.latency, other.latency)
        _add_histograms(self.fetch_latency, other.fetch_latency)


def _add_counts(mine: dict[Any, int], theirs: Mapping[Any, int]) -> None:
    for key, count in theirs.items():
        mine[key] = mine.get(key, 0) + count


def _add_histograms(mine: dict[Any, list[float]], theirs: Mapping[Any, list[float]]) -> None:
    for key, counts in theirs.items():
        have = mine.get(key)
        mine[key] = list(counts) if have is None else [a + b for a, b in zip(have, counts, strict=True)]


FLUSH_SECONDS = 0.05  # a worker writes its numbers at most this often, and this long after a change at most
_FILE_PREFIX = "loom-tallies-"


class _SharedTallies(_Tallies):
    """A worker's numbers, written to ``directory`` as ``loom-tallies-WORKER.json`` (atomically: a scrape reads the
    old or the new file, never half of one) at most every ``FLUSH_SECONDS`` after a change."""

    def __init__(self, directory: str, worker: str) -> None:
        super().__init__()
        self.directory = directory
        self._path = os.path.join(directory, f"{_FILE_PREFIX}{worker}.json")
        self._pending = False

    def observe_request(self, product: str, kind: str, status: int, seconds: float) -> None:
        super().observe_request(product, kind, status, seconds)
        if not self._pending:
            self._schedule()

    def observe_fetch(self, subgraph: str, outcome: str | None, seconds: float) -> None:
        super().observe_fetch(subgraph, outcome, seconds)
        if not self._pending:
            self._schedule()

    def _schedule(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # observed outside an event loop (a test): written at once
            self.flush()
            return
        self._pending = True
        loop.call_later(FLUSH_SECONDS, self.flush)

    def flush(self) -> None:
        self._pending = False
        state = {
            "requests": [[*key, count] for key, count in self.requests.items()],
            "latency": [[*key, counts] for key, counts in self.latency.items()],
            "fetches": [[*key, count] for key, count in self.fetches.items()],
            "fetch_latency": [[key, counts] for key, counts in self.fetch_latency.items()],
        }
        temporary = f"{self._path}.{os.getpid()}.tmp"
        try:
            with open(temporary, "wb") as out:
                out.write(orjson.dumps(state))
            os.replace(temporary, self._path)
        except OSError as exc:  # the directory is gone (a supervisor that was killed): metrics never stop serving
            log.debug("cannot write this worker's metrics to %s: %s", self.directory, exc)

    def everyone(self) -> _Tallies:
        """Every worker's numbers summed, as last written (this one's included: flush first)."""
        total = _Tallies()
        for path in glob.glob(os.path.join(glob.escape(self.directory), f"{_FILE_PREFIX}*.json")):
            try:
                with open(path, "rb") as file:
                    state = orjson.loads(file.read())
            except (OSError, orjson.JSONDecodeError):  # removed as the supervisor cleans up: nothing to add
                continue
            one = _Tallies()
            one.requests = {(p, k, int(s)): c for p, k, s, c in state["requests"]}
            one.latency = {(p, k): counts for p, k, counts in state["latency"]}
            one.fetches = {(g, o): c for g, o, c in state["fetches"]}
            one.fetch_latency = {g: counts for g, counts in state["fetch_latency"]}
            total.add(one)
        return total


def _observe(series: dict[Any, list[float]], key: Any, seconds: float) -> None:
    """One observation in a histogram series: its bucket (the first bound it does not exceed, else +Inf), its sum."""
    histogram = series.get(key)
    if histogram is None:
        histogram = series[key] = [0.0] * (len(BUCKETS) + 2)
    histogram[bisect_left(BUCKETS, seconds)] += 1
    histogram[-1] += seconds


_LE = [repr(b) for b in BUCKETS] + ["+Inf"]  # as prometheus_client writes these bounds ("0.001", "1.0")


def _histogram(name: str, documentation: str, labels: tuple[str, ...], series: Mapping[Any, list[float]]) -> Metric:
    family = HistogramMetricFamily(name, documentation, labels=labels)
    for key, counts in series.items():
        cumulative = list(accumulate(counts[:-1]))
        family.add_metric(
            list(key) if isinstance(key, tuple) else [key], list(zip(_LE, cumulative, strict=True)), counts[-1]
        )
    return family


class _TallyCollector(Collector):
    def __init__(self, tallies: _Tallies) -> None:
        self._tallies = tallies

    def collect(self) -> Iterator[Metric]:
        tallies = self._tallies
        requests = CounterMetricFamily(*_REQUESTS, labels=_REQUEST_LABELS)
        for (product, kind, status), count in list(tallies.requests.items()):
            requests.add_metric([product, kind, str(status)], count)
        yield requests
        yield _histogram(*_LATENCY, _REQUEST_LABELS[:2], dict(tallies.latency))
        fetches = CounterMetricFamily(*_FETCHES, labels=_FETCH_LABELS)
        for (subgraph, outcome), count in list(tallies.fetches.items()):
            fetches.add_metric([subgraph, outcome], count)
        yield fetches
        yield _histogram(*_FETCH_LATENCY, _FETCH_LABELS[:1], dict(tallies.fetch_latency))


class MeteredTransport:
    """A :class:`~stitcher.transport.Transport` that counts and times each fetch, labelled by subgraph.

    ``subgraph_of`` maps an upstream URL to its subgraph name; the app updates it when products change. A URL no
    subgraph claims is labelled by its host.
    """

    def __init__(self, inner: Transport, metrics: GatewayMetrics) -> None:
        self.inner = inner
        self._metrics = metrics
        self._bases: list[tuple[str, str]] = []  # (url prefix, subgraph), longest first
        self._cache: dict[str, str] = {}

    def set_subgraphs(self, urls: Mapping[str, str]) -> None:
        """``urls``: upstream base URL -> subgraph name (over all products being served)."""
        self._bases = sorted(((u.rstrip("/"), name) for u, name in urls.items()), key=lambda b: -len(b[0]))
        self._cache = {}

    def _subgraph(self, url: str) -> str:
        name = self._cache.get(url)
        if name is None:
            name = next((n for base, n in self._bases if url.startswith(base)), None) or urlsplit(url).netloc
            if len(self._cache) < 10_000:  # REST URLs carry ids; keep the cache bounded
                self._cache[url] = name
        return name

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
        subgraph = self._subgraph(url)
        started = time.perf_counter()
        try:
            response = await self.inner.request(
                method,
                url,
                headers=headers,
                body=body,
                timeout=timeout,
                max_bytes=max_bytes,
                tls_server_name=tls_server_name,
            )
        except UpstreamError as exc:
            self._metrics.observe_fetch(subgraph, exc.kind, time.perf_counter() - started)
            raise
        except BaseException:  # cancelled: timed, as before, but not counted as an outcome
            self._metrics.observe_fetch(subgraph, None, time.perf_counter() - started)
            raise
        outcome = "ok" if response.status < 400 else "http_error"
        self._metrics.observe_fetch(subgraph, outcome, time.perf_counter() - started)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()
