"""``loom serve``: as a real process on a free loopback port (migrates SQLite, prints the one-time password once),
and its app in-process (the embedded gateway serves the published products)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine

from portal.accounts import create_user
from portal.applications import create_api_key
from portal.authorization import Actor
from portal.db import head_revision, session_scope
from portal.models import Lifecycle, SubscriptionState
from portal.server import build_app
from portal.settings import GatewaySettings, Settings
from tests.factories import (
    make_application,
    make_cluster,
    make_deployment,
    make_plan,
    make_product,
    make_service,
    make_subscription,
    make_team,
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _environment(database_url: str, data_dir: Path) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LOOM_")}
    environment.update(LOOM_DATABASE_URL=database_url, LOOM_DATA_DIR=str(data_dir))
    return environment


def _serve_until_ready(environment: dict[str, str], cwd: Path, log: Path) -> tuple[str, str]:
    """Start `loom serve`, wait for /readyz, fetch /healthz, stop it; return (stdout, health body)."""
    port = _free_port()
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "portal.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=cwd,
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                assert process.poll() is None, log.read_text()
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, f"loom serve did not become ready:\n{log.read_text()}"
                time.sleep(0.1)
            health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).text
        finally:
            process.terminate()
            process.wait(timeout=20)
    return log.read_text(), health


@pytest.mark.slow
def test_serve_migrates_sqlite_and_prints_the_bootstrap_password_once(tmp_path: Path) -> None:
    environment = _environment(f"sqlite:///{tmp_path / 'data' / 'loom.db'}", tmp_path / "data")

    first, health = _serve_until_ready(environment, tmp_path, tmp_path / "first.log")
    assert health == '{"status":"ok"}'
    assert "created the bootstrap admin 'admin' with the one-time password" in first

    second, _ = _serve_until_ready(environment, tmp_path, tmp_path / "second.log")
    assert "one-time password" not in second


def test_serve_on_a_busy_port_is_one_line_before_anything_happens(tmp_path: Path) -> None:
    """It printed "portal on ...", the one-time password and uvicorn's log, then exited 3 with the port busy."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "portal.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=tmp_path,
            env=_environment(f"sqlite:///{tmp_path / 'data' / 'loom.db'}", tmp_path / "data"),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        f"loom: error: cannot serve on 127.0.0.1:{port} (Address already in use): pass --port with a free port\n"
    )
    assert not (tmp_path / "data" / "loom.db").exists()  # nothing was created, no password was spent


@pytest.mark.slow
@pytest.mark.postgres
def test_serve_refuses_an_unmigrated_server_database(postgres_schema_url: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "portal.cli", "serve", "--port", str(_free_port())],
        cwd=tmp_path,
        env=_environment(postgres_schema_url, tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "is at revision empty, not " + head_revision() + ": run `loom migrate` first" in result.stderr


async def test_the_embedded_gateway_serves_published_products(settings: Settings, engine: Engine) -> None:
    """`loom serve`'s app: the portal's routes, and the gateway behind them with the database's snapshot."""
    system = Actor.system("test")
    with session_scope(engine) as session:
        team = make_team(session)
        service = make_service(session, "greeter", team=team, schema_text="type Query { hello: String }")
        make_deployment(session, service, make_cluster(session), address="http://127.0.0.1:9")
        product = make_product(session, "hello", team=team, lifecycle=Lifecycle.PUBLISHED, sources=[service])
        plan = make_plan(session, products=[product])
        application = make_application(session)
        key = create_api_key(session, system, application).secret
        make_subscription(session, application, product, plan, state=SubscriptionState.APPROVED)

    app = build_app(settings.model_copy(update={"gateway": GatewaySettings(poll_interval_seconds=0.05)}), engine)
    query = {"query": "{ __typename }"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://portal.test") as client:
        starting = await client.get("/readyz")  # the gateway has not started: /readyz must not say ready
    assert starting.status_code == 503 and "embedded gateway" in starting.json()["reason"]
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://portal.test") as client,
    ):
        assert (await client.get("/healthz")).json() == {"status": "ok"}  # the portal answers its own routes
        for _ in range(200):  # the gateway's first poll runs in the background
            answer = await client.post("/products/hello/graphql", json=query, headers={"x-api-key": key})
            if answer.status_code not in (404, 503):  # not served yet
                break
            await asyncio.sleep(0.05)
        refused = await client.post("/products/hello/graphql", json=query)
        ready = await client.get("/readyz")
        metrics = (await client.get("/metrics")).text
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"data": {"__typename": "Query"}}
    assert refused.status_code == 401
    assert ready.status_code == 200, ready.text
    assert 'route="/products/{product}/graphql",status="401"} 1.0' in metrics  # the gateway's template, not the path
    # the embedded gateway's own metrics (errors by reason, products served) are on the portal's /metrics too
    assert 'loom_gateway_errors_total{product="hello",reason="auth"} 1.0' in metrics, metrics
    assert "loom_gateway_products 1.0" in metrics


async def test_a_login_lands_on_a_page_that_says_where_to_go(settings: Settings, engine: Engine) -> None:
    """`/` after the login form: it used to fall through to the gateway and answer a bare "Not Found"."""
    with session_scope(engine) as session:
        create_user(session, Actor.system("test"), name="ada", role="platform-admin", password="a long passphrase")
    app = build_app(settings, engine)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://portal.test") as client,
    ):
        anonymous = await client.get("/")
        login = await client.post("/login", data={"username": "ada", "password": "a long passphrase"})
        home = await client.get(login.headers["location"])
        # a portal path with the wrong method is the portal's 405, not a fall-through to the gateway's 404
        wrong_method = [
            (await client.request(m, p)).status_code for m, p in (("GET", "/logout"), ("PUT", "/oauth/token"))
        ]
        nowhere = await client.get("/no/such/page")
    assert wrong_method == [405, 405]
    assert nowhere.status_code == 404
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/login"
    assert login.status_code == 303 and login.headers["location"] == "/"
    assert home.status_code == 200 and home.headers["content-type"].startswith("text/html")
    assert "Signed in as <strong>ada</strong>" in home.text and 'href="/api/graphql"' in home.text
