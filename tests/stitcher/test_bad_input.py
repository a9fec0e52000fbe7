"""Bad input through the gateway over HTTP, against real upstreams on loopback: malformed documents, unknown fields,
wrong variable types, oversized and deeply nested queries, and upstreams that hang, answer garbage or answer 500.

Each gives a clear GraphQL error with the status the GraphQL-over-HTTP spec gives for the negotiated media type;
none gives a 500 from the gateway, none reaches an upstream when the request itself is bad, the errors are counted
in ``/metrics``, and once the gateway stops no upstream connection is left open.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

from stitcher.app import GRAPHQL_RESPONSE_JSON, create_gateway_app
from stitcher.options import Limits, Timeouts
from tests.stitcher.test_app import _options, serving
from tests.stitcher.upstreams.shops import FAULTS, ShopUpstreams

STRICT = {"accept": GRAPHQL_RESPONSE_JSON}
LEGACY = {"accept": "application/json"}


@pytest.fixture(scope="module")
def shop() -> Iterator[ShopUpstreams]:
    with ShopUpstreams() as servers:
        yield servers


def _deep(levels: int) -> str:
    inner = "id"
    for _ in range(levels):
        inner = f"reviews {{ author {{ {inner} }} }}"
    return f"{{ me {{ {inner} }} }}"


BAD_REQUESTS: list[tuple[dict[str, Any], int, str]] = [
    ({"query": "{ topProducts { name "}, 400, "Syntax Error"),
    ({"query": "{ topProducts { colour } }"}, 400, "Cannot query field 'colour' on type 'Product'"),
    ({"query": "query($n: Int!) { topProducts(first: $n) { name } }", "variables": {"n": "two"}}, 400, "$n"),
    ({"query": "query($n: Int!) { topProducts(first: $n) { name } }"}, 400, "$n"),
    ({"query": _deep(6)}, 400, "levels deep; the maximum is 8"),
    ({"query": "{ " + " ".join(f"a{i}: me {{ id }}" for i in range(12)) + " }"}, 400, "aliases; the maximum is 10"),
    ({"query": "{ me { id } }", "pad": "x" * 5000}, 413, "the maximum is 4000 bytes"),
]


async def test_bad_requests_get_clear_errors_and_reach_no_upstream(shop: ShopUpstreams) -> None:
    app = create_gateway_app(
        supergraph=shop.federation(), options=_options(limits=Limits(max_body_bytes=4000, max_depth=8, max_aliases=10))
    )
    async with serving(app) as client:
        before = shop.requests()
        for body, status, fragment in BAD_REQUESTS:
            strict = await client.post("/graphql", json=body, headers=STRICT)
            assert strict.status_code == status, body
            assert strict.headers["content-type"].startswith(GRAPHQL_RESPONSE_JSON)
            (error,) = strict.json()["errors"]
            assert fragment in error["message"], (fragment, error)
            assert "data" not in strict.json()
            legacy = await client.post("/graphql", json=body, headers=LEGACY)
            assert legacy.status_code == (200 if status == 400 else status)  # application/json: 200 for GraphQL errors
            assert fragment in legacy.json()["errors"][0]["message"]
        assert shop.requests() == before
        metrics = (await client.get("/metrics")).text
    assert 'loom_gateway_errors_total{product="graphql",reason="request"}' in metrics


@pytest.mark.parametrize(
    ("mode", "code", "outcome"),
    [
        ("hang", "UPSTREAM_TIMEOUT", "timeout"),
        ("garbage", "UPSTREAM_INVALID_RESPONSE", "ok"),
        ("http500", "UPSTREAM_HTTP_500", "http_error"),
    ],
)
async def test_a_failing_upstream_gives_partial_data_never_a_gateway_500(
    shop: ShopUpstreams, mode: str, code: str, outcome: str
) -> None:
    assert mode in FAULTS
    app = create_gateway_app(
        supergraph=shop.with_flaky(mode), options=_options(timeouts=Timeouts(upstream_seconds=0.5))
    )
    query = {"query": "{ status topProducts(first: 2) { name rating } }"}
    async with serving(app) as client:
        for headers in (STRICT, LEGACY):
            response = await client.post("/graphql", json=query, headers=headers)
            assert response.status_code == 200  # partial data: never a 4xx/5xx from the gateway
            payload = response.json()
            assert payload["data"] == {
                "status": None,
                "topProducts": [{"name": "Table", "rating": None}, {"name": "Couch", "rating": None}],
            }
            assert {e["extensions"]["code"] for e in payload["errors"]} == {code}
            assert all("flaky" in e["message"] for e in payload["errors"])  # the message names the subgraph
            assert sorted(str(e["path"]) for e in payload["errors"]) == sorted(
                str(p) for p in (["status"], ["topProducts", 0, "rating"], ["topProducts", 1, "rating"])
            )
        metrics = (await client.get("/metrics")).text
    assert 'loom_gateway_errors_total{product="graphql",reason="execution"}' in metrics
    assert f'loom_gateway_upstream_fetches_total{{outcome="{outcome}",subgraph="flaky"}}' in metrics
    assert 'loom_gateway_upstream_fetches_total{outcome="ok",subgraph="products"}' in metrics
    # The gateway has stopped (its lifespan closed the transport): no upstream keeps a connection from it.
    for name in (f"fault-{mode}", "fed-products"):
        await _until_closed(shop, name)


async def _until_closed(shop: ShopUpstreams, name: str) -> None:
    deadline = time.monotonic() + 5
    while shop.connections(name) and time.monotonic() < deadline:  # noqa: ASYNC110 - polling another thread's server
        await asyncio.sleep(0.05)
    assert shop.connections(name) == 0, name


async def test_upstreams_down_entirely_give_graphql_errors_not_500(
    shop: ShopUpstreams, caplog: pytest.LogCaptureFixture
) -> None:
    supergraph = shop.federation()
    for sub in supergraph.subgraphs.values():
        sub.url = "http://127.0.0.1:1/graphql"  # nothing listens on port 1
    app = create_gateway_app(supergraph=supergraph, options=_options())
    async with serving(app) as client:
        response = await client.post("/graphql", json={"query": "{ topProducts { name } }"}, headers=STRICT)
    assert response.status_code == 200
    payload = response.json()
    assert payload["data"] is None  # topProducts is non-null: its null propagates to data
    (error,) = payload["errors"]
    assert error["path"] == ["topProducts"] and error["extensions"]["code"] == "UPSTREAM_ERROR"
    # The consumer learns which service failed, never its address; the operator's log has the URL.
    assert error["message"] == "Subgraph 'products' cannot be reached"
    assert any("127.0.0.1:1" in r.getMessage() for r in caplog.records if r.name == "stitcher.execution")
