"""The portal's ASGI app: the lifespan that owns the database engine and the HTTP client, probes, metrics, and the
routes of the API, login, OAuth2 server and gateway snapshot modules.

Every response carries the portal's security headers (:mod:`portal._security_headers`: no framing, a strict CSP,
nosniff, referrer policy), except under the prefixes of a mounted app with rules of its own (``own_header_prefixes``:
the embedded gateway). ``/login`` and ``/oauth/token`` bodies are capped (:mod:`portal._body_limit`, 413).

Handlers find app-scoped resources on ``request.app.state``: ``settings``, ``engine``, ``http_client`` (an
``httpx.AsyncClient``), ``clock`` (``() -> aware datetime``) and ``metrics`` (:class:`PortalMetrics`).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from typing import Any

import httpx
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from redis.asyncio import Redis
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from portal import api, login, oauth, snapshot
from portal._body_limit import BodyLimit
from portal._password_gate import PasswordGate
from portal._security_headers import SecurityHeaders
from portal.changes import ConfigChanges
from portal.db import DatabaseUnavailable, check_database, create_engine_for, current_revision, head_revision, migrate
from portal.errors import ErrorCode, LoomError
from portal.models import utcnow
from portal.settings import Settings

__all__ = ["STATUS_FOR_CODE", "PortalMetrics", "create_app", "error_response"]

_log = logging.getLogger("loom.portal")

# How each error code of portal.errors is answered over plain HTTP (GraphQL answers them inside the payload).
STATUS_FOR_CODE: dict[ErrorCode, int] = {
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.INVALID: 400,
    ErrorCode.CONFLICT: 409,
}


class PortalMetrics:
    """The portal's Prometheus metrics, on a registry of their own (several apps can live in one process)."""

    def __init__(self, also: Sequence[CollectorRegistry] = ()) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.also = tuple(also)  # e.g. the embedded gateway's registry: /metrics exposes it beside the portal's
        self.requests = Counter(
            "loom_portal_http_requests_total",
            "HTTP requests answered by the portal",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "loom_portal_http_request_duration_seconds",
            "Time to answer an HTTP request, without the time a gateway's snapshot watch was held waiting",
            ["method", "route"],
            registry=self.registry,
        )
        self.held = Counter(
            "loom_portal_snapshot_watch_held_seconds",
            "Seconds gateways' snapshot watches were held waiting for a change (left out of request durations)",
            registry=self.registry,
        )
        self.watches = Gauge(
            "loom_portal_snapshot_watches", "Gateways' snapshot watches held now, waiting for a change",
            registry=self.registry,
        )  # fmt: skip
        self.snapshot_builds = Counter(
            "loom_portal_snapshot_builds_total",
            "Gateway snapshots built, by cluster view ('' for the whole fleet's); one serves every watch it answers",
            ["cluster"],
            registry=self.registry,
        )

    def render(self) -> bytes:
        return b"".join(generate_latest(registry) for registry in (self.registry, *self.also))


class _MetricsMiddleware:
    """Counts and times every HTTP request, labelled by the route's path template (never the raw path)."""

    def __init__(self, app: ASGIApp, metrics: PortalMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def send_and_observe(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_observe)
        finally:
            route = scope.get("route")
            template = str(getattr(route, "path", None) or "unmatched")
            held = scope.get(snapshot.HELD_SECONDS, 0.0)  # a watch waiting for a change is not a slow answer
            self.metrics.requests.labels(scope["method"], template, str(status)).inc()
            self.metrics.latency.labels(scope["method"], template).observe(max(time.perf_counter() - started - held, 0))
            if held:
                self.metrics.held.inc(held)


def error_response(exc: LoomError) -> JSONResponse:
    """A JSON error body ``{"error": {"code", "message", "path"?}}`` with the status for its code."""
    body: dict[str, Any] = {"code": exc.code.value, "message": exc.message}
    if exc.path:
        body["path"] = exc.path
    return JSONResponse({"error": body}, status_code=STATUS_FOR_CODE.get(exc.code, 400))


async def _loom_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoomError)
    return error_response(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own 404/405 in the portal's JSON error shape (they were plain text), keeping ``Allow``."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        body = {"code": ErrorCode.NOT_FOUND.value, "message": f"no such path: {request.url.path}"}
    elif exc.status_code == 405:
        allowed = next((v for k, v in (exc.headers or {}).items() if k.lower() == "allow"), "")  # Starlette: "Allow"
        body = {"code": ErrorCode.INVALID.value, "message": f"{request.method} is not allowed here; use {allowed}"}
    else:
        body = {"code": ErrorCode.INVALID.value, "message": str(exc.detail)}
    return JSONResponse({"error": body}, status_code=exc.status_code, headers=exc.headers)


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    engine: Engine = request.app.state.engine
    try:
        await run_in_threadpool(check_database, engine)
    except DatabaseUnavailable as exc:
        return JSONResponse({"status": "unavailable", "reason": exc.message}, status_code=503)
    for check in request.app.state.readiness:
        reason = check()
        if reason is not None:
            return JSONResponse({"status": "unavailable", "reason": reason}, status_code=503)
    return JSONResponse({"status": "ready"})


async def metrics_endpoint(request: Request) -> Response:
    metrics: PortalMetrics = request.app.state.metrics
    return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)


