"""Execution: run a cached :class:`~stitcher.planning.QueryPlan` against the upstreams and shape the result.

Hot path, per request, for a document seen before:

1. one dict lookup in the bounded LRU plan cache keyed by (document, operation name): no parsing, no validation,
   no limit checks (their outcome is cached with the entry, including refusals);
2. variable coercion (only when the operation declares variables) and a second lookup by the values of the
   variables that ``@skip``/``@include`` use;
3. the fetch plan: for queries, root fetches in parallel (``asyncio.gather``), then level by level one request per
   subgraph (``GatewayOptions.upstream.batch_levels``; otherwise each fetch right after its parent); mutation root
   fields in order, each with its entity fetches before the next; duplicate representations removed;
   upstream JSON is decoded with orjson and merged into one result tree (upstream selections use the client's
   response keys as aliases, so merging is a dict update);
4. one recursive pass over precomputed shape tuples builds the client's result: field order, ``__typename``,
   dropping internal fields, null propagation (a null non-null field nulls its parent, per the GraphQL spec).

No graphql-core validation and no per-field Python resolver runs for a known document; graphql-core executes only
introspection fields (``__schema``/``__type``), against the API schema.

Failures give partial results: a failed fetch leaves its fields null and adds errors with ``path`` and
``extensions.code`` (``UPSTREAM_TIMEOUT``, ``UPSTREAM_ERROR``, ``UPSTREAM_HTTP_<status>`` with
``extensions.status``, ``UPSTREAM_INVALID_RESPONSE``, ``UPSTREAM_TOO_LARGE``, ``UPSTREAM_REFUSED``: the egress
policy); an upstream's own GraphQL errors are passed through with their ``extensions``, their paths rewritten to the
client's result (the gateway's internal aliases undone; a field only the gateway fetched points at the object that
needed it) and their ``locations`` mapped onto the client's field at that path (dropped when there is none). That
work happens only for responses with errors.

In-flight deduplication (``GatewayOptions.upstream.dedupe_inflight``, off by default): identical upstream *query*
requests (same URL, same body, same forwarded headers) that are in flight at the same moment share one upstream call
and its response. It saves upstream load under bursts of identical queries; it never applies to mutations. Enable it
the same way on every gateway when comparing benchmarks.

Garbage collection: the app should call ``gc.freeze()`` once after start-up (after the supergraph and plans are
built), which takes the long-lived schema objects out of the collector's generations; that is the app's job.

Modules: ``executor`` (documents, plans, fetches, the response), ``_tree`` (walking, representations, merging),
``_shaping`` (result shapes compiled to code, null propagation), ``_errors`` (the client's errors), ``_run`` (the
per-request state).
"""

from stitcher.execution.executor import ExecutionResponse, Executor
from stitcher.transport import SAFE_RETRY

__all__ = ["SAFE_RETRY", "ExecutionResponse", "Executor"]
