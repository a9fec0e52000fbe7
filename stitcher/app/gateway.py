"""The gateway: snapshots in, products compiled and swapped in atomically, credentials and limits checked, GraphQL,
REST and pass-through answered (the module docstring of :mod:`stitcher.app` says how)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from stitcher._durations import duration_text, window_text
from stitcher.app._http import (
    _JSON,
    GRAPHQL_RESPONSE_JSON,
    _error_response,
    _HttpError,
    _operation_type,
    negotiate_media_type,
)
from stitcher.app.context import request_id
from stitcher.app.runtime import (
    SINGLE,
    Compiler,
    ExecutorFactory,
    ProductRuntime,
    Served,
    TransportFactory,
    default_compiler,
    default_executor_factory,
    default_transport_factory,
)
from stitcher.credentials import AccessPolicy, CredentialError, JwksCache, Principal, UnknownCredential
from stitcher.graphiql import graphiql_html
from stitcher.ir import Supergraph
from stitcher.limits import LimitExceeded, check_body_size
from stitcher.metrics import CONTENT_TYPE_LATEST, GatewayMetrics, MeteredTransport
from stitcher.options import GatewayOptions
from stitcher.passthrough import UnsafePath, check_path, forwarded_headers
from stitcher.ratelimit import MemoryRateLimiter, RateLimiter, RateLimiterUnavailable, RedisRateLimiter
from stitcher.restsurface import RestInputError, RestSurface
from stitcher.snapshot import OAuthConfig, ProductConfig, Snapshot
from stitcher.snapshot_source import SnapshotError, SnapshotSource
from stitcher.transport import (
    GuardedTransport,
    Upstream,
    UpstreamError,
)

_UNKNOWN_REFRESH_SECONDS = 0.25  # fetch the snapshot for an unknown credential at most this often
log = logging.getLogger("stitcher.gateway")


class Gateway:
    """The state behind the app: what is served, and the app-scoped clients. ``app.state.gateway`` holds it."""

    def __init__(
        self,
        *,
        supergraph: Supergraph | None = None,
        source: SnapshotSource | None = None,
        transport_factory: TransportFactory = default_transport_factory,
        executor_factory: ExecutorFactory = default_executor_factory,
        compiler: Compiler = default_compiler,
        redis_url: str | None = None,
        rate_limiter: RateLimiter | None = None,
        jwks_http: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.monotonic,
        options: GatewayOptions | None = None,
    ) -> None:
        if (supergraph is None) == (source is None):
            raise ValueError("serve either one supergraph or the products of a snapshot source, not both or neither")
        self.options = options or GatewayOptions()
        self.metrics = GatewayMetrics()
        self.served: Served | None = None
        self._supergraph = supergraph
        self.single = supergraph is not None  # one supergraph at /graphql, not the products of snapshots
        self._source = source
        self._refresh: asyncio.Future[bool] | None = None  # one snapshot refresh for unknown credentials at a time
        self._last_refresh = float("-inf")
        self._transport_factory = transport_factory
        self._executor_factory = executor_factory
        self._compiler = compiler
        self._redis_url = redis_url
        self._rate_limiter = rate_limiter
        self._owns_jwks_http = jwks_http is None
        self._jwks_http = jwks_http
        self._jwks: JwksCache | None = None
        self._clock = clock
        self._transport: MeteredTransport | None = None
        self._guard: GuardedTransport | None = None
        self._poll_task: asyncio.Task[None] | None = None
        self._gc_frozen = False
        self._last_poll_error: str | None = None

    # -- lifecycle -------------------------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        return self.served is not None

    @property
    def transport(self) -> MeteredTransport:
        if self._transport is None:
            raise RuntimeError("the gateway is not started: run the app's lifespan")
        return self._transport

    async def start(self) -> None:
        self._guard = GuardedTransport(
            await self._transport_factory(),
            default=Upstream(service="", max_response_bytes=self.options.limits.max_response_bytes),
        )
        self._transport = MeteredTransport(self._guard, self.metrics)
        if self._rate_limiter is None:
            self._rate_limiter = (
                RedisRateLimiter(self._redis_url, key_prefix=self.options.rate_limit_key_prefix)
                if self._redis_url
                else MemoryRateLimiter(clock=self._clock)
            )
        if self._supergraph is not None:
            runtime = self._runtime(SINGLE, "single", self._supergraph, ProductConfig(name=SINGLE, auth_required=False))
            self._swap(Served({SINGLE: runtime}, None, None))
            return
        assert self._source is not None
        try:
            cached = self._source.load_cached()
        except SnapshotError as exc:
            log.warning("ignoring the cached snapshot: %s", exc)
            cached = None
        if cached is not None:
            await self.apply(cached, store=False)
            log.info("serving the cached snapshot until the portal answers", extra={"products": len(cached.products)})
        self._poll_task = asyncio.create_task(self._poll_forever(), name="loom-snapshot-poll")

    async def stop(self) -> None:
        if self._poll_task is not None:
            self._poll_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poll_task
        if self._source is not None:
            await self._source.aclose()
        if self._transport is not None:
            await self._transport.aclose()
        if self._rate_limiter is not None:
            await self._rate_limiter.close()
        if self._owns_jwks_http and self._jwks_http is not None:
            await self._jwks_http.aclose()
        self.metrics.flush()  # a worker's last numbers, for the other workers' scrapes

    async def _refresh_for_unknown(self) -> bool:
        """Fetch the snapshot now (single-flight, at most once per ``_UNKNOWN_REFRESH_SECONDS``); True when a newer
        one was applied."""
        if self._source is None:
            return False
        refresh = self._refresh
        if refresh is None or refresh.done():
            now = time.monotonic()
            if now - self._last_refresh < _UNKNOWN_REFRESH_SECONDS:
                return False
            self._last_refresh = now
            refresh = self._refresh = asyncio.ensure_future(self._refresh_once())
        return await asyncio.shield(refresh)

    async def _refresh_once(self) -> bool:
        try:
            return await self.poll_once()
        except Exception as exc:  # the regular poll reports failures; this caller just answers 401
            log.debug("snapshot refresh for an unknown credential failed: %s", exc)
            return False

    async def poll_once(self, wait: float = 0.0) -> bool:
        """Fetch the snapshot once (waiting up to ``wait`` seconds for a change, where the source can) and apply it
        if it changed; True when something new was applied."""
        assert self._source is not None
        snapshot = await self._source.fetch(wait)
        if snapshot is None:
            return False
        return await self.apply(snapshot)

    async def _poll_forever(self) -> None:
        timeouts = self.options.timeouts
        while True:
            started = time.monotonic()
            changed = False
            try:
                changed = await self.poll_once(timeouts.watch_seconds)
                if self._last_poll_error is not None:
                    log.info("the portal answers again")
                self._last_poll_error = None
            except SnapshotError as exc:
                self.metrics.snapshot_failures.inc()
                if str(exc) != self._last_poll_error:  # log a failure once, not every poll
                    log.warning("snapshot poll failed (still serving the last good snapshot): %s", exc)
                self._last_poll_error = str(exc)
            except Exception:
                self.metrics.snapshot_failures.inc()
                log.exception("snapshot poll failed unexpectedly")
            if changed and timeouts.watch_seconds > 0:
                continue  # watch again at once: another change may follow
            # A failure, or a source that answered "unchanged" without watching (a portal that ignores ?wait=, a
            # portal shutting down): poll at the interval, never in a tight loop.
            rest = timeouts.poll_interval_seconds - (time.monotonic() - started)
            if self._last_poll_error is not None:
                rest = timeouts.poll_interval_seconds
            if rest > 0:
                await asyncio.sleep(rest)

    async def apply(self, snapshot: Snapshot, *, store: bool = True) -> bool:
        """Compile ``snapshot`` and swap it in; True when every product compiled (it is then kept on disk)."""
        previous = self.served.products if self.served is not None else {}
        products: dict[str, ProductRuntime] = {}
        ok = True
        for config in snapshot.products:
            fingerprint = config.fingerprint()
            old = previous.get(config.name)
            if old is not None and old.fingerprint == fingerprint:
                products[config.name] = old
                continue
            try:
                # Composition is CPU work: a thread keeps the event loop answering requests meanwhile.
                supergraph = await asyncio.to_thread(self._compiler, config)
                products[config.name] = self._runtime(config.name, fingerprint, supergraph, config)
            except Exception as exc:
                ok = False
                self.metrics.snapshot_failures.inc()
                keeping = "keeping its previous version" if old is not None else "not serving it"
                log.error("product %r does not compile (%s): %s", config.name, keeping, exc)
                if old is not None:
                    products[config.name] = old
        self._swap(
            Served(
                products,
                AccessPolicy(snapshot, self._jwks_for(snapshot.oauth)),
                snapshot.fingerprint(),
                snapshot.elsewhere,
            )
        )
        if store and ok and self._source is not None:
            try:
                await asyncio.to_thread(self._source.store, snapshot)
            except SnapshotError as exc:
                log.warning("%s", exc)
        return ok

    def _runtime(self, name: str, fingerprint: str, supergraph: Supergraph, config: ProductConfig) -> ProductRuntime:
        executor = self._executor_factory(supergraph, self.transport, self.options)
        rest = RestSurface(name or "graphql", config.version, config.rest, supergraph)
        upstreams = {
            source.url: Upstream(
                service=source.name,
                egress=source.egress.policy() if source.egress is not None else None,
                max_response_bytes=source.max_response_bytes or self.options.limits.max_response_bytes,
            )
            for source in config.sources
            if source.url
        }
        return ProductRuntime(name, fingerprint, supergraph, executor, rest, config.auth_required, upstreams)

    def _swap(self, served: Served) -> None:
        self.served = served
        self.metrics.products.set(len(served.products))
        self.metrics.snapshot_swaps.inc()
        self.transport.set_subgraphs(
            {
                sub.url: sub.name
                for runtime in served.products.values()
                for sub in runtime.supergraph.subgraphs.values()
                if sub.url
            }
        )
        if self._guard is not None:
            self._guard.set_upstreams({u: up for rt in served.products.values() for u, up in rt.upstreams.items()})
        if self.options.freeze_gc and not self._gc_frozen and served.products:
            # Everything compiled so far lives as long as the process: keep the collector from rescanning it.
            gc.collect()
            gc.freeze()
            self._gc_frozen = True

    def _jwks_for(self, oauth: OAuthConfig | None) -> JwksCache | None:
        if oauth is None:
            return None
        if self._jwks is None or self._jwks.url != oauth.jwks_url:
            if self._jwks_http is None:
                self._jwks_http = httpx.AsyncClient(timeout=5.0)
            self._jwks = JwksCache(self._jwks_http, oauth.jwks_url, clock=self._clock)
        return self._jwks

    # -- admission: credentials and rate limits --------------------------------------------------------------

    async def _admit(self, served: Served, runtime: ProductRuntime, request: Request) -> Principal | None:
        if not runtime.auth_required or served.policy is None:
            return None
        try:
            try:
                principal = await served.policy.authenticate(request.headers, runtime.name)
            except UnknownCredential:
                # A key or client created a moment ago is not in the last poll's snapshot yet: fetch it now (at
                # most one fetch at a time and a few per second, so made-up keys cannot hammer the portal).
                if not await self._refresh_for_unknown() or self.served is None or self.served.policy is None:
                    raise
                principal = await self.served.policy.authenticate(request.headers, runtime.name)
        except CredentialError as exc:
            reason = "auth"
            self.metrics.error(runtime.name, reason)
            headers = {"www-authenticate": 'Bearer realm="loom"'} if exc.status == 401 else None
            raise _HttpError(exc.status, exc.message, exc.code, headers) from exc
        limit = principal.plan.rate_limit if principal.plan is not None else None
        if limit is not None and self._rate_limiter is not None:
            # Per consumer, not per application: applications are named owner/name, and one consumer's applications
            # on one plan of one product share its allowance (more applications must not multiply it).
            consumer = principal.application.partition("/")[0]
            plan = principal.plan.name if principal.plan is not None else ""
            key = f"{consumer}:{plan}:{runtime.name}"
            try:
                decision = await self._rate_limiter.hit(key, limit.requests, limit.window_seconds)
            except RateLimiterUnavailable as exc:
                self.metrics.error(runtime.name, "rate_limiter")
                if self.options.rate_limit_fail_open:
                    log.warning("rate limit not enforced: %s", exc)
                    return principal
                raise _HttpError(503, "rate limiting is unavailable; retry shortly", "UNAVAILABLE") from exc
            if not decision.allowed:
                self.metrics.error(runtime.name, "rate_limit")
                raise _HttpError(
                    429,
                    f"plan {principal.plan.name if principal.plan else ''!r} allows {limit.requests} requests per "
                    f"{window_text(limit.window_seconds)}; retry in {duration_text(decision.retry_after or 1)}",
                    "RATE_LIMITED",
                    {"retry-after": str(decision.retry_after)},
                )
        return principal

    def _lookup(self, request: Request, name: str) -> tuple[Served, ProductRuntime]:
        served = self.served
        request.scope["loom"]["product"] = name or "graphql"
        if served is None:
            raise _HttpError(503, "the gateway has no configuration yet; retry shortly", "NOT_READY")
        runtime = served.products.get(name)
        if runtime is None and name in served.elsewhere:
            # Envoy forwards such requests to a gateway that may process them; reaching this one is a misroute.
            raise _HttpError(421, served.elsewhere[name], "MISDIRECTED")
        if runtime is None:
            raise _HttpError(404, f"no product named {name!r} is served here", "NOT_FOUND")
        return served, runtime

    # -- GraphQL over HTTP -----------------------------------------------------------------------------------

    async def graphql(self, request: Request) -> Response:
        name = request.path_params.get("product", SINGLE)
        request.scope["loom"]["kind"] = "graphql"
        media_type = negotiate_media_type(request.headers.get("accept"))
        try:
            served, runtime = self._lookup(request, name)
            if request.method == "GET" and self.options.graphiql and "query" not in request.query_params:
                accept = request.headers.get("accept", "")
                if "text/html" in accept:
                    # A product behind credentials: show where the key goes (GraphiQL's schema fetch fails without)
                    needs_key = runtime.auth_required and served.policy is not None
                    return HTMLResponse(
                        graphiql_html(
                            str(request.url.path),
                            title=f"{runtime.name or 'Loom'} · GraphiQL",
                            root_path=request.scope.get("root_path", ""),
                            default_headers=_API_KEY_TEMPLATE if needs_key else "",
                        )
                    )
            if media_type is None:
                raise _HttpError(
                    406, f"accept {GRAPHQL_RESPONSE_JSON} or {_JSON} to receive a GraphQL response", "NOT_ACCEPTABLE"
                )
            await self._admit(served, runtime, request)
            document, variables, operation_name = await self._graphql_params(request)
        except _HttpError as exc:
            return _error_response(exc, media_type or _JSON)
        try:
            result = await runtime.executor.execute(
                document, variables, operation_name, headers={"x-request-id": request_id() or ""}
            )
        except Exception:
            self.metrics.error(runtime.name or "graphql", "internal")
            log.exception("the executor failed")
            return _error_response(_HttpError(500, "internal gateway error", "INTERNAL_SERVER_ERROR"), media_type)
        if result.request_error:
            self.metrics.error(runtime.name or "graphql", "request")
        elif result.errors:
            self.metrics.error(runtime.name or "graphql", "execution")
        status = 400 if result.request_error and media_type == GRAPHQL_RESPONSE_JSON else 200
        return Response(result.to_json(), status, media_type=media_type)

    async def _graphql_params(self, request: Request) -> tuple[str, dict[str, Any] | None, str | None]:
        if request.method in ("GET", "HEAD"):
            params: dict[str, Any] = dict(request.query_params)
            for name in ("variables", "extensions"):  # JSON-encoded in a GET's query string
                if params.get(name):
                    try:
                        params[name] = orjson.loads(params[name])
                    except orjson.JSONDecodeError as exc:
                        raise _HttpError(400, f"the {name} parameter is not JSON: {exc}", "BAD_REQUEST") from exc
        else:
            content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if content_type != _JSON:
                raise _HttpError(
                    415, f"send the GraphQL request as {_JSON} (got {content_type or 'no content type'})", "BAD_REQUEST"
                )
            body = await self._read_body(request)
            try:
                params = orjson.loads(body)
            except orjson.JSONDecodeError as exc:
                raise _HttpError(400, f"the request body is not JSON: {exc}", "BAD_REQUEST") from exc
            if not isinstance(params, dict):
                raise _HttpError(400, "the request body must be a JSON object with a 'query'", "BAD_REQUEST")
        document = params.get("query")
        if not isinstance(document, str) or not document:
            raise _HttpError(400, "the request has no 'query' string", "BAD_REQUEST")
        variables = params.get("variables")
        if variables is not None and not isinstance(variables, dict):
            raise _HttpError(400, "'variables' must be a JSON object", "BAD_REQUEST")
        # Unused here, but a malformed one is a malformed request (GraphQL over HTTP: a map or null)
        extensions = params.get("extensions")
        if extensions is not None and not isinstance(extensions, dict):
            raise _HttpError(400, "'extensions' must be a JSON object", "BAD_REQUEST")
        operation_name = params.get("operationName")
        if operation_name is not None and not isinstance(operation_name, str):
            raise _HttpError(400, "'operationName' must be a string", "BAD_REQUEST")
        if request.method in ("GET", "HEAD") and _operation_type(document, operation_name) not in ("query", None):
            raise _HttpError(405, "only queries may be sent with GET; send mutations with POST", "BAD_REQUEST",
                             {"allow": "POST"})  # fmt: skip
        return document, variables, operation_name

    async def _read_body(self, request: Request) -> bytes:
        maximum = self.options.limits.max_body_bytes
        try:
            declared = int(request.headers.get("content-length", "0"))
            check_body_size(declared, maximum)
            chunks: list[bytes] = []
            size = 0
            async for chunk in request.stream():
                size += len(chunk)
                check_body_size(size, maximum)
                chunks.append(chunk)
        except LimitExceeded as exc:
            raise _HttpError(413, str(exc), exc.code) from exc
        except ValueError as exc:
            raise _HttpError(400, "the content-length header is not a number", "BAD_REQUEST") from exc
        return b"".join(chunks)

    # -- REST surface ----------------------------------------------------------------------------------------

    async def rest(self, request: Request) -> Response:
        name = request.path_params["product"]
        path = "/" + request.path_params.get("path", "")
        request.scope["loom"]["kind"] = "rest"
        try:
            served, runtime = self._lookup(request, name)
            try:
                check_path(path)  # a passed-through path must stay under its service's base URL
            except UnsafePath as exc:
                raise _HttpError(400, str(exc), "BAD_REQUEST") from exc
            route_path = path.rstrip("/") or "/"
            matched = runtime.rest.match(request.method, route_path)
            raw = request.scope.get("raw_path")  # as the client encoded it: %2C stays one path item
            raw_path = raw.decode("latin-1") if isinstance(raw, bytes) else None
            upstream = None if matched is not None else runtime.rest.passthrough(path, raw_path)
            if matched is None and upstream is None:
                allowed = runtime.rest.methods_for(route_path)
                if allowed:  # the path exists, with other methods: 405 says which, where 404 said "no route"
                    raise _HttpError(
                        405,
                        f"product {name!r} serves {path} with {', '.join(allowed)}, not {request.method}",
                        "METHOD_NOT_ALLOWED",
                        {"allow": ", ".join(allowed)},
                    )
                raise _HttpError(404, f"product {name!r} has no REST route {request.method} {path}", "NOT_FOUND")
            await self._admit(served, runtime, request)
            if upstream is not None:
                return await self._pass_through(request, runtime, upstream, path.lstrip("/").partition("/")[0])
            assert matched is not None
            route, path_values = matched
            body: Any = None
            if request.method not in ("GET", "HEAD"):
                raw = await self._read_body(request)
                if raw.strip():
                    try:
                        body = orjson.loads(raw)
                    except orjson.JSONDecodeError as exc:
                        raise _HttpError(400, f"the request body is not JSON: {exc}", "BAD_REQUEST") from exc
            try:
                variables = route.build_variables(path_values, request.query_params.multi_items(), body)
            except RestInputError as exc:
                raise _HttpError(400, str(exc), "BAD_REQUEST") from exc
        except _HttpError as exc:
            return _error_response(exc)
        try:
            result = await runtime.executor.execute(
                route.document, variables, route.operation_name, headers={"x-request-id": request_id() or ""}
            )
        except Exception:
            self.metrics.error(runtime.name, "internal")
            log.exception("the executor failed")
            return _error_response(_HttpError(500, "internal gateway error", "INTERNAL_SERVER_ERROR"))
        if result.request_error:
            return Response(result.to_json(), 400, media_type=_JSON)
        if result.errors:
            self.metrics.error(runtime.name, "execution")
            return Response(result.to_json(), 502 if result.data is None else 200, media_type=_JSON)
        return Response(result.data_json(), 200, media_type=_JSON)

    async def _pass_through(self, request: Request, runtime: ProductRuntime, url: str, service: str) -> Response:
        request.scope["loom"]["kind"] = "openapi"
        if request.url.query:
            url = f"{url}?{request.url.query}"
        headers = forwarded_headers(request.headers.items())
        headers["x-request-id"] = request_id() or ""
        body = await self._read_body(request) if request.method not in ("GET", "HEAD") else None
        try:
            answer = await self.transport.request(
                request.method, url, headers=headers, body=body, timeout=self.options.timeouts.upstream_seconds
            )
        except UpstreamError as exc:
            self.metrics.error(runtime.name, "upstream")
            log.warning("pass-through to service %r failed: %s", service, exc)  # the URL is for the log only
            status = 504 if exc.kind == "timeout" else 502
            message = f"service {service!r} {exc.reason}"
            return _error_response(_HttpError(status, message, "UPSTREAM_" + exc.kind.upper()))
        out_headers = {k: v for k, v in answer.headers.items() if k.lower() not in _NOT_RETURNED}
        return Response(answer.body, answer.status, headers={**out_headers, **_PASSED_THROUGH})

    async def openapi(self, request: Request) -> Response:
        name = request.path_params["product"]
        request.scope["loom"]["kind"] = "openapi"
        try:
            _, runtime = self._lookup(request, name)
        except _HttpError as exc:
            return _error_response(exc)
        server = f"{request.scope.get('root_path', '')}/products/{name}/rest"
        return Response(orjson.dumps(runtime.rest.openapi(server)), media_type=_JSON)

    # -- operations ------------------------------------------------------------------------------------------

    async def healthz(self, request: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type=_JSON)

    async def readyz(self, request: Request) -> Response:
        served = self.served
        if served is None:
            return Response(b'{"status":"starting","reason":"no snapshot or supergraph loaded yet"}', 503,
                            media_type=_JSON)  # fmt: skip
        body = {"status": "ready", "products": sorted(n or "graphql" for n in served.products)}
        return Response(orjson.dumps(body), media_type=_JSON)

    async def metrics_endpoint(self, request: Request) -> Response:
        return Response(self.metrics.render(), headers={"content-type": CONTENT_TYPE_LATEST})


_API_KEY_TEMPLATE = '{"x-api-key": "paste your API key here"}'
# An upstream's cookies and security headers never reach the consumer: under `loom serve` the gateway shares the
# portal's origin, where a cookie could plant a session. Every passed-through answer is sandboxed (an opaque origin
# that runs no script), so an upstream's HTML cannot act with a visitor's portal session either.
_NOT_RETURNED = frozenset(
    {
        "connection",
        "keep-alive",
        "transfer-encoding",
        "content-length",
        "content-encoding",
        "set-cookie",
        "set-cookie2",
        "content-security-policy",
        "x-content-type-options",
    }
)
_PASSED_THROUGH = {"content-security-policy": "sandbox", "x-content-type-options": "nosniff"}
