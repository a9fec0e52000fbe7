"""No request to a running gateway waits on a composition (issue 10): a snapshot's products are compiled in a
worker thread while the event loop keeps answering. The compiler is the real one over a generated 1,600-type
schema; the test holds it at its start (a threading.Event, our own seam) so that the requests are provably answered
while the composition is in progress, with no sleeps and no timing."""

from __future__ import annotations

import asyncio
import threading

from bench.compose_scale import graphql_sdl
from stitcher.app import Gateway, GatewayOptions, create_gateway_app, default_compiler
from stitcher.ir import SourceKind, Supergraph
from stitcher.options import Timeouts
from stitcher.snapshot import ProductConfig, Snapshot, SourceConfig
from stitcher.snapshot_source import StaticSnapshotSource
from tests.stitcher.test_app import serving

SMALL = SourceConfig(
    name="small", protocol=SourceKind.GRAPHQL, schema_text="type Query { hello: String }", url="http://127.0.0.1:9"
)
BIG = SourceConfig(name="big", protocol=SourceKind.GRAPHQL, schema_text=graphql_sdl(1600), url="http://127.0.0.1:9")


async def test_requests_are_answered_while_a_big_composition_runs() -> None:
    first = ProductConfig(name="open", version="1.0.0", sources=[SMALL], auth_required=False)
    bigger = ProductConfig(name="open", version="2.0.0", sources=[SMALL, BIG], auth_required=False)
    started, release = threading.Event(), threading.Event()
    compiled_in: list[threading.Thread] = []

    def compiler(config: ProductConfig) -> Supergraph:
        if config.version == "2.0.0":
            compiled_in.append(threading.current_thread())
            started.set()
            assert release.wait(120), "the test never released the composition"
        return default_compiler(config)

    app = create_gateway_app(
        source=StaticSnapshotSource(Snapshot(products=[first])),
        compiler=compiler,
        options=GatewayOptions(freeze_gc=False, timeouts=Timeouts(poll_interval_seconds=3600)),
    )
    gateway: Gateway = app.state.gateway
    query = {"query": '{ __typename t: __type(name: "Entity0") { name } }'}
    async with serving(app) as client:
        assert await gateway.apply(Snapshot(products=[first]))
        swap = asyncio.create_task(gateway.apply(Snapshot(products=[bigger])))
        try:
            assert await asyncio.to_thread(started.wait, 120)  # the composition of the big product has begun
            assert (await client.get("/healthz")).status_code == 200
            answer = await client.post("/products/open/graphql", json=query)
            assert answer.json() == {"data": {"__typename": "Query", "t": None}}  # the previous version serves
            assert not swap.done()
            assert compiled_in == [compiled_in[0]] and compiled_in[0] is not threading.main_thread()
        finally:
            release.set()
        assert await swap
        answer = await client.post("/products/open/graphql", json=query)
        assert answer.json() == {"data": {"__typename": "Query", "t": {"name": "Entity0"}}}
