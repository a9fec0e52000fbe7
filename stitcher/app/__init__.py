"""The gateway's ASGI app: GraphQL over HTTP, GraphiQL, the REST surface, credentials, rate limits, metrics.

``create_gateway_app`` serves either one fixed supergraph at ``/graphql`` (``loom gateway --supergraph FILE``, no
credentials) or the products of a config snapshot at ``/products/<name>/graphql``, ``/products/<name>/rest/...``
and ``/products/<name>/openapi.json`` (``loom gateway --portal URL``). Every part with I/O is injected with a real
default: the snapshot source, the upstream transport (created in the lifespan, closed on shutdown), the rate
limiter (Redis when a URL is given), the HTTP client for the portal's JWKS, the clock.

GraphQL over HTTP (the GraphQL-over-HTTP spec): POST with a JSON body, GET for queries (a mutation over GET is
405). The answer is ``application/graphql-response+json`` when the client accepts it, else ``application/json``
(also when there is no Accept header); 406 when it accepts neither. Under ``graphql-response+json`` a request
refused before execution (parse, validation, variables, limits) is 400; under ``application/json`` it is 200 with
``errors``. A malformed body is 400 under both; a POST that is not JSON is 415; a body over the limit is 413.

Snapshots are swapped in atomically: a request reads ``Gateway.served`` once and uses that one object throughout.
A product whose config did not change keeps its compiled executor (and its warm plan cache). A product that fails
to compile keeps serving its previous version; the snapshot is then not kept on disk as the last good one.
"""

from stitcher.app._http import GRAPHQL_RESPONSE_JSON, negotiate_media_type
from stitcher.app.application import create_gateway_app
from stitcher.app.context import request_id
from stitcher.app.gateway import Gateway
from stitcher.app.runtime import (
    SINGLE,
    Compiler,
    ExecutionResult,
    ExecutorFactory,
    ExecutorLike,
    ProductRuntime,
    Served,
    TransportFactory,
    default_compiler,
    default_executor_factory,
    default_transport_factory,
)
from stitcher.options import GatewayOptions

__all__ = [
    "GRAPHQL_RESPONSE_JSON",
    "SINGLE",
    "Compiler",
    "ExecutionResult",
    "ExecutorFactory",
    "ExecutorLike",
    "Gateway",
    "GatewayOptions",
    "ProductRuntime",
    "Served",
    "TransportFactory",
    "create_gateway_app",
    "default_compiler",
    "default_executor_factory",
    "default_transport_factory",
    "negotiate_media_type",
    "request_id",
]