def _prepare_database(engine: Engine) -> None:
    """Migrate an embedded SQLite database; a server database must be migrated already (``loom migrate``)."""
    if engine.dialect.name == "sqlite":
        migrate(engine)
        return
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise DatabaseUnavailable(
            f"database {engine.url.render_as_string(hide_password=True)} is at revision {current or 'empty'}, "
            f"this portal needs {head}: run `loom migrate` first"
        )


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    http_client: httpx.AsyncClient | None = None,
    clock: Callable[[], datetime] | None = None,
    extra_routes: Sequence[BaseRoute] = (),
    contexts: Sequence[Callable[[Starlette], contextlib.AbstractAsyncContextManager[Any]]] = (),
    metrics_registries: Sequence[CollectorRegistry] = (),
    readiness: Sequence[Callable[[], str | None]] = (),
    own_header_prefixes: Sequence[str] = (),
    changes: ConfigChanges | None = None,
) -> Starlette:
    """The portal app. Resources passed in are used as they are and left open; those created here are closed.

    Without ``engine`` the lifespan creates one from ``settings`` (migrating an embedded SQLite database and
    refusing a server database that is not at the newest revision). ``extra_routes`` are added after the built-in
    ones (the web UI and the embedded gateway mount themselves this way). ``contexts`` are entered in order once
    the engine is ready (e.g. a mounted app's lifespan, which Starlette does not run by itself) and exited in reverse.
    ``metrics_registries`` are rendered on ``/metrics`` after the portal's own (a mounted app's ``/metrics`` is
    shadowed by the portal's). ``readiness`` checks run on ``/readyz`` after the database's: each returns None when
    ready, or why not (e.g. the embedded gateway has no snapshot yet). Paths under ``own_header_prefixes`` (a
    mounted app's, e.g. the embedded gateway's ``/products``) do not get the portal's security headers.
    ``changes`` (``app.state.changes``; one is made when not given) hears of configuration changes; the lifespan
    starts and closes it (pass the one an embedded gateway's source waits on).
    """
    settings = settings or Settings()
    metrics = PortalMetrics(also=metrics_registries)
    config_changes = changes or ConfigChanges()
    metrics.watches.set_function(lambda: config_changes.waiting)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        own_engine = engine is None
        app_engine = engine if engine is not None else create_engine_for(settings)
        own_client = http_client is None
        client = http_client if http_client is not None else httpx.AsyncClient(timeout=10.0, follow_redirects=False)
        try:
            # The session key first: a key file others may read stops the start-up with a message saying so.
            await run_in_threadpool(settings.resolved_secret_key)
            if own_engine:
                await run_in_threadpool(_prepare_database, app_engine)
            app.state.engine = app_engine
            app.state.http_client = client
            async with contextlib.AsyncExitStack() as stack:
                await config_changes.start(app_engine)
                stack.push_async_callback(config_changes.aclose)
                # The gateway's counters, read by subscriptionUsage: one client (its own pool) for the app's life.
                app.state.redis = None
                if settings.redis.url:
                    redis = Redis.from_url(settings.redis.url, socket_timeout=1.0, socket_connect_timeout=1.0)
                    stack.push_async_callback(redis.aclose)
                    app.state.redis = redis
                for context in contexts:
                    await stack.enter_async_context(context(app))
                yield
        finally:
            if own_client:
                await client.aclose()
            if own_engine:
                app_engine.dispose()

    routes: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET"], name="healthz"),
        Route("/readyz", readyz, methods=["GET"], name="readyz"),
        Route("/metrics", metrics_endpoint, methods=["GET"], name="metrics"),
        *api.routes(),
        *login.routes,
        *oauth.routes,
        *snapshot.routes,
        *extra_routes,
    ]
    middleware = [
        Middleware(_MetricsMiddleware, metrics=metrics),
        Middleware(SecurityHeaders, exempt_prefixes=own_header_prefixes),
        Middleware(BodyLimit, limits={"/login": login.LOGIN_BODY_LIMIT, oauth.TOKEN_PATH: oauth.TOKEN_BODY_LIMIT}),
        *oauth.middleware(),
        *login.middleware(settings),
    ]
    app = Starlette(
        routes=routes,
        middleware=middleware,
        lifespan=lifespan,
        exception_handlers={LoomError: _loom_error, HTTPException: _http_error},
    )
    app.state.settings = settings
    # App-scoped limiters, made once here (never on first use): every request shares them.
    app.state.password_gate = PasswordGate(
        settings.auth.max_concurrent_password_checks, settings.auth.max_waiting_password_checks
    )
    app.state.login_limiter = login.login_limiter(settings)
    app.state.token_limiter = oauth.token_limiter(settings)
    app.state.snapshot_builds = snapshot.SnapshotBuilds(metrics.snapshot_builds)  # the watches' shared builds
    app.state.clock = clock or utcnow
    app.state.metrics = metrics
    app.state.changes = config_changes
    app.state.readiness = tuple(readiness)
    if engine is not None:  # usable before startup too (tests that call helpers without a running lifespan)
        app.state.engine = engine
    _log.debug("portal app created for %s", settings.public_url)
    return app
