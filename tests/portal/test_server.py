"""``loom serve``: as a real process on a free loopback port (migrates SQLite, prints the one-time password once),
and its app in-process (the embedded gateway serves the published products)."""

from __future__ import annotations

import argparse
import asyncio
import io
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.applications import Starlette

from portal.accounts import create_token, create_user
from portal.app import create_app
from portal.applications import IssuedCredential, create_api_key, revoke_credential
from portal.authorization import Actor
from portal.db import current_generation, head_revision, session_scope, writer
from portal.models import Lifecycle, Role, SubscriptionState
from portal.server import build_app, end_watches, exposure_warning, server_config, server_settings
from portal.settings import GatewaySettings, Mode, ServerSettings, Settings
from portal.sync.status import fleet_status
from stitcher.serving import uvicorn_server
from tests._conditions import BOUND, until
from tests.factories import (
    make_application,
    make_cluster,
    make_deployment,
    make_plan,
    make_product,
    make_service,
    make_subscription,
    make_team,
    make_user,
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
            deadline = time.monotonic() + 60  # bounds a hang only: a busy CI machine starts it slowly
            while True:
                assert process.poll() is None, log.read_text()
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200:
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


def _hello(session: Session) -> IssuedCredential:
    """A published product ``hello`` (no upstream needed for ``{ __typename }``) and a key subscribed to it."""
    team = make_team(session)
    service = make_service(session, "greeter", team=team, schema_text="type Query { hello: String }")
    make_deployment(session, service, make_cluster(session), address="http://127.0.0.1:9")
    product = make_product(session, "hello", team=team, lifecycle=Lifecycle.PUBLISHED, sources=[service])
    plan = make_plan(session, products=[product])
    application = make_application(session)
    key = create_api_key(session, Actor.system("test"), application)
    make_subscription(session, application, product, plan, state=SubscriptionState.APPROVED)
    return key


async def test_the_embedded_gateway_serves_published_products(settings: Settings, engine: Engine) -> None:
    """`loom serve`'s app: the portal's routes, and the gateway behind them with the database's snapshot."""
    with session_scope(engine) as session:
        key = _hello(session).secret

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
        graphiql = await client.get("/products/hello/graphql", headers={"accept": "text/html"})
        metrics = (await client.get("/metrics")).text
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"data": {"__typename": "Query"}}
    assert refused.status_code == 401
    assert ready.status_code == 200, ready.text
    # the portal's strict headers are on its own answers, not on the gateway's (its GraphiQL page has its own
    # inline script, its pass-through its own sandbox)
    assert "x-frame-options" in ready.headers and "'self'" in ready.headers["content-security-policy"]
    for gateway_answer in (answer, refused, graphiql):
        assert "x-frame-options" not in gateway_answer.headers
        assert "frame-ancestors" not in gateway_answer.headers.get("content-security-policy", "")
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


