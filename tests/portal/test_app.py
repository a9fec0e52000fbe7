"""portal.app: the lifespan, probes, metrics, error answers and the mounted modules, through the real ASGI app."""

from __future__ import annotations

import base64
import hashlib
import re
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route

from portal.app import create_app
from portal.db import DatabaseUnavailable, create_engine_for, head_revision
from portal.errors import Conflict, NotFound
from portal.models import metadata
from portal.settings import Settings

FIXED = datetime(2030, 1, 1, tzinfo=UTC)


@asynccontextmanager
async def running(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan started, and a client that talks to it in-process."""
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://portal.test") as client,
    ):
        yield client


async def test_probes_and_metrics(settings: Settings, engine: Engine) -> None:
    async with running(create_app(settings, engine=engine)) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        ready = await client.get("/readyz")
        assert ready.status_code == 200 and ready.json() == {"status": "ready"}
        await client.get("/no/such/page")
        metrics = await client.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert 'loom_portal_http_requests_total{method="GET",route="/healthz",status="200"} 1.0' in text
    assert 'loom_portal_http_requests_total{method="GET",route="unmatched",status="404"} 1.0' in text
    assert "/no/such/page" not in text  # raw paths never become labels


async def test_readyz_reports_an_unreachable_database(settings: Settings) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    engine = create_engine_for(f"postgresql://nobody@127.0.0.1:{port}/none?connect_timeout=2")
    try:
        async with running(create_app(settings, engine=engine)) as client:
            response = await client.get("/readyz")
            assert (await client.get("/healthz")).status_code == 200  # alive, not ready
    finally:
        engine.dispose()
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert f"127.0.0.1:{port}" in response.json()["reason"]


async def test_lifespan_migrates_sqlite_and_refuses_an_unmigrated_server_database(
    settings: Settings, database_backend: str
) -> None:
    app = create_app(settings)
    if database_backend == "sqlite":
        async with running(app) as client:
            assert (await client.get("/readyz")).status_code == 200
            tables = set(sa.inspect(app.state.engine).get_table_names())
        assert set(metadata.tables) <= tables
    else:
        with pytest.raises(DatabaseUnavailable, match=rf"is at revision empty, this portal needs {head_revision()}"):
            async with running(app):
                pass


async def test_loom_errors_become_json_with_their_status(settings: Settings, engine: Engine) -> None:
    async def missing(request: Request) -> None:
        raise NotFound("no product named 'shop'; create it first", path="Product/shop")

    async def clash(request: Request) -> None:
        raise Conflict("a team with this name already exists")

    app = create_app(settings, engine=engine, extra_routes=[Route("/x/missing", missing), Route("/x/clash", clash)])
    async with running(app) as client:
        first = await client.get("/x/missing")
        second = await client.get("/x/clash")
    assert first.status_code == 404
    assert first.json() == {
        "error": {"code": "NOT_FOUND", "message": "no product named 'shop'; create it first", "path": "Product/shop"}
    }
    assert second.status_code == 409 and second.json()["error"]["code"] == "CONFLICT"


async def test_unknown_paths_and_methods_answer_json_too(settings: Settings, engine: Engine) -> None:
    async with running(create_app(settings, engine=engine)) as client:
        missing = await client.get("/no/such/page")
        wrong_method = await client.put("/healthz")
    assert missing.status_code == 404
    assert missing.json() == {"error": {"code": "NOT_FOUND", "message": "no such path: /no/such/page"}}
    assert wrong_method.status_code == 405 and "GET" in wrong_method.headers["allow"]
    assert wrong_method.json()["error"]["code"] == "INVALID"
    allowed = wrong_method.headers["allow"]
    assert wrong_method.json()["error"]["message"] == f"PUT is not allowed here; use {allowed}"  # named, not blank


async def test_the_modules_routes_are_mounted(settings: Settings, engine: Engine) -> None:
    async with running(create_app(settings, engine=engine)) as client:
        jwks = await client.get("/.well-known/jwks.json")
        graphql = await client.post("/api/graphql", json={"query": "{ __typename }"})
        login = await client.get("/login")
    assert jwks.status_code == 200 and jwks.json()["keys"]
    assert graphql.status_code == 200 and graphql.json()["data"] == {"__typename": "Query"}
    assert login.status_code == 200


async def test_app_state_carries_the_injected_resources(settings: Settings, engine: Engine) -> None:
    async with httpx.AsyncClient() as http_client:
        app = create_app(settings, engine=engine, http_client=http_client, clock=lambda: FIXED)
        async with running(app):
            assert app.state.engine is engine
            assert app.state.http_client is http_client
            assert app.state.clock() == FIXED
            assert app.state.settings is settings
        assert not http_client.is_closed  # injected resources are left open


async def test_contexts_run_inside_the_lifespan_in_order(settings: Settings, engine: Engine) -> None:
    events: list[str] = []

    def context(name: str):  # type: ignore[no-untyped-def]
        @asynccontextmanager
        async def run(app: Starlette) -> AsyncIterator[None]:
            assert app.state.engine is engine  # the engine is ready before any context starts
            events.append(f"enter {name}")
            yield
            events.append(f"exit {name}")

        return run

    app = create_app(settings, engine=engine, contexts=[context("a"), context("b")])
    async with running(app):
        events.append("serving")
    assert events == ["enter a", "enter b", "serving", "exit b", "exit a"]


SECURITY_HEADERS = ("content-security-policy", "x-frame-options", "x-content-type-options", "referrer-policy")


async def test_every_portal_response_says_no_framing_no_sniffing_and_a_strict_policy(
    settings: Settings, engine: Engine
) -> None:
    async with running(create_app(settings, engine=engine)) as client:
        answers = {
            "probe": await client.get("/healthz"),
            "login page": await client.get("/login"),
            "api": await client.post("/api/graphql", json={"query": "{ __typename }"}),
            "jwks": await client.get("/.well-known/jwks.json"),
            "not found": await client.get("/no/such/page"),
            "cross-site refusal": await client.post("/logout", headers={"origin": "https://evil.example"}),
            "oversized body": await client.post("/login", content=b"x" * 20_000),
            "metrics": await client.get("/metrics"),
        }
    for what, answer in answers.items():
        assert all(name in answer.headers for name in SECURITY_HEADERS), (what, answer.headers)
        assert answer.headers["x-frame-options"] == "DENY" and answer.headers["x-content-type-options"] == "nosniff"
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in answers["login page"].headers["content-security-policy"].split(";")
    )
    assert policy["default-src"] == "'self'" and policy["frame-ancestors"] == "'none'"
    assert "'unsafe-inline'" not in policy["script-src"] and "'unsafe-eval'" not in policy["script-src"]
    assert policy["object-src"] == "'none'" and policy["base-uri"] == "'none'"


async def test_the_admin_graphiql_page_runs_under_the_policy(settings: Settings, engine: Engine) -> None:
    """What a browser would check: every script is the portal's own file, or inline with its hash in script-src."""
    async with running(create_app(settings, engine=engine)) as client:
        page = await client.get("/api/graphql", headers={"accept": "text/html"})
        assets = [await client.get(src) for src in re.findall(r'<script src="([^"]+)"', page.text)]
    assert page.status_code == 200 and "GraphiQL" in page.text
    script_src = next(
        d for d in page.headers["content-security-policy"].split("; ") if d.startswith("script-src ")
    ).split()[1:]
    inline = re.findall(r"<script>(.*?)</script>", page.text, re.DOTALL)
    assert inline, "the page has its inline script"
    for script in inline:
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in script_src
    assert assets and all(asset.status_code == 200 for asset in assets)  # same-origin: allowed by 'self'
    assert '<script src="http' not in page.text and '<link rel="stylesheet" href="http' not in page.text