@contextmanager
def served(settings: Settings, app: Starlette, **config: Any) -> Iterator[str]:
    """``app`` served in a thread exactly as ``loom serve`` serves it (:func:`server_config`, and held snapshot
    watches ended as the shutdown begins); the block's end stops it, and it must stop within BOUND seconds."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    started = threading.Event()
    server = uvicorn_server(
        server_config(settings, app, log_config=None, **config), on_started=started.set, on_shutdown=end_watches(app)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        assert started.wait(BOUND), "the portal did not start"
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(BOUND)
        sock.close()
    assert not thread.is_alive(), "the portal did not stop"


def _with_server(settings: Settings, **changes: Any) -> Settings:
    return settings.model_copy(update={"server": settings.server.model_copy(update=changes)})


async def test_loom_serve_closes_connections_whose_headers_do_not_arrive(settings: Settings, engine: Engine) -> None:
    configured = _with_server(settings, header_timeout_seconds=0.2)
    with served(configured, create_app(configured, engine=engine)) as url:
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=30) as slow:
            slow.sendall(b"GET /healthz HTTP/1.1\r\nhost: portal")
            answer = b""
            while chunk := slow.recv(4096):  # until the server closes it
                answer += chunk
        async with httpx.AsyncClient(base_url=url) as client:
            assert (await client.get("/healthz")).status_code == 200
    assert answer.startswith(b"HTTP/1.1 408")


@pytest.mark.parametrize("trusted", [False, True])
async def test_forwarded_addresses_count_only_from_configured_proxies(
    settings: Settings, engine: Engine, trusted: bool
) -> None:
    """The per-address lockout believed X-Forwarded-For from any loopback peer: a local process could spread its
    guesses over made-up addresses. Now only LOOM_SERVER_TRUSTED_PROXIES are believed."""
    auth = settings.auth.model_copy(update={"login_max_failures_per_address": 2})
    configured = _with_server(settings, trusted_proxies=["127.0.0.1/32"] if trusted else []).model_copy(
        update={"auth": auth}
    )
    with served(configured, create_app(configured, engine=engine)) as url:
        async with httpx.AsyncClient(base_url=url) as client:
            statuses = [
                (
                    await client.post(
                        "/login",
                        json={"username": f"nobody-{n}", "password": "guess-guess-1"},
                        headers={"x-forwarded-for": f"198.51.100.{n}"},
                    )
                ).status_code
                for n in range(3)
            ]
    assert statuses == ([401, 401, 401] if trusted else [401, 401, 429])


async def test_the_token_endpoint_query_string_never_reaches_the_access_log(
    settings: Settings, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="uvicorn.access")
    with served(settings, create_app(settings, engine=engine), access_log=True) as url:
        async with httpx.AsyncClient(base_url=url) as client:
            refused = await client.post(
                "/oauth/token?client_id=lc_x&client_secret=s3cr3t-in-the-url", data={"grant_type": "client_credentials"}
            )
            other = await client.post("/oauth/token?note=also-not-logged", data={"grant_type": "client_credentials"})
            await client.get("/healthz?probe=kept")
    assert refused.status_code == 400 and "HTTP Basic" in refused.json()["error_description"]
    assert other.status_code == 401  # read from the form alone
    lines = [record.getMessage() for record in caplog.records if record.name == "uvicorn.access"]
    assert sum('"POST /oauth/token HTTP/1.1"' in line for line in lines) == 2, lines
    assert "/healthz?probe=kept" in caplog.text  # other paths are logged as they were
    assert "s3cr3t" not in caplog.text and "also-not-logged" not in caplog.text


def test_development_mode_beyond_loopback_is_warned_about() -> None:
    def warning(host: str, mode: Mode = Mode.DEVELOPMENT) -> str | None:
        return exposure_warning(Settings(mode=mode, server=ServerSettings(host=host)))

    for host in ("127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"):
        assert warning(host) is None, host
    for host in ("0.0.0.0", "::", "192.168.1.20", "portal.example"):
        assert (message := warning(host)) is not None and host in message and "LOOM_MODE=production" in message
    assert warning("0.0.0.0", Mode.PRODUCTION) is None
    out = io.StringIO()
    server_settings(argparse.Namespace(host="0.0.0.0", port=0), Settings(), warn=out)
    assert out.getvalue().startswith("loom: warning: development mode on 0.0.0.0")
    quiet = io.StringIO()
    server_settings(argparse.Namespace(host=None, port=None), Settings(), warn=quiet)
    assert quiet.getvalue() == ""


async def test_loom_serve_refuses_a_revoked_key_at_once_and_ends_held_watches_on_shutdown(
    settings: Settings, engine: Engine
) -> None:
    """The embedded gateway watches the database's changes: with polls an hour apart, a revoked key is refused as
    soon as the revocation commits. A gateway's watch held open (60 s) does not hold the server's shutdown: it is
    answered 304 as the shutdown begins."""
    system = Actor.system("test")
    with session_scope(engine) as session:
        issued = _hello(session)
        admin = make_user(session, "root", role=Role.PLATFORM_ADMIN)
        token = create_token(session, system, admin).token
    configured = settings.model_copy(update={"gateway": GatewaySettings(poll_interval_seconds=3600)})
    app = build_app(configured, engine)
    query = {"query": "{ __typename }"}
    key = {"x-api-key": issued.secret}
    changes = app.state.changes
    async with httpx.AsyncClient(timeout=BOUND * 3) as client:  # open past the server's stop: the watch's answer
        with served(configured, app) as url:
            client.base_url = httpx.URL(url)
            await _answers(client, query, key, 200)  # the embedded gateway's first snapshot, then its watch
            with session_scope(writer(engine)) as session:
                assert issued.row.id is not None
                revoke_credential(session, system, issued.row.id)
            refused = await _answers(client, query, key, 401)
            assert "revoked" in refused.text

            auth = {"authorization": f"Bearer {token}"}
            etag = (await client.get("/api/gateway/snapshot", headers=auth)).headers["etag"]
            watch = asyncio.ensure_future(
                client.get("/api/gateway/snapshot", params={"wait": "60"}, headers={**auth, "if-none-match": etag})
            )
            await until(lambda: changes.waiting == 2)  # the embedded gateway's watch and this one, both held
        # the block's end stopped the server, within BOUND: the held watch did not hold the shutdown
        held = await asyncio.wait_for(watch, BOUND)
    assert (held.status_code, held.headers["etag"]) == (304, etag)


async def _answers(client: httpx.AsyncClient, query: Any, key: dict[str, str], status: int) -> httpx.Response:
    """Ask the embedded gateway until it answers ``status`` (it serves, or has learned of a change), within BOUND."""
    async with asyncio.timeout(BOUND):
        while True:
            answer = await client.post("/products/hello/graphql", json=query, headers=key)
            if answer.status_code == status:
                return answer
            await asyncio.sleep(0.01)  # another thread's server: its answers are the only thing to wait on


async def test_loom_serve_syncs_a_change_as_it_commits(settings: Settings, engine: Engine) -> None:
    """The in-process sync worker is woken by every configuration change: with passes an hour apart, a change
    reaches the clusters (here a GitOps one, the factories' default) as it commits."""
    system = Actor.system("test")
    with session_scope(engine) as session:
        cluster = make_cluster(session, "eu-west").name
        application = make_application(session)
    configured = settings.model_copy(
        update={"sync": settings.sync.model_copy(update={"interval_seconds": 3600, "resync_seconds": 3600})}
    )
    app = build_app(configured, engine)

    def synced() -> tuple[bool, int, int]:
        with session_scope(engine) as session:
            [status] = fleet_status(session, cluster=cluster)
            return status.last_success_at is not None, status.applied_generation, current_generation(session)

    async with app.router.lifespan_context(app):
        await until(lambda: synced()[0])  # the first pass, at start
        with session_scope(writer(engine)) as session:
            create_api_key(session, system, application)  # a change gateways and clusters must see
        generation = synced()[2]
        assert generation > synced()[1]
        await until(lambda: synced() == (True, generation, generation))
